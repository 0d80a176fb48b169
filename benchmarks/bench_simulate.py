"""Benchmark of the sky simulator: a 4096 x 4096 map with the demo's source density.

Run: ``python benchmarks/bench_simulate.py [--size 4096] [--seed 1]``. Prints the numbers and
writes ``benchmarks/results/simulate.md`` (wall time, Mpix/s, peak memory, machine, settings).
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy

from skysift.simulate_sky import write_outputs
from skysift.sky.config import SimulationConfig
from skysift.sky.simulate import simulate_sky

RESULTS = Path(__file__).resolve().parent / "results"


def benchmark_config(size: int) -> SimulationConfig:
    """The demo settings on a ``size`` x ``size`` map, counts scaled to keep the source density."""
    demo = SimulationConfig()
    scale = size * size / (demo.geometry.nx * demo.geometry.ny)
    settings = demo.model_dump()
    settings["geometry"].update(nx=size, ny=size)
    for name in ("compact", "extended", "extended_multi", "diffuse", "spurious"):
        settings[name]["count"] = round(settings[name]["count"] * scale)
    return SimulationConfig.model_validate(settings)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no commit)"


def main() -> None:
    """Time simulate_sky (and the file writing) and measure peak memory."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096, help="map side in pixels")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    config = benchmark_config(args.size)
    mpix = args.size * args.size / 1e6

    start = time.perf_counter()
    sky = simulate_sky(config, seed=args.seed, name="bench")
    t_sim = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_outputs(sky, Path(tmp))
        t_write = time.perf_counter() - start
    n_objects = len(sky.truth)
    counts = {c: int(np.sum(sky.truth["class"] == c)) for c in dict.fromkeys(sky.truth["class"])}
    detectable = int(np.sum(sky.truth["snr"] >= 5.0))
    del sky
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    tracemalloc.start()
    simulate_sky(config, seed=args.seed, name="bench")
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    lines = [
        "# Sky simulator benchmark",
        "",
        f"- map: {args.size} x {args.size} pixels ({mpix:.1f} Mpix), seed {args.seed}",
        f"- objects: {n_objects} ({', '.join(f'{k} {v}' for k, v in counts.items())}); "
        f"{detectable} with peak S/N >= 5",
        f"- simulate_sky wall time: {t_sim:.2f} s = {mpix / t_sim:.2f} Mpix/s",
        f"- writing map, segmentation, rms, truth and quick-look: {t_write:.2f} s",
        f"- total: {t_sim + t_write:.2f} s = {mpix / (t_sim + t_write):.2f} Mpix/s",
        f"- peak RSS of the process (ru_maxrss, includes writing): {rss_mib:.0f} MiB",
        f"- peak traced allocations of simulate_sky (tracemalloc): {traced_peak / 2**20:.0f} MiB",
        f"- machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, {platform.platform()}",
        f"- Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__};"
        " FFT with 1 worker (single core)",
        f"- skysift revision: {_git_revision()}",
        "",
        "Settings: the demo defaults (config/config.yaml `simulate`) with counts scaled by area.",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "simulate.md").write_text(text)


if __name__ == "__main__":
    main()
