"""Summarize a workflow run's time per rule from Snakemake's benchmark files.

Reads:
  BENCHMARKS      the run's benchmark folder (results/benchmarks): one TSV per job, written by the
                  `benchmark:` directive of every rule (wall s, CPU s, peak RSS MiB)

Writes:
  --out DIR       runtimes.csv and runtimes.md: per rule the number of jobs, summed and longest
                  wall time, summed CPU time and largest peak RSS; the table is also logged
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift summarize-runtimes``."""
    parser.add_argument("benchmarks", type=Path, help="benchmark folder of a workflow run")
    parser.add_argument("--out", required=True, type=Path, help="output folder")


def main(args: argparse.Namespace) -> None:
    """Read the benchmark files, write and log the table."""
    from skysift.report.runtimes import markdown, summarize_runtimes, write_runtime_summary

    rows = summarize_runtimes(args.benchmarks)
    write_runtime_summary(rows, args.out / "runtimes.csv", args.out / "runtimes.md")
    log.info("run time per rule (%s):\n%s", args.benchmarks, markdown(rows))


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.summarize_runtimes")
