"""Validation score of the training loop: per-class F1 at mask IoU >= 0.5 on the val split.

Matches with the project's one matcher (:func:`skysift.evaluate.matching.match_masks`), so the
validation score that picks the best checkpoint counts exactly as ``skysift evaluate-detector``
does (before its S/N cuts, which need the science fields). With ``calibrate_thresholds`` each
class is scored at its own threshold, the one of :data:`skysift.detect.thresholds.THRESHOLD_GRID`
that maximises its F1 (:mod:`skysift.detect.thresholds`); the thresholds are returned with the
scores. The detections scored are the ones prediction reports (thresholds, then the cross-class
overlap rule of :func:`skysift.detect.thresholds.select_detections`).
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN

from skysift.detect.dataset import CutoutDataset
from skysift.detect.predict import reported_mask, run_model
from skysift.detect.thresholds import THRESHOLD_GRID, calibrate, label_thresholds
from skysift.evaluate.matching import match_masks


def f1(tp: int, n_pred: int, n_true: int) -> float:
    """F1 = 2 TP / (n_pred + n_true); 1 when there is nothing to find and nothing found."""
    return 1.0 if n_pred + n_true == 0 else 2.0 * tp / (n_pred + n_true)


def validation_metrics(
    model: MaskRCNN,
    dataset: CutoutDataset,
    *,
    score_threshold: float,
    iou_threshold: float = 0.5,
    batch_size: int = 4,
    device: torch.device | str = "cpu",
    calibrate_thresholds: bool = False,
    nms_iou: float | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Per-class completeness, reliability and F1, their mean (the score) and class-agnostic F1.

    Parameters
    ----------
    score_threshold
        Threshold of every class; with ``calibrate_thresholds`` the one of classes that cannot
        be calibrated (no truth in the split, or none found at any threshold).
    calibrate_thresholds
        Score each class at the threshold that maximises its F1 on this split.
    nms_iou
        Box IoU above which the lower-scored of two kept detections of different classes is
        dropped, as in prediction (:func:`skysift.detect.thresholds.select_detections`;
        default: the model's ``box_nms_thresh``).

    Returns
    -------
    (metrics, thresholds)
        ``metrics``: ``score`` (mean F1 over classes with truth in the split), ``f1_<class>``,
        ``completeness_<class>``, ``reliability_<class>``, ``f1_any`` (class-agnostic), and
        ``threshold_<class>``; ``thresholds``: the score threshold used per class.
    """
    classes = list(dataset.classes)
    nms_iou = float(model.roi_heads.nms_thresh) if nms_iou is None else nms_iou
    floor = min(score_threshold, *THRESHOLD_GRID) if calibrate_thresholds else score_threshold
    records = {record.image_id: index for index, record in enumerate(dataset.records)}
    images = []  # (detections as run_model gives them, truth masks, truth labels) per image
    for image_id, det in run_model(
        model,
        dataset,
        batch_size=batch_size,
        score_threshold=floor,
        device=device,
        progress=False,
        one_per_place=False,  # applied below, after each class's threshold
    ):
        _, target = dataset[records[image_id]]
        images.append((det, list(target["masks"].numpy().astype(bool)), target["labels"].numpy()))
    thresholds = dict.fromkeys(classes, float(score_threshold))
    if calibrate_thresholds:
        # one class-aware matching at the floor: which detection matched (greedy by score)
        matched_all = []
        for det, true_masks, true_labels in images:
            result = match_masks(
                list(det["masks"]),
                true_masks,
                pred_labels=det["labels"],
                true_labels=true_labels,
                pred_scores=det["scores"],
                iou_threshold=iou_threshold,
                class_aware=True,
            )
            hit = np.zeros(len(det["scores"]), dtype=bool)
            hit[[p for p, _, _ in result.pairs]] = True
            matched_all.append(hit)
        for k, name in enumerate(classes, start=1):
            mine = [det["labels"] == k for det, _, _ in images]
            scores = np.concatenate(
                [det["scores"][m] for (det, _, _), m in zip(images, mine, strict=True)]
            )
            matched = np.concatenate([h[m] for h, m in zip(matched_all, mine, strict=True)])
            n_true = sum(int((true_labels == k).sum()) for _, _, true_labels in images)
            thresholds[name], _ = calibrate(scores, matched, n_true, default=score_threshold)
    cut = label_thresholds(thresholds, classes)
    n_classes = len(classes)
    tp = np.zeros(n_classes + 1, dtype=int)
    n_pred = np.zeros(n_classes + 1, dtype=int)
    n_true_all = np.zeros(n_classes + 1, dtype=int)
    tp_any = 0
    for det, true_masks, true_labels in images:
        keep = np.flatnonzero(reported_mask(det, cut, nms_iou))
        labels = det["labels"][keep]
        for class_aware in (True, False):
            result = match_masks(
                list(det["masks"][keep]),
                true_masks,
                pred_labels=labels,
                true_labels=true_labels,
                pred_scores=det["scores"][keep],
                iou_threshold=iou_threshold,
                class_aware=class_aware,
            )
            if class_aware:
                for _, t, _ in result.pairs:
                    tp[true_labels[t]] += 1
            else:
                tp_any += len(result.pairs)
        n_pred += np.bincount(labels, minlength=n_classes + 1)[: n_classes + 1]
        n_true_all += np.bincount(true_labels, minlength=n_classes + 1)[: n_classes + 1]
    metrics: dict[str, float] = {}
    per_class = []
    for k, name in enumerate(classes, start=1):
        metrics[f"f1_{name}"] = f1(int(tp[k]), int(n_pred[k]), int(n_true_all[k]))
        metrics[f"completeness_{name}"] = (
            float(tp[k] / n_true_all[k]) if n_true_all[k] else float("nan")
        )
        metrics[f"reliability_{name}"] = float(tp[k] / n_pred[k]) if n_pred[k] else float("nan")
        metrics[f"threshold_{name}"] = thresholds[name]
        if n_true_all[k]:
            per_class.append(metrics[f"f1_{name}"])
    metrics["f1_any"] = f1(tp_any, int(n_pred.sum()), int(n_true_all.sum()))
    metrics["score"] = float(np.mean(per_class)) if per_class else metrics["f1_any"]
    return metrics, thresholds
