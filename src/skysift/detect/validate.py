"""Validation score of the training loop: per-class F1 at mask IoU >= 0.5 on the val split.

Matches with the project's one matcher (:func:`skysift.evaluate.matching.match_masks`), so the
validation score that picks the best checkpoint counts exactly as ``skysift evaluate-detector``
does (before its S/N cuts, which need the science fields).
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN

from skysift.detect.dataset import CutoutDataset
from skysift.detect.predict import run_model
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
        pred_masks = list(det["masks"].astype(bool))
        for class_aware in (True, False):
            result = match_masks(
                pred_masks,
                list(true_masks),
                pred_labels=det["labels"],
                true_labels=true_labels,
                pred_scores=det["scores"],
                iou_threshold=iou_threshold,
                class_aware=class_aware,
            )
            if class_aware:
                for _, t, _ in result.pairs:
                    tp[true_labels[t]] += 1
            else:
                tp_any += len(result.pairs)
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
