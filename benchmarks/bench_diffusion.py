"""Benchmark of synthetic sources: cost, quality per training budget, benefit to the detector.

Run: ``python benchmarks/bench_diffusion.py [--dataset results/cutouts] [--budgets 100 400]
[--seeds 0 1 2] [--detector-steps 250] [--per-class 30]`` (``make bench`` runs it on the demo's
cutout set, made by ``make demo``).

1. ``train-diffusion`` with the demo's model for each budget (steps, batch 16): s/step, peak RSS.
2. ``sample-diffusion`` of ``--per-class`` sources of each rare class (simulator masks) from each
   model, and the trivial paste baseline: sources/s, and ``diffusion-quality`` of all of them
   (mask obedience, flux/size KS, background rms, Frechet distance on an SSL backbone if given).
3. Benefit: ``train-detector`` (demo settings, ``--detector-steps`` steps) on the cutouts alone,
   with the diffusion set of the largest budget, and with the paste set, for every seed; each
   model scored by ``evaluate-detector`` on the untouched test split: per-class completeness,
   reliability, F1, mean and spread over seeds (table + figure).

Writes ``benchmarks/results/diffusion.md`` (+ ``diffusion_benefit.png``). Threads: 2 (torch).
Not a test: timings depend on the machine and on other load on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RARE = ("extended", "extended-multi", "diffuse", "spurious")
CLASSES = ("compact", *RARE)
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


def demo_sections(config: Path) -> dict[str, Any]:
    return yaml.safe_load(config.read_text())


def train_models(
    args: argparse.Namespace, work: Path, sections: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    train = dict(sections.get("diffusion", {}).get("train", {}))
    for budget in args.budgets:
        out = work / f"ddpm_{budget}"
        settings = {**train, "max_steps": budget, "log_every": 50, "checkpoint_every": budget}
        cost = stage(
            work,
            *("train-diffusion", "--dataset", str(args.dataset), "--out", str(out)),
            *("--settings", json.dumps(settings), "--threads", str(args.threads)),
        )
        summary = json.loads((out / "train_summary.json").read_text())
        rows.append({"budget": budget, "out": out, **cost, **summary})
        print(f"trained {budget} steps: {summary['s_per_step']:.2f} s/step", flush=True)
    return rows


def sample_sets(
    args: argparse.Namespace, work: Path, sections: dict[str, Any], models: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    sample = dict(sections.get("diffusion", {}).get("sample", {}))
    sample["per_class"] = dict.fromkeys(RARE, args.per_class)
    simulate = json.dumps(sections.get("simulate", {}))
    runs = [("diffusion", m["budget"], m["out"] / "model.pt") for m in models]
    runs.append(("paste", None, None))
    rows = []
    for generator, budget, model in runs:
        out = work / (f"syn_{generator}_{budget}" if budget else f"syn_{generator}")
        extra = ["--model", str(model)] if model else []
        cost = stage(work, "sample-diffusion", "--dataset", str(args.dataset), "--out", str(out),
                     "--generator", generator, *extra, "--settings", json.dumps(sample),
                     "--simulate-settings", simulate, "--threads", str(args.threads))  # fmt: skip
        counts = json.loads((out / "dataset.json").read_text())["counts"]["train"]
        n = sum(counts["synthetic_per_class"].values())
        rows.append({"generator": generator, "budget": budget, "out": out, "n": n, **cost})
        print(f"sampled {generator} {budget}: {n} objects in {cost['wall_s']:.0f} s", flush=True)
    return rows


def quality(args: argparse.Namespace, work: Path, sets: list[dict[str, Any]]) -> dict[str, Any]:
    out = work / "quality"
    extra = ["--backbone", str(args.backbone)] if args.backbone else []
    stage(work, "diffusion-quality", "--dataset", str(args.dataset), "--synthetic",
          *[str(s["out"]) for s in sets], *extra, "--out", str(out))  # fmt: skip
    return json.loads((out / "quality.json").read_text())


def benefit(
    args: argparse.Namespace, work: Path, sections: dict[str, Any], arms: dict[str, Path | None]
) -> list[dict[str, Any]]:
    detect = dict(sections.get("detect", {}))
    rows = []
    for seed in args.seeds:
        for arm, extra_set in arms.items():
            out = work / f"det_{arm}_{seed}"
            settings = {**detect, "max_steps": args.detector_steps, "seed": seed}
            extra = ["--extra-train", str(extra_set)] if extra_set else []
            cost = stage(work, "train-detector", "--dataset", str(args.dataset), "--out", str(out),
                         "--settings", json.dumps(settings), "--no-resume", *extra,
                         "--threads", str(args.threads))  # fmt: skip
            predictions = out / "predictions_test.json"
            stage(work, "predict-cutouts", "--model", str(out / "model.pt"), "--dataset",
                  str(args.dataset), "--split", "test", "--out", str(predictions),
                  "--threads", str(args.threads), "--score-threshold", "0.05")  # fmt: skip
            evaluation = out / "evaluation"
            stage(work, "evaluate-detector", "--dataset", str(args.dataset), "--predictions",
                  str(predictions), "--out", str(evaluation), "--no-figures")  # fmt: skip
            metrics = json.loads((evaluation / "metrics.json").read_text())
            for row in metrics["per_class"]:
                rows.append({"arm": arm, "seed": seed, "train_s": cost["wall_s"], **row})
            overall = next(r for r in metrics["per_class"] if r["class"].startswith("all"))
            print(f"detector {arm} seed {seed}: F1 all {overall['f1']}", flush=True)
    return rows


def _mean_sd(values: list[float | None]) -> str:
    finite = [v for v in values if v is not None]
    if not finite:
        return "-"
    if len(finite) == 1:
        return f"{finite[0]:.2f}"
    return f"{np.mean(finite):.2f} ± {np.std(finite, ddof=1):.2f}"


def plot_benefit(rows: list[dict[str, Any]], arms: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = [*CLASSES, "all (class-aware)"]
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


def write_report(
    args: argparse.Namespace,
    models: list[dict[str, Any]],
    sets: list[dict[str, Any]],
    qual: dict[str, Any],
    ben: list[dict[str, Any]],
    arms: list[str],
) -> None:
    import torch

    load = os.getloadavg()[0]
    lines = [
        "# Synthetic sources (diffusion): cost, quality, benefit to the detector",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, CPU, {args.threads} threads; dataset `{args.dataset}`; "
        f"1-min load average at the end: {load:.1f}. No GPU was available to this run.",
        "",
        "## Training (mask-conditioned DDPM, demo model)",
        "",
        "| steps | windows | parameters | s/step | batch | first loss | final loss (last 10%) "
        "| wall s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        lines.append(
            f"| {m['budget']} | {m['windows']} | {m['parameters'] / 1e6:.2f}M | "
            f"{m['s_per_step']:.2f} | "
            f"{m['batch_size']} | {m['first_loss']:.3f} | {m['final_loss_mean_last_10pct']:.3f} | "
            f"{m['wall_s']:.0f} | {m['peak_rss_mib']:.0f} |"
        )
    lines += ["", "## Sampling (DDIM, pasted into training cutouts)", ""]
    lines += [
        "| generator | budget | objects | stage wall s | objects/s | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for s in sets:
        lines.append(
            f"| {s['generator']} | {s['budget'] or '-'} | {s['n']} | {s['wall_s']:.0f} | "
            f"{s['n'] / s['wall_s']:.2f} | {s['peak_rss_mib']:.0f} |"
        )
    lines += ["", "## Quality against the real objects (diffusion-quality)", ""]
    keys = ["set", "class", "n_synthetic", "n_real", "iou_synthetic", "iou_real"]
    keys += ["flux_median_synthetic_mjy", "flux_median_real_mjy", "flux_ks", "size_ks"]
    lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in qual["rows"]:
        cells = [
            f"{row.get(k):.3g}" if isinstance(row.get(k), float) else str(row.get(k, ""))
            for k in keys
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| set | background rms ratio (median) | IoU all | Frechet vs held-out "
        "| Frechet real train vs held-out |",
        "|---|---|---|---|---|",
    ]
    for name, summary in qual["sets"].items():
        fd = summary.get("frechet_synthetic_vs_heldout")
        floor = summary.get("frechet_real_train_vs_heldout")
        lines.append(
            f"| {name} | {summary['background_rms_ratio_median']:.3f} | "
            f"{summary['iou_synthetic_all']:.2f} | "
            f"{'-' if fd is None else f'{fd:.1f}'} | {'-' if floor is None else f'{floor:.1f}'} |"
        )
    if ben:
        lines += [
            "",
            f"## Benefit: detector trained {args.detector_steps} steps with vs without synthetic "
            f"sources, seeds {args.seeds}",
            "",
            "Test split untouched (real/simulated objects only). Mean ± sd over seeds.",
            "",
            "| class | n_true | " + " | ".join(f"{a} C | {a} R | {a} F1" for a in arms) + " |",
            "|---|---|" + "---|---|---|" * len(arms),
        ]
        for name in [*CLASSES, "all (class-aware)"]:
            cells = []
            n_true = next((r["n_true"] for r in ben if r["class"] == name), 0)
            for arm in arms:
                sel = [r for r in ben if r["arm"] == arm and r["class"] == name]
                cells += [
                    _mean_sd([r[k] for r in sel]) for k in ("completeness", "reliability", "f1")
                ]
            lines.append(f"| {name} | {n_true} | " + " | ".join(cells) + " |")
        lines += ["", "![F1 per class](diffusion_benefit.png)"]
    lines += ["", "## Notes", "", *args.notes]
    (RESULTS / "diffusion.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT / "results" / "cutouts")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--per-class", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--detector-steps", type=int, default=250)
    parser.add_argument("--no-benefit", action="store_true")
    parser.add_argument("--backbone", type=Path, help="SSL backbone.pt for the Frechet distance")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument("--notes", nargs="*", default=[])
    args = parser.parse_args()
    if not (args.dataset / "dataset.json").is_file():
        raise SystemExit(f"{args.dataset}: no cutout set (run `make demo` first)")
    if args.backbone is None:
        guess = args.dataset.parent / "ssl" / "pretrain" / "random" / "simclr" / "backbone.pt"
        args.backbone = guess if guess.is_file() else None
    sections = demo_sections(args.config)
    work = Path(tempfile.mkdtemp(prefix="bench_diffusion_"))
    try:
        models = train_models(args, work, sections)
        sets = sample_sets(args, work, sections, models)
        qual = quality(args, work, sets)
        arms: dict[str, Path | None] = {"real only": None}
        arms["+ diffusion"] = next(s["out"] for s in sets if s["budget"] == max(args.budgets))
        arms["+ paste"] = next(s["out"] for s in sets if s["generator"] == "paste")
        ben = [] if args.no_benefit else benefit(args, work, sections, arms)
        RESULTS.mkdir(parents=True, exist_ok=True)
        if ben:
            plot_benefit(ben, list(arms), RESULTS / "diffusion_benefit.png")
        write_report(args, models, sets, qual, ben, list(arms))
        for s in sets:
            if s["generator"] == "diffusion" and s["budget"] == max(args.budgets):
                shutil.copy(s["out"] / "samples.png", RESULTS / "diffusion_samples.png")
        print(f"wrote {RESULTS / 'diffusion.md'}")
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
