"""The one matcher of skysift: detections <-> truth objects, by mask IoU or by position.

Rules (the same for the detector and the baseline finders)
----------------------------------------------------------
- Detections are visited in order of descending score (ties: lower detection index first).
- Each detection takes the still unmatched truth object with the highest IoU that reaches
  ``iou_threshold`` (``IoU >= threshold``, as pycocotools; ties: lower truth index first);
  in class-aware mode only truth objects of the detection's own label are candidates.
- Each truth object is matched at most once; each detection at most once.

Masks may be boolean arrays of shape (H, W) or COCO RLE dictionaries (``{"size": [H, W],
"counts": str | bytes}``); IoUs are computed on RLEs with :func:`pycocotools.mask.iou`.
Position matching (:func:`match_positions`) serves finders that give only a position: a
detection matches the truth object whose mask contains its pixel.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

#: A mask: boolean (H, W) array or a COCO RLE dictionary.
MaskLike = np.ndarray | Mapping[str, Any]


@dataclass(frozen=True)
class MatchResult:
    """Outcome of matching N detections against M truth objects.

    Attributes
    ----------
    pairs
        ``(pred_index, true_index, iou)`` per match, in the order the matches were made
        (descending detection score). For position matches ``iou`` is the IoU of the masks
        when the truth mask is known and the detection has none: 1.0 by convention.
    unmatched_pred
        Indices of detections without a truth object, ascending.
    unmatched_true
        Indices of truth objects without a detection, ascending.
    n_pred, n_true
        Number of detections and of truth objects.
    """

    pairs: list[tuple[int, int, float]]
    unmatched_pred: list[int]
    unmatched_true: list[int]
    n_pred: int
    n_true: int

    @property
    def pred_to_true(self) -> dict[int, int]:
        """Detection index -> matched truth index."""
        return {p: t for p, t, _ in self.pairs}

    @property
    def true_to_pred(self) -> dict[int, int]:
        """Truth index -> matched detection index."""
        return {t: p for p, t, _ in self.pairs}


def to_rle(mask: MaskLike) -> dict[str, Any]:
    """Compressed RLE (counts as bytes, as pycocotools wants) of a boolean array or RLE dict."""
    if isinstance(mask, Mapping):
        counts = mask["counts"]
        if isinstance(counts, list):  # uncompressed RLE
            h, w = mask["size"]
            return dict(mask_utils.frPyObjects(dict(mask), h, w))
        return {
            "size": [int(s) for s in mask["size"]],
            "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
        }
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a mask must be 2-D (H, W), got shape {array.shape}")
    return dict(mask_utils.encode(np.asfortranarray(array.astype(np.uint8))))


def to_array(mask: MaskLike) -> np.ndarray:
    """Boolean (H, W) array of a boolean array or RLE dict."""
    if not isinstance(mask, Mapping):
        return np.asarray(mask, dtype=bool)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return np.asarray(mask_utils.decode(to_rle(mask)), dtype=bool)


def iou_matrix(pred_masks: Sequence[MaskLike], true_masks: Sequence[MaskLike]) -> np.ndarray:
    """Mask IoU of every detection with every truth object.

    Parameters
    ----------
    pred_masks, true_masks
        N and M masks of one image (all the same (H, W)).

    Returns
    -------
    numpy.ndarray
        float64, shape (N, M); IoU = |P & T| / |P | T| (0 where both are empty).
    """
    n, m = len(pred_masks), len(true_masks)
    if n == 0 or m == 0:
        return np.zeros((n, m), dtype=float)
    pred = [to_rle(p) for p in pred_masks]
    true = [to_rle(t) for t in true_masks]
    sizes = {tuple(r["size"]) for r in pred + true}
    if len(sizes) != 1:
        raise ValueError(f"masks of one image must share one size, got {sorted(sizes)}")
    ious = mask_utils.iou(pred, true, [0] * m)
    return np.asarray(ious, dtype=float).reshape(n, m)


def _order(n: int, scores: Sequence[float] | np.ndarray | None) -> np.ndarray:
    if scores is None:
        return np.arange(n)
    values = np.asarray(scores, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"pred_scores has shape {values.shape}, expected ({n},)")
    return np.argsort(-values, kind="stable")


def _labels(
    labels: Sequence[Any] | np.ndarray | None, n: int, name: str, class_aware: bool
) -> list[Any] | None:
    if not class_aware:
        return None
    if labels is None:
        raise ValueError(f"class-aware matching needs {name}")
    values = list(labels)
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries, expected {n}")
    return values


def greedy_match(
    scores_matrix: np.ndarray,
    *,
    order: np.ndarray,
    allowed: np.ndarray,
    threshold: float,
) -> MatchResult:
    """Greedy one-to-one assignment on a (N, M) similarity matrix.

    Parameters
    ----------
    scores_matrix
        Similarity (IoU, or 1 for "contains"), shape (N, M).
    order
        Detection indices in the order they choose.
    allowed
        Boolean (N, M): which pairs may match (class compatibility).
    threshold
        Minimum similarity of a match (inclusive).
    """
    n, m = scores_matrix.shape
    taken = np.zeros(m, dtype=bool)
    pairs: list[tuple[int, int, float]] = []
    for p in order if m else ():
        candidates = scores_matrix[p].copy()
        candidates[~allowed[p] | taken] = -np.inf
        t = int(np.argmax(candidates))  # first maximum: lower truth index wins ties
        if candidates[t] >= threshold:
            taken[t] = True
            pairs.append((int(p), t, float(scores_matrix[p, t])))
    matched_pred = {p for p, _, _ in pairs}
    return MatchResult(
        pairs=pairs,
        unmatched_pred=[i for i in range(n) if i not in matched_pred],
        unmatched_true=[j for j in range(m) if not taken[j]],
        n_pred=n,
        n_true=m,
    )


def _allowed(pred: list[Any] | None, true: list[Any] | None, n: int, m: int) -> np.ndarray:
    if pred is None or true is None:
        return np.ones((n, m), dtype=bool)
    return np.array([[p == t for t in true] for p in pred], dtype=bool).reshape(n, m)


def match_masks(
    pred_masks: Sequence[MaskLike],
    true_masks: Sequence[MaskLike],
    *,
    pred_labels: Sequence[Any] | np.ndarray | None = None,
    true_labels: Sequence[Any] | np.ndarray | None = None,
    pred_scores: Sequence[float] | np.ndarray | None = None,
    iou_threshold: float = 0.5,
    class_aware: bool = True,
) -> MatchResult:
    """Match detections to truth objects of one image by mask IoU (greedy by score).

    Parameters
    ----------
    pred_masks
        N detection masks, boolean (H, W) arrays or RLE dicts.
    true_masks
        M truth masks of the same image.
    pred_labels, true_labels
        Class (name or category id) per detection / truth object; required when
        ``class_aware``.
    pred_scores
        Detection scores; detections choose in descending score order (None: input order).
    iou_threshold
        Minimum mask IoU of a match (inclusive), in (0, 1].
    class_aware
        If True a detection can only match a truth object of its own class.

    Returns
    -------
    MatchResult
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    n, m = len(pred_masks), len(true_masks)
    plab = _labels(pred_labels, n, "pred_labels", class_aware)
    tlab = _labels(true_labels, m, "true_labels", class_aware)
    ious = iou_matrix(pred_masks, true_masks)
    return greedy_match(
        ious,
        order=_order(n, pred_scores),
        allowed=_allowed(plab, tlab, n, m),
        threshold=iou_threshold,
    )


def match_positions(
    pred_xy: np.ndarray | Sequence[Sequence[float]],
    true_masks: Sequence[MaskLike] | np.ndarray,
    *,
    true_ids: Sequence[int] | None = None,
    pred_labels: Sequence[Any] | np.ndarray | None = None,
    true_labels: Sequence[Any] | np.ndarray | None = None,
    pred_scores: Sequence[float] | np.ndarray | None = None,
    class_aware: bool = False,
) -> MatchResult:
    """Match point detections (no masks) to truth objects whose mask contains them.

    A detection at (x, y) lies in the pixel ``(round(y), round(x))``; it can match every truth
    object whose mask holds that pixel. Detections choose in descending score (e.g. flux)
    order, each truth object is matched once: a second detection inside an already matched
    object stays unmatched (a split source counts one true and one false detection).

    Parameters
    ----------
    pred_xy
        Detection positions, shape (N, 2), columns (x, y) in 0-based pixels of the image.
    true_masks
        Either M truth masks (boolean (H, W) arrays or RLE dicts) or a 2-D integer
        segmentation image (pixel = truth id, 0 = none) together with ``true_ids``.
    true_ids
        For a segmentation image: the id of truth object j (its value in the image).
    pred_labels, true_labels
        Classes, required when ``class_aware``.
    pred_scores
        Order of choice (descending); None keeps the input order.
    class_aware
        If True a detection only matches a truth object of its own class.

    Returns
    -------
    MatchResult
        ``iou`` of each pair is 1.0 (containment).
    """
    xy = np.asarray(pred_xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    if (
        isinstance(true_masks, np.ndarray)
        and true_masks.ndim == 2
        and true_masks.dtype.kind in "iu"
    ):
        if true_ids is None:
            raise ValueError("a segmentation image needs true_ids (its value per truth object)")
        segmentation = true_masks
        height, width = segmentation.shape
        ids = list(true_ids)
        m = len(ids)
        index = {int(v): j for j, v in enumerate(ids)}

        def containing(y: int, x: int) -> list[int]:
            j = index.get(int(segmentation[y, x]))
            return [] if j is None else [j]

    else:
        arrays = [to_array(t) for t in true_masks]
        m = len(arrays)
        shape = arrays[0].shape if arrays else (0, 0)
        height, width = shape
        stack = np.stack(arrays) if arrays else np.zeros((0, 0, 0), dtype=bool)

        def containing(y: int, x: int) -> list[int]:
            return [int(j) for j in np.flatnonzero(stack[:, y, x])]

    plab = _labels(pred_labels, n, "pred_labels", class_aware)
    tlab = _labels(true_labels, m, "true_labels", class_aware)
    contains = np.zeros((n, m), dtype=float)
    for i, (x, y) in enumerate(xy):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        col, row = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        if 0 <= row < height and 0 <= col < width:
            contains[i, containing(row, col)] = 1.0
    return greedy_match(
        contains, order=_order(n, pred_scores), allowed=_allowed(plab, tlab, n, m), threshold=1.0
    )


def island_coverage(
    detection_mask: MaskLike, truth_mask: MaskLike, *, min_fraction: float = 0.5
) -> tuple[int, int]:
    """How many islands of a truth object one detection covers.

    Islands are the 8-connected components of the truth mask. An island is covered when at
    least ``min_fraction`` of its pixels lie inside the detection mask.

    Returns
    -------
    (covered, total)
        Covered islands and all islands of the truth mask.
    """
    from scipy import ndimage

    truth = to_array(truth_mask)
    detection = to_array(detection_mask)
    labels, total = ndimage.label(truth, structure=np.ones((3, 3), dtype=int))
    if total == 0:
        return 0, 0
    inside = np.bincount(labels[detection & truth], minlength=total + 1)[1:]
    sizes = np.bincount(labels.ravel(), minlength=total + 1)[1:]
    covered = int(np.sum(inside >= min_fraction * sizes))
    return covered, int(total)
