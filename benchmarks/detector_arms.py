"""Shared by the benchmarks that compare detector training arms (same data, budget and seeds).

An arm is a name, settings merged over the config's ``detect`` section (e.g. ``init: ssl``) and
extra ``train-detector`` arguments (e.g. ``--extra-train SET``). Every arm is trained for every
seed, applied to the untouched test split by ``predict-cutouts`` and scored by
``evaluate-detector`` as the workflow does: completeness and reliability count what the model
reports (each class at its own score threshold, calibrated on the validation split), COCO mAP
all detections down to 0.05. The rows are its per-class completeness, reliability and F1.
(Results committed before per-class thresholds, ``diffusion*.md`` and ``detector_init*.md``,
counted one threshold of 0.5 for every class.)
Each stage runs in its own process (``stage``: wall time and peak RSS). ``reuse_or_run`` skips a
stage whose output is already complete (a benchmark rerun on the same work folder resumes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CLASSES = ("compact", "extended", "extended-multi", "diffuse", "spurious")
OVERALL = "all (class-aware)"
WRAPPER = (
    "import resource, sys, json; from skysift.cli import main; rc = main(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(json.dumps({'rc': rc, 'peak_rss_mib': "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})); sys.exit(rc)"
)


def stage(work: Path, *args: str) -> dict[str, Any]:
    """Run ``skysift <args>`` in its own process: wall time and peak RSS (error: its stderr)."""
    report = work / f".rusage-{os.getpid()}-{time.perf_counter_ns()}.json"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(report), *args, "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"skysift {args[0]} failed:\n{result.stderr[-3000:]}")
    usage = json.loads(report.read_text())
    report.unlink()
    return {"wall_s": wall, "peak_rss_mib": usage["peak_rss_mib"]}


COST_RECORD = "stage_cost.json"


def reuse_or_run(work: Path, out: Path, done: Path, *args: str) -> dict[str, Any]:
    """``stage(work, *args)`` unless ``done`` exists already: then the recorded cost, if any.

    The cost (wall s, peak RSS) and the arguments are recorded in ``out/stage_cost.json``. A
    finished output that another command made (recorded arguments differ) is an error, never
    silently reused; one without a record is reused with its cost unknown (None).
    """
    record = out / COST_RECORD
    if done.exists():
        saved = json.loads(record.read_text()) if record.is_file() else {}
        if "args" in saved and saved["args"] != list(args):
            raise SystemExit(
                f"{out}: made by another command ({saved['args']}); remove it or use another "
                "work folder"
            )
        print(f"reusing {out}", flush=True)
        return {"wall_s": saved.get("wall_s"), "peak_rss_mib": saved.get("peak_rss_mib")}
    cost = stage(work, *args)
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({**cost, "args": list(args)}, indent=1))
    return cost


@dataclass(frozen=True)
class Arm:
    """One way of training the detector."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()


def train_and_score(
    work: Path,
    dataset: Path,
    detect: dict[str, Any],
    arms: list[Arm],
    *,
    seeds: list[int],
    steps: int,
    threads: int,
) -> list[dict[str, Any]]:
    """Train every arm for every seed (``steps`` steps) and score it on the test split."""
    rows = []
    for seed in seeds:
        for arm in arms:
            out = work / f"det_{arm.name.replace(' ', '_').replace('+', 'plus')}_{seed}"
            settings = {**detect, **arm.settings, "max_steps": steps, "seed": seed}
            evaluation = out / "evaluation"
            predictions = out / "predictions_test.json"
            # A run is reused only when scored: a stopped training starts again from step 0.
            cost = reuse_or_run(work, out, evaluation / "metrics.json", "train-detector",
                                "--dataset", str(dataset), "--out", str(out), "--settings",
                                json.dumps(settings), "--no-resume", *arm.extra_args,
                                "--threads", str(threads))  # fmt: skip
            if not (evaluation / "metrics.json").is_file():
                stage(work, "predict-cutouts", "--model", str(out / "model.pt"), "--dataset",
                      str(dataset), "--split", "test", "--out", str(predictions),
                      "--threads", str(threads), "--candidates", "0.05")  # fmt: skip
                stage(work, "evaluate-detector", "--dataset", str(dataset), "--predictions",
                      str(predictions), "--score-threshold", "0", "--out", str(evaluation),
                      "--no-figures")  # fmt: skip
            metrics = json.loads((evaluation / "metrics.json").read_text())
            map50 = metrics.get("coco", {}).get("segm", {}).get("map_50")
            for row in metrics["per_class"]:
                rows.append(
                    {"arm": arm.name, "seed": seed, "train_s": cost["wall_s"], "map50": map50} | row
                )
            overall = next(r for r in metrics["per_class"] if r["class"] == OVERALL)
            print(f"detector {arm.name} seed {seed}: F1 all {overall['f1']}", flush=True)
    return rows


def mean_sd(values: list[float | None]) -> str:
    """``mean ± sd`` (sample sd) of the values that are not None; ``-`` when there are none."""
    finite = [v for v in values if v is not None]
    if not finite:
        return "-"
    if len(finite) == 1:
        return f"{finite[0]:.2f}"
    return f"{np.mean(finite):.2f} ± {np.std(finite, ddof=1):.2f}"


def arms_table(rows: list[dict[str, Any]], arms: list[str]) -> list[str]:
    """Markdown table: per class, each arm's completeness, reliability and F1 over seeds."""
    lines = [
        "| class | n_true | " + " | ".join(f"{a} C | {a} R | {a} F1" for a in arms) + " |",
        "|---|---|" + "---|---|---|" * len(arms),
    ]
    for name in [*CLASSES, OVERALL]:
        cells = []
        n_true = next((r["n_true"] for r in rows if r["class"] == name), 0)
        for arm in arms:
            sel = [r for r in rows if r["arm"] == arm and r["class"] == name]
            cells += [mean_sd([r[k] for r in sel]) for k in ("completeness", "reliability", "f1")]
        lines.append(f"| {name} | {n_true} | " + " | ".join(cells) + " |")
    return lines


def plot_f1(rows: list[dict[str, Any]], arms: list[str], path: Path) -> None:
    """Bar chart of F1 per class and arm (mean ± sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = [*CLASSES, OVERALL]
    width = 0.8 / len(arms)
    for i, arm in enumerate(arms):
        means, sds = [], []
        for name in names:
            v = [r["f1"] or 0.0 for r in rows if r["arm"] == arm and r["class"] == name]
            means.append(np.mean(v) if v else 0.0)
            sds.append(np.std(v, ddof=1) if len(v) > 1 else 0.0)
        x = np.arange(len(names)) + (i - (len(arms) - 1) / 2) * width
        ax.bar(x, means, width, yerr=sds, capsize=2, label=arm)
    ax.set_xticks(np.arange(len(names)), [n.replace(" (class-aware)", "") for n in names])
    ax.set_ylabel("F1 on the test split (mean ± sd over seeds)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
