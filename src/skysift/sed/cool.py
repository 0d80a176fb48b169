"""Extension of the ck04 grid below its coolest model (3500 K) down to 2500 K.

ATLAS9 has no models cooler than 3500 K, where M dwarfs, M giants and many dusty AGB stars
live. This is an *approximation*, flagged ``model_source = "cool_extension"`` in the outputs:

1. take the 3500 K model at the star's log g and [M/H] (interpolated as usual);
2. multiply by the blackbody ratio ``B_lambda(Teff) / B_lambda(3500 K)``, which moves the
   peak and the overall colour to the lower temperature;
3. deepen the molecular bands that dominate late-M spectra by Gaussian troughs (in lambda)
   whose depth grows linearly from 0 at 3500 K to ``depth`` at 2500 K: TiO at 0.62, 0.71,
   0.76, 0.845 um, VO at 1.05 um, H2O at 1.4, 1.9, 2.7 um, CO at 2.35 um (relative weights in
   :data:`MOLECULAR_BANDS`);
4. rescale so that ``int F_lambda dlambda = sigma Teff^4`` (the surface flux of a star of that
   Teff), i.e. the removed band flux reappears in the continuum.

It reproduces the broad trend (redder optical-infrared colours, depressed BP and G) rather
than line-level detail; :mod:`skysift.sed.compare` checks its colours against real M stars.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skysift.sed.dust import planck_lambda

#: Stefan-Boltzmann constant, erg s-1 cm-2 K-4.
SIGMA_SB = 5.670374419e-5

#: Teff (K) of the grid model the extension starts from.
T_ANCHOR = 3500.0

#: Teff (K) where the molecular troughs reach the configured depth.
T_COOLEST = 2500.0

#: (centre um, Gaussian sigma um, relative depth) of the molecular troughs.
MOLECULAR_BANDS: tuple[tuple[float, float, float], ...] = (
    (0.62, 0.02, 1.0),  # TiO
    (0.71, 0.02, 1.0),  # TiO
    (0.76, 0.02, 1.0),  # TiO
    (0.845, 0.03, 1.0),  # TiO
    (1.05, 0.03, 0.5),  # VO
    (1.40, 0.07, 1.0),  # H2O
    (1.90, 0.09, 1.0),  # H2O
    (2.35, 0.08, 0.4),  # CO
    (2.70, 0.15, 0.8),  # H2O
)


def band_depression(
    wavelength_aa: NDArray[np.float64], teff: NDArray[np.float64], depth: float
) -> NDArray[np.float64]:
    """Multiplicative molecular depression, shape (n, n_wave), 1 at and above 3500 K."""
    lam_um = np.asarray(wavelength_aa, np.float64)[None, :] / 1e4
    s = np.clip((T_ANCHOR - np.asarray(teff, np.float64)) / (T_ANCHOR - T_COOLEST), 0.0, 1.0)
    out = np.ones((s.size, lam_um.shape[1]))
    for centre, sigma, weight in MOLECULAR_BANDS:
        profile = np.exp(-0.5 * ((lam_um - centre) / sigma) ** 2)
        out *= 1.0 - depth * weight * s[:, None] * profile
    return out


def extend_cool(
    wavelength_aa: NDArray[np.float64],
    flux_anchor: NDArray[np.float64],
    teff: NDArray[np.float64],
    *,
    depth: float = 0.5,
) -> NDArray[np.float64]:
    """Surface F_lambda of stars cooler than 3500 K from the 3500 K model.

    Parameters
    ----------
    wavelength_aa
        Shape (n_wave,), Angstrom, the full range of the grid (for the energy rescaling).
    flux_anchor
        3500 K surface F_lambda (erg s-1 cm-2 A-1) at each star's log g and [M/H],
        shape (n, n_wave).
    teff
        Target temperatures in K, shape (n,), 2500-3500.
    depth
        Trough depth at 2500 K (0 switches the molecular troughs off).

    Returns
    -------
    ndarray
        Shape (n, n_wave), with ``int F dlambda = sigma Teff^4``.
    """
    wave = np.asarray(wavelength_aa, np.float64)
    t = np.asarray(teff, np.float64)
    ratio = planck_lambda(wave, t)
    anchor_bb = planck_lambda(wave, np.array([T_ANCHOR]))[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(anchor_bb > 0, ratio / anchor_bb, 0.0)
    flux = flux_anchor * ratio * band_depression(wave, t, depth)
    total = np.trapezoid(flux, wave, axis=1)
    return np.asarray(flux * (SIGMA_SB * t**4 / total)[:, None])
