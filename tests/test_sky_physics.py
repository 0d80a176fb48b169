"""Physics of the sky simulator: flux scale, beam shape and orientation, noise, source counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.modeling import fitting, models
from astropy.stats import sigma_clipped_stats

from skysift.sky.config import SimulationConfig
from skysift.sky.geometry import make_wcs, rms_at, sky_to_pixel_covariance
from skysift.sky.render import sample_power_law
from skysift.sky.simulate import simulate_sky

NONE = {"count": 0}


def _config(**sections: dict) -> SimulationConfig:
    base: dict = {
        "geometry": {"nx": 256, "ny": 256, "pixel_scale_arcsec": 2.0},
        "beam": {"bmaj_arcsec": 12.0, "bmin_arcsec": 12.0, "bpa_deg": 0.0},
        "noise": {"rms_jy": 1e-4, "edge_to_centre_ratio": 1.0, "blank_margin_pix": 0},
        "compact": NONE,
        "extended": NONE,
        "extended_multi": NONE,
        "diffuse": NONE,
        "spurious": NONE,
    }
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    return SimulationConfig.model_validate(base)


def _one_bright_compact(flux: float = 0.1, **sections: dict) -> SimulationConfig:
    return _config(
        compact={"count": 1, "flux_min_jy": flux, "flux_max_jy": flux * (1 + 1e-9)}, **sections
    )


def test_compact_source_flux_and_peak_are_recovered() -> None:
    flux = 0.05
    sky = simulate_sky(_one_bright_compact(flux), seed=1, name="t")
    row = sky.truth[0]
    assert row["class"] == "compact"
    assert row["int_flux"] == pytest.approx(flux, rel=1e-6)
    assert row["peak_flux"] == pytest.approx(flux, rel=1e-6)  # point source: peak = S
    beam_area = sky.radio_map.beam_area_pixels
    # Noiseless model: sum / beam area = S to 0.5% (pixel sampling only).
    assert sky.model.sum(dtype=np.float64) / beam_area == pytest.approx(flux, rel=5e-3)
    # The map, aperture of radius 3 beam FWHM (18 px) around the source: within 5%.
    yy, xx = np.mgrid[: sky.model.shape[0], : sky.model.shape[1]]
    aperture = np.hypot(xx - row["x"], yy - row["y"]) <= 18.0
    measured = np.nansum(sky.radio_map.data[aperture], dtype=np.float64) / beam_area
    assert measured == pytest.approx(flux, rel=0.05)
    # Sampled peak is within 3% of S (sub-pixel offset only).
    assert np.nanmax(sky.radio_map.data) == pytest.approx(flux, rel=0.03)


def test_noise_rms_is_the_configured_rms() -> None:
    rms = 2.5e-4
    sky = simulate_sky(_config(noise={"rms_jy": rms}), seed=2, name="t")
    _, _, std = sigma_clipped_stats(sky.radio_map.data, sigma=3.0)
    assert std == pytest.approx(rms, rel=0.05)
    assert np.nanmax(np.abs(sky.model)) == 0.0  # really source-free


def test_rms_rises_towards_the_edges_like_a_primary_beam() -> None:
    cfg = _config(
        geometry={"nx": 384, "ny": 384},
        noise={"rms_jy": 1e-4, "edge_to_centre_ratio": 3.0, "blank_margin_pix": 0},
    )
    sky = simulate_sky(cfg, seed=3, name="t")
    assert sky.rms[191, 191] == pytest.approx(1e-4, rel=0.01)
    assert rms_at(cfg.noise, (384, 384), 191.5, 0.0) == pytest.approx(3e-4, rel=0.01)
    normalised = sky.radio_map.data / sky.rms
    assert np.std(normalised) == pytest.approx(1.0, rel=0.05)
    centre = sky.radio_map.data[160:224, 160:224]
    edge = sky.radio_map.data[:, :24]
    assert np.std(edge) / np.std(centre) > 2.0


def _fit_gaussian(image: np.ndarray, x0: float, y0: float) -> tuple[float, float, float]:
    """Fitted (major FWHM px, minor FWHM px, major-axis angle from +x in deg, 0-180)."""
    half = 15
    iy, ix = round(y0), round(x0)
    cut = image[iy - half : iy + half + 1, ix - half : ix + half + 1]
    yy, xx = np.mgrid[iy - half : iy + half + 1, ix - half : ix + half + 1]
    init = models.Gaussian2D(cut.max(), x0, y0, 2.0, 2.0, 0.3)
    fit = fitting.LevMarLSQFitter()(init, xx, yy, cut)
    sx, sy, theta = abs(fit.x_stddev.value), abs(fit.y_stddev.value), fit.theta.value
    if sy > sx:
        sx, sy, theta = sy, sx, theta + math.pi / 2
    f = 2.0 * math.sqrt(2.0 * math.log(2.0))
    return sx * f, sy * f, math.degrees(theta) % 180.0


@pytest.mark.parametrize("bpa", [0.0, 30.0, -60.0])
def test_beam_fwhm_and_position_angle_on_the_map(bpa: float) -> None:
    bmaj, bmin, pix = 14.0, 8.0, 2.0
    cfg = _one_bright_compact(1.0, beam={"bmaj_arcsec": bmaj, "bmin_arcsec": bmin, "bpa_deg": bpa})
    sky = simulate_sky(cfg, seed=4, name="t")
    row = sky.truth[0]
    major, minor, angle = _fit_gaussian(sky.radio_map.data, row["x"], row["y"])
    assert major * pix == pytest.approx(bmaj, rel=0.03)
    assert minor * pix == pytest.approx(bmin, rel=0.03)
    # PA east of north; north = +y, east = -x: the major axis is at 90 + PA from +x.
    expected = (90.0 + bpa) % 180.0
    diff = (angle - expected + 90.0) % 180.0 - 90.0
    assert abs(diff) < 1.5


def test_pixel_covariance_follows_the_wcs_handedness() -> None:
    cfg = _config()
    wcs = make_wcs(cfg.geometry)
    cov = sky_to_pixel_covariance(wcs, 20.0, 10.0, 45.0)
    # PA 45 deg: major axis towards north-east = up-left: x and y anti-correlated.
    assert cov[0, 1] < 0
    assert cov[0, 0] == pytest.approx(cov[1, 1])


def test_noise_is_correlated_on_the_beam_scale() -> None:
    cfg = _config(geometry={"nx": 512, "ny": 512})
    sky = simulate_sky(cfg, seed=5, name="t")
    noise = sky.radio_map.data.astype(np.float64)
    noise -= noise.mean()
    spectrum = np.fft.rfft2(noise)
    acf = np.fft.irfft2(np.abs(spectrum) ** 2, s=noise.shape)
    acf /= acf[0, 0]
    lags = np.arange(0, 7)
    profile = 0.5 * (acf[0, lags] + acf[lags, 0])
    # White noise convolved with the beam: the ACF is a Gaussian with sigma sqrt(2) sigma_beam.
    sigma_beam = 12.0 / 2.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    expected = np.exp(-(lags**2) / (4.0 * sigma_beam**2))
    np.testing.assert_allclose(profile, expected, atol=0.03)
    fitted_sigma = math.sqrt(-(3.0**2) / (2.0 * math.log(profile[3])))
    assert fitted_sigma == pytest.approx(math.sqrt(2.0) * sigma_beam, rel=0.05)
    assert profile[1] > 0.9  # neighbouring pixels are far from independent


def _fit_slope(values: np.ndarray, lo: float, hi: float) -> float:
    edges = np.geomspace(lo, hi, 25)
    counts, _ = np.histogram(values, bins=edges)
    centres = np.sqrt(edges[1:] * edges[:-1])
    density = counts / np.diff(edges)
    good = counts > 20
    slope, _ = np.polyfit(np.log(centres[good]), np.log(density[good]), 1)
    return float(-slope)


@pytest.mark.parametrize("slope", [1.0, 1.8, 2.5])
def test_power_law_sampler_reproduces_slope_and_bounds(slope: float) -> None:
    rng = np.random.default_rng(7)
    lo, hi = 1e-5, 1e-1
    values = sample_power_law(rng, 400_000, flux_min=lo, flux_max=hi, slope=slope)
    assert values.min() >= lo
    assert values.max() <= hi
    assert values.min() < lo * 1.001
    assert _fit_slope(values, lo, hi) == pytest.approx(slope, abs=0.03)


def test_power_law_sampler_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="flux_min < flux_max"):
        sample_power_law(np.random.default_rng(0), 3, flux_min=1.0, flux_max=0.5, slope=2.0)


def test_model_conserves_the_integrated_flux_of_all_populations() -> None:
    cfg = _config(
        geometry={"nx": 512, "ny": 512},
        noise={"blank_margin_pix": 140},
        compact={"count": 20},
        extended={"count": 8, "size_max_arcsec": 30.0},
        extended_multi={"count": 3, "las_max_arcsec": 80.0, "las_min_arcsec": 60.0},
        diffuse={"count": 1, "size_max_arcsec": 150.0},
    )
    sky = simulate_sky(cfg, seed=8, name="t")
    total = float(np.sum(sky.truth["int_flux"]))
    measured = sky.model.sum(dtype=np.float64) / sky.radio_map.beam_area_pixels
    assert measured == pytest.approx(total, rel=0.01)
