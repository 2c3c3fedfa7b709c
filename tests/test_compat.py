"""The compatibility stack itself (``make test-compat``, in ``.venv-compat``): MMPose 1.3.2 on full mmcv
2.1.0 and the oldest torch pyproject.toml allows.

These tests check that the interpreter running them is that stack, with working compiled ops, and that
every cpu config builds the adapter through MMPose's registry from the config's own ``custom_imports``.
The other tests ``make test-compat`` runs are the main suite's, selected in ``tests/conftest.py``
(``COMPAT_TESTS``, checked here to name existing tests); outside the compatibility stack the stack
checks (``compat_stack``) are skipped (``make test`` runs both stacks).
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.compat, pytest.mark.mmpose]

ROOT = Path(__file__).resolve().parents[1]
CPU_CONFIGS = sorted((ROOT / "fowkal" / "configs" / "cpu").glob("*.py"))


def _release(version: str) -> tuple:
    return tuple(int(x) for x in re.match(r"\d+(\.\d+)*", version).group(0).split("."))


def stack_pins() -> dict:
    """The versions .ci/setup-compat installs (its ``TORCH=... MMPOSE=...`` line)."""
    text = (ROOT / ".ci" / "setup-compat").read_text()
    pins = dict(re.findall(r"\b(TORCH|TORCHVISION|MMCV|MMDET|MMPOSE|MMENGINE)=([\w.]+)", text))
    assert len(pins) == 6, f"pins not found in .ci/setup-compat: {pins}"
    return {k.lower(): v for k, v in pins.items()}


@pytest.mark.compat_stack
def test_the_interpreter_runs_the_stack_setup_compat_installs():
    import mmcv
    import mmdet
    import mmengine
    import mmpose
    import numpy
    import torch
    import torchvision

    found = dict(torch=torch.__version__.split("+")[0], torchvision=torchvision.__version__.split("+")[0],
                 mmcv=mmcv.__version__, mmdet=mmdet.__version__, mmpose=mmpose.__version__,
                 mmengine=mmengine.__version__)
    assert found == stack_pins()
    assert _release(numpy.__version__)[0] == 1  # torch 2.1's wheels are built against numpy 1


@pytest.mark.compat_stack
@pytest.mark.parametrize("package", ["torch", "numpy"])
def test_the_core_dependencies_are_the_oldest_pyproject_allows(package):
    """pyproject.toml's lower bounds of the loss library's own dependencies are what this stack runs."""
    import importlib

    pyproject = (ROOT / "pyproject.toml").read_text()
    (lower,) = re.findall(rf'"{package}>=([\d.]+)', pyproject)
    version = importlib.import_module(package).__version__
    assert _release(version)[:len(_release(lower))] == _release(lower), f"{package} {version}, pyproject: >={lower}"


@pytest.mark.compat_stack
def test_mmcv_ops_are_compiled_and_run():
    """Full mmcv, not mmcv-lite: the compiled extension loads and its NMS keeps the right boxes."""
    import torch
    from mmcv.ops import nms, roi_align

    import mmcv._ext  # noqa: F401  (absent from mmcv-lite)

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]  # the second box overlaps the first by IoU 0.68
    feature = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    # one 1x1 bin over (0, 0)-(4, 4), 2x2 bilinear samples at 1 and 3: on the linear map 4y + x their
    # mean is the map's value at (2, 2)
    rois = torch.tensor([[0, 0, 0, 4, 4]], dtype=torch.float32)
    pooled = roi_align(feature, rois, (1, 1), 1.0, 2, "avg", False)  # scale, sampling ratio, mode, aligned
    assert pooled.item() == pytest.approx(4 * 2 + 2)


#: Run in a fresh interpreter, so that only the config's ``custom_imports`` can register fowkal's types.
_BUILD_EVERY_CONFIG = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData

assert not any(m.startswith("fowkal") for m in sys.modules)
results = {}
for path in sys.argv[1:]:
    cfg = Config.fromfile(path)  # imports custom_imports = ['fowkal.mmpose']
    assert "fowkal.mmpose" in sys.modules
    from mmpose.registry import MODELS
    from mmpose.structures import PoseDataSample
    from fowkal.mmpose import FoWKALLoss
    init_default_scope("mmpose")
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    w, h = cfg.codec["input_size"]
    hw, hh = cfg.codec["heatmap_size"]
    gen = torch.Generator().manual_seed(1)
    inputs = torch.rand(2, 3, h, w, generator=gen)
    samples = []
    for _ in range(2):
        sample = PoseDataSample()
        sample.gt_fields = PixelData(heatmaps=torch.rand(133, hh, hw, generator=gen))
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=(torch.rand(1, 133, generator=gen) > 0.2).float())
        samples.append(sample)
    losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if "loss" in k)
    total.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    head = model.head
    # the loss through MMPose equals the reference implementation on the head's own output and λ
    loss_cfg = {k: v for k, v in cfg.model.head.loss.items() if k not in ("type", "fused")}
    reference = FoWKALLoss(**loss_cfg, reference=True)
    with torch.no_grad():
        pred = head.forward(model.extract_feat(inputs))
        target = torch.stack([s.gt_fields.heatmaps for s in samples])
        weights = torch.cat([s.gt_instance_labels.keypoint_weights for s in samples])
        expected = reference(pred, target, weights, kaf=head.last_kaf).item()
    results[path] = dict(
        head=type(head).__name__, method=head.loss_module.method, config_method=cfg.model.head.loss.method,
        kaf=head.kaf_head is not None, loss=losses["loss_kpt"].item(), reference=expected,
        grads_finite=all(g is None or bool(torch.isfinite(g).all()) for g in grads.values()),
        final_grad=float(head.final_layer.weight.grad.abs().sum()),
        backbone_grad=float(sum(g.abs().sum() for n, g in grads.items() if n.startswith("backbone") and g is not None)),
        kaf_grad=None if head.kaf_head is None else float(head.kaf_head.mlp[-1].bias.grad.abs().sum()))
print("RESULTS " + json.dumps(results))
"""


@pytest.mark.compat_stack
@pytest.mark.slow
def test_every_cpu_config_builds_through_custom_imports_and_trains_one_step():
    from fowkal.losses import KAL_METHODS, METHODS

    assert len(CPU_CONFIGS) >= 10
    out = subprocess.run([sys.executable, "-c", _BUILD_EVERY_CONFIG, *map(str, CPU_CONFIGS)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.split("RESULTS ", 1)[1])
    assert sorted(results) == sorted(map(str, CPU_CONFIGS))
    for path, r in results.items():
        name = Path(path).stem
        assert r["head"] == "KAFHeatmapHead", name
        assert r["method"] == r["config_method"] and r["method"] in METHODS, name
        assert r["kaf"] == (r["method"] in KAL_METHODS), name
        assert r["loss"] == pytest.approx(r["reference"], rel=1e-5), name
        assert r["grads_finite"] and r["final_grad"] > 0 and r["backbone_grad"] > 0, name
        assert (r["kaf_grad"] is not None and r["kaf_grad"] > 0) == r["kaf"], name


def test_every_test_named_for_the_compat_stack_exists():
    """A renamed test would silently leave the compatibility run: conftest's names must all be defined."""
    from conftest import COMPAT_EXCLUDED, COMPAT_TESTS

    for table in (COMPAT_TESTS, COMPAT_EXCLUDED):
        for file, names in table.items():
            tree = ast.parse((ROOT / "tests" / file).read_text())
            defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
            assert not set(names or ()) - defined, f"{file} has no {sorted(set(names or ()) - defined)}"
