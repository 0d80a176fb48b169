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


#: Up to this many edge pixels the largest extent is a direct all-pairs maximum; above, the
#: pairs are taken over the convex hull's vertices (qhull costs ~1 ms even for a few points).
_DIRECT_EXTENT_MAX_POINTS = 256

#: 4-connectivity structuring element (a pixel is interior when its 4 neighbours are in the mask).
_FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


def largest_extent_pixels(mask: np.ndarray) -> float:
    """Largest distance between the centres of two mask pixels (pixels).

    Only edge pixels (not all four 4-neighbours in the mask) can be hull vertices, so the
    maximum is taken over them: directly for small masks, over their convex hull otherwise.
    A single-pixel mask gives 0; an empty mask gives 0.
    """
    mask = np.asarray(mask, dtype=bool)
    edge = mask & ~ndimage.binary_erosion(mask, structure=_FOUR_CONNECTED, border_value=0)
    ys, xs = np.nonzero(edge)
    if ys.size < 2:
        return 0.0
    points = np.column_stack([xs, ys]).astype(float)
    if points.shape[0] > _DIRECT_EXTENT_MAX_POINTS:
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
