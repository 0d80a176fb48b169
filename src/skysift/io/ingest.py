"""Map ingestion: read a survey map, standardise it, and add background and rms maps.

The output folder of :func:`ingest_map` holds the *Map* contract (``map.fits``: 2-D, Jy/beam,
beam and frequency keywords), ``background.fits`` and ``rms.fits`` (Jy/beam, same grid) and
``ingest.json``, a record of what was read and what was assumed.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from reproject import reproject_interp

from skysift import __version__
from skysift.data.background import BackgroundMaps, box_size_pixels, estimate_background
from skysift.io.atomic import atomic_dir
from skysift.io.config import BackgroundConfig, IngestConfig
from skysift.io.fits_map import Beam, RadioMap, read_map, write_image, write_map

log = logging.getLogger(__name__)

MAP_FILE = "map.fits"
BACKGROUND_FILE = "background.fits"
RMS_FILE = "rms.fits"
REPORT_FILE = "ingest.json"


def rescaled_wcs(
    wcs: WCS, shape: tuple[int, int], pixel_scale_arcsec: float
) -> tuple[WCS, tuple[int, int]]:
    """WCS and shape of the same field on square pixels of ``pixel_scale_arcsec``.

    The projection, its reference point (CRVAL) and the rotation are kept; the grid covers the
    same sky area as the input (the reference pixel keeps its fractional position).

    Parameters
    ----------
    wcs
        2-D celestial WCS of the input grid.
    shape
        Input shape (ny, nx) in pixels.
    pixel_scale_arcsec
        New pixel side in arcsec.

    Returns
    -------
    (wcs, shape)
        The new WCS and its shape (ny, nx).
    """
    new = wcs.deepcopy()
    scales = proj_plane_pixel_scales(wcs) * 3600.0  # arcsec per pixel along x, y
    factors = pixel_scale_arcsec / scales
    prm = new.wcs
    if prm.has_cd():
        prm.cd = prm.cd * factors[np.newaxis, :]
    else:
        prm.cdelt = np.asarray(prm.cdelt) * factors
    ny, nx = shape
    new_nx = max(1, math.ceil(nx / factors[0]))
    new_ny = max(1, math.ceil(ny / factors[1]))
    # FITS pixel edges lie at 0.5; keep the reference point's fractional place in the field
    prm.crpix = [
        (wcs.wcs.crpix[0] - 0.5) / factors[0] + 0.5,
        (wcs.wcs.crpix[1] - 0.5) / factors[1] + 0.5,
    ]
    new.pixel_shape = (new_nx, new_ny)
    prm.set()
    return new, (new_ny, new_nx)


def reproject_map(radio_map: RadioMap, pixel_scale_arcsec: float) -> RadioMap:
    """Bilinearly reproject ``radio_map`` onto square pixels of ``pixel_scale_arcsec``.

    Values stay in Jy/beam (a surface brightness, so no flux rescaling); pixels outside the
    input footprint become NaN.
    """
    wcs, shape = rescaled_wcs(radio_map.wcs, radio_map.shape, pixel_scale_arcsec)
    data, footprint = reproject_interp(
        (radio_map.data, radio_map.wcs), wcs, shape_out=shape, order="bilinear"
    )
    data = np.asarray(data, dtype=np.float32)
    data[np.asarray(footprint) <= 0] = np.nan
    beam_min_px = radio_map.beam.bmin_arcsec / pixel_scale_arcsec
    if beam_min_px < 2.0:
        log.warning(
            "pixel scale %.3g arcsec samples the beam minor axis with %.2f px (< 2): the "
            "reprojected map is undersampled",
            pixel_scale_arcsec,
            beam_min_px,
        )
    return RadioMap(
        data=data,
        wcs=wcs,
        beam=radio_map.beam,
        name=radio_map.name,
        frequency_hz=radio_map.frequency_hz,
        header=radio_map.header,
        provenance=dict(radio_map.provenance),
    )


def map_background(radio_map: RadioMap, settings: BackgroundConfig) -> BackgroundMaps:
    """Background and rms maps of ``radio_map`` with a mesh ``settings.box_beams`` beams wide."""
    box = box_size_pixels(
        settings.box_beams, radio_map.beam.bmaj_arcsec, radio_map.pixel_scale_arcsec
    )
    return estimate_background(
        radio_map.data,
        box_pixels=box,
        filter_size=settings.filter_size,
        sigma=settings.sigma,
        maxiters=settings.maxiters,
        estimator=settings.estimator,
        exclude_percentile=settings.exclude_percentile,
    )


def _beam_dict(beam: Beam) -> dict[str, float]:
    return {
        "bmaj_arcsec": beam.bmaj_arcsec,
        "bmin_arcsec": beam.bmin_arcsec,
        "bpa_deg": beam.bpa_deg,
    }


def ingest_map(
    path: str | Path,
    out_dir: str | Path,
    *,
    settings: IngestConfig | None = None,
    name: str | None = None,
    beam: Beam | None = None,
    survey: str | None = None,
    frequency_hz: float | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Ingest one survey map into ``out_dir`` (atomically: all files or none).

    Parameters
    ----------
    path
        Input FITS map (see :func:`skysift.io.fits_map.read_map` for what it accepts).
    out_dir
        Output folder; receives ``map.fits``, ``background.fits``, ``rms.fits``, ``ingest.json``.
    settings
        The ``ingest`` config section (pixel scale, background mesh); defaults if None.
    name, beam, survey, frequency_hz
        Passed to :func:`~skysift.io.fits_map.read_map` (used where the header lacks them).
    overwrite
        Replace an existing ``out_dir``.

    Returns
    -------
    dict
        The ``ingest.json`` record.
    """
    settings = settings or IngestConfig()
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        radio_map = read_map(path, beam=beam, survey=survey, frequency_hz=frequency_hz, name=name)
        original_scale = radio_map.pixel_scale_arcsec
        original_shape = radio_map.shape
        if settings.pixel_scale_arcsec is not None:
            radio_map = reproject_map(radio_map, settings.pixel_scale_arcsec)
            log.info(
                "reprojected %s from %.3g to %.3g arcsec/px: %s -> %s px",
                radio_map.name,
                original_scale,
                settings.pixel_scale_arcsec,
                original_shape,
                radio_map.shape,
            )
        maps = map_background(radio_map, settings.background)
        beam_cards: dict[str, object] = {
            "BMAJ": radio_map.beam.bmaj_arcsec / 3600.0,
            "BMIN": radio_map.beam.bmin_arcsec / 3600.0,
            "BPA": radio_map.beam.bpa_deg,
            "OBJECT": radio_map.name,
        }
        write_map(tmp / MAP_FILE, radio_map)
        write_image(
            tmp / BACKGROUND_FILE, maps.background, radio_map.wcs, bunit="JY/BEAM", extra=beam_cards
        )
        write_image(tmp / RMS_FILE, maps.rms, radio_map.wcs, bunit="JY/BEAM", extra=beam_cards)
        finite = np.isfinite(radio_map.data)
        report: dict[str, Any] = {
            "skysift_version": __version__,
            "name": radio_map.name,
            "input": str(path),
            "read": radio_map.provenance,
            "beam": _beam_dict(radio_map.beam),
            "beam_source": radio_map.provenance.get("beam_source"),
            "frequency_hz": radio_map.frequency_hz,
            "frequency_source": radio_map.provenance.get("frequency_source"),
            "unit_conversion": radio_map.provenance.get("unit_conversion"),
            "header_cards_fixed_or_dropped": radio_map.provenance.get(
                "header_cards_fixed_or_dropped", []
            ),
            "reprojection": None
            if settings.pixel_scale_arcsec is None
            else {
                "from_pixel_scale_arcsec": original_scale,
                "to_pixel_scale_arcsec": settings.pixel_scale_arcsec,
                "from_shape": list(original_shape),
                "method": "reproject_interp (bilinear)",
            },
            "shape": list(radio_map.shape),
            "pixel_scale_arcsec": radio_map.pixel_scale_arcsec,
            "beam_area_pixels": radio_map.beam_area_pixels,
            "blank_fraction": float(1.0 - finite.mean()),
            "background": {
                **settings.background.model_dump(),
                "box_pixels": maps.box_pixels,
                "method": maps.method,
                "median_background_jy_per_beam": float(np.nanmedian(maps.background)),
            },
            "median_rms_jy_per_beam": maps.median_rms,
            "outputs": [MAP_FILE, BACKGROUND_FILE, RMS_FILE, REPORT_FILE],
        }
        (tmp / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n")
    log.info(
        "ingested %s -> %s (median rms %.3g Jy/beam)",
        path,
        out_dir,
        report["median_rms_jy_per_beam"],
    )
    return report
