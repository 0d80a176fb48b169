"""FITS header parsing for survey maps as they come: cards, units, beam, frequency, WCS.

Pure functions on :class:`astropy.io.fits.Header` objects used by
:func:`skysift.io.fits_map.read_map`. Each returns what it found and where it found it, so the
ingestion report can say what was read and what was assumed.
"""

from __future__ import annotations

import logging
import re
import string
import warnings
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from skysift.io.beam import Beam

log = logging.getLogger(__name__)

_PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")

#: BUNIT spellings (lower case, blanks removed) -> factor to Jy/beam.
_BUNIT_SCALE: dict[str, float] = {
    "jy/beam": 1.0,
    "jy/bm": 1.0,
    "jy/beam.": 1.0,
    "jybeam-1": 1.0,
    "jy.beam-1": 1.0,
    "jy/beam-1": 1.0,
    "beam-1jy": 1.0,
    "mjy/beam": 1e-3,
    "mjy/bm": 1e-3,
    "mjybeam-1": 1e-3,
    "mjy.beam-1": 1e-3,
    "ujy/beam": 1e-6,
    "\u00b5jy/beam": 1e-6,
    "\u03bcjy/beam": 1e-6,
    "ujy.beam-1": 1e-6,
    "microjy/beam": 1e-6,
}

#: Keywords carried from the input header into written maps (provenance only).
PROVENANCE_KEYWORDS: tuple[str, ...] = ("TELESCOP", "INSTRUME", "OBSERVER", "ORIGIN", "SURVEY")

_AIPS_BEAM = re.compile(
    r"BMAJ\s*=\s*([-+0-9.EeDd]+)\s+BMIN\s*=\s*([-+0-9.EeDd]+)\s+BPA\s*=\s*([-+0-9.EeDd]+)"
)

_FREQ_UNITS: dict[str, float] = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}


def clean_header(header: fits.Header) -> tuple[fits.Header, list[str]]:
    """Copy ``header``, fixing or dropping cards that astropy's verifier rejects.

    Commentary cards (COMMENT, HISTORY, blank) with non-printable characters (tabs in SkyView
    FIRST cutouts) are fixed by replacing those characters with spaces; any other card whose
    value cannot be parsed is dropped.

    Returns
    -------
    (header, notes)
        The cleaned copy and one note per fixed or dropped card.
    """
    cleaned = fits.Header()
    notes: list[str] = []
    for index, card in enumerate(header.cards):
        keyword = card.keyword
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = card.value
                comment = card.comment
        except Exception as exc:  # astropy raises several types for malformed cards
            notes.append(f"dropped card {index} ({keyword or 'blank'}): {exc}")
            continue
        if keyword in ("COMMENT", "HISTORY", ""):
            text = str(value)
            if not set(text) <= _PRINTABLE:
                fixed = "".join(ch if ch in _PRINTABLE else " " for ch in text)
                notes.append(f"fixed non-printable characters in {keyword or 'blank'} card {index}")
                text = fixed
            cleaned.append((keyword, text), end=True)
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                new_card = fits.Card(keyword, value, comment)
                new_card.verify("exception")
        except Exception as exc:
            try:
                new_card = fits.Card(keyword, value)
                new_card.verify("exception")
            except Exception:
                notes.append(f"dropped card {index} ({keyword}): {exc}")
                continue
        cleaned.append(new_card, end=True)
    return cleaned, notes


def bunit_scale(bunit: str | None) -> float | None:
    """Factor that converts pixel values in ``bunit`` to Jy/beam, or None if unsupported.

    A missing or blank BUNIT returns 1.0 (the caller logs the assumption).
    """
    if bunit is None or not str(bunit).strip():
        return 1.0
    key = "".join(str(bunit).split()).lower().replace("**", "").replace("^", "")
    return _BUNIT_SCALE.get(key)


def supported_bunits() -> str:
    """Human-readable list of supported pixel units."""
    return "Jy/beam, mJy/beam, uJy/beam"


def _positive(header: fits.Header, key: str) -> float | None:
    value = header.get(key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) and number > 0 else None


def _make_beam(bmaj_deg: float, bmin_deg: float, bpa_deg: float, origin: str) -> Beam:
    bmaj, bmin = bmaj_deg * 3600.0, bmin_deg * 3600.0
    if bmin > bmaj:
        log.warning("%s: BMIN > BMAJ, swapping the axes", origin)
        bmaj, bmin = bmin, bmaj
    return Beam(bmaj, bmin, float(bpa_deg))


def beam_from_header(header: fits.Header) -> tuple[Beam | None, str | None]:
    """Restoring beam from BMAJ/BMIN/BPA keywords (deg) or AIPS ``CLEAN BMAJ=`` HISTORY cards.

    Returns
    -------
    (beam, source)
        The beam (axes in arcsec) and a note on where it came from; (None, None) if absent.
        A missing BPA is taken as 0 deg with a logged warning (the note says so).
    """
    bmaj = _positive(header, "BMAJ")
    bmin = _positive(header, "BMIN")
    if bmaj is not None:
        if bmin is None:
            log.warning("header has BMAJ but no BMIN; assuming a circular beam")
            bmin = bmaj
        bpa_value = header.get("BPA")
        try:
            bpa = float(bpa_value)
            source = "header BMAJ/BMIN/BPA"
        except (TypeError, ValueError):
            log.warning("header has BMAJ/BMIN but no BPA; assuming BPA = 0 deg")
            bpa, source = 0.0, "header BMAJ/BMIN (no BPA: assumed 0 deg)"
        return _make_beam(bmaj, bmin, bpa, "header"), source
    for card in reversed(list(header.get("HISTORY", []))):
        match = _AIPS_BEAM.search(str(card))
        if match and "CLEAN" in str(card).upper():
            values = [float(v.replace("D", "E").replace("d", "e")) for v in match.groups()]
            if values[0] > 0 and values[1] > 0:
                beam = _make_beam(values[0], values[1], values[2], "AIPS HISTORY")
                return beam, "AIPS HISTORY CLEAN card"
    return None, None


def _header_axis_frequency(header: fits.Header) -> tuple[float | None, str | None]:
    # CTYPEn may exist beyond NAXIS (Miriad/DDFacet 2-D images keep their FREQ axis cards)
    for i in range(1, 10):
        ctype = str(header.get(f"CTYPE{i}", "")).upper()
        if not ctype.startswith("FREQ"):
            continue
        crval = header.get(f"CRVAL{i}")
        if crval is None:
            continue
        crpix = float(header.get(f"CRPIX{i}", 1.0))
        cdelt = float(header.get(f"CDELT{i}", 0.0))
        scale = _FREQ_UNITS.get(str(header.get(f"CUNIT{i}", "Hz")).strip().lower(), 1.0)
        value = (float(crval) + (1.0 - crpix) * cdelt) * scale
        if value > 0:
            return value, f"CRVAL{i} of the {ctype.strip()} axis"
    return None, None


def frequency_from_header(
    header: fits.Header, full_wcs: WCS | None = None
) -> tuple[float | None, str | None]:
    """Reference frequency in Hz and where it came from; (None, None) if none is found.

    Looks, in order, at a FREQ spectral axis of the WCS (its value at the first plane),
    RESTFRQ, RESTFREQ, FREQ, CRVALn of a FREQ axis in the raw header, and RFALPHA (Obit).
    """
    if full_wcs is not None and full_wcs.wcs.spec >= 0:
        spec = full_wcs.wcs.spec
        ctype = str(full_wcs.wcs.ctype[spec]).upper()
        if ctype.startswith("FREQ"):
            # value at the first plane (1-based pixel 1); wcslib has put the axis in Hz
            prm = full_wcs.wcs
            value = float(prm.crval[spec] + (1.0 - prm.crpix[spec]) * prm.cdelt[spec])
            if np.isfinite(value) and value > 0:
                return value, f"{ctype} axis {spec + 1} of the WCS"
    for key in ("RESTFRQ", "RESTFREQ", "FREQ"):
        keyword_value = _positive(header, key)
        if keyword_value is not None:
            return keyword_value, f"header {key}"
    axis_value, axis_source = _header_axis_frequency(header)
    if axis_value is not None:
        return axis_value, axis_source
    obit_value = _positive(header, "RFALPHA")
    if obit_value is not None:
        return obit_value, "header RFALPHA (Obit reference frequency)"
    return None, None


@dataclass(frozen=True)
class AxisInfo:
    """One FITS axis of the image: 1-based FITS number, CTYPE and length."""

    number: int
    ctype: str
    length: int


def image_axes(header: fits.Header, shape: tuple[int, ...]) -> list[AxisInfo]:
    """Describe the data axes in FITS order (axis 1 = last numpy axis)."""
    naxis = len(shape)
    return [
        AxisInfo(i, str(header.get(f"CTYPE{i}", "")).strip() or "unnamed", int(shape[naxis - i]))
        for i in range(1, naxis + 1)
    ]


def read_wcs(header: fits.Header) -> tuple[WCS, list[str]]:
    """Full WCS of ``header`` with astropy's fix-up warnings captured as notes."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        full = WCS(header)
    for item in caught:
        if issubclass(item.category, FITSFixedWarning):
            text = " ".join(str(item.message).split())
            notes.append(f"WCS fix-up: {text}")
    return full, notes


def mean_pixel_scale_arcsec(wcs: WCS) -> float:
    """Geometric-mean pixel side of a celestial WCS, arcsec."""
    scales = proj_plane_pixel_scales(wcs) * 3600.0
    return float(np.sqrt(scales[0] * scales[1]))


def pixel_to_icrs(
    wcs: WCS, x: np.ndarray | float, y: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Sky position in ICRS degrees of 0-based pixel positions.

    Parameters
    ----------
    wcs
        Two-dimensional celestial WCS in any equatorial frame (FK4 B1950, FK5, ICRS ...);
        positions are converted to ICRS.
    x, y
        0-based pixel coordinates (numpy column and row), scalars or arrays of equal shape.

    Returns
    -------
    (ra, dec)
        ICRS right ascension and declination in degrees, float64 arrays of the input shape.
    """
    coord = wcs.pixel_to_world(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    icrs = coord.icrs
    return np.asarray(icrs.ra.deg, dtype=float), np.asarray(icrs.dec.deg, dtype=float)


def icrs_to_pixel(
    wcs: WCS, ra_deg: np.ndarray | float, dec_deg: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """0-based pixel (x, y) of ICRS positions in degrees (inverse of :func:`pixel_to_icrs`)."""
    coord = SkyCoord(
        np.asarray(ra_deg, dtype=float) * u.deg, np.asarray(dec_deg, dtype=float) * u.deg
    )
    x, y = wcs.world_to_pixel(coord)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
