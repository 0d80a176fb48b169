"""Why an object is in its cluster: a classifier on cluster labels, explained with captum.

A small MLP learns the cluster labels from the same masked features the autoencoder sees
(``[x * mask, mask]``). Integrated Gradients (Sundararajan et al. 2017, captum's
``IntegratedGradients``) attributes the membership probability of an object's own cluster to its
features along the straight path from a baseline to the object. The baseline is the mean star
(all standardised features 0) with the object's own mask, so a missing band gets exactly zero
attribution and the attributions of an object add up to ``p(x) - p(baseline)`` (completeness;
captum returns the residual as the convergence delta).

Per cluster the mean signed and mean absolute attributions of its members are kept; the share of
the absolute attribution carried by features that involve a mid-infrared band says whether the
cluster is recognised by an infrared excess.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from skysift.sed.analysis_config import ExplainConfig
from skysift.sed.autoencoder import masked_input, mlp, split_indices

log = logging.getLogger(__name__)


class ClusterClassifier(nn.Module):
    """MLP from masked features (n, F) + mask (n, F) to cluster logits (n, K)."""

    def __init__(self, n_features: int, n_classes: int, hidden: list[int]) -> None:
        super().__init__()
        self.n_features = n_features
        self.n_classes = n_classes
        self.hidden = list(hidden)
        self.net = mlp([2 * n_features, *hidden, n_classes])

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (n, K)."""
        return self.net(masked_input(x, mask))


class MembershipProbability(nn.Module):
    """Softmax of a classifier: the function whose output Integrated Gradients attributes."""

    def __init__(self, classifier: ClusterClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Membership probabilities (n, K)."""
        return torch.softmax(self.classifier(x, mask), dim=1)


@dataclass(frozen=True)
class ClassifierResult:
    """A trained classifier (eval mode) with its training and held-out accuracies."""

    model: ClusterClassifier
    train_accuracy: float
    val_accuracy: float
    seconds: float


def train_classifier(
    x: NDArray[np.float32],
    mask: NDArray[np.bool_],
    labels: NDArray[np.integer],
    *,
    config: ExplainConfig,
    seed: int,
    threads: int = 1,
) -> ClassifierResult:
    """Train a :class:`ClusterClassifier` on labels 0..K-1 (cross-entropy, AdamW, seeded).

    Parameters
    ----------
    x, mask
        Standardised features and observed mask, shape (n, F).
    labels
        Cluster of each object, (n,), in 0..K-1 (no noise).
    config
        Widths, epochs, batch size, learning rate.
    seed
        Seed of split, weights and batch order.
    """
    torch.set_num_threads(threads)
    start = time.perf_counter()
    y = torch.as_tensor(np.asarray(labels, np.int64))
    n_classes = int(y.max()) + 1
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    mt = torch.from_numpy(np.ascontiguousarray(mask, bool))
    train_idx, val_idx = split_indices(len(y), 0.1, seed)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = ClusterClassifier(x.shape[1], n_classes, config.hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    tr = torch.from_numpy(train_idx)
    for _ in range(config.epochs):
        model.train()
        for batch in tr[torch.randperm(tr.numel(), generator=gen)].split(config.batch_size):
            loss = loss_fn(model(xt[batch], mt[batch]), y[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(xt, mt).argmax(dim=1)
    acc_train = float((pred[train_idx] == y[train_idx]).float().mean())
    acc_val = float((pred[val_idx] == y[val_idx]).float().mean()) if len(val_idx) else np.nan
    seconds = time.perf_counter() - start
    log.info(
        "classifier on %d clusters: accuracy %.3f train, %.3f held out (%.1f s)",
        n_classes,
        acc_train,
        acc_val,
        seconds,
    )
    return ClassifierResult(model, acc_train, float(acc_val), seconds)


def integrated_gradients(
    model: ClusterClassifier,
    x: NDArray[np.float32],
    mask: NDArray[np.bool_],
    target: NDArray[np.integer] | int,
    *,
    n_steps: int = 64,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Integrated Gradients of the membership probability of ``target`` w.r.t. the features.

    Parameters
    ----------
    model
        Trained classifier.
    x, mask
        Features and mask of the objects, shape (n, F).
    target
        Cluster whose probability is explained, per object (n,) or one for all.
    n_steps
        Steps of the path integral (Gauss-Legendre).

    Returns
    -------
    (attributions, delta, gain)
        Attributions (n, F) in probability units (0 where a band is missing); captum's
        convergence delta (n,), ``sum(attributions) - (p(x) - p(0))``; and that gain
        ``p(x) - p(0)`` itself (n,).
    """
    from captum.attr import IntegratedGradients

    prob = MembershipProbability(model).eval()
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32)).requires_grad_(True)
    mt = torch.from_numpy(np.ascontiguousarray(mask, bool))
    tgt: Any = (
        int(target) if np.ndim(target) == 0 else torch.as_tensor(np.asarray(target, np.int64))
    )
    baseline = torch.zeros_like(xt)
    ig = IntegratedGradients(prob)
    attr, delta = ig.attribute(
        xt,
        baselines=baseline,
        target=tgt,
        additional_forward_args=(mt,),
        n_steps=n_steps,
        return_convergence_delta=True,
    )
    with torch.no_grad():
        rows = torch.arange(xt.shape[0])
        tvec = tgt if isinstance(tgt, torch.Tensor) else torch.full_like(rows, tgt)
        gain = prob(xt, mt)[rows, tvec] - prob(baseline, mt)[rows, tvec]
    return (
        attr.detach().double().numpy(),
        delta.detach().double().numpy(),
        gain.double().numpy(),
    )


def mid_ir_features(feature_bands: Sequence[tuple[str, ...]], mid_ir: Sequence[str]) -> NDArray:
    """Boolean (F,): features that involve at least one mid-infrared band."""
    wanted = set(mid_ir)
    return np.array([bool(wanted & set(bands)) for bands in feature_bands])


def explain_clusters(
    model: ClusterClassifier,
    x: NDArray[np.float32],
    mask: NDArray[np.bool_],
    labels: NDArray[np.integer],
    *,
    feature_bands: Sequence[tuple[str, ...]],
    config: ExplainConfig,
    seed: int,
) -> tuple[list[dict[str, Any]], NDArray[np.float64], NDArray[np.float64]]:
    """Integrated Gradients of up to ``per_cluster`` members of every cluster.

    Returns
    -------
    (rows, mean_attr, mean_abs)
        Per cluster: ``cluster``, ``n_explained``, ``mid_ir_share`` (share of the mean absolute
        attribution on mid-IR features), ``max_abs_delta`` and ``max_rel_delta`` (completeness
        residual, absolute and relative to ``|p(x) - p(0)|``); and the matrices (K, F) of mean
        signed and mean absolute attributions.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    clusters = sorted(int(k) for k in np.unique(labels) if k >= 0)
    mid = mid_ir_features(feature_bands, config.mid_ir_bands)
    mean_attr = np.zeros((len(clusters), x.shape[1]))
    mean_abs = np.zeros_like(mean_attr)
    rows = []
    for i, k in enumerate(clusters):
        members = np.nonzero(labels == k)[0]
        pick = np.sort(rng.permutation(members)[: config.per_cluster])
        attr, delta, gain = integrated_gradients(
            model, x[pick], mask[pick], k, n_steps=config.n_steps
        )
        mean_attr[i] = attr.mean(axis=0)
        mean_abs[i] = np.abs(attr).mean(axis=0)
        total = mean_abs[i].sum()
        rel = np.abs(delta) / np.maximum(np.abs(gain), 1e-6)
        rows.append(
            {
                "cluster": k,
                "n_explained": int(pick.size),
                "mid_ir_share": float(mean_abs[i][mid].sum() / total) if total > 0 else np.nan,
                "max_abs_delta": float(np.abs(delta).max()),
                "max_rel_delta": float(rel.max()),
            }
        )
    return rows, mean_attr, mean_abs
