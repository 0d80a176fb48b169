"""Frozen-feature protocols and the metrics of every protocol.

- :func:`knn_predict`: weighted k-nearest-neighbour vote on cosine similarity, weights
  ``exp(similarity / T)`` (Wu et al. 2018, the usual SSL kNN monitor).
- :func:`train_linear_probe`: a linear layer on standardised features (mean/std of the
  training features), full-batch AdamW with warm-up + cosine to zero, class-balanced
  cross-entropy (inverse-frequency weights), fixed seed.
- :func:`classification_metrics`: accuracy, macro-F1 and per-class recall (scikit-learn).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score
from torch import nn
from torch.nn import functional as nnf

from skysift.ssl.training import set_lr, warmup_cosine


def knn_predict(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    *,
    n_classes: int,
    k: int = 20,
    temperature: float = 0.07,
) -> np.ndarray:
    """Class of each test feature by a similarity-weighted vote of its k nearest neighbours.

    Parameters
    ----------
    train_features, test_features
        Shapes (N, D) and (M, D).
    train_labels
        Shape (N,), ints in [0, n_classes).
    k
        Neighbours (capped at N).
    temperature
        Vote weight ``exp(cos / temperature)``.

    Returns
    -------
    numpy.ndarray
        Shape (M,), predicted class indices.
    """
    train = nnf.normalize(torch.as_tensor(train_features, dtype=torch.float32), dim=1)
    test = nnf.normalize(torch.as_tensor(test_features, dtype=torch.float32), dim=1)
    labels = torch.as_tensor(train_labels, dtype=torch.long)
    k = min(k, train.shape[0])
    similarity = test @ train.T
    top, index = similarity.topk(k, dim=1)
    weights = (top / temperature).exp()
    votes = torch.zeros(test.shape[0], n_classes)
    votes.scatter_add_(1, labels[index], weights)
    return votes.argmax(dim=1).numpy()


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (mean 1 over the present classes); absent classes get 0."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(float)
    weights = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    weights *= (counts > 0).sum() / weights.sum()
    return torch.as_tensor(weights, dtype=torch.float32)


class LinearProbe(nn.Module):
    """Standardisation (fixed) followed by a linear layer: (N, D) -> logits (N, n_classes)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, n_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(mean.numel(), n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.linear((features - self.mean) / self.std)
        return out

    def folded(self) -> nn.Linear:
        """One linear layer equal to standardisation + linear (for ``classifier.pt``)."""
        linear = nn.Linear(self.linear.in_features, self.linear.out_features)
        with torch.no_grad():
            weight = self.linear.weight / self.std
            linear.weight.copy_(weight)
            linear.bias.copy_(self.linear.bias - weight @ self.mean)
        return linear


def train_linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    steps: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> LinearProbe:
    """Fit a linear probe on frozen features (full batch; deterministic on CPU).

    Parameters
    ----------
    features
        Shape (N, D).
    labels
        Shape (N,), ints in [0, n_classes).
    """
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False).clamp_min(1e-6) if x.shape[0] > 1 else torch.ones_like(mean)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = LinearProbe(mean, std, n_classes)
    optimizer = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=weight_decay)
    weights = class_weights(labels, n_classes)
    for step in range(steps):
        set_lr(optimizer, lr * warmup_cosine(step, steps, 0))
        loss = nnf.cross_entropy(probe(x), y, weight=weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return probe.eval()


def predict_probe(probe: LinearProbe, features: np.ndarray) -> np.ndarray:
    """Predicted classes of (M, D) features, shape (M,)."""
    with torch.no_grad():
        logits = probe(torch.as_tensor(features, dtype=torch.float32))
    return logits.argmax(dim=1).numpy()


def classification_metrics(
    truth: np.ndarray, predicted: np.ndarray, classes: list[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall and the confusion matrix.

    Macro-F1 averages the F1 of the classes present in ``truth`` (a class without test
    members has no defined F1); a class never predicted counts with F1 = 0.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1`` (fractions), ``recall`` {class: fraction or NaN when the
        class has no test member}, ``confusion`` (list of rows: truth, columns: predicted).
    """
    labels = list(range(len(classes)))
    present = set(np.unique(truth).tolist())
    recall = recall_score(truth, predicted, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(
            f1_score(truth, predicted, labels=sorted(present), average="macro", zero_division=0)
        ),
        "recall": {
            name: float(recall[i]) if i in present else float("nan")
            for i, name in enumerate(classes)
        },
        "confusion": confusion_matrix(truth, predicted, labels=labels).tolist(),
    }
