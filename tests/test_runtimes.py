"""summarize-runtimes: per-rule sums of Snakemake benchmark files, bad input in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from skysift import cli
from skysift.report.runtimes import summarize_runtimes

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _tsv(path: Path, *rows: tuple[float, float, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{s}\t0:00:00\t{rss}\t0\t0\t0\t0\t0\t0\t{cpu}\n" for s, rss, cpu in rows)
    path.write_text(HEADER + body)


def test_rules_are_summed_over_their_jobs(tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    _tsv(bench / "simulate_sky" / "sim000.tsv", (3.0, 100.0, 2.5))
    _tsv(bench / "simulate_sky" / "sim001.tsv", (5.0, 120.0, 4.5))
    _tsv(bench / "run_baseline" / "pybdsf" / "sim000.tsv", (10.0, 250.0, 8.0))
    _tsv(bench / "build_cutouts.tsv", (2.0, 80.0, 1.0), (4.0, 90.0, 3.0))  # two repeats: mean
    rows = {r.rule: r for r in summarize_runtimes(bench)}
    assert set(rows) == {"simulate_sky", "run_baseline", "build_cutouts"}
    sim = rows["simulate_sky"]
    assert (sim.jobs, sim.wall_s, sim.max_wall_s, sim.cpu_s, sim.max_rss_mib) == (
        2,
        8.0,
        5.0,
        7.0,
        120.0,
    )
    assert rows["build_cutouts"].wall_s == pytest.approx(3.0)
    assert summarize_runtimes(bench)[0].rule == "run_baseline"  # longest first


def test_stage_writes_tables_and_refuses_an_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "benchmarks"
    _tsv(bench / "train_detector.tsv", (700.0, 2000.0, 650.0))
    assert cli.main(["summarize-runtimes", str(bench), "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "runtimes.md").read_text()
    assert "| train_detector | 1 | 700.0 | 700.0 | 650.0 | 2000 |" in md
    assert (tmp_path / "out" / "runtimes.csv").read_text().startswith("rule,jobs,wall_s")
    (tmp_path / "empty").mkdir()
    code = cli.main(["summarize-runtimes", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "no benchmark files" in err[0]
