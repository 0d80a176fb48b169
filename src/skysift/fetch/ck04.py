"""The Castelli & Kurucz (2004) ATLAS9 grid from STScI CDBS, compacted into one ``.npz``.

STScI serves ``ck04models`` as one FITS table per metallicity folder and Teff, e.g.
``<url>/ckp00/ckp00_5000.fits``: primary header with ``TEFF``; table HDU 1 with ``WAVELENGTH``
(ANGSTROM) and ``g00`` ... ``g50`` (FLAM, surface flux; all zeros where the model does not
exist). We fetch the tables of [M/H] = -1.0, 0.0, +0.2 and 76 Teff into
``<cache>/ck04/ck04models/`` and build ``<cache>/ck04/ck04_subset.npz`` with the keys, dtypes
and shapes of the project's shared ``ck04_subset.npz``:

========================  ======================  =======  =====================
key                       shape                   dtype    unit
========================  ======================  =======  =====================
``wavelength_angstrom``   (1221,)                 float32  Angstrom
``flux_flam``             (3, n_teff, 11, 1221)   float32  erg s-1 cm-2 A-1
``teff_k``                (n_teff,)               int32    K
``logg_cgs``              (11,)                   float32  log10(cm s-2)
``metallicity_mh``        (3,)                    float32  dex
``present``               (3, n_teff, 11)         bool     model exists
========================  ======================  =======  =====================

For the full Teff list the arrays are checked against the sha256 sums we ship.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from functools import partial
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from numpy.typing import NDArray
from tqdm import tqdm

from skysift.errors import ConfigError, InputFileError
from skysift.fetch.cache import Manifest, known_checksums, sha256_file
from skysift.fetch.config import FetchConfig
from skysift.fetch.http import download
from skysift.io.atomic import atomic_path

log = logging.getLogger(__name__)

#: (CDBS folder, [M/H] in dex), in the order of the ``flux_flam`` Z axis.
METALLICITY_DIRS: tuple[tuple[str, float], ...] = (("ckm10", -1.0), ("ckp00", 0.0), ("ckp02", 0.2))

#: Surface-gravity columns g00 ... g50 (log g = 0.0 ... 5.0).
GRAVITY_COLUMNS: tuple[str, ...] = tuple(f"g{g:02d}" for g in range(0, 55, 5))

#: The 76 Teff values (K) of the grid: 3500-13000 in 250 K steps, 14000-50000 in 1000 K steps.
DEFAULT_TEFF: tuple[int, ...] = (*range(3500, 13001, 250), *range(14000, 50001, 1000))

#: Folder (under ``<cache>/ck04``) that keeps the downloaded tables.
TABLE_DIR = "ck04models"

#: Name of the built grid.
NPZ_NAME = "ck04_subset.npz"


def table_relpath(zdir: str, teff: int) -> str:
    """Path of one table relative to the ``ck04models`` folder, e.g. ``ckp00/ckp00_5000.fits``."""
    return f"{zdir}/{zdir}_{teff}.fits"


def array_sha256(array: NDArray[np.generic]) -> str:
    """sha256 of an array's little-endian C-order bytes (container-independent digest)."""
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(np.ascontiguousarray(little).tobytes()).hexdigest()


def read_table(path: Path, teff: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Read one CDBS table.

    Returns
    -------
    (wavelength, flux)
        Wavelength in Angstrom, shape (n_wave,), float32; surface flux in FLAM, shape
        (11, n_wave), float32, rows in :data:`GRAVITY_COLUMNS` order.

    Raises
    ------
    InputFileError
        Not FITS, wrong TEFF, missing column or unexpected unit.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(path, memmap=False) as hdul:
                header_teff = hdul[0].header.get("TEFF")
                if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
                    raise InputFileError(path, "no table in HDU 1 (not a CDBS ck04models table)")
                table = hdul[1]
                names = [name.lower() for name in table.columns.names]
                missing = [c for c in ("wavelength", *GRAVITY_COLUMNS) if c not in names]
                if missing:
                    raise InputFileError(path, f"table lacks column(s) {', '.join(missing)}")
                unit = (table.columns["WAVELENGTH"].unit or "").upper()
                if unit != "ANGSTROM":
                    raise InputFileError(path, f"WAVELENGTH unit is '{unit}', expected ANGSTROM")
                wave = np.asarray(table.data["WAVELENGTH"], dtype=np.float32)
                flux = np.empty((len(GRAVITY_COLUMNS), wave.size), dtype=np.float32)
                for row, column in enumerate(GRAVITY_COLUMNS):
                    col_unit = (table.columns[column].unit or "").upper()
                    if col_unit != "FLAM":
                        raise InputFileError(
                            path, f"column {column} unit is '{col_unit}', expected FLAM"
                        )
                    flux[row] = table.data[column]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InputFileError(path, f"not a readable ck04models FITS table ({exc})") from exc
    if header_teff is None or int(header_teff) != teff:
        raise InputFileError(
            path, f"header TEFF is {header_teff}, expected {teff} from the file name"
        )
    return wave, flux


def build_grid(
    models_dir: str | Path, teff: list[int] | tuple[int, ...]
) -> dict[str, NDArray[np.generic]]:
    """Assemble the subset arrays from a ``ck04models`` folder (CDBS layout).

    Parameters
    ----------
    models_dir
        Folder with ``ckm10/``, ``ckp00/``, ``ckp02/``.
    teff
        Effective temperatures in K, in output order.

    Returns
    -------
    dict
        Arrays keyed as in the module docstring.
    """
    models_dir = Path(models_dir)
    wave: NDArray[np.float32] | None = None
    flux: NDArray[np.float32] | None = None
    for iz, (zdir, _) in enumerate(METALLICITY_DIRS):
        for it, t in enumerate(teff):
            path = models_dir / table_relpath(zdir, t)
            w, f = read_table(path, t)
            if wave is None:
                wave = w
                flux = np.zeros(
                    (len(METALLICITY_DIRS), len(teff), len(GRAVITY_COLUMNS), w.size), np.float32
                )
            elif not np.array_equal(w, wave):
                raise InputFileError(path, "wavelength grid differs from the other tables")
            assert flux is not None
            flux[iz, it] = f
    if wave is None or flux is None:
        raise ConfigError("--teff", "no temperatures given")
    return {
        "wavelength_angstrom": wave,
        "flux_flam": flux,
        "teff_k": np.asarray(teff, dtype=np.int32),
        "logg_cgs": np.array([int(c[1:]) / 10.0 for c in GRAVITY_COLUMNS], dtype=np.float32),
        "metallicity_mh": np.array([z for _, z in METALLICITY_DIRS], dtype=np.float32),
        "present": flux.max(axis=-1) > 0,
    }


def verify_grid(arrays: dict[str, NDArray[np.generic]], npz_path: Path) -> None:
    """Check the full-grid arrays against the shipped sha256 sums; raise naming the array."""
    known: dict[str, str] = known_checksums()["ck04"]["arrays_sha256"]
    for key, expected in known.items():
        actual = array_sha256(arrays[key])
        if actual != expected:
            raise InputFileError(
                npz_path,
                f"array '{key}' has sha256 {actual[:16]}..., expected {expected[:16]}... "
                "(a table changed upstream or is corrupt; rerun with --force)",
            )


def _check_teff(teff: list[int]) -> list[int]:
    unknown = [t for t in teff if t not in DEFAULT_TEFF]
    if unknown:
        raise ConfigError(
            "--teff",
            f"{unknown} K not in the ck04 grid (3500-13000 step 250, 14000-50000 step 1000)",
        )
    if len(set(teff)) != len(teff):
        raise ConfigError("--teff", "temperatures must be distinct")
    return sorted(teff)


def fetch_ck04(*, config: FetchConfig, teff: list[int] | None = None, force: bool = False) -> Path:
    """Download the ck04models tables of the subset and build ``<cache>/ck04/ck04_subset.npz``.

    Parameters
    ----------
    config
        Fetch settings (``ck04_url``, cache folder, timeout, retries).
    teff
        Temperatures in K (default: all 76 of :data:`DEFAULT_TEFF`); a reduced list builds a
        smaller grid with the same layout (for tests and quick looks; not checksum-verified).
    force
        Download every table and rebuild the grid even if cached.

    Returns
    -------
    Path
        The ``.npz`` file.
    """
    teff_list = list(DEFAULT_TEFF) if teff is None else _check_teff(list(teff))
    full = teff_list == list(DEFAULT_TEFF)
    root = config.cache_path() / "ck04"
    manifest = Manifest(root, "ck04")
    npz_path = root / NPZ_NAME
    grid_params = {"teff_k": teff_list}
    if not force and manifest.is_cached(NPZ_NAME, params=grid_params):
        log.info("cached: %s", npz_path)
        return npz_path
    base = config.ck04_url.rstrip("/")
    jobs = [(zdir, t) for zdir, _ in METALLICITY_DIRS for t in teff_list]
    fetched = cached = 0
    try:
        for zdir, t in tqdm(jobs, desc="ck04 tables", unit="table", disable=None, leave=False):
            rel = f"{TABLE_DIR}/{table_relpath(zdir, t)}"
            if not force and manifest.is_cached(rel):
                cached += 1
                continue
            url = f"{base}/{table_relpath(zdir, t)}"
            result = download(
                url,
                root / rel,
                timeout_s=config.timeout_s,
                retries=config.retries,
                retry_wait_s=config.retry_wait_s,
                hint="set fetch.ck04_url to a reachable copy of ck04models, or copy the tables "
                f"into {root / TABLE_DIR} by hand (CDBS layout)",
                validate=partial(_validate_table, teff=t),
                progress=False,
            )
            manifest.record(rel, sha256=result.sha256, size=result.size, url=url)
            fetched += 1
    finally:
        if manifest.files:
            manifest.save()
    log.info("ck04 tables: %d fetched, %d cached", fetched, cached)
    arrays = build_grid(root / TABLE_DIR, teff_list)
    if full:
        verify_grid(arrays, npz_path)
    else:
        log.info(
            "reduced Teff list (%d values): grid not checked against the known sums", len(teff_list)
        )
    with atomic_path(npz_path) as tmp:
        np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    manifest.record(
        NPZ_NAME,
        sha256=sha256_file(npz_path),
        size=npz_path.stat().st_size,
        url=base,
        params=grid_params,
        n_models=int(arrays["present"].sum()),
    )
    manifest.save()
    log.info(
        "built %s: flux %s, %d models present",
        npz_path,
        arrays["flux_flam"].shape,
        int(arrays["present"].sum()),
    )
    return npz_path


def _validate_table(path: Path, teff: int) -> None:
    read_table(path, teff)
