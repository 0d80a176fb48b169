"""Synthetic photometry through pyphot passbands, magnitudes, errors and missing bands.

Band fluxes follow pyphot's definition exactly: for photon-counting detectors
``<F> = int F_lambda T lambda dlambda / int T lambda dlambda`` (energy detectors drop the
``lambda``), by the trapezoid rule on the spectrum's wavelengths with the passband
interpolated onto them. On a fixed wavelength grid this is a weighted sum, so a whole batch of
spectra is one matrix product ``flux @ weights`` (no per-spectrum loop, no interpolation of
pre-integrated magnitudes).

Magnitudes: ``m = -2.5 log10(<F> / F_zero)`` with pyphot's Vega (``Vega_zero_flux``) or AB
(``AB_zero_flux``, 3631 Jy) zero point of the band; flux densities in Jy are
``3631 * 10**(-0.4 m_AB)``.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
from numpy.typing import NDArray

from skysift.errors import ConfigError
from skysift.sed.config import BandConfig

log = logging.getLogger(__name__)

#: AB zero point in Jy.
AB_ZERO_JY = 3631.0

#: 2.5 / ln(10): magnitude error per unit relative flux error.
MAG_PER_REL_FLUX = 2.5 / np.log(10.0)


def _library() -> Any:
    import pyphot

    return pyphot.get_library()


def get_filter(pyphot_name: str) -> Any:
    """A pyphot filter by name; :class:`ConfigError` with close matches if unknown."""
    lib = _library()
    names = list(lib.get_library_content())
    if pyphot_name not in names:
        close = difflib.get_close_matches(pyphot_name, names, n=4, cutoff=0.5)
        hint = f"; close: {', '.join(close)}" if close else ""
        raise ConfigError(
            "sed.bands.<name>.pyphot_name",
            f"'{pyphot_name}' is not in pyphot's library ({len(names)} passbands){hint}",
        )
    return lib[pyphot_name]


def trapezoid_weights(wavelength: NDArray[np.float64]) -> NDArray[np.float64]:
    """Weights ``d`` with ``trapezoid(y, x) == sum(d * y)``, shape (n,)."""
    dx = np.diff(wavelength)
    d = np.zeros_like(wavelength)
    d[:-1] += dx / 2
    d[1:] += dx / 2
    return d


@dataclass(frozen=True)
class Passbands:
    """Bands prepared for one wavelength grid.

    Attributes
    ----------
    names
        Short band names (table columns), length n_band.
    pyphot_names
        pyphot library names.
    weights
        Shape (n_wave, n_band): ``band_flux = flux @ weights`` gives <F_lambda> in
        erg s-1 cm-2 A-1.
    vega_zero_flam, ab_zero_flam
        Zero-point fluxes in erg s-1 cm-2 A-1, shape (n_band,).
    vega_zero_jy
        Vega zero point in Jy, shape (n_band,).
    pivot_um, leff_um
        Pivot and (Vega-weighted) effective wavelength in um, shape (n_band,).
    lambda_min_um, lambda_max_um
        Where the passband is defined, um.
    """

    names: tuple[str, ...]
    pyphot_names: tuple[str, ...]
    weights: NDArray[np.float64]
    vega_zero_flam: NDArray[np.float64]
    ab_zero_flam: NDArray[np.float64]
    vega_zero_jy: NDArray[np.float64]
    pivot_um: NDArray[np.float64]
    leff_um: NDArray[np.float64]
    lambda_min_um: NDArray[np.float64]
    lambda_max_um: NDArray[np.float64]

    @property
    def ab_minus_vega(self) -> NDArray[np.float64]:
        """m_AB - m_Vega of every band (mag), shape (n_band,)."""
        return np.asarray(2.5 * np.log10(self.ab_zero_flam / self.vega_zero_flam))

    def as_json(self) -> list[dict[str, Any]]:
        """One dict per band for ``bands.json``."""
        return [
            {
                "name": name,
                "pyphot_name": self.pyphot_names[i],
                "vega_zero_flam": float(self.vega_zero_flam[i]),
                "vega_zero_jy": float(self.vega_zero_jy[i]),
                "ab_zero_flam": float(self.ab_zero_flam[i]),
                "ab_zero_jy": AB_ZERO_JY,
                "ab_minus_vega_mag": float(self.ab_minus_vega[i]),
                "pivot_wavelength_um": float(self.pivot_um[i]),
                "effective_wavelength_um": float(self.leff_um[i]),
                "lambda_min_um": float(self.lambda_min_um[i]),
                "lambda_max_um": float(self.lambda_max_um[i]),
            }
            for i, name in enumerate(self.names)
        ]


def band_weight_vector(filt: Any, wavelength: NDArray[np.float64]) -> NDArray[np.float64]:
    """pyphot's band average as weights on ``wavelength`` (Angstrom), shape (n_wave,)."""
    fw = u.Quantity(filt.wavelength).to_value(u.AA)
    trans = np.interp(wavelength, fw, np.asarray(filt.transmit, np.float64), left=0.0, right=0.0)
    kernel = trans * wavelength if "photon" in filt.dtype else trans
    w = trapezoid_weights(wavelength) * kernel
    total = w.sum()
    if total <= 0:
        raise ConfigError(
            "sed.bands", f"passband {filt.name} does not overlap the model wavelengths"
        )
    return np.asarray(w / total)


def load_passbands(bands: dict[str, BandConfig], wavelength: NDArray[np.float64]) -> Passbands:
    """Prepare the configured bands for spectra sampled on ``wavelength`` (Angstrom).

    Raises
    ------
    ConfigError
        Unknown pyphot name, or a passband that reaches beyond the wavelength grid.
    """
    names, pp, cols = [], [], []
    vega, ab, vega_jy, pivot, leff, lmin, lmax = ([] for _ in range(7))
    for name, band in bands.items():
        filt = get_filter(band.pyphot_name)
        fw = u.Quantity(filt.wavelength).to_value(u.AA)
        if fw.min() < wavelength[0] or fw.max() > wavelength[-1]:
            raise ConfigError(
                f"sed.bands.{name}",
                f"passband {band.pyphot_name} ({fw.min():.0f}-{fw.max():.0f} A) extends beyond "
                f"the model wavelengths ({wavelength[0]:.0f}-{wavelength[-1]:.0f} A)",
            )
        names.append(name)
        pp.append(band.pyphot_name)
        cols.append(band_weight_vector(filt, wavelength))
        vega.append(u.Quantity(filt.Vega_zero_flux).to_value("erg s-1 cm-2 AA-1"))
        ab.append(u.Quantity(filt.AB_zero_flux).to_value("erg s-1 cm-2 AA-1"))
        vega_jy.append(u.Quantity(filt.Vega_zero_Jy).to_value(u.Jy))
        pivot.append(u.Quantity(filt.lpivot).to_value(u.um))
        leff.append(u.Quantity(filt.leff).to_value(u.um))
        lmin.append(fw.min() / 1e4)
        lmax.append(fw.max() / 1e4)
    return Passbands(
        names=tuple(names),
        pyphot_names=tuple(pp),
        weights=np.stack(cols, axis=1),
        vega_zero_flam=np.array(vega),
        ab_zero_flam=np.array(ab),
        vega_zero_jy=np.array(vega_jy),
        pivot_um=np.array(pivot),
        leff_um=np.array(leff),
        lambda_min_um=np.array(lmin),
        lambda_max_um=np.array(lmax),
    )


def band_fluxes(passbands: Passbands, flux: NDArray[np.float64]) -> NDArray[np.float64]:
    """Band-averaged F_lambda (erg s-1 cm-2 A-1), shape (n, n_band), of spectra (n, n_wave)."""
    return np.asarray(flux @ passbands.weights)


def direct_band_flux(
    pyphot_name: str, wavelength: NDArray[np.float64], flux: NDArray[np.float64]
) -> float:
    """pyphot's own ``get_flux`` of one spectrum (for checks), erg s-1 cm-2 A-1."""
    filt = get_filter(pyphot_name)
    value = filt.get_flux(wavelength * u.AA, flux * u.Unit("erg s-1 cm-2 AA-1"))
    return float(u.Quantity(value).to_value("erg s-1 cm-2 AA-1"))


def flux_to_mag(
    band_flux: NDArray[np.float64], zero_flam: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Magnitudes from band fluxes and zero points (same unit); NaN where flux <= 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = -2.5 * np.log10(band_flux / zero_flam)
    return np.asarray(np.where(band_flux > 0, mag, np.nan))


def mag_error(
    mag: NDArray[np.float64], mag_limit: NDArray[np.float64], floor: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Magnitude error: floor in quadrature with 1.0857/SNR, SNR = 5 at ``mag_limit``.

    Parameters
    ----------
    mag
        Magnitudes, shape (n, n_band).
    mag_limit, floor
        Per band, shape (n_band,), mag.
    """
    snr = 5.0 * 10.0 ** (-0.4 * (mag - mag_limit))
    return np.asarray(np.sqrt(floor**2 + (MAG_PER_REL_FLUX / snr) ** 2))


@dataclass(frozen=True)
class Observed:
    """Noisy catalogue photometry, all shape (n, n_band); NaN where ``missing``.

    Attributes
    ----------
    mag, mag_err
        Vega magnitudes and their 1-sigma errors (mag).
    mag_ab
        AB magnitudes (mag).
    flux_jy, flux_err_jy
        Flux densities and errors in Jy.
    missing
        True where the band is absent (random coverage gap, or fainter than the limit).
    """

    mag: NDArray[np.float64]
    mag_err: NDArray[np.float64]
    mag_ab: NDArray[np.float64]
    flux_jy: NDArray[np.float64]
    flux_err_jy: NDArray[np.float64]
    missing: NDArray[np.bool_]


def observe(
    mag_true: NDArray[np.float64],
    passbands: Passbands,
    bands: dict[str, BandConfig],
    *,
    rng: np.random.Generator,
    drop_below_limit: bool = True,
) -> Observed:
    """Add photometric noise and remove bands, as a survey catalogue would.

    The noise is Gaussian in flux with relative sigma ``mag_error(m_true) / 1.0857``; the
    reported error is the error model at the observed magnitude. A band is missing at random
    with its ``missing_rate``, and (``drop_below_limit``) where the observed magnitude is
    fainter than its 5-sigma ``mag_limit`` or the noisy flux is not positive.

    Parameters
    ----------
    mag_true
        Noise-free Vega magnitudes, shape (n, n_band), columns in ``passbands.names`` order.
    passbands, bands
        The prepared bands and their settings (limits, floors, missing rates).
    rng
        Random generator (two draws of shape (n, n_band): noise, then coverage).
    drop_below_limit
        Whether non-detections are missing.
    """
    cfg = [bands[name] for name in passbands.names]
    limit = np.array([b.mag_limit for b in cfg])
    floor = np.array([b.error_floor for b in cfg])
    rate = np.array([b.missing_rate for b in cfg])
    noise = rng.standard_normal(mag_true.shape)
    coverage = rng.random(mag_true.shape)
    rel_sigma = mag_error(mag_true, limit, floor) / MAG_PER_REL_FLUX
    rel_flux = 1.0 + rel_sigma * noise
    missing = (coverage < rate) | ~np.isfinite(mag_true) | (rel_flux <= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mag = mag_true - 2.5 * np.log10(np.where(rel_flux > 0, rel_flux, np.nan))
    if drop_below_limit:
        missing |= ~(mag <= limit)
    mag = np.where(missing, np.nan, mag)
    err = np.where(missing, np.nan, mag_error(mag, limit, floor))
    mag_ab = mag + passbands.ab_minus_vega
    flux_jy = AB_ZERO_JY * 10.0 ** (-0.4 * mag_ab)
    flux_err = flux_jy * err / MAG_PER_REL_FLUX
    return Observed(
        mag=mag, mag_err=err, mag_ab=mag_ab, flux_jy=flux_jy, flux_err_jy=flux_err, missing=missing
    )
