"""COCO annotations: RLE masks (pycocotools), the JSON writer and a validator.

COCO conventions used throughout: ``bbox`` is ``[x, y, width, height]`` in pixels with the
origin at the top-left pixel corner (a mask covering columns 3..5 has x = 3, width = 3);
``area`` is the number of mask pixels; ``segmentation`` is an uncompressed-count RLE dictionary
``{"size": [height, width], "counts": str}`` as written by ``pycocotools.mask.encode``.
Category ids are the class index + 1.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """RLE-encode a binary mask.

    Parameters
    ----------
    mask
        Boolean or 0/1 array, shape (H, W).

    Returns
    -------
    dict
        ``{"size": [H, W], "counts": str}``, JSON serialisable.
    """
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    counts = rle["counts"]
    return {
        "size": [int(s) for s in rle["size"]],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def decode_mask(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode an RLE dictionary (counts as str or bytes) to a boolean (H, W) array."""
    counts = rle["counts"]
    encoded = {
        "size": list(rle["size"]),
        "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
    }
    with warnings.catch_warnings():
        # pycocotools 2.0.x's Cython decoder trips numpy 2's __array__(copy=) deprecation
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return np.asarray(mask_utils.decode(encoded), dtype=bool)


def mask_bbox(mask: np.ndarray) -> list[int]:
    """COCO bbox ``[x, y, w, h]`` (pixels) of a non-empty boolean mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("mask_bbox of an empty mask")
    x0, y0 = int(xs.min()), int(ys.min())
    return [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]


def categories(classes: Sequence[str]) -> list[dict[str, Any]]:
    """COCO categories of ``classes``: id = index + 1, supercategory ``radio``."""
    return [{"id": i + 1, "name": name, "supercategory": "radio"} for i, name in enumerate(classes)]


def json_safe(value: Any) -> Any:
    """Turn numpy scalars into Python ones and NaN/inf/masked into None (strict JSON)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is np.ma.masked:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def coco_document(
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    classes: Sequence[str],
    *,
    description: str = "skysift training set",
) -> dict[str, Any]:
    """Assemble a COCO dictionary (``info``, ``images``, ``annotations``, ``categories``)."""
    return {
        "info": {"description": description},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories(classes),
    }


def write_coco(path: str | Path, document: Mapping[str, Any]) -> Path:
    """Write a COCO dictionary as strict JSON (NaN -> null), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(dict(document)), allow_nan=False, indent=1))
    return Path(path)


def _load(path_or_dict: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(path_or_dict, Mapping):
        return dict(path_or_dict), "<COCO document>"
    path = Path(path_or_dict)
    if not path.is_file():
        raise InputFileError(path, "COCO annotation file not found")
    try:
        return json.loads(path.read_text()), str(path)
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def validate_coco(
    path_or_dict: str | Path | Mapping[str, Any], *, classes: Sequence[str]
) -> dict[str, Any]:
    """Check a COCO document against the conventions of this module.

    Checks: ``images``, ``annotations`` and ``categories`` are present; the categories are
    exactly ``classes`` with id = index + 1; image and annotation ids are unique; every
    annotation refers to an existing image and a valid category; its RLE decodes to the image
    size and is non-empty; ``bbox`` equals the mask's bbox and ``area`` its pixel count.

    Parameters
    ----------
    path_or_dict
        A COCO JSON file or an already loaded dictionary.
    classes
        Expected class names in category-id order.

    Returns
    -------
    dict
        The loaded document.

    Raises
    ------
    InputFileError
        Naming the file (or ``<COCO document>``) and the first problem found.
    """
    doc, where = _load(path_or_dict)

    def fail(problem: str) -> InputFileError:
        return InputFileError(where, problem)

    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            raise fail(f"COCO document lacks the list '{key}'")
    expected = categories(classes)
    got = [{"id": c.get("id"), "name": c.get("name")} for c in doc["categories"]]
    if got != [{"id": c["id"], "name": c["name"]} for c in expected]:
        raise fail(f"categories {got} differ from the classes {list(classes)} (id = index + 1)")
    images: dict[int, dict[str, Any]] = {}
    for image in doc["images"]:
        if image["id"] in images:
            raise fail(f"image id {image['id']} is not unique")
        images[image["id"]] = image
    seen: set[int] = set()
    for ann in doc["annotations"]:
        ann_id = ann["id"]
        if ann_id in seen:
            raise fail(f"annotation id {ann_id} is not unique")
        seen.add(ann_id)
        image = images.get(ann["image_id"])
        if image is None:
            raise fail(f"annotation {ann_id} refers to missing image {ann['image_id']}")
        if not 1 <= ann["category_id"] <= len(classes):
            raise fail(f"annotation {ann_id} has invalid category_id {ann['category_id']}")
        size = list(ann["segmentation"]["size"])
        if size != [image["height"], image["width"]]:
            raise fail(
                f"annotation {ann_id} mask size {size} differs from its image "
                f"({image['height']}, {image['width']})"
            )
        mask = decode_mask(ann["segmentation"])
        area = int(mask.sum())
        if area == 0:
            raise fail(f"annotation {ann_id} has an empty mask")
        if [float(v) for v in ann["bbox"]] != [float(v) for v in mask_bbox(mask)]:
            raise fail(f"annotation {ann_id} bbox {ann['bbox']} != mask bbox {mask_bbox(mask)}")
        if float(ann["area"]) != float(area):
            raise fail(f"annotation {ann_id} area {ann['area']} != mask area {area}")
    return doc
