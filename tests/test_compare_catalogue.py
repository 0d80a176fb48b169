"""`skysift catalogue-to-coco` on a tiny simulated dataset, with the truth itself as the
"finder": its results must reproduce the split's annotations exactly and score perfectly."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from skysift import cli
from skysift.data.coco import decode_mask
from skysift.errors import ConfigError
from skysift.evaluate.catalogue_to_coco import catalogue_results, rank_scores
from skysift.io.catalogue import read_truth, write_table

SPLIT = "val"  # the tiny dataset's richest split (compact, extended-multi, spurious)


@pytest.fixture(autouse=True)
def stages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stages of this slice, whether or not cli.STAGES lists them yet."""
    monkeypatch.setitem(cli.STAGES, "catalogue-to-coco", ("skysift.catalogue_to_coco", "-"))


@pytest.fixture(scope="module")
def sky(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> dict[str, Path]:
    """One 256x256 simulated map cut into 64 px cutouts, and the truth as a finder output.

    The "finder" keeps the truth rows the dataset annotates (peak S/N >= the dataset's cut,
    diffuse always) and zeroes the other ids in the segmentation.
    """
    base = tmp_path_factory.mktemp("compare_catalogue")
    settings = str(repo_root / "tests" / "workflow" / "config.yaml")
    sky = base / "sky"
    argv = ["simulate-sky", "-q", "--settings", settings, "--seed", "7", "--name", "sim000"]
    assert cli.main([*argv, "--out", str(sky)]) == 0
    out = base / "cutouts"
    files = ["--map", str(sky / "map.fits"), "--segmentation", str(sky / "segmentation.fits")]
    argv = ["build-cutouts", "-q", *files, "--truth", str(sky / "truth.fits")]
    assert cli.main([*argv, "--settings", settings, "--out", str(out)]) == 0
    config = json.loads((out / "dataset.json").read_text())["config"]
    truth = read_truth(sky / "truth.fits")
    cut = np.array(
        [config["min_snr_by_class"].get(str(c), config["min_snr"]) for c in truth["class"]]
    )
    kept = truth[~(np.asarray(truth["snr"], dtype=float) < cut)]
    finder = base / "finder"
    finder.mkdir()
    write_table(kept, finder / "catalogue.fits", finder / "catalogue.csv")
    seg = fits.getdata(sky / "segmentation.fits").astype(np.int32)
    seg[~np.isin(seg, np.asarray(kept["id"]))] = 0
    fits.writeto(finder / "segmentation.fits", seg)
    return {"dataset": out, "finder": finder, "sky": sky, "base": base}


def convert(
    sky: dict[str, Path],
    out: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    catalogue: Path | None = None,
    segmentation: Path | None = None,
    name: str = "sim000",
) -> tuple[int, str]:
    argv = ["catalogue-to-coco", "-q", "--dataset", str(sky["dataset"]), "--split", SPLIT]
    argv += ["--map-name", name, "--catalogue", str(catalogue or sky["finder"] / "catalogue.fits")]
    argv += ["--segmentation", str(segmentation or sky["finder"] / "segmentation.fits")]
    code = cli.main([*argv, "--out", str(out), *extra])
    return code, capsys.readouterr().err


def evaluate(
    sky: dict[str, Path], preds: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> dict[str, Any]:
    argv = ["evaluate-detector", "-q", "--dataset", str(sky["dataset"]), "--split", SPLIT]
    code = cli.main([*argv, "--predictions", str(preds), "--out", str(out), "--no-figures", *extra])
    assert code == 0, capsys.readouterr().err
    return dict(json.loads((out / "metrics.json").read_text()))


def rows(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["class"]: r for r in metrics["per_class"]}


def test_truth_as_finder_reproduces_annotations(
    sky: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preds_path = tmp_path / "truth.json"
    code, err = convert(sky, preds_path, capsys)
    assert code == 0, err
    preds = json.loads(preds_path.read_text())
    gt = json.loads((sky["dataset"] / "annotations" / f"{SPLIT}.json").read_text())
    key = {(p["image_id"], p["object_id"]): p for p in preds}
    assert len(preds) == len(gt["annotations"]) == len(key) > 10
    for ann in gt["annotations"]:
        pred = key[(ann["image_id"], ann["object_id"])]
        assert pred["segmentation"] == ann["segmentation"]
        assert pred["bbox"] == ann["bbox"] and pred["category_id"] == ann["category_id"]
        assert pred["x"] == pytest.approx(ann["x"]) and pred["y"] == pytest.approx(ann["y"])
        assert pred["int_flux"] == pytest.approx(ann["int_flux"])
        assert pred["truncated"] == ann["truncated"] and pred["score"] == 1.0
    assert any(p["truncated"] for p in preds)  # the split cuts some objects

    metrics = evaluate(sky, preds_path, tmp_path / "mask", capsys)
    by = rows(metrics)
    assert by["any class"]["completeness"] == 1.0 and by["any class"]["reliability"] == 1.0
    assert by["all (class-aware)"]["f1"] == 1.0 and by["all (class-aware)"]["n_true"] >= 8
    assert metrics["coco"]["segm"]["map_50"] == pytest.approx(1.0)
    assert metrics["multi_island"]["fraction_found_as_one"] == 1.0
    assert metrics["spurious"]["fraction_flagged"] == 1.0
    # the finder's own catalogue flux and position are used: exact for the truth
    assert len(metrics["compact_sources"]) >= 3
    for source in metrics["compact_sources"]:  # truncated ones too: catalogue values are whole
        assert source["flux_ratio"] == pytest.approx(1.0)
        assert source["offset_pix"] == pytest.approx(0.0, abs=1e-9)

    metrics = evaluate(sky, preds_path, tmp_path / "position", capsys, "--match", "position")
    by = rows(metrics)
    assert metrics["config"]["match"] == "position"
    # Position matching finds exactly the counted objects whose catalogue position lies in
    # their own mask (or, outside the cutout, whose visible part's centroid does); a radio
    # galaxy's centre between its lobes, or a faint source on a brighter one, is lost.
    records = {t["annotation_id"]: t for t in metrics["truth_records"]}
    inside = outside = 0
    for ann in gt["annotations"]:
        record = records[ann["id"]]
        mask = decode_mask(ann["segmentation"])
        col, row = int(np.floor(ann["x"] + 0.5)), int(np.floor(ann["y"] + 0.5))
        on_cutout = 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1]
        if record["counted"] and on_cutout and mask[row, col]:
            inside += 1
            assert record["matched"], ann["id"]
        elif record["counted"] and on_cutout:
            assert not record["matched_any"] or record["pred_class"] != ann["class"]
        elif record["counted"]:  # centre in a neighbouring cutout: placed on the visible part
            outside += 1
            assert record["matched"], ann["id"]
    assert inside >= 3 and outside >= 3
    assert by["compact"]["completeness"] == 1.0
    assert by["any class"]["completeness"] < 1.0  # this split's radio galaxies
    multi = metrics["multi_island"]
    assert multi["n"] >= 1 and multi["found_as_one"] == by["extended-multi"]["n_found"]


def test_score_column_ranks(
    sky: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preds_path = tmp_path / "snr.json"
    code, err = convert(sky, preds_path, capsys, "--score-column", "snr")
    assert code == 0, err
    preds = json.loads(preds_path.read_text())
    truth = {int(r["id"]): float(r["snr"]) for r in read_truth(sky["finder"] / "catalogue.fits")}
    snr = np.array([truth[p["object_id"]] for p in preds])
    score = np.array([p["score"] for p in preds])
    assert score.min() >= 0.5 and score.max() <= 1.0
    order = np.argsort(snr)
    assert np.all(np.diff(score[order]) >= 0)  # higher S/N, higher score
    assert np.all(np.diff(score[order])[np.diff(snr[order]) > 0] > 0)
    metrics = evaluate(sky, preds_path, tmp_path / "eval", capsys)
    assert metrics["coco"]["segm"]["map_50"] == pytest.approx(1.0)
    assert metrics["n_detections"] == len(preds)  # all clear the default 0.5 score cut


def test_rank_scores_exact() -> None:
    assert rank_scores(np.array([10.0, 30.0, 20.0])).tolist() == [0.5, 1.0, 0.75]
    assert rank_scores(np.array([np.nan, 2.0, 2.0])).tolist() == [0.5, 0.875, 0.875]
    assert rank_scores(np.array([7.0])).tolist() == [1.0]


def test_min_area_drops_slivers(
    sky: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    default = tmp_path / "default.json"
    big = tmp_path / "big.json"
    assert convert(sky, default, capsys)[0] == 0
    assert convert(sky, big, capsys, "--min-area", "40")[0] == 0
    areas = [p["area"] for p in json.loads(default.read_text())]
    kept = json.loads(big.read_text())
    assert len(kept) == sum(a >= 40 for a in areas) < len(areas)


def short_catalogue(sky: dict[str, Path], tmp_path: Path) -> Path:
    table = read_truth(sky["finder"] / "catalogue.fits")[1:]
    path = tmp_path / "short.fits"
    write_table(table, path, tmp_path / "short.csv")
    return path


def bad_catalogue(sky: dict[str, Path], tmp_path: Path) -> Path:
    table = read_truth(sky["finder"] / "catalogue.fits")
    table["class"] = table["class"].astype("U16")
    table["class"][0] = "blob"
    path = tmp_path / "bad.fits"
    write_table(table, path, tmp_path / "bad.csv")
    return path


def test_errors_one_line_nothing_written(
    sky: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "preds.json"
    cases: list[tuple[dict[str, Any], Sequence[str], str]] = [
        ({"catalogue": bad_catalogue(sky, tmp_path)}, (), "class 'blob', not among"),
        ({"name": "nosuch"}, (), "'nosuch' is not a map of"),
        ({"catalogue": short_catalogue(sky, tmp_path)}, (), "have no row in"),
        ({}, ("--score-column", "nosuch"), "'nosuch' is not a column"),
        ({}, ("--map-name", "sim000"), "got 2 names, 1 catalogues"),
        ({}, ("--min-area", "0"), "--min-area"),
    ]
    for kwargs, extra, message in cases:
        code, err = convert(sky, out, capsys, *extra, **kwargs)
        assert code == 1 and err.count("\n") == 1 and message in err, (message, err)
        assert not out.exists() and not list(tmp_path.glob(".preds*"))
    small = tmp_path / "small.fits"
    fits.writeto(small, np.zeros((8, 8), dtype=np.int32))
    code, err = convert(sky, out, capsys, segmentation=small)
    assert code == 1 and "differs from the dataset's map shape (256, 256)" in err
    argv = ["catalogue-to-coco", "-q", "--dataset", str(sky["dataset"]), "--out", str(out)]
    assert cli.main(argv) == 1
    assert "give at least one" in capsys.readouterr().err
    gt = json.loads((sky["dataset"] / "annotations" / f"{SPLIT}.json").read_text())
    with pytest.raises(ConfigError, match=r"cutouts of maps \['sim000'\] but no catalogue"):
        catalogue_results(gt, [], classes=["compact"])
    out.write_text("[]")
    code, err = convert(sky, out, capsys)
    assert code == 1 and "already exists" in err
    assert convert(sky, out, capsys, "--overwrite")[0] == 0 and len(json.loads(out.read_text()))
