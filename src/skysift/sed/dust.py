"""Circumstellar dust shells and interstellar extinction.

Shell model (spherical, optically thin re-emission). The grains' opacity follows
``kappa(lambda) ~ (lambda / 0.55 um)**-beta``, so the shell's optical depth is
``tau(lambda) = tau_V * (lambda / 0.55 um)**-beta``. The star seen through the shell is
``F_star * exp(-tau)``; the absorbed power ``E_abs = int F_star (1 - exp(-tau)) dlambda`` (over
the whole 0.009-200 um spectrum) is re-emitted by dust of one temperature T_d as a modified
blackbody ``kappa(lambda) B_lambda(T_d)``, normalised analytically to carry exactly E_abs:
``int_0^inf lambda^-beta B_lambda dlambda = 2 h c^2 (k T / h c)^(4+beta) Gamma(4+beta)
zeta(4+beta)``. The dust emission is not itself re-absorbed (valid while the shell is optically
thin in the infrared, tau_V <~ 10 for beta = 1). Total flux is conserved.

Interstellar extinction multiplies by ``10**(-0.4 A_V A_lambda/A_V)`` with a curve of
``dust_extinction`` (default G23, Gordon et al. 2023, R_V = 3.1, 0.0912-32 um).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import gamma, zeta

from skysift.errors import ConfigError

#: Planck constant, speed of light, Boltzmann constant (cgs).
H_CGS = 6.62607015e-27
C_CGS = 2.99792458e10
K_CGS = 1.380649e-16

#: Reference wavelength of the shell's tau_V, Angstrom.
LAMBDA_V_AA = 5500.0


def planck_lambda(wavelength_aa: NDArray[np.float64], temp_k: NDArray[np.float64]) -> NDArray:
    """Planck B_lambda in erg s-1 cm-2 A-1 sr-1.

    Parameters
    ----------
    wavelength_aa
        Wavelengths in Angstrom, shape (n_wave,).
    temp_k
        Temperatures in K, shape (n,).

    Returns
    -------
    ndarray
        Shape (n, n_wave); 0 where the Wien exponent exceeds 700.
    """
    lam = np.asarray(wavelength_aa, np.float64)[None, :] * 1e-8
    t = np.asarray(temp_k, np.float64)[:, None]
    x = H_CGS * C_CGS / (lam * K_CGS * t)
    safe = x < 700.0
    with np.errstate(over="ignore"):
        b = 2 * H_CGS * C_CGS**2 / lam**5 / np.expm1(np.where(safe, x, 700.0))
    return np.where(safe, b * 1e-8, 0.0)


def shell_tau(
    wavelength_aa: NDArray[np.float64], tau_v: NDArray[np.float64], beta: float
) -> NDArray:
    """Shell optical depth, shape (n, n_wave), for tau_V shape (n,)."""
    shape = (np.asarray(wavelength_aa, np.float64) / LAMBDA_V_AA) ** (-beta)
    return np.asarray(tau_v, np.float64)[:, None] * shape[None, :]


def modified_blackbody_norm(temp_k: NDArray[np.float64], beta: float) -> NDArray[np.float64]:
    """``int_0^inf (lambda/lambda_V)^-beta B_lambda(T) dlambda`` (erg s-1 cm-2 sr-1), (n,)."""
    t = np.asarray(temp_k, np.float64)
    lam_v_cm = LAMBDA_V_AA * 1e-8
    p = 4.0 + beta
    return np.asarray(
        lam_v_cm**beta
        * 2
        * H_CGS
        * C_CGS**2
        * (K_CGS * t / (H_CGS * C_CGS)) ** p
        * gamma(p)
        * zeta(p)
    )


def dust_emission(
    wavelength_aa: NDArray[np.float64],
    absorbed: NDArray[np.float64],
    temp_k: NDArray[np.float64],
    beta: float,
) -> NDArray[np.float64]:
    """Modified-blackbody emission carrying ``absorbed`` power, F_lambda (erg s-1 cm-2 A-1).

    Parameters
    ----------
    wavelength_aa
        Shape (n_wave,), Angstrom.
    absorbed
        Absorbed (= re-emitted) flux at the observer, erg s-1 cm-2, shape (n,).
    temp_k
        Dust temperature in K, shape (n,).
    beta
        Opacity index.

    Returns
    -------
    ndarray
        Shape (n, n_wave); integrates over all wavelengths to ``absorbed``.
    """
    wave = np.asarray(wavelength_aa, np.float64)
    shape = (wave / LAMBDA_V_AA) ** (-beta) * planck_lambda(wave, temp_k)
    return np.asarray(shape * (absorbed / modified_blackbody_norm(temp_k, beta))[:, None])


def apply_shell(
    wavelength_aa: NDArray[np.float64],
    flux: NDArray[np.float64],
    tau_v: NDArray[np.float64],
    temp_k: NDArray[np.float64],
    beta: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Star seen through its dust shell plus the shell's emission.

    Parameters
    ----------
    wavelength_aa
        Shape (n_wave,), Angstrom, covering the star's emission (0.009-200 um).
    flux
        Stellar F_lambda at the observer, shape (n, n_wave).
    tau_v, temp_k
        Shell optical depth at 0.55 um and dust temperature (K), shape (n,).
    beta
        Opacity index.

    Returns
    -------
    (flux_out, absorbed)
        F_lambda of shape (n, n_wave) and the absorbed = re-emitted flux (erg s-1 cm-2), (n,).
    """
    wave = np.asarray(wavelength_aa, np.float64)
    trans = np.exp(-shell_tau(wave, tau_v, beta))
    absorbed = np.trapezoid(flux * (1.0 - trans), wave, axis=1)
    out = flux * trans + dust_emission(wave, absorbed, temp_k, beta)
    return out, absorbed


def extinction_curve(
    wavelength_aa: NDArray[np.float64], *, model: str = "G23", r_v: float = 3.1
) -> NDArray[np.float64]:
    """A_lambda / A_V of a ``dust_extinction`` R_V-dependent curve, shape (n_wave,).

    Outside the curve's range the value is 0 beyond its long end and held at its short end;
    only the photometric bands (checked by :func:`check_curve_covers`) use it.

    Raises
    ------
    ConfigError
        Unknown model or R_V out of its range.
    """
    import astropy.units as u
    from dust_extinction import parameter_averages

    cls = getattr(parameter_averages, model, None)
    if cls is None or not hasattr(cls, "x_range"):
        raise ConfigError(
            "sed.extinction_curve",
            f"'{model}' is not an R_V-dependent curve of dust_extinction.parameter_averages "
            "(e.g. G23, F19, F99, CCM89)",
        )
    try:
        curve = cls(Rv=r_v)
    except Exception as exc:  # dust_extinction raises InputParameterError for bad R_V
        raise ConfigError("sed.r_v", f"{r_v} not accepted by {model} ({exc})") from exc
    x = 1e4 / np.asarray(wavelength_aa, np.float64)  # 1/um
    lo, hi = curve.x_range
    inside = (x >= lo) & (x <= hi)
    out = np.zeros_like(x)
    out[inside] = curve(np.asarray(x[inside]) / u.um)
    short = x > hi
    if short.any():
        out[short] = curve(np.array([hi]) / u.um)[0]
    return out


def check_curve_covers(model: str, lambda_min_um: float, lambda_max_um: float) -> None:
    """Raise :class:`ConfigError` unless the curve's range covers [min, max] um."""
    from dust_extinction import parameter_averages

    cls = getattr(parameter_averages, model, None)
    if cls is None or not hasattr(cls, "x_range"):
        extinction_curve(np.array([5500.0]), model=model)  # raises the naming error
        return
    lo, hi = cls.x_range
    if lambda_min_um < 1.0 / hi or lambda_max_um > 1.0 / lo:
        raise ConfigError(
            "sed.extinction_curve",
            f"{model} covers {1 / hi:.3f}-{1 / lo:.1f} um but the bands span "
            f"{lambda_min_um:.3f}-{lambda_max_um:.1f} um; use G23 (0.0912-32 um)",
        )
