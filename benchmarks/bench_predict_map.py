"""Benchmark of whole-map prediction beside PyBDSF and Aegean on one large simulated map.

Run: ``python benchmarks/bench_predict_map.py [--size 8192] [--ranks 1 2] [--model PATH]``
(``make bench`` runs it with the demo model, ``results/detector/model.pt`` of ``make demo``).

1. Simulates a ``size`` x ``size`` map with the demo's source density (``skysift simulate-sky``
   with the demo settings of ``--config``, counts scaled by area): map, truth, segmentation, rms.
2. Runs ``predict_map`` with the ``predict`` settings of ``--config`` (the demo's tiles,
   overlap, batch), serially and under ``mpiexec -n N`` (1 torch thread per rank): wall time,
   throughput (Mpix/s), peak RSS per rank, parallel efficiency ``T1 / (N TN)``, and whether
   the catalogues of all rank counts are byte-identical. Then one extra 1-rank run per ``--fast``
   case, predict settings that replace the config's (default: a 32-px overlap; ``--fast`` alone:
   none). The precision stays the config's ``auto``: emulated bfloat16 is slow on CPUs without
   native support.
3. Runs ``skysift run-baseline pybdsf`` and ``aegean`` (``--baselines``: a choice of them) on the
   same map with ``--baseline-cores`` cores (their own wall time, CPU time and peak RSS from
   ``runtime.json``).
4. Scores every finder with the one matcher exactly as the workflow does: ``build-cutouts`` of
   the map (sky-region split of the demo config), ``catalogue-to-coco`` of each catalogue on the
   test cutouts, ``evaluate-detector`` (skysift by mask IoU; baselines by position, their
   favourable mode): completeness and reliability per class.
5. A cProfile of a serial run on a ``--profile-size`` map (where time goes).

Writes ``benchmarks/results/predict_map.md``, rewritten after every step (marked partial until
the end), so a run that is stopped keeps what it measured. Not a test: timings depend on the
machine and on other load on it (the 1-minute load average before each run is reported).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skysift.predict.config import PredictConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEMO_MODEL = ROOT / "results" / "detector" / "model.pt"
SKYSIFT = str(Path(sys.executable).with_name("skysift"))
BASELINE_LABELS = {"pybdsf": "PyBDSF", "aegean": "BANE + Aegean"}
CLASSES = ("compact", "extended", "extended-multi", "diffuse", "spurious")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def stage(*args: str) -> float:
    """Run ``skysift <args>`` quietly; return its wall time in seconds (error: its stderr)."""
    start = time.perf_counter()
    result = subprocess.run([SKYSIFT, *args, "-q"], capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        raise SystemExit(f"skysift {args[0]} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def simulation_settings(config: Path, size: int) -> dict[str, Any]:
    """The demo's ``simulate`` section for a ``size``^2 map: counts scaled by area."""
    from skysift.config import load_config

    demo = load_config(config).simulate
    scale = size * size / (demo.geometry.nx * demo.geometry.ny)
    settings = demo.model_dump(mode="json")
    settings["geometry"].update(nx=size, ny=size)
    for name in ("compact", "extended", "extended_multi", "diffuse", "spurious"):
        settings[name]["count"] = max(1, round(settings[name]["count"] * scale))
    return settings


def timed_config(settings: dict[str, Any]) -> PredictConfig:
    """Predict settings of a timed run: ``settings`` without the quick-look PNG (not timed)."""
    from skysift.predict.config import PredictConfig

    return PredictConfig.model_validate({**settings, "write_png": False})


def worker(map_path: str, out: str, model: str, report: str, settings: str) -> None:
    """One rank of a run (called under mpiexec or alone): predict, gather per-rank numbers."""
    import torch

    from skysift.predict.pipeline import load_predictor, predict_map
    from skysift.predict.sharding import abort_on_error, rank_of, world_comm

    comm = world_comm()
    torch.set_num_threads(1)
    config = timed_config(json.loads(settings))
    with abort_on_error(comm):
        predictor = load_predictor(model, config)
        start = time.perf_counter()
        summary = predict_map(map_path, out, predictor=predictor, config=config, comm=comm,
                              progress=False)  # fmt: skip
        wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # MiB (Linux: KiB)
    peaks = comm.gather(peak, root=0) if comm is not None else [peak]
    if rank_of(comm) == 0:
        assert summary is not None
        summary.update(wall_s=wall, peak_rss_mib=peaks)
        Path(report).write_text(json.dumps(summary, indent=1))


def run_ranks(
    ranks: int, map_path: Path, out: Path, model: Path, report: Path, settings: dict[str, Any]
) -> dict[str, Any]:
    """One predict-map case as a subprocess; its summary with the process wall time."""
    worker_args = [sys.executable, __file__, "--worker", str(map_path), str(out), str(model),
                   str(report), json.dumps(settings)]  # fmt: skip
    mpiexec = Path(sys.executable).parent / "mpiexec"
    command = worker_args if ranks == 1 else [str(mpiexec), "-n", str(ranks), *worker_args]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=ENV)
    result: dict[str, Any] = json.loads(report.read_text())
    result["process_wall_s"] = time.perf_counter() - start
    result["load_before"] = load
    return result


def run_baseline(finder: str, map_path: Path, out: Path, cores: int) -> dict[str, Any]:
    """A baseline finder on the map; its runtime.json with the load before the run."""
    settings = {"pybdsf": {"ncores": cores}, "aegean": {"cores": cores}}
    load = os.getloadavg()[0]
    stage("run-baseline", finder, str(map_path), "--out", str(out), "--settings",
          json.dumps(settings))  # fmt: skip
    runtime: dict[str, Any] = json.loads((out / "runtime.json").read_text())
    runtime["load_before"] = load
    return runtime


def score(
    folder: Path, config: Path, sky: Path, finders: dict[str, tuple[Path, str, str]]
) -> dict[str, dict[str, Any]]:
    """Completeness/reliability of each finder on the test cutouts of the map (one matcher)."""
    cutouts = folder / "cutouts"
    stage("build-cutouts", "--map", str(sky / "map.fits"), "--segmentation",
          str(sky / "segmentation.fits"), "--truth", str(sky / "truth.fits"), "--out",
          str(cutouts), "--settings", str(config), "--classes", *CLASSES)  # fmt: skip
    metrics = {}
    for name, (finder_dir, score_column, match) in finders.items():
        coco = folder / f"{name}_test.json"
        stage("catalogue-to-coco", "--dataset", str(cutouts), "--split", "test", "--map-name",
              "map", "--catalogue", str(finder_dir / "catalogue.fits"), "--segmentation",
              str(finder_dir / "segmentation.fits"), "--score-column", score_column, "--out",
              str(coco))  # fmt: skip
        evaluation = folder / f"eval_{name}"
        # every entry counts, as in the workflow: each finder has cut its own catalogue
        # (skysift at the model's per-class thresholds; 0.5 for models without them)
        stage("evaluate-detector", "--dataset", str(cutouts), "--split", "test",
              "--predictions", str(coco), "--match", match, "--settings", str(config),
              "--score-threshold", "0", "--no-figures", "--out", str(evaluation))  # fmt: skip
        metrics[name] = json.loads((evaluation / "metrics.json").read_text())
    return metrics


def predict_settings(config: Path) -> dict[str, Any]:
    """The ``predict`` section of ``config`` (what the workflow's predict-map rule uses)."""
    from skysift.config import load_config

    settings: dict[str, Any] = load_config(config).predict.model_dump(mode="json")
    return settings


def profile(map_path: Path, model: Path, out: Path, settings: dict[str, Any], top: int = 15) -> str:
    """cProfile of a serial run (1 thread); the top entries by internal time."""
    import torch

    from skysift.predict.pipeline import load_predictor, predict_map

    torch.set_num_threads(1)
    config = timed_config(settings)
    predictor = load_predictor(model, config)
    profiler = cProfile.Profile()
    profiler.enable()
    predict_map(map_path, out, predictor=predictor, config=config, progress=False)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    return stream.getvalue()


def machine() -> str:
    """One line describing the machine."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def git_revision() -> str:
    """Short git revision of the checkout (or a note)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True, cwd=ROOT)  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192, help="map side, pixels")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", type=Path, default=DEMO_MODEL)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--baseline-cores", type=int, default=1)
    parser.add_argument("--no-baselines", action="store_true", help="skysift only")
    parser.add_argument(
        "--baselines",
        nargs="+",
        choices=sorted(BASELINE_LABELS),
        default=list(BASELINE_LABELS),
        help="which baseline finders to run (default: both)",
    )
    parser.add_argument("--profile-size", type=int, default=1024, help="0 = no profile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "predict_map.md")
    parser.add_argument(
        "--fast",
        nargs="*",
        default=['{"overlap_pix": 32}'],
        help="extra 1-rank cases: predict settings that replace the config's, one JSON each "
        "(none: no extra case)",
    )
    parser.add_argument("--worker", nargs=5, metavar=("MAP", "OUT", "MODEL", "REPORT", "JSON"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    if not args.model.is_file():
        raise SystemExit(f"{args.model}: no model; run `make demo` first or give --model")
    # Both maps' settings are read now: the config file may change during the long run.
    settings = json.dumps(simulation_settings(args.config, args.size))
    predict = predict_settings(args.config)
    small_settings = json.dumps(simulation_settings(args.config, args.profile_size or 64))
    with tempfile.TemporaryDirectory(prefix="bench_predict_map_") as tmp:
        folder = Path(tmp)
        sky = folder / "sky"
        sim_s = stage("simulate-sky", "--settings", settings, "--seed", str(args.seed),
                      "--name", "map", "--out", str(sky))  # fmt: skip
        print(f"simulated {args.size}^2 map in {sim_s:.1f} s", flush=True)
        runs: dict[int, dict[str, Any]] = {}
        fast: list[dict[str, Any]] = []
        baselines: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        names = ("catalogue.fits", "catalogue.csv", "segmentation.fits")
        first = folder / f"out{args.ranks[0]}"
        same = True  # outputs of every rank count so far byte-identical to the first's

        def partial(step: str) -> None:
            write_report(args, runs, fast, same, baselines, failures, {}, "", sim_s,
                         partial=step, quiet=True)  # fmt: skip

        for n in args.ranks:
            runs[n] = run_ranks(n, sky / "map.fits", folder / f"out{n}", args.model,
                                folder / f"r{n}.json", predict)  # fmt: skip
            print(f"skysift, {n} rank(s): {runs[n]['wall_s']:.1f} s", flush=True)
            same = same and all(
                (folder / f"out{n}" / name).read_bytes() == (first / name).read_bytes()
                for name in names
            )
            partial(f"skysift at {n} rank(s) done")
        for i, case in enumerate(args.fast):
            case_settings = {**predict, **json.loads(case)}
            fast.append(run_ranks(1, sky / "map.fits", folder / f"fast{i}", args.model,
                                  folder / f"fast{i}.json", case_settings))  # fmt: skip
            print(f"skysift {case}, 1 rank: {fast[-1]['wall_s']:.1f} s", flush=True)
            partial(f"skysift {case} done")
        finders = {"skysift": (first, "score", "mask")}
        for i in range(len(fast)):
            finders[f"skysift_fast{i}"] = (folder / f"fast{i}", "score", "mask")
        if not args.no_baselines:
            for finder in args.baselines:
                out = folder / finder
                try:
                    baselines[finder] = run_baseline(finder, sky / "map.fits", out,
                                                     args.baseline_cores)  # fmt: skip
                except SystemExit as failure:  # reported in the table, the others still run
                    failures[finder] = str(failure).strip().splitlines()[-1]
                    print(f"{finder} failed: {failures[finder]}", flush=True)
                    continue
                print(f"{finder}: {baselines[finder]['wall_s']:.1f} s", flush=True)
                finders[finder] = (out, "snr", "position")
                partial(f"{finder} done")
        metrics = score(folder, args.config, sky, finders)
        write_report(args, runs, fast, same, baselines, failures, metrics, "", sim_s,
                     partial="scored; profile next", quiet=True)  # fmt: skip
        profile_text = ""
        if args.profile_size:
            small = folder / "small"
            stage("simulate-sky", "--settings", small_settings, "--seed",
                  str(args.seed), "--name", "small", "--out", str(small))  # fmt: skip
            profile_text = profile(small / "map.fits", args.model, folder / "profile_out",
                                   predict)  # fmt: skip
        shutil.rmtree(folder / "cutouts", ignore_errors=True)
    write_report(args, runs, fast, same, baselines, failures, metrics, profile_text, sim_s)


def _class_cells(metrics: dict[str, Any]) -> list[str]:
    """``completeness / reliability`` per class and for all classes (x 100)."""
    per_class = {row["class"]: row for row in metrics["per_class"]}
    cells = []
    for name in (*CLASSES, "any class"):
        row = per_class.get(name)
        if row is None or not row.get("n_true"):
            cells.append("-")
            continue
        rel = row.get("reliability")
        rel_text = "-" if rel is None else f"{100 * rel:.0f}"
        cells.append(f"{100 * row['completeness']:.0f} / {rel_text} (n={row['n_true']})")
    return cells


def write_report(
    args: argparse.Namespace,
    runs: dict[int, dict[str, Any]],
    fast: list[dict[str, Any]],
    identical: bool,
    baselines: dict[str, dict[str, Any]],
    failures: dict[str, str],
    metrics: dict[str, dict[str, Any]],
    profile_text: str,
    sim_s: float,
    *,
    partial: str | None = None,
    quiet: bool = False,
) -> None:
    """Markdown tables + profile into ``args.out`` (``partial``: the last step of a running one)."""
    mpix = args.size * args.size / 1e6
    base = runs[min(runs)]
    t1 = base["wall_s"] * min(runs)
    lines = [
        f"# predict-map benchmark: {args.size} x {args.size} simulated map",
        "",
        f"Machine: {machine()}; git {git_revision()}; model `{args.model.name}` "
        f"(tile {base['tile_size_pix']} px, overlap {base['settings']['overlap_pix']} px, "
        f"batch {base['settings']['batch_size']}); 1 torch thread per rank, CPU. "
        f"Map simulated in {sim_s:.0f} s (seed {args.seed}, demo density): {base['tiles']} tiles, "
        f"{base['objects']} objects found ({base['per_class']}).",
        "",
        *(
            [f"**Partial report: the run was still going (last step: {partial}).**", ""]
            if partial
            else []
        ),
        "## skysift predict-map",
        "",
        "| ranks | wall s | Mpix/s | Mpix/s per rank | peak RSS per rank (MiB) | "
        "parallel efficiency | detect s | merge s | write s | load before |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, r in sorted(runs.items()):
        wall = r["wall_s"]
        peaks = ", ".join(f"{p:.0f}" for p in r["peak_rss_mib"])
        lines.append(
            f"| {n} | {wall:.1f} | {mpix / wall:.3f} | {mpix / wall / n:.3f} | {peaks} | "
            f"{t1 / (n * wall):.0%} | {r['detect_s']:.1f} | {r['merge_s']:.2f} | "
            f"{r['write_s']:.1f} | {r['load_before']:.1f} |"
        )
    lines += [
        "",
        f"Catalogue, CSV and segmentation byte-identical across rank counts: {identical}.",
        "",
    ]
    if metrics:
        lines += [
            "## Beside PyBDSF and Aegean (same map; completeness / reliability x 100 on the "
            "test cutouts, one matcher)",
            "",
            "| finder | cores | wall s | Mpix/s per core | peak RSS (MiB) | "
            + " | ".join(CLASSES)
            + " | all |",
            "|---|---|---|---|---|" + "---|" * (len(CLASSES) + 1),
        ]
        for name, m in metrics.items():
            if name == "skysift":
                n = min(runs)
                wall, cores, peak = runs[n]["wall_s"], n, max(runs[n]["peak_rss_mib"])
                label = "skysift (mask IoU)"
            elif name.startswith("skysift_fast"):
                case = int(name.removeprefix("skysift_fast"))
                run = fast[case]
                wall, cores, peak = run["wall_s"], 1, max(run["peak_rss_mib"])
                label = f"skysift `{args.fast[case]}` (mask IoU)"
            else:
                r = baselines[name]
                wall, cores, peak = r["wall_s"], args.baseline_cores, r.get("peak_rss_mib", 0)
                label = f"{BASELINE_LABELS[name]} (position)"
            lines.append(
                f"| {label} | {cores} | {wall:.1f} | {mpix / wall / cores:.3f} | "
                f"{peak:.0f} | " + " | ".join(_class_cells(m)) + " |"
            )
        for name, message in failures.items():
            lines.append(f"| {BASELINE_LABELS[name]} | {args.baseline_cores} | failed: {message} |")
        multi = {n: m.get("multi_island", {}) for n, m in metrics.items()}
        lines += [
            "",
            "extended-multi found as one object (all islands in one detection): "
            + ", ".join(
                f"{n} {v.get('found_as_one', 0)}/{v.get('n', 0)}"
                if isinstance(v, dict)
                else f"{n} -"
                for n, v in multi.items()
            ),
            "",
        ]
    elif baselines or failures:
        lines += ["## Baselines (not yet scored)", "",
                  "| finder | cores | wall s | peak RSS (MiB) |", "|---|---|---|---|"]  # fmt: skip
        for name, r in baselines.items():
            lines.append(f"| {BASELINE_LABELS[name]} | {args.baseline_cores} | "
                         f"{r['wall_s']:.1f} | {r.get('peak_rss_mib', 0):.0f} |")  # fmt: skip
        for name, message in failures.items():
            lines.append(f"| {BASELINE_LABELS[name]} | {args.baseline_cores} | failed: {message} |")
        lines.append("")
    if profile_text:
        lines += [
            f"## Where time goes (cProfile, serial, {args.profile_size}^2 map, by internal time)",
            "",
            "```",
            profile_text.strip(),
            "```",
            "",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    if not quiet:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
