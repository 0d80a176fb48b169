"""Object masks on a map grid: a small boolean cutout placed in the full image.

Annotation masks are kept as :class:`SparseMask` (bounding box + cutout) so that thousands of
sources on a large mosaic never need one full-size array each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.wcs import WCS

DEG_PER_ARCSEC = 1.0 / 3600.0


@dataclass(frozen=True)
class SparseMask:
    """A boolean mask of shape ``data.shape`` whose top-left pixel is (y0, x0) in the map.

    Attributes
    ----------
    y0, x0
        0-based row and column of the cutout's first pixel in the map.
    data
        Boolean cutout, shape (h, w); True marks the object.
    """

    y0: int
    x0: int
    data: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice]:
        """Numpy slices (rows, columns) of the cutout in the map."""
        h, w = self.data.shape
        return slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w)

    @property
    def area(self) -> int:
        """Number of True pixels."""
        return int(self.data.sum())

    def restricted(self, allowed: np.ndarray) -> SparseMask:
        """The mask with pixels where the full-size boolean ``allowed`` is False removed."""
        return SparseMask(self.y0, self.x0, self.data & allowed[self.slices])

    @classmethod
    def from_full(cls, full: np.ndarray) -> SparseMask | None:
        """Cut the bounding box of True pixels out of a full-size mask; None if empty."""
        rows = np.flatnonzero(full.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(full.any(axis=0))
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        return cls(int(y0), int(x0), full[y0:y1, x0:x1].copy())


def clip_to_shape(y0: int, x0: int, data: np.ndarray, shape: tuple[int, int]) -> SparseMask | None:
    """Intersect a cutout placed at (y0, x0) with an image of ``shape``; None if no overlap."""
    ny, nx = shape
    h, w = data.shape
    ya, yb = max(y0, 0), min(y0 + h, ny)
    xa, xb = max(x0, 0), min(x0 + w, nx)
    if ya >= yb or xa >= xb:
        return None
    cut = data[ya - y0 : yb - y0, xa - x0 : xb - x0]
    if not cut.any():
        return None
    return SparseMask(ya, xa, np.asarray(cut, dtype=bool))


def sky_axes_in_pixels(wcs: WCS, x: float, y: float) -> np.ndarray:
    """Pixel displacement per arcsec towards north and east at pixel (x, y).

    Returns
    -------
    numpy.ndarray
        Shape (2, 2): column 0 is (dx, dy) for 1 arcsec north, column 1 for 1 arcsec east.
    """
    centre = wcs.pixel_to_world(x, y)
    columns = []
    for angle in (0.0, 90.0):
        moved = centre.directional_offset_by(angle * u.deg, 1.0 * u.arcsec)
        mx, my = wcs.world_to_pixel(moved)
        columns.append((float(mx) - x, float(my) - y))
    return np.array(columns).T


def ellipse_mask(
    wcs: WCS,
    shape: tuple[int, int],
    x: float,
    y: float,
    *,
    semi_major_arcsec: float,
    semi_minor_arcsec: float,
    pa_deg: float,
) -> SparseMask | None:
    """Pixels whose centres lie inside a sky ellipse (any projection, rotation or parity).

    Parameters
    ----------
    wcs
        2-D celestial WCS of the map.
    shape
        Map shape (ny, nx).
    x, y
        0-based pixel position of the ellipse centre.
    semi_major_arcsec, semi_minor_arcsec
        Semi-axes in arcsec.
    pa_deg
        Position angle of the major axis in degrees, east of north.

    Returns
    -------
    SparseMask or None
        None when no pixel of the map falls inside.
    """
    axes = sky_axes_in_pixels(wcs, x, y)
    to_sky = np.linalg.inv(axes)  # pixel offset -> (north, east) arcsec
    px_per_arcsec = float(np.max(np.linalg.norm(axes, axis=0)))
    radius = math.ceil(semi_major_arcsec * px_per_arcsec) + 1
    xc, yc = round(x), round(y)
    yy, xx = np.mgrid[yc - radius : yc + radius + 1, xc - radius : xc + radius + 1]
    dx, dy = xx - x, yy - y
    north = to_sky[0, 0] * dx + to_sky[0, 1] * dy
    east = to_sky[1, 0] * dx + to_sky[1, 1] * dy
    pa = math.radians(pa_deg)
    along = math.cos(pa) * north + math.sin(pa) * east
    across = -math.sin(pa) * north + math.cos(pa) * east
    inside = (along / semi_major_arcsec) ** 2 + (across / semi_minor_arcsec) ** 2 <= 1.0
    if not inside.any():
        # an ellipse smaller than a pixel still marks the pixel holding its centre
        inside[radius, radius] = True
    return clip_to_shape(yc - radius, xc - radius, inside, shape)
