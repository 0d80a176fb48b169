"""DS9 region file of merged objects: mask outlines as image-coordinate polygons.

One ``polygon`` per closed outline of an object's mask (several for multi-island objects or
masks with holes), from :func:`skimage.measure.find_contours` at level 0.5 (the outline runs
half-way between mask and non-mask pixel centres), simplified to 0.25 pixel. Coordinates are
DS9 ``image`` (1-based: pixel centre of 0-based ``(x, y)`` is ``(x + 1, y + 1)``). Each polygon
carries the class colour of :mod:`skysift.report.quicklook`, ``tag={<class>}`` (so
``skysift import-annotations`` reads the class back) and ``tag={id=<id>}``; the first outline of
an object also shows ``text={<class>}`` (what the region reader takes as the class).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage.measure import approximate_polygon, find_contours

from skysift.io.atomic import atomic_path
from skysift.predict.merging import MergedObject
from skysift.report.quicklook import class_colour

HEADER = (
    "# Region file format: DS9 version 4.1\n"
    "# skysift predict-map: object outlines (image coordinates, 1-based)\n"
    'global color=green dashlist=8 3 width=1 font="helvetica 9 normal roman" select=1 '
    "highlite=1 dash=0 fixed=0 edit=1 move=1 delete=1 include=1 source=1\n"
    "image\n"
)


def outlines(mask: np.ndarray, y0: int, x0: int) -> list[np.ndarray]:
    """Closed outlines of a mask as arrays (K, 2) of 0-based map (x, y), K >= 3."""
    padded = np.pad(mask.astype(np.float32), 1)
    result = []
    for contour in find_contours(padded, 0.5):
        simple = approximate_polygon(contour, tolerance=0.25)
        if len(simple) > 1 and np.allclose(simple[0], simple[-1]):
            simple = simple[:-1]
        if len(simple) < 3:
            continue
        result.append(np.column_stack([simple[:, 1] - 1 + x0, simple[:, 0] - 1 + y0]))
    return result


def region_lines(objects: Sequence[MergedObject], classes: Sequence[str]) -> list[str]:
    """DS9 lines (without header) of all objects, ids 1..N in order."""
    lines = []
    for index, obj in enumerate(objects, start=1):
        colour = class_colour(obj.label, classes)
        for k, poly in enumerate(outlines(obj.mask, obj.y0, obj.x0)):
            coords = ",".join(f"{x + 1:.2f},{y + 1:.2f}" for x, y in poly)
            text = f" text={{{obj.label}}}" if k == 0 else ""
            lines.append(
                f"polygon({coords}) # color={colour}{text} tag={{{obj.label}}} tag={{id={index}}}"
            )
    return lines


def write_regions(
    path: str | Path, objects: Sequence[MergedObject], classes: Sequence[str]
) -> Path:
    """Write the DS9 region file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(HEADER + "".join(f"{line}\n" for line in region_lines(objects, classes)))
    return Path(path)
