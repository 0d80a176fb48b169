"""Synthetic SEDs against real stars: Green et al. (2021) photometry with spectroscopic Teff.

The real sample (``stars/green2020/green2020_test_data_small.csv``: Gaia DR2 G/BP/RP and
2MASS J/H/Ks in Vega, WISE W1/W2 that behave as AB) is compared colour by colour in Teff bins
with synthetic *photospheres* (no shell) whose extinction is drawn like the real stars'
(A_V = 3.1 E(B-V) from the catalogue's ``E_prior``), so that differences point at the models,
not at the sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table
from numpy.typing import NDArray

from skysift.errors import InputFileError
from skysift.sed.config import SedConfig
from skysift.sed.grid import ModelGrid
from skysift.sed.photometry import Passbands, flux_to_mag
from skysift.sed.synth import draw_parameters, observed_spectra, prepare

#: File of the real sample inside its folder.
GREEN2020_FILE = "green2020_test_data_small.csv"

#: Real-catalogue columns used here.
GREEN2020_COLUMNS = (
    "teff",
    "logg",
    "feh",
    "E_prior",
    "mag_G",
    "mag_BP",
    "mag_RP",
    "mag_J",
    "mag_H",
    "mag_Ks",
    "mag_W1",
    "mag_W2",
)

#: Colours compared (Vega): (label, blue band, red band).
COLOURS: tuple[tuple[str, str, str], ...] = (
    ("BP-RP", "BP", "RP"),
    ("G-Ks", "G", "Ks"),
    ("J-Ks", "J", "Ks"),
    ("Ks-W2", "Ks", "W2"),
)

#: Default Teff bin edges in K.
TEFF_BINS = (3000.0, 3500.0, 4000.0, 4500.0, 5000.0, 5500.0, 6000.0, 6500.0, 7500.0)


def load_green2020(path: str | Path) -> Table:
    """Read the Green et al. sample; ``path`` is the CSV or its folder.

    Raises
    ------
    InputFileError
        Missing file or columns.
    """
    path = Path(path)
    if path.is_dir():
        path = path / GREEN2020_FILE
    if not path.is_file():
        raise InputFileError(path, "Green et al. 2021 star sample not found (see stars/README.md)")
    table = Table.read(path, format="ascii.csv")
    missing = [c for c in GREEN2020_COLUMNS if c not in table.colnames]
    if missing:
        raise InputFileError(path, f"missing columns {missing}; not the green2020 sample")
    return table


def real_vega_mags(real: Table, passbands: Passbands) -> dict[str, NDArray[np.float64]]:
    """Vega magnitudes of the real stars by band name; W1/W2 converted from AB with our zero
    points (``m_Vega = m_AB - (m_AB - m_Vega)``); NaN where missing."""
    offsets = dict(zip(passbands.names, passbands.ab_minus_vega, strict=True))
    out: dict[str, NDArray[np.float64]] = {}
    for band in ("G", "BP", "RP", "J", "H", "Ks", "W1", "W2"):
        values = np.ma.filled(np.ma.asarray(real[f"mag_{band}"], dtype=np.float64), np.nan)
        if band in ("W1", "W2"):
            values = values - offsets[band]
        out[band] = np.asarray(values)
    return out


def synthetic_photospheres(
    grid: ModelGrid,
    real: Table,
    *,
    config: SedConfig,
    seed: int,
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Noise-free Vega magnitudes of synthetic twins of the real stars.

    Each real star with a finite Teff gets one synthetic star with its spectroscopic Teff,
    log g and [M/H] (clipped to the grid), no shell, and A_V = 3.1 E_prior.

    Returns
    -------
    (teff, mags)
        Teff in K, shape (n,), and magnitudes by band name, each shape (n,).
    """
    teff = np.asarray(real["teff"], np.float64)
    keep = np.isfinite(teff)
    n = int(keep.sum())
    rng = np.random.default_rng(seed)
    params = draw_parameters(config.model_copy(update={"dust_fraction": 0.0}), n=n, rng=rng)
    params["teff"] = np.clip(teff[keep], 2500.0, 50000.0)
    params["logg"] = np.clip(np.nan_to_num(np.asarray(real["logg"], float)[keep], nan=4.5), 0, 5)
    params["feh"] = np.clip(np.nan_to_num(np.asarray(real["feh"], float)[keep]), -1.0, 0.2)
    ebv = np.nan_to_num(np.asarray(real["E_prior"], np.float64)[keep])
    params["av"] = 3.1 * np.clip(ebv, 0, None)
    passbands, curve = prepare(grid, config)
    mags: dict[str, list[NDArray[np.float64]]] = {b: [] for b in passbands.names}
    for start in range(0, n, config.chunk_size):
        batch = {k: v[start : start + config.chunk_size] for k, v in params.items()}
        flux = observed_spectra(grid, batch, config=config, ext_curve=curve).flux
        m = flux_to_mag(flux @ passbands.weights, passbands.vega_zero_flam)
        for i, b in enumerate(passbands.names):
            mags[b].append(m[:, i])
    return params["teff"], {b: np.concatenate(v) for b, v in mags.items()}


def colour_medians(
    teff: NDArray[np.float64],
    mags: dict[str, NDArray[np.float64]],
    *,
    bins: tuple[float, ...] = TEFF_BINS,
) -> dict[str, NDArray[np.float64]]:
    """Median of each colour of :data:`COLOURS` in Teff bins; NaN for bins with < 5 stars.

    Returns
    -------
    dict
        Colour label -> medians of shape (n_bins,), plus ``"n"`` with the counts of the first
        colour.
    """
    edges = np.asarray(bins)
    which = np.digitize(teff, edges) - 1
    out: dict[str, NDArray[np.float64]] = {}
    for label, blue, red in COLOURS:
        colour = mags[blue] - mags[red]
        med = np.full(edges.size - 1, np.nan)
        count = np.zeros(edges.size - 1)
        for k in range(edges.size - 1):
            values = colour[(which == k) & np.isfinite(colour)]
            count[k] = values.size
            if values.size >= 5:
                med[k] = np.median(values)
        out[label] = med
        if "n" not in out:
            out["n"] = count
    return out


def comparison_table(
    real_teff: NDArray[np.float64],
    real_mags: dict[str, NDArray[np.float64]],
    syn_teff: NDArray[np.float64],
    syn_mags: dict[str, NDArray[np.float64]],
    *,
    bins: tuple[float, ...] = TEFF_BINS,
) -> Table:
    """Per Teff bin: counts and median colours, real and synthetic, and their difference."""
    real = colour_medians(real_teff, real_mags, bins=bins)
    syn = colour_medians(syn_teff, syn_mags, bins=bins)
    table = Table()
    table["teff_lo"] = np.asarray(bins[:-1])
    table["teff_hi"] = np.asarray(bins[1:])
    table["n_real"] = real["n"].astype(int)
    for label, _, _ in COLOURS:
        table[f"{label}_real"] = np.round(real[label], 3)
        table[f"{label}_syn"] = np.round(syn[label], 3)
        table[f"{label}_diff"] = np.round(syn[label] - real[label], 3)
    return table
