"""Catalogue of merged objects: positions, fluxes and shapes measured on the map.

Columns are those of the truth contract (:data:`skysift.io.catalogue.TRUTH_COLUMNS`, so the
catalogue feeds ``catalogue-to-coco`` and the one matcher like any finder's) plus ``score`` and
``n_tiles``. Measured on the map under each object's mask (blanked pixels ignored), with the
background ``B`` from ``background.fits`` beside the map when present (else 0):

- ``x``, ``y``: flux-weighted centroid of ``max(map - B, 0)`` (0-based pixels; the plain mask
  centroid when no pixel is positive); ``ra``, ``dec`` (deg, ICRS) from the WCS there;
- ``peak_flux`` (Jy/beam): maximum of ``map - B`` in the mask;
- ``int_flux`` (Jy): sum of ``map - B`` over the mask divided by the beam area in pixels;
- ``local_rms`` (Jy/beam) from ``rms.fits`` beside the map at the centroid pixel (NaN without
  it) and ``snr = peak_flux / local_rms``;
- ``n_islands`` (8-connected), bbox, ``mask_area``, ``las_arcsec`` from
  :mod:`skysift.data.morphometry`; ``n_components`` = ``n_islands``; ``n_peaks`` = local maxima
  of ``map - B`` above 0 in the mask (3x3 neighbourhood); ``major/minor/pa`` NaN (not fitted);
  ``parent_id`` 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from scipy import ndimage

from skysift.data.morphometry import count_islands, largest_extent_pixels
from skysift.io.catalogue import TRUTH_COLUMNS, Column
from skysift.io.header import pixel_to_icrs
from skysift.predict.lazymap import LazyImage, LazyMap
from skysift.predict.merging import MergedObject

#: Columns of a prediction catalogue: the truth contract, ``score`` after ``class``, and
#: ``n_tiles`` before ``map``.
PREDICT_COLUMNS: tuple[Column, ...] = (
    *TRUTH_COLUMNS[:2],
    Column("score", "float64", None, "detection score of the model, in [0, 1]"),
    *TRUTH_COLUMNS[2:-1],
    Column("n_tiles", "int32", None, "number of tiles whose detections were merged into it"),
    TRUTH_COLUMNS[-1],
)


@dataclass(frozen=True)
class Measurement:
    """Values measured on the map for one object (see module docstring)."""

    x: float
    y: float
    peak_flux: float
    int_flux: float
    local_rms: float
    n_peaks: int


def measure_object(
    obj: MergedObject,
    lazy_map: LazyMap,
    *,
    background: LazyImage | None = None,
    rms: LazyImage | None = None,
) -> Measurement:
    """Centroid and fluxes of one object (reads only its bounding box from disk)."""
    h, w = obj.mask.shape
    y1, x1 = obj.y0 + h, obj.x0 + w
    data = lazy_map.window(obj.y0, y1, obj.x0, x1).astype(np.float64)
    if background is not None:
        data = data - background.window(obj.y0, y1, obj.x0, x1)
    valid = obj.mask & np.isfinite(data)
    ys, xs = np.nonzero(valid if valid.any() else obj.mask)
    values = data[ys, xs] if valid.any() else np.zeros(ys.size)
    weights = np.clip(values, 0.0, None)
    if weights.sum() > 0:
        cy = float(np.sum(weights * ys) / weights.sum())
        cx = float(np.sum(weights * xs) / weights.sum())
    else:
        cy, cx = float(ys.mean()), float(xs.mean())
    peak = float(values.max()) if values.size else float("nan")
    total = float(values.sum()) / lazy_map.beam_area_pixels
    filled = np.where(valid, data, -np.inf)
    peaks = (filled == ndimage.maximum_filter(filled, size=3, mode="constant", cval=-np.inf)) & (
        filled > 0
    )
    local_rms = float("nan")
    if rms is not None:
        py, px = round(obj.y0 + cy), round(obj.x0 + cx)
        local_rms = float(rms.window(py, py + 1, px, px + 1)[0, 0])
    return Measurement(
        x=obj.x0 + cx,
        y=obj.y0 + cy,
        peak_flux=peak,
        int_flux=total,
        local_rms=local_rms,
        n_peaks=int(peaks.sum()),
    )


def build_catalogue(
    objects: Sequence[MergedObject],
    lazy_map: LazyMap,
    *,
    background: LazyImage | None = None,
    rms: LazyImage | None = None,
) -> Table:
    """One row per object, ids 1..N in the order of ``objects``, units in the column metadata.

    Parameters
    ----------
    objects
        Merged objects (from :func:`skysift.predict.merging.merge_pieces`).
    lazy_map
        The map (Jy/beam), its WCS and beam.
    background, rms
        Background and noise maps on the same grid (Jy/beam), optional.

    Returns
    -------
    astropy.table.Table
        Columns :data:`PREDICT_COLUMNS`.
    """
    scale = lazy_map.pixel_scale_arcsec
    rows: dict[str, list[object]] = {c.name: [] for c in PREDICT_COLUMNS}
    for index, obj in enumerate(objects, start=1):
        m = measure_object(obj, lazy_map, background=background, rms=rms)
        h, w = obj.mask.shape
        n_islands = count_islands(obj.mask)
        values: dict[str, object] = {
            "id": index,
            "class": obj.label,
            "score": obj.score,
            "x": m.x,
            "y": m.y,
            "peak_flux": m.peak_flux,
            "int_flux": m.int_flux,
            "local_rms": m.local_rms,
            "snr": m.peak_flux / m.local_rms if m.local_rms > 0 else float("nan"),
            "n_islands": n_islands,
            "n_components": n_islands,
            "n_peaks": m.n_peaks,
            "bbox_xmin": obj.x0,
            "bbox_ymin": obj.y0,
            "bbox_xmax": obj.x0 + w,
            "bbox_ymax": obj.y0 + h,
            "mask_area": int(obj.mask.sum()),
            "las_arcsec": largest_extent_pixels(obj.mask) * scale,
            "major_arcsec": float("nan"),
            "minor_arcsec": float("nan"),
            "pa_deg": float("nan"),
            "parent_id": 0,
            "n_tiles": obj.n_tiles,
            "map": lazy_map.name,
            "ra": 0.0,
            "dec": 0.0,
        }
        for name, value in values.items():
            rows[name].append(value)
    table = Table()
    for col in PREDICT_COLUMNS:
        table[col.name] = np.array(rows[col.name], dtype=col.dtype).reshape(len(objects))
        table[col.name].unit = col.unit
        table[col.name].description = col.description
    if len(objects):
        ra, dec = pixel_to_icrs(lazy_map.wcs, np.asarray(table["x"]), np.asarray(table["y"]))
        table["ra"][:] = ra
        table["dec"][:] = dec
    table.meta["MAPNAME"] = lazy_map.name
    return table
