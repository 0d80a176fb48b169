"""Segmentation image of merged objects: object id (catalogue order) per pixel, 0 = none.

Where masks of two objects overlap, the later id wins. :func:`write_segmentation` streams the
image to FITS in blocks of rows (memory ~ ``block_rows x nx x 4`` bytes, not the whole map:
30k x 30k maps need 3.6 GB as one int32 array); :func:`segmentation_image` builds it in memory
(small maps, tests) and :func:`subsampled_segmentation` builds only every ``step``-th pixel
(quick-look plots).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skysift.io.atomic import atomic_path
from skysift.predict.merging import MergedObject


def paint_rows(
    objects: Sequence[MergedObject], indices: Sequence[int], y0: int, y1: int, nx: int
) -> np.ndarray:
    """Rows ``[y0:y1]`` of the segmentation image, painted with ``objects[i]`` for ``i`` in
    ``indices`` (ascending: later ids win), int32 (y1 - y0, nx)."""
    block = np.zeros((y1 - y0, nx), dtype=np.int32)
    for i in indices:
        obj = objects[i]
        h, w = obj.mask.shape
        top, bottom = max(y0, obj.y0), min(y1, obj.y0 + h)
        if top >= bottom:
            continue
        rows = obj.mask[top - obj.y0 : bottom - obj.y0]
        block[top - y0 : bottom - y0, obj.x0 : obj.x0 + w][rows] = i + 1
    return block


def segmentation_image(objects: Sequence[MergedObject], shape: tuple[int, int]) -> np.ndarray:
    """int32 (ny, nx): object id (1-based, catalogue order) per pixel, 0 = none."""
    return paint_rows(objects, range(len(objects)), 0, shape[0], shape[1])


def write_segmentation(
    path: str | Path,
    objects: Sequence[MergedObject],
    shape: tuple[int, int],
    wcs: WCS,
    *,
    extra: dict[str, object] | None = None,
    block_rows: int = 1024,
) -> Path:
    """Write the segmentation image as int32 FITS with the map's WCS, block by block, atomically.

    Parameters
    ----------
    path
        Output FITS file.
    objects
        Merged objects; ids are positions + 1.
    shape
        (ny, nx) of the map, pixels.
    wcs
        Celestial WCS of the map.
    extra
        Additional header keywords (e.g. MAPNAME).
    block_rows
        Rows painted and written at a time.
    """
    ny, nx = shape
    header = fits.Header([("SIMPLE", True), ("BITPIX", 32), ("NAXIS", 2), ("NAXIS1", nx),
                          ("NAXIS2", ny)])  # fmt: skip
    header.extend(wcs.to_header(), update=True)
    for key, value in (extra or {}).items():
        header[key] = value
    n_blocks = max(1, -(-ny // block_rows))
    members: list[list[int]] = [[] for _ in range(n_blocks)]
    for i, obj in enumerate(objects):
        first = obj.y0 // block_rows
        last = min(n_blocks - 1, (obj.y0 + obj.mask.shape[0] - 1) // block_rows)
        for b in range(first, last + 1):
            members[b].append(i)
    with atomic_path(path) as tmp:
        stream = fits.StreamingHDU(tmp, header)
        try:
            for b in range(n_blocks):
                y0, y1 = b * block_rows, min(ny, (b + 1) * block_rows)
                stream.write(paint_rows(objects, members[b], y0, y1, nx))
        finally:
            stream.close()
    return Path(path)


def subsampled_segmentation(
    objects: Sequence[MergedObject], shape: tuple[int, int], step: int
) -> np.ndarray:
    """``segmentation_image(objects, shape)[::step, ::step]`` without the full-size array."""
    ny, nx = shape
    seg = np.zeros((-(-ny // step), -(-nx // step)), dtype=np.int32)
    for index, obj in enumerate(objects, start=1):
        ry = (-obj.y0) % step  # first row of the mask on the subsampled grid
        rx = (-obj.x0) % step
        sub = obj.mask[ry::step, rx::step]
        if sub.size == 0:
            continue
        sy, sx = (obj.y0 + ry) // step, (obj.x0 + rx) // step
        seg[sy : sy + sub.shape[0], sx : sx + sub.shape[1]][sub] = index
    return seg


def write_object_masks(
    path: str | Path,
    objects: Sequence[MergedObject],
    wcs: WCS,
    *,
    extra: dict[str, object] | None = None,
) -> Path:
    """One uint8 mask image per object, cut to its bounding box, in one FITS file (atomically).

    HDU ``k`` (1-based, ``EXTNAME = OBJ<k>``) is object ``k`` of the catalogue: 1 inside the mask,
    0 outside, with the map's WCS shifted to the box (``CRPIX`` minus the box corner), so each
    mask lies on the sky by itself; ``BBOX_X0``/``BBOX_Y0`` give the corner (0-based map pixels).
    """
    primary = fits.PrimaryHDU()
    for key, value in (extra or {}).items():
        primary.header[key] = value
    primary.header["NOBJECTS"] = (len(objects), "objects, one image HDU each")
    hdus: list[fits.hdu.base.ExtensionHDU] = [primary]
    for index, obj in enumerate(objects, start=1):
        header = wcs.slice((slice(obj.y0, None), slice(obj.x0, None))).to_header()
        header["EXTNAME"] = f"OBJ{index}"
        header["OBJ_ID"] = (index, "catalogue id")
        header["CLASS"] = (obj.label, "class of the object")
        header["BBOX_X0"] = (obj.x0, "0-based map column of the first pixel")
        header["BBOX_Y0"] = (obj.y0, "0-based map row of the first pixel")
        hdus.append(fits.ImageHDU(obj.mask.astype(np.uint8), header=header))
    with atomic_path(path) as tmp:
        fits.HDUList(hdus).writeto(tmp)
    return Path(path)
