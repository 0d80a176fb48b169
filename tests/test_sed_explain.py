"""Integrated Gradients of cluster membership: completeness, masking, the driving features."""

from __future__ import annotations

import numpy as np

from skysift.sed.analysis_config import ExplainConfig
from skysift.sed.explain import (
    explain_clusters,
    integrated_gradients,
    mid_ir_features,
    train_classifier,
)

FEATURE_BANDS = [("BP",), ("J",), ("Ks",), ("W3",), ("W4",)]


def toy_clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three clusters: two told apart by the optical-IR features, one by a W3/W4 excess."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = 0.3 * rng.standard_normal((n, 5)).astype(np.float32)
    x[labels == 0, :3] += 1.5
    x[labels == 1, :3] -= 1.5
    x[labels == 2, 3:] += 2.5  # "dust": mid-IR excess only
    mask = rng.random((n, 5)) > 0.1
    return np.where(mask, x, 0).astype(np.float32), mask, labels


def trained(seed: int = 0):
    x, mask, labels = toy_clusters(900, seed)
    config = ExplainConfig(hidden=[32], epochs=40, n_steps=64, per_cluster=60)
    result = train_classifier(x, mask, labels, config=config, seed=seed)
    return result, x, mask, labels, config


def test_attributions_sum_to_the_probability_gain_and_skip_missing_bands() -> None:
    result, x, mask, labels, _ = trained()
    assert result.val_accuracy > 0.95
    attr, delta, gain = integrated_gradients(
        result.model, x[:80], mask[:80], labels[:80], n_steps=64
    )
    # captum's completeness: sum_i attr_i = f(x) - f(baseline), up to the reported delta
    np.testing.assert_allclose(attr.sum(axis=1), gain, atol=2e-3)
    np.testing.assert_allclose(attr.sum(axis=1) - gain, delta, atol=1e-5)
    assert np.abs(delta).max() < 2e-3
    assert np.all(attr[~mask[:80]] == 0.0)  # a missing band gets no attribution
    assert np.abs(gain).max() > 0.3  # non-trivial: the members are far from the baseline


def test_the_mid_ir_cluster_is_driven_by_mid_ir_features() -> None:
    result, x, mask, labels, config = trained()
    rows, mean_attr, mean_abs = explain_clusters(
        result.model, x, mask, labels, feature_bands=FEATURE_BANDS, config=config, seed=0
    )
    share = {r["cluster"]: r["mid_ir_share"] for r in rows}
    assert share[2] > 0.6
    assert share[0] < 0.4 and share[1] < 0.4
    assert mean_attr.shape == mean_abs.shape == (3, 5)
    assert max(r["max_abs_delta"] for r in rows) < 2e-3
    assert mid_ir_features(FEATURE_BANDS, ["W3", "W4"]).tolist() == [False] * 3 + [True] * 2
    assert mid_ir_features([("Ks", "W3"), ("G", "J")], ["W3"]).tolist() == [True, False]


def test_classifier_training_is_deterministic() -> None:
    a, *_ = trained(seed=1)
    b, *_ = trained(seed=1)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())
