"""Validation score of the training loop: per-class F1 at mask IoU >= 0.5 on the val split.

A small internal greedy matcher (descending score, each truth used once, class-aware) keeps the
training loop independent of the evaluation package; the reported science numbers come from
``skysift evaluate-detector`` and its one matcher (:mod:`skysift.evaluate.matching`).
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN

from skysift.detect.dataset import CutoutDataset
from skysift.detect.predict import run_model


def mask_iou(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """IoU matrix (P, T) between boolean masks pred (P, H, W) and true (T, H, W)."""
    pixels = int(np.prod(pred.shape[1:])) if pred.ndim == 3 else int(np.prod(true.shape[1:]))
    p = pred.reshape(len(pred), pixels).astype(np.float32)
    t = true.reshape(len(true), pixels).astype(np.float32)
    inter = p @ t.T
    union = p.sum(1)[:, None] + t.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def greedy_match(
    iou: np.ndarray,
    pred_labels: np.ndarray,
    true_labels: np.ndarray,
    pred_scores: np.ndarray,
    *,
    iou_threshold: float,
    class_aware: bool = True,
) -> list[tuple[int, int]]:
    """Pairs (pred, true): predictions by descending score take their best free truth."""
    pairs: list[tuple[int, int]] = []
    used = np.zeros(iou.shape[1], dtype=bool)
    for p in np.argsort(-pred_scores, kind="stable"):
        candidates = iou[p].copy()
        candidates[used] = -1
        if class_aware:
            candidates[true_labels != pred_labels[p]] = -1
        if candidates.size == 0:
            continue
        t = int(np.argmax(candidates))
        if candidates[t] >= iou_threshold:
            used[t] = True
            pairs.append((int(p), t))
    return pairs


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
) -> dict[str, float]:
    """Per-class completeness, reliability and F1, their mean (the score) and class-agnostic F1.

    Returns
    -------
    dict
        ``score`` (mean F1 over classes with truth in the split), ``f1_<class>``,
        ``completeness_<class>``, ``reliability_<class>``, ``f1_any`` (class-agnostic).
    """
    n_classes = len(dataset.classes)
    tp = np.zeros(n_classes + 1, dtype=int)
    n_pred = np.zeros(n_classes + 1, dtype=int)
    n_true = np.zeros(n_classes + 1, dtype=int)
    tp_any = 0
    records = {record.image_id: index for index, record in enumerate(dataset.records)}
    for image_id, det in run_model(
        model,
        dataset,
        batch_size=batch_size,
        score_threshold=score_threshold,
        device=device,
        progress=False,
    ):
        _, target = dataset[records[image_id]]
        true_masks = target["masks"].numpy().astype(bool)
        true_labels = target["labels"].numpy()
        iou = mask_iou(det["masks"], true_masks)
        for _, t in greedy_match(
            iou, det["labels"], true_labels, det["scores"], iou_threshold=iou_threshold
        ):
            tp[true_labels[t]] += 1
        tp_any += len(
            greedy_match(
                iou,
                det["labels"],
                true_labels,
                det["scores"],
                iou_threshold=iou_threshold,
                class_aware=False,
            )
        )
        n_pred += np.bincount(det["labels"], minlength=n_classes + 1)[: n_classes + 1]
        n_true += np.bincount(true_labels, minlength=n_classes + 1)[: n_classes + 1]
    metrics: dict[str, float] = {}
    scores = []
    for k, name in enumerate(dataset.classes, start=1):
        metrics[f"f1_{name}"] = f1(int(tp[k]), int(n_pred[k]), int(n_true[k]))
        metrics[f"completeness_{name}"] = float(tp[k] / n_true[k]) if n_true[k] else float("nan")
        metrics[f"reliability_{name}"] = float(tp[k] / n_pred[k]) if n_pred[k] else float("nan")
        if n_true[k]:
            scores.append(metrics[f"f1_{name}"])
    metrics["f1_any"] = f1(tp_any, int(n_pred.sum()), int(n_true.sum()))
    metrics["score"] = float(np.mean(scores)) if scores else metrics["f1_any"]
    return metrics
