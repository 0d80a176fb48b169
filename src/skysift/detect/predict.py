"""Run a detector on a split of cutouts; COCO *results* (what ``COCO.loadRes`` accepts).

One result per detection: ``{"image_id", "category_id", "score", "segmentation": RLE of the mask
probability > 0.5, "bbox": [x, y, w, h]}`` in pixels of the cutout. Category ids are those of the
dataset's ``dataset.json`` (the class name is the link), so results and truth agree.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.models.detection import MaskRCNN
from tqdm import tqdm

from skysift.data.coco import encode_mask
from skysift.detect.checkpoint import load_detector
from skysift.detect.config import MASK_THRESHOLD
from skysift.detect.dataset import CutoutDataset, collate, read_dataset_info
from skysift.detect.thresholds import class_thresholds, label_thresholds, select_detections
from skysift.io.atomic import atomic_path

log = logging.getLogger(__name__)


def run_model(
    model: MaskRCNN,
    dataset: CutoutDataset,
    *,
    batch_size: int = 4,
    score_threshold: float | Sequence[float] = 0.5,
    device: torch.device | str = "cpu",
    progress: bool = True,
    one_per_place: bool = True,
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(image_id, detections)`` for every image of ``dataset`` (no augmentation).

    ``detections`` holds numpy arrays: ``boxes`` (N, 4) x1, y1, x2, y2 pixels, ``labels`` (N,)
    1..K in the model's classes, ``scores`` (N,), ``masks`` (N, H, W) bool (probability > 0.5);
    only detections with score >= ``score_threshold``: one number, or one per class in label
    order (K values), and with ``one_per_place`` none whose box overlaps a higher-scored kept one
    of another class (:func:`skysift.detect.thresholds.select_detections`; validation turns it
    off to choose the thresholds first). The model is left in eval mode.
    """
    n_classes = len(dataset.classes)
    cuts = np.broadcast_to(np.asarray(score_threshold, dtype=float), (n_classes,))
    per_label = np.array([np.inf, *cuts.tolist()])
    nms_iou = float(model.roi_heads.nms_thresh) if one_per_place else None
    model.eval()
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate,
        num_workers=0,
        generator=torch.Generator().manual_seed(0),  # leaves the global generator alone
    )
    with torch.inference_mode():
        for images, targets in tqdm(
            loader, desc=f"predict {dataset.split}", unit="batch", disable=not progress
        ):
            outputs = model([image.to(device) for image in images])
            for target, output in zip(targets, outputs, strict=True):
                keep = select_detections(
                    output["boxes"], output["labels"], output["scores"], per_label, nms_iou
                )
                yield (
                    int(target["image_id"]),
                    {
                        "boxes": output["boxes"][keep].cpu().numpy(),
                        "labels": output["labels"][keep].cpu().numpy(),
                        "scores": output["scores"][keep].cpu().numpy(),
                        "masks": (output["masks"][keep, 0] > MASK_THRESHOLD).cpu().numpy(),
                    },
                )


def coco_results(
    image_id: int,
    detections: dict[str, np.ndarray],
    category_ids: list[int],
    reported: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """COCO result entries of one image; ``category_ids[label - 1]`` maps model labels.

    ``reported`` (bool per detection), when given, becomes each entry's ``reported`` field.
    """
    results = []
    for i, (box, label, score, mask) in enumerate(
        zip(
            detections["boxes"],
            detections["labels"],
            detections["scores"],
            detections["masks"],
            strict=True,
        )
    ):
        x1, y1, x2, y2 = (float(v) for v in box)
        entry = {
            "image_id": image_id,
            "category_id": int(category_ids[int(label) - 1]),
            "score": float(score),
            "segmentation": encode_mask(mask),
            "bbox": [x1, y1, x2 - x1, y2 - y1],
        }
        if reported is not None:
            entry["reported"] = bool(reported[i])
        results.append(entry)
    return results


def reported_mask(
    detections: dict[str, np.ndarray], label_cuts: np.ndarray, nms_iou: float | None
) -> np.ndarray:
    """Which of ``detections`` the model reports at its thresholds (bool per detection)."""
    keep = select_detections(
        torch.as_tensor(detections["boxes"]),
        torch.as_tensor(detections["labels"]),
        torch.as_tensor(detections["scores"]),
        label_cuts,
        nms_iou,
    ).numpy()
    flags = np.zeros(len(detections["scores"]), dtype=bool)
    flags[keep] = True
    return flags


def predict_cutouts(
    model_path: str | Path,
    dataset_dir: str | Path,
    split: str,
    out_path: str | Path,
    *,
    batch_size: int = 4,
    score_threshold: float | None = None,
    candidates: float | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Predict a split and write COCO results JSON (atomically).

    Parameters
    ----------
    model_path
        Checkpoint from ``skysift train-detector``.
    dataset_dir
        Cutout dataset; its normalisation, classes, channels and size must equal the model's.
    split
        Split to predict.
    out_path
        Output JSON (a list of result dictionaries).
    batch_size
        Images per forward pass.
    score_threshold
        Minimum score of every class (default: the model's per-class thresholds,
        :func:`skysift.detect.thresholds.class_thresholds`).
    candidates
        Also write the detections down to this score that the model does not report (for
        COCO mAP), every entry with ``reported`` (true: the model's own output at its
        thresholds, what completeness and reliability count).
    device
        ``cpu`` or ``cuda``.

    Returns
    -------
    dict
        ``images``, ``detections`` (entries written), ``per_class`` counts of the reported ones
        and the threshold per class used.
    """
    info = read_dataset_info(dataset_dir)
    model, meta = load_detector(
        model_path,
        expect_normalisation=info.normalisation,
        expect_classes=info.classes,
        expect_in_channels=info.in_channels,
        expect_size_pix=info.size_pix,
        device=device,
    )
    thresholds = class_thresholds(meta, score_threshold)
    dataset = CutoutDataset(info.root, split, classes=meta["classes"])
    category_ids = [info.classes.index(name) + 1 for name in meta["classes"]]
    results: list[dict[str, Any]] = []
    cuts = [thresholds[name] for name in meta["classes"]]
    label_cuts = label_thresholds(thresholds, meta["classes"])
    nms_iou = float(model.roi_heads.nms_thresh)
    for image_id, detections in run_model(
        model,
        dataset,
        batch_size=batch_size,
        score_threshold=cuts if candidates is None else min(candidates, *cuts),
        one_per_place=candidates is None,
        device=device,
    ):
        if candidates is None:
            results.extend(coco_results(image_id, detections, category_ids))
            continue
        reported = reported_mask(detections, label_cuts, nms_iou)
        keep = reported | (detections["scores"] >= candidates)
        detections = {key: value[keep] for key, value in detections.items()}
        results.extend(coco_results(image_id, detections, category_ids, reported[keep]))
    with atomic_path(out_path) as tmp:
        tmp.write_text(json.dumps(results))
    per_class = {
        name: sum(r["category_id"] == category_ids[i] and r.get("reported", True) for r in results)
        for i, name in enumerate(meta["classes"])
    }
    log.info("%d detections on %d %s images -> %s", len(results), len(dataset), split, out_path)
    return {
        "images": len(dataset),
        "detections": len(results),
        "per_class": per_class,
        "score_thresholds": thresholds,
    }
