"""Measurements of object masks shared by truth, annotations and evaluation.

One definition of islands (8-connected), largest angular size and bounding box, so a simulated
truth, an imported annotation and a detection are measured the same way. Masks are boolean arrays
in 0-based (y, x) pixel order.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist

#: 8-connectivity structuring element: islands touching at a corner are one island.
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def count_islands(mask: np.ndarray) -> int:
    """Number of 8-connected islands of a boolean mask."""
    if not mask.any():
        return 0
    _, n = ndimage.label(mask, structure=EIGHT_CONNECTED)
    return int(n)


def largest_extent_pixels(mask: np.ndarray) -> float:
    """Largest distance between the centres of two mask pixels (pixels), via the convex hull.

    A single-pixel mask gives 0; an empty mask gives 0.
    """
    ys, xs = np.nonzero(mask)
    if ys.size < 2:
        return 0.0
    points = np.column_stack([xs, ys]).astype(float)
    if points.shape[0] > 3:
        try:
            hull = ConvexHull(points)
            points = points[hull.vertices]
        except QhullError:  # collinear pixels: all points are on the "hull"
            pass
    if points.shape[0] > 4000:  # pragma: no cover - hulls of pixel masks are small
        points = points[:: -(-points.shape[0] // 4000)]
    return float(pdist(points).max())


def bbox_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax_exclusive, ymax_exclusive) of a mask, or (-1, -1, -1, -1) if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return -1, -1, -1, -1
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
