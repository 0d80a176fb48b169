"""A map read lazily: header, WCS and beam up front, pixels only window by window.

:func:`skysift.io.fits_map.read_map` copies the whole image into memory; whole-map prediction
must not (survey maps are 10k-30k pixels a side and every MPI rank opens the map). A
:class:`LazyMap` checks the same header contract (celestial WCS on axes 1-2, degenerate extra
axes, a Jy/beam-convertible BUNIT, a beam) with the same header helpers, and reads only the
requested windows: from the memory-mapped file directly when its pixels are stored unscaled
floats (the usual case: a window is a copy of the mapped bytes), else through astropy's
``ImageHDU.section`` (BSCALE/BZERO applied window by window; row by row, ~30x slower). Neither
reads the whole array.
"""

from __future__ import annotations

import logging
import mmap
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skysift.errors import InputFileError
from skysift.io.beam import Beam
from skysift.io.header import (
    beam_from_header,
    bunit_scale,
    clean_header,
    image_axes,
    mean_pixel_scale_arcsec,
    read_wcs,
    supported_bunits,
)

log = logging.getLogger(__name__)


def _open(path: Path) -> fits.HDUList:
    if not path.is_file():
        raise InputFileError(path, "file not found" if not path.exists() else "not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # astropy's default memory-maps the file; memmap=True would also refuse to scale
            # BSCALE/BZERO integer images ("Set memmap=False"), even window by window.
            return fits.open(path, ignore_missing_simple=True, lazy_load_hdus=False)
    except Exception as exc:  # astropy raises several types for non-FITS files
        raise InputFileError(
            path, f"not a FITS file ({type(exc).__name__}: {exc}); give a FITS image (.fits)"
        ) from exc


def _image_hdu(hdul: fits.HDUList, path: Path) -> fits.hdu.base.ExtensionHDU:
    for hdu in hdul:
        if hdu.is_image and int(hdu.header.get("NAXIS", 0) or 0) >= 2:
            return hdu
    raise InputFileError(path, "no image data in any HDU (expected a 2-D or degenerate 4-D image)")


def _mapped_pixels(hdul: fits.HDUList, hdu: fits.hdu.base.ExtensionHDU) -> np.ndarray | None:
    """The image array as a view of the memory-mapped file, or None where that would read pixels.

    Only for uncompressed float images without BSCALE/BZERO in a memory-mapped file: astropy
    would otherwise scale (or decompress) the whole array on first access to ``hdu.data``.
    """
    header = hdu.header
    try:
        mapped_file = bool(hdul.fileinfo(hdul.index_of(hdu))["file"].memmap)
    except (KeyError, AttributeError, TypeError, ValueError):
        mapped_file = False
    if (
        not mapped_file
        or isinstance(hdu, fits.CompImageHDU)
        or int(header.get("BITPIX", 8)) > 0
        or float(header.get("BSCALE", 1.0)) != 1.0
        or float(header.get("BZERO", 0.0)) != 0.0
    ):
        return None
    try:
        data = hdu.data
    except Exception:  # e.g. a truncated file: the section reader reports it, window by window
        return None
    base = data
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    return data if base is not None else None


@dataclass
class LazyImage:
    """Windows of one 2-D plane of a FITS image, in the file's unit times ``scale``.

    Attributes
    ----------
    path
        The file.
    shape
        (ny, nx) of the plane, pixels.
    scale
        Factor applied to the pixel values (e.g. mJy/beam -> Jy/beam).
    """

    path: Path
    hdul: fits.HDUList
    hdu: fits.hdu.base.ExtensionHDU
    shape: tuple[int, int]
    scale: float = 1.0
    mapped: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.mapped = _mapped_pixels(self.hdul, self.hdu)

    def window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Pixels ``[y0:y1, x0:x1]`` (0-based, end exclusive) as float32; inf becomes NaN."""
        lead = (0,) * (len(self.hdu.shape) - 2)
        index: tuple[int | slice, ...] = (*lead, slice(y0, y1), slice(x0, x1))
        source = self.hdu.section[index] if self.mapped is None else self.mapped[index]
        data = np.array(source, dtype=np.float32)
        data[np.isinf(data)] = np.nan
        if self.scale != 1.0:
            data *= np.float32(self.scale)
        return data

    def subsampled(self, step: int, *, rows_per_read: int = 512) -> np.ndarray:
        """Every ``step``-th pixel in y and x (for quick-look plots), read in row blocks."""
        ny, nx = self.shape
        rows = []
        block = max(step, (rows_per_read // step) * step)
        for y0 in range(0, ny, block):
            rows.append(self.window(y0, min(ny, y0 + block), 0, nx)[::step, ::step])
        return np.concatenate(rows, axis=0)

    def close(self) -> None:
        """Close the file (after dropping the views of its mapping)."""
        if self.mapped is not None:
            self.mapped = None
            del self.hdu.data
        self.hdul.close()


def open_image(path: str | Path, *, shape: tuple[int, int] | None = None) -> LazyImage:
    """Open an auxiliary image (background, rms) lazily, optionally checking its shape."""
    path = Path(path)
    hdul = _open(path)
    hdu = _image_hdu(hdul, path)
    plane_shape = (int(hdu.shape[-2]), int(hdu.shape[-1]))
    if any(n != 1 for n in hdu.shape[:-2]):
        hdul.close()
        raise InputFileError(path, f"expected a 2-D image, got shape {hdu.shape}")
    if shape is not None and plane_shape != shape:
        hdul.close()
        raise InputFileError(
            path, f"shape {plane_shape} differs from the map's {shape}; it must be on the map grid"
        )
    scale = bunit_scale(hdu.header.get("BUNIT")) or 1.0
    return LazyImage(path=path, hdul=hdul, hdu=hdu, shape=plane_shape, scale=scale)


@dataclass
class LazyMap:
    """A survey map (Jy/beam) whose pixels stay on disk.

    Attributes
    ----------
    image
        Window reader of the map plane, Jy/beam.
    wcs
        Two-dimensional celestial WCS (0-based pixels in code).
    beam
        Restoring beam from the header.
    name
        Map name (MAPNAME keyword, else the file name without suffix).
    """

    image: LazyImage
    wcs: WCS
    beam: Beam
    name: str

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) in pixels."""
        return self.image.shape

    @property
    def path(self) -> Path:
        """The map file."""
        return self.image.path

    @property
    def pixel_scale_arcsec(self) -> float:
        """Geometric-mean pixel side, arcsec."""
        return mean_pixel_scale_arcsec(self.wcs)

    @property
    def beam_area_pixels(self) -> float:
        """Beam solid angle in pixels (Jy/beam pixel sums / this = Jy)."""
        return self.beam.area_pixels(self.pixel_scale_arcsec)

    def window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Map pixels ``[y0:y1, x0:x1]``, float32 Jy/beam, NaN where blanked."""
        return self.image.window(y0, y1, x0, x1)

    def close(self) -> None:
        """Close the file."""
        self.image.close()


def _strip_suffix(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".fz", ".fits", ".fit", ".fts", ".FITS", ".FIT"):
        name = name.removesuffix(suffix)
    return name or path.stem


def open_map(path: str | Path, *, name: str | None = None) -> LazyMap:
    """Open a map of the *Map* contract without reading its pixels.

    Parameters
    ----------
    path
        FITS image in Jy/beam (or mJy/uJy per beam) with a celestial WCS and BMAJ/BMIN
        (or AIPS beam HISTORY cards); degenerate FREQ/STOKES axes are allowed.
    name
        Map name for the catalogue (default: MAPNAME, else the file name).

    Raises
    ------
    InputFileError
        Not FITS, no image, no celestial WCS, a real cube, unsupported BUNIT or no beam; the
        message says how to fix it (e.g. run ``skysift ingest-map`` first).
    """
    path = Path(path)
    hdul = _open(path)
    try:
        hdu = _image_hdu(hdul, path)
        header, _ = clean_header(hdu.header)
        full_wcs, _ = read_wcs(header)
        if not full_wcs.has_celestial or {full_wcs.wcs.lng, full_wcs.wcs.lat} != {0, 1}:
            raise InputFileError(
                path,
                "no celestial WCS on axes 1-2 (CTYPE1/CTYPE2 such as RA---SIN/DEC--SIN with "
                "CRVAL/CRPIX/CDELT); run `skysift ingest-map` to write a contract map",
            )
        for axis in image_axes(header, tuple(hdu.shape))[2:]:
            if axis.length != 1:
                raise InputFileError(
                    path, f"a cube: axis {axis.number} ({axis.ctype}) has {axis.length} planes"
                )
        scale = bunit_scale(header.get("BUNIT"))
        if scale is None:
            raise InputFileError(
                path,
                f"unsupported BUNIT {str(header.get('BUNIT')).strip()!r}; supported: "
                f"{supported_bunits()}",
            )
        beam, _ = beam_from_header(header)
        if beam is None:
            raise InputFileError(
                path,
                "no beam keywords (BMAJ/BMIN); fluxes need the beam: run `skysift ingest-map` "
                "with --beam or --survey to write a map with the beam in its header",
            )
    except BaseException:
        hdul.close()
        raise
    wcs = full_wcs.celestial
    ny, nx = int(hdu.shape[-2]), int(hdu.shape[-1])
    wcs.pixel_shape = (nx, ny)
    image = LazyImage(path=path, hdul=hdul, hdu=hdu, shape=(ny, nx), scale=float(scale))
    map_name = name or str(header.get("MAPNAME", "")).strip() or _strip_suffix(path)
    return LazyMap(image=image, wcs=wcs, beam=beam, name=map_name)
