"""User annotations (a catalogue or DS9 regions) -> truth table + segmentation of a map.

The output has exactly the columns of :data:`skysift.io.catalogue.TRUTH_COLUMNS`, so user
labels on real maps and the simulator's truth are interchangeable downstream. Fluxes are
measured on the map inside each object's mask: peak in Jy/beam, integrated flux in Jy (sum of
background-subtracted Jy/beam pixels divided by the beam area in pixels).

Masks are the given shapes, or (``annotation_masks: islands``) the islands of emission above
``island_snr`` x the local rms that overlap them, as radio source masks are usually drawn. The
class ``auto`` (:data:`AUTO_CLASS`), for catalogues of resolved radio sources whose morphology is
not labelled, becomes ``extended-multi`` when the object's mask holds several islands and
``extended`` otherwise (the simulator's definition of the classes).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from scipy import ndimage

from skysift.data.morphometry import (
    EIGHT_CONNECTED,
    bbox_of,
    count_islands,
    largest_extent_pixels,
)
from skysift.errors import InputFileError
from skysift.io.atomic import atomic_dir
from skysift.io.catalogue import truth_table_from_rows, write_table
from skysift.io.config import IngestConfig
from skysift.io.fits_map import RadioMap, read_map, write_image
from skysift.io.header import icrs_to_pixel, pixel_to_icrs
from skysift.io.ingest import map_background
from skysift.io.masks import SparseMask, ellipse_mask
from skysift.io.regions_io import regions_to_annotations

log = logging.getLogger(__name__)

RA_NAMES = ("ra", "raj2000", "ra_deg", "_raj2000", "ra_j2000", "ra_icrs")
DEC_NAMES = ("dec", "dej2000", "decj2000", "dec_deg", "_dej2000", "de", "dec_j2000", "de_icrs")
CLASS_NAMES = ("class", "label", "category", "classification")
MAJOR_NAMES = ("major", "maj", "major_arcsec")
MINOR_NAMES = ("minor", "min", "minor_arcsec")
PA_NAMES = ("pa", "pa_deg", "posang")
ID_NAMES = ("id", "mask_id", "seg_id")
#: Catalogue/region class resolved by the mask: several islands -> extended-multi, else extended.
AUTO_CLASS = "auto"


@dataclass(frozen=True)
class Annotation:
    """One labelled object on the map grid before measurement.

    Attributes
    ----------
    label
        Object class (not validated here: build-cutouts checks it against the config).
    x, y
        0-based pixel position of the object centre.
    mask
        The object's pixels.
    major_arcsec, minor_arcsec, pa_deg
        Size given by the user (FWHM axes in arcsec, PA in deg east of north), NaN if none.
    source_id
        Id requested by the input (catalogue ``id`` column), or None to number in order.
    """

    label: str
    x: float
    y: float
    mask: SparseMask
    major_arcsec: float = math.nan
    minor_arcsec: float = math.nan
    pa_deg: float = math.nan
    source_id: int | None = None


def _column(table: Table, names: tuple[str, ...]) -> str | None:
    lower = {name.lower(): name for name in table.colnames}
    for candidate in names:
        if candidate in lower:
            return lower[candidate]
    return None


def read_catalogue(path: str | Path) -> Table:
    """Read a CSV, FITS or VOTable catalogue, with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "catalogue not found")
    suffix = "".join(path.suffixes[-2:]).lower()
    fmt = (
        "ascii.csv"
        if suffix.endswith(".csv")
        else "votable"
        if suffix.endswith((".vot", ".xml"))
        else "fits"
    )
    try:
        table = Table.read(path, format=fmt)
    except Exception as exc:  # astropy raises many types for unreadable tables
        raise InputFileError(path, f"cannot read as a {fmt} table ({exc})") from exc
    if len(table) == 0:
        raise InputFileError(path, "the catalogue has no rows")
    return table


def _float_column(table: Table, name: str | None) -> np.ndarray:
    if name is None:
        return np.full(len(table), np.nan)
    column = table[name]
    values: np.ndarray = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    return np.asarray(values, dtype=float)


def _class_values(table: Table, name: str, path: Path) -> list[str]:
    column = table[name]
    mask = np.ma.getmaskarray(np.ma.asarray(column))
    labels: list[str] = []
    for i, (value, masked) in enumerate(zip(column, mask, strict=True)):
        text = "" if masked else str(value).strip()
        if not text:
            raise InputFileError(
                path, f"row {i + 1}: empty class in column '{name}'; give every source a class"
            )
        labels.append(text)
    return labels


def catalogue_annotations(
    table: Table,
    path: str | Path,
    radio_map: RadioMap,
    *,
    segmentation: np.ndarray | None = None,
    mask_scale: float = 1.5,
) -> tuple[list[Annotation], int]:
    """Annotations from catalogue rows: ra/dec (deg, ICRS/FK5), class, optional sizes.

    Without ``segmentation`` each mask is an ellipse with semi-axes ``mask_scale`` times the
    source's FWHM on the map: sqrt(major^2 + bmaj^2) by sqrt(minor^2 + bmin^2) (catalogue
    sizes taken as deconvolved; no size = the beam, with the beam's PA). With ``segmentation``
    (an int image on the map grid) and an ``id`` column, the mask is ``segmentation == id``.

    Returns
    -------
    (annotations, skipped)
        Usable annotations and the number of rows off the map or on blanked pixels.
    """
    path = Path(path)
    ra_name, dec_name = _column(table, RA_NAMES), _column(table, DEC_NAMES)
    if ra_name is None or dec_name is None:
        missing = "RA" if ra_name is None else "Dec"
        looked = RA_NAMES if ra_name is None else DEC_NAMES
        raise InputFileError(
            path,
            f"no {missing} column (looked for {', '.join(looked)}; any case); add columns ra "
            f"and dec in degrees (columns: {', '.join(table.colnames)})",
        )
    class_name = _column(table, CLASS_NAMES)
    if class_name is None:
        raise InputFileError(path, "no class column (looked for class, label, category)")
    labels = _class_values(table, class_name, path)
    ra, dec = _float_column(table, ra_name), _float_column(table, dec_name)
    major = _float_column(table, _column(table, MAJOR_NAMES))
    minor = _float_column(table, _column(table, MINOR_NAMES))
    pa = _float_column(table, _column(table, PA_NAMES))
    id_name = _column(table, ID_NAMES)
    ids = _float_column(table, id_name) if id_name else None
    if segmentation is not None:
        if ids is None:
            raise InputFileError(path, "--masks needs an id column naming each source's mask value")
        if segmentation.shape != radio_map.shape:
            raise InputFileError(
                path,
                f"mask image shape {segmentation.shape} differs from the map {radio_map.shape}",
            )
    x, y = icrs_to_pixel(radio_map.wcs, ra, dec)
    beam = radio_map.beam
    ny, nx = radio_map.shape
    annotations: list[Annotation] = []
    skipped = 0
    for i in range(len(table)):
        xi, yi = float(x[i]), float(y[i])
        if not (np.isfinite(xi) and np.isfinite(yi)):  # beyond the projection's hemisphere
            skipped += 1
            continue
        row, col = round(yi), round(xi)
        if not (0 <= row < ny and 0 <= col < nx):
            skipped += 1
            continue
        if not np.isfinite(radio_map.data[row, col]):
            skipped += 1
            continue
        source_id = None if ids is None or not np.isfinite(ids[i]) else int(ids[i])
        mask: SparseMask | None
        if segmentation is not None:
            mask = SparseMask.from_full(segmentation == source_id)
        else:
            maj = (
                math.hypot(major[i], beam.bmaj_arcsec)
                if np.isfinite(major[i])
                else beam.bmaj_arcsec
            )
            mnr_src = (
                minor[i] if np.isfinite(minor[i]) else (major[i] if np.isfinite(major[i]) else 0.0)
            )
            mnr = math.hypot(mnr_src, beam.bmin_arcsec)
            angle = pa[i] if np.isfinite(pa[i]) else beam.bpa_deg
            maj, mnr = max(maj, mnr), min(maj, mnr)
            mask = ellipse_mask(
                radio_map.wcs,
                radio_map.shape,
                xi,
                yi,
                semi_major_arcsec=mask_scale * maj,
                semi_minor_arcsec=mask_scale * mnr,
                pa_deg=float(angle),
            )
        if mask is None or mask.area == 0:
            skipped += 1
            continue
        annotations.append(
            Annotation(
                labels[i], xi, yi, mask, float(major[i]), float(minor[i]), float(pa[i]), source_id
            )
        )
    return annotations, skipped


def region_annotations(
    path: str | Path, radio_map: RadioMap, *, mask_scale: float = 1.5
) -> tuple[list[Annotation], int]:
    """Annotations from a DS9 region file (points become beam ellipses)."""
    beam = radio_map.beam
    ny, nx = radio_map.shape
    annotations: list[Annotation] = []
    skipped = 0
    for item in regions_to_annotations(path, radio_map.wcs, radio_map.shape):
        row, col = round(item.y), round(item.x)
        mask = item.mask
        if mask is None:
            if not (0 <= row < ny and 0 <= col < nx):
                skipped += 1
                continue
            mask = ellipse_mask(
                radio_map.wcs,
                radio_map.shape,
                item.x,
                item.y,
                semi_major_arcsec=mask_scale * beam.bmaj_arcsec,
                semi_minor_arcsec=mask_scale * beam.bmin_arcsec,
                pa_deg=beam.bpa_deg,
            )
            if mask is None:
                skipped += 1
                continue
        annotations.append(Annotation(item.label, item.x, item.y, mask))
    return annotations, skipped


def grow_to_islands(
    annotations: list[Annotation], snr: np.ndarray, island_snr: float, peak_snr: float
) -> tuple[list[Annotation], int]:
    """Replace each annotation's mask by the islands of ``snr >= island_snr`` that overlap it
    and peak at ``snr >= peak_snr``.

    Parameters
    ----------
    annotations
        Annotations with shape masks (ellipses, regions) on the map grid.
    snr
        Shape (ny, nx): background-subtracted map / local rms; NaN (blanked) is below any
        threshold.
    island_snr
        Island threshold in units of the local rms; islands are 8-connected.
    peak_snr
        Islands whose highest pixel is below this many local rms are ignored (noise).

    Returns
    -------
    (annotations, unchanged)
        The annotations with island masks (an island overlapping several shapes goes to each of
        them: the smaller object keeps shared pixels when they are painted), and the number of
        shapes that overlap no island and keep their shape mask.
    """
    finite = np.nan_to_num(snr, nan=-np.inf)
    labels, n = ndimage.label(finite >= island_snr, EIGHT_CONNECTED)
    boxes = ndimage.find_objects(labels)
    peaks = np.asarray(ndimage.maximum(finite, labels, np.arange(1, n + 1)), dtype=float)
    bright = np.concatenate([[False], peaks >= peak_snr])
    grown, unchanged = [], 0
    for item in annotations:
        ids = np.unique(labels[item.mask.slices][item.mask.data])
        ids = ids[bright[ids]]
        if not ids.size:
            grown.append(item)
            unchanged += 1
            continue
        y0 = min(boxes[i - 1][0].start for i in ids)
        y1 = max(boxes[i - 1][0].stop for i in ids)
        x0 = min(boxes[i - 1][1].start for i in ids)
        x1 = max(boxes[i - 1][1].stop for i in ids)
        data = np.isin(labels[y0:y1, x0:x1], ids)
        grown.append(replace(item, mask=SparseMask(y0, x0, data)))
    return grown, unchanged


def resolved_label(label: str, n_islands: int) -> str:
    """The class of an annotation: :data:`AUTO_CLASS` resolved by its number of islands."""
    if label != AUTO_CLASS:
        return label
    return "extended-multi" if n_islands >= 2 else "extended"


def measure_annotations(
    radio_map: RadioMap,
    annotations: list[Annotation],
    *,
    background: np.ndarray | None,
    rms: np.ndarray | None,
    peak_sigma: float = 5.0,
) -> tuple[Table, np.ndarray]:
    """Number the objects, paint the segmentation image and measure each object.

    Overlapping masks give the shared pixels to the smaller object; blanked (NaN) pixels
    belong to no object. Ids are the catalogue's ``id`` values where given, else 1..N in
    input order.

    Returns
    -------
    (truth, segmentation)
        Contract truth table and int32 segmentation image of the map's shape (0 = no object).
    """
    ny, nx = radio_map.shape
    finite = np.isfinite(radio_map.data)
    used_ids = {a.source_id for a in annotations if a.source_id is not None}
    next_id, numbered = 1, []
    for item in annotations:
        if item.source_id is None:
            while next_id in used_ids:
                next_id += 1
            item = replace(item, source_id=next_id)
            used_ids.add(next_id)
        numbered.append(replace(item, mask=item.mask.restricted(finite)))
    segmentation = np.zeros((ny, nx), dtype=np.int32)
    for item in sorted(numbered, key=lambda a: -a.mask.area):
        region = segmentation[item.mask.slices]
        region[item.mask.data] = int(item.source_id or 0)
    residual = radio_map.data if background is None else radio_map.data - background
    beam_area = radio_map.beam_area_pixels
    ra, dec = pixel_to_icrs(
        radio_map.wcs, np.array([a.x for a in numbered]), np.array([a.y for a in numbered])
    )
    rows: list[dict[str, object]] = []
    for k, item in enumerate(numbered):
        sid = int(item.source_id or 0)
        sl = item.mask.slices
        own = segmentation[sl] == sid
        values = residual[sl][own]
        xmin, ymin, xmax, ymax = bbox_of(own)
        if xmin >= 0:
            xmin, xmax = xmin + sl[1].start, xmax + sl[1].start
            ymin, ymax = ymin + sl[0].start, ymax + sl[0].start
        row_c, col_c = round(item.y), round(item.x)
        local = math.nan
        if rms is not None:
            local = float(rms[row_c, col_c]) if 0 <= row_c < ny and 0 <= col_c < nx else math.nan
            if not np.isfinite(local) and values.size:
                local = float(np.nanmedian(rms[sl][own]))
        peak = float(np.nanmax(values)) if values.size else math.nan
        n_islands = count_islands(own)
        n_peaks = 0
        if values.size:
            cut = np.where(own, residual[sl], -np.inf)
            is_max = (
                ndimage.maximum_filter(cut, size=3, mode="constant", cval=-np.inf) == cut
            ) & own
            threshold = peak_sigma * local if np.isfinite(local) else -np.inf
            n_peaks = max(1, int((is_max & (cut >= threshold)).sum()))
        rows.append(
            {
                "id": sid,
                "class": resolved_label(item.label, n_islands),
                "ra": float(ra[k]),
                "dec": float(dec[k]),
                "x": item.x,
                "y": item.y,
                "peak_flux": peak,
                "int_flux": float(np.nansum(values) / beam_area) if values.size else math.nan,
                "local_rms": local,
                "snr": peak / local if np.isfinite(local) and local > 0 else math.nan,
                "n_islands": n_islands,
                "n_components": n_islands,
                "n_peaks": n_peaks,
                "bbox_xmin": xmin,
                "bbox_ymin": ymin,
                "bbox_xmax": xmax,
                "bbox_ymax": ymax,
                "mask_area": int(own.sum()),
                "las_arcsec": largest_extent_pixels(own) * radio_map.pixel_scale_arcsec
                if values.size
                else math.nan,
                "major_arcsec": item.major_arcsec,
                "minor_arcsec": item.minor_arcsec,
                "pa_deg": item.pa_deg,
                "parent_id": 0,
                "map": radio_map.name,
            }
        )
    return truth_table_from_rows(rows), segmentation


def _beside(map_path: Path, name: str) -> np.ndarray | None:
    path = map_path.with_name(name)
    if not path.is_file():
        return None
    with fits.open(path, memmap=False) as hdul:
        return np.asarray(hdul[0].data, dtype=np.float32).reshape(hdul[0].data.shape[-2:])


def import_annotations(
    map_path: str | Path,
    out_dir: str | Path,
    *,
    catalogue: str | Path | None = None,
    regions: str | Path | None = None,
    masks: str | Path | None = None,
    settings: IngestConfig | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> Table:
    """Turn a user catalogue or DS9 region file into ``truth.fits``/``truth.csv`` and
    ``segmentation.fits`` in ``out_dir`` (atomically).

    Parameters
    ----------
    map_path
        An ingested map (``map.fits``); ``background.fits`` and ``rms.fits`` beside it are
        used when present (background subtracted from fluxes; rms for local_rms and snr).
    catalogue, regions
        Exactly one of: a CSV/FITS catalogue, a DS9 region file.
    masks
        Optional int segmentation FITS on the map grid, with the catalogue's ``id`` values.
    settings
        ``ingest`` section (mask_scale, peak_sigma, annotation_masks, island_snr).
    name
        Map name for the ``map`` column; default: the map's OBJECT keyword or file name.

    Raises
    ------
    InputFileError
        Bad inputs, or no annotation falls on the map.
    """
    settings = settings or IngestConfig()
    if (catalogue is None) == (regions is None):
        raise ValueError("give exactly one of catalogue and regions")
    map_path = Path(map_path)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        radio_map = read_map(map_path)
        with fits.open(map_path) as hdul:
            obj = hdul[0].header.get("OBJECT")
        radio_map.name = name or (str(obj).strip() if obj else radio_map.name)
        if catalogue is not None:
            segmentation_in = None if masks is None else read_mask_image(masks)
            source = Path(catalogue)
            annotations, skipped = catalogue_annotations(
                read_catalogue(source),
                source,
                radio_map,
                segmentation=segmentation_in,
                mask_scale=settings.mask_scale,
            )
        else:
            source = Path(str(regions))
            annotations, skipped = region_annotations(
                source, radio_map, mask_scale=settings.mask_scale
            )
        if skipped:
            log.info("%s: %d annotations off the map or on blanked pixels skipped", source, skipped)
        if not annotations:
            raise InputFileError(
                source,
                f"no annotation falls on the map {map_path} ({skipped} off the map or on blanked "
                "pixels): check the coordinates and that the file belongs to this map",
            )
        background = _beside(map_path, "background.fits")
        rms = _beside(map_path, "rms.fits")
        if rms is None:
            log.info("no rms.fits beside %s: estimating the rms here", map_path)
            rms = map_background(radio_map, settings.background).rms
        if settings.annotation_masks == "islands":
            residual = radio_map.data if background is None else radio_map.data - background
            with np.errstate(divide="ignore", invalid="ignore"):
                snr = residual / rms
            annotations, unchanged = grow_to_islands(
                annotations, snr, settings.island_snr, settings.island_peak_snr
            )
            log.info(
                "masks grown to the islands >= %g sigma (%d over no island kept their shape)",
                settings.island_snr,
                unchanged,
            )
        truth, segmentation = measure_annotations(
            radio_map, annotations, background=background, rms=rms, peak_sigma=settings.peak_sigma
        )
        write_table(truth, tmp / "truth.fits", tmp / "truth.csv")
        write_image(tmp / "segmentation.fits", segmentation, radio_map.wcs)
    log.info("%d annotations -> %s (%d skipped)", len(truth), out_dir, skipped)
    return truth


def read_mask_image(path: str | Path) -> np.ndarray:
    """Read an integer segmentation FITS (pixel = source id) as a 2-D int array."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "mask image not found")
    try:
        with fits.open(path) as hdul:
            data = next((h.data for h in hdul if h.is_image and h.data is not None), None)
    except Exception as exc:
        raise InputFileError(path, f"not a FITS file ({exc})") from exc
    if data is None or data.ndim < 2:
        raise InputFileError(path, "no image data in the mask file")
    data = np.asarray(data).reshape(data.shape[-2:])
    return np.nan_to_num(data, nan=0).astype(np.int64)
