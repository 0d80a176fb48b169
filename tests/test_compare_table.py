"""`skysift compare-finders` from hand-written evaluate-detector outputs and run-time files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from skysift import cli

CLASSES = ["compact", "extended"]


@pytest.fixture(autouse=True)
def stages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage of this slice, whether or not cli.STAGES lists it yet."""
    monkeypatch.setitem(cli.STAGES, "compare-finders", ("skysift.compare_finders", "-"))


def row(name: str, c: float, r: float, n_true: int = 10, n_det: int = 8) -> dict[str, Any]:
    f1 = 2 * c * r / (c + r) if c + r else 0.0
    return {
        "class": name,
        "n_true": n_true,
        "n_found": round(c * n_true),
        "completeness": c,
        "n_det": n_det,
        "n_det_true": round(r * n_det),
        "reliability": r,
        "f1": f1,
        "f1_x100": 100 * f1,
    }


def metrics(
    rows: list[dict[str, Any]], *, match: str, multi: float, flagged: float | None
) -> dict[str, Any]:
    return {
        "config": {"match": match},
        "classes": CLASSES,
        "inputs": {"split": "test", "dataset": "d"},
        "n_truths_counted": 20,
        "per_class": rows,
        "multi_island": {"n": 4, "fraction_found_as_one": multi},
        "spurious": {"n": 3, "fraction_flagged": flagged},
        "coco": {"segm": {"map_50": 0.5, "per_class": {"compact": {"ap_50": 0.625}}}},
    }


def write_eval(path: Path, content: dict[str, Any]) -> Path:
    path.mkdir()
    (path / "metrics.json").write_text(json.dumps(content))
    return path


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    sky = write_eval(
        tmp_path / "skysift",
        metrics(
            [
                row("compact", 0.9, 0.8),
                row("extended", 0.5, 1.0),
                row("all (class-aware)", 0.7, 0.875),
                row("any class", 0.8, 0.9),
            ],
            match="mask",
            multi=0.75,
            flagged=2 / 3,
        ),
    )
    bdsf = write_eval(
        tmp_path / "pybdsf",
        metrics(
            [
                row("compact", 1.0, 0.5),
                row("extended", 0.0, 0.0) | {"f1": None, "f1_x100": None},  # NaN in JSON
                row("all (class-aware)", 0.5, 0.5),
                row("any class", 0.6, 0.6),
            ],
            match="position",
            multi=0.0,
            flagged=0.0,
        ),
    )
    runtime = [tmp_path / "rt1.json", tmp_path / "rt2.json"]
    runtime[0].write_text(json.dumps({"wall_s": 10.0, "cpu_s": 9.0, "peak_rss_mib": 200.0}))
    runtime[1].write_text(json.dumps({"wall_s": 5.5, "cpu_s": 5.0, "peak_rss_mib": 250.0}))
    bench = tmp_path / "predict.tsv"
    bench.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        "30.0\t0:00:30\t900.5\t1\t1\t1\t0\t0\t100\t50.0\n"
        "34.0\t0:00:34\t800.5\t1\t1\t1\t0\t0\t100\t54.0\n"
    )
    return {"skysift": sky, "pybdsf": bdsf, "rt1": runtime[0], "rt2": runtime[1], "bench": bench}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["compare-finders", "-q", *argv])
    return code, capsys.readouterr().err


def test_comparison_table(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, err = run(
        [
            *("--entry", "skysift", str(inputs["skysift"]), str(inputs["bench"])),
            *("--entry", "PyBDSF", str(inputs["pybdsf"]), str(inputs["rt1"]), str(inputs["rt2"])),
            *("--out", str(out)),
        ],
        capsys,
    )
    assert code == 0, err
    with (out / "comparison.csv").open() as handle:
        table = {(r["finder"], r["class"]): r for r in csv.DictReader(handle)}
    assert len(table) == 2 * 4
    sky, bdsf = table[("skysift", "compact")], table[("PyBDSF", "compact")]
    assert float(sky["f1_x100"]) == pytest.approx(100 * 2 * 0.72 / 1.7, rel=1e-5)
    assert float(sky["ap50_segm"]) == 0.625 and sky["match"] == "mask"
    assert float(table[("skysift", "all (class-aware)")]["ap50_segm"]) == 0.5
    assert table[("skysift", "any class")]["ap50_segm"] == ""
    # benchmark TSV repeats are averaged; runtime.json files (one per map) summed, peak max
    assert (float(sky["wall_s"]), float(sky["cpu_s"]), float(sky["peak_rss_mib"])) == (
        32.0,
        52.0,
        850.5,
    )
    assert (float(bdsf["wall_s"]), float(bdsf["cpu_s"]), float(bdsf["peak_rss_mib"])) == (
        15.5,
        14.0,
        250.0,
    )
    assert bdsf["match"] == "position" and float(bdsf["spurious_flagged"]) == 0.0
    assert float(bdsf["multi_island_found_as_one"]) == 0.0
    assert table[("PyBDSF", "extended")]["f1_x100"] == ""  # NaN stays empty
    md = (out / "comparison.md").read_text()
    assert "| class | N true | skysift C | skysift R | skysift F1 | PyBDSF C |" in md
    assert "| compact | 10 | 90.0 | 80.0 | 84.7 | 100.0 | 50.0 | 66.7 |" in md
    assert "| extended | 10 | 50.0 | 100.0 | 66.7 | 0.0 | 0.0 | - |" in md
    assert "| skysift | mask | 0.500 | 0.75 (N=4) | 0.67 (N=3) | 32.0 | 52.0 | 850 |" in md
    assert "| PyBDSF | position | 0.500 | 0.00 (N=4) | 0.00 (N=3) | 15.5 | 14.0 | 250 |" in md
    assert str(inputs["rt2"]) in md
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_comparison_errors_one_line_nothing_written(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    other = json.loads((inputs["pybdsf"] / "metrics.json").read_text())
    other["inputs"]["split"] = "val"
    val = write_eval(tmp_path / "val", other)
    bad_rt = tmp_path / "bad.json"
    bad_rt.write_text('{"seconds": 3}')
    sky = ["--entry", "skysift", str(inputs["skysift"])]
    cases = [
        ([*sky, "--entry", "x", str(val)], "differ in split ('val' vs 'test')"),
        ([*sky, "--entry", "skysift", str(inputs["pybdsf"])], "names ['skysift'] are used twice"),
        ([*sky, "--entry", "x", str(tmp_path)], "metrics.json not found"),
        ([*sky, "--entry", "x", str(inputs["pybdsf"]), str(bad_rt)], "no 'wall_s' key"),
        ([*sky, "--entry", "x", str(inputs["pybdsf"]), str(tmp_path / "no.tsv")], "not found"),
        ([*sky, "--entry", "lonely"], "expected NAME EVAL_DIR"),
        ([], "give at least one --entry"),
    ]
    for argv, message in cases:
        code, err = run([*argv, "--out", str(out)], capsys)
        assert code == 1 and err.count("\n") == 1 and message in err, (message, err)
        assert not out.exists() and not list(tmp_path.glob(".out.tmp*"))
    out.mkdir()
    assert "already exists" in run([*sky, "--out", str(out)], capsys)[1]
    assert run([*sky, "--out", str(out), "--overwrite", "--no-figure"], capsys)[0] == 0
    assert (out / "comparison.md").is_file() and not (out / "comparison.png").exists()
