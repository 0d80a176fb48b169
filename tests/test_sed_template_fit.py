"""Template fit of photometry against synthetic SEDs, and the population prior learnt by EM."""

from __future__ import annotations

import numpy as np
import pytest

from skysift.sed.template_fit import (
    TemplateBank,
    band_weights,
    fit_population_prior,
    flat_prior,
    log_likelihoods,
    population_cells,
    posterior_summary,
)

#: A toy photometric system: magnitude = slope * log10(Teff) + reddening * A_V per band, so that
#: Teff and A_V are partly degenerate as in broadband colours (hotter and redder ~ cooler).
SLOPE = np.array([-10.0, -7.5, -5.0, -3.0, -2.0])
REDDENING = np.array([1.0, 0.8, 0.6, 0.3, 0.1])


def toy_mags(log_teff: np.ndarray, av: np.ndarray) -> np.ndarray:
    return log_teff[:, None] * SLOPE + av[:, None] * REDDENING


def toy_bank(rng: np.random.Generator, m: int = 4000) -> TemplateBank:
    log_teff = rng.uniform(np.log10(3500), np.log10(10000), m)
    av = rng.uniform(0.0, 3.0, m)  # drawn flat, as sed-synth does
    return TemplateBank(
        mags=toy_mags(log_teff, av),
        log_teff=log_teff,
        av=av,
        has_dust=np.zeros(m, bool),
    )


def toy_stars(
    rng: np.random.Generator, n: int, av_scale: float, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stars with A_V ~ exponential(av_scale), a random distance offset and Gaussian errors."""
    log_teff = rng.uniform(np.log10(4000), np.log10(8000), n)
    av = np.minimum(rng.exponential(av_scale, n), 3.0)
    mags = toy_mags(log_teff, av) + rng.uniform(5.0, 15.0, (n, 1))
    mags = mags + rng.normal(0.0, sigma, mags.shape)
    return mags, 10.0**log_teff, av


def test_exact_template_has_zero_chi2_whatever_the_distance() -> None:
    rng = np.random.default_rng(0)
    bank = toy_bank(rng, 500)
    mags = bank.mags[[7, 42]] + np.array([[3.0], [11.5]])  # the same SEDs, farther away
    w = band_weights(mags, None, systematic_mag=0.0, default_error_mag=0.05)
    like = log_likelihoods(mags, w, bank, top_k=5)
    np.testing.assert_allclose(like.chi2_min, 0.0, atol=1e-6)
    assert like.index[0, np.argmax(like.log_like[0])] == 7
    assert like.index[1, np.argmax(like.log_like[1])] == 42


def test_band_weights_defaults_systematics_and_missing() -> None:
    mags = np.array([[10.0, np.nan, 12.0]])
    errors = np.array([[0.03, 0.02, np.nan]])
    w = band_weights(mags, errors, systematic_mag=0.04, default_error_mag=0.1)
    np.testing.assert_allclose(w[0], [1 / (0.03**2 + 0.04**2), 0.0, 1 / (0.1**2 + 0.04**2)])


def test_missing_bands_and_too_few_bands() -> None:
    rng = np.random.default_rng(1)
    bank = toy_bank(rng)
    mags, teff, _ = toy_stars(rng, 200, 0.3, 0.01)
    mags[:100, 1] = np.nan  # one band missing: still fitted
    mags[150:, 2:] = np.nan  # two bands left: below min_bands
    w = band_weights(mags, None, systematic_mag=0.0, default_error_mag=0.01)
    like = log_likelihoods(mags, w, bank, top_k=64, min_bands=3)
    assert like.fitted[:150].all() and not like.fitted[150:].any()
    assert (like.n_bands[:100] == 4).all() and (like.n_bands[100:150] == 5).all()
    est = posterior_summary(like, bank, flat_prior(bank))
    assert np.isnan(est["teff"][150:]).all()
    assert np.isfinite(est["teff_err"][:150]).all()
    rel = np.abs(est["teff"][:150] / teff[:150] - 1.0)
    assert np.median(rel) < 0.03 and rel.max() < 0.15  # 0.013 and 0.066 here


def test_population_prior_learns_the_extinction_and_sharpens_teff() -> None:
    rng = np.random.default_rng(2)
    bank = toy_bank(rng)
    mags, teff, av = toy_stars(rng, 1500, 0.3, 0.03)
    w = band_weights(mags, None, systematic_mag=0.0, default_error_mag=0.03)
    like = log_likelihoods(mags, w, bank, top_k=256)
    flat = flat_prior(bank)
    learnt = fit_population_prior(like, bank, teff_cells=8, av_cells=12, iterations=200)
    assert learnt.iterations > 1
    assert flat.mean_av == pytest.approx(1.5, abs=0.1)  # as drawn
    assert learnt.mean_av == pytest.approx(av.mean(), abs=0.08)  # the stars' own, from photometry
    err_flat = np.abs(posterior_summary(like, bank, flat)["teff"] - teff)
    fit = posterior_summary(like, bank, learnt)
    err_learnt = np.abs(fit["teff"] - teff)
    assert err_learnt.mean() < 0.9 * err_flat.mean()  # about 0.8 over seeds 0-3
    assert np.corrcoef(fit["av"], av)[0, 1] > 0.5
    np.testing.assert_allclose(learnt.template_weight.sum(), 1.0)


def test_cells_split_teff_av_and_dust() -> None:
    bank = TemplateBank(
        mags=np.zeros((4, 2)),
        log_teff=np.array([3.5, 3.5, 4.5, 4.5]),
        av=np.array([0.0, 0.0, 0.0, 2.0]),
        has_dust=np.array([False, True, False, False]),
    )
    cell, n_cells = population_cells(bank, teff_cells=2, av_cells=2)
    assert n_cells == 8 and len(set(cell.tolist())) == 4


def test_chunking_does_not_change_the_fit() -> None:
    rng = np.random.default_rng(4)
    bank = toy_bank(rng, 600)
    mags, _, _ = toy_stars(rng, 50, 0.3, 0.02)
    w = band_weights(mags, None, systematic_mag=0.0, default_error_mag=0.02)
    whole = log_likelihoods(mags, w, bank, top_k=32)
    tiny = log_likelihoods(mags, w, bank, top_k=32, chunk_mib=0.001)  # one star per chunk
    np.testing.assert_array_equal(np.sort(whole.index, axis=1), np.sort(tiny.index, axis=1))
    np.testing.assert_allclose(whole.chi2_min, tiny.chi2_min, rtol=1e-8)  # matmul rounding only
