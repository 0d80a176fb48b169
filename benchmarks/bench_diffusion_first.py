"""Benchmark: the diffusion model learnt on REAL radio cutouts (VLA FIRST), not the simulator.

Run: ``python benchmarks/bench_diffusion_first.py [--first-dir ../shared/data/first_cutouts]
[--steps 300] [--per-class 20] [--finder-cutouts-per-class 10]``.

A user's path, through the workflow: the FIRST cutouts (SkyView, 1.8"/px, 5.4" beam, no beam
keywords) are real maps of ``ingest.maps`` with ``survey: FIRST``; their labels are a catalogue of
the radio galaxies (position, largest angular size) with class ``auto``, which
``import-annotations`` (``annotation_masks: islands``) turns into masks of the galaxies' islands
above 3 sigma and the class ``extended-multi`` (several islands) or ``extended`` (one). The
catalogue is written here from the MiraBest file names of the shared copies
(``<MiraBest code>_<RA><Dec>_<z>_<LAS arcsec>.fits``). Snakemake then builds the cutouts (one
300-px cutout per map), trains the DDPM (96-px windows, no binning: the 5.4" beam is 3 px),
samples new galaxies from the set's own masks (rotated, flipped) into noise-only spots, beside
the paste baseline, and measures both against the real galaxies (``diffusion-quality``, with
PyBDSF's view).

Writes ``benchmarks/results/diffusion_first.md`` (+ ``diffusion_first_samples.png``); the
workflow's outputs stay in ``--results`` (default ``results-first-diffusion``).
Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NAME = re.compile(r"^(\d{3})_(\d+\.\d+)([+-]\d+\.\d+)_([\d.]+)_([\d.]+)\.fits$")


def galaxy_catalogue(files: list[Path], path: Path) -> int:
    """CSV of the galaxies named by MiraBest-style file names: ra, dec (deg), class auto,
    major = LAS (arcsec), mirabest code; returns the number of rows."""
    rows = ["ra,dec,class,major,mirabest"]
    for file in files:
        match = NAME.match(file.name)
        if match is None:
            raise SystemExit(f"{file}: not a MiraBest-style name (code_RA+Dec_z_LAS.fits)")
        code, ra, dec, _, las = match.groups()
        rows.append(f"{float(ra)},{float(dec)},auto,{float(las)},{code}")
    path.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def overlay(args: argparse.Namespace, files: list[Path], catalogue: Path) -> dict[str, Any]:
    """Config overlay on config/config.yaml: the FIRST maps and their island labels only."""
    maps = [
        {"name": f"first{i:03d}", "path": str(f), "survey": "FIRST", "annotations": str(catalogue)}
        for i, f in enumerate(files)
    ]
    return {
        "results_dir": str(args.results),
        "simulate": {"n_maps": 0},
        "ingest": {"maps": maps, "annotation_masks": "islands"},
        "cutouts": {"size_pix": 300, "region_block_pix": 300, "empty_fraction": 0.0},
        "ssl": {"pretrain": {"datasets": []}},  # no SSL backbone: no Frechet distance here
        "diffusion": {
            "train": {
                "model": {"window_pix": 96, "downsample": 1},
                "max_steps": args.steps,
                "checkpoint_every": 50,
                "log_every": 25,
            },
            "sample": {  # the demo config's rare classes merged in: none in FIRST galaxies
                "mask_source": "dataset",
                "window_pix": 96,
                "per_class": {
                    "extended": args.per_class,
                    "extended-multi": args.per_class,
                    "diffuse": 0,
                    "spurious": 0,
                },
            },
            "quality": {"finder_cutouts_per_class": args.finder_cutouts_per_class},
        },
    }


def run_workflow(args: argparse.Namespace, config: Path) -> float:
    target = f"{args.results}/diffusion/quality/quality.md"
    command = [
        str(Path(sys.executable).with_name("snakemake")),
        target,
        "--cores",
        str(args.cores),
        "--configfile",
        str(ROOT / "config" / "config.yaml"),
        str(config),
    ]
    start = time.perf_counter()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(command, cwd=ROOT, check=True, env={**env, "MPLBACKEND": "Agg"})
    return time.perf_counter() - start


def _rule_seconds(results: Path, rule: str) -> float:
    """Wall seconds of one rule's (or wildcard rule's) Snakemake benchmark files, summed."""
    total = 0.0
    for tsv in [results / "benchmarks" / f"{rule}.tsv", *(results / "benchmarks" / rule).glob("*")]:
        if tsv.is_file():
            total += float(tsv.read_text().splitlines()[1].split("\t")[0])
    return total


def write_report(args: argparse.Namespace, n_maps: int, wall: float) -> None:
    import torch

    results = ROOT / args.results
    dataset = json.loads((results / "cutouts" / "dataset.json").read_text())
    train = json.loads((results / "diffusion" / "model" / "train_summary.json").read_text())
    quality = json.loads((results / "diffusion" / "quality" / "quality.json").read_text())
    counts = {s: dataset["counts"][s]["objects_per_class"] for s in ("train", "val", "test")}
    lines = [
        "# Synthetic sources from a diffusion model learnt on real FIRST cutouts",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, CPU; `snakemake --cores {args.cores}`; 1-min load average at the "
        f"end: {os.getloadavg()[0]:.1f}. Workflow wall time {wall / 60:.1f} min.",
        "",
        f"Data: {n_maps} real VLA FIRST cutouts (`{args.first_dir}`), labelled by island masks "
        "(3 sigma, peak >= 5 sigma) of the catalogued galaxy, class by island count. Objects "
        f"per split: {json.dumps(counts)}.",
        "",
        "| stage | wall s |",
        "|---|---|",
    ]
    for rule in ("ingest_map", "import_annotations", "build_cutouts", "train_diffusion",
                 "sample_diffusion", "diffusion_quality"):  # fmt: skip
        lines.append(f"| {rule} | {_rule_seconds(results, rule):.0f} |")
    lines += [
        "",
        f"Training: {train.get('steps', args.steps)} steps, "
        f"{train['s_per_step']:.2f} s/step (batch {train['batch_size']}, "
        f"{train['parameters'] / 1e6:.2f}M parameters, {train['windows']} windows), loss "
        f"{train['first_loss']:.3f} -> {train['final_loss_mean_last_10pct']:.3f} (mean of the "
        "last 10%).",
        "",
        "## Quality against the real galaxies (diffusion-quality)",
        "",
        (results / "diffusion" / "quality" / "quality.md").read_text().split("\n", 2)[2],
        "",
        "![samples](diffusion_first_samples.png)",
        "",
        "## Notes",
        "",
        *args.notes,
    ]
    (RESULTS / "diffusion_first.md").write_text("\n".join(lines) + "\n")
    shutil.copy(
        results / "diffusion" / "synthetic" / "diffusion" / "samples.png",
        RESULTS / "diffusion_first_samples.png",
    )
    print(f"wrote {RESULTS / 'diffusion_first.md'}; quality sets: {list(quality['sets'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--first-dir", type=Path, default=ROOT.parent / "shared" / "data" / "first_cutouts"
    )
    parser.add_argument("--results", default="results-first-diffusion")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--finder-cutouts-per-class", type=int, default=10)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--notes", nargs="*", default=[])
    args = parser.parse_args()
    files = sorted(args.first_dir.resolve().glob("*.fits"))
    if not files:
        raise SystemExit(f"{args.first_dir}: no FIRST cutouts (*.fits)")
    work = ROOT / args.results
    work.mkdir(parents=True, exist_ok=True)
    catalogue = work / "galaxies.csv"
    n = galaxy_catalogue(files, catalogue)
    config = work / "overlay.yaml"
    config.write_text(yaml.safe_dump(overlay(args, files, catalogue.resolve()), sort_keys=False))
    print(f"{n} FIRST cutouts; overlay {config}", flush=True)
    wall = run_workflow(args, config)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_report(args, n, wall)


if __name__ == "__main__":
    main()
