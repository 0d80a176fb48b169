"""Paste synthetic stamps into noise-only spots of training cutouts; write a COCO synthetic set.

A stamp is added (emission x the cutout's robust rms, Jy/beam) where no mask pixel of any object,
real or already pasted, lies within ``margin_pix`` of its footprint, and wholly inside the finite
pixels of the cutout. So the background of a synthetic cutout is the survey's own noise, untouched
outside the new masks. A modified cutout keeps its real annotations and gains the synthetic ones
(``synthetic: true``, negative ``object_id``). The output folder has the layout of a
``build-cutouts`` set with a ``train`` split only, so ``train-detector --extra-train`` takes it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy import ndimage

from skysift.data.coco import (
    coco_document,
    decode_mask,
    encode_mask,
    json_safe,
    mask_bbox,
    write_coco,
)
from skysift.data.cutouts import load_cutout
from skysift.diffusion.sample import Stamp
from skysift.diffusion.windows import snr_image
from skysift.errors import InputFileError
from skysift.io.atomic import atomic_dir
from skysift.io.header import beam_from_header, mean_pixel_scale_arcsec

log = logging.getLogger(__name__)


@dataclass
class CutoutCanvas:
    """A training cutout being filled: pixels, occupancy, rms, its annotations."""

    source: Path
    header: fits.Header
    image: np.ndarray
    occupied: np.ndarray
    rms: float
    beam_area_pix: float
    wcs: WCS
    annotations: list[dict[str, Any]]
    pasted: list[dict[str, Any]] = field(default_factory=list)


def read_cutout_fits(path: Path) -> tuple[np.ndarray, fits.Header, WCS, float]:
    """Pixels (Jy/beam), header, celestial WCS and beam area (pixels) of a cutout FITS."""
    data = load_cutout(path)
    header = fits.getheader(path)
    wcs = WCS(header, naxis=2)
    beam, _ = beam_from_header(header)
    if beam is None:
        raise InputFileError(path, "cutout without beam keywords (BMAJ/BMIN)")
    return data, header, wcs, beam.area_pixels(mean_pixel_scale_arcsec(wcs))


def load_canvases(dataset_dir: Path) -> list[CutoutCanvas]:
    """Every train cutout of a set, with its annotations (in file order)."""
    doc = json.loads((dataset_dir / "annotations" / "train.json").read_text())
    per_image: dict[int, list[dict[str, Any]]] = {int(im["id"]): [] for im in doc["images"]}
    for ann in doc["annotations"]:
        per_image[int(ann["image_id"])].append(ann)
    canvases = []
    for image in doc["images"]:
        path = dataset_dir / image["file_name"]
        data, header, wcs, beam_area = read_cutout_fits(path)
        anns = per_image[int(image["id"])]
        occupied = np.zeros(data.shape, dtype=bool)
        for ann in anns:
            occupied |= decode_mask(ann["segmentation"]).astype(bool)
        _, rms = snr_image(data, occupied)
        canvases.append(
            CutoutCanvas(
                path,
                header,
                data,
                occupied,
                rms,
                beam_area,
                wcs,
                anns,
            )
        )
    return canvases


def _overlap(
    shape: tuple[int, int], size: tuple[int, int], y0: int, x0: int
) -> tuple[slice, slice, slice, slice]:
    """Slices (cutout y, x; stamp y, x) of a stamp of ``size`` placed at (y0, x0), clipped."""
    (ch, cw), (h, w) = shape, size
    ya, yb, xa, xb = max(y0, 0), min(y0 + h, ch), max(x0, 0), min(x0 + w, cw)
    return slice(ya, yb), slice(xa, xb), slice(ya - y0, yb - y0), slice(xa - x0, xb - x0)


def _trimmed(stamp: Stamp) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(stamp.layout)
    y_lo, y_hi, x_lo, x_hi = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return stamp.snr[y_lo:y_hi, x_lo:x_hi], stamp.layout[y_lo:y_hi, x_lo:x_hi]


def paste(
    canvases: Sequence[CutoutCanvas],
    stamps: Sequence[Stamp],
    *,
    rng: np.random.Generator,
    margin_pix: int,
    max_tries: int,
    sources_per_cutout: int,
    min_visible_fraction: float = 1.0,
) -> list[bool]:
    """Paste each stamp at a random free spot of a random cutout; whether each found a place.

    A stamp may hang over the cutout edge when at least ``min_visible_fraction`` of every one of
    its objects stays inside; the visible part must be finite and clear of all masks (grown by
    ``margin_pix``).
    """
    placed = []
    for stamp in stamps:
        snr, layout = _trimmed(stamp)
        h, w = layout.shape
        grown = (
            ndimage.binary_dilation(layout > 0, iterations=margin_pix) if margin_pix else layout > 0
        )
        sizes = np.bincount(layout.ravel(), minlength=len(stamp.labels) + 1)[1:]
        ok = False
        for _ in range(max_tries):
            canvas = canvases[int(rng.integers(len(canvases)))]
            ch, cw = canvas.image.shape
            if canvas.rms <= 0 or len(canvas.pasted) >= sources_per_cutout:
                continue
            over_y, over_x = (
                int(h * (1 - min_visible_fraction)),
                int(w * (1 - min_visible_fraction)),
            )
            y_lo, y_hi = -min(over_y, h - 1), ch - h + min(over_y, h - 1)
            x_lo, x_hi = -min(over_x, w - 1), cw - w + min(over_x, w - 1)
            if y_hi < y_lo or x_hi < x_lo:
                continue
            y0, x0 = int(rng.integers(y_lo, y_hi + 1)), int(rng.integers(x_lo, x_hi + 1))
            cy, cx, sy, sx = _overlap((ch, cw), (h, w), y0, x0)
            part = layout[sy, sx]
            visible = np.bincount(part.ravel(), minlength=len(stamp.labels) + 1)[1:]
            if (visible < min_visible_fraction * sizes).any():
                continue
            window = canvas.image[cy, cx]
            if (
                not np.isfinite(window[part > 0]).all()
                or (canvas.occupied[cy, cx] & grown[sy, sx]).any()
            ):
                continue
            window += (snr[sy, sx] * canvas.rms).astype(np.float32)
            canvas.occupied[cy, cx] |= part > 0
            for number, label in enumerate(stamp.labels, start=1):
                full = np.zeros(canvas.image.shape, dtype=bool)
                full[cy, cx] = part == number
                emission = np.zeros(canvas.image.shape, dtype=np.float32)
                emission[cy, cx] = np.where(part == number, snr[sy, sx], 0.0)
                canvas.pasted.append(
                    {
                        "mask": full,
                        "label": label,
                        "snr": emission,
                        "visible_fraction": float(visible[number - 1] / sizes[number - 1]),
                    }
                )
            ok = True
            break
        placed.append(ok)
    return placed


def synthetic_annotation(
    piece: dict[str, Any], canvas: CutoutCanvas, classes: Sequence[str], generator: str
) -> dict[str, Any]:
    """COCO annotation of one pasted object with its science fields (fluxes Jy, S/N)."""
    mask, snr = piece["mask"], piece["snr"]
    jy = snr * canvas.rms
    total = float(jy[mask].sum())
    ys, xs = np.nonzero(mask)
    weights = np.clip(jy[mask], 0, None)
    if weights.sum() > 0:
        y, x = float(np.average(ys, weights=weights)), float(np.average(xs, weights=weights))
    else:
        y, x = float(ys.mean()), float(xs.mean())
    ra, dec = (float(v) for v in canvas.wcs.pixel_to_world_values(x, y))
    return {
        "category_id": piece["label"] + 1,
        "segmentation": encode_mask(mask),
        "area": int(mask.sum()),
        "bbox": mask_bbox(mask),
        "iscrowd": 0,
        "class": classes[piece["label"]],
        "x": x,
        "y": y,
        "ra": ra,
        "dec": dec,
        "peak_flux": float(jy[mask].max()),
        "int_flux": total / canvas.beam_area_pix,
        "snr": float(snr[mask].max()),
        "n_islands": int(ndimage.label(mask)[1]),
        "truncated": piece["visible_fraction"] < 1.0,
        "visible_fraction": piece["visible_fraction"],
        "map": canvas.header.get("MAPNAME"),
        "synthetic": True,
        "generator": generator,
    }


def write_synthetic_set(
    canvases: Sequence[CutoutCanvas],
    out_dir: str | Path,
    *,
    source_dataset: Path,
    classes: Sequence[str],
    generator: str,
    provenance: dict[str, Any],
    overwrite: bool = False,
    figure: Callable[[Path], Any] | None = None,
) -> dict[str, Any]:
    """Write the modified cutouts and their annotations as a one-split COCO set; its counts.

    ``figure(folder)`` may add files to the folder before it is renamed into place.
    """
    source_doc = json.loads((source_dataset / "dataset.json").read_text())
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    per_class = dict.fromkeys(classes, 0)
    synthetic = dict.fromkeys(classes, 0)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        (tmp / "images" / "train").mkdir(parents=True)
        for canvas in canvases:
            if not canvas.pasted:
                continue
            image_id = len(images) + 1
            name = f"images/train/{canvas.source.stem}_syn.fits"
            header = canvas.header.copy()
            header["SYNTHET"] = (len(canvas.pasted), "objects added by skysift sample-diffusion")
            header["SYNGEN"] = (generator, "generator of the added objects")
            fits.PrimaryHDU(data=canvas.image, header=header).writeto(tmp / name)
            h, w = canvas.image.shape
            images.append({"id": image_id, "file_name": name, "height": h, "width": w})
            for ann in canvas.annotations:
                real = dict(ann, id=len(annotations) + 1, image_id=image_id)
                annotations.append(real)
                per_class[real["class"]] += 1
            for piece in canvas.pasted:
                ann = synthetic_annotation(piece, canvas, classes, generator)
                ann.update(
                    id=len(annotations) + 1, image_id=image_id, object_id=-(len(annotations) + 1)
                )
                annotations.append(json_safe(ann))
                per_class[ann["class"]] += 1
                synthetic[ann["class"]] += 1
        write_coco(
            tmp / "annotations" / "train.json",
            coco_document(
                images, annotations, classes, description=f"skysift synthetic ({generator})"
            ),
        )
        counts = {
            "train": {
                "images": len(images),
                "annotations": len(annotations),
                "objects_per_class": per_class,
                "synthetic_per_class": synthetic,
            }
        }
        doc = {
            key: source_doc[key]
            for key in ("classes", "size_pix", "normalisation", "pixel_unit")
            if key in source_doc
        }
        doc.update(
            splits=["train"],
            counts=counts,
            synthetic={"generator": generator, "source_dataset": str(source_dataset), **provenance},
        )
        (tmp / "dataset.json").write_text(json.dumps(json_safe(doc), indent=1))
        if figure is not None:
            figure(tmp)
    return counts
