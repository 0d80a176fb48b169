"""Dust: shell energy conservation, mid-infrared excess, interstellar reddening, cool stars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skysift.errors import ConfigError
from skysift.sed.config import SedConfig
from skysift.sed.cool import SIGMA_SB, extend_cool
from skysift.sed.dust import apply_shell, check_curve_covers, dust_emission, extinction_curve
from skysift.sed.grid import ModelGrid, interpolate, load_grid
from skysift.sed.photometry import Passbands, band_fluxes, flux_to_mag, load_passbands


@pytest.fixture(scope="module")
def grid(shared_data: Path) -> ModelGrid:
    if not (shared_data / "ck04" / "ck04_subset.npz").is_file():
        pytest.skip("ck04 grid absent")
    return load_grid(shared_data / "ck04")


@pytest.fixture(scope="module")
def passbands(grid: ModelGrid) -> Passbands:
    return load_passbands(SedConfig().bands, grid.wavelength)


def _star(grid: ModelGrid, teff: float = 6000.0) -> np.ndarray:
    return interpolate(grid, np.array([teff]), np.array([4.5]), np.array([0.0])).flux


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("temp", [300.0, 800.0, 1500.0])
def test_modified_blackbody_carries_the_absorbed_power(beta: float, temp: float) -> None:
    dense = np.geomspace(1.0e3, 1.0e8, 200_000)  # 0.1 um - 1 cm
    emitted = dust_emission(dense, np.array([2.5e-9]), np.array([temp]), beta)
    assert np.trapezoid(emitted[0], dense) == pytest.approx(2.5e-9, rel=0.01)


@pytest.mark.parametrize(("tau", "temp"), [(0.1, 300.0), (1.0, 1000.0), (5.0, 1500.0)])
def test_shell_conserves_energy(grid: ModelGrid, tau: float, temp: float) -> None:
    star = _star(grid)
    out, absorbed = apply_shell(grid.wavelength, star, np.array([tau]), np.array([temp]), 1.0)
    total_in = np.trapezoid(star[0], grid.wavelength)
    assert 0 < absorbed[0] < total_in
    # on the model's own 0.009-200 um grid: absorbed = re-emitted within 1%
    emitted = np.trapezoid(
        out[0] - star[0] * np.exp(-tau * (grid.wavelength / 5500) ** -1.0), grid.wavelength
    )
    assert emitted == pytest.approx(absorbed[0], rel=0.01)
    assert np.trapezoid(out[0], grid.wavelength) == pytest.approx(total_in, rel=0.01)


def test_dust_raises_mid_ir_and_spares_optical(grid: ModelGrid, passbands: Passbands) -> None:
    star = _star(grid)
    dusty, _ = apply_shell(grid.wavelength, star, np.array([0.05]), np.array([500.0]), 1.0)
    f0, f1 = band_fluxes(passbands, star)[0], band_fluxes(passbands, dusty)[0]
    ratio = dict(zip(passbands.names, f1 / f0, strict=True))
    assert ratio["W3"] > 5 and ratio["W4"] > 10
    for band in ("G", "BP", "RP", "J"):
        assert abs(2.5 * np.log10(ratio[band])) < 0.1, band
    assert ratio["W4"] > ratio["W3"] > ratio["W2"] > ratio["Ks"]


def test_extinction_reddens_as_the_curve_predicts(grid: ModelGrid, passbands: Passbands) -> None:
    star = _star(grid)
    curve = extinction_curve(grid.wavelength, model="G23", r_v=3.1)
    names = list(passbands.names)
    colours = []
    for av in (0.0, 1.0, 2.0, 4.0):
        m = flux_to_mag(
            band_fluxes(passbands, star * 10 ** (-0.4 * av * curve)), passbands.vega_zero_flam
        )[0]
        colours.append(m[names.index("G")] - m[names.index("Ks")])
    excess = np.diff(colours)  # per 1, 1, 2 mag of A_V
    assert np.all(excess > 0)
    slope = excess[0]
    # the curve at the bands' pivot wavelengths: E(G-Ks)/A_V ~ A(G)/A_V - A(Ks)/A_V
    pivots = passbands.pivot_um[[names.index("G"), names.index("Ks")]]
    predicted = np.subtract(*extinction_curve(pivots * 1e4, model="G23", r_v=3.1))
    assert slope == pytest.approx(predicted, rel=0.08)
    # the broad G band's effective wavelength moves red as A_V grows: E(G-Ks)/A_V falls
    assert 0.75 * slope < excess[2] / 2 < slope


def test_extinction_curve_must_cover_the_bands() -> None:
    with pytest.raises(ConfigError, match="G23"):
        check_curve_covers("F99", 0.33, 28.0)
    with pytest.raises(ConfigError, match="not an R_V-dependent curve"):
        extinction_curve(np.array([5500.0]), model="NOPE")


def test_cool_extension_energy_and_colours(grid: ModelGrid, passbands: Passbands) -> None:
    anchor = _star(grid, 3500.0)
    teff = np.array([3400.0, 3000.0, 2500.0])
    cool = extend_cool(grid.wavelength, np.repeat(anchor, 3, axis=0), teff, depth=0.5)
    np.testing.assert_allclose(
        np.trapezoid(cool, grid.wavelength, axis=1), SIGMA_SB * teff**4, rtol=1e-10
    )
    names = list(passbands.names)
    m = flux_to_mag(band_fluxes(passbands, np.vstack([anchor, cool])), passbands.vega_zero_flam)
    g_ks = m[:, names.index("G")] - m[:, names.index("Ks")]
    assert np.all(np.diff(g_ks) > 0)  # redder as it cools
    assert 4.5 < g_ks[-1] < 7.5  # late-M dwarfs: G-Ks ~ 5-6
