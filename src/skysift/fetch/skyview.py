"""FIRST and NVSS cutouts by sky position from NASA SkyView's batch interface.

SkyView's ``runquery.pl`` takes the query as CGI parameters and, with ``Return=FITS``, answers
the FITS file itself (no polling). For a position it cannot serve it answers a text/HTML page
instead; :func:`check_skyview_fits` turns that into a one-line error naming the position.
"""

from __future__ import annotations

import csv
import html
import logging
import math
import re
import urllib.parse
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from skysift.errors import ConfigError, InputFileError
from skysift.fetch.cache import Manifest
from skysift.fetch.config import FetchConfig
from skysift.fetch.http import download

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Survey:
    """A SkyView radio survey.

    Attributes
    ----------
    key
        Our name (``first``, ``nvss``): the cache sub-folder.
    skyview_name
        SkyView's ``Survey=`` value.
    pixel_arcsec
        Native pixel scale in arcsec, used for the default cutout size.
    """

    key: str
    skyview_name: str
    pixel_arcsec: float


SURVEYS: dict[str, Survey] = {
    "first": Survey("first", "VLA FIRST (1.4 GHz)", 1.8),
    "nvss": Survey("nvss", "NVSS", 15.0),
}


def skyview_query_url(
    base_url: str, survey: Survey, ra_deg: float, dec_deg: float, *, pixels: int, size_deg: float
) -> str:
    """The ``runquery.pl`` URL of one cutout.

    Parameters
    ----------
    base_url
        The ``runquery.pl`` endpoint.
    survey
        Which survey.
    ra_deg, dec_deg
        J2000 centre in degrees.
    pixels
        Image side in pixels (square cutout).
    size_deg
        Image side in degrees.
    """
    query = {
        "Survey": survey.skyview_name,
        "Position": f"{ra_deg:.6f},{dec_deg:.6f}",
        "Coordinates": "J2000",
        "Projection": "Tan",
        "Pixels": str(pixels),
        "Size": f"{size_deg:.8g}",
        "Scaling": "Linear",
        "Return": "FITS",
    }
    separator = "&" if "?" in base_url else "?"
    return base_url + separator + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)


def cutout_filename(ra_deg: float, dec_deg: float) -> str:
    """Cache name of a cutout: ``<ra>_<dec>.fits`` to 1e-3 deg, e.g. ``124.516_+54.619.fits``."""
    return f"{ra_deg:07.3f}_{dec_deg:+07.3f}.fits"


def _reply_snippet(path: Path, limit: int = 160) -> str:
    """First words of a non-FITS reply, with HTML tags and whitespace removed."""
    text = path.read_bytes()[:4096].decode("latin-1", errors="replace")
    text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "") or "empty reply"


def check_skyview_fits(path: Path, *, label: str, pixels: int) -> None:
    """Raise unless ``path`` is a SkyView FITS image of ``pixels`` x ``pixels`` with data.

    Parameters
    ----------
    path
        The downloaded reply.
    label
        Position description used in the error, e.g. ``"FIRST at RA 124.516 Dec +54.619"``.
    pixels
        Expected image side.

    Raises
    ------
    InputFileError
        For an HTML/text error page, a malformed FITS file, a wrong shape, or an image with no
        finite non-zero pixel (position outside the survey footprint).
    """
    head = path.read_bytes()[:30]
    if not head.startswith(b"SIMPLE  ="):
        raise InputFileError(
            path,
            f"SkyView returned no FITS image for {label}: '{_reply_snippet(path)}' "
            "(check the position and that it lies inside the survey footprint)",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(path, memmap=False) as hdul:
                data = hdul[0].data
                shape = None if data is None else data.shape
                values = None if data is None else np.asarray(data, dtype=np.float64)
    except (OSError, ValueError, TypeError) as exc:
        raise InputFileError(
            path, f"SkyView reply for {label} is not a readable FITS file ({exc})"
        ) from exc
    if shape is None or values is None or len(shape) < 2:
        raise InputFileError(path, f"SkyView reply for {label} has no image in its primary HDU")
    if tuple(shape[-2:]) != (pixels, pixels):
        raise InputFileError(
            path,
            f"SkyView image for {label} is {shape[-1]}x{shape[-2]}, expected {pixels}x{pixels}",
        )
    finite = values[np.isfinite(values)]
    if finite.size == 0 or not np.any(finite != 0.0):
        raise InputFileError(
            path, f"SkyView image for {label} is blank (position outside the survey footprint?)"
        )


def read_positions(path: str | Path) -> list[tuple[float, float]]:
    """Read ``ra,dec`` (degrees) from a CSV file with a header row.

    Column names are matched case-insensitively (``ra``/``dec``, also ``ra_deg``/``dec_deg``).

    Raises
    ------
    InputFileError
        Missing file or columns, non-numeric or out-of-range values, or no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "positions file not found")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = {name.strip().lower(): name for name in (reader.fieldnames or [])}
        ra_key = fields.get("ra") or fields.get("ra_deg")
        dec_key = fields.get("dec") or fields.get("dec_deg")
        if ra_key is None or dec_key is None:
            raise InputFileError(
                path, f"needs 'ra' and 'dec' columns in degrees; found {sorted(fields) or 'none'}"
            )
        positions = []
        for line, row in enumerate(reader, start=2):
            try:
                ra, dec = float(row[ra_key]), float(row[dec_key])
            except (TypeError, ValueError) as exc:
                raise InputFileError(
                    path, f"line {line}: ra/dec must be numbers in degrees"
                ) from exc
            check_position(ra, dec, where=f"{path}:{line}")
            positions.append((ra, dec))
    if not positions:
        raise InputFileError(path, "no positions (the file has a header but no rows)")
    return positions


def check_position(ra_deg: float, dec_deg: float, *, where: str = "--position") -> None:
    """Raise :class:`ConfigError` unless 0 <= RA < 360 and -90 <= Dec <= 90 (degrees)."""
    if not (math.isfinite(ra_deg) and 0.0 <= ra_deg < 360.0):
        raise ConfigError(where, f"RA {ra_deg} deg is outside [0, 360)")
    if not (math.isfinite(dec_deg) and -90.0 <= dec_deg <= 90.0):
        raise ConfigError(where, f"Dec {dec_deg} deg is outside [-90, 90]")


def fetch_cutouts(
    positions: list[tuple[float, float]],
    *,
    survey: str,
    config: FetchConfig,
    pixels: int = 300,
    size_arcmin: float | None = None,
    force: bool = False,
) -> list[Path]:
    """Download cutouts into ``<cache>/<survey>/<ra>_<dec>.fits``, skipping verified ones.

    Parameters
    ----------
    positions
        (RA, Dec) J2000 centres in degrees.
    survey
        ``first`` or ``nvss``.
    config
        Fetch settings (cache folder, SkyView URL, timeout, retries).
    pixels
        Image side in pixels.
    size_arcmin
        Image side in arcmin; default ``pixels`` times the survey's native pixel scale.
    force
        Download again even if a verified copy is cached.

    Returns
    -------
    list of Path
        The cutout files, in the order of ``positions``.
    """
    if survey not in SURVEYS:
        raise ConfigError("survey", f"unknown survey '{survey}' (choose from {sorted(SURVEYS)})")
    if pixels < 1:
        raise ConfigError("--pixels", f"must be a positive number of pixels, got {pixels}")
    info = SURVEYS[survey]
    size_deg = (
        (size_arcmin / 60.0) if size_arcmin is not None else pixels * info.pixel_arcsec / 3600.0
    )
    if not size_deg > 0:
        raise ConfigError("--size-arcmin", f"must be positive, got {size_arcmin}")
    folder = config.cache_path() / survey
    manifest = Manifest(folder, survey)
    paths: list[Path] = []
    try:
        for ra, dec in positions:
            check_position(ra, dec)
            name = cutout_filename(ra, dec)
            params = {"ra_deg": ra, "dec_deg": dec, "pixels": pixels, "size_deg": size_deg}
            target = folder / name
            if not force and manifest.is_cached(name, params=params):
                log.info("cached: %s", target)
                paths.append(target)
                continue
            url = skyview_query_url(
                config.skyview_url, info, ra, dec, pixels=pixels, size_deg=size_deg
            )
            label = f"{survey.upper()} at RA {ra:.5f} Dec {dec:+.5f}"
            result = download(
                url,
                target,
                timeout_s=config.timeout_s,
                retries=config.retries,
                retry_wait_s=config.retry_wait_s,
                hint="check the network or set fetch.skyview_url to a reachable SkyView mirror",
                validate=partial(check_skyview_fits, label=label, pixels=pixels),
            )
            manifest.record(name, sha256=result.sha256, size=result.size, url=url, params=params)
            log.info("fetched %s (%d bytes, sha256 %s)", target, result.size, result.sha256[:12])
            paths.append(target)
    finally:
        if manifest.files:
            manifest.save()
    return paths
