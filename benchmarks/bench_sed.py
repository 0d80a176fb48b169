"""Benchmark of the synthetic SEDs: SEDs per second on one core, and the cost of writing them.

Run: ``python benchmarks/bench_sed.py [--n 100000] [--seed 1] [--write]``. Prints the numbers
and writes ``benchmarks/results/sed.md`` (wall times, SEDs/s, peak memory, machine, settings).
BLAS is limited to one thread (threadpoolctl, when installed). Needs the ck04 grid
(../shared/data/ck04 or `skysift fetch-data ck04`). Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from skysift.io.catalogue import write_table
from skysift.sed.config import SedConfig
from skysift.sed.grid import load_grid
from skysift.sed.synth import synthesize

RESULTS = Path(__file__).resolve().parent / "results"


@contextlib.contextmanager
def one_thread() -> Iterator[str]:
    """Limit BLAS/OpenMP pools to one thread where threadpoolctl is available."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield "BLAS threads not limited (threadpoolctl absent)"
        return
    with threadpool_limits(limits=1):
        yield "BLAS limited to 1 thread (threadpoolctl)"


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
    """Time grid loading, synthesis and (optionally) writing the FITS + CSV tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="number of SEDs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--grid", help="ck04_subset.npz or folder (default search)")
    parser.add_argument("--write", action="store_true", help="also time writing FITS + CSV")
    args = parser.parse_args()
    config = SedConfig(n_seds=args.n, grid_path=args.grid)
    with one_thread() as threads:
        start = time.perf_counter()
        grid = load_grid(config.grid_path)
        t_grid = time.perf_counter() - start
        start = time.perf_counter()
        sedset = synthesize(grid, config, seed=args.seed)
        t_synth = time.perf_counter() - start
        t_write = float("nan")
        if args.write:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                write_table(sedset.table, Path(tmp) / "seds.fits", Path(tmp) / "seds.csv")
                t_write = time.perf_counter() - start
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    table = sedset.table
    n_band = len(sedset.passbands.names)
    lines = [
        "# Synthetic SED benchmark",
        "",
        f"- {args.n} SEDs x {n_band} bands, seed {args.seed}, chunk {config.chunk_size}; "
        f"{int(np.sum(table['has_dust']))} with dust, "
        f"{int(np.sum(table['model_source'] == 'cool_extension'))} cool-extension",
        f"- grid load + log-log resampling ({grid.wavelength.size} wavelengths): {t_grid:.2f} s",
        f"- synthesize (draw, interpolate, shell, extinction, bands, noise, table): "
        f"{t_synth:.2f} s = {args.n / t_synth:.0f} SEDs/s",
        f"- writing FITS + CSV: {t_write:.2f} s" if args.write else "- writing: not timed",
        f"- peak RSS of the process (ru_maxrss): {rss_mib:.0f} MiB",
        f"- machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, {platform.platform()}; "
        f"{threads}",
        f"- Python {platform.python_version()}, numpy {np.__version__}",
        f"- skysift revision: {_git_revision()}",
        "",
        "Settings: the `sed` defaults (14 bands: Gaia DR2, 2MASS, WISE, IRAC) with n_seds changed.",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sed.md").write_text(text)


if __name__ == "__main__":
    main()
