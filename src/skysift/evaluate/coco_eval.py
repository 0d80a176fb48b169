"""COCO mAP@0.5 and mAP@[.5:.95] (segm and bbox), overall and per class, via pycocotools.

All predictions enter (no score cut: average precision integrates over the score ranking).
pycocotools' console output is captured and logged at DEBUG level.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _quiet() -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    buffer = io.StringIO()
    stack.enter_context(contextlib.redirect_stdout(buffer))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.callback(lambda: log.debug("pycocotools: %s", buffer.getvalue()))
    return stack


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else float("nan")


def coco_map(
    gt: Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
    *,
    classes: Sequence[str],
    iou_types: Sequence[str] = ("segm", "bbox"),
    max_dets: int = 100,
) -> dict[str, Any]:
    """Mean average precision of COCO results against a COCO ground truth.

    Parameters
    ----------
    gt
        COCO document (``images``, ``annotations`` with ``area``/``iscrowd``, ``categories``).
    predictions
        COCO results list (may be empty: every AP is then 0).
    classes
        Class names in category-id order (id = index + 1).
    iou_types
        ``"segm"`` (mask IoU) and/or ``"bbox"``.
    max_dets
        Detections per image considered (pycocotools' largest maxDets).

    Returns
    -------
    dict
        Per IoU type: ``map_50``, ``map_50_95`` and ``per_class`` {class: {ap_50, ap_50_95,
        n_true}}; NaN where a class has no truth object.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    document = copy.deepcopy(dict(gt))
    document.setdefault("info", {})
    document.setdefault("licenses", [])
    n_true = {name: 0 for name in classes}
    for ann in document["annotations"]:
        n_true[classes[int(ann["category_id"]) - 1]] += 1
    results: dict[str, Any] = {}
    for iou_type in iou_types:
        if not predictions or not document["annotations"]:
            results[iou_type] = {
                "map_50": 0.0 if document["annotations"] else float("nan"),
                "map_50_95": 0.0 if document["annotations"] else float("nan"),
                "per_class": {
                    name: {
                        "ap_50": 0.0 if n_true[name] else float("nan"),
                        "ap_50_95": 0.0 if n_true[name] else float("nan"),
                        "n_true": n_true[name],
                    }
                    for name in classes
                },
            }
            continue
        with _quiet():
            coco_gt = COCO()
            coco_gt.dataset = copy.deepcopy(document)
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes([dict(p) for p in predictions])
            evaluator = COCOeval(coco_gt, coco_dt, iouType=iou_type)
            evaluator.params.maxDets = [1, 10, max_dets]
            evaluator.evaluate()
            evaluator.accumulate()
        # precision: [T iou thresholds, R recall points, K classes, A areas, M maxDets]
        precision = np.asarray(evaluator.eval["precision"])
        cat_ids = list(evaluator.params.catIds)
        per_class = {}
        for name_index, name in enumerate(classes):
            k = cat_ids.index(name_index + 1)
            per_class[name] = {
                "ap_50": _mean_valid(precision[0, :, k, 0, -1]),
                "ap_50_95": _mean_valid(precision[:, :, k, 0, -1]),
                "n_true": n_true[name],
            }
        results[iou_type] = {
            "map_50": _mean_valid(precision[0, :, :, 0, -1]),
            "map_50_95": _mean_valid(precision[:, :, :, 0, -1]),
            "per_class": per_class,
        }
    return results
