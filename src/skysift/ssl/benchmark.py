"""The downstream benchmark of one task: strategies x protocols x label fractions x seeds.

Strategies (same backbone architecture and budget): (a) ``imagenet``: torchvision ImageNet
weights from a local file (first convolution adapted to the C channels), reported as skipped
when no file is configured; (b) ``scratch``: random init (its frozen features are the
random-feature reference of kNN/linear; fine-tuned it is supervised training from scratch);
(c, d) ``ssl_<data>_<method>``: backbones pretrained by ``ssl-pretrain`` on random or curated
cutouts.

Protocols: ``knn`` and ``linear`` on frozen features, ``finetune`` of the whole backbone.
For each label fraction and seed, a stratified subset of the training split is drawn (>= 1
image per class) and every protocol is scored on the whole test split. Frozen features are
computed once per strategy; random-init backbones of ``scratch`` are seeded per seed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from skysift.detect.model import load_trunk_weights
from skysift.errors import InputFileError
from skysift.ssl.augment import Preprocess, RadioViews
from skysift.ssl.checkpoint import load_backbone
from skysift.ssl.config import SSLConfig
from skysift.ssl.datasets import CutoutSet, stratified_fraction
from skysift.ssl.finetune import extract_features, finetune, predict
from skysift.ssl.models import build_backbone
from skysift.ssl.probes import (
    classification_metrics,
    knn_predict,
    predict_probe,
    train_linear_probe,
)
from skysift.ssl.training import resolve_device

log = logging.getLogger(__name__)

METHOD_LABELS = {"simclr": "SimCLR", "byol": "BYOL", "dino": "DINO"}


@dataclass(frozen=True)
class Strategy:
    """One way of getting a backbone.

    Attributes
    ----------
    name
        ``imagenet``, ``scratch`` or ``ssl_<data>_<method>``.
    kind
        ``imagenet``, ``scratch`` or ``ssl``.
    path
        Weights file (None for scratch, or for imagenet without a file: skipped).
    """

    name: str
    kind: Literal["imagenet", "scratch", "ssl"]
    path: Path | None = None

    @property
    def label(self) -> str:
        """Human-readable name for tables and figures."""
        if self.kind == "imagenet":
            return "ImageNet weights (a)"
        if self.kind == "scratch":
            return "random init / from scratch (b)"
        _, data, method = self.name.split("_", 2)
        letter = "c" if data == "random" else "d"
        return f"{METHOD_LABELS.get(method, method)} on {data} cutouts ({letter})"


def strategies_from(config: SSLConfig, ssl_backbones: dict[str, Path]) -> list[Strategy]:
    """Strategies in table order: imagenet, scratch, then the given SSL backbones."""
    out = [
        Strategy(
            "imagenet",
            "imagenet",
            Path(config.imagenet_weights) if config.imagenet_weights else None,
        ),
        Strategy("scratch", "scratch"),
    ]
    out += [Strategy(name, "ssl", Path(path)) for name, path in ssl_backbones.items()]
    return out


@dataclass
class TaskResult:
    """What one task's benchmark produced.

    Attributes
    ----------
    rows
        One dict per (strategy, protocol, fraction, seed), or per skipped strategy.
    test_features
        Strategy -> frozen features of the test split (M, D) (UMAP).
    confusions
        (strategy, protocol) -> confusion matrix at the largest fraction, first seed.
    classifiers
        Strategy -> (backbone, linear probe on all training labels, first seed).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    test_features: dict[str, np.ndarray] = field(default_factory=dict)
    confusions: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    classifiers: dict[str, tuple[nn.Module, nn.Linear, dict[str, Any]]] = field(
        default_factory=dict
    )


def _check_preprocess(meta: dict[str, Any], config: SSLConfig, path: Path) -> None:
    mine = {
        "normalisation": config.normalisation.model_dump(mode="json"),
        "image_pix": config.image_pix,
        "crop_fraction": config.crop_fraction,
        "backbone": config.backbone,
    }
    for key, value in mine.items():
        if meta.get(key) != value:
            raise InputFileError(
                path,
                f"backbone was trained with {key} = {meta.get(key)!r}, the benchmark uses "
                f"{value!r}; pretrain again with the same ssl settings",
            )


def load_strategy_backbone(
    strategy: Strategy, config: SSLConfig, *, seed: int
) -> tuple[nn.Module, int, dict[str, Any]]:
    """The strategy's trunk (random init seeded by ``seed`` for scratch), its width, its meta."""
    channels = len(config.normalisation.channels)
    if strategy.kind == "ssl":
        assert strategy.path is not None
        backbone, meta = load_backbone(strategy.path)
        _check_preprocess(meta, config, strategy.path)
        return backbone, int(meta["feature_dim"]), meta
    backbone, dim = build_backbone(config.backbone, channels, seed=seed)
    meta = {"kind": strategy.kind}
    if strategy.kind == "imagenet":
        assert strategy.path is not None
        meta["load_report"] = load_trunk_weights(backbone, strategy.path, kind="imagenet")
    return backbone, dim, meta


def _row(
    task: str, strategy: Strategy, protocol: str, fraction: float, seed: int
) -> dict[str, Any]:
    return {
        "task": task,
        "strategy": strategy.name,
        "label": strategy.label,
        "protocol": protocol,
        "fraction": fraction,
        "seed": seed,
    }


def _score(
    row: dict[str, Any], truth: np.ndarray, predicted: np.ndarray, classes: list[str]
) -> tuple[dict[str, Any], np.ndarray]:
    metrics = classification_metrics(truth, predicted, classes)
    row.update(accuracy=metrics["accuracy"], macro_f1=metrics["macro_f1"], status="ok")
    row.update({f"recall_{name}": value for name, value in metrics["recall"].items()})
    return row, np.asarray(metrics["confusion"])


def run_task(
    config: SSLConfig,
    task: str,
    data: CutoutSet,
    strategies: Sequence[Strategy],
) -> TaskResult:
    """Score every strategy with every protocol, label fraction and seed on one task.

    Parameters
    ----------
    config
        The ``ssl`` section (protocols, fractions, seeds, probe and fine-tune settings).
    task
        Task name for the rows (``sim6``, ``mirabest`` ...).
    data
        Labelled set with ``train`` and ``test`` splits.
    strategies
        From :func:`strategies_from`.
    """
    train, test = data.split("train"), data.split("test")
    if len(train) == 0 or len(test) == 0:
        raise InputFileError(Path(task), f"task {task} needs train and test images")
    classes = list(data.classes)
    n_classes = len(classes)
    device = resolve_device(config.device)
    preprocess = Preprocess(config.normalisation, config.image_pix, config.crop_fraction)
    x_train, x_test = preprocess.batch(train.images), preprocess.batch(test.images)
    views = RadioViews(config.views, config.normalisation, config.image_pix, config.crop_fraction)
    largest = max(config.label_fractions)
    result = TaskResult()
    for strategy in strategies:
        if strategy.kind == "imagenet" and strategy.path is None:
            row = _row(task, strategy, "all", float("nan"), -1)
            row["status"] = "skipped: no weights file (set ssl.imagenet_weights)"
            result.rows.append(row)
            log.info("%s: %s", strategy.name, row["status"])
            continue
        frozen: dict[int, tuple[nn.Module, int, np.ndarray, np.ndarray]] = {}
        for fraction in config.label_fractions:
            for seed in config.seeds:
                key = seed if strategy.kind == "scratch" else -1
                if key not in frozen:
                    backbone, dim, meta = load_strategy_backbone(
                        strategy, config, seed=config.seed + max(key, 0)
                    )
                    f_train = extract_features(
                        backbone, x_train, batch_size=config.batch_size_eval, device=device
                    )
                    f_test = extract_features(
                        backbone, x_test, batch_size=config.batch_size_eval, device=device
                    )
                    frozen[key] = (backbone, dim, f_train, f_test)
                    result.test_features.setdefault(strategy.name, f_test)
                backbone, dim, f_train, f_test = frozen[key]
                subset = stratified_fraction(
                    train.labels, fraction, seed=config.seed + seed, n_classes=n_classes
                )
                labels = train.labels[subset]
                first = fraction == largest and seed == config.seeds[0]
                for protocol in config.protocols:
                    start = time.perf_counter()
                    row = _row(task, strategy, protocol, fraction, seed)
                    row["n_labels"] = int(subset.size)
                    if protocol == "knn":
                        predicted = knn_predict(
                            f_train[subset], labels, f_test, n_classes=n_classes,
                            k=config.probe.knn_k, temperature=config.probe.knn_temperature,
                        )  # fmt: skip
                    elif protocol == "linear":
                        probe = train_linear_probe(
                            f_train[subset], labels, n_classes=n_classes,
                            steps=config.probe.linear_steps, lr=config.probe.linear_lr,
                            weight_decay=config.probe.linear_weight_decay, seed=seed,
                        )  # fmt: skip
                        predicted = predict_probe(probe, f_test)
                        if first:
                            result.classifiers[strategy.name] = (backbone, probe.folded(), meta)
                    else:
                        model = finetune(
                            backbone, dim, x_train[subset], labels, n_classes=n_classes,
                            config=config.finetune, seed=config.seed + seed, device=device,
                            raw_images=train.images[subset], views=views,
                        )  # fmt: skip
                        predicted = predict(
                            model, x_test, batch_size=config.batch_size_eval, device=device
                        )
                    row, confusion = _score(row, test.labels, predicted, classes)
                    row["seconds"] = time.perf_counter() - start
                    result.rows.append(row)
                    if first:
                        result.confusions[(strategy.name, protocol)] = confusion
                    log.info(
                        "%s %s %s %g%% seed %d: accuracy %.3f, macro-F1 %.3f (%.1f s)",
                        task, strategy.name, protocol, 100 * fraction, seed,
                        row["accuracy"], row["macro_f1"], row["seconds"],
                    )  # fmt: skip
    return result


def summarise(rows: Sequence[dict[str, Any]], classes: Sequence[str]) -> list[dict[str, Any]]:
    """Mean and spread over seeds per (strategy, protocol, fraction); skipped rows kept.

    The spread is the sample standard deviation (ddof = 1; 0 for a single seed).
    """
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    out: list[dict[str, Any]] = []
    for row in rows:
        if row.get("status") != "ok":
            out.append({k: row[k] for k in ("task", "strategy", "label", "status")})
            continue
        groups.setdefault((row["strategy"], row["protocol"], row["fraction"]), []).append(row)
    for (strategy, protocol, fraction), members in groups.items():
        summary: dict[str, Any] = {
            "task": members[0]["task"],
            "strategy": strategy,
            "label": members[0]["label"],
            "protocol": protocol,
            "fraction": fraction,
            "n_labels": members[0]["n_labels"],
            "n_seeds": len(members),
            "status": "ok",
        }
        for metric in ("accuracy", "macro_f1", *(f"recall_{c}" for c in classes)):
            values = np.array([m[metric] for m in members], dtype=float)
            summary[f"{metric}_mean"] = float(np.mean(values))
            summary[f"{metric}_std"] = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
        out.append(summary)
    return out


def best_strategy(summary: Sequence[dict[str, Any]], fraction: float) -> str | None:
    """Strategy with the highest linear-probe accuracy at ``fraction`` (None when none ran).

    Used only to choose which ``classifier.pt`` to export; the tables report every strategy.
    """
    rows = [
        r for r in summary
        if r.get("status") == "ok" and r["protocol"] == "linear" and r["fraction"] == fraction
    ]  # fmt: skip
    return max(rows, key=lambda r: r["accuracy_mean"])["strategy"] if rows else None


def write_outputs(
    result: TaskResult,
    config: SSLConfig,
    data: CutoutSet,
    strategies: Sequence[Strategy],
    out: Path,
    *,
    task: str,
    title: str,
) -> dict[str, Any]:
    """Tables, figures and the best classifier of one task into ``out``.

    Writes ``results.csv`` (one row per strategy, protocol, fraction and seed; no timings, so a
    rerun gives the same bytes), ``timings.csv`` (seconds per row), ``summary.csv`` (mean and
    std over seeds), ``results.md``, ``accuracy_vs_fraction.png``,
    ``confusion.png``, ``umap.png`` and ``classifier.pt``.
    """
    from skysift.io.atomic import atomic_path, write_csv_rows
    from skysift.report import ssl_benchmark as report
    from skysift.ssl.checkpoint import backbone_metadata, save_classifier

    out.mkdir(parents=True, exist_ok=True)
    classes = list(data.classes)
    summary = summarise(result.rows, classes)
    timing = ("task", "strategy", "protocol", "fraction", "seed", "seconds")
    write_csv_rows(
        out / "results.csv", [{k: v for k, v in r.items() if k != "seconds"} for r in result.rows]
    )
    write_csv_rows(
        out / "timings.csv", [{k: r[k] for k in timing} for r in result.rows if "seconds" in r]
    )
    write_csv_rows(out / "summary.csv", summary)
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(
            report.results_markdown(summary, classes, config.label_fractions, title=title)
        )
    report.plot_accuracy_vs_fraction(summary, out / "accuracy_vs_fraction.png", title=title)
    labels = {s.name: s.label for s in strategies}
    report.plot_confusions(result.confusions, labels, classes, out / "confusion.png", title=title)
    truth = data.split("test").labels
    embeddings = {
        name: report.embed_2d(features, seed=config.seed, method=config.embedding)
        for name, features in result.test_features.items()
    }
    report.plot_embedding(
        embeddings, labels, truth, classes, out / "umap.png", title=title,
        method=config.embedding.upper(),
    )  # fmt: skip
    best = best_strategy(summary, max(config.label_fractions))
    if best is not None and best in result.classifiers:
        backbone, head, meta = result.classifiers[best]
        block = backbone_metadata(
            backbone=config.backbone,
            spec=config.normalisation,
            feature_dim=head.in_features,
            image_pix=config.image_pix,
            crop_fraction=config.crop_fraction,
            strategy=best,
            task=task,
            source=meta.get("method", meta.get("kind")),
        )
        save_classifier(out / "classifier.pt", backbone, head, block, classes)
    else:  # no linear probe ran: write a placeholder-free marker of why
        with atomic_path(out / "classifier.pt") as tmp:
            torch.save({"skysift": {"kind": "none", "reason": "no linear probe was run"}}, tmp)
    return {"best_strategy": best, "n_rows": len(result.rows)}
