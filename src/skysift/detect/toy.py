"""A toy cutout dataset (same layout as ``skysift build-cutouts``) for tests and benchmarks.

Sources are Gaussians on white noise: ``compact`` round (sigma 1.5 px), ``extended`` elongated
(sigma 5 x 2 px, random angle); masks are where the noiseless model exceeds 3 x the noise rms.
Not a simulation of the radio sky (see :mod:`skysift.sky` for that): a quick, exact input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from skysift.data.coco import coco_document, encode_mask, mask_bbox, write_coco
from skysift.data.config import NormalisationSpec

#: Noise rms of the toy cutouts, Jy/beam.
TOY_RMS = 1e-4


def _gaussian(size: int, x: float, y: float, sx: float, sy: float, angle: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    c, s = np.cos(angle), np.sin(angle)
    u = (xx - x) * c + (yy - y) * s
    v = -(xx - x) * s + (yy - y) * c
    return np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))


def make_toy_dataset(
    root: str | Path,
    *,
    size: int = 64,
    images_per_split: Sequence[int] = (6, 2, 2),
    sources_per_image: int = 3,
    classes: Sequence[str] = ("compact", "extended"),
    normalisation: NormalisationSpec | None = None,
    seed: int = 0,
) -> Path:
    """Write a toy dataset into ``root`` and return it.

    Parameters
    ----------
    root
        Output folder (created).
    size
        Cutout side, pixels.
    images_per_split
        Number of cutouts in train, val, test.
    sources_per_image
        Sources per cutout; class ``i % 2`` of ``classes`` (compact, extended shapes).
    classes
        Class names in category-id order (at least one).
    normalisation
        Spec written to ``dataset.json`` (default: one zscale channel).
    seed
        Seed of positions, shapes and noise.
    """
    root = Path(root)
    spec = normalisation or NormalisationSpec()
    rng = np.random.default_rng(seed)
    counts: dict[str, Any] = {}
    image_id = ann_id = 0
    for split, n_images in zip(("train", "val", "test"), images_per_split, strict=True):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for index in range(n_images):
            image_id += 1
            pixels = rng.normal(0.0, TOY_RMS, (size, size))
            for k in range(sources_per_image):
                label = k % min(2, len(classes))
                x, y = rng.uniform(8, size - 8, 2)
                shape = (1.5, 1.5) if label == 0 else (5.0, 2.0)
                model = (
                    rng.uniform(15, 40)
                    * TOY_RMS
                    * _gaussian(size, x, y, *shape, rng.uniform(0, np.pi))
                )
                pixels += model
                mask = model >= 3 * TOY_RMS
                ann_id += 1
                annotations.append(
                    {
                        "id": ann_id,
                        "image_id": image_id,
                        "category_id": label + 1,
                        "segmentation": encode_mask(mask),
                        "area": int(mask.sum()),
                        "bbox": mask_bbox(mask),
                        "iscrowd": 0,
                        "class": classes[label],
                    }
                )
            name = f"images/{split}/toy_{index}.fits"
            fits.PrimaryHDU(pixels.astype(np.float32)).writeto(root / name, overwrite=True)
            images.append(
                {"id": image_id, "file_name": name, "width": size, "height": size, "split": split}
            )
        write_coco(
            root / "annotations" / f"{split}.json", coco_document(images, annotations, classes)
        )
        counts[split] = {"images": n_images, "annotations": len(annotations)}
    document = {
        "classes": [{"id": i + 1, "name": name} for i, name in enumerate(classes)],
        "normalisation": spec.model_dump(mode="json"),
        "size_pix": size,
        "pixel_unit": "Jy/beam",
        "counts": counts,
        "seed": seed,
    }
    (root / "dataset.json").write_text(json.dumps(document, indent=1))
    return root
