"""Bayesian SED fitting of real photometry against the synthetic SEDs, with a population prior
learnt from the catalogue itself (empirical Bayes).

Each synthetic SED (noise-free Vega magnitudes ``mag_true_<b>``) is a template. For a star with
magnitudes d_b and errors s_b (mag), the likelihood of template t is exp(-chi2/2) with

    chi2_t = sum_b w_b (d_b - m_tb - mu_t)^2,   w_b = 1 / (s_b^2 + systematic^2),

where the free offset mu_t (distance modulus and radius, mag) is fitted analytically, missing
bands have w_b = 0, and ``systematic`` (mag) stands for the model atmospheres' own errors. Only
each star's ``top_k`` most likely templates are kept (the rest weigh < e^-k of them).

Prior: the synthetic population is drawn broadly (flat in A_V, log-uniform in Teff), while a
real catalogue is not (most field stars have little extinction). With ``prior="population"`` the
templates are grouped into cells (log10 Teff bins x A_V bins x dust shell or not) and the cell
weights are fitted to the catalogue by expectation-maximisation (the weights that maximise the
marginal likelihood of all stars' photometry), uniform within a cell. No label is used. With
``prior="flat"`` every template weighs the same (the population as drawn).

Outputs per star: posterior mean of log10 Teff (as K) and its spread, posterior mean A_V (mag),
probability of a dust shell, minimum chi2 and the number of bands used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TemplateBank:
    """Synthetic SEDs as templates.

    Attributes
    ----------
    mags
        Noise-free Vega magnitudes, shape (m, B).
    log_teff
        log10 Teff (K), (m,).
    av
        Interstellar extinction A_V (mag), (m,).
    has_dust
        Circumstellar dust shell, (m,).
    """

    mags: NDArray[np.float64]
    log_teff: NDArray[np.float64]
    av: NDArray[np.float64]
    has_dust: NDArray[np.bool_]

    def __post_init__(self) -> None:
        m = self.mags.shape[0]
        if self.mags.ndim != 2 or not (
            self.log_teff.shape == self.av.shape == self.has_dust.shape == (m,)
        ):
            raise ValueError("template bank arrays disagree in shape")
        if not np.isfinite(self.mags).all():
            raise ValueError("template magnitudes must be finite")


@dataclass(frozen=True)
class Likelihoods:
    """Each star's most likely templates.

    Attributes
    ----------
    index
        Template indices, (n, k); -1 for stars without enough bands.
    log_like
        log-likelihood relative to the star's best template, (n, k), <= 0; -inf where unused.
    chi2_min
        Smallest chi2 (NaN: star not fitted), (n,).
    n_bands
        Bands used per star, (n,).
    """

    index: NDArray[np.int64]
    log_like: NDArray[np.float64]
    chi2_min: NDArray[np.float64]
    n_bands: NDArray[np.int64]

    @property
    def fitted(self) -> NDArray[np.bool_]:
        """Stars with a fit, (n,)."""
        return np.asarray(np.isfinite(self.chi2_min))


def band_weights(
    mags: NDArray[np.floating],
    errors: NDArray[np.floating] | None,
    *,
    systematic_mag: float,
    default_error_mag: float,
) -> NDArray[np.float64]:
    """Inverse variances (mag^-2) per star and band, 0 where the magnitude is missing; a missing
    or non-positive error is ``default_error_mag``; ``systematic_mag`` is added in quadrature."""
    mags = np.asarray(mags, np.float64)
    if errors is None:
        err = np.full(mags.shape, default_error_mag)
    else:
        err = np.asarray(errors, np.float64)
        err = np.where(np.isfinite(err) & (err > 0), err, default_error_mag)
    return np.where(np.isfinite(mags), 1.0 / (err**2 + systematic_mag**2), 0.0)


def log_likelihoods(
    mags: NDArray[np.floating],
    weights: NDArray[np.floating],
    bank: TemplateBank,
    *,
    top_k: int = 256,
    min_bands: int = 3,
    chunk_mib: float = 256.0,
) -> Likelihoods:
    """chi2 of every star against every template (free magnitude offset), keeping the ``top_k``
    best per star. Stars with fewer than ``min_bands`` bands are not fitted. Stars go through in
    chunks whose (stars x templates) float64 arrays take about ``chunk_mib`` MiB each.

    Parameters
    ----------
    mags
        Vega magnitudes (n, B), NaN = missing.
    weights
        Inverse variances (n, B) from :func:`band_weights`.
    bank
        Templates in the same B bands.
    """
    w_all = np.asarray(weights, np.float64)
    d_all = np.nan_to_num(np.asarray(mags, np.float64))
    n, n_b = d_all.shape
    if bank.mags.shape[1] != n_b:
        raise ValueError(f"bank has {bank.mags.shape[1]} bands, photometry {n_b}")
    # The free offset makes chi2 blind to a constant per star and per template: centring both
    # keeps the expanded sums below small (less cancellation in float64).
    sw_all = w_all.sum(axis=1, keepdims=True)
    centre = np.divide((w_all * d_all).sum(axis=1, keepdims=True), sw_all, where=sw_all > 0,
                       out=np.zeros_like(sw_all))  # fmt: skip
    d_all = np.where(w_all > 0, d_all - centre, 0.0)
    k = min(top_k, bank.mags.shape[0])
    t = bank.mags - bank.mags.mean(axis=1, keepdims=True)
    tt = t * t
    used = (w_all > 0).sum(axis=1)
    index = np.full((n, k), -1, np.int64)
    log_like = np.full((n, k), -np.inf)
    chi2_min = np.full(n, np.nan)
    rows = np.flatnonzero(used >= min_bands)
    chunk = max(1, int(chunk_mib * 2**20 / (8 * t.shape[0])))
    for start in range(0, rows.size, chunk):
        sel = rows[start : start + chunk]
        d, w = d_all[sel], w_all[sel]
        sw = w.sum(axis=1, keepdims=True)
        wd = w * d
        # sum w (d - t)^2 - (sum w (d - t))^2 / sum w, for every template at once
        resid = (wd * d).sum(axis=1, keepdims=True) - 2.0 * (wd @ t.T) + w @ tt.T
        offset = wd.sum(axis=1, keepdims=True) - w @ t.T
        chi2 = np.maximum(resid - offset * offset / sw, 0.0)
        best = np.argpartition(chi2, k - 1, axis=1)[:, :k] if k < chi2.shape[1] else None
        if best is None:
            best = np.broadcast_to(np.arange(chi2.shape[1]), chi2.shape).copy()
        picked = np.take_along_axis(chi2, best, axis=1)
        low = picked.min(axis=1, keepdims=True)
        index[sel] = best
        log_like[sel] = -0.5 * (picked - low)
        chi2_min[sel] = low[:, 0]
    return Likelihoods(index=index, log_like=log_like, chi2_min=chi2_min, n_bands=used)


def population_cells(
    bank: TemplateBank, *, teff_cells: int, av_cells: int
) -> tuple[NDArray[np.int64], int]:
    """Cell of each template (log10 Teff bin x A_V bin x dust), equal-width bins over the
    bank's ranges; returns (cell per template, number of cells)."""

    def bins(x: NDArray[np.float64], n_bins: int) -> NDArray[np.int64]:
        span = float(np.ptp(x))
        if span == 0.0:
            return np.zeros(x.shape, np.int64)
        return np.clip(((x - x.min()) / span * n_bins).astype(np.int64), 0, n_bins - 1)

    cell = (bins(bank.log_teff, teff_cells) * av_cells + bins(bank.av, av_cells)) * 2
    cell = cell + bank.has_dust.astype(np.int64)
    return cell, teff_cells * av_cells * 2


def _posterior(like: Likelihoods, template_weight: NDArray[np.float64]) -> NDArray[np.float64]:
    """Posterior probability of each kept template, (n, k) (rows of unfitted stars are 0)."""
    safe = np.where(like.index >= 0, like.index, 0)
    prior = np.where(like.index >= 0, template_weight[safe], 0.0)
    p = np.exp(like.log_like) * prior
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total > 0)


@dataclass(frozen=True)
class PopulationPrior:
    """Template weights (sum 1) and how they were found."""

    template_weight: NDArray[np.float64]
    iterations: int
    converged: bool
    mean_av: float
    dust_fraction: float


def fit_population_prior(
    like: Likelihoods,
    bank: TemplateBank,
    *,
    teff_cells: int = 16,
    av_cells: int = 6,
    iterations: int = 50,
    tolerance: float = 1e-4,
    pseudo_count: float = 0.1,
) -> PopulationPrior:
    """Cell weights that maximise the marginal likelihood of the fitted stars (EM), spread
    uniformly over each cell's templates. ``pseudo_count`` stars per occupied cell keep every
    cell possible; stops when no cell weight moves by more than ``tolerance``."""
    cell, n_cells = population_cells(bank, teff_cells=teff_cells, av_cells=av_cells)
    count = np.bincount(cell, minlength=n_cells).astype(np.float64)
    occupied = count > 0
    pi = occupied / occupied.sum()
    # unfitted stars have no kept template (index -1): their posterior rows are 0 and add nothing
    safe = np.where(like.index >= 0, like.index, 0)
    converged = False
    done = 0
    while done < iterations:
        done += 1
        weight = np.where(occupied[cell], pi[cell] / np.maximum(count[cell], 1.0), 0.0)
        p = _posterior(like, weight)
        resp = np.bincount(cell[safe].ravel(), weights=p.ravel(), minlength=n_cells)
        new = np.where(occupied, resp + pseudo_count, 0.0)
        new /= new.sum()
        change = float(np.abs(new - pi).max())
        pi = new
        if change < tolerance:
            converged = True
            break
    weight = np.where(occupied[cell], pi[cell] / np.maximum(count[cell], 1.0), 0.0)
    weight /= weight.sum()
    log.info(
        "population prior: %d EM iterations (%s), mean A_V %.3f mag, dust fraction %.3f",
        done,
        "converged" if converged else "not converged",
        float(weight @ bank.av),
        float(weight @ bank.has_dust),
    )
    return PopulationPrior(
        template_weight=weight,
        iterations=done,
        converged=converged,
        mean_av=float(weight @ bank.av),
        dust_fraction=float(weight @ bank.has_dust),
    )


def flat_prior(bank: TemplateBank) -> PopulationPrior:
    """Every template the same weight: the synthetic population as drawn."""
    m = bank.mags.shape[0]
    return PopulationPrior(
        template_weight=np.full(m, 1.0 / m),
        iterations=0,
        converged=True,
        mean_av=float(bank.av.mean()),
        dust_fraction=float(bank.has_dust.mean()),
    )


def posterior_summary(
    like: Likelihoods, bank: TemplateBank, prior: PopulationPrior
) -> dict[str, NDArray[np.float64]]:
    """Per star: ``teff`` (K, 10^posterior mean of log10 Teff), ``teff_err`` (K, posterior
    spread of log10 Teff times ln(10) Teff), ``av`` (mag, posterior mean), ``p_dust``, ``chi2``
    and ``n_bands``; NaN for stars without a fit."""
    p = _posterior(like, prior.template_weight)
    safe = np.where(like.index >= 0, like.index, 0)
    fitted = like.fitted
    lt = bank.log_teff[safe]
    mean_lt = (p * lt).sum(axis=1)
    var_lt = np.maximum((p * lt * lt).sum(axis=1) - mean_lt**2, 0.0)
    teff = 10.0**mean_lt
    nan = np.full(fitted.shape, np.nan)
    return {
        "teff": np.where(fitted, teff, nan),
        "teff_err": np.where(fitted, np.sqrt(var_lt) * np.log(10.0) * teff, nan),
        "av": np.where(fitted, (p * bank.av[safe]).sum(axis=1), nan),
        "p_dust": np.where(fitted, (p * bank.has_dust[safe]).sum(axis=1), nan),
        "chi2": like.chi2_min,
        "n_bands": like.n_bands.astype(np.float64),
    }
