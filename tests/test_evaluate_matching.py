"""The one matcher: hand-built cases with exact numbers."""

from __future__ import annotations

import numpy as np
import pytest

from skysift.data.coco import encode_mask
from skysift.evaluate.matching import (
    iou_matrix,
    island_coverage,
    match_masks,
    match_positions,
)

SHAPE = (32, 32)


def box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Boolean mask of rows y0..y1-1 and columns x0..x1-1."""
    mask = np.zeros(SHAPE, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_two_overlapping_squares_have_iou_one_third() -> None:
    a, b = box(0, 10, 0, 10), box(0, 10, 5, 15)  # 100 px each, 50 shared, union 150
    assert iou_matrix([a], [b])[0, 0] == pytest.approx(1 / 3, abs=1e-12)
    none = match_masks([a], [b], class_aware=False, iou_threshold=0.5)
    assert none.pairs == [] and none.unmatched_pred == [0] and none.unmatched_true == [0]
    low = match_masks([a], [b], class_aware=False, iou_threshold=0.3)
    assert len(low.pairs) == 1
    p, t, iou = low.pairs[0]
    assert (p, t) == (0, 0) and iou == pytest.approx(1 / 3, abs=1e-12)


def test_rle_and_arrays_give_the_same_iou() -> None:
    a, b = box(3, 9, 3, 9), box(5, 12, 4, 10)
    expected = (a & b).sum() / (a | b).sum()
    assert iou_matrix([encode_mask(a)], [encode_mask(b)])[0, 0] == pytest.approx(expected)
    assert iou_matrix([a], [encode_mask(b)])[0, 0] == pytest.approx(expected)


def test_detection_covering_both_islands_matches_and_covers_them() -> None:
    truth = box(2, 6, 2, 6) | box(2, 6, 12, 16)  # two 4x4 islands, 32 px
    both = box(2, 6, 2, 16)  # 56 px bridge over both: IoU 32/56
    one = box(2, 6, 2, 6)  # one island only: IoU 16/32 = 0.5 exactly
    ious = iou_matrix([both, one], [truth])
    assert ious[:, 0] == pytest.approx([32 / 56, 0.5])
    assert island_coverage(both, truth) == (2, 2)
    assert island_coverage(one, truth) == (1, 2)
    # the threshold is inclusive (as pycocotools): IoU 0.5 matches at 0.5, not at 0.51
    assert len(match_masks([one], [truth], class_aware=False, iou_threshold=0.5).pairs) == 1
    assert match_masks([one], [truth], class_aware=False, iou_threshold=0.51).pairs == []


def test_island_coverage_fraction_threshold() -> None:
    truth = box(0, 4, 0, 4) | box(0, 4, 10, 14)
    half_second = box(0, 4, 0, 4) | box(0, 2, 10, 14)  # 8 of 16 px of island 2
    assert island_coverage(half_second, truth, min_fraction=0.5) == (2, 2)
    assert island_coverage(half_second, truth, min_fraction=0.6) == (1, 2)
    assert island_coverage(box(0, 4, 0, 4), np.zeros(SHAPE, dtype=bool)) == (0, 0)


def test_greedy_by_score_not_by_iou() -> None:
    truth = box(0, 10, 0, 10)  # 100 px
    weak_fit = box(0, 10, 0, 6)  # IoU 0.6
    strong_score = box(0, 10, 0, 11)  # IoU 100/110
    loose = box(0, 10, 0, 5)  # IoU 0.5
    result = match_masks(
        [weak_fit, loose], [truth], pred_scores=[0.6, 0.9], class_aware=False
    )  # the higher-scored detection takes the truth even though its IoU is lower
    assert [(p, t) for p, t, _ in result.pairs] == [(1, 0)]
    assert result.unmatched_pred == [0]
    both = match_masks([weak_fit, strong_score], [truth], pred_scores=[0.9, 0.6], class_aware=False)
    assert both.pred_to_true == {0: 0} and both.true_to_pred == {0: 0}


def test_ties_lower_index_first() -> None:
    truth = box(0, 10, 0, 10)
    a, b = box(0, 10, 0, 8), box(0, 10, 2, 10)  # both IoU 0.8
    tied = match_masks([a, b], [truth], pred_scores=[0.7, 0.7], class_aware=False)
    assert tied.pred_to_true == {0: 0} and tied.unmatched_pred == [1]
    # one detection equally overlapping two truths takes the lower truth index
    left, right = box(0, 4, 0, 4), box(0, 4, 4, 8)
    det = box(0, 4, 2, 6)  # 8 px in each: IoU 8/24 each
    result = match_masks([det], [left, right], class_aware=False, iou_threshold=0.3)
    assert result.pred_to_true == {0: 0} and result.unmatched_true == [1]


def test_each_truth_matched_once_and_second_choice_used() -> None:
    t0, t1 = box(0, 10, 0, 10), box(0, 10, 8, 18)
    d0 = box(0, 10, 0, 10)  # IoU 1 with t0, 20/180 with t1
    d1 = box(0, 10, 1, 11)  # IoU 90/110 with t0 (taken), 30/170 with t1
    d2 = box(0, 10, 7, 18)  # IoU 100/110 with t1
    result = match_masks([d0, d1, d2], [t0, t1], pred_scores=[0.9, 0.8, 0.7], class_aware=False)
    assert result.pred_to_true == {0: 0, 2: 1}
    assert result.unmatched_pred == [1] and result.unmatched_true == []
    assert result.pairs[1][2] == pytest.approx(100 / 110)


def test_class_aware_vs_agnostic() -> None:
    truth = [box(0, 8, 0, 8), box(20, 28, 20, 28)]
    preds = [box(0, 8, 0, 8), box(20, 28, 20, 28)]
    kwargs = {"pred_labels": ["extended", "compact"], "true_labels": ["compact", "compact"]}
    aware = match_masks(preds, truth, **kwargs, class_aware=True)
    assert aware.pred_to_true == {1: 1} and aware.unmatched_pred == [0]
    assert aware.unmatched_true == [0]
    agnostic = match_masks(preds, truth, **kwargs, class_aware=False)
    assert agnostic.pred_to_true == {0: 0, 1: 1}
    # class-aware: a detection skips a better truth of another class for one of its own
    near = [box(0, 8, 0, 8), box(0, 8, 1, 9)]
    result = match_masks(
        [box(0, 8, 0, 8)], near, pred_labels=[2], true_labels=[1, 2], class_aware=True
    )
    assert result.pred_to_true == {0: 1}


def test_empty_inputs() -> None:
    t = box(0, 5, 0, 5)
    no_pred = match_masks([], [t], pred_labels=[], true_labels=[1])
    assert no_pred.pairs == [] and no_pred.unmatched_true == [0] and no_pred.n_pred == 0
    no_true = match_masks([t], [], pred_labels=[1], true_labels=[])
    assert no_true.unmatched_pred == [0] and no_true.n_true == 0
    nothing = match_masks([], [], class_aware=False)
    assert (nothing.pairs, nothing.unmatched_pred, nothing.unmatched_true) == ([], [], [])
    assert iou_matrix([], [t]).shape == (0, 1)


def test_bad_arguments() -> None:
    t = box(0, 5, 0, 5)
    with pytest.raises(ValueError, match="needs pred_labels"):
        match_masks([t], [t])
    with pytest.raises(ValueError, match="iou_threshold"):
        match_masks([t], [t], class_aware=False, iou_threshold=0.0)
    with pytest.raises(ValueError, match="pred_scores"):
        match_masks([t], [t], class_aware=False, pred_scores=[0.1, 0.2])
    with pytest.raises(ValueError, match="share one size"):
        iou_matrix([t], [np.zeros((8, 8), dtype=bool)])


def test_match_positions_masks_and_segmentation() -> None:
    t0, t1 = box(0, 10, 0, 10), box(20, 30, 20, 30)
    xy = [[4.0, 4.0], [5.2, 6.4], [25.0, 25.0], [15.0, 15.0], [-3.0, 2.0]]
    flux = [1.0, 3.0, 2.0, 5.0, 9.0]
    result = match_positions(xy, [t0, t1], pred_scores=flux)
    # the brighter of the two detections inside t0 wins; the other is a false detection
    assert result.pred_to_true == {1: 0, 2: 1}
    assert result.unmatched_pred == [0, 3, 4]
    assert all(iou == 1.0 for _, _, iou in result.pairs)
    segmentation = np.zeros(SHAPE, dtype=np.int32)
    segmentation[t0] = 17
    segmentation[t1] = 42
    same = match_positions(xy, segmentation, true_ids=[17, 42], pred_scores=flux)
    assert same.pairs == result.pairs
    # pixel centres: x = 9.4 rounds to column 9 (inside), 9.6 to column 10 (outside)
    edge = match_positions([[9.4, 0.0], [9.6, 0.0]], [t0], pred_scores=[1.0, 2.0])
    assert edge.pred_to_true == {0: 0}
    aware = match_positions(
        [[4.0, 4.0]], [t0], pred_labels=["compact"], true_labels=["extended"], class_aware=True
    )
    assert aware.pairs == []
    with pytest.raises(ValueError, match="true_ids"):
        match_positions(xy, segmentation)
