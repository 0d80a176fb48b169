"""PyBDSF on a skysift map, and its source list as a catalogue with the truth columns.

PyBDSF finds islands of emission above ``thresh_isl`` sigma that hold a pixel above
``thresh_pix`` sigma, fits Gaussians to each island and groups the Gaussians of ONE island into
sources (S_Code ``S``: one Gaussian alone in its island; ``C``: one Gaussian sharing its island
with other sources; ``M``: several Gaussians). Gaussians of different islands are never grouped,
so a radio galaxy whose lobes are separate islands is always reported as several sources: this is
the limitation the detector is compared against.

Conversion (one catalogue row per PyBDSF source):

- class: ``M`` -> ``extended``; ``S`` and ``C`` (single Gaussians) -> ``extended`` when the
  deconvolved major FWHM ``DC_Maj`` exceeds ``resolved_fraction`` x the beam major FWHM, else
  ``compact``;
- mask: the source's island pixels; an island holding several sources is split by assigning
  each of its pixels to the source of the nearest fitted Gaussian centre (pixel distance);
- fluxes: ``Peak_flux`` (Jy/beam), ``Total_flux`` (Jy); ``local_rms`` = ``Isl_rms``;
- position: ``RA``/``DEC`` (flux-weighted centroid) converted with the map's WCS to 0-based pixels;
- sizes: ``DC_Maj``/``DC_Min`` (intrinsic FWHM, arcsec) and ``DC_PA`` (deg east of north).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from scipy import ndimage

from skysift.baselines.common import (
    BaselineResult,
    FinderError,
    gc_frozen,
    mask_columns,
    measure_runtime,
    pixel_positions,
    quiet_library,
    size_class,
)
from skysift.io.catalogue import truth_table_from_rows
from skysift.io.fits_map import RadioMap, write_image, write_map

log = logging.getLogger(__name__)

#: Native files kept beside the converted catalogue.
PYBDSF_FILES = {
    "srl": "pybdsf_srl.fits",
    "gaul": "pybdsf_gaul.fits",
    "island_mask": "pybdsf_island_mask.fits",
    "islands": "pybdsf_islands.fits",
    "log": "pybdsf.log",
}


def split_islands(
    islands: np.ndarray, gauss_xy: np.ndarray, gauss_island: np.ndarray, gauss_label: np.ndarray
) -> np.ndarray:
    """Label each island pixel with the label of the nearest Gaussian of that island.

    Parameters
    ----------
    islands
        Shape (ny, nx), int: island id + 1 per pixel, 0 outside islands.
    gauss_xy
        Shape (G, 2): 0-based (x, y) pixel centres of the fitted Gaussians.
    gauss_island
        Shape (G,): island id + 1 of each Gaussian (values of ``islands``).
    gauss_label
        Shape (G,): output label (catalogue id, > 0) of each Gaussian.

    Returns
    -------
    numpy.ndarray
        Shape (ny, nx), int32: the label of the nearest Gaussian of the pixel's own island;
        0 outside islands and in islands without a fitted Gaussian.
    """
    out = np.zeros(islands.shape, dtype=np.int32)
    slices = ndimage.find_objects(islands)
    for isl in np.unique(gauss_island):
        isl = int(isl)
        if isl <= 0 or isl > len(slices) or slices[isl - 1] is None:
            continue
        sl = slices[isl - 1]
        inside = islands[sl] == isl
        members = np.flatnonzero(gauss_island == isl)
        labels = gauss_label[members]
        view = out[sl]
        if np.unique(labels).size == 1:
            view[inside] = labels[0]
            continue
        yy, xx = np.nonzero(inside)
        xs = xx + sl[1].start
        ys = yy + sl[0].start
        d2 = (xs[:, None] - gauss_xy[members, 0][None, :]) ** 2 + (
            ys[:, None] - gauss_xy[members, 1][None, :]
        ) ** 2
        view[yy, xx] = labels[np.argmin(d2, axis=1)]
    return out


def pybdsf_catalogue(
    srl: Table,
    gaul: Table,
    islands: np.ndarray,
    radio_map: RadioMap,
    *,
    resolved_fraction: float = 0.5,
) -> tuple[Table, np.ndarray]:
    """Convert a PyBDSF source list to the truth columns and a segmentation image.

    Parameters
    ----------
    srl
        PyBDSF source list (``write_catalog(catalog_type='srl', format='fits')``): Source_id,
        Isl_id, RA, DEC (deg), Peak_flux (Jy/beam), Total_flux (Jy), DC_Maj, DC_Min (deg),
        DC_PA (deg), Isl_rms (Jy/beam), S_Code.
    gaul
        PyBDSF Gaussian list (same format): Source_id, Isl_id, RA, DEC per Gaussian.
    islands
        Shape (ny, nx), int: PyBDSF island id + 1 per pixel, 0 outside islands.
    radio_map
        The map PyBDSF ran on (WCS, beam, name).
    resolved_fraction
        Single Gaussians with ``DC_Maj`` > this x beam major are ``extended``.

    Returns
    -------
    (Table, numpy.ndarray)
        Catalogue (ids 1..N in Source_id order) and int32 segmentation, shape (ny, nx).
    """
    if len(srl):
        srl = srl[np.argsort(np.asarray(srl["Source_id"]), kind="stable")]
    id_of_source = {int(s): i + 1 for i, s in enumerate(srl["Source_id"])}
    xy = pixel_positions(radio_map, np.asarray(srl["RA"]), np.asarray(srl["DEC"]))
    g_xy = pixel_positions(radio_map, np.asarray(gaul["RA"]), np.asarray(gaul["DEC"]))
    g_source = np.asarray(gaul["Source_id"], dtype=int)
    keep = np.array([int(s) in id_of_source for s in g_source], dtype=bool)
    g_label = np.array([id_of_source.get(int(s), 0) for s in g_source], dtype=np.int32)
    segmentation = split_islands(
        np.asarray(islands, dtype=np.int32),
        g_xy[keep],
        np.asarray(gaul["Isl_id"], dtype=int)[keep] + 1,
        g_label[keep],
    )
    n_gauss = np.bincount(g_label, minlength=len(srl) + 1)
    ids = np.arange(1, len(srl) + 1)
    masks = mask_columns(segmentation, ids, pixel_scale_arcsec=radio_map.pixel_scale_arcsec)
    bmaj = radio_map.beam.bmaj_arcsec
    rows: list[dict[str, object]] = []
    for i, row in enumerate(srl):
        oid = i + 1
        code = str(row["S_Code"]).strip()
        dc_maj = float(row["DC_Maj"]) * 3600.0
        cls = (
            "extended"
            if code == "M"
            else size_class(dc_maj, bmaj, resolved_fraction=resolved_fraction)
        )
        rms = float(row["Isl_rms"])
        peak = float(row["Peak_flux"])
        rows.append(
            {
                "id": oid,
                "class": cls,
                "ra": float(row["RA"]),
                "dec": float(row["DEC"]),
                "x": float(xy[i, 0]),
                "y": float(xy[i, 1]),
                "peak_flux": peak,
                "int_flux": float(row["Total_flux"]),
                "local_rms": rms,
                "snr": peak / rms if rms > 0 else math.nan,
                "n_components": int(n_gauss[oid]),
                "n_peaks": int(n_gauss[oid]),
                "major_arcsec": dc_maj,
                "minor_arcsec": float(row["DC_Min"]) * 3600.0,
                "pa_deg": float(row["DC_PA"]),
                "parent_id": 0,
                "map": radio_map.name,
                **masks[oid],
            }
        )
    return truth_table_from_rows(rows), segmentation


def _empty_native() -> Table:
    names = ("Source_id", "Isl_id", "RA", "DEC", "Peak_flux", "Total_flux", "Isl_rms")
    table = Table({name: np.zeros(0) for name in names})
    for name in ("DC_Maj", "DC_Min", "DC_PA"):
        table[name] = np.zeros(0)
    table["S_Code"] = np.zeros(0, dtype="U1")
    return table


def run_pybdsf(
    radio_map: RadioMap,
    out_dir: str | Path,
    *,
    thresh_isl: float = 3.0,
    thresh_pix: float = 5.0,
    rms_box: tuple[int, int] | None = None,
    ncores: int = 1,
    resolved_fraction: float = 0.5,
    map_path: str | Path | None = None,
) -> BaselineResult:
    """Run PyBDSF ``process_image`` on a map and convert its source list.

    Parameters
    ----------
    radio_map
        The map (Jy/beam, WCS, beam), as read by :func:`skysift.io.fits_map.read_map`.
        PyBDSF runs on a standardised 2-D copy of it, so units and beam are the contract's.
    out_dir
        Folder that receives the native files (:data:`PYBDSF_FILES`).
    thresh_isl, thresh_pix
        Island and detection thresholds in sigma.
    rms_box
        (box, step) of PyBDSF's rms map in pixels; None = PyBDSF's choice.
    ncores
        Cores used by PyBDSF's fitting.
    resolved_fraction
        See :func:`pybdsf_catalogue`.
    map_path
        The map's file, only for error messages.

    Returns
    -------
    BaselineResult
        Catalogue, segmentation (island-based), native source list, runtime.

    Raises
    ------
    FinderError
        If PyBDSF fails; its message names PyBDSF and the map.
    """
    import bdsf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    where = map_path if map_path is not None else radio_map.name
    options: dict[str, Any] = {
        "thresh_isl": thresh_isl,
        "thresh_pix": thresh_pix,
        "ncores": ncores,
    }
    if rms_box is not None:
        options["rms_box"] = tuple(rms_box)
    with tempfile.TemporaryDirectory(prefix="skysift-pybdsf-") as tmp_name:
        tmp = Path(tmp_name)
        image = tmp / "map.fits"
        write_map(image, radio_map)
        with (
            gc_frozen(),
            quiet_library("PyBDSF") as captured,
            measure_runtime() as runtime,
        ):
            try:
                img = bdsf.process_image(
                    str(image), quiet=True, outdir=str(tmp), output_opts=False, **options
                )
            except Exception as exc:  # PyBDSF raises RuntimeError and many others
                raise FinderError("PyBDSF", where, f"{type(exc).__name__}: {exc}") from exc
        log.debug("PyBDSF output: %s", captured.getvalue())
        if not getattr(img, "completed_Ops", None) or "gausfit" not in img.completed_Ops:
            raise FinderError("PyBDSF", where, "process_image stopped before fitting Gaussians")
        islands = np.asarray(img.pyrank).T.astype(np.int32) + 1  # PyBDSF arrays are (x, y)
        with quiet_library("PyBDSF"):
            if len(img.sources):
                img.write_catalog(
                    outfile=str(tmp / "srl.fits"), format="fits", catalog_type="srl", clobber=True
                )
                img.write_catalog(
                    outfile=str(tmp / "gaul.fits"), format="fits", catalog_type="gaul", clobber=True
                )
            img.export_image(
                outfile=str(tmp / "island_mask.fits"), img_type="island_mask", clobber=True
            )
        if len(img.sources):
            srl = Table.read(tmp / "srl.fits")
            gaul = Table.read(tmp / "gaul.fits")
        else:
            srl = _empty_native()
            gaul = _empty_native()
        files: dict[str, Path] = {}
        for key, name in (
            ("srl", "srl.fits"),
            ("gaul", "gaul.fits"),
            ("island_mask", "island_mask.fits"),
        ):
            if (tmp / name).exists():
                files[key] = out / PYBDSF_FILES[key]
                shutil.move(tmp / name, files[key])
        logs = sorted(tmp.glob("*.pybdsf.log"))
        if logs:
            files["log"] = out / PYBDSF_FILES["log"]
            shutil.move(logs[0], files["log"])
    files["islands"] = write_image(
        out / PYBDSF_FILES["islands"], islands, radio_map.wcs, extra={"FINDER": "PyBDSF"}
    )
    catalogue, segmentation = pybdsf_catalogue(
        srl, gaul, islands, radio_map, resolved_fraction=resolved_fraction
    )
    log.info(
        "PyBDSF: %d islands, %d sources, %d Gaussians in %.1f s",
        int(islands.max()),
        len(srl),
        len(gaul),
        runtime.wall_s,
    )
    parameters = {**options, "resolved_fraction": resolved_fraction, "version": bdsf.__version__}
    return BaselineResult(
        finder="pybdsf",
        catalogue=catalogue,
        segmentation=segmentation,
        native=srl,
        runtime=runtime,
        parameters=parameters,
        files=files,
    )
