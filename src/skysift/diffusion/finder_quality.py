"""Synthetic and real sources as a traditional finder (PyBDSF) sees them.

Per object (an annotation mask of a cutout), after PyBDSF ran on the whole cutout:
- found: one or more of PyBDSF's sources have island pixels inside the mask;
- flux: the sum of those sources' ``Total_flux`` (Jy);
- size: their island pixels (pixels);
- IoU of those islands with the mask (0 when not found).
The same measure on synthetic and on real cutouts says whether generated sources look, to the tool
astronomers use, like real ones: as often found, as bright, as large, as well outlined.

PyBDSF takes 2-20 s per 128-px cutout (more for crowded ones), so only a sample of cutouts is
measured: per class, up to ``cutouts_per_class`` cutouts that hold an object of it (synthetic
objects only, for a synthetic set).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from skysift.baselines.config import PyBDSFConfig
from skysift.data.coco import decode_mask

log = logging.getLogger(__name__)


def measure_masks(
    segmentation: np.ndarray, int_flux_jy: dict[int, float], masks: list[np.ndarray]
) -> list[dict[str, Any]]:
    """Found / flux (Jy) / size (pixels) / IoU of each mask against a finder's segmentation.

    Parameters
    ----------
    segmentation
        Shape (ny, nx), int: the finder's source id per pixel, 0 outside its islands.
    int_flux_jy
        Integrated flux (Jy) per source id.
    masks
        Boolean masks on the same grid, one per object.
    """
    rows = []
    for mask in masks:
        ids = np.unique(segmentation[mask])
        ids = ids[ids > 0]
        island = np.isin(segmentation, ids)
        union = int((island | mask).sum())
        rows.append(
            {
                "found": bool(len(ids)),
                "flux": float(sum(int_flux_jy[int(i)] for i in ids)) if len(ids) else math.nan,
                "size": int(island.sum()),
                "iou": float((island & mask).sum() / union) if union else 0.0,
            }
        )
    return rows


def run_finder_on_cutout(
    path: Path, masks: list[np.ndarray], settings: PyBDSFConfig
) -> list[dict[str, Any]]:
    """PyBDSF on one cutout FITS (Jy/beam, WCS, beam keywords); :func:`measure_masks` of it."""
    from skysift.baselines.pybdsf import run_pybdsf
    from skysift.io.fits_map import read_map

    radio_map = read_map(path)
    with tempfile.TemporaryDirectory(prefix="skysift-finder-quality-") as tmp:
        result = run_pybdsf(
            radio_map,
            tmp,
            thresh_isl=settings.thresh_isl,
            thresh_pix=settings.thresh_pix,
            rms_box=settings.rms_box,
            ncores=settings.ncores,
            map_path=path,
        )
    fluxes = {int(r["id"]): float(r["int_flux"]) for r in result.catalogue}
    return measure_masks(np.asarray(result.segmentation), fluxes, masks)


def chosen_images(
    per_image: dict[int, list[dict[str, Any]]], cutouts_per_class: int, seed: int
) -> list[int]:
    """Image ids to measure: per class (sorted), up to ``cutouts_per_class`` random images that
    hold an object of it, drawn with ``seed``; the union, sorted."""
    holding: dict[str, list[int]] = {}
    for image_id, anns in sorted(per_image.items()):
        for name in sorted({str(a["class"]) for a in anns}):
            holding.setdefault(name, []).append(image_id)
    rng = np.random.default_rng(seed)
    chosen: set[int] = set()
    for name in sorted(holding):
        ids = holding[name]
        order = rng.permutation(len(ids))[:cutouts_per_class]
        chosen.update(ids[i] for i in order)
    return sorted(chosen)


def finder_objects(
    dataset: Path,
    *,
    synthetic_only: bool,
    settings: PyBDSFConfig,
    cutouts_per_class: int,
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """PyBDSF's view of the train objects of a cutout set (synthetic ones only if asked).

    Returns the per-object rows (class, synthetic, the annotation's truth_flux (Jy), snr and
    truncated flag where it has them, then found, flux (Jy), size (pix), iou) and a summary
    (cutouts measured, wall seconds).
    """
    doc = json.loads((dataset / "annotations" / "train.json").read_text())
    files = {int(im["id"]): str(im["file_name"]) for im in doc["images"]}
    per_image: dict[int, list[dict[str, Any]]] = {}
    for ann in doc["annotations"]:
        if synthetic_only and not ann.get("synthetic"):
            continue
        per_image.setdefault(int(ann["image_id"]), []).append(ann)
    images = chosen_images(per_image, cutouts_per_class, seed)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for done, image_id in enumerate(images, start=1):
        anns = per_image[image_id]
        masks = [decode_mask(a["segmentation"]).astype(bool) for a in anns]
        measured = run_finder_on_cutout(dataset / files[image_id], masks, settings)
        for ann, row in zip(anns, measured, strict=True):
            rows.append(
                {
                    "class": ann["class"],
                    "synthetic": bool(ann.get("synthetic")),
                    "truth_flux": ann.get("int_flux"),
                    "snr": ann.get("snr"),
                    "truncated": bool(ann.get("truncated")),
                    **row,
                }
            )
        if done % 10 == 0 or done == len(images):
            log.info(
                "PyBDSF on %s: %d/%d cutouts, %.0f s",
                dataset.name,
                done,
                len(images),
                time.perf_counter() - started,
            )
    return rows, {"cutouts": len(images), "wall_s": time.perf_counter() - started}


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def finder_columns(
    fake: list[dict[str, Any]], real: list[dict[str, Any]], name: str
) -> dict[str, Any]:
    """Columns of one class's quality row: PyBDSF's view, synthetic beside real objects."""
    f = [x for x in fake if x["class"] == name]
    r = [x for x in real if x["class"] == name]
    f_found = [x for x in f if x["found"]]
    r_found = [x for x in r if x["found"]]
    row: dict[str, Any] = {
        "finder_n_synthetic": len(f),
        "finder_n_real": len(r),
        "finder_found_synthetic": float(np.mean([x["found"] for x in f])) if f else None,
        "finder_found_real": float(np.mean([x["found"] for x in r])) if r else None,
        "finder_iou_synthetic": _median([x["iou"] for x in f]),
        "finder_iou_real": _median([x["iou"] for x in r]),
        "finder_flux_median_synthetic_mjy": _median([1e3 * x["flux"] for x in f_found]),
        "finder_flux_median_real_mjy": _median([1e3 * x["flux"] for x in r_found]),
        "finder_size_median_synthetic_pix": _median([x["size"] for x in f_found]),
        "finder_size_median_real_pix": _median([x["size"] for x in r_found]),
        "finder_flux_ks": None,
        "finder_size_ks": None,
    }
    if len(f_found) >= 2 and len(r_found) >= 2:
        for key in ("flux", "size"):
            row[f"finder_{key}_ks"] = float(
                stats.ks_2samp([x[key] for x in f_found], [x[key] for x in r_found]).statistic
            )
    return row
