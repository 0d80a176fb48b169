"""Protocols: schedule to zero, kNN and linear probe on separable features, fine-tuning,
ImageNet loading path, the benchmark table over fractions and seeds."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from skysift.data.config import ChannelSpec, NormalisationSpec
from skysift.ssl import benchmark
from skysift.ssl.augment import Preprocess
from skysift.ssl.benchmark import load_strategy_backbone, run_task, summarise
from skysift.ssl.config import FinetuneConfig, SSLConfig
from skysift.ssl.datasets import CutoutSet
from skysift.ssl.finetune import finetune, predict
from skysift.ssl.models import build_backbone
from skysift.ssl.probes import (
    classification_metrics,
    knn_predict,
    predict_probe,
    train_linear_probe,
)
from skysift.ssl.training import warmup_cosine

CPU = torch.device("cpu")


def test_schedule_warms_up_and_ends_at_zero() -> None:
    factors = [warmup_cosine(s, 100, 10) for s in range(100)]
    assert factors[0] == pytest.approx(0.01) and factors[10] == pytest.approx(1.0)
    assert factors[-1] == 0.0
    assert all(b <= a for a, b in pairwise(factors[10:]))
    assert warmup_cosine(0, 1, 0) == 1.0  # a one-step budget runs at the peak rate


def blobs(n_per_class: int, *, noise_seed: int, dim: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters (unit noise) around fixed, well separated random centres."""
    centres = np.random.default_rng(0).normal(0, 4, (3, dim))
    labels = np.repeat(np.arange(3), n_per_class)
    noise = np.random.default_rng(noise_seed).normal(0, 1, (labels.size, dim))
    return centres[labels] + noise, labels


def test_knn_and_linear_probe_separate_separable_features() -> None:
    x_train, y_train = blobs(40, noise_seed=1)
    x_test, y_test = blobs(30, noise_seed=2)
    knn = knn_predict(x_train, y_train, x_test, n_classes=3, k=10)
    assert (knn == y_test).mean() >= 0.95
    probe = train_linear_probe(x_train, y_train, n_classes=3, steps=200, lr=0.05, seed=0)
    linear = predict_probe(probe, x_test)
    assert (linear == y_test).mean() >= 0.95
    again = train_linear_probe(x_train, y_train, n_classes=3, steps=200, lr=0.05, seed=0)
    assert torch.equal(probe.linear.weight, again.linear.weight)  # deterministic
    folded = probe.folded()
    with torch.no_grad():
        x = torch.as_tensor(x_test, dtype=torch.float32)
        torch.testing.assert_close(folded(x), probe(x), rtol=1e-4, atol=1e-4)


def test_metrics_of_a_known_prediction() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 0])
    metrics = classification_metrics(truth, predicted, ["a", "b", "c", "d"])
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["recall"]["a"] == pytest.approx(2 / 3) and metrics["recall"]["b"] == 1.0
    assert metrics["recall"]["c"] == 0.0 and np.isnan(metrics["recall"]["d"])
    f1_a, f1_b, f1_c = 2 * (2 / 3 * 2 / 3) / (4 / 3), 2 * (2 / 3) / (5 / 3), 0.0
    assert metrics["macro_f1"] == pytest.approx((f1_a + f1_b + f1_c) / 3)
    assert metrics["confusion"][0] == [2, 1, 0, 0] and metrics["confusion"][2] == [1, 0, 0, 0]


SPEC = NormalisationSpec(channels=[ChannelSpec(method="minmax")])


def toy_task(n: int = 24, size: int = 32, seed: int = 0) -> CutoutSet:
    """Class 1: a bright central source; class 0: noise only. Half train, half test."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    labels = np.arange(n) % 2
    images = rng.normal(0, 1e-4, (n, size, size))
    images[labels == 1] += 5e-3 * np.exp(-(xx**2 + yy**2) / 8.0)
    splits = np.where(np.arange(n) < n // 2, 0, 2)
    return CutoutSet(
        images, labels, splits, [f"s{i}" for i in range(n)], ["noise", "source"], "folder"
    )


def test_finetune_learns_a_toy_task_and_recalibrates_batch_norm() -> None:
    torch.set_num_threads(1)
    data = toy_task()
    train, test = data.split("train"), data.split("test")
    preprocess = Preprocess(SPEC, 16, 0.68)
    backbone, dim = build_backbone("resnet18", 1, seed=0)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    config = FinetuneConfig(max_steps=15, batch_size=8, lr=3e-3, warmup_steps=2)
    model = finetune(
        backbone, dim, preprocess.batch(train.images), train.labels, n_classes=2,
        config=config, seed=0, device=CPU,
    )  # fmt: skip
    predicted = predict(model, preprocess.batch(test.images), batch_size=8, device=CPU)
    assert (predicted == test.labels).mean() >= 0.9
    for key, value in backbone.state_dict().items():  # the caller's backbone is untouched
        assert torch.equal(value, before[key]), key
    trained_bn = model[0].bn1
    assert trained_bn.momentum == 0.1 and not torch.equal(
        trained_bn.running_mean, before["bn1.running_mean"]
    )


def test_imagenet_strategy_loads_a_local_state_dict(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = resnet18(weights=None)  # stands in for the ImageNet file (nothing downloaded)
    torch.save(reference.state_dict(), tmp_path / "resnet18_imagenet.pth")
    config = SSLConfig(normalisation=SPEC, imagenet_weights=str(tmp_path / "resnet18_imagenet.pth"))
    strategy = benchmark.strategies_from(config, {})[0]
    assert strategy.kind == "imagenet" and strategy.path is not None
    backbone, dim, meta = load_strategy_backbone(strategy, config, seed=1)
    assert dim == 512 and meta["load_report"]["adapted"] == ["conv1.weight"]
    state = backbone.state_dict()
    assert torch.equal(
        state["layer2.0.conv1.weight"], reference.state_dict()["layer2.0.conv1.weight"]
    )
    expected = reference.conv1.weight.mean(dim=1, keepdim=True) * 3
    torch.testing.assert_close(state["conv1.weight"], expected)
    skipped = benchmark.strategies_from(SSLConfig(), {})[0]
    assert skipped.kind == "imagenet" and skipped.path is None


def test_benchmark_rows_fractions_seeds_and_tables(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    config = SSLConfig(
        image_pix=16, normalisation=SPEC, label_fractions=[0.5, 1.0], seeds=[0, 1],
        finetune={"max_steps": 3, "batch_size": 4}, probe={"linear_steps": 20},
    )  # fmt: skip
    data = toy_task(n=32)
    strategies = benchmark.strategies_from(config, {})
    result = run_task(config, "toy", data, strategies)
    ok = [r for r in result.rows if r["status"] == "ok"]
    skipped = [r for r in result.rows if r["status"] != "ok"]
    assert len(ok) == 3 * 2 * 2 and len(skipped) == 1
    assert skipped[0]["strategy"] == "imagenet" and "no weights file" in skipped[0]["status"]
    assert {r["n_labels"] for r in ok} == {8, 16}
    assert all(0 <= r["accuracy"] <= 1 and "recall_source" in r for r in ok)
    summary = summarise(result.rows, data.classes)
    rows = [r for r in summary if r.get("status") == "ok"]
    assert len(rows) == 3 * 2 and all(r["n_seeds"] == 2 and r["accuracy_std"] >= 0 for r in rows)
    assert set(result.confusions) == {("scratch", p) for p in ("knn", "linear", "finetune")}
    config.embedding = "pca"  # UMAP's numba compilation costs ~15 s; the demo workflow runs it
    info = benchmark.write_outputs(
        result, config, data, strategies, tmp_path, task="toy", title="toy"
    )
    assert info["best_strategy"] == "scratch"
    products = ("results.csv", "timings.csv", "summary.csv", "results.md", "confusion.png")
    for name in (*products, "accuracy_vs_fraction.png", "umap.png", "classifier.pt"):
        assert (tmp_path / name).is_file(), name
    table = (tmp_path / "results.md").read_text()
    assert "50% (8 labels)" in table and "±" in table and "ImageNet weights (a): skipped" in table
