"""Draw stellar parameters and build a table of synthetic SEDs with catalogue-like photometry.

Per star (all drawn from one ``numpy.random.Generator``, in a fixed order, so a seed gives the
same table whatever the chunk size):

- Teff (log-uniform or uniform), giant or dwarf (``giant_fraction``), log g uniform in the
  dwarf or giant range, [M/H] uniform;
- mass: dwarfs follow a main-sequence mass-Teff relation ``M / Msun = (Teff / 5772 K)^1.7``
  (0.4 Msun at 3500 K, 2.4 at 10000 K, 17 at 30000 K; clipped to 0.08-60), giants are
  log-uniform in 0.8-5 Msun; the radius follows from gravity, ``R = sqrt(G M / g)``;
- distance (log-uniform, or uniform in volume), A_V uniform;
- a circumstellar shell for a ``dust_fraction`` of stars: tau_V log-uniform, T_dust uniform
  (``dust_tau`` and ``dust_temp`` are 0 without a shell).

Spectrum: surface flux from the ck04 grid (:mod:`skysift.sed.grid`) or, below 3500 K, the cool
extension (:mod:`skysift.sed.cool`); times ``(R / d)^2``; through the shell
(:mod:`skysift.sed.dust`); times the interstellar extinction; then band fluxes, magnitudes,
noise and missing bands (:mod:`skysift.sed.photometry`). Everything is vectorised over chunks
of ``chunk_size`` stars.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.table import Table
from numpy.typing import NDArray
from tqdm import tqdm

from skysift.sed.config import SedConfig
from skysift.sed.cool import T_ANCHOR, extend_cool
from skysift.sed.dust import apply_shell, check_curve_covers, extinction_curve
from skysift.sed.grid import ModelGrid, interpolate
from skysift.sed.photometry import (
    Passbands,
    band_fluxes,
    flux_to_mag,
    load_passbands,
    observe,
)

log = logging.getLogger(__name__)

#: Gravitational constant (cgs), solar mass (g), solar radius (cm), parsec (cm).
G_CGS = 6.6743e-8
M_SUN_G = 1.98841e33
R_SUN_CM = 6.957e10
PC_CM = 3.0856775814913673e18

#: ``model_source`` values.
SOURCE_GRID = "ck04"
SOURCE_COOL = "cool_extension"

Params = dict[str, NDArray[Any]]


def main_sequence_mass(teff: NDArray[np.float64]) -> NDArray[np.float64]:
    """Approximate dwarf mass in Msun from Teff in K: ``(Teff / 5772)^1.7`` in 0.08-60."""
    return np.asarray(np.clip((np.asarray(teff) / 5772.0) ** 1.7, 0.08, 60.0))


def radius_from_gravity(mass_msun: NDArray[np.float64], logg: NDArray[np.float64]) -> NDArray:
    """Radius in Rsun of a star of mass (Msun) and log g (cgs): ``sqrt(G M / g)``."""
    return np.asarray(np.sqrt(G_CGS * mass_msun * M_SUN_G / 10.0**logg) / R_SUN_CM)


def _uniform_or_log(
    rng: np.random.Generator, lo: float, hi: float, n: int, log_scale: bool
) -> NDArray[np.float64]:
    if log_scale:
        return np.asarray(np.exp(rng.uniform(np.log(lo), np.log(hi), n)))
    return rng.uniform(lo, hi, n)


def draw_parameters(config: SedConfig, *, n: int, rng: np.random.Generator) -> Params:
    """Draw the physical parameters of ``n`` stars.

    Returns
    -------
    dict
        Arrays of shape (n,): ``teff`` (K), ``logg`` (requested, cgs), ``feh`` (dex), ``giant``,
        ``mass`` (Msun), ``distance`` (pc), ``av`` (mag), ``has_dust``, ``dust_tau``,
        ``dust_temp`` (K). The radius follows once the grid has fixed log g.
    """
    c = config
    teff = _uniform_or_log(rng, c.teff_min, c.teff_max, n, c.teff_distribution == "loguniform")
    giant = rng.random(n) < c.giant_fraction
    logg = np.where(giant, rng.uniform(*c.giant_logg, n), rng.uniform(*c.dwarf_logg, n))
    feh = rng.uniform(c.feh_min, c.feh_max, n)
    giant_mass = np.exp(rng.uniform(np.log(0.8), np.log(5.0), n))
    mass = np.where(giant, giant_mass, main_sequence_mass(teff))
    if c.distance_distribution == "volume":
        distance = rng.uniform(c.distance_min_pc**3, c.distance_max_pc**3, n) ** (1.0 / 3.0)
    else:
        distance = _uniform_or_log(rng, c.distance_min_pc, c.distance_max_pc, n, True)
    av = rng.uniform(c.av_min, c.av_max, n)
    has_dust = rng.random(n) < c.dust_fraction
    tau = _uniform_or_log(rng, c.dust_tau_min, c.dust_tau_max, n, True)
    temp = rng.uniform(c.dust_temp_min, c.dust_temp_max, n)
    return {
        "teff": teff,
        "logg": logg,
        "feh": feh,
        "giant": giant,
        "mass": mass,
        "distance": distance,
        "av": av,
        "has_dust": has_dust,
        "dust_tau": np.where(has_dust, tau, 0.0),
        "dust_temp": np.where(has_dust, temp, 0.0),
    }


@dataclass(frozen=True)
class Spectra:
    """Observed spectra of a batch of stars.

    Attributes
    ----------
    flux
        F_lambda at the observer (erg s-1 cm-2 A-1), shape (n, n_wave) on the grid wavelengths.
    logg
        Log g used (after clamping to present models), shape (n,).
    logg_clamped
        Whether log g was raised, shape (n,).
    radius
        Radius in Rsun from the used log g and the mass, shape (n,).
    cool
        True where the cool extension made the spectrum, shape (n,).
    """

    flux: NDArray[np.float64]
    logg: NDArray[np.float64]
    logg_clamped: NDArray[np.bool_]
    radius: NDArray[np.float64]
    cool: NDArray[np.bool_]


def observed_spectra(
    grid: ModelGrid,
    params: Params,
    *,
    config: SedConfig,
    ext_curve: NDArray[np.float64],
) -> Spectra:
    """Spectra at the observer for a batch of parameters (see :func:`draw_parameters`).

    Parameters
    ----------
    grid
        The model grid.
    params
        Parameter arrays of shape (n,).
    config
        Uses ``cool_band_depth`` and ``dust_beta``.
    ext_curve
        A_lambda / A_V on ``grid.wavelength``, shape (n_wave,).
    """
    teff = np.asarray(params["teff"], np.float64)
    cool = teff < T_ANCHOR
    interp = interpolate(grid, np.maximum(teff, T_ANCHOR), params["logg"], params["feh"])
    surface = interp.flux
    if cool.any():
        surface[cool] = extend_cool(
            grid.wavelength, surface[cool], teff[cool], depth=config.cool_band_depth
        )
    radius = radius_from_gravity(params["mass"], interp.logg)
    dilution = (radius * R_SUN_CM / (params["distance"] * PC_CM)) ** 2
    flux = surface * dilution[:, None]
    dusty = np.asarray(params["has_dust"], bool)
    if dusty.any():
        flux[dusty], _ = apply_shell(
            grid.wavelength,
            flux[dusty],
            params["dust_tau"][dusty],
            params["dust_temp"][dusty],
            config.dust_beta,
        )
    flux *= 10.0 ** (-0.4 * np.outer(params["av"], ext_curve))
    return Spectra(
        flux=flux, logg=interp.logg, logg_clamped=interp.logg_clamped, radius=radius, cool=cool
    )


@dataclass(frozen=True)
class SedSet:
    """A synthetic SED catalogue and what it was made with.

    Attributes
    ----------
    table
        One row per star (columns in :func:`build_table`).
    passbands
        The bands (zero points, wavelengths).
    params
        The drawn parameters (arrays of shape (n,)), incl. ``logg`` as used.
    """

    table: Table
    passbands: Passbands
    params: Params


def prepare(grid: ModelGrid, config: SedConfig) -> tuple[Passbands, NDArray[np.float64]]:
    """Passbands and the extinction curve on the grid wavelengths (checks both cover the bands)."""
    passbands = load_passbands(config.bands, grid.wavelength)
    check_curve_covers(
        config.extinction_curve,
        float(passbands.lambda_min_um.min()),
        float(passbands.lambda_max_um.max()),
    )
    curve = extinction_curve(grid.wavelength, model=config.extinction_curve, r_v=config.r_v)
    return passbands, curve


def synthesize(grid: ModelGrid, config: SedConfig, *, seed: int) -> SedSet:
    """Draw ``config.n_seds`` stars and compute their photometry.

    Parameters
    ----------
    grid
        Loaded model grid.
    config
        The ``sed`` settings.
    seed
        Seed of every random draw (parameters, then noise, then coverage).
    """
    rng = np.random.default_rng(seed)
    n = config.n_seds
    params = draw_parameters(config, n=n, rng=rng)
    passbands, curve = prepare(grid, config)
    n_band = len(passbands.names)
    band_flux = np.empty((n, n_band))
    used_logg = np.empty(n)
    clamped = np.zeros(n, bool)
    radius = np.empty(n)
    cool = np.zeros(n, bool)
    starts = range(0, n, config.chunk_size)
    for start in tqdm(starts, desc="SEDs", unit="chunk", disable=None, leave=False):
        sl = slice(start, min(start + config.chunk_size, n))
        batch = {k: v[sl] for k, v in params.items()}
        spectra = observed_spectra(grid, batch, config=config, ext_curve=curve)
        band_flux[sl] = band_fluxes(passbands, spectra.flux)
        used_logg[sl], clamped[sl] = spectra.logg, spectra.logg_clamped
        radius[sl], cool[sl] = spectra.radius, spectra.cool
    params["logg_requested"] = params["logg"]
    params["logg"] = used_logg
    params["logg_clamped"] = clamped
    params["radius"] = radius
    params["cool"] = cool
    mag_true = flux_to_mag(band_flux, passbands.vega_zero_flam)
    obs = observe(
        mag_true, passbands, config.bands, rng=rng, drop_below_limit=config.drop_below_limit
    )
    table = build_table(params, passbands, mag_true, obs)
    log.info(
        "%d SEDs: %d with dust, %d cool-extension, %d log g clamped; missing fraction %s",
        n,
        int(params["has_dust"].sum()),
        int(cool.sum()),
        int(clamped.sum()),
        ", ".join(
            f"{b} {m:.2f}" for b, m in zip(passbands.names, obs.missing.mean(axis=0), strict=True)
        ),
    )
    return SedSet(table=table, passbands=passbands, params=params)


#: Parameter columns: (name, key in params, dtype, unit, description).
PARAM_COLUMNS: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("teff", "teff", "float64", "K", "effective temperature"),
    ("logg", "logg", "float64", None, "log10 surface gravity (cgs) used by the model"),
    ("logg_clamped", "logg_clamped", "bool", None, "log g raised to the lowest present model"),
    ("feh", "feh", "float64", None, "[M/H] in dex"),
    ("giant", "giant", "bool", None, "drawn from the giant log g range"),
    ("mass", "mass", "float64", "solMass", "stellar mass"),
    ("radius", "radius", "float64", "solRad", "stellar radius, sqrt(G M / g)"),
    ("distance", "distance", "float64", "pc", "distance"),
    ("av", "av", "float64", "mag", "interstellar extinction A_V"),
    ("has_dust", "has_dust", "bool", None, "has a circumstellar dust shell"),
    ("dust_tau", "dust_tau", "float64", None, "shell optical depth at 0.55 um (0: no shell)"),
    ("dust_temp", "dust_temp", "float64", "K", "shell dust temperature (0: no shell)"),
)


def build_table(
    params: Params, passbands: Passbands, mag_true: NDArray[np.float64], obs: Any
) -> Table:
    """The output table: parameters, then per band ``mag_<b>`` (Vega), ``err_<b>``,
    ``mag_ab_<b>``, ``flux_<b>`` and ``flux_err_<b>`` (Jy), ``mask_<b>`` (True = missing) and
    ``mag_true_<b>`` (noise-free Vega)."""
    n = mag_true.shape[0]
    table = Table()
    table["id"] = np.arange(n, dtype=np.int64)
    for name, key, dtype, unit, desc in PARAM_COLUMNS:
        table[name] = np.asarray(params[key]).astype(dtype)
        table[name].unit = unit
        table[name].description = desc
    table["model_source"] = np.where(params["cool"], SOURCE_COOL, SOURCE_GRID).astype("U16")
    table["model_source"].description = "ck04 (interpolated grid) or cool_extension (< 3500 K)"
    columns = (
        ("mag", obs.mag, "mag", "observed magnitude, Vega system"),
        ("err", obs.mag_err, "mag", "1-sigma magnitude error"),
        ("mag_ab", obs.mag_ab, "mag", "observed magnitude, AB system"),
        ("flux", obs.flux_jy, "Jy", "observed flux density"),
        ("flux_err", obs.flux_err_jy, "Jy", "1-sigma flux density error"),
        ("mask", obs.missing, None, "True where the band is missing"),
        ("mag_true", mag_true, "mag", "noise-free magnitude, Vega system"),
    )
    for i, band in enumerate(passbands.names):
        for prefix, values, unit, desc in columns:
            col = f"{prefix}_{band}"
            data = values[:, i]
            table[col] = data if data.dtype == bool else data.astype(np.float32)
            table[col].unit = unit
            table[col].description = f"{band}: {desc}"
    return table
