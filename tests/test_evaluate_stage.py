"""`skysift evaluate-detector` end to end on a tiny simulated dataset, with predictions made by
perturbing the truth (no detector involved), and its one-line errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skysift.cli import main as cli_main
from skysift.data.coco import decode_mask, encode_mask, mask_bbox
from skysift.evaluate.config import EvaluationConfig

SPLIT = "val"  # the tiny dataset's richest split (compact, extended-multi, spurious)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """One 256x256 simulated map cut into 64 px cutouts (settings of the tiny workflow)."""
    base = tmp_path_factory.mktemp("evaluate_stage")
    settings = str(repo_root / "tests" / "workflow" / "config.yaml")
    sky = base / "sky"
    assert (
        cli_main(
            [
                "simulate-sky",
                "-q",
                "--settings",
                settings,
                "--seed",
                "7",
                "--name",
                "sim000",
                "--out",
                str(sky),
            ]
        )
        == 0
    )
    out = base / "cutouts"
    assert (
        cli_main(
            [
                "build-cutouts",
                "-q",
                "--map",
                str(sky / "map.fits"),
                "--segmentation",
                str(sky / "segmentation.fits"),
                "--truth",
                str(sky / "truth.fits"),
                "--settings",
                settings,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def ground_truth(dataset: Path) -> tuple[dict[str, Any], list[str]]:
    gt = json.loads((dataset / "annotations" / f"{SPLIT}.json").read_text())
    classes = [c["name"] for c in json.loads((dataset / "dataset.json").read_text())["classes"]]
    return gt, classes


def as_prediction(ann: dict[str, Any], score: float = 0.9, **extra: Any) -> dict[str, Any]:
    return {
        "image_id": ann["image_id"],
        "category_id": ann["category_id"],
        "score": score,
        "segmentation": ann["segmentation"],
        "bbox": ann["bbox"],
    } | extra


def run(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli_main(["evaluate-detector", "-q", *argv])
    return code, capsys.readouterr().err


def evaluate(
    dataset: Path,
    tmp_path: Path,
    preds: list[dict[str, Any]],
    name: str,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> dict[str, Any]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(preds))
    out = tmp_path / name
    code, err = run(
        [
            "--dataset",
            str(dataset),
            "--split",
            SPLIT,
            "--predictions",
            str(path),
            "--out",
            str(out),
            *extra,
        ],
        capsys,
    )
    assert code == 0, err
    return json.loads((out / "metrics.json").read_text())


def by_class(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["class"]: row for row in metrics["per_class"]}


def test_perfect_predictions(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt, _ = ground_truth(dataset)
    metrics = evaluate(
        dataset, tmp_path, [as_prediction(a) for a in gt["annotations"]], "perfect", capsys
    )
    rows = by_class(metrics)
    assert rows["any class"]["completeness"] == 1.0 and rows["any class"]["reliability"] == 1.0
    assert rows["all (class-aware)"]["f1"] == 1.0
    assert metrics["coco"]["segm"]["map_50"] == pytest.approx(1.0)
    assert metrics["coco"]["bbox"]["map_50_95"] == pytest.approx(1.0)
    assert metrics["spurious"]["fraction_flagged"] == 1.0
    assert metrics["confusion_matrix"]["rows"][-1] == "no truth"
    assert metrics["inputs"]["split"] == SPLIT and "git_revision" in metrics
    assert metrics["config"]["min_snr"] == 5.0
    # truth masks measured on their own cutouts: bright whole compact sources get their flux
    # within 15% (masks stop at a few sigma and miss the beam wings) and positions within a pixel
    assert metrics["compact_accuracy"]["n"] >= 1
    bright = [c for c in metrics["compact_sources"] if c["snr"] > 10 and not c["truncated"]]
    assert bright
    for source in bright:
        assert 0.85 < source["flux_ratio"] < 1.05
        assert source["offset_pix"] < 1.0
    out = tmp_path / "perfect"
    for name in (
        "per_class.csv",
        "per_class.md",
        "completeness_vs_snr.csv",
        "completeness_vs_size.csv",
        "confusion_matrix.csv",
        "compact_sources.csv",
        "completeness_reliability_vs_snr.png",
        "confusion_matrix.png",
        "flux_ratio_vs_snr.png",
    ):
        assert (out / name).stat().st_size > 0, name
    table = (out / "per_class.md").read_text()
    assert "F1 x 100" in table and "| compact |" in table and "100.0" in table
    header = (out / "completeness_vs_snr.csv").read_text().splitlines()[0]
    assert header.startswith("class,lo,hi,n_true,n_found,completeness")


def test_perturbed_predictions(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt, classes = ground_truth(dataset)
    config = EvaluationConfig()
    anns = gt["annotations"]
    counted = [not a["snr"] < config.min_snr_of(a["class"]) for a in anns]
    dropped = [i for i in range(len(anns)) if i % 4 == 0]
    preds = [as_prediction(a) for i, a in enumerate(anns) if i not in dropped]
    relabel = next(
        i for i, a in enumerate(anns) if counted[i] and i not in dropped and a["class"] == "compact"
    )
    preds[[i for i in range(len(anns)) if i not in dropped].index(relabel)]["category_id"] = 2
    # a false detection in an empty 4x4 corner of an image, and one below the score cut
    image = gt["images"][0]
    occupied = np.zeros((image["height"], image["width"]), dtype=bool)
    for a in anns:
        if a["image_id"] == image["id"]:
            occupied |= decode_mask(a["segmentation"])
    free = next(
        (y, x)
        for y in range(0, 60, 4)
        for x in range(0, 60, 4)
        if not occupied[y : y + 4, x : x + 4].any()
    )
    fake = np.zeros_like(occupied)
    fake[free[0] : free[0] + 4, free[1] : free[1] + 4] = True
    fake_pred = {
        "image_id": image["id"],
        "category_id": 1,
        "segmentation": encode_mask(fake),
        "bbox": mask_bbox(fake),
    }
    preds += [fake_pred | {"score": 0.8}, fake_pred | {"score": 0.2}]
    metrics = evaluate(dataset, tmp_path, preds, "perturbed", capsys)
    n = sum(counted)
    missed = sum(counted[i] for i in dropped)
    rows = by_class(metrics)
    assert rows["any class"]["n_true"] == n
    assert rows["any class"]["completeness"] == pytest.approx((n - missed) / n)
    assert rows["any class"]["reliability"] == pytest.approx((n - missed) / (n - missed + 1))
    assert rows["all (class-aware)"]["n_found"] == n - missed - 1  # the relabelled one
    cm = np.array(metrics["confusion_matrix"]["counts"])
    assert cm[:, -1].sum() == missed and cm[-1].sum() == 1 and cm[-1, 0] == 1
    assert cm[classes.index("compact"), classes.index("extended")] == 1
    assert metrics["n_detections"] == len(preds) - 1
    assert metrics["coco"]["segm"]["map_50"] < 1.0


def test_empty_predictions_allowed(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = evaluate(dataset, tmp_path, [], "empty", capsys, "--no-figures", "--iou", "0.7")
    rows = by_class(metrics)
    assert rows["any class"]["completeness"] == 0.0 and rows["any class"]["n_det"] == 0
    assert metrics["coco"]["segm"]["map_50"] == 0.0
    assert metrics["config"]["iou_threshold"] == 0.7
    assert not (tmp_path / "empty" / "confusion_matrix.png").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"image_id": 1', "not valid JSON"),
        ('{"image_id": 1}', "must be a JSON list"),
        (
            '[{"image_id": 99999, "category_id": 1, "score": 0.9, "segmentation": {}}]',
            "image_id 99999, not in the split",
        ),
        ('[{"image_id": 1, "category_id": 9, "score": 0.9, "segmentation": {}}]', "category_id 9"),
        ('[{"image_id": 1, "score": 0.9}]', "lacks"),
        ('[{"image_id": 1, "category_id": 1, "score": 1.9, "segmentation": {}}]', "score 1.9"),
    ],
)
def test_bad_predictions_one_line_nothing_written(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    gt, _ = ground_truth(dataset)
    content = content.replace('"image_id": 1,', f'"image_id": {gt["images"][0]["id"]},')
    path = tmp_path / "bad.json"
    path.write_text(content)
    out = tmp_path / "out"
    code, err = run(
        [
            "--dataset",
            str(dataset),
            "--split",
            SPLIT,
            "--predictions",
            str(path),
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 1
    assert err.count("\n") == 1 and message in err and "bad.json" in err
    assert not out.exists() and not list(tmp_path.glob(".out.tmp*"))


def test_mask_size_mismatch_and_stage_errors(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt, _ = ground_truth(dataset)
    wrong = encode_mask(np.ones((8, 8), dtype=bool))
    path = tmp_path / "p.json"
    path.write_text(json.dumps([as_prediction(gt["annotations"][0]) | {"segmentation": wrong}]))
    base = ["--dataset", str(dataset), "--split", SPLIT, "--predictions", str(path)]
    code, err = run([*base, "--out", str(tmp_path / "a")], capsys)
    assert code == 1 and "mask size [8, 8] differs" in err
    code, err = run([*base, "--out", str(tmp_path / "b"), "--iou", "1.5"], capsys)
    assert code == 1 and "evaluate.iou_threshold" in err
    code, err = run([*base, "--split", "nosuch", "--out", str(tmp_path / "c")], capsys)
    assert code == 1 and "no annotations for split 'nosuch'" in err
    code, err = run(
        ["--dataset", str(tmp_path), "--predictions", str(path), "--out", str(tmp_path / "d")],
        capsys,
    )
    assert code == 1 and "dataset.json not found" in err
    existing = tmp_path / "exists"
    existing.mkdir()
    path.write_text("[]")
    code, err = run([*base, "--out", str(existing)], capsys)
    assert code == 1 and "already exists" in err
    assert run([*base, "--out", str(existing), "--overwrite", "--no-figures"], capsys)[0] == 0
    assert (existing / "metrics.json").is_file()
