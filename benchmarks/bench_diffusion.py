"""Benchmark of synthetic sources: cost, quality per training budget, benefit to the detector.

Run: ``python benchmarks/bench_diffusion.py [--dataset results/cutouts] [--budgets 100 400]
[--seeds 0 1 2] [--detector-steps 250] [--per-class 30] [--work DIR]`` (``make bench`` runs it on
the demo's cutout set, made by ``make demo``). With ``--work`` the work folder is kept and a rerun
on it resumes: finished stages (DDPM, sample sets, quality, scored detector runs) are reused.

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
import tempfile
from pathlib import Path
from typing import Any

import yaml
from detector_arms import Arm, arms_table, plot_f1, reuse_or_run, train_and_score

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RARE = ("extended", "extended-multi", "diffuse", "spurious")


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
        cost = reuse_or_run(
            work,
            out,
            out / "train_summary.json",
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
        cost = reuse_or_run(work, out, out / "dataset.json", "sample-diffusion", "--dataset",
                            str(args.dataset), "--out", str(out), "--generator", generator,
                            *extra, "--settings", json.dumps(sample), "--simulate-settings",
                            simulate, "--threads", str(args.threads))  # fmt: skip
        counts = json.loads((out / "dataset.json").read_text())["counts"]["train"]
        n = sum(counts["synthetic_per_class"].values())
        rows.append({"generator": generator, "budget": budget, "out": out, "n": n, **cost})
        print(f"sampled {generator} {budget}: {n} objects in {_num(cost['wall_s'])} s", flush=True)
    return rows


def quality(
    args: argparse.Namespace, work: Path, sections: dict[str, Any], sets: list[dict[str, Any]]
) -> dict[str, Any]:
    out = work / "quality"
    extra = ["--backbone", str(args.backbone)] if args.backbone else []
    finder = json.dumps(sections.get("baselines", {}).get("pybdsf", {}))
    extra += ["--finder-cutouts-per-class", str(args.finder_cutouts_per_class)]
    extra += ["--finder-settings", finder]
    reuse_or_run(work, out, out / "quality.json", "diffusion-quality", "--dataset",
                 str(args.dataset), "--synthetic", *[str(s["out"]) for s in sets], *extra,
                 "--out", str(out))  # fmt: skip
    return json.loads((out / "quality.json").read_text())


def benefit(
    args: argparse.Namespace,
    work: Path,
    sections: dict[str, Any],
    arms: dict[str, Path | None],
    seed: int,
) -> list[dict[str, Any]]:
    arm_list = [
        Arm(name, extra_args=("--extra-train", str(extra)) if extra else ())
        for name, extra in arms.items()
    ]
    return train_and_score(
        work, args.dataset, dict(sections.get("detect", {})), arm_list,
        seeds=[seed], steps=args.detector_steps, threads=args.threads,
    )  # fmt: skip


def _rows_table(rows: list[dict[str, Any]], keys: list[str], strip: str = "") -> list[str]:
    """Markdown table of ``keys`` of the rows (floats to 3 significant digits)."""
    lines = [
        "| " + " | ".join(k.removeprefix(strip) for k in keys) + " |",
        "|" + "---|" * len(keys),
    ]
    for row in rows:
        values = [row.get(k) for k in keys]
        cells = [
            f"{v:.3g}" if isinstance(v, float) else "-" if v is None else str(v) for v in values
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _num(value: float | None) -> str:
    """A cost to the unit; ``-`` when unknown (a reused stage without a recorded cost)."""
    return "-" if value is None else f"{value:.0f}"


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
            f"{_num(m['wall_s'])} | {_num(m['peak_rss_mib'])} |"
        )
    lines += ["", "## Sampling (DDIM, pasted into training cutouts)", ""]
    lines += [
        "| generator | budget | objects | stage wall s | objects/s | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for s in sets:
        lines.append(
            f"| {s['generator']} | {s['budget'] or '-'} | {s['n']} | {_num(s['wall_s'])} | "
            f"{_fmt(s['n'] / s['wall_s'] if s['wall_s'] else None)} | "
            f"{_num(s['peak_rss_mib'])} |"
        )
    lines += ["", "## Quality against the real objects (diffusion-quality)", ""]
    keys = ["set", "class", "n_synthetic", "n_real", "iou_synthetic", "iou_real"]
    keys += ["flux_median_synthetic_mjy", "flux_median_real_mjy", "flux_ks", "size_ks"]
    keys += ["classifier_recall_synthetic", "classifier_recall_heldout", "n_heldout"]
    lines += _rows_table(qual["rows"], keys)
    finder = [k for k in qual["rows"][0] if k.startswith("finder_")] if qual["rows"] else []
    if finder:
        lines += ["", f"As PyBDSF sees them (up to {args.finder_cutouts_per_class} cutouts per "
                  "class of each set; flux and size of the found objects):", ""]  # fmt: skip
        lines += _rows_table(qual["rows"], ["set", "class", *finder], strip="finder_")
    lines += [
        "",
        "| set | background rms ratio (median) | IoU all | Frechet vs held-out "
        "| Frechet real train vs held-out | classifier recall: synthetic | held-out real |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, summary in qual["sets"].items():
        fd = summary.get("frechet_synthetic_vs_heldout")
        floor = summary.get("frechet_real_train_vs_heldout")
        lines.append(
            f"| {name} | {summary['background_rms_ratio_median']:.3f} | "
            f"{summary['iou_synthetic_all']:.2f} | "
            f"{'-' if fd is None else f'{fd:.1f}'} | {'-' if floor is None else f'{floor:.1f}'} | "
            f"{_fmt(summary.get('classifier_recall_synthetic_mean'))} | "
            f"{_fmt(summary.get('classifier_recall_heldout_mean'))} |"
        )
    if ben:
        lines += [
            "",
            f"## Benefit: detector trained {args.detector_steps} steps with vs without synthetic "
            f"sources, seeds {sorted({r['seed'] for r in ben})} (of {args.seeds} asked)",
            "",
            "Test split untouched (real/simulated objects only). Mean ± sd over seeds.",
            "",
            *arms_table(ben, arms),
        ]
        lines += ["", f"![F1 per class]({Path(args.report).stem}_benefit.png)"]
    lines += ["", "## Notes", "", *args.notes]
    (RESULTS / args.report).write_text("\n".join(lines) + "\n")


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
    parser.add_argument(
        "--finder-cutouts-per-class",
        type=int,
        default=10,
        help="cutouts per class that PyBDSF measures, real and per synthetic set (0 = none)",
    )
    parser.add_argument(
        "--report",
        default="diffusion.md",
        help="report file name under benchmarks/results (figures: <stem>_benefit.png, "
        "<stem>_samples.png)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument(
        "--work",
        type=Path,
        help="work folder, kept (default: a temporary one, removed): a rerun with the same folder "
        "reuses every finished stage (DDPM, sample sets, quality, scored detector runs)",
    )
    parser.add_argument("--notes", nargs="*", default=[])
    args = parser.parse_args()
    if not (args.dataset / "dataset.json").is_file():
        raise SystemExit(f"{args.dataset}: no cutout set (run `make demo` first)")
    if args.backbone is None:
        guess = args.dataset.parent / "ssl" / "pretrain" / "random" / "simclr" / "backbone.pt"
        args.backbone = guess if guess.is_file() else None
    sections = demo_sections(args.config)
    stem = Path(args.report).stem
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_diffusion_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        models = train_models(args, work, sections)
        sets = sample_sets(args, work, sections, models)
        qual = quality(args, work, sections, sets)
        arms: dict[str, Path | None] = {"real only": None}
        arms["+ diffusion"] = next(s["out"] for s in sets if s["budget"] == max(args.budgets))
        arms["+ paste"] = next(s["out"] for s in sets if s["generator"] == "paste")
        RESULTS.mkdir(parents=True, exist_ok=True)
        for s in sets:
            if s["generator"] == "diffusion" and s["budget"] == max(args.budgets):
                shutil.copy(s["out"] / "samples.png", RESULTS / f"{stem}_samples.png")
        # The report is rewritten after the quality and after every seed of the benefit, so a
        # long run that is stopped keeps what it measured.
        ben: list[dict[str, Any]] = []
        write_report(args, models, sets, qual, ben, list(arms))
        for seed in [] if args.no_benefit else args.seeds:
            ben += benefit(args, work, sections, arms, seed)
            plot_f1(ben, list(arms), RESULTS / f"{stem}_benefit.png")
            write_report(args, models, sets, qual, ben, list(arms))
        print(f"wrote {RESULTS / args.report}")
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
