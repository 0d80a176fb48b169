"""Run time of every rule of a workflow run, from Snakemake's benchmark files.

Snakemake's ``benchmark:`` directive writes one TSV per job (columns ``s``, ``max_rss`` in MiB,
``cpu_time`` in s, ...). The rule is the first path component below the benchmarks folder
(``benchmarks/<rule>.tsv`` or ``benchmarks/<rule>/<job...>.tsv``). The summary has one row per
rule: jobs, summed and largest wall time, summed CPU time, largest peak RSS; the total wall time
of all jobs is above the workflow's wall time when jobs ran in parallel.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path


@dataclass(frozen=True)
class RuleRuntime:
    """Run time of one rule's jobs (seconds, MiB)."""

    rule: str
    jobs: int
    wall_s: float
    max_wall_s: float
    cpu_s: float
    max_rss_mib: float


def _number(row: dict[str, str], key: str) -> float:
    value = row.get(key, "")
    try:
        return float(value)
    except ValueError:
        return 0.0  # Snakemake writes "NA" where it could not measure


def read_benchmark(path: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one benchmark TSV; the mean over its repeats."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise InputFileError(path, "not a Snakemake benchmark file (no 's' column)")
    n = len(rows)
    wall = sum(_number(r, "s") for r in rows) / n
    cpu = sum(_number(r, "cpu_time") for r in rows) / n
    rss = max(_number(r, "max_rss") for r in rows)
    return wall, cpu, rss


def summarize_runtimes(folder: str | Path) -> list[RuleRuntime]:
    """One :class:`RuleRuntime` per rule found under ``folder``, largest total wall time first.

    Raises
    ------
    InputFileError
        No benchmark files under ``folder``.
    """
    folder = Path(folder)
    files = sorted(folder.rglob("*.tsv"))
    if not files:
        raise InputFileError(folder, "no benchmark files (*.tsv); run the workflow first")
    per_rule: dict[str, list[tuple[float, float, float]]] = {}
    for path in files:
        rule = path.relative_to(folder).parts[0].removesuffix(".tsv")
        per_rule.setdefault(rule, []).append(read_benchmark(path))
    rows = [
        RuleRuntime(
            rule=rule,
            jobs=len(values),
            wall_s=sum(v[0] for v in values),
            max_wall_s=max(v[0] for v in values),
            cpu_s=sum(v[1] for v in values),
            max_rss_mib=max(v[2] for v in values),
        )
        for rule, values in per_rule.items()
    ]
    return sorted(rows, key=lambda r: (-r.wall_s, r.rule))


def markdown(rows: Sequence[RuleRuntime]) -> str:
    """The summary as a Markdown table with a total row."""
    lines = [
        "| rule | jobs | wall s (sum) | wall s (longest job) | CPU s (sum) | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.rule} | {r.jobs} | {r.wall_s:.1f} | {r.max_wall_s:.1f} | {r.cpu_s:.1f} | "
            f"{r.max_rss_mib:.0f} |"
        )
    total_wall = sum(r.wall_s for r in rows)
    total_cpu = sum(r.cpu_s for r in rows)
    jobs = sum(r.jobs for r in rows)
    lines.append(f"| **all** | {jobs} | {total_wall:.1f} | | {total_cpu:.1f} | |")
    return "\n".join(lines) + "\n"


def write_runtime_summary(rows: Sequence[RuleRuntime], csv_path: Path, md_path: Path) -> None:
    """Write the summary as CSV and Markdown (atomically)."""
    with atomic_path(csv_path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rule", "jobs", "wall_s", "max_wall_s", "cpu_s", "max_rss_mib"])
        for r in rows:
            writer.writerow(
                [r.rule, r.jobs, f"{r.wall_s:.2f}", f"{r.max_wall_s:.2f}", f"{r.cpu_s:.2f}",
                 f"{r.max_rss_mib:.1f}"]
            )  # fmt: skip
    with atomic_path(md_path) as tmp:
        tmp.write_text("# Rule run times\n\n" + markdown(rows))
