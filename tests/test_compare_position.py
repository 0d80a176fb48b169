"""Position matching in the evaluation (``match = "position"``) on hand-built cutouts, with
exact counts: the rules a finder without measured masks is scored by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skysift.cli import main as cli_main
from skysift.data.coco import encode_mask
from skysift.evaluate.config import EvaluationConfig
from skysift.evaluate.metrics import evaluate_predictions, summary
from skysift.evaluate.pixels import Cutout, match_position

CLASSES = ["compact", "extended", "extended-multi", "diffuse", "spurious"]
SHAPE = (20, 20)


def box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Boolean mask of rows y0..y1-1, columns x0..x1-1."""
    mask = np.zeros(SHAPE, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


LOBES = box(10, 14, 2, 6) | box(10, 14, 14, 18)  # a two-island radio galaxy


def truth(aid: int, image: int, cls: str, mask: np.ndarray, **fields: Any) -> dict[str, Any]:
    return {
        "id": aid,
        "image_id": image,
        "category_id": CLASSES.index(cls) + 1,
        "segmentation": encode_mask(mask),
        "area": int(mask.sum()),
        "class": cls,
        "snr": 10.0,
        "truncated": False,
    } | fields


def det(image: int, cls: str, score: float, mask: np.ndarray, **fields: Any) -> dict[str, Any]:
    return {
        "image_id": image,
        "category_id": CLASSES.index(cls) + 1,
        "score": score,
        "segmentation": encode_mask(mask),
    } | fields


GT = {
    "images": [{"id": 1, "height": 20, "width": 20}, {"id": 2, "height": 20, "width": 20}],
    "annotations": [
        truth(1, 1, "compact", box(2, 6, 2, 6), x=3.5, y=3.5, int_flux=1.0),  # A
        truth(2, 1, "extended-multi", LOBES, x=9.5, y=11.5),  # B: centre between lobes
        truth(3, 1, "spurious", box(15, 19, 8, 12), x=9.5, y=16.5),  # C
        truth(4, 1, "compact", box(2, 5, 14, 17), x=15.0, y=3.0, snr=2.0),  # D: below S/N cut
        truth(5, 2, "extended-multi", LOBES, x=9.5, y=11.5),  # E
        truth(6, 2, "compact", box(2, 6, 2, 6), x=3.5, y=3.5, int_flux=16.0),  # F
    ],
}
PIXEL = box(3, 4, 3, 4)
PREDS = [
    det(1, "compact", 0.9, PIXEL, x=3.2, y=3.4, int_flux=1.2),  # p0: in A, IoU 1/16
    det(1, "compact", 0.8, PIXEL, x=4.0, y=4.0),  # p1: second entry in A
    det(1, "extended", 0.7, box(10, 14, 2, 6), x=3.5, y=11.5),  # p2: lobe 1 of B, wrong class
    det(1, "compact", 0.95, box(15, 19, 8, 12), x=9.5, y=16.5),  # p3: on artefact C
    det(1, "compact", 0.6, box(2, 5, 14, 17), x=15.0, y=3.0),  # p4: on faint D (ignored)
    det(1, "compact", 0.6, box(0, 2, 18, 20), x=50.0, y=50.0),  # p5: nothing there
    det(2, "extended-multi", 0.9, LOBES),  # q0: no x/y, mask centroid between the lobes
    det(2, "compact", 0.9, box(2, 6, 2, 6), x=-3.0, y=3.0),  # q1: position off the cutout
]


def cutouts() -> dict[int, Cutout]:
    pixels = np.zeros(SHAPE, dtype=np.float32)
    pixels[2:6, 2:6] = 1.0  # F (image 2) integrates to 16 Jy with a 1-pixel beam
    return {
        1: Cutout(np.zeros(SHAPE, dtype=np.float32), 1.0, 2.0, 1.0),
        2: Cutout(pixels, 1.0, 2.0, 1.0),
    }


def scored(match: str) -> dict[str, Any]:
    config = EvaluationConfig(match=match)
    evaluation = evaluate_predictions(GT, PREDS, classes=CLASSES, config=config, cutouts=cutouts())
    return summary(evaluation)


def by_class(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["class"]: row for row in result["per_class"]}


def test_position_matching_exact_counts() -> None:
    result = scored("position")
    rows = by_class(result)
    # compact: A (p0) and F (q1) found; p1 (second in A), p3 (on the artefact), p5 false;
    # p4 matched the uncounted faint D: neither true nor false
    assert (rows["compact"]["n_true"], rows["compact"]["n_found"]) == (2, 2)
    assert (rows["compact"]["n_det"], rows["compact"]["n_det_true"]) == (5, 2)
    assert rows["compact"]["reliability"] == pytest.approx(0.4)
    assert rows["compact"]["f1"] == pytest.approx(2 * 0.4 / 1.4)
    # extended-multi: E found by q0 (placed on its lobe), B only by the wrong class
    assert (rows["extended-multi"]["n_found"], rows["extended-multi"]["n_true"]) == (1, 2)
    assert rows["extended-multi"]["reliability"] == 1.0
    assert (rows["extended"]["n_det"], rows["extended"]["n_det_true"]) == (1, 0)
    assert rows["spurious"]["completeness"] == 0.0
    # class-agnostic: every counted object found, 5 of the 7 counted detections true
    assert rows["any class"]["completeness"] == 1.0
    assert (rows["any class"]["n_det"], rows["any class"]["n_det_true"]) == (7, 5)
    # one catalogue entry must cover the whole galaxy: p2 covers one lobe, q0 both
    multi = result["multi_island"]
    assert (multi["n"], multi["found_as_one"]) == (2, 1)
    spurious = result["spurious"]
    assert (spurious["n"], spurious["reported_real"], spurious["fraction_flagged"]) == (1, 1, 0.0)
    cm = result["confusion_matrix"]
    assert cm["counts"][CLASSES.index("spurious")][CLASSES.index("compact")] == 1
    assert cm["counts"][CLASSES.index("extended-multi")][CLASSES.index("extended")] == 1
    # reported catalogue flux and position for A; measured flux for F, reported position
    compact = {c["annotation_id"]: c for c in result["compact_sources"]}
    assert compact[1]["flux_ratio"] == pytest.approx(1.2)
    assert compact[1]["offset_pix"] == pytest.approx(np.hypot(0.3, 0.1))
    assert compact[6]["flux_ratio"] == pytest.approx(1.0)
    assert (compact[6]["dx_pix"], compact[6]["dy_pix"]) == (pytest.approx(-6.5), -0.5)


def test_mask_matching_differs_on_the_same_input() -> None:
    rows = by_class(scored("mask"))
    # p0's one-pixel mask has IoU 1/16 with A: missed by mask IoU, found by position
    assert rows["compact"]["n_found"] == 1  # F only
    assert rows["extended-multi"]["n_found"] == 1  # E by mask IoU 1


def test_match_position_rules() -> None:
    ring = box(4, 16, 4, 16) & ~box(6, 14, 6, 14)
    pixels = np.zeros(SHAPE, dtype=np.float32)
    pixels[15, 9] = 5.0
    cutout = Cutout(pixels, 1.0, 2.0, 1.0)
    # a ring's centroid is in its hole: placed on its brightest pixel
    assert match_position({}, ring, cutout) == (9.0, 15.0)
    assert match_position({"x": None, "y": 3.0}, ring, None) == (4.0, 4.0)  # first pixel
    # reported positions inside the cutout win, even off the mask; outside they do not
    assert match_position({"x": 0.4, "y": 19.49}, ring, cutout) == (0.4, 19.49)
    assert match_position({"x": 19.6, "y": 1.0}, ring, cutout) == (9.0, 15.0)
    x, y = match_position({}, box(2, 6, 2, 6), None)
    assert (x, y) == (3.5, 3.5)
    assert np.isnan(match_position({}, np.zeros(SHAPE, dtype=bool), cutout)[0])


def test_match_setting_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate-detector", "-q", "--dataset", str(tmp_path), "--predictions", "p.json"]
    code = cli_main([*argv, "--out", str(tmp_path / "o"), "--settings", '{"match": "nearest"}'])
    err = capsys.readouterr().err
    assert code == 1 and "evaluate.match" in err and err.count("\n") == 1
    with pytest.raises(SystemExit):
        cli_main([*argv, "--out", str(tmp_path / "o"), "--match", "nearest"])
    assert "invalid choice: 'nearest'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
