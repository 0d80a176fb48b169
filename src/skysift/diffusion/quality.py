"""Quality of a synthetic set against the real objects of its source set.

Per class, for synthetic and for real (train split) objects alike, measured on the final cutout:
- mask obedience: IoU between the object's mask and the 3-sigma island(s) of the image that touch
  it (pixels >= ``island_snr`` x the cutout's robust rms, connected, overlapping the mask);
- flux (sum of Jy/beam inside the mask / beam area, Jy) and size (mask pixels), compared by the
  two-sample KS statistic;
- background: robust rms outside all masks of each synthetic cutout / that of its source cutout
  (1 = the noise is untouched);
- optionally the Frechet distance between backbone features (an SSL ``backbone.pt``) of windows
  centred on synthetic objects and on held-out real ones (val + test splits), beside the distance
  between real train and held-out windows (the floor set by sampling alone);
- with the same features, a classifier's accuracy on the generated samples: a logistic regression
  fitted to the real train windows of every class, its recall per class on the synthetic windows
  beside its recall on the held-out real ones (how often a synthetic source looks like its class
  to a model that only saw real ones).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import linalg, ndimage, stats

from skysift.data.coco import decode_mask
from skysift.data.cutouts import load_cutout
from skysift.diffusion.compose import read_cutout_fits
from skysift.diffusion.windows import crop, snr_image


def island_iou(image: np.ndarray, mask: np.ndarray, rms: float, island_snr: float) -> float:
    """IoU of ``mask`` and the islands above ``island_snr`` x ``rms`` that overlap it."""
    above = np.nan_to_num(image, nan=0.0) >= island_snr * rms
    labelled, _ = ndimage.label(above)
    touching = np.unique(labelled[mask & above])
    island = np.isin(labelled, touching[touching > 0])
    union = (island | mask).sum()
    return float((island & mask).sum() / union) if union else 0.0


def _objects(dataset: Path, split: str, *, synthetic_only: bool) -> list[dict[str, Any]]:
    """Measured objects of one split: class, iou, flux (Jy), size (pix), window (raw pixels)."""
    path = dataset / "annotations" / f"{split}.json"
    if not path.is_file():
        return []
    doc = json.loads(path.read_text())
    files = {int(im["id"]): im["file_name"] for im in doc["images"]}
    per_image: dict[int, list[dict[str, Any]]] = {}
    for ann in doc["annotations"]:
        per_image.setdefault(int(ann["image_id"]), []).append(ann)
    rows = []
    for image_id, anns in per_image.items():
        image, _, _, beam_area = read_cutout_fits(dataset / files[image_id])
        masks = [decode_mask(a["segmentation"]).astype(bool) for a in anns]
        _, rms = snr_image(image, np.any(masks, axis=0))
        for ann, mask in zip(anns, masks, strict=True):
            if synthetic_only and not ann.get("synthetic"):
                continue
            ys, xs = np.nonzero(mask)
            cy, cx = (ys.min() + ys.max() + 1) // 2, (xs.min() + xs.max() + 1) // 2
            rows.append(
                {
                    "class": ann["class"],
                    "synthetic": bool(ann.get("synthetic", False)),
                    "iou": island_iou(image, mask, rms, 3.0) if rms > 0 else 0.0,
                    "flux": float(np.nansum(image[mask]) / beam_area),
                    "size": int(mask.sum()),
                    "window": crop(np.nan_to_num(image), cy, cx, 64),
                    "image": files[image_id],
                }
            )
    return rows


def background_ratios(synthetic: Path, source: Path) -> list[float]:
    """Per synthetic cutout: robust rms outside all its masks / that of its source cutout."""
    doc = json.loads((synthetic / "annotations" / "train.json").read_text())
    per_image: dict[int, list[np.ndarray]] = {}
    for ann in doc["annotations"]:
        per_image.setdefault(int(ann["image_id"]), []).append(
            decode_mask(ann["segmentation"]).astype(bool)
        )
    ratios = []
    for image in doc["images"]:
        new = load_cutout(synthetic / image["file_name"])
        name = Path(image["file_name"]).name.replace("_syn.fits", ".fits")
        old = load_cutout(source / "images" / "train" / name)
        masks = np.any(per_image.get(int(image["id"]), [np.zeros(new.shape, bool)]), axis=0)
        _, rms_new = snr_image(new, masks)
        _, rms_old = snr_image(old, masks)
        if rms_old > 0:
            ratios.append(rms_new / rms_old)
    return ratios


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, D)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    root = np.real(root)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))


def backbone_features(backbone_path: Path, windows: Sequence[np.ndarray]) -> np.ndarray:
    """Pooled features of raw windows through an SSL backbone file and its preprocessing."""
    import torch

    from skysift.ssl.checkpoint import load_backbone, preprocess_of

    backbone, meta = load_backbone(backbone_path)
    preprocess = preprocess_of(meta)
    with torch.inference_mode():
        batch = preprocess.batch(np.stack(windows).astype(np.float32))
        return backbone(batch).flatten(1).numpy().astype(np.float64)


def classifier_recall(
    train_features: np.ndarray,
    train_classes: Sequence[str],
    features: np.ndarray,
    classes: Sequence[str],
) -> dict[str, float]:
    """Per-class recall on ``features`` of a classifier fitted to the train features.

    A class-balanced logistic regression on standardised features (deterministic); the
    classes of ``classes`` it never saw in training count as misses.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(train_classes)) < 2 or len(classes) == 0:
        return {}
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")
    )
    model.fit(train_features, np.asarray(train_classes))
    predicted = model.predict(features)
    truth = np.asarray(classes)
    return {
        str(name): float(np.mean(predicted[truth == name] == name)) for name in np.unique(truth)
    }


def quality_rows(
    synthetic: Path, source: Path, classes: Sequence[str], *, backbone: Path | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-class rows (synthetic vs real) and an overall summary of one synthetic set."""
    fake = _objects(synthetic, "train", synthetic_only=True)
    real = _objects(source, "train", synthetic_only=False)
    rows = []
    for name in classes:
        f = [r for r in fake if r["class"] == name]
        r = [r for r in real if r["class"] == name]
        if not f:
            continue
        row: dict[str, Any] = {
            "class": name,
            "n_synthetic": len(f),
            "n_real": len(r),
            "iou_synthetic": float(np.median([x["iou"] for x in f])),
            "iou_real": float(np.median([x["iou"] for x in r])) if r else None,
            "flux_median_synthetic_mjy": 1e3 * float(np.median([x["flux"] for x in f])),
            "flux_median_real_mjy": 1e3 * float(np.median([x["flux"] for x in r])) if r else None,
            "size_median_synthetic_pix": float(np.median([x["size"] for x in f])),
            "size_median_real_pix": float(np.median([x["size"] for x in r])) if r else None,
        }
        if len(r) >= 2 and len(f) >= 2:
            row["flux_ks"] = float(
                stats.ks_2samp([x["flux"] for x in f], [x["flux"] for x in r]).statistic
            )
            row["size_ks"] = float(
                stats.ks_2samp([x["size"] for x in f], [x["size"] for x in r]).statistic
            )
        rows.append(row)
    ratios = background_ratios(synthetic, source)
    summary: dict[str, Any] = {
        "synthetic_objects": len(fake),
        "cutouts": len(ratios),
        "background_rms_ratio_median": float(np.median(ratios)) if ratios else None,
        "background_rms_ratio_range": [float(min(ratios)), float(max(ratios))] if ratios else None,
        "iou_synthetic_all": float(np.median([x["iou"] for x in fake])) if fake else None,
    }
    if backbone is not None:
        _backbone_measures(backbone, source, fake, real, rows, summary)
    return rows, summary


def _backbone_measures(
    backbone: Path,
    source: Path,
    fake: list[dict[str, Any]],
    real: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    summary: dict[str, Any],
) -> None:
    """Frechet distances and the classifier's recall (added to ``rows`` and ``summary``)."""
    kept = {row["class"] for row in rows}
    held = [w for split in ("val", "test") for w in _objects(source, split, synthetic_only=False)]
    if len(held) < 2 or len(fake) < 2 or len(real) < 2:
        return
    feats_fake = backbone_features(backbone, [x["window"] for x in fake])
    feats_real = backbone_features(backbone, [x["window"] for x in real])
    feats_held = backbone_features(backbone, [x["window"] for x in held])
    held_kept = np.array([w["class"] in kept for w in held])
    real_kept = np.array([w["class"] in kept for w in real])
    if held_kept.sum() >= 2:
        summary["frechet_synthetic_vs_heldout"] = frechet_distance(
            feats_fake, feats_held[held_kept]
        )
        summary["frechet_real_train_vs_heldout"] = frechet_distance(
            feats_real[real_kept], feats_held[held_kept]
        )
        summary["frechet_n"] = {
            "synthetic": len(fake),
            "heldout": int(held_kept.sum()),
            "train": int(real_kept.sum()),
        }
    real_classes = [x["class"] for x in real]
    on_fake = classifier_recall(feats_real, real_classes, feats_fake, [x["class"] for x in fake])
    on_held = classifier_recall(feats_real, real_classes, feats_held, [x["class"] for x in held])
    for row in rows:
        row["classifier_recall_synthetic"] = on_fake.get(row["class"])
        row["classifier_recall_heldout"] = on_held.get(row["class"])
        row["n_heldout"] = sum(w["class"] == row["class"] for w in held)
    summary["classifier_recall_synthetic_mean"] = (
        float(np.mean(list(on_fake.values()))) if on_fake else None
    )
    summary["classifier_recall_heldout_mean"] = (
        float(np.mean([on_held[c] for c in on_fake if c in on_held])) if on_fake else None
    )
