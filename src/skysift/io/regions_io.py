"""DS9 region files as user annotations (via the ``regions`` package).

Circles, ellipses, polygons and boxes (fk5, icrs, galactic, fk4 or image coordinates) become
masks on the map grid; points become beam-sized ellipses. The class of each region is its
``text={...}``, else its first ``tag={...}``, else ``compact``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.wcs import WCS
from regions import PixCoord, PixelRegion, PointPixelRegion, Regions, SkyRegion, TextPixelRegion

from skysift.errors import InputFileError
from skysift.io.masks import SparseMask, clip_to_shape

log = logging.getLogger(__name__)

DEFAULT_REGION_CLASS = "compact"


@dataclass(frozen=True)
class RegionAnnotation:
    """One region on the map grid.

    Attributes
    ----------
    label
        Object class.
    x, y
        0-based pixel position of the region centre (polygons: mask centroid).
    mask
        Region mask on the map grid, or None for points (the caller draws a beam ellipse).
    index
        0-based position of the region in the file.
    """

    label: str
    x: float
    y: float
    mask: SparseMask | None
    index: int


def region_class(meta: dict[str, object]) -> str:
    """Class of a region from its ``text`` or first ``tag`` meta, default ``compact``."""
    text = meta.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    tag = meta.get("tag")
    if isinstance(tag, list | tuple | set):
        for item in tag:
            if isinstance(item, str) and item.strip():
                return item.strip()
    elif isinstance(tag, str) and tag.strip():
        return tag.strip()
    return DEFAULT_REGION_CLASS


def read_regions(path: str | Path) -> Regions:
    """Parse a DS9 region file, with one-line errors for unreadable files."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "region file not found")
    try:
        regions = Regions.read(path, format="ds9")
    except Exception as exc:  # the ds9 parser raises several types
        raise InputFileError(path, f"not a readable DS9 region file ({exc})") from exc
    if len(regions) == 0:
        raise InputFileError(path, "no regions in the file (expected circle/ellipse/polygon/box)")
    return regions


def _pixel_region(region: object, wcs: WCS) -> PixelRegion:
    if isinstance(region, SkyRegion):
        return region.to_pixel(wcs)
    if isinstance(region, PixelRegion):
        return region
    raise TypeError(f"unsupported region type {type(region).__name__}")


def regions_to_annotations(
    path: str | Path, wcs: WCS, shape: tuple[int, int]
) -> list[RegionAnnotation]:
    """Turn the regions of a DS9 file into masks on the map grid.

    Parameters
    ----------
    path
        DS9 region file.
    wcs
        2-D celestial WCS of the map.
    shape
        Map shape (ny, nx).

    Returns
    -------
    list of RegionAnnotation
        One per usable region, in file order; regions entirely off the map keep ``mask=None``
        only when they are points (the caller decides), others off the map are dropped
        with a logged count. Text regions are ignored.
    """
    regions = read_regions(path)
    annotations: list[RegionAnnotation] = []
    off_map = 0
    for index, region in enumerate(regions):
        try:
            pixel = _pixel_region(region, wcs)
        except Exception as exc:  # a sky region that the WCS cannot project
            log.warning("%s: region %d skipped (%s)", path, index + 1, exc)
            off_map += 1
            continue
        label = region_class(dict(region.meta))
        if isinstance(pixel, TextPixelRegion):
            continue
        if isinstance(pixel, PointPixelRegion):
            if not np.isfinite([pixel.center.x, pixel.center.y]).all():
                off_map += 1
                continue
            annotations.append(
                RegionAnnotation(label, float(pixel.center.x), float(pixel.center.y), None, index)
            )
            continue
        try:
            region_mask = pixel.to_mask(mode="center")
        except ValueError:  # NaN pixel positions: the region lies outside the projection
            off_map += 1
            continue
        bbox = region_mask.bbox
        sparse = clip_to_shape(bbox.iymin, bbox.ixmin, region_mask.data.astype(bool), shape)
        if sparse is None:
            off_map += 1
            continue
        center = getattr(pixel, "center", None)
        if isinstance(center, PixCoord):
            x, y = float(center.x), float(center.y)
        else:
            rows, cols = np.nonzero(sparse.data)
            x, y = float(cols.mean() + sparse.x0), float(rows.mean() + sparse.y0)
        annotations.append(RegionAnnotation(label, x, y, sparse, index))
    if off_map:
        log.info("%s: %d regions fall outside the map", path, off_map)
    return annotations
