"""Training engine of ``skysift train-detector``: a step-based loop with exact resume.

Everything that decides the next step lives in ``last.pt`` (model, optimizer, scheduler and AMP
scaler states, step, torch/numpy/python generator states, best score, early-stopping counter and
the loss log). Batches and augmentations are pure functions of (seed, step)
(:class:`~skysift.detect.dataset.StepBatchSampler`), so a run killed and resumed from a
checkpoint reaches the same weights as an uninterrupted run on CPU.

Outputs in ``out_dir``: ``model.pt`` (best validation score; weights + metadata), ``last.pt``
(full state, for resume), ``train_log.csv`` (losses per step, validation rows), ``loss_curves.png``,
``train_summary.json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.models.detection import MaskRCNN
from tqdm import tqdm

from skysift.data.coco import json_safe
from skysift.detect.checkpoint import (
    model_metadata,
    read_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from skysift.detect.config import DetectorConfig
from skysift.detect.dataset import (
    CutoutDataset,
    StepBatchSampler,
    collate,
    dataset_files,
    read_dataset_info,
)
from skysift.detect.model import build_detector, load_backbone_weights
from skysift.detect.validate import validation_metrics
from skysift.errors import ConfigError, InputFileError
from skysift.io.atomic import atomic_path, write_csv_rows
from skysift.io.resume import continues_same_run, files_sha256

log = logging.getLogger(__name__)

#: Config keys that may change between a run and its resumption (they do not change the model).
RESUMABLE_KEYS: frozenset[str] = frozenset(
    {
        "max_steps",
        "checkpoint_every",
        "eval_every",
        "early_stopping_patience",
        "num_workers",
        "device",
        "tensorboard",
    }
)
LOSS_KEYS: tuple[str, ...] = (
    "loss_classifier",
    "loss_box_reg",
    "loss_mask",
    "loss_objectness",
    "loss_rpn_box_reg",
)


def resolve_device(config: DetectorConfig) -> torch.device:
    """``cuda`` when asked for (or ``auto`` and available), else ``cpu``."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("detect.device", "cuda requested but no CUDA device is available")
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def make_optimizer(model: MaskRCNN, config: DetectorConfig) -> torch.optim.Optimizer:
    """AdamW or SGD over the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )


def lr_factor(step: int, config: DetectorConfig) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up from 1/100, then cosine or step."""
    if step < config.warmup_steps:
        return 0.01 + 0.99 * step / config.warmup_steps
    if config.schedule == "cosine":
        span = max(1, config.max_steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))
    cuts = sum(step >= m * config.max_steps for m in config.step_milestones)
    return float(0.1**cuts)


def train_one_step(
    model: MaskRCNN,
    images: Sequence[torch.Tensor],
    targets: Sequence[dict[str, Any]],
    *,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
    grad_clip: float | None,
    device: torch.device,
) -> dict[str, float]:
    """One optimisation step on one batch; returns the losses (floats) and ``grad_norm``."""
    model.train()
    images = [image.to(device) for image in images]
    targets = [
        {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in t.items()}
        for t in targets
    ]
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.float16)
        if scaler is not None
        else contextlib.nullcontext()
    )
    with autocast:
        losses = model(images, targets)
    total = sum(losses.values())
    assert isinstance(total, torch.Tensor)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(total).backward()
        scaler.unscale_(optimizer)
    else:
        total.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip else float("inf"))
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()
    out = {k: float(v.detach()) for k, v in losses.items()}
    out["loss"] = float(total.detach())
    out["grad_norm"] = float(norm)
    return out


def training_data_sha256(root: Path, extra_train: Sequence[str | Path] = ()) -> str:
    """sha256 of what a run trains and validates on: the files of the set's ``train`` and
    ``val`` splits, and of the extra sets' ``train`` split."""
    files = dataset_files(root, ("train", "val"))
    for extra in map(Path, extra_train):
        files += dataset_files(extra, ("train",))
    return files_sha256(files)


def _resumable_state(
    path: Path, config: DetectorConfig, meta: dict[str, Any], data_sha256: str
) -> dict[str, Any] | None:
    """``last.pt`` when it holds this run (same settings and training data), else None."""
    if not path.is_file():
        return None
    saved = read_checkpoint(path)
    data_keys = ("classes", "normalisation", "size_pix")
    if not continues_same_run(
        path,
        saved,
        saved_settings={
            **saved["skysift"]["model_config"],
            **{k: saved["skysift"].get(k) for k in data_keys},
        },
        settings={**config.model_dump(mode="json"), **{k: meta[k] for k in data_keys}},
        data_sha256=data_sha256,
        max_steps=config.max_steps,
        may_change=RESUMABLE_KEYS,
    ):
        return None
    return saved


def plot_loss_curves(rows: list[dict[str, Any]], path: Path) -> None:
    """PNG of the training losses (moving average) and the validation score against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in rows if "loss" in r]
    val = [r for r in rows if "val_score" in r]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    steps = np.array([r["step"] for r in train])
    window = max(1, len(train) // 50)
    for key in ("loss", *LOSS_KEYS):
        values = np.array([r.get(key, np.nan) for r in train], dtype=float)
        if values.size:
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            ax.plot(steps[window - 1 :], smooth, label=key, lw=2 if key == "loss" else 1)
    ax.set_xlabel("step")
    ax.set_ylabel(f"loss (moving average of {window} steps)")
    ax.set_yscale("log")
    ax.legend(loc="upper left", fontsize=8)
    if val:
        ax2 = ax.twinx()
        ax2.plot([r["step"] for r in val], [r["val_score"] for r in val], "ko-", label="val F1")
        ax2.set_ylabel("validation score (mean per-class F1)")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def train(
    config: DetectorConfig,
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    classes: Sequence[str] | None = None,
    resume: bool = True,
    stop_after: int | None = None,
    progress: bool = True,
    extra_train: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Train the detector; resume from ``out_dir/last.pt`` when it holds this same run.

    Parameters
    ----------
    config
        Model, optimisation and loop settings.
    dataset_dir
        Cutout dataset (``skysift build-cutouts``); train on ``train``, validate on ``val``.
    out_dir
        Output folder (created).
    classes
        Classes of the model in label order (default: the dataset's); every annotated class
        must be among them.
    resume
        Continue from ``last.pt`` when it holds this run: the same settings (except
        :data:`RESUMABLE_KEYS`) and the same training data (sha256 of the set's
        ``dataset.json`` and annotation files). A ``last.pt`` of another run is replaced: the
        run starts afresh and logs why. False: always start afresh, overwriting.
    stop_after
        Stop (as if killed) after this many steps of this call, without finishing; for tests.
    progress
        Show a tqdm progress bar.
    extra_train
        More sets whose ``train`` split joins the training images (synthetic sources of
        ``sample-diffusion``); validation stays on the dataset's own ``val`` split.

    Returns
    -------
    dict
        The training summary (also in ``train_summary.json``): steps, best score and step,
        final validation metrics, seconds per step, stop reason.
    """
    out = Path(out_dir)
    info = read_dataset_info(dataset_dir)
    classes = list(classes) if classes is not None else info.classes
    train_set = CutoutDataset(info.root, "train", classes=classes, augment_config=config.augment)
    for extra in extra_train:
        added = train_set.add_train_set(extra)
        log.info("added %d training images of %s", added, extra)
    if len(train_set) == 0:
        raise InputFileError(
            info.root / "annotations" / "train.json",
            "no training images in the train split; build a larger dataset (more maps or a "
            "larger train fraction in cutouts.split)",
        )
    has_val = (info.root / "annotations" / "val.json").is_file()
    val_set = CutoutDataset(info.root, "val", classes=classes) if has_val else None
    if val_set is not None and len(val_set) == 0:
        val_set = None
    data_sha256 = training_data_sha256(info.root, extra_train)
    device = resolve_device(config)
    meta = model_metadata(
        config, classes=classes, normalisation=info.normalisation, size_pix=info.size_pix
    )
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _run(
            config,
            info.root,
            out,
            train_set,
            val_set,
            meta,
            device,
            resume=resume,
            data_sha256=data_sha256,
            stop_after=stop_after,
            progress=progress,
        )
    finally:
        torch.use_deterministic_algorithms(previous_deterministic)


def _run(
    config: DetectorConfig,
    root: Path,
    out: Path,
    train_set: CutoutDataset,
    val_set: CutoutDataset | None,
    meta: dict[str, Any],
    device: torch.device,
    *,
    resume: bool,
    data_sha256: str,
    stop_after: int | None,
    progress: bool,
) -> dict[str, Any]:
    model = build_detector(
        config,
        num_classes=len(meta["classes"]),
        in_channels=meta["in_channels"],
        image_size=meta["size_pix"],
    )
    if config.init != "random":
        assert config.weights_path is not None
        load_backbone_weights(
            model,
            config.weights_path,
            kind=config.init,
            expect_normalisation=train_set.normalisation,
        )
    model.to(device)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    scaler = torch.amp.GradScaler("cuda") if config.amp and device.type == "cuda" else None
    state: dict[str, Any] = {"step": 0, "best_score": None, "best_step": None, "bad_evals": 0}
    rows: list[dict[str, Any]] = []
    last_path = out / "last.pt"
    # the best model so far (what model.pt holds): kept in last.pt too, so that a resumed run
    # ends with the best model even when model.pt was deleted meanwhile (a workflow rerun)
    best_blob: dict[str, Any] | None = None
    saved = _resumable_state(last_path, config, meta, data_sha256) if resume else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        restore_rng_states(saved["rng"])
        rows = list(saved.get("log", []))
        state.update({k: saved[k] for k in ("step", "best_score", "best_step", "bad_evals")})
        best_blob = saved.get("best")
        log.info("resuming from %s at step %d", last_path, state["step"])
    else:
        torch.manual_seed(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    writer = None
    if config.tensorboard:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError("detect.tensorboard", "needs the tensorboard package") from exc
        writer = SummaryWriter(str(out / "tensorboard"))

    def checkpoint(
        path: Path, *, full: bool, thresholds: dict[str, float] | None = None
    ) -> dict[str, Any]:
        blob: dict[str, Any] = {
            "model": model.state_dict(),
            "step": state["step"],
            "epoch": state["step"] // sampler.steps_per_epoch,
            "best_score": state["best_score"],
            "best_step": state["best_step"],
            # the best model carries the thresholds calibrated with it (last.pt: the global one)
            "skysift": meta if thresholds is None else {**meta, "score_thresholds": thresholds},
        }
        if full:
            blob.update(
                best=best_blob,
                data_sha256=data_sha256,
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                scaler=scaler.state_dict() if scaler is not None else None,
                rng=rng_states(),
                bad_evals=state["bad_evals"],
                log=rows,
            )
        save_checkpoint(path, blob)
        return blob

    def validate() -> bool:
        """Validate, keep the best model; True when early stopping says stop."""
        nonlocal best_blob
        if val_set is None:
            return False
        metrics, thresholds = validation_metrics(
            model,
            val_set,
            score_threshold=config.score_threshold,
            iou_threshold=config.eval_iou,
            batch_size=max(1, config.batch_size),
            device=device,
            calibrate_thresholds=config.calibrate_thresholds,
        )
        model.train()
        rows.append({"step": state["step"], **{f"val_{k}": v for k, v in metrics.items()}})
        if writer is not None:
            writer.add_scalar("val/score", metrics["score"], state["step"])
        log.info("step %d: validation score %.3f", state["step"], metrics["score"])
        if state["best_score"] is None or metrics["score"] > state["best_score"]:
            state.update(best_score=metrics["score"], best_step=state["step"], bad_evals=0)
            blob = checkpoint(
                out / "model.pt",
                full=False,
                thresholds=thresholds if config.calibrate_thresholds else None,
            )
            # a copy: the model's tensors go on changing in place
            best_blob = {**blob, "model": {k: v.clone() for k, v in blob["model"].items()}}
            return False
        state["bad_evals"] += 1
        patience = config.early_stopping_patience
        return patience is not None and state["bad_evals"] >= patience

    weights = train_set.image_weights() if config.class_balanced else None
    sampler = StepBatchSampler(
        len(train_set),
        batch_size=config.batch_size,
        seed=config.seed,
        max_steps=config.max_steps,
        start_step=state["step"],
        weights=weights,
    )
    # own generator: creating the iterator must not draw from the global torch generator
    loader = DataLoader(
        train_set,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=config.num_workers,
        generator=torch.Generator().manual_seed(config.seed),
    )
    model.train()
    stop_reason = "max_steps"
    started, first_step = time.perf_counter(), state["step"]
    bar = tqdm(total=config.max_steps, initial=state["step"], desc="train", disable=not progress)
    for images, targets in loader:
        tick = time.perf_counter()
        losses = train_one_step(
            model,
            images,
            targets,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=scaler,
            grad_clip=config.grad_clip,
            device=device,
        )
        state["step"] += 1
        if not math.isfinite(losses["loss"]):
            raise ConfigError(
                "detect.lr",
                f"loss became {losses['loss']} at step "
                f"{state['step']}; lower lr or enable grad_clip",
            )
        row = {
            "step": state["step"],
            "lr": scheduler.get_last_lr()[0],
            **losses,
            "seconds": time.perf_counter() - tick,
        }
        rows.append(row)
        if writer is not None:
            for key in ("loss", *LOSS_KEYS):
                writer.add_scalar(f"train/{key}", losses.get(key, float("nan")), state["step"])
        bar.update(1)
        bar.set_postfix(loss=f"{losses['loss']:.3f}")
        stop = state["step"] % config.eval_every == 0 and validate()
        if state["step"] % config.checkpoint_every == 0 or stop:
            checkpoint(last_path, full=True)
            write_csv_rows(out / "train_log.csv", rows)
        if stop:
            stop_reason = "early_stopping"
            break
        if stop_after is not None and state["step"] - first_step >= stop_after:
            bar.close()
            return {"stopped_at": state["step"]}
    bar.close()
    steps_done = state["step"] - first_step
    elapsed = time.perf_counter() - started
    if not any(r.get("step") == state["step"] and "val_score" in r for r in rows):
        validate()
    if best_blob is None:  # no validation split: the final model
        checkpoint(out / "model.pt", full=False)
    elif not (out / "model.pt").is_file():  # resumed after model.pt was deleted
        save_checkpoint(out / "model.pt", best_blob)
    checkpoint(last_path, full=True)
    write_csv_rows(out / "train_log.csv", rows)
    plot_loss_curves(rows, out / "loss_curves.png")
    final: dict[str, Any] = next((r for r in reversed(rows) if "val_score" in r), {})
    summary = {
        "steps": state["step"],
        "stop_reason": stop_reason,
        "best_score": state["best_score"],
        "best_step": state["best_step"],
        "final_validation": final,
        "seconds_per_step": elapsed / steps_done if steps_done else None,
        "train_images": len(train_set),
        "val_images": len(val_set) if val_set is not None else 0,
        "device": str(device),
        "dataset": str(root),
        "skysift": meta,
    }
    with atomic_path(out / "train_summary.json") as tmp:
        tmp.write_text(json.dumps(json_safe(summary), indent=1, allow_nan=False))
    if writer is not None:
        writer.close()
    return summary
