"""BANE + Aegean on a skysift map, and its components as a catalogue with the truth columns.

BANE estimates the background and noise maps (sigma-clipped statistics on a grid, interpolated);
Aegean seeds islands at ``seedclip`` sigma, floods them down to ``floodclip`` sigma and fits one
elliptical Gaussian per summit. Aegean has no notion of a source made of several components, so
every component is one catalogue row.

Conversion (one catalogue row per component):

- class: ``extended`` when the approximately deconvolved major FWHM
  sqrt(a^2 - psf_a^2) exceeds ``resolved_fraction`` x the beam major FWHM, else ``compact``;
- mask: Aegean gives none; the component's mask is the ellipse of its fitted Gaussian (a, b, pa)
  out to the contour at ``mask_level`` x its peak, i.e. semi-axes FWHM x sqrt(ln(1/level) /
  (4 ln 2)) (level 0.05: 1.04 x FWHM). Where ellipses overlap, the brighter component wins.
  Position-based matching uses (x, y) instead;
- fluxes: ``peak_flux`` (Jy/beam), ``int_flux`` (Jy); ``local_rms`` from BANE;
- sizes: intrinsic major as above, minor likewise with psf_b, PA of the fit (deg east of north).
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from skysift.baselines.common import (
    BaselineResult,
    FinderError,
    deconvolved_major_arcsec,
    mask_columns,
    measure_runtime,
    pixel_positions,
    quiet_library,
    size_class,
)
from skysift.io.catalogue import truth_table_from_rows
from skysift.io.fits_map import RadioMap, write_map
from skysift.io.masks import ellipse_mask

log = logging.getLogger(__name__)

#: Component attributes of Aegean kept in the native table (units: deg, Jy/beam, Jy, arcsec).
COMPONENT_FIELDS: tuple[str, ...] = (
    "island",
    "source",
    "ra",
    "dec",
    "peak_flux",
    "err_peak_flux",
    "int_flux",
    "err_int_flux",
    "a",
    "b",
    "pa",
    "local_rms",
    "background",
    "psf_a",
    "psf_b",
    "psf_pa",
    "flags",
)

#: Native files kept beside the converted catalogue.
AEGEAN_FILES = {
    "components": "aegean_comp.fits",
    "bkg": "bane_bkg.fits",
    "rms": "bane_rms.fits",
}


def ellipse_semi_axis_factor(mask_level: float) -> float:
    """Semi-axis of the ``mask_level`` x peak contour of a Gaussian, in units of its FWHM."""
    return math.sqrt(math.log(1.0 / mask_level) / (4.0 * math.log(2.0)))


def components_table(components: list[Any]) -> Table:
    """Aegean ``ComponentSource`` objects as a table of :data:`COMPONENT_FIELDS`."""
    table = Table()
    for name in COMPONENT_FIELDS:
        dtype = int if name in ("island", "source", "flags") else float
        table[name] = np.array([getattr(c, name) for c in components], dtype=dtype)
    for name, unit in (("ra", "deg"), ("dec", "deg"), ("pa", "deg"), ("psf_pa", "deg")):
        table[name].unit = unit
    for name in ("peak_flux", "err_peak_flux", "local_rms", "background"):
        table[name].unit = "Jy/beam"
    for name in ("int_flux", "err_int_flux"):
        table[name].unit = "Jy"
    for name in ("a", "b", "psf_a", "psf_b"):
        table[name].unit = "arcsec"
    return table


def aegean_catalogue(
    components: Table,
    radio_map: RadioMap,
    *,
    resolved_fraction: float = 0.5,
    mask_level: float = 0.05,
) -> tuple[Table, np.ndarray]:
    """Convert Aegean components to the truth columns and an ellipse segmentation image.

    Parameters
    ----------
    components
        Table of :data:`COMPONENT_FIELDS` (a, b: fitted FWHM in arcsec; pa in deg east of
        north; psf_a, psf_b: local beam FWHM in arcsec; fluxes in Jy/beam and Jy).
    radio_map
        The map Aegean ran on (WCS, beam, name).
    resolved_fraction
        Components with intrinsic major FWHM > this x beam major are ``extended``.
    mask_level
        Ellipse masks reach the contour at this fraction of the component's peak.

    Returns
    -------
    (Table, numpy.ndarray)
        Catalogue (ids 1..N in Aegean's island, component order) and int32 segmentation of
        shape (ny, nx).
    """
    shape = radio_map.shape
    xy = pixel_positions(radio_map, np.asarray(components["ra"]), np.asarray(components["dec"]))
    segmentation = np.zeros(shape, dtype=np.int32)
    factor = ellipse_semi_axis_factor(mask_level)
    peaks = np.asarray(components["peak_flux"], dtype=float)
    for i in np.argsort(peaks, kind="stable"):  # brightest painted last wins overlaps
        row = components[int(i)]
        a, b = float(row["a"]), float(row["b"])
        if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
            a = b = radio_map.beam.bmaj_arcsec
        if not (0 <= xy[i, 0] < shape[1] and 0 <= xy[i, 1] < shape[0]):
            continue
        sparse = ellipse_mask(
            radio_map.wcs,
            shape,
            float(xy[i, 0]),
            float(xy[i, 1]),
            semi_major_arcsec=factor * max(a, b),
            semi_minor_arcsec=factor * min(a, b),
            pa_deg=float(row["pa"]) if math.isfinite(float(row["pa"])) else 0.0,
        )
        if sparse is not None:
            segmentation[sparse.slices][sparse.data] = int(i) + 1
    ids = np.arange(1, len(components) + 1)
    masks = mask_columns(segmentation, ids, pixel_scale_arcsec=radio_map.pixel_scale_arcsec)
    bmaj = radio_map.beam.bmaj_arcsec
    rows: list[dict[str, object]] = []
    for i, row in enumerate(components):
        oid = i + 1
        psf_a = float(row["psf_a"]) if math.isfinite(float(row["psf_a"])) else bmaj
        psf_b = float(row["psf_b"]) if math.isfinite(float(row["psf_b"])) else psf_a
        major = deconvolved_major_arcsec(float(row["a"]), psf_a)
        minor = deconvolved_major_arcsec(float(row["b"]), psf_b)
        rms = float(row["local_rms"])
        peak = float(row["peak_flux"])
        rows.append(
            {
                "id": oid,
                "class": size_class(major, psf_a, resolved_fraction=resolved_fraction),
                "ra": float(row["ra"]),
                "dec": float(row["dec"]),
                "x": float(xy[i, 0]),
                "y": float(xy[i, 1]),
                "peak_flux": peak,
                "int_flux": float(row["int_flux"]),
                "local_rms": rms,
                "snr": peak / rms if rms > 0 else math.nan,
                "n_components": 1,
                "n_peaks": 1,
                "major_arcsec": major,
                "minor_arcsec": minor,
                "pa_deg": float(row["pa"]),
                "parent_id": 0,
                "map": radio_map.name,
                **masks[oid],
            }
        )
    return truth_table_from_rows(rows), segmentation


@contextlib.contextmanager
def numpy_linalg_alias() -> Iterator[None]:
    """Give ``numpy.linalg.linalg`` back to AegeanTools while it runs.

    AegeanTools 2.3.5 catches ``np.linalg.linalg.LinAlgError`` in ``fitting.covar_errors``;
    numpy 2.4 removed that private module, so the first singular covariance matrix (met on
    large crowded maps) raises ``AttributeError`` instead of falling back (upstream issue
    PaulHancock/Aegean#228). The alias is a namespace holding ``numpy.linalg.LinAlgError``,
    removed again afterwards.
    """
    if hasattr(np.linalg, "linalg"):
        yield
        return
    np.linalg.linalg = types.SimpleNamespace(LinAlgError=np.linalg.LinAlgError)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del np.linalg.linalg  # type: ignore[attr-defined]


def run_aegean(
    radio_map: RadioMap,
    out_dir: str | Path,
    *,
    seedclip: float = 5.0,
    floodclip: float = 4.0,
    max_summits: int | None = None,
    bane_grid_pix: int | None = None,
    bane_box_pix: int | None = None,
    cores: int = 1,
    resolved_fraction: float = 0.5,
    mask_level: float = 0.05,
    map_path: str | Path | None = None,
) -> BaselineResult:
    """Run BANE then Aegean on a map and convert the components.

    Parameters
    ----------
    radio_map
        The map (Jy/beam, WCS, beam); the finders run on a standardised 2-D copy.
    out_dir
        Folder that receives the native files (:data:`AEGEAN_FILES`).
    seedclip, floodclip
        Aegean's seed and flood thresholds in sigma.
    max_summits
        Fit at most this many components per island (None = all).
    bane_grid_pix, bane_box_pix
        BANE grid step and box size in pixels (None = BANE's defaults).
    cores
        Cores for BANE and Aegean.
    resolved_fraction, mask_level
        See :func:`aegean_catalogue`.
    map_path
        The map's file, only for error messages.

    Raises
    ------
    FinderError
        If BANE or Aegean fails; the message names which and the map.
    """
    from AegeanTools import BANE, __version__
    from AegeanTools.source_finder import SourceFinder

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    where = map_path if map_path is not None else radio_map.name
    step = (bane_grid_pix, bane_grid_pix) if bane_grid_pix else None
    box = (bane_box_pix, bane_box_pix) if bane_box_pix else None
    with tempfile.TemporaryDirectory(prefix="skysift-aegean-") as tmp_name:
        tmp = Path(tmp_name)
        image = tmp / "map.fits"
        write_map(image, radio_map)
        with (
            quiet_library("AegeanTools") as captured,
            measure_runtime() as runtime,
            numpy_linalg_alias(),
        ):
            try:
                result = BANE.filter_image(
                    str(image), str(tmp / "bane"), step_size=step, box_size=box, cores=cores
                )
            except Exception as exc:  # BANE raises many types on bad input
                raise FinderError("BANE", where, f"{type(exc).__name__}: {exc}") from exc
            if result is None:
                raise FinderError("BANE", where, "no background/noise maps were made")
            try:
                found = SourceFinder().find_sources_in_image(
                    str(image),
                    bkgin=str(tmp / "bane_bkg.fits"),
                    rmsin=str(tmp / "bane_rms.fits"),
                    innerclip=seedclip,
                    outerclip=floodclip,
                    max_summits=max_summits,
                    cores=cores,
                    progress=False,
                )
            except Exception as exc:  # Aegean raises AegeanError and many others
                raise FinderError("Aegean", where, f"{type(exc).__name__}: {exc}") from exc
        log.debug("Aegean output: %s", captured.getvalue())
        files: dict[str, Path] = {}
        for key in ("bkg", "rms"):
            files[key] = out / AEGEAN_FILES[key]
            shutil.move(tmp / f"bane_{key}.fits", files[key])
    components = components_table(list(found))
    files["components"] = out / AEGEAN_FILES["components"]
    components.write(files["components"], overwrite=True)
    catalogue, segmentation = aegean_catalogue(
        components, radio_map, resolved_fraction=resolved_fraction, mask_level=mask_level
    )
    log.info("Aegean: %d components in %.1f s", len(components), runtime.wall_s)
    parameters = {
        "seedclip": seedclip,
        "floodclip": floodclip,
        "max_summits": max_summits,
        "bane_grid_pix": bane_grid_pix,
        "bane_box_pix": bane_box_pix,
        "cores": cores,
        "resolved_fraction": resolved_fraction,
        "mask_level": mask_level,
        "version": __version__,
    }
    return BaselineResult(
        finder="aegean",
        catalogue=catalogue,
        segmentation=segmentation,
        native=components,
        runtime=runtime,
        parameters=parameters,
        files=files,
    )
