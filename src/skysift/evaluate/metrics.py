"""Completeness, reliability, F1, confusion matrix and science checks of detections on cutouts.

Counting rules
--------------
- Detections with ``score < score_threshold`` (or their class's ``score_thresholds`` entry), and
  those marked ``"reported": false`` (candidates below the detector's own thresholds, written
  for COCO mAP by ``predict-cutouts --candidates``), are dropped before anything else.
- Truth objects with peak S/N below the class's ``min_snr`` are *not counted*: they are left
  out of completeness, and a detection matched to one is neither true nor false (it is left out
  of reliability), like COCO's "ignore" objects. Truncated objects (cut by the cutout edge) are
  counted like the others; their flag is kept and tallied.
- Class-aware scores (per class): completeness = matched truths / truths of the class,
  reliability = matched detections / detections labelled with the class (matching by
  :func:`skysift.evaluate.matching.match_masks`, class-aware), F1 = 2 C R / (C + R).
- ``match = "position"`` (finders without measured masks): matching by
  :func:`skysift.evaluate.matching.match_positions` at the detection's reported ``x``/``y``
  (its mask centroid when absent or outside the cutout, see
  :func:`skysift.evaluate.pixels.match_position`); everything below is unchanged, except that
  the spurious outcome follows the class-agnostic position match instead of the best IoU.
- Class-agnostic scores ("any class"): the same with class-agnostic matching; the confusion
  matrix is built on it (rows: true class, plus ``no truth`` for unmatched detections;
  columns: predicted class, plus ``missed`` for unmatched truths).
- Completeness vs S/N is binned on the truth S/N; reliability vs S/N on the S/N of the
  detection measured on the cutout (:func:`skysift.evaluate.pixels.detection_snr`), for
  matched and unmatched detections alike.
- Multi-island association: a counted ``extended-multi`` truth with at least two visible
  islands is *found as one* when its class-agnostic match covers every island by at least
  ``island_min_fraction`` of the island's pixels.
- Spurious handling: a counted ``spurious`` truth is *flagged* when the detection of highest
  IoU with it (IoU >= threshold) is labelled ``spurious``, *reported as real* when that
  detection has another label, *missed* when there is none.
- Flux/position accuracy: counted ``compact`` truths with a class-agnostic match; flux and
  centroid measured in the detection mask on the raw cutout (:mod:`skysift.evaluate.pixels`),
  or the detection's own reported ``int_flux`` and ``x``/``y`` when it carries them (finder
  catalogues).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from skysift.evaluate.config import EvaluationConfig
from skysift.evaluate.matching import (
    iou_matrix,
    island_coverage,
    match_masks,
    match_positions,
    to_array,
)
from skysift.evaluate.pixels import (
    Cutout,
    centroid,
    detection_snr,
    integrated_flux,
    match_position,
    reported_flux,
    reported_position,
)

log = logging.getLogger(__name__)

MISSED = "missed"
NO_TRUTH = "no truth"


@dataclass
class TruthRecord:
    """One truth object (annotation) and how it was matched."""

    image_id: int
    annotation_id: int
    cls: str
    snr: float
    las_arcsec: float
    area: int
    truncated: bool
    counted: bool
    matched: bool = False
    matched_any: bool = False
    pred_class: str | None = None


@dataclass
class DetectionRecord:
    """One detection (score above threshold) and how it was matched."""

    image_id: int
    index: int
    cls: str
    score: float
    snr: float
    counted: bool = True
    matched: bool = False
    matched_any: bool = False


@dataclass
class Evaluation:
    """All per-object outcomes; the summaries are computed from these."""

    classes: list[str]
    config: EvaluationConfig
    truths: list[TruthRecord] = field(default_factory=list)
    detections: list[DetectionRecord] = field(default_factory=list)
    multi_island: list[dict[str, Any]] = field(default_factory=list)
    spurious: list[dict[str, Any]] = field(default_factory=list)
    compact: list[dict[str, Any]] = field(default_factory=list)


def _f1(c: float, r: float) -> float:
    return 2 * c * r / (c + r) if c + r > 0 else 0.0


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def score_image(
    evaluation: Evaluation,
    image_id: int,
    annotations: Sequence[Mapping[str, Any]],
    predictions: Sequence[tuple[int, Mapping[str, Any]]],
    cutout: Cutout | None,
) -> None:
    """Match one image's detections to its truth and append the outcomes to ``evaluation``.

    Parameters
    ----------
    annotations
        COCO annotations of the image (with the skysift science fields).
    predictions
        ``(index in the predictions file, COCO result)`` of the image, above the score cut.
    cutout
        Raw pixels for S/N, flux and position measurements (None: those are NaN / skipped).
    """
    classes, config = evaluation.classes, evaluation.config
    true_masks = [to_array(a["segmentation"]) for a in annotations]
    pred_masks = [to_array(p["segmentation"]) for _, p in predictions]
    true_cls = [classes[int(a["category_id"]) - 1] for a in annotations]
    pred_cls = [classes[int(p["category_id"]) - 1] for _, p in predictions]
    scores = [float(p["score"]) for _, p in predictions]
    counted = [
        not (_float(a.get("snr")) < config.min_snr_of(c))
        for a, c in zip(annotations, true_cls, strict=True)
    ]
    if config.match == "position":
        xy = [
            match_position(p, m, cutout) for (_, p), m in zip(predictions, pred_masks, strict=True)
        ]
        aware = match_positions(
            xy,
            true_masks,
            pred_labels=pred_cls,
            true_labels=true_cls,
            pred_scores=scores,
            class_aware=True,
        )
        agnostic = match_positions(xy, true_masks, pred_scores=scores, class_aware=False)
    else:
        aware = match_masks(
            pred_masks,
            true_masks,
            pred_labels=pred_cls,
            true_labels=true_cls,
            pred_scores=scores,
            iou_threshold=config.iou_threshold,
            class_aware=True,
        )
        agnostic = match_masks(
            pred_masks,
            true_masks,
            pred_scores=scores,
            iou_threshold=config.iou_threshold,
            class_aware=False,
        )
    aware_p2t, any_p2t, any_t2p = aware.pred_to_true, agnostic.pred_to_true, agnostic.true_to_pred
    aware_t2p = aware.true_to_pred
    for j, ann in enumerate(annotations):
        p_any = any_t2p.get(j)
        evaluation.truths.append(
            TruthRecord(
                image_id=image_id,
                annotation_id=int(ann["id"]),
                cls=true_cls[j],
                snr=_float(ann.get("snr")),
                las_arcsec=_float(ann.get("las_arcsec")),
                area=int(ann.get("area", true_masks[j].sum())),
                truncated=bool(ann.get("truncated", False)),
                counted=counted[j],
                matched=j in aware_t2p,
                matched_any=p_any is not None,
                pred_class=None if p_any is None else pred_cls[p_any],
            )
        )
    for i, (index, _) in enumerate(predictions):
        t_aware, t_any = aware_p2t.get(i), any_p2t.get(i)
        ignored = (t_aware is not None and not counted[t_aware]) or (
            t_aware is None and t_any is not None and not counted[t_any]
        )
        snr = detection_snr(cutout, pred_masks[i]) if cutout is not None else float("nan")
        evaluation.detections.append(
            DetectionRecord(
                image_id=image_id,
                index=index,
                cls=pred_cls[i],
                score=scores[i],
                snr=snr,
                counted=not ignored,
                matched=t_aware is not None and counted[t_aware],
                matched_any=t_any is not None and counted[t_any],
            )
        )
    ious = iou_matrix(pred_masks, true_masks) if config.match == "mask" else None
    for j, ann in enumerate(annotations):
        if not counted[j]:
            continue
        p_any = any_t2p.get(j)
        base = {
            "image_id": image_id,
            "annotation_id": int(ann["id"]),
            "snr": _float(ann.get("snr")),
            "truncated": bool(ann.get("truncated", False)),
        }
        if true_cls[j] == "extended-multi":
            covered, total = (0, 0)
            if p_any is not None:
                covered, total = island_coverage(
                    pred_masks[p_any], true_masks[j], min_fraction=config.island_min_fraction
                )
            else:
                total = island_coverage(true_masks[j], true_masks[j])[1]
            evaluation.multi_island.append(
                base
                | {
                    "islands": total,
                    "covered": covered,
                    "found_as_one": p_any is not None and covered == total,
                    "pred_class": None if p_any is None else pred_cls[p_any],
                }
            )
        if true_cls[j] == "spurious":
            outcome, best_class = "missed", None
            if config.match == "position":
                if p_any is not None:
                    best_class = pred_cls[p_any]
                    outcome = "flagged" if best_class == "spurious" else "reported_real"
            elif ious is not None and ious.shape[0]:
                best = int(np.argmax(ious[:, j]))
                if ious[best, j] >= config.iou_threshold:
                    best_class = pred_cls[best]
                    outcome = "flagged" if best_class == "spurious" else "reported_real"
            evaluation.spurious.append(base | {"outcome": outcome, "pred_class": best_class})
        if true_cls[j] == "compact" and p_any is not None and cutout is not None:
            pred = predictions[p_any][1]
            flux = reported_flux(pred)
            if flux is None:
                flux = integrated_flux(cutout, pred_masks[p_any])
            x, y = reported_position(pred) or centroid(cutout, pred_masks[p_any])
            dx, dy = x - _float(ann.get("x")), y - _float(ann.get("y"))
            true_flux = _float(ann.get("int_flux"))
            evaluation.compact.append(
                base
                | {
                    "int_flux": true_flux,
                    "measured_flux": flux,
                    "flux_ratio": flux / true_flux if true_flux else float("nan"),
                    "dx_pix": dx,
                    "dy_pix": dy,
                    "offset_pix": math.hypot(dx, dy),
                    "offset_arcsec": math.hypot(dx, dy) * cutout.pixel_scale_arcsec,
                }
            )


def evaluate_predictions(
    gt: Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
    *,
    classes: Sequence[str],
    config: EvaluationConfig | None = None,
    cutouts: Mapping[int, Cutout] | None = None,
) -> Evaluation:
    """Score COCO results against a COCO ground truth with skysift science fields.

    Parameters
    ----------
    gt
        COCO document (``images``, ``annotations`` with RLE masks, ``snr``, ``x``/``y`` in
        cutout pixels, ``int_flux`` Jy, ``las_arcsec``, ``truncated``).
    predictions
        COCO results (``image_id``, ``category_id``, ``score``, RLE ``segmentation``).
    classes
        Class names in category-id order (id = index + 1).
    config
        Thresholds and bins (defaults: :class:`EvaluationConfig`).
    cutouts
        Raw cutout per image id, for detection S/N and flux/position accuracy.
    """
    config = config or EvaluationConfig()
    evaluation = Evaluation(classes=list(classes), config=config)
    by_image_gt: dict[int, list[Mapping[str, Any]]] = {int(im["id"]): [] for im in gt["images"]}
    for ann in gt["annotations"]:
        by_image_gt[int(ann["image_id"])].append(ann)
    by_image_pred: dict[int, list[tuple[int, Mapping[str, Any]]]] = {k: [] for k in by_image_gt}
    cuts = [config.score_thresholds.get(name, config.score_threshold) for name in classes]
    for index, pred in enumerate(predictions):
        category = int(pred["category_id"])
        cut = cuts[category - 1] if 1 <= category <= len(cuts) else config.score_threshold
        if float(pred["score"]) >= cut and pred.get("reported", True) is not False:
            by_image_pred[int(pred["image_id"])].append((index, pred))
    for image_id in tqdm(sorted(by_image_gt), desc="matching", unit="image", disable=None):
        cutout = cutouts.get(image_id) if cutouts is not None else None
        score_image(evaluation, image_id, by_image_gt[image_id], by_image_pred[image_id], cutout)
    return evaluation


def _counts(truths: list[TruthRecord], dets: list[DetectionRecord], aware: bool) -> dict[str, Any]:
    n_true = len(truths)
    found = sum(t.matched if aware else t.matched_any for t in truths)
    n_det = len(dets)
    true_det = sum(d.matched if aware else d.matched_any for d in dets)
    c, r = _ratio(found, n_true), _ratio(true_det, n_det)
    f1 = _f1(c, r) if not (math.isnan(c) or math.isnan(r)) else float("nan")
    return {
        "n_true": n_true,
        "n_found": found,
        "completeness": c,
        "n_det": n_det,
        "n_det_true": true_det,
        "reliability": r,
        "f1": f1,
        "f1_x100": f1 * 100 if not math.isnan(f1) else float("nan"),
    }


def per_class_table(evaluation: Evaluation) -> list[dict[str, Any]]:
    """One row per class (class-aware), then ``all (class-aware)`` and ``any class`` rows.

    Each row: n_true, n_found, completeness, n_det, n_det_true, reliability, f1, f1_x100,
    n_truncated, completeness_truncated, and (per class) the classification precision and
    recall among class-agnostic matches.
    """
    truths = [t for t in evaluation.truths if t.counted]
    dets = [d for d in evaluation.detections if d.counted]
    rows = []
    for name in evaluation.classes:
        ct = [t for t in truths if t.cls == name]
        row = {"class": name} | _counts(ct, [d for d in dets if d.cls == name], aware=True)
        trunc = [t for t in ct if t.truncated]
        matched = [t for t in truths if t.matched_any]
        labelled = [t for t in matched if t.pred_class == name]
        of_class = [t for t in matched if t.cls == name]
        hits = sum(t.cls == name for t in labelled)
        row |= {
            "n_truncated": len(trunc),
            "completeness_truncated": _ratio(sum(t.matched for t in trunc), len(trunc)),
            "class_precision": _ratio(hits, len(labelled)),
            "class_recall": _ratio(hits, len(of_class)),
        }
        rows.append(row)
    rows.append({"class": "all (class-aware)"} | _counts(truths, dets, aware=True))
    rows.append({"class": "any class"} | _counts(truths, dets, aware=False))
    return rows


def _bin_index(value: float, edges: Sequence[float]) -> int | None:
    if not math.isfinite(value) or value < edges[0]:
        return None
    return int(np.searchsorted(edges, value, side="right")) - 1


def binned_table(
    evaluation: Evaluation, *, quantity: str = "snr", edges: Sequence[float] | None = None
) -> list[dict[str, Any]]:
    """Completeness (truth value) and reliability (detection S/N) per class and bin.

    Parameters
    ----------
    quantity
        ``"snr"`` (truth peak S/N; reliability on the measured detection S/N) or
        ``"las_arcsec"`` (truth largest angular size; completeness only).
    edges
        Lower bin edges; the last bin is open. Default from the config.

    Returns
    -------
    list of dict
        class, lo, hi (None = open), n_true, n_found, completeness, n_det, n_det_true,
        reliability; classes in config order then ``all (class-aware)``.
    """
    cfg = evaluation.config
    edges = list(
        edges
        if edges is not None
        else (cfg.snr_bins if quantity == "snr" else cfg.size_bins_arcsec)
    )
    truths = [t for t in evaluation.truths if t.counted]
    dets = [d for d in evaluation.detections if d.counted]
    rows = []
    for name in [*evaluation.classes, None]:
        ct = [t for t in truths if name is None or t.cls == name]
        cd = [d for d in dets if name is None or d.cls == name]
        for k, lo in enumerate(edges):
            hi = edges[k + 1] if k + 1 < len(edges) else None
            bt = [t for t in ct if _bin_index(getattr(t, quantity), edges) == k]
            bd = [d for d in cd if quantity == "snr" and _bin_index(d.snr, edges) == k]
            counts = _counts(bt, bd, aware=True)
            rows.append(
                {"class": name or "all (class-aware)", "lo": lo, "hi": hi}
                | {
                    key: counts[key]
                    for key in (
                        "n_true",
                        "n_found",
                        "completeness",
                        "n_det",
                        "n_det_true",
                        "reliability",
                    )
                }
            )
    return rows


def confusion_matrix(evaluation: Evaluation) -> dict[str, Any]:
    """Class-agnostic confusion matrix of counted objects.

    Returns
    -------
    dict
        ``rows`` (true classes + ``no truth``), ``columns`` (predicted classes + ``missed``),
        ``counts`` (int matrix, rows x columns).
    """
    classes = evaluation.classes
    rows, cols = [*classes, NO_TRUTH], [*classes, MISSED]
    counts = np.zeros((len(rows), len(cols)), dtype=int)
    for t in evaluation.truths:
        if t.counted:
            col = cols.index(t.pred_class) if t.matched_any and t.pred_class else len(classes)
            counts[rows.index(t.cls), col] += 1
    for d in evaluation.detections:
        if d.counted and not d.matched_any:
            counts[len(classes), cols.index(d.cls)] += 1
    return {"rows": rows, "columns": cols, "counts": counts.tolist()}


def multi_island_summary(evaluation: Evaluation) -> dict[str, Any]:
    """Fraction of extended-multi truths (>= 2 visible islands) found as ONE detection."""
    multi = [m for m in evaluation.multi_island if m["islands"] >= 2]
    found = [m for m in multi if m["found_as_one"]]
    return {
        "n": len(multi),
        "n_single_visible_island": len(evaluation.multi_island) - len(multi),
        "found_as_one": len(found),
        "fraction_found_as_one": _ratio(len(found), len(multi)),
        "fraction_found_as_one_correct_class": _ratio(
            sum(m["pred_class"] == "extended-multi" for m in found), len(multi)
        ),
        "n_truncated": sum(m["truncated"] for m in multi),
        "min_island_fraction": evaluation.config.island_min_fraction,
    }


def spurious_summary(evaluation: Evaluation) -> dict[str, Any]:
    """Fractions of spurious truths flagged, reported as a real class, or missed."""
    n = len(evaluation.spurious)
    out: dict[str, Any] = {"n": n}
    for outcome in ("flagged", "reported_real", "missed"):
        k = sum(s["outcome"] == outcome for s in evaluation.spurious)
        out[outcome] = k
        out[f"fraction_{outcome}"] = _ratio(k, n)
    return out


def compact_accuracy_summary(evaluation: Evaluation) -> dict[str, Any]:
    """Median flux ratio, its robust scatter (1.4826 MAD) and position offsets (pix, arcsec).

    Truncated sources are left out (their visible part is not their whole flux); they stay
    in the per-source list with their flag.
    """
    every = [c for c in evaluation.compact if math.isfinite(c["flux_ratio"])]
    rows = [c for c in every if not c["truncated"]]
    if not rows:
        return {"n": 0, "n_truncated_excluded": len(every)}
    ratio = np.array([c["flux_ratio"] for c in rows])
    offset = np.array([c["offset_pix"] for c in rows])
    arcsec = np.array([c["offset_arcsec"] for c in rows])
    med = float(np.median(ratio))
    return {
        "n": len(rows),
        "n_truncated_excluded": len(every) - len(rows),
        "flux_ratio_median": med,
        "flux_ratio_scatter": float(1.4826 * np.median(np.abs(ratio - med))),
        "offset_pix_median": float(np.median(offset)),
        "offset_pix_p68": float(np.percentile(offset, 68)),
        "offset_arcsec_median": float(np.median(arcsec)),
        "dx_pix_median": float(np.median([c["dx_pix"] for c in rows])),
        "dy_pix_median": float(np.median([c["dy_pix"] for c in rows])),
    }


def summary(evaluation: Evaluation) -> dict[str, Any]:
    """Everything, as a JSON-ready dictionary (NaN stays NaN; write with ``json_safe``)."""
    truths = evaluation.truths
    return {
        "config": evaluation.config.model_dump(),
        "classes": evaluation.classes,
        "n_truths": len(truths),
        "n_truths_counted": sum(t.counted for t in truths),
        "n_truths_truncated": sum(t.truncated for t in truths if t.counted),
        "n_detections": len(evaluation.detections),
        "n_detections_counted": sum(d.counted for d in evaluation.detections),
        "per_class": per_class_table(evaluation),
        "completeness_vs_snr": binned_table(evaluation, quantity="snr"),
        "completeness_vs_size": binned_table(evaluation, quantity="las_arcsec"),
        "confusion_matrix": confusion_matrix(evaluation),
        "multi_island": multi_island_summary(evaluation),
        "spurious": spurious_summary(evaluation),
        "compact_accuracy": compact_accuracy_summary(evaluation),
        "compact_sources": evaluation.compact,
        "truth_records": [asdict(t) for t in truths],
    }
