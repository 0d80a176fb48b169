"""Background and rms maps on a map simulated here: known noise, a gradient and sources."""

from __future__ import annotations

import numpy as np
import pytest

from skysift.data.background import box_size_pixels, estimate_background

RMS = 1e-4  # Jy/beam
N = 480
BEAM_PX = 3.0  # beam FWHM in pixels (6" beam on 2" pixels)


def simulated_map(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise + linear gradient + bright Gaussian sources; returns data, background, source mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    background = 2e-4 + 6e-4 * xx / N - 2e-4 * yy / N  # Jy/beam, 8 rms across the map
    data = background + rng.normal(0.0, RMS, (N, N))
    source_mask = np.zeros((N, N), dtype=bool)
    sigma = BEAM_PX / 2.3548
    for _ in range(25):
        x0, y0 = rng.uniform(20, N - 20, 2)
        peak = rng.uniform(20, 500) * RMS
        r2 = (xx - x0) ** 2 + (yy - y0) ** 2
        data += peak * np.exp(-r2 / (2 * sigma**2))
        source_mask |= r2 < (6 * BEAM_PX) ** 2
    return data.astype(np.float32), background, source_mask


def test_rms_and_background_recovered() -> None:
    data, background, sources = simulated_map()
    box = box_size_pixels(20.0, bmaj_arcsec=6.0, pixel_scale_arcsec=2.0)
    assert box == 60
    maps = estimate_background(data, box_pixels=box)
    assert maps.method == "mesh"
    assert maps.rms.dtype == np.float32 and maps.background.dtype == np.float32
    away = ~sources
    rel = maps.rms[away] / RMS - 1.0
    # a box also holds the gradient's spread across it (a uniform spread of width g * box),
    # which a mesh estimator cannot separate from noise: it adds this much to the rms
    spread = 6e-4 * box / N
    expected_bias = np.sqrt(1.0 + spread**2 / 12.0 / RMS**2) - 1.0  # 2.3%
    assert float(np.median(rel)) == pytest.approx(expected_bias, abs=0.01)
    assert float(np.percentile(np.abs(rel), 95)) < 0.05
    # the background follows the gradient (8 rms end to end) to a small fraction of the rms
    # more than one box from the edges; the outermost half box is extrapolated by the mesh
    # interpolation and may miss the gradient by up to ~1 rms there
    err = np.abs(maps.background - background) / RMS
    inner = np.zeros_like(sources)
    inner[box:-box, box:-box] = True
    assert float(np.percentile(err[away & inner], 95)) < 0.15
    assert float(np.median(err[away & inner])) < 0.04
    assert float(err[away].max()) < 1.2
    # the slope along x is recovered between two interior columns 240 px apart
    left = float(np.median(maps.background[box:-box, 120]))
    right = float(np.median(maps.background[box:-box, 360]))
    assert right - left == pytest.approx(6e-4 * 240 / N, rel=0.05)


def test_nan_coverage_kept_and_ignored() -> None:
    data, _, sources = simulated_map(seed=11)
    data[:, :100] = np.nan  # blank strip
    data[:40, :] = np.nan
    maps = estimate_background(data, box_pixels=60)
    blank = np.isnan(data)
    assert np.isnan(maps.rms[blank]).all() and np.isnan(maps.background[blank]).all()
    good = ~blank & ~sources
    assert np.isfinite(maps.rms[good]).all()
    assert float(np.median(maps.rms[good])) == pytest.approx(RMS, rel=0.03)


def test_sextractor_estimator_and_small_map() -> None:
    data, background, sources = simulated_map(seed=3)
    maps = estimate_background(data, box_pixels=60, estimator="sextractor")
    err = np.abs(maps.background - background)[~sources] / RMS
    assert float(np.median(err)) < 0.2
    small = estimate_background(data[:20, :20], box_pixels=60)
    assert small.method == "global"
    assert float(small.median_rms) == pytest.approx(RMS, rel=0.2)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="filter_size must be a positive odd"):
        estimate_background(np.zeros((50, 50)), box_pixels=10, filter_size=2)
    with pytest.raises(ValueError, match="no finite pixel"):
        estimate_background(np.full((50, 50), np.nan), box_pixels=10)
