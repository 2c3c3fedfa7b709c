"""The training step's cost, read from the step benchmark (``benchmarks/bench_step.py``) and from run records.

- :func:`load` reads the benchmark's JSON (``figures/bench_step.json``);
- :func:`step_rows` and :func:`step_markdown`: each method's step, × MSE of the same code and × the baseline;
- :func:`profile_rows` and :func:`profile_markdown`: where a step's time goes, part by part;
- :func:`targets`: the speed targets, measured against what the benchmark found;
- :func:`same_numbers_markdown`: whether this code trains the numbers a pinned commit trains
  (``benchmarks/same_numbers.py``: every logged loss and accuracy, iteration by iteration);
- :func:`run_phases`: a run record's wall time split into training epochs and the rest (start-up and the
  final evaluations), so a step's share of a whole run is known.

Every number is a median of the benchmark's own side-by-side measurement; ratios are taken within one run.
"""
from __future__ import annotations

import json
from pathlib import Path

#: The parts of a step, in the order a step runs them (``bench_step.PARTS``), with their labels.
PART_LABELS = {"data_wait": "waiting for data", "preprocess": "data preprocessor", "backbone": "backbone forward",
               "heatmap_head": "heatmap head forward", "kaf_head": "KAF head forward", "loss": "loss forward",
               "accuracy": "training accuracy", "backward": "backward (all)", "optimizer": "Adam step",
               "hooks": "logging hook"}
#: The code label of the current code's rows timed in the same rotation as the baseline's (``bench_step.PAIRED``).
PAIRED = "current, paired"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "figures" / "bench_step.json"


def load(path=DEFAULT_PATH) -> dict:
    """The step benchmark's result (default: the repository's ``figures/bench_step.json``); a clear error where
    it is missing or is another file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no step benchmark at {path}: run .venv/bin/python benchmarks/bench_step.py")
    result = json.loads(path.read_text())
    if result.get("kind") != "fowkal-bench-step":
        raise ValueError(f"{path} is not a step benchmark (kind {result.get('kind')!r})")
    return result


def step_rows(result: dict) -> list[dict]:
    """One row per method of the current code: ``{method, ms, ratio_to_mse, paired_ms, baseline_ms,
    ratio_to_baseline}``. ``ms``: in the rotation of every method; ``paired_ms``: in the rotation the baseline ran
    (its methods only), which the × baseline ratio compares (the same as ``ms`` in a benchmark without both)."""
    summary = result["summary"]
    by_code = {(r["code"], r["method"]): r for r in summary["rows"]}
    rows = []
    for method, ratio in summary["ratio_to_mse"].items():
        base = by_code.get(("baseline", method))
        paired = by_code.get((PAIRED, method)) or (by_code[("current", method)] if base is not None else None)
        rows.append(dict(method=method, ms=1e3 * by_code[("current", method)]["median_step_s"], ratio_to_mse=ratio,
                         paired_ms=None if paired is None else 1e3 * paired["median_step_s"],
                         baseline_ms=None if base is None else 1e3 * base["median_step_s"],
                         ratio_to_baseline=summary["ratio_to_baseline"].get(method)))
    return rows


def step_markdown(result: dict) -> str:
    target = result["summary"]["targets"]["every_method_at_most_mse_times"]
    lines = ["| method | step, ms | × MSE | step beside the baseline, ms | baseline step, ms | × baseline |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in step_rows(result):
        flag = "" if r["ratio_to_mse"] <= target else " ▲"
        paired = "" if r["paired_ms"] is None else f"{r['paired_ms']:.0f}"
        base = "" if r["baseline_ms"] is None else f"{r['baseline_ms']:.0f}"
        ratio = "" if r["ratio_to_baseline"] is None else f"{r['ratio_to_baseline']:.2f}"
        lines.append(f"| {r['method']} | {r['ms']:.0f} | {r['ratio_to_mse']:.2f}{flag} | {paired} | {base} | {ratio} |")
    candidates = result["summary"].get("candidates") or {}
    if candidates:
        lines += ["", "Options, each × the same method without it, same run: " +
                  ", ".join(f"`{name}` {ratio:.2f}" for name, ratio in candidates.items()) + "."]
    versus = candidate_ratios_to_baseline(result)
    if versus:
        lines += ["", "Options × baseline (the option's ratio times its method's × baseline): " +
                  ", ".join(f"`{name}` {ratio:.2f}" for name, ratio in versus.items()) + "."]
    return "\n".join(lines)


def candidate_ratios_to_baseline(result: dict) -> dict:
    """Each option's step against the baseline's step of its method: its ratio to the method without it times
    that method's × baseline, both from one run; only where the method ran beside the baseline."""
    summary = result["summary"]
    base = summary["ratio_to_baseline"]
    return {name: ratio * base[name.partition("+")[0]] for name, ratio in (summary.get("candidates") or {}).items()
            if name.partition("+")[0] in base}


def _loader_code(code: str) -> str:
    """The worker whose loader a row's steps used (the paired rows are the current worker's)."""
    return "current" if code == PAIRED else code


def profile_rows(result: dict, methods=("mse", "fowkal")) -> list[dict]:
    """Per (method, code): median ms of each part of the step, and the step's median."""
    rows = []
    for r in result["summary"]["rows"]:
        if r["method"] in methods:
            parts = {part: 1e3 * (r["parts_median_s"].get(part) or 0.0) for part in PART_LABELS}
            rows.append(dict(method=r["method"], code=r["code"], step_ms=1e3 * r["median_step_s"], parts_ms=parts))
    return rows


def profile_markdown(result: dict) -> str:
    rows = profile_rows(result)
    lines = ["| part | " + " | ".join(f"{r['method']} ({r['code']})" for r in rows) + " |",
             "|---|" + "---:|" * len(rows)]
    for part, label in PART_LABELS.items():
        lines.append(f"| {label} | " + " | ".join(f"{r['parts_ms'][part]:.0f}" for r in rows) + " |")
    lines.append("| **whole step** | " + " | ".join(f"**{r['step_ms']:.0f}**" for r in rows) + " |")
    pipe = result.get("pipeline") or {}
    if pipe:
        lines.append("| pipeline CPU per batch (one worker thread) | " + " | ".join(
            f"{1e3 * pipe[code]['cpu_s_per_batch32']:.0f}" if (code := _loader_code(r["code"])) in pipe else ""
            for r in rows) + " |")
    return "\n".join(lines)


def targets(result: dict) -> dict:
    """The targets and the measured values: every method's step ≤ 1.05x MSE's; MSE's step ≤ 0.67x the baseline's
    (goal 0.5x). ``{name: {target, measured, met}}``."""
    summary = result["summary"]
    t = summary["targets"]
    worst = max(summary["ratio_to_mse"].items(), key=lambda kv: kv[1])
    mse = summary["ratio_to_baseline"].get("mse")
    found = {"every method's step, × MSE (worst)": dict(target=t["every_method_at_most_mse_times"], measured=worst[1],
                                                       method=worst[0], met=worst[1] <= t["every_method_at_most_mse_times"]),
             "MSE's step, × baseline": dict(target=t["mse_at_most_baseline_times"], measured=mse,
                                            met=mse is not None and mse <= t["mse_at_most_baseline_times"],
                                            goal=t["mse_goal_baseline_times"])}
    compiled = candidate_ratios_to_baseline(result).get("mse+compile")
    if compiled is not None:  # the step the converged ablation trains with
        found["MSE's step compiled (the converged ablation's), × baseline"] = dict(
            target=t["mse_at_most_baseline_times"], measured=compiled, met=compiled <= t["mse_at_most_baseline_times"],
            goal=t["mse_goal_baseline_times"])
    return found


def targets_markdown(result: dict) -> str:
    """The targets as a sentence list: target, measured, met or not."""
    lines = []
    for name, t in targets(result).items():
        measured = "not measured" if t["measured"] is None else f"{t['measured']:.2f}"
        which = f" ({t['method']})" if t.get("method") else ""
        goal = f", goal ≤ {t['goal']:.2f}" if t.get("goal") else ""
        lines.append(f"- {name}: target ≤ {t['target']:.2f}{goal}; measured {measured}{which}: "
                     f"**{'met' if t['met'] else 'not met'}**")
    return "\n".join(lines)


def same_numbers_markdown(result: dict) -> str:
    """One paragraph: what was compared (method, seed, iterations, the two commits, the machine) and the
    verdict, with the first difference where there is one."""
    if result.get("kind") != "fowkal-same-numbers":
        raise ValueError(f"not a same-numbers result (kind {result.get('kind')!r})")
    settings, found = result["settings"], result["comparison"]
    commit = (result.get("commit") or {}).get("commit") or "?"
    head = (f"{found['iterations']} training iterations of {settings['method']}, seed {settings['seed']} "
            f"({settings['benchmark']}), trained with this code (`{commit[:8]}`"
            f"{', dirty' if (result.get('commit') or {}).get('dirty') else ''}) and with commit "
            f"`{(settings.get('baseline_commit') or settings['baseline'])[:8]}` one after the other on "
            f"{result['machine']['cpu']}, compared number by number ({', '.join(f'`{k}`' for k in found['keys'])})")
    if found["equal"]:
        return head + ": **every logged number is the same float.**"
    first = found["first_difference"] or {}
    return (head + f": **they differ**, first at iteration {first.get('step')} in `{first.get('key')}` "
            f"({first.get('current')} here, {first.get('baseline')} there).")


def run_phases(record: dict) -> dict:
    """A run record's wall time split: the training epochs (their ``loss_log`` times, per epoch and summed),
    and the rest (start-up, checkpoints, the final evaluations). Seconds."""
    losses = record.get("losses") or []
    epochs = [float(e["time_s"]) for e in losses if e.get("time_s") is not None]
    steps = sum(int(e.get("iters", 0)) for e in losses)
    wall = float(record["wall_time_s"])
    training = sum(epochs)
    return dict(wall_s=wall, training_s=training, epochs_s=epochs, steps=steps,
                seconds_per_step=training / steps if steps else None, other_s=wall - training,
                other_share=(wall - training) / wall if wall else None)


__all__ = ["PART_LABELS", "DEFAULT_PATH", "load", "step_rows", "step_markdown", "candidate_ratios_to_baseline", "profile_rows", "profile_markdown",
           "targets", "targets_markdown", "same_numbers_markdown", "run_phases"]
