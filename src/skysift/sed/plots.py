"""Figures of the synthetic SEDs: example spectra with photometry, colour-colour diagrams."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from astropy.table import Table
from numpy.typing import NDArray

from skysift.io.atomic import atomic_path
from skysift.sed.config import SedConfig
from skysift.sed.grid import ModelGrid
from skysift.sed.synth import SedSet, observed_spectra

#: Speed of light in um/s (nu F_nu = c / lambda * F_nu).
C_UM_S = 2.99792458e14

#: erg s-1 cm-2 Hz-1 per Jy.
JY_CGS = 1e-23


def example_rows(sedset: SedSet, n: int) -> NDArray[np.intp]:
    """Up to ``n`` rows spread in Teff, half with and half without a dust shell."""
    dusty = np.asarray(sedset.params["has_dust"], bool)
    teff = np.asarray(sedset.params["teff"])
    picks: list[int] = []
    for group, count in ((~dusty, n - n // 2), (dusty, n // 2)):
        idx = np.nonzero(group)[0]
        if idx.size == 0 or count == 0:
            continue
        order = idx[np.argsort(teff[idx])]
        picks.extend(order[np.linspace(0, order.size - 1, min(count, order.size)).astype(int)])
    return np.asarray(sorted(set(picks)), dtype=np.intp)


def _colour(table: Table, blue: str, red: str) -> NDArray[np.float64]:
    blue_mag = np.asarray(table[f"mag_{blue}"], dtype=np.float64)
    return blue_mag - np.asarray(table[f"mag_{red}"], dtype=np.float64)


def plot_overview(
    path: str | Path, sedset: SedSet, grid: ModelGrid, config: SedConfig, curve: NDArray
) -> None:
    """Left: example SEDs (nu F_nu vs lambda) with and without dust, with their photometry;
    right: G-Ks vs W1-W4 (Vega) of all stars with both colours, coloured by Teff."""
    table = sedset.table
    rows = example_rows(sedset, config.n_examples)
    fig, (ax_sed, ax_cc) = plt.subplots(1, 2, figsize=(13, 5.5))
    wave_um = grid.wavelength / 1e4
    if rows.size:
        params = {k: np.asarray(v)[rows] for k, v in sedset.params.items()}
        spectra = observed_spectra(grid, params, config=config, ext_curve=curve).flux
        pivots = sedset.passbands.pivot_um
        cmap = plt.get_cmap("viridis")
        for k, row in enumerate(rows):
            colour = cmap(k / max(rows.size - 1, 1))
            style = "-" if params["has_dust"][k] else "--"
            nu_fnu = spectra[k] * grid.wavelength  # lambda F_lambda, erg s-1 cm-2
            sel = (wave_um > 0.2) & (wave_um < 40)
            label = f"{params['teff'][k]:.0f} K, A_V {params['av'][k]:.1f}" + (
                f", dust {params['dust_temp'][k]:.0f} K tau {params['dust_tau'][k]:.2f}"
                if params["has_dust"][k]
                else ""
            )
            ax_sed.loglog(wave_um[sel], nu_fnu[sel], style, color=colour, lw=1, label=label)
            flux_jy = np.array([table[f"flux_{b}"][row] for b in sedset.passbands.names], float)
            ax_sed.plot(pivots, flux_jy * JY_CGS * C_UM_S / pivots, "o", color=colour, ms=4)
        ax_sed.set_xlabel("wavelength (um)")
        ax_sed.set_ylabel("lambda F_lambda (erg s-1 cm-2)")
        ax_sed.set_title("example SEDs (solid: dust shell; dots: catalogue photometry)")
        ax_sed.legend(fontsize=7)
    names = set(sedset.passbands.names)
    if {"G", "Ks", "W1", "W4"} <= names:
        x = _colour(table, "W1", "W4")
        y = _colour(table, "G", "Ks")
        ok = np.isfinite(x) & np.isfinite(y)
        sc = ax_cc.scatter(
            x[ok], y[ok], c=np.asarray(table["teff"])[ok], s=3, cmap="plasma_r", norm="log"
        )
        fig.colorbar(sc, ax=ax_cc, label="Teff (K)")
        ax_cc.set_xlabel("W1 - W4 (Vega)")
        ax_cc.set_ylabel("G - Ks (Vega)")
        ax_cc.set_title(f"{ok.sum()} of {len(table)} stars with G, Ks, W1, W4")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def plot_real_comparison(
    path: str | Path,
    real_teff: NDArray[np.float64],
    real_mags: dict[str, NDArray[np.float64]],
    table: Table,
) -> None:
    """Side by side: G-Ks vs Ks-W2 (Vega; real W2 converted from AB) of real stars and of a
    synthetic SED table (``mag_<b>`` Vega, ``teff``), both coloured by Teff, on the same axes."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharex=True, sharey=True)
    syn_x = _colour(table, "Ks", "W2")
    syn_y = _colour(table, "G", "Ks")
    real_x = real_mags["Ks"] - real_mags["W2"]
    real_y = real_mags["G"] - real_mags["Ks"]
    sets = (
        (axes[0], real_x, real_y, real_teff, "real stars (Green et al. 2021)"),
        (axes[1], syn_x, syn_y, np.asarray(table["teff"], float), "synthetic SEDs"),
    )
    for ax, x, y, t, title in sets:
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(t)
        sc = ax.scatter(x[ok], y[ok], c=t[ok], s=3, cmap="plasma_r", vmin=2500, vmax=10000)
        ax.set_title(f"{title}: {ok.sum()} stars")
        ax.set_xlabel("Ks - W2 (Vega)")
    axes[0].set_ylabel("G - Ks (Vega)")
    axes[0].set_xlim(-0.6, 2.5)
    axes[0].set_ylim(-1.0, 7.0)
    fig.colorbar(sc, ax=axes, label="Teff (K)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
