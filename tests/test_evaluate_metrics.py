"""Metrics on a hand-made COCO ground truth and predictions: exact numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from skysift.classes import DEFAULT_CLASSES
from skysift.data.coco import coco_document, decode_mask, encode_mask, mask_bbox
from skysift.evaluate import metrics as m
from skysift.evaluate.coco_eval import coco_map
from skysift.evaluate.config import EvaluationConfig
from skysift.evaluate.pixels import Cutout, centroid, detection_snr, integrated_flux, robust_rms

CLASSES = list(DEFAULT_CLASSES)
CID = {name: i + 1 for i, name in enumerate(CLASSES)}
SHAPE = (32, 32)


def box(*spans: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    for y0, y1, x0, x1 in spans:
        mask[y0:y1, x0:x1] = True
    return mask


def ann(ann_id: int, image_id: int, cls: str, mask: np.ndarray, snr: float, **extra: Any) -> dict:
    ys, xs = np.nonzero(mask)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": CID[cls],
        "class": cls,
        "segmentation": encode_mask(mask),
        "area": int(mask.sum()),
        "bbox": mask_bbox(mask),
        "iscrowd": 0,
        "snr": snr,
        "x": float(xs.mean()),
        "y": float(ys.mean()),
        "int_flux": 1.0,
        "las_arcsec": 30.0,
        "truncated": False,
    } | extra


def pred(image_id: int, cls: str, mask: np.ndarray, score: float) -> dict:
    return {
        "image_id": image_id,
        "category_id": CID[cls],
        "score": score,
        "segmentation": encode_mask(mask),
        "bbox": mask_bbox(mask),
    }


T3 = box((10, 14, 2, 6), (10, 14, 12, 16))  # extended-multi, two islands
T8 = box((2, 6, 20, 24), (12, 16, 20, 24))


def hand_case() -> tuple[dict, list[dict]]:
    images = [{"id": i, "file_name": f"{i}.fits", "width": 32, "height": 32} for i in (1, 2)]
    truths = [
        ann(1, 1, "compact", box((2, 6, 2, 6)), 10.0, x=3.5, y=3.5, int_flux=2.0),
        ann(2, 1, "compact", box((20, 24, 20, 24)), 8.0, truncated=True),
        ann(3, 1, "extended-multi", T3, 20.0),
        ann(4, 1, "spurious", box((26, 30, 2, 6)), 6.0),
        ann(5, 1, "compact", box((2, 6, 26, 30)), 2.0),  # below 5 sigma: not counted
        ann(6, 2, "spurious", box((2, 6, 2, 6)), 9.0),
        ann(7, 2, "extended", box((10, 20, 8, 18)), 12.0, las_arcsec=100.0),
        ann(8, 2, "extended-multi", T8, 30.0),
    ]
    preds = [
        pred(1, "compact", box((2, 6, 2, 6)), 0.9),  # p1: true compact
        pred(1, "extended", box((20, 24, 20, 24)), 0.8),  # p2: compact called extended
        pred(1, "extended-multi", box((10, 14, 2, 16)), 0.95),  # p3: covers both islands
        pred(1, "compact", box((26, 30, 2, 6)), 0.7),  # p4: artefact reported as real
        pred(1, "compact", box((2, 6, 26, 30)), 0.9),  # p5: faint source: ignored
        pred(1, "compact", box((14, 18, 26, 30)), 0.6),  # p6: false detection
        pred(1, "compact", box((28, 31, 28, 31)), 0.3),  # p7: below the score cut
        pred(2, "spurious", box((2, 6, 2, 6)), 0.9),  # p8: artefact flagged
        pred(2, "extended-multi", box((2, 6, 20, 24)), 0.85),  # p9: one island of two
    ]
    return coco_document(images, truths, CLASSES), preds


@pytest.fixture(scope="module")
def evaluation() -> m.Evaluation:
    gt, preds = hand_case()
    pixels = np.zeros(SHAPE, dtype=np.float32)
    pixels[2:6, 2:6] = 1.0
    pixels[5, 2:6] = 3.0  # brighter bottom row: flux 24 / 8 = 3 Jy, centroid y = 4.0
    cutouts = {1: Cutout(pixels, beam_area_pix=8.0, pixel_scale_arcsec=2.0, rms=0.25)}
    return m.evaluate_predictions(gt, preds, classes=CLASSES, cutouts=cutouts)


def rows_by_class(evaluation: m.Evaluation) -> dict[str, dict[str, Any]]:
    return {row["class"]: row for row in m.per_class_table(evaluation)}


def test_per_class_completeness_reliability_f1(evaluation: m.Evaluation) -> None:
    rows = rows_by_class(evaluation)
    compact = rows["compact"]  # truths t1, t2 (t5 not counted); detections p1, p4, p6 (p5 ignored)
    assert (compact["n_true"], compact["n_found"], compact["n_det"], compact["n_det_true"]) == (
        2,
        1,
        3,
        1,
    )
    assert compact["completeness"] == 0.5
    assert compact["reliability"] == pytest.approx(1 / 3)
    assert compact["f1"] == pytest.approx(0.4)
    assert compact["f1_x100"] == pytest.approx(40.0)
    assert compact["n_truncated"] == 1 and compact["completeness_truncated"] == 0.0
    assert compact["class_precision"] == 0.5 and compact["class_recall"] == 0.5
    assert rows["extended"]["completeness"] == 0.0 and rows["extended"]["reliability"] == 0.0
    assert rows["extended"]["f1"] == 0.0
    multi = rows["extended-multi"]
    assert (multi["completeness"], multi["reliability"], multi["f1"]) == (1.0, 1.0, 1.0)
    spurious = rows["spurious"]
    assert (spurious["completeness"], spurious["reliability"]) == (0.5, 1.0)
    assert spurious["f1"] == pytest.approx(2 / 3)
    assert math.isnan(rows["diffuse"]["completeness"]) and rows["diffuse"]["n_true"] == 0
    assert rows["all (class-aware)"]["completeness"] == pytest.approx(4 / 7)
    assert rows["all (class-aware)"]["reliability"] == pytest.approx(4 / 7)
    assert rows["any class"]["completeness"] == pytest.approx(6 / 7)
    assert rows["any class"]["reliability"] == pytest.approx(6 / 7)


def test_score_threshold_and_ignored_detections(evaluation: m.Evaluation) -> None:
    assert len(evaluation.detections) == 8  # p7 below 0.5 dropped
    ignored = [d.index for d in evaluation.detections if not d.counted]
    assert ignored == [4]  # p5 on the 2-sigma source is neither true nor false
    gt, preds = hand_case()
    strict = m.evaluate_predictions(
        gt, preds, classes=CLASSES, config=EvaluationConfig(score_threshold=0.75)
    )  # drops p4 (0.7) and p6 (0.6): compact reliability 1/1
    assert rows_by_class(strict)["compact"]["reliability"] == 1.0
    per_class = m.evaluate_predictions(
        gt,
        preds,
        classes=CLASSES,
        config=EvaluationConfig(score_thresholds={"compact": 0.75, "extended-multi": 0.9}),
    )  # compact as strict; p9 (0.85) dropped, p3 (0.95) kept; the others at 0.5
    rows = rows_by_class(per_class)
    assert rows["compact"]["reliability"] == 1.0 and rows["compact"]["n_det"] == 1
    assert rows["extended-multi"]["n_det"] == 1 and rows["extended"]["n_det"] == 1
    assert len(per_class.detections) == 5  # p1, p2, p3, p5, p8
    # candidates marked "reported": false (predict-cutouts --candidates) are not counted
    flagged = [p | {"reported": p["score"] >= 0.75} for p in preds]
    assert [d.index for d in m.evaluate_predictions(gt, flagged, classes=CLASSES).detections] == [
        0,
        1,
        2,
        4,
        7,
        8,
    ]  # p1, p2, p3, p5, p8, p9 (at or above 0.75)
    loose = m.evaluate_predictions(gt, preds, classes=CLASSES, config=EvaluationConfig(min_snr=0))
    assert rows_by_class(loose)["compact"]["completeness"] == pytest.approx(2 / 3)


def test_confusion_matrix_cells(evaluation: m.Evaluation) -> None:
    cm = m.confusion_matrix(evaluation)
    assert cm["rows"] == [*CLASSES, "no truth"] and cm["columns"] == [*CLASSES, "missed"]
    assert cm["counts"] == [
        [1, 1, 0, 0, 0, 0],  # compact: t1 -> compact, t2 -> extended
        [0, 0, 0, 0, 0, 1],  # extended: t7 missed
        [0, 0, 2, 0, 0, 0],  # extended-multi: t3, t8
        [0, 0, 0, 0, 0, 0],  # diffuse: none
        [1, 0, 0, 0, 1, 0],  # spurious: t4 -> compact, t6 -> spurious
        [1, 0, 0, 0, 0, 0],  # no truth: p6 (compact)
    ]


def test_multi_island_and_spurious_fractions(evaluation: m.Evaluation) -> None:
    multi = m.multi_island_summary(evaluation)
    assert (multi["n"], multi["found_as_one"]) == (2, 1)
    assert multi["fraction_found_as_one"] == 0.5
    assert multi["fraction_found_as_one_correct_class"] == 0.5
    spurious = m.spurious_summary(evaluation)
    assert spurious["n"] == 2
    assert (spurious["flagged"], spurious["reported_real"], spurious["missed"]) == (1, 1, 0)
    assert spurious["fraction_flagged"] == 0.5


def test_binned_completeness(evaluation: m.Evaluation) -> None:
    rows = m.binned_table(evaluation, quantity="snr")
    compact = {r["lo"]: r for r in rows if r["class"] == "compact"}
    assert (compact[10.0]["n_true"], compact[10.0]["completeness"]) == (1, 1.0)  # t1, S/N 10
    assert (compact[7.0]["n_true"], compact[7.0]["completeness"]) == (1, 0.0)  # t2, S/N 8
    assert compact[100.0]["hi"] is None and compact[100.0]["n_true"] == 0
    # detection S/N measured on the cutout: p1 peak 3.0 / rms 0.25 = 12 -> bin [10, 20)
    assert compact[10.0]["n_det"] == 1 and compact[10.0]["reliability"] == 1.0
    size = m.binned_table(evaluation, quantity="las_arcsec")
    extended = {r["lo"]: r for r in size if r["class"] == "extended"}
    assert extended[80.0]["n_true"] == 1 and extended[80.0]["completeness"] == 0.0


def test_compact_flux_and_position(evaluation: m.Evaluation) -> None:
    # matched compact truths (class-agnostic): t1, and t2 (called extended; blank pixels here)
    assert [c["annotation_id"] for c in evaluation.compact] == [1, 2]
    row, blank = evaluation.compact
    assert row["measured_flux"] == pytest.approx(3.0)
    assert row["flux_ratio"] == pytest.approx(1.5)
    assert (row["dx_pix"], row["dy_pix"]) == pytest.approx((0.0, 0.5))
    assert row["offset_arcsec"] == pytest.approx(1.0)
    assert blank["measured_flux"] == 0.0 and blank["truncated"] is True
    summary = m.compact_accuracy_summary(evaluation)
    assert summary["n"] == 1 and summary["n_truncated_excluded"] == 1  # t2 is truncated
    assert summary["flux_ratio_median"] == pytest.approx(1.5)
    assert summary["offset_pix_median"] == pytest.approx(0.5)


def test_pixel_measurements() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.normal(0.0, 2e-4, size=(256, 256)).astype(np.float32)
    assert robust_rms(pixels) == pytest.approx(2e-4, rel=0.02)
    pixels[100, 100] = 2e-2
    cutout = Cutout(pixels, beam_area_pix=10.0, pixel_scale_arcsec=1.0, rms=robust_rms(pixels))
    mask = np.zeros_like(pixels, dtype=bool)
    mask[99:102, 99:102] = True
    assert detection_snr(cutout, mask) == pytest.approx(100.0, rel=0.03)
    assert integrated_flux(cutout, mask) == pytest.approx(pixels[mask].sum() / 10.0)
    x, y = centroid(cutout, mask)
    assert (x, y) == pytest.approx((100.0, 100.0), abs=0.1)
    assert math.isnan(detection_snr(cutout, np.zeros_like(mask)))


def test_summary_has_everything(evaluation: m.Evaluation) -> None:
    result = m.summary(evaluation)
    assert result["n_truths"] == 8 and result["n_truths_counted"] == 7
    assert result["n_truths_truncated"] == 1
    assert result["multi_island"]["fraction_found_as_one"] == 0.5
    assert result["config"]["iou_threshold"] == 0.5


def test_coco_map_perfect_shifted_and_empty() -> None:
    gt, _ = hand_case()
    perfect = [
        {k: a[k] for k in ("image_id", "category_id", "segmentation", "bbox")} | {"score": 0.9}
        for a in gt["annotations"]
    ]
    result = coco_map(gt, perfect, classes=CLASSES)
    for iou_type in ("segm", "bbox"):
        assert result[iou_type]["map_50"] == pytest.approx(1.0)
        assert result[iou_type]["map_50_95"] == pytest.approx(1.0)
    assert result["segm"]["per_class"]["compact"]["ap_50"] == pytest.approx(1.0)
    assert math.isnan(result["segm"]["per_class"]["diffuse"]["ap_50"])  # no diffuse truth
    shifted = []
    for p in perfect:
        mask = np.roll(decode_mask(p["segmentation"]), 1, axis=1)
        shifted.append(p | {"segmentation": encode_mask(mask), "bbox": mask_bbox(mask)})
    moved = coco_map(gt, shifted, classes=CLASSES, iou_types=("segm",))
    assert 0.0 < moved["segm"]["map_50_95"] < 0.9
    assert moved["segm"]["map_50_95"] < moved["segm"]["map_50"] + 1e-9
    empty = coco_map(gt, [], classes=CLASSES)
    assert empty["segm"]["map_50"] == 0.0 and empty["bbox"]["per_class"]["compact"]["ap_50"] == 0.0


def test_flux_ratio_figure_without_matched_compact_sources(tmp_path: Any) -> None:
    """An untrained model matches nothing: the figure is still written (no log axis error)."""
    from skysift.evaluate.plots import plot_flux_ratio

    path = plot_flux_ratio([], tmp_path / "flux.png")
    assert path.stat().st_size > 0
