"""DS9 region file of merged objects: mask outlines as image-coordinate polygons.

One ``polygon`` per closed outline of an object's mask (several for multi-island objects or
masks with holes), from :func:`skimage.measure.find_contours` at level 0.5 (the outline runs
half-way between mask and non-mask pixel centres), simplified to 0.25 pixel by Douglas-Peucker
(:func:`simplify_polyline`: the vertices of :func:`skimage.measure.approximate_polygon`, several
times faster on the short outlines of compact sources, where skimage's per-step numpy calls
dominated the writing of a large map's catalogue). Coordinates are
DS9 ``image`` (1-based: pixel centre of 0-based ``(x, y)`` is ``(x + 1, y + 1)``). Each polygon
carries the class colour of :mod:`skysift.report.quicklook`, ``tag={<class>}`` (so
``skysift import-annotations`` reads the class back) and ``tag={id=<id>}``; the first outline of
an object also shows ``text={<class>}`` (what the region reader takes as the class).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage.measure import find_contours

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


#: Segments with at least this many inner points are measured with numpy, shorter ones in a
#: Python loop (numpy's per-call overhead exceeds the work on a few points).
_VECTOR_FROM_POINTS = 48


def simplify_polyline(coords: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker simplification of a (K, 2) chain: the kept vertices, in order.

    The same algorithm, distances and tie-breaking as :func:`skimage.measure.approximate_polygon`
    (perpendicular distance where the point projects inside the segment, else the distance to
    the nearer end; the first farthest point splits), so the vertices are the same; every input
    point lies within ``tolerance`` of the result. Units are those of ``coords``.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if tolerance <= 0 or len(coords) < 3:
        return coords
    points = coords.tolist()
    keep = np.zeros(len(coords), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(coords) - 1)]
    while stack:
        start, end = stack.pop()
        # Trigonometry as skimage does it (numpy scalars), so ties split the same way.
        angle = -np.arctan2(coords[end, 0] - coords[start, 0], coords[end, 1] - coords[start, 1])
        cos_a, sin_a = float(np.cos(angle)), float(np.sin(angle))
        (r0, c0), (r1, c1) = points[start], points[end]
        dr, dc = r1 - r0, c1 - c0
        offset = c0 * sin_a + r0 * cos_a
        if end - start - 1 >= _VECTOR_FROM_POINTS:
            inner = coords[start + 1 : end]
            dr0, dc0 = inner[:, 0] - r0, inner[:, 1] - c0
            dr1, dc1 = inner[:, 0] - r1, inner[:, 1] - c1
            perpendicular = (dr0 * dr + dc0 * dc > 0) & (-dr1 * dr - dc1 * dc > 0)
            dists = np.where(
                perpendicular,
                np.abs(inner[:, 0] * cos_a + inner[:, 1] * sin_a - offset),
                np.minimum(np.sqrt(dc0**2 + dr0**2), np.sqrt(dc1**2 + dr1**2)),
            )
            farthest = int(np.argmax(dists))
            best, best_index = float(dists[farthest]), start + 1 + farthest
        else:
            best, best_index = -1.0, -1
            for index in range(start + 1, end):
                r, c = points[index]
                dr0, dc0, dr1, dc1 = r - r0, c - c0, r - r1, c - c1
                if dr0 * dr + dc0 * dc > 0 and -dr1 * dr - dc1 * dc > 0:
                    dist = abs(r * cos_a + c * sin_a - offset)
                else:
                    dist = min(math.sqrt(dc0 * dc0 + dr0 * dr0), math.sqrt(dc1 * dc1 + dr1 * dr1))
                if dist > best:
                    best, best_index = dist, index
        if best > tolerance:
            stack.append((best_index, end))
            stack.append((start, best_index))
            keep[best_index] = True
    return coords[keep]


def _same_point(p: np.ndarray, q: np.ndarray) -> bool:
    """``np.allclose(p, q)`` for two points, without its per-call overhead."""
    pairs = zip(p.tolist(), q.tolist(), strict=True)
    return all(abs(a - b) <= 1e-8 + 1e-5 * abs(b) for a, b in pairs)


def outlines(mask: np.ndarray, y0: int, x0: int) -> list[np.ndarray]:
    """Closed outlines of a mask as arrays (K, 2) of 0-based map (x, y), K >= 3."""
    padded = np.pad(mask.astype(np.float32), 1)
    result = []
    for contour in find_contours(padded, 0.5):
        simple = simplify_polyline(contour, tolerance=0.25)
        if len(simple) > 1 and _same_point(simple[0], simple[-1]):
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
