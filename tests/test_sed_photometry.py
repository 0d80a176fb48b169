"""Passband photometry: Vega-system zero points, exactness of the vectorised integration,
AB/Jy conversions, error model, noise and missing bands."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from skysift.errors import ConfigError
from skysift.sed.config import BandConfig, SedConfig
from skysift.sed.grid import ModelGrid, interpolate, load_grid, resample_loglog
from skysift.sed.photometry import (
    AB_ZERO_JY,
    Passbands,
    band_fluxes,
    direct_band_flux,
    flux_to_mag,
    get_filter,
    load_passbands,
    mag_error,
    observe,
)


@pytest.fixture(scope="module")
def grid(shared_data: Path) -> ModelGrid:
    if not (shared_data / "ck04" / "ck04_subset.npz").is_file():
        pytest.skip("ck04 grid absent")
    return load_grid(shared_data / "ck04")


@pytest.fixture(scope="module")
def passbands(grid: ModelGrid) -> Passbands:
    return load_passbands(SedConfig().bands, grid.wavelength)


def _mags(grid: ModelGrid, pb: Passbands, teff: float, logg: float, feh: float) -> dict:
    flux = interpolate(grid, np.array([teff]), np.array([logg]), np.array([feh])).flux
    mags = flux_to_mag(band_fluxes(pb, flux), pb.vega_zero_flam)[0]
    return dict(zip(pb.names, mags, strict=True))


@pytest.mark.parametrize(
    ("teff", "logg", "feh"), [(9500.0, 4.0, 0.0), (9550.0, 3.95, -0.5), (9500.0, 4.0, -1.0)]
)
def test_vega_like_star_has_zero_colours(
    grid: ModelGrid, passbands: Passbands, teff: float, logg: float, feh: float
) -> None:
    # Vega: Teff 9550 K, log g 3.95, [M/H] -0.5 (Castelli & Kurucz 1994); its colours are 0
    m = _mags(grid, passbands, teff, logg, feh)
    assert abs(m["G"] - m["Ks"]) < 0.05
    assert abs(m["J"] - m["Ks"]) < 0.05
    assert abs(m["BP"] - m["RP"]) < 0.05
    assert abs(m["W1"] - m["W4"]) < 0.05


def test_sun_like_colours(grid: ModelGrid, passbands: Passbands) -> None:
    # the Sun: M_G 4.67, M_Ks 3.27 -> G-Ks 1.40; J-Ks ~ 0.36; BP-RP 0.82
    # (Casagrande & VandenBerg 2018)
    m = _mags(grid, passbands, 5750.0, 4.5, 0.0)
    assert 1.30 < m["G"] - m["Ks"] < 1.50
    assert 0.30 < m["J"] - m["Ks"] < 0.45
    assert 0.75 < m["BP"] - m["RP"] < 0.90


def test_vectorised_integration_matches_pyphot_on_fine_grid(
    grid: ModelGrid, passbands: Passbands, shared_data: Path
) -> None:
    with np.load(shared_data / "ck04" / "ck04_subset.npz") as data:
        native = data["wavelength_angstrom"].astype(float)
        models = data["flux_flam"][1, [0, 9, 24, 57], 9].astype(float)  # 3500..30000 K, log g 4.5
        teffs = data["teff_k"][[0, 9, 24, 57]].astype(float)
    ours = band_fluxes(passbands, interpolate(grid, teffs, np.full(4, 4.5), np.zeros(4)).flux)
    for k, name in enumerate(passbands.pyphot_names):
        fw = u.Quantity(get_filter(name).wavelength).to_value(u.AA)
        fine = np.unique(np.concatenate([np.geomspace(fw.min(), fw.max(), 3000), fw]))
        for i in range(4):
            spec = resample_loglog(native, models[i], fine)
            direct = direct_band_flux(name, fine, spec)
            assert abs(2.5 * np.log10(ours[i, k] / direct)) < 0.01, (name, teffs[i])


def test_ab_vega_offsets_and_jansky(passbands: Passbands) -> None:
    offsets = dict(zip(passbands.names, passbands.ab_minus_vega, strict=True))
    # literature m_AB - m_Vega: 2MASS (Blanton & Roweis 2007), WISE (Jarrett et al. 2011)
    literature = {
        "J": 0.91,
        "H": 1.39,
        "Ks": 1.85,
        "W1": 2.699,
        "W2": 3.339,
        "W3": 5.174,
        "W4": 6.620,
        "G": 0.11,
    }
    for band, value in literature.items():
        assert offsets[band] == pytest.approx(value, abs=0.05), band
    np.testing.assert_allclose(
        passbands.vega_zero_jy, AB_ZERO_JY * 10 ** (-0.4 * passbands.ab_minus_vega), rtol=1e-3
    )


def test_error_model_floor_and_limit() -> None:
    limit, floor = np.array([15.0]), np.array([0.02])
    bright, at_limit = (
        mag_error(np.array([[5.0]]), limit, floor),
        mag_error(np.array([[15.0]]), limit, floor),
    )
    assert bright[0, 0] == pytest.approx(0.02, rel=1e-3)
    assert at_limit[0, 0] == pytest.approx(np.hypot(0.02, 1.0857 / 5), rel=1e-3)
    assert mag_error(np.array([[14.0]]), limit, floor)[0, 0] < at_limit[0, 0]


def _bands(rates: tuple[float, float], limit: float = 30.0) -> dict[str, BandConfig]:
    return {
        "A": BandConfig(
            pyphot_name="2MASS_J", mag_limit=limit, error_floor=0.02, missing_rate=rates[0]
        ),
        "B": BandConfig(
            pyphot_name="2MASS_H", mag_limit=limit, error_floor=0.02, missing_rate=rates[1]
        ),
    }


def test_missing_rates_and_noise(grid: ModelGrid) -> None:
    bands = _bands((0.1, 0.5))
    pb = load_passbands(bands, grid.wavelength)
    n = 20000
    mag_true = np.full((n, 2), 10.0)
    obs = observe(mag_true, pb, bands, rng=np.random.default_rng(1))
    for k, rate in enumerate((0.1, 0.5)):
        frac = obs.missing[:, k].mean()
        assert abs(frac - rate) < 4 * np.sqrt(rate * (1 - rate) / n)
        assert np.all(np.isnan(obs.mag[obs.missing[:, k], k]))
        assert np.all(np.isfinite(obs.mag[~obs.missing[:, k], k]))
        resid = obs.mag[~obs.missing[:, k], k] - 10.0
        assert np.std(resid) == pytest.approx(0.02, rel=0.05)  # floor-dominated scatter
    ok = ~obs.missing
    np.testing.assert_allclose(
        obs.flux_jy[ok], AB_ZERO_JY * 10 ** (-0.4 * obs.mag_ab[ok]), rtol=1e-10
    )


def test_fainter_than_limit_is_missing(grid: ModelGrid) -> None:
    bands = _bands((0.0, 0.0), limit=15.0)
    pb = load_passbands(bands, grid.wavelength)
    mag_true = np.repeat(np.array([[12.0, 12.0], [16.0, 16.0]]), 500, axis=0)
    obs = observe(mag_true, pb, bands, rng=np.random.default_rng(2))
    assert obs.missing[:500].mean() == 0.0
    assert obs.missing[500:].mean() > 0.95  # SNR 2: few noise up above the 5-sigma limit
    kept = observe(mag_true, pb, bands, rng=np.random.default_rng(2), drop_below_limit=False)
    assert kept.missing[500:].mean() < 0.08  # only non-positive noisy fluxes (~3%)


def test_unknown_passband_names_close_matches(grid: ModelGrid) -> None:
    bands = {"W1": BandConfig(pyphot_name="WISE_W1", mag_limit=17.0)}
    with pytest.raises(ConfigError, match="WISE_RSR_W1"):
        load_passbands(bands, grid.wavelength)
