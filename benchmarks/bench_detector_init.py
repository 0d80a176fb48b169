"""Benchmark: the detector from an SSL-pretrained backbone vs from random init, same budget.

Run: ``python benchmarks/bench_detector_init.py --backbone SSL/backbone.pt [--backbone ...]
[--dataset results/cutouts] [--seeds 0 1] [--steps 500]`` (``make bench`` runs it with the
demo's cutouts and its SimCLR backbone, made by ``make demo``).

For every seed: ``train-detector`` (the config's ``detect`` settings, ``--steps`` steps) with
``init: random`` and with ``init: ssl`` from each given ``backbone.pt`` (the trunk of
``ssl-pretrain``; its normaliser must be the cutout set's), each model applied to the untouched
test split and scored by ``evaluate-detector``: per-class completeness, reliability, F1 and
mask mAP@0.5, mean and spread over seeds (table + figure). Writes
``benchmarks/results/detector_init.md`` (+ ``detector_init.png``). Threads: 2 (torch).
Not a test: the numbers depend on the budget; timings on the machine and its load.
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

import numpy as np
import yaml
from detector_arms import Arm, arms_table, mean_sd, plot_f1, train_and_score

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def backbone_label(path: Path) -> str:
    """``SSL <method> on <data> (<steps> steps)`` from the backbone file's metadata."""
    import torch

    meta = torch.load(path, map_location="cpu", weights_only=True)["skysift"]
    return f"SSL {meta['method']} on {meta['pretrain_data']} ({meta['steps']} steps)"


def write_report(
    args: argparse.Namespace, rows: list[dict[str, Any]], arms: list[Arm], labels: dict[str, str]
) -> None:
    import torch

    names = [a.name for a in arms]
    lines = [
        "# Detector: SSL-pretrained backbone vs random init, same budget",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, CPU, {args.threads} threads; dataset `{args.dataset}`; "
        f"{args.steps} detector steps per run, seeds {sorted({r['seed'] for r in rows})} (of "
        f"{args.seeds} asked); 1-min load average at the end: "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "Arms: " + "; ".join(f"**{n}** = {labels[n]}" for n in names) + ".",
        "",
        "Test split untouched. Completeness (C), reliability (R), F1 at mask IoU 0.5, mean ± sd "
        "over seeds.",
        "",
        *arms_table(rows, names),
        "",
        "| arm | mask mAP@0.5 | F1 all | train wall s |",
        "|---|---|---|---|",
    ]
    for name in names:
        sel = [r for r in rows if r["arm"] == name and r["class"] == "all (class-aware)"]
        lines.append(
            f"| {name} | {mean_sd([r['map50'] for r in sel])} | "
            f"{mean_sd([r['f1'] for r in sel])} | {np.mean([r['train_s'] for r in sel]):.0f} |"
        )
    lines += ["", "![F1 per class](detector_init.png)", "", "## Notes", "", *args.notes]
    (RESULTS / "detector_init.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "detector_init.json").write_text(json.dumps(rows, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT / "results" / "cutouts")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--backbone", type=Path, action="append", help="SSL backbone.pt")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--notes", nargs="*", default=[])
    args = parser.parse_args()
    if not (args.dataset / "dataset.json").is_file():
        raise SystemExit(f"{args.dataset}: no cutout set (run `make demo` first)")
    if not args.backbone:
        guess = args.dataset.parent / "ssl" / "pretrain" / "random" / "simclr" / "backbone.pt"
        if not guess.is_file():
            raise SystemExit("no --backbone given and no demo SSL backbone (run `make demo`)")
        args.backbone = [guess]
    detect = dict(yaml.safe_load(args.config.read_text()).get("detect", {}))
    arms = [Arm("random init", {"init": "random", "weights_path": None})]
    labels = {"random init": "random initialisation (from scratch)"}
    for i, path in enumerate(args.backbone):
        name = "SSL init" if len(args.backbone) == 1 else f"SSL init {i + 1}"
        arms.append(Arm(name, {"init": "ssl", "weights_path": str(path.resolve())}))
        labels[name] = f"{backbone_label(path)}, `{path}`"
    work = Path(tempfile.mkdtemp(prefix="bench_detector_init_"))
    try:
        RESULTS.mkdir(parents=True, exist_ok=True)
        rows: list[dict[str, Any]] = []
        for seed in args.seeds:  # the report is rewritten after every seed: a stopped run keeps it
            rows += train_and_score(
                work, args.dataset, detect, arms, seeds=[seed], steps=args.steps,
                threads=args.threads,
            )  # fmt: skip
            plot_f1(rows, [a.name for a in arms], RESULTS / "detector_init.png")
            write_report(args, rows, arms, labels)
        print(f"wrote {RESULTS / 'detector_init.md'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
