"""Your own run beside the committed records: what ``make`` trained on this machine, against the committed
record of the same method and seed and the spread of the committed seeds.

``make`` runs the train notebook with its defaults, whose work dir is
``work_dirs/<profile>/<method>-seed<seed>/`` (:func:`fowkal.configs.build_config`); the run record is
written there (:data:`fowkal.runs.record.RECORD_NAME`). :func:`local_runs` finds those records,
:func:`compare_run` sets one beside the committed records and :func:`comparison_markdown` says it in a
table and a few sentences.

What to expect: the same configuration, commit and machine train the same run, loss for loss (the
run-level determinism the tests check on short runs); another commit or machine changes the floating
point arithmetic, so the run drifts and ends like another seed would: within, or near, the committed
seeds' spread. :attr:`RunComparison.expectation` says which case a run is in.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..runs import record as run_record
from . import ablation
from .records import REPO_ROOT, repo_relative

__all__ = ["LOCAL_RUNS_DIR", "PartDifference", "RunComparison", "local_runs", "compare_run", "comparison_markdown"]

#: Where ``make`` (the train notebook's default work dir for the cpu profile) leaves its runs.
LOCAL_RUNS_DIR = REPO_ROOT / "work_dirs" / "cpu"


@dataclass(frozen=True)
class PartDifference:
    """One part's AP (%, ground-truth boxes): the local run, the committed record of the same seed (NaN
    without one), and the range over the committed seeds of the method."""

    part: str
    local: float
    committed: float
    seeds_low: float
    seeds_high: float

    @property
    def difference(self) -> float:
        return self.local - self.committed

    @property
    def within_spread(self) -> bool:
        return self.seeds_low <= self.local <= self.seeds_high


@dataclass(frozen=True)
class RunComparison:
    """A local run set beside the committed records of its method (see the module's documentation)."""

    method: str
    seed: int
    local_file: str
    committed_file: str | None
    seeds: tuple[int, ...]
    same_config: bool
    same_commit: bool
    same_machine: bool
    identical_losses: bool
    first_different_epoch: int | None
    parts: tuple[PartDifference, ...]

    @property
    def expectation(self) -> str:
        """``identical`` (same configuration, clean commit and machine as the committed record: the run
        should repeat it loss for loss), ``spread`` (same configuration, another commit or machine: it
        should end like another seed), or ``not comparable`` (another configuration, or no record)."""
        if self.committed_file is None or not self.same_config:
            return "not comparable"
        return "identical" if self.same_commit and self.same_machine else "spread"

    @property
    def as_expected(self) -> bool:
        if self.expectation == "identical":
            return self.identical_losses
        if self.expectation == "spread":
            return all(p.within_spread for p in self.parts)
        return False


def local_runs(folder=None) -> list[dict]:
    """The run records in ``folder`` (default :data:`LOCAL_RUNS_DIR`)'s work dirs, checked by
    :func:`fowkal.runs.record.load`, ``_path`` added; none when the folder does not exist."""
    folder = LOCAL_RUNS_DIR if folder is None else Path(folder)
    found = []
    for path in sorted(folder.glob(f"*/{run_record.RECORD_NAME}")) if folder.is_dir() else []:
        record = run_record.load(path)
        record["_path"] = str(path)
        found.append(record)
    return found


def _clean_commit(record: dict) -> str | None:
    git = record.get("git") or {}
    return None if git.get("dirty") or not git.get("commit") else git["commit"]


def _machine(record: dict) -> tuple:
    machine = record.get("machine") or {}
    return tuple(machine.get(k) for k in ("cpu_count", "platform", "machine", "python")), (record.get("device") or {}).get("type")


def _epoch_losses(record: dict) -> list:
    return [e.get("loss") for e in record.get("losses") or []]


def compare_run(local: dict, committed: list[dict]) -> RunComparison:
    """``local`` beside the ``committed`` records of the same method and profile (the same seed's, if
    there, and the range over all of them). Raises ValueError when none has its method and profile."""
    same_method = [r for r in committed if (r["method"], r.get("profile")) == (local["method"], local.get("profile"))]
    if not same_method:
        raise ValueError(f"no committed record of method {local['method']!r} (profile {local.get('profile')!r}) "
                         "to compare the local run with")
    twin = next((r for r in same_method if r["seed"] == local["seed"]), None)
    parts = []
    for part in ablation.PARTS:
        spread = [ablation.record_ap(r, part) for r in same_method]
        parts.append(PartDifference(part, ablation.record_ap(local, part),
                                    float("nan") if twin is None else ablation.record_ap(twin, part),
                                    min(spread), max(spread)))
    mine, theirs = _epoch_losses(local), _epoch_losses(twin) if twin else []
    first = next((i + 1 for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), None)
    if first is None and len(mine) != len(theirs):
        first = min(len(mine), len(theirs)) + 1
    return RunComparison(
        method=local["method"], seed=local["seed"], local_file=repo_relative(local.get("_path", "?")),
        committed_file=None if twin is None else repo_relative(twin.get("_path", "?")),
        seeds=tuple(sorted(r["seed"] for r in same_method)),
        same_config=twin is not None and local["config"].get("sha256") == twin["config"].get("sha256"),
        same_commit=twin is not None and _clean_commit(local) is not None and _clean_commit(local) == _clean_commit(twin),
        same_machine=twin is not None and _machine(local) == _machine(twin),
        identical_losses=twin is not None and bool(mine) and first is None,
        first_different_epoch=first, parts=tuple(parts))


def comparison_markdown(c: RunComparison) -> str:
    """The comparison as a table (AP per part: yours, the committed seed's, the difference, the committed
    seeds' range, inside it or not) and what it means."""
    seeds = f"seeds {', '.join(map(str, c.seeds))}"
    lines = [f"| part | your run | committed, seed {c.seed} | difference | committed {seeds} | within their range |",
             "|---|---:|---:|---:|---:|---|"]
    for p in c.parts:
        committed = "—" if p.committed != p.committed else f"{p.committed:.1f}"
        difference = "—" if p.committed != p.committed else f"{p.difference:+.1f}"
        lines.append(f"| {p.part} | {p.local:.1f} | {committed} | {difference} | {p.seeds_low:.1f}–{p.seeds_high:.1f} | "
                     f"{'yes' if p.within_spread else '**no**'} |")
    inside = sum(p.within_spread for p in c.parts)
    said = [f"**{c.method}, seed {c.seed}**: `{c.local_file}` beside "
            + (f"`{c.committed_file}`." if c.committed_file else "no committed record of this seed (the range is "
               f"over the committed {seeds}).")]
    if c.committed_file:
        said.append(f"Configuration {'the same' if c.same_config else '**different**'} (the config's sha256), commit "
                    f"{'the same' if c.same_commit else 'different (or not clean)'}, machine "
                    f"{'the same' if c.same_machine else 'different'}; per-epoch training losses "
                    + ("identical." if c.identical_losses else
                       f"differ from epoch {c.first_different_epoch} on." if c.first_different_epoch else "not logged."))
    if c.expectation == "identical":
        said.append("Same configuration, commit and machine: the run should repeat the committed one loss for loss, "
                    + ("and it does." if c.identical_losses else
                       "**and it does not**: something that the record does not capture differs (libraries, threads)."))
    elif c.expectation == "spread":
        said.append("Same configuration on another commit or machine: the arithmetic differs in its last bits, the "
                    "run drifts from the committed one and should end like another seed would, within or near the "
                    f"committed seeds' range. It lies inside on {inside} of the {len(c.parts)} parts.")
    else:
        said.append("Not the committed configuration (other epochs, iterations or options) or no record of this "
                    "seed: the differences say nothing about reproducibility.")
    return "\n".join(lines) + "\n\n" + " ".join(said)
