"""Clustering of embeddings: separated groups recovered, continua not split by HDBSCAN, the
scores, and cluster-derived temperatures."""

from __future__ import annotations

import numpy as np
import pytest

from skysift.sed.analysis_config import ClusterConfig
from skysift.sed.cluster import (
    NOISE,
    NOT_EMBEDDED,
    cluster_log_teff,
    derived_teff,
    fit_gmm,
    fit_hdbscan,
    training_labels,
)
from skysift.sed.meaning import ami, bin_labels, clustering_scores, purity

CENTRES = np.array([[0, 0, 0, 0], [6, 0, 0, 0], [0, 6, 0, 0]], float)


def blobs(n_per: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = np.concatenate([c + 0.5 * rng.standard_normal((n_per, 4)) for c in CENTRES])
    return z, np.repeat(np.arange(len(CENTRES)), n_per)


def test_hdbscan_recovers_well_separated_groups_and_predicts_new_points() -> None:
    z, truth = blobs(150, seed=0)
    config = ClusterConfig(min_cluster_size=30)
    a = fit_hdbscan(z, config, "ae_hdbscan")
    b = fit_hdbscan(z, config, "ae_hdbscan")
    assert a.n_clusters == 3
    assert np.array_equal(a.model.labels_, b.model.labels_)  # exact MST: reproducible
    labels, probabilities = training_labels(a, z)
    assert np.all(probabilities[labels == NOISE] == 0)
    assert ami(labels, truth) > 0.9 and np.mean(labels == NOISE) < 0.1
    new, new_truth = blobs(20, seed=1)
    new_labels, strength = a.assign(np.vstack([new, [[np.nan] * 4]]))
    assert new_labels[-1] == NOT_EMBEDDED and strength[-1] == 0
    assert ami(new_labels[:-1], new_truth) > 0.9
    members = a.memberships(new)
    np.testing.assert_allclose(members.sum(axis=1), 1.0, atol=1e-9)
    assert np.mean(members.argmax(axis=1) == new_labels[:-1]) > 0.9


def test_gmm_bic_picks_the_number_of_groups() -> None:
    z, truth = blobs(150, seed=2)
    gmm = fit_gmm(z, ClusterConfig(gmm_max_components=6), "pca_gmm", seed=0)
    assert gmm.n_clusters == 3
    assert min(gmm.info["bic"], key=gmm.info["bic"].get) == 3
    labels, prob = gmm.assign(z)
    assert ami(labels, truth) > 0.95 and prob.min() > 0.5


def test_hdbscan_does_not_split_a_continuum_but_a_gmm_does() -> None:
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 10, 1500)  # a temperature-like sequence without gaps
    z = np.stack([t, 0.2 * rng.standard_normal(t.size)], axis=1)
    hdb = fit_hdbscan(z, ClusterConfig(min_cluster_size=50), "ae_hdbscan")
    gmm = fit_gmm(z, ClusterConfig(gmm_max_components=8), "ae_gmm", seed=0)
    edges = [0.0, 2.5, 5.0, 7.5, 10.0]
    gmm_labels, _ = gmm.assign(z)
    hdb_labels, _ = training_labels(hdb, z)
    # HDBSCAN keeps chance density bumps and calls much of the sequence noise ...
    assert np.mean(hdb_labels == NOISE) > 0.3
    # ... while the mixture tiles it, following the binned parameter far better
    assert gmm.n_clusters >= 3 and np.mean(gmm_labels == NOISE) == 0
    assert ami(gmm_labels, bin_labels(t, edges)) > ami(hdb_labels, bin_labels(t, edges)) + 0.2


def test_purity_and_ami_on_known_labellings() -> None:
    truth = np.repeat([0, 1, 2], 100)
    assert purity(truth, truth) == 1.0 and ami(truth, truth) == pytest.approx(1.0)
    shuffled = np.random.default_rng(0).permutation(truth)
    assert abs(ami(shuffled, truth)) < 0.05
    assert purity(np.zeros(300, int), truth) == pytest.approx(1 / 3)
    labels = truth.copy()
    labels[:50] = NOISE
    labels[-10:] = NOT_EMBEDDED
    scores = clustering_scores(labels, {"teff": truth})
    assert scores["n_objects"] == 290 and scores["n_clusters"] == 3
    assert scores["noise_fraction"] == pytest.approx(50 / 290)
    assert scores["ami_teff_clustered"] == pytest.approx(1.0)
    assert scores["ami_teff"] < 1.0


def test_bins_and_cluster_derived_temperature() -> None:
    assert bin_labels(
        np.array([2000.0, 3000.0, 4500.0, 9e4, np.nan]), [2500, 4000, 6000]
    ).tolist() == [
        0,
        0,
        1,
        1,
        -1,
    ]
    teff = np.array([3000.0, 3000.0, 30000.0, 30000.0])
    hard = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], float)
    log_t = cluster_log_teff(hard, teff)
    np.testing.assert_allclose(10**log_t, [3000, 30000])
    half = derived_teff(np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 0.0]]), log_t)
    np.testing.assert_allclose(half[:2], [np.sqrt(3000 * 30000), 3000])
    assert np.isnan(half[2])


def test_missing_band_pattern_codes() -> None:
    from astropy.table import Table

    from skysift.sed.products import missing_pattern

    table = Table(
        {
            "mag_G": [1.0, 2.0, 3.0],
            "mask_G": [False, True, False],
            "mask_W3": [False, True, True],
        }
    )
    assert missing_pattern(table).tolist() == [0, 3, 2]
