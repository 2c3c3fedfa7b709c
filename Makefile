# fowkal's entry points (README, "Two commands"):
#   make          the main job: the default FoWKAL training on the embedded benchmark (cpu profile),
#                 then the book (_build/html/index.html); needs no root and no browser
#   make test     the whole test suite, slow tests included, then make test-compat (what CI runs); as
#                 root it installs chromium for the browser test, which is skipped (with its reason)
#                 for a user who is not root
#   make test-compat  the compatibility stack's tests (MMPose 1.3.2, full mmcv 2.1.0, torch 2.1.0) in
#                 .venv-compat (.ci/setup-compat; its first mmcv build takes 15-35 min, cached after)
#   make book     build the book only
#   make setup    create/refresh .venv only (uv, else pip; reused while pyproject.toml is unchanged)
#   make setup-compat  the same for .venv-compat (.ci/setup-compat)
# Options: make METHOD=kal SEED=1     make test PYTEST_ARGS="-k losses -m 'not slow'"     make test PYTEST_WORKERS=0
#          make test-compat COMPAT_PYTEST_ARGS="-k losses"  (it always selects -m compat)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
METHOD ?= fowkal
SEED ?= 0
PYTEST_ARGS ?=
COMPAT_PYTEST_ARGS ?=
# pytest-xdist workers (this machine kind has 2 cores; 0 runs in one process); a test file stays on one worker, so a
# module's fixtures are built once
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile
MAIN_NOTEBOOK := work_dirs/main/train-$(METHOD)-seed$(SEED).ipynb
# the real-data folders the tests and the book's benchmark chapter read, beside the repository where
# they exist (never copied in); a value already in the environment wins
SHARED := $(abspath $(CURDIR)/../shared/data)
REAL_DATA := if [[ -d "$(SHARED)/coco-wholebody-sample" ]]; then export FOWKAL_REAL_SAMPLE="$${FOWKAL_REAL_SAMPLE:-$(SHARED)/coco-wholebody-sample}"; fi; \
	if [[ -d "$(SHARED)/coco-wholebody-eval-example" ]]; then export FOWKAL_EVAL_EXAMPLE="$${FOWKAL_EVAL_EXAMPLE:-$(SHARED)/coco-wholebody-eval-example}"; fi

.PHONY: main test test-compat book setup setup-compat help
.DEFAULT_GOAL := main

main: setup
	@mkdir -p work_dirs/main
	.venv/bin/papermill --log-output notebooks/train.ipynb $(MAIN_NOTEBOOK) -p method $(METHOD) -p seed $(SEED)
	@echo "executed notebook: $(MAIN_NOTEBOOK)"
	@$(MAKE) --no-print-directory book

book: setup
	@bash .ci/setup-book || echo "[book] WARNING: the book's JavaScript (MathJax, widgets) could not be vendored:" \
	  "the book builds, but offline its math stays raw TeX and its sliders do not render" >&2
	$(REAL_DATA); .venv/bin/python -m fowkal.viz.book_execution && .venv/bin/jupyter-book build . --path-output .
	@echo "book built: open $(CURDIR)/_build/html/index.html"

test: setup
	bash .ci/setup-book
	bash .ci/setup-browser
	$(REAL_DATA); .venv/bin/python -m pytest -q -rs --durations=15 $(XDIST) $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-compat

# the tests marked compat (tests/conftest.py), under the compatibility stack's interpreter
test-compat: setup-compat
	$(REAL_DATA); FOWKAL_STACK=compat .venv-compat/bin/python -m pytest -q -rs --durations=10 $(XDIST) $(COMPAT_PYTEST_ARGS) -m compat

setup:
	@bash .ci/setup

setup-compat:
	@bash .ci/setup-compat

help:
	@sed -n '1,13p' Makefile
