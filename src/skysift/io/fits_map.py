"""The one FITS map reader and writer of skysift.

A :class:`RadioMap` is the in-memory form of the *Map* contract: a 2-D image in Jy/beam with a
2-D celestial WCS and an elliptical Gaussian restoring beam. Every stage that reads a map uses
:func:`read_map`; every stage that writes one uses :func:`write_map`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path
from skysift.io.beam import GAUSSIAN_AREA_FACTOR, Beam
from skysift.io.header import (
    PROVENANCE_KEYWORDS,
    beam_from_header,
    bunit_scale,
    clean_header,
    frequency_from_header,
    image_axes,
    mean_pixel_scale_arcsec,
    read_wcs,
    supported_bunits,
)
from skysift.io.surveys import find_survey, get_survey, known_survey_names

__all__ = [
    "GAUSSIAN_AREA_FACTOR",
    "Beam",
    "RadioMap",
    "read_map",
    "write_image",
    "write_map",
]

log = logging.getLogger(__name__)


@dataclass
class RadioMap:
    """A radio continuum image in Jy/beam.

    Attributes
    ----------
    data
        Pixel values, shape (ny, nx), float32, Jy/beam; NaN marks blanked pixels.
    wcs
        Two-dimensional celestial WCS (pixel coordinates 0-based inside the code).
    beam
        Restoring beam.
    name
        Short name used for output files and catalogue rows.
    frequency_hz
        Reference frequency, or None if unknown.
    header
        Extra header cards to carry into written files (provenance); never used for WCS.
    provenance
        What :func:`read_map` read and assumed (beam and frequency source, unit conversion,
        fixed or dropped header cards ...), JSON-serialisable; empty for maps made in memory.
    """

    data: np.ndarray
    wcs: WCS
    beam: Beam
    name: str
    frequency_hz: float | None = None
    header: fits.Header = field(default_factory=fits.Header)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (ny, nx) in pixels."""
        ny, nx = self.data.shape
        return int(ny), int(nx)

    @property
    def pixel_scale_arcsec(self) -> float:
        """Geometric-mean pixel side, arcsec."""
        return mean_pixel_scale_arcsec(self.wcs)

    @property
    def beam_area_pixels(self) -> float:
        """Beam solid angle in pixels: divide a sum of Jy/beam pixels by it to get Jy."""
        return self.beam.area_pixels(self.pixel_scale_arcsec)

    def to_header(self) -> fits.Header:
        """FITS header of the *Map* contract: celestial WCS, BUNIT, beam and frequency."""
        header = fits.Header()
        for card in self.header.cards:
            if card.keyword not in ("", "COMMENT", "HISTORY") and card.keyword not in header:
                header.append(card)
        header.update(self.wcs.to_header())
        header["BUNIT"] = ("JY/BEAM", "Pixel unit")
        header["BMAJ"] = (self.beam.bmaj_arcsec / 3600.0, "[deg] Restoring beam major axis FWHM")
        header["BMIN"] = (self.beam.bmin_arcsec / 3600.0, "[deg] Restoring beam minor axis FWHM")
        header["BPA"] = (self.beam.bpa_deg, "[deg] Restoring beam position angle")
        if self.frequency_hz is not None:
            header["RESTFRQ"] = (self.frequency_hz, "[Hz] Reference frequency")
            header["FREQ"] = (self.frequency_hz, "[Hz] Reference frequency")
        header["OBJECT"] = self.name
        header["MAPNAME"] = (self.name, "skysift map name")
        return header


def write_map(path: str | Path, radio_map: RadioMap, *, overwrite: bool = True) -> Path:
    """Write ``radio_map`` as a float32 FITS image, atomically.

    Parameters
    ----------
    path
        Output file name (``.fits``).
    radio_map
        The map to write.
    overwrite
        Replace an existing file (default) or refuse.

    Returns
    -------
    Path
        The written file.
    """
    hdu = fits.PrimaryHDU(
        data=np.asarray(radio_map.data, dtype=np.float32), header=radio_map.to_header()
    )
    with atomic_path(path, overwrite=overwrite) as tmp:
        hdu.writeto(tmp)
    return Path(path)


def write_image(
    path: str | Path,
    data: np.ndarray,
    wcs: WCS | None = None,
    *,
    bunit: str | None = None,
    extra: dict[str, object] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write an auxiliary image (segmentation, rms, background, mask) with the map's WCS.

    Parameters
    ----------
    path
        Output file name.
    data
        Pixel array (any numeric dtype; int32 for segmentation images).
    wcs
        Celestial WCS to store, usually the map's.
    bunit
        Pixel unit, e.g. ``"JY/BEAM"``; omitted for label images.
    extra
        Additional header keywords.
    """
    header = wcs.to_header() if wcs is not None else fits.Header()
    if bunit:
        header["BUNIT"] = bunit
    for key, value in (extra or {}).items():
        header[key] = value
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.PrimaryHDU(data=data, header=header).writeto(tmp)
    return Path(path)


def _open_hdul(path: Path) -> fits.HDUList:
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a folder, expected a FITS image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdul = fits.open(path, memmap=True, ignore_missing_simple=True, lazy_load_hdus=False)
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError ... for non-FITS
        raise InputFileError(
            path, f"not a FITS file ({type(exc).__name__}: {exc}); give a FITS image (.fits)"
        ) from exc
    return hdul


def _image_hdu(hdul: fits.HDUList, path: Path) -> tuple[int, fits.hdu.base.ExtensionHDU]:
    for index, hdu in enumerate(hdul):
        if not hdu.is_image:
            continue
        naxis = int(hdu.header.get("NAXIS", 0) or 0)
        if naxis >= 2:
            return index, hdu
    raise InputFileError(path, "no image data in any HDU (expected a 2-D or degenerate 4-D image)")


def _beam_hint(header: fits.Header) -> str:
    declared = header.get("SURVEY")
    if isinstance(declared, str) and find_survey(declared) is not None:
        found = find_survey(declared)
        assert found is not None
        return f" (the header says SURVEY='{declared.strip()}': try --survey {found.name})"
    return ""


def _resolve_beam(
    header: fits.Header, path: Path, beam: Beam | None, survey: str | None
) -> tuple[Beam, str]:
    header_beam, source = beam_from_header(header)
    if header_beam is not None and source is not None:
        if beam is not None and beam != header_beam:
            log.warning(
                "%s: header beam %s used; the given beam %s is ignored", path, header_beam, beam
            )
        return header_beam, source
    if beam is not None:
        return beam, "given beam (--beam / config)"
    if survey is not None:
        return get_survey(survey).beam, f"survey table ({get_survey(survey).name})"
    raise InputFileError(
        path,
        "no beam keywords (BMAJ/BMIN); pass --beam BMAJ BMIN [BPA] in arcsec or --survey NAME "
        f"(known: {', '.join(known_survey_names())}){_beam_hint(header)}",
    )


def _map_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".fz", ".fits", ".fit", ".fts", ".FITS", ".FIT"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.stem


def read_map(
    path: str | Path,
    *,
    beam: Beam | None = None,
    survey: str | None = None,
    frequency_hz: float | None = None,
    name: str | None = None,
) -> RadioMap:
    """Read a survey FITS image as it comes into a :class:`RadioMap` in Jy/beam.

    Handles 2-D images and 3-D/4-D images with degenerate (length-1) FREQ/STOKES axes,
    headers with more WCS axes than data axes, NCP and other projections, FK4/B1950 frames,
    BUNIT in Jy/beam, mJy/beam or uJy/beam, missing BPA, the beam in AIPS HISTORY cards, and
    header cards that astropy's verifier rejects (fixed or dropped, and noted).

    Parameters
    ----------
    path
        FITS file; the first HDU with at least two axes is read.
    beam
        Restoring beam to use when the header has none (axes in arcsec).
    survey
        Known survey name (see :mod:`skysift.io.surveys`) whose beam (and frequency) is used
        when the header has none.
    frequency_hz
        Frequency in Hz to use when the header has none.
    name
        Map name; defaults to the MAPNAME keyword that skysift writes, else the file name
        without its FITS suffix.

    Returns
    -------
    RadioMap
        Data float32 (ny, nx) in Jy/beam with NaN kept, 2-D celestial WCS, beam, frequency
        and a ``provenance`` record of what was read and assumed.

    Raises
    ------
    InputFileError
        Not a FITS file, no image data, no celestial WCS, a cube with a non-degenerate extra
        axis, an unsupported BUNIT, no beam information or an all-NaN map; the one-line
        message says how to fix it.
    """
    path = Path(path)
    with _open_hdul(path) as hdul:
        hdu_index, hdu = _image_hdu(hdul, path)
        header, card_notes = clean_header(hdu.header)
        for note in card_notes:
            log.info("%s: %s", path, note)
        try:
            raw = hdu.data
        except Exception as exc:
            raise InputFileError(path, f"image data cannot be read ({exc})") from exc
        if raw is None or raw.ndim < 2:
            raise InputFileError(path, "no image data (NAXIS < 2)")
        full_wcs, wcs_notes = read_wcs(header)
        if not full_wcs.has_celestial:
            ctypes = [str(header.get(f"CTYPE{i}", "")).strip() or "none" for i in (1, 2)]
            raise InputFileError(
                path,
                f"no celestial WCS (CTYPE1/CTYPE2 are {ctypes[0]!r}/{ctypes[1]!r}); a map needs "
                "sky axes such as RA---SIN/DEC--SIN with CRVAL/CRPIX/CDELT",
            )
        if {full_wcs.wcs.lng, full_wcs.wcs.lat} != {0, 1}:
            raise InputFileError(
                path, "celestial axes are not FITS axes 1 and 2; reorder the axes of the image"
            )
        axes = image_axes(header, raw.shape)
        squeezed: list[str] = []
        for axis in axes[2:]:
            if axis.length != 1:
                raise InputFileError(
                    path,
                    f"a cube: axis {axis.number} ({axis.ctype}) has {axis.length} planes; "
                    "skysift reads 2-D maps: extract one plane or average the planes first",
                )
            squeezed.append(f"{axis.ctype} (axis {axis.number})")
        plane = raw[(0,) * (raw.ndim - 2)]
        bunit_raw = header.get("BUNIT")
        scale = bunit_scale(bunit_raw)
        if scale is None:
            raise InputFileError(
                path,
                f"unsupported BUNIT {str(bunit_raw).strip()!r}; supported: {supported_bunits()} "
                "(convert the map to Jy/beam first)",
            )
        data = np.array(plane, dtype=np.float32)
    if not np.isfinite(data).any():
        raise InputFileError(path, "all pixels are NaN or blank: the map has no data")
    infinite = np.isinf(data)
    if infinite.any():
        log.warning("%s: %d infinite pixels set to NaN", path, int(infinite.sum()))
        data[infinite] = np.nan
    if scale != 1.0:
        data *= np.float32(scale)
    if bunit_raw is None or not str(bunit_raw).strip():
        log.warning("%s: no BUNIT; assuming Jy/beam", path)
        unit_note = "no BUNIT: assumed Jy/beam"
    elif scale == 1.0:
        unit_note = "none (Jy/beam)"
    else:
        unit_note = f"{str(bunit_raw).strip()} -> Jy/beam (x{scale:g})"

    the_beam, beam_source = _resolve_beam(header, path, beam, survey)
    freq, freq_source = frequency_from_header(header, full_wcs)
    if freq is None and frequency_hz is not None:
        freq, freq_source = float(frequency_hz), "given frequency (--frequency / config)"
    if freq is None and survey is not None:
        known = get_survey(survey)
        freq, freq_source = known.frequency_hz, f"survey table ({known.name})"
    if freq is None:
        log.warning("%s: no frequency in the header and none given; frequency unknown", path)

    wcs = full_wcs.celestial
    ny, nx = data.shape
    wcs.pixel_shape = (nx, ny)
    carried = fits.Header()
    for key in PROVENANCE_KEYWORDS:
        if key in header and isinstance(header[key], str | int | float) and header[key] != "":
            carried[key] = header[key]
    provenance: dict[str, Any] = {
        "file": str(path),
        "hdu": hdu_index,
        "input_shape": [int(n) for n in raw.shape],
        "shape": [int(ny), int(nx)],
        "squeezed_axes": squeezed,
        "bunit": None if bunit_raw is None else str(bunit_raw).strip(),
        "unit_scale_to_jy_per_beam": scale,
        "unit_conversion": unit_note,
        "beam_source": beam_source,
        "frequency_source": freq_source,
        "projection": [str(c) for c in wcs.wcs.ctype],
        "frame": str(wcs.wcs.radesys or "unknown"),
        "equinox": None if not np.isfinite(wcs.wcs.equinox) else float(wcs.wcs.equinox),
        "header_cards_fixed_or_dropped": card_notes,
        "wcs_fixups": wcs_notes,
        "nan_fraction": float(np.isnan(data).mean()),
    }
    log.info(
        "%s: %dx%d px, beam %.2f\" x %.2f\" PA %.1f deg (%s), frequency %s (%s)",
        path, nx, ny, the_beam.bmaj_arcsec, the_beam.bmin_arcsec, the_beam.bpa_deg,
        beam_source, "unknown" if freq is None else f"{freq:.6g} Hz", freq_source or "none",
    )  # fmt: skip
    return RadioMap(
        data=data,
        wcs=wcs,
        beam=the_beam,
        name=name or str(header.get("MAPNAME", "")) or _map_name(path),
        frequency_hz=freq,
        header=carried,
        provenance=provenance,
    )
