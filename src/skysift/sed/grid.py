"""The Castelli & Kurucz (2004) ATLAS9 grid: finding it, loading it, interpolating in it.

The grid file ``ck04_subset.npz`` (keys and units in :mod:`skysift.fetch.ck04`) holds surface
fluxes F_lambda (erg s-1 cm-2 A-1) on 1221 wavelengths from 0.009 to 160 um, for
[M/H] = -1.0, 0.0, +0.2, 76 Teff (3500-50000 K) and log g = 0.0-5.0; combinations that do not
exist (low gravity at high Teff) are all zeros with ``present`` False.

Wavelength handling. Past 10.02 um the grid has only 20, 40, ..., 160 um, so every model is
resampled once, by linear interpolation in (log lambda, log F_lambda) (the tail is
Rayleigh-Jeans-like, d ln F / d ln lambda ~ -4), onto the *work grid*: the native wavelengths
plus a log-spaced grid of :data:`N_IR` points from 10 to 200 um. All later steps (dust,
extinction, band integration) work on this grid, so the WISE W3/W4 passbands see a resolved
spectrum.

Parameter interpolation. Linear in Teff, log g and [M/H] (trilinear in F_lambda), using only
``present`` models: where a requested log g is below the lowest gravity present at the
bracketing Teff nodes, it is raised to that gravity and the row is flagged ``logg_clamped``.
At a grid node the result equals the stored model exactly.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from skysift.errors import InputFileError

log = logging.getLogger(__name__)

#: File name of the grid.
GRID_FILE = "ck04_subset.npz"

#: Keys the grid file must hold.
GRID_KEYS = ("wavelength_angstrom", "flux_flam", "teff_k", "logg_cgs", "metallicity_mh", "present")

#: Number of log-spaced work-grid points added between 10 and 200 um.
N_IR = 300

#: Hint appended to every "grid not found" message.
FETCH_HINT = (
    "get it with `skysift fetch-data ck04` (STScI CDBS, ~1 min) or set sed.grid_path to a "
    "ck04_subset.npz"
)


def shared_data_dir() -> Path:
    """The project's third-party data: ``$SKYSIFT_SHARED_DATA``, else ``../shared/data``
    relative to the working directory (beside the checkout). Never committed."""
    shared_env = os.environ.get("SKYSIFT_SHARED_DATA")
    return Path(shared_env) if shared_env else Path.cwd().parent / "shared" / "data"


def grid_candidates(grid_path: str | Path | None = None) -> list[Path]:
    """Where the grid is looked for, in order.

    1. ``grid_path`` (a file, or a folder holding ``ck04_subset.npz``), if given;
    2. ``$SKYSIFT_SHARED_DATA/ck04`` if that variable is set, else ``../shared/data/ck04``
       relative to the working directory (the project's shared data beside the checkout);
    3. the fetch cache, ``<cache>/ck04/ck04_subset.npz`` (``$SKYSIFT_CACHE`` or
       ``~/.cache/skysift``), filled by ``skysift fetch-data ck04``.
    """
    from skysift.fetch.config import FetchConfig

    candidates: list[Path] = []
    if grid_path is not None:
        path = Path(grid_path).expanduser()
        candidates.append(path / GRID_FILE if path.is_dir() else path)
        return candidates
    candidates.append(shared_data_dir() / "ck04" / GRID_FILE)
    candidates.append(FetchConfig().cache_path() / "ck04" / GRID_FILE)
    return candidates


def find_grid(grid_path: str | Path | None = None) -> Path:
    """The first existing grid file of :func:`grid_candidates`.

    Raises
    ------
    InputFileError
        Naming the places searched and how to get the grid.
    """
    candidates = grid_candidates(grid_path)
    for path in candidates:
        if path.is_file():
            return path
    if grid_path is not None:
        raise InputFileError(candidates[0], f"ck04 model grid not found; {FETCH_HINT}")
    searched = ", ".join(str(p) for p in candidates)
    raise InputFileError(
        candidates[-1], f"ck04 model grid not found (also looked in {searched}); {FETCH_HINT}"
    )


def resample_loglog(
    wave_in: NDArray[np.floating], flux_in: NDArray[np.floating], wave_out: NDArray[np.floating]
) -> NDArray[np.float64]:
    """Linear interpolation in (log lambda, log F) along the last axis.

    Parameters
    ----------
    wave_in
        Increasing wavelengths, shape (n_in,), any unit (same as ``wave_out``).
    flux_in
        Fluxes, shape (..., n_in); values <= 0 stay 0 wherever they take part.
    wave_out
        Wavelengths to interpolate to, shape (n_out,), within ``wave_in``'s range.

    Returns
    -------
    ndarray
        Shape (..., n_out), float64.
    """
    x_in = np.log(np.asarray(wave_in, dtype=np.float64))
    x_out = np.log(np.asarray(wave_out, dtype=np.float64))
    j = np.clip(np.searchsorted(x_in, x_out, side="right") - 1, 0, x_in.size - 2)
    w = np.clip((x_out - x_in[j]) / (x_in[j + 1] - x_in[j]), 0.0, 1.0)
    flux = np.asarray(flux_in, dtype=np.float64)
    lo, hi = flux[..., j], flux[..., j + 1]
    positive = (lo > 0) & (hi > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logf = (1 - w) * np.log(np.where(positive, lo, 1.0)) + w * np.log(
            np.where(positive, hi, 1.0)
        )
    out = np.where(positive, np.exp(logf), (1 - w) * lo + w * hi)
    exact_lo, exact_hi = w == 0.0, w == 1.0
    out = np.where(exact_lo, lo, np.where(exact_hi, hi, out))
    return np.asarray(out, dtype=np.float64)


def work_wavelengths(native: NDArray[np.floating]) -> NDArray[np.float64]:
    """Native grid plus :data:`N_IR` log-spaced points in 10-200 um, in Angstrom, sorted."""
    extra = np.geomspace(1.0e5, 2.0e6, N_IR)
    return np.unique(np.concatenate([np.asarray(native, np.float64), extra]))


@dataclass(frozen=True)
class ModelGrid:
    """The model grid resampled onto the work wavelengths.

    Attributes
    ----------
    wavelength
        Work wavelengths in Angstrom, shape (n_wave,).
    flux
        Surface F_lambda in erg s-1 cm-2 A-1, shape (n_feh, n_teff, n_logg, n_wave).
    teff, logg, feh
        Node values: K, log10(cm s-2), dex.
    present
        Shape (n_feh, n_teff, n_logg), True where the model exists.
    path
        File the grid was read from.
    """

    wavelength: NDArray[np.float64]
    flux: NDArray[np.float64]
    teff: NDArray[np.float64]
    logg: NDArray[np.float64]
    feh: NDArray[np.float64]
    present: NDArray[np.bool_]
    path: Path

    @property
    def min_logg_index(self) -> NDArray[np.intp]:
        """Index of the lowest log g present (for all [M/H]) at each Teff node, shape (n_teff,)."""
        all_z = self.present.all(axis=0)
        return np.argmax(all_z, axis=1)


def load_grid(grid_path: str | Path | None = None) -> ModelGrid:
    """Find, read, check and resample the ck04 grid.

    Parameters
    ----------
    grid_path
        File or folder; None searches the default places (:func:`grid_candidates`).

    Raises
    ------
    InputFileError
        File missing (with how to get it), unreadable, or without the expected arrays.
    """
    path = find_grid(grid_path)
    try:
        with np.load(path) as data:
            missing = [k for k in GRID_KEYS if k not in data.files]
            if missing:
                raise InputFileError(
                    path, f"not a ck04 grid: missing arrays {missing}; {FETCH_HINT}"
                )
            arrays = {k: np.asarray(data[k]) for k in GRID_KEYS}
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"not a readable .npz grid ({exc}); {FETCH_HINT}") from exc
    native = arrays["wavelength_angstrom"].astype(np.float64)
    flux = arrays["flux_flam"]
    nz, nt, ng = arrays["metallicity_mh"].size, arrays["teff_k"].size, arrays["logg_cgs"].size
    if flux.shape != (nz, nt, ng, native.size) or arrays["present"].shape != (nz, nt, ng):
        raise InputFileError(
            path,
            f"inconsistent shapes: flux {flux.shape}, present {arrays['present'].shape} for "
            f"{nz} [M/H] x {nt} Teff x {ng} log g x {native.size} wavelengths",
        )
    if nt < 2 or ng < 2 or nz < 1 or np.any(np.diff(native) <= 0):
        raise InputFileError(path, "grid needs >= 2 Teff and log g nodes and sorted wavelengths")
    wave = work_wavelengths(native)
    resampled = resample_loglog(native, flux, wave)
    log.info(
        "ck04 grid %s: %d models present, %d work wavelengths (%.3f-%.0f um)",
        path,
        int(arrays["present"].sum()),
        wave.size,
        wave[0] / 1e4,
        wave[-1] / 1e4,
    )
    return ModelGrid(
        wavelength=wave,
        flux=resampled,
        teff=arrays["teff_k"].astype(np.float64),
        logg=arrays["logg_cgs"].astype(np.float64),
        feh=arrays["metallicity_mh"].astype(np.float64),
        present=arrays["present"].astype(bool),
        path=path,
    )


def _bracket(
    nodes: NDArray[np.float64], values: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Lower node index (0 .. n-2) and weight of the upper node, values clamped to the nodes."""
    if nodes.size == 1:
        return np.zeros(values.shape, np.intp), np.zeros(values.shape)
    i = np.clip(np.searchsorted(nodes, values, side="right") - 1, 0, nodes.size - 2)
    w = np.clip((values - nodes[i]) / (nodes[i + 1] - nodes[i]), 0.0, 1.0)
    return i, w


@dataclass(frozen=True)
class Interpolated:
    """Result of :func:`interpolate`.

    Attributes
    ----------
    flux
        Surface F_lambda (erg s-1 cm-2 A-1), shape (n, n_wave).
    logg
        Log g actually used, shape (n,).
    logg_clamped
        True where the requested log g was raised to the lowest present gravity, shape (n,).
    """

    flux: NDArray[np.float64]
    logg: NDArray[np.float64]
    logg_clamped: NDArray[np.bool_]


def interpolate(
    grid: ModelGrid,
    teff: NDArray[np.floating],
    logg: NDArray[np.floating],
    feh: NDArray[np.floating],
) -> Interpolated:
    """Trilinear interpolation of surface fluxes in (Teff, log g, [M/H]) over present models.

    Parameters
    ----------
    grid
        The loaded grid.
    teff, logg, feh
        Shape (n,) each: K, log10(cm s-2), dex. Values outside the grid are clamped to its
        edges (Teff below the grid is the job of :mod:`skysift.sed.cool`).

    Returns
    -------
    Interpolated
        Fluxes on ``grid.wavelength`` and the log g used.
    """
    teff_k = np.asarray(teff, np.float64)
    feh_dex = np.asarray(feh, np.float64)
    req_logg = np.clip(np.asarray(logg, np.float64), grid.logg[0], grid.logg[-1])
    it, wt = _bracket(grid.teff, teff_k)
    gmin_idx = grid.min_logg_index
    g_lo, g_hi = grid.logg[gmin_idx[it]], grid.logg[gmin_idx[it + 1]]
    gmin = np.where(wt <= 0.0, g_lo, np.where(wt >= 1.0, g_hi, np.maximum(g_lo, g_hi)))
    clamped = req_logg < gmin - 1e-12
    used = np.where(clamped, gmin, req_logg)
    ig, wg = _bracket(grid.logg, used)
    iz, wz = _bracket(grid.feh, feh_dex)
    n_z = grid.feh.size
    out = np.zeros((teff_k.size, grid.wavelength.size))
    for dz, fz in ((0, 1.0 - wz), (1, wz)):
        if n_z == 1 and dz == 1:
            continue
        for dt, ft in ((0, 1.0 - wt), (1, wt)):
            for dg, fg in ((0, 1.0 - wg), (1, wg)):
                weight = fz * ft * fg
                use = weight > 0
                if not use.any():
                    continue
                rows = np.nonzero(use)[0]
                out[rows] += (
                    weight[rows, None] * grid.flux[iz[rows] + dz, it[rows] + dt, ig[rows] + dg]
                )
    return Interpolated(flux=out, logg=used, logg_clamped=clamped)
