"""Score thresholds per class: calibrated on the validation split, stored in the checkpoint.

A detector trained briefly gives its rare classes low softmax scores: the demo model's best
``extended-multi`` detections score 0.2-0.4 while matching their truth, so one threshold of 0.5
for every class never reports that class at all. The usual remedy is a threshold per class,
chosen on held-out data: for each class, the threshold of a fixed grid that maximises the
class's F1 on the validation split (never the test split). It is chosen with the best model
(``train-detector``), stored in ``model.pt`` as ``skysift.score_thresholds`` and applied by
``predict-cutouts`` and ``predict-map``.

Calibrating needs one matching pass only: detections choose truths greedily in descending score
(:func:`skysift.evaluate.matching.match_masks`), so raising a class's threshold removes its
lowest-scoring detections without changing the matches of the others. With the class-aware
matches made at the lowest threshold, a class's true positives at threshold ``t`` are its matched
detections with score >= ``t``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch only where detections are selected (MPI and fake tests skip it)
    import torch

#: Thresholds tried per class (inclusive: a detection is kept when score >= threshold).
THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))


def f1_curve(
    scores: Sequence[float] | np.ndarray,
    matched: Sequence[bool] | np.ndarray,
    n_true: int,
    grid: Sequence[float] = THRESHOLD_GRID,
) -> np.ndarray:
    """F1 of one class at each threshold of ``grid``.

    Parameters
    ----------
    scores
        Scores of the class's detections (all of them, down to at least ``min(grid)``).
    matched
        Whether each detection matched a truth object of the class (class-aware, greedy by score).
    n_true
        Truth objects of the class.
    grid
        Thresholds.

    Returns
    -------
    numpy.ndarray
        Shape (len(grid),): 2 TP / (N_det + N_true) with detections of score >= threshold;
        1 where there is nothing to find and nothing is kept.
    """
    scores = np.asarray(scores, dtype=float)
    matched = np.asarray(matched, dtype=bool)
    out = np.empty(len(grid))
    for i, t in enumerate(grid):
        keep = scores >= t
        denominator = int(keep.sum()) + int(n_true)
        out[i] = 1.0 if denominator == 0 else 2.0 * int(matched[keep].sum()) / denominator
    return out


def calibrate(
    scores: Sequence[float] | np.ndarray,
    matched: Sequence[bool] | np.ndarray,
    n_true: int,
    *,
    default: float,
    grid: Sequence[float] = THRESHOLD_GRID,
) -> tuple[float, float]:
    """The threshold of ``grid`` with the best F1 for one class, and that F1.

    Ties go to the middle one of the tied thresholds (the upper middle of an even number): a
    run of equal F1 means no validation detection scores in between, and its middle keeps the
    most room on both sides. A class without
    truth objects, or whose F1 is 0 at every threshold (nothing of it found), keeps ``default``:
    there is nothing to calibrate on. The F1 returned is the one at the returned threshold.
    """
    curve = f1_curve(scores, matched, n_true, grid)
    if n_true == 0 or curve.max() <= 0:
        return float(default), float(f1_curve(scores, matched, n_true, [default])[0])
    tied = np.flatnonzero(curve == curve.max())
    best = tied[len(tied) // 2]
    return float(grid[best]), float(curve[best])


def class_thresholds(meta: Mapping[str, Any], override: float | None = None) -> dict[str, float]:
    """Score threshold per class of a checkpoint's ``skysift`` block.

    ``override`` (a command-line threshold) applies to every class; otherwise the calibrated
    ``score_thresholds`` stored with the model, and for classes without one (and checkpoints
    from before calibration, and ``last.pt``) the model config's ``score_threshold``.
    """
    classes = list(meta["classes"])
    if override is not None:
        return dict.fromkeys(classes, float(override))
    default = float(meta["model_config"]["score_threshold"])
    stored = meta.get("score_thresholds") or {}
    return {name: float(stored.get(name, default)) for name in classes}


def label_thresholds(thresholds: Mapping[str, float], classes: Sequence[str]) -> np.ndarray:
    """Thresholds indexed by model label (1..K; index 0, the background, is never used)."""
    return np.array([np.inf, *(float(thresholds[name]) for name in classes)])


def select_detections(
    boxes: torch.Tensor,
    labels: torch.Tensor,
    scores: torch.Tensor,
    label_cuts: Sequence[float] | np.ndarray,
    nms_iou: float | None,
) -> torch.Tensor:
    """Indices of the detections reported, in the model's order.

    A detection is kept when its score reaches its class's threshold (``label_cuts`` indexed by
    label, :func:`label_thresholds`) and no kept detection of higher score overlaps its box by
    IoU > ``nms_iou`` (the model's ``box_nms_thresh``; None: no such rule). The model suppresses
    overlaps within a class only; below 0.5 one proposal can pass under two classes (an
    ``extended`` and an ``extended-multi`` outline of the same galaxy), and a catalogue wants one
    row per object.

    Parameters
    ----------
    boxes
        Shape (N, 4), x1, y1, x2, y2 pixels.
    labels
        Shape (N,), 1..K.
    scores
        Shape (N,).
    """
    import torch
    from torchvision.ops import nms

    cuts = torch.as_tensor(np.asarray(label_cuts, dtype=np.float32), device=scores.device)
    keep = torch.nonzero(scores.float() >= cuts[labels]).flatten()
    if keep.numel() > 1 and nms_iou is not None:
        survivors = nms(boxes[keep].float(), scores[keep].float(), float(nms_iou))
        keep = keep[survivors].sort().values
    return keep
