"""DDPM training on source windows: class-balanced batches, EMA weights, checkpoints with resume.

Every random draw of step ``s`` (which windows, their flips/rotations, the diffusion noise and
time steps) comes from generators seeded by ``(seed, s)``, so a run resumed from ``last.pt``
continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.training_utils import EMAModel

from skysift.detect.dataset import dataset_files
from skysift.diffusion.config import DiffusionTrainConfig
from skysift.diffusion.model import (
    MODEL_VERSION,
    bin_max,
    bin_mean,
    build_unet,
    encode_snr,
    model_forward,
    save_model,
    train_scheduler,
)
from skysift.diffusion.windows import WindowSet, load_windows
from skysift.io.atomic import atomic_path, write_csv_rows
from skysift.io.resume import continues_same_run, files_sha256, read_training_state
from skysift.ssl.training import plot_loss, resolve_device, set_lr, warmup_cosine

log = logging.getLogger(__name__)


def object_mean_snr(windows: WindowSet) -> dict[str, np.ndarray]:
    """Per class, the mean S/N inside each object's own mask (one value per window)."""
    means = np.array(
        [
            float(s[m].mean()) if m.any() else 0.0
            for s, m in zip(windows.snr, windows.own, strict=True)
        ]
    )
    return {
        name: means[windows.labels == i]
        for i, name in enumerate(windows.classes)
        if (windows.labels == i).any()
    }


def typical_snr(windows: WindowSet) -> dict[str, float]:
    """Per class, the median over objects of the mean S/N inside the object's own mask."""
    return {name: float(np.median(v)) for name, v in object_mean_snr(windows).items()}


def class_weights(labels: np.ndarray) -> np.ndarray:
    """Sampling probability of each window: every class present is drawn equally often."""
    counts = np.bincount(labels)
    weights = 1.0 / counts[labels]
    return weights / weights.sum()


def batch_arrays(
    windows: WindowSet, step: int, config: DiffusionTrainConfig, probabilities: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows of ``step``: encoded targets (B, 1, W, W), masks (B, K, W, W), labels (B,)."""
    rng = np.random.default_rng([config.seed, step])
    index = rng.choice(len(windows), size=config.batch_size, p=probabilities)
    factor = config.model.downsample
    snr = bin_mean(windows.snr[index], factor)
    targets = encode_snr(snr, config.model).astype(np.float32)[:, None]
    masks = bin_max(windows.masks[index], factor).copy()
    if config.augment:
        for i in range(len(index)):
            k = int(rng.integers(4))
            flip = bool(rng.integers(2))
            t, m = np.rot90(targets[i], k, axes=(-2, -1)), np.rot90(masks[i], k, axes=(-2, -1))
            if flip:
                t, m = t[..., ::-1], m[..., ::-1]
            targets[i], masks[i] = t, m
    return targets, masks, windows.labels[index]


def loss_region(masks: np.ndarray, margin: int) -> np.ndarray:
    """(B, 1, h, w) float32: 1 within ``margin`` pixels of any mask channel, else 0."""
    from scipy import ndimage

    union = np.asarray(masks.any(axis=1))
    if margin:
        structure = np.zeros((1, 3, 3), bool)
        structure[0] = ndimage.generate_binary_structure(2, 1)
        union = ndimage.binary_dilation(union, structure=structure, iterations=margin)
    return union[:, None].astype(np.float32)


def _meta(config: DiffusionTrainConfig, windows: WindowSet, dataset: Path) -> dict[str, Any]:
    return {
        "kind": "diffusion",
        "version": MODEL_VERSION,
        "config": config.model.model_dump(),
        "train": config.model_dump(),
        "classes": windows.classes,
        "windows_per_class": windows.class_counts(),
        "typical_snr": typical_snr(windows),
        "dataset": str(dataset),
    }


#: Settings that may change between a run and its continuation.
RESUMABLE_KEYS = frozenset({"max_steps", "checkpoint_every", "log_every", "device"})


def _resumable_state(
    path: Path, config: DiffusionTrainConfig, data_sha256: str
) -> dict[str, Any] | None:
    """``last.pt`` when it holds this run (same settings and training data), else None."""
    state = read_training_state(path)
    if state is None or not continues_same_run(
        path,
        state,
        saved_settings=state["skysift"]["train"],
        settings=config.model_dump(),
        data_sha256=data_sha256,
        max_steps=config.max_steps,
        may_change=RESUMABLE_KEYS,
    ):
        return None
    return state


def train_diffusion(
    config: DiffusionTrainConfig,
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    resume: bool = True,
) -> dict[str, Any]:
    """Train on the windows of ``dataset_dir``; write model.pt, last.pt, logs into ``out_dir``.

    Returns the summary written to ``train_summary.json`` (steps, final loss, s/step).
    """
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    windows = load_windows(
        dataset_dir,
        window_pix=config.model.window_pix,
        splits=config.splits,
        classes=config.classes,
        min_mask_pix=config.min_mask_pix,
    )
    device = resolve_device(config.device, "diffusion.train.device")
    torch.manual_seed(config.seed)
    unet = build_unet(config.model, len(windows.classes)).to(device)
    ema = EMAModel(unet.parameters(), decay=config.ema_decay)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = train_scheduler(config.model)
    meta = _meta(config, windows, dataset_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    last = out_dir / "last.pt"
    step, rows = 0, []
    data_sha256 = files_sha256(dataset_files(dataset_dir, config.splits))
    state = _resumable_state(last, config, data_sha256) if resume else None
    if state is not None:
        unet.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        ema.load_state_dict(state["ema"])
        step, rows = int(state["step"]), list(json.loads(state["rows"]))
        log.info("resuming from %s at step %d", last, step)
    ema.to(device)
    probabilities = class_weights(windows.labels)
    conditioning = config.model.conditioning
    use_amp = config.amp and device.type == "cuda"
    log.info(
        "training a %.2fM-parameter %s-conditioned DDPM for %d steps on %s",
        sum(p.numel() for p in unet.parameters()) / 1e6,
        conditioning,
        config.max_steps,
        device,
    )
    unet.train()
    started = time.perf_counter()
    first_step = step
    while step < config.max_steps:
        targets, masks, labels = batch_arrays(windows, step, config, probabilities)
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        noise = torch.randn(targets.shape, generator=generator)
        timesteps = torch.randint(
            0, config.model.train_timesteps, (targets.shape[0],), generator=generator
        )
        clean = torch.from_numpy(targets)
        noisy = scheduler.add_noise(clean, noise, timesteps).to(device)
        lr = config.lr * warmup_cosine(step, config.max_steps, config.warmup_steps)
        set_lr(optimizer, lr)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            predicted = model_forward(
                unet,
                noisy,
                timesteps.to(device),
                masks=torch.from_numpy(masks).to(device) if conditioning == "mask" else None,
                labels=torch.from_numpy(labels).to(device) if conditioning == "class" else None,
            )
        squared = (predicted.float() - noise.to(device)) ** 2
        if conditioning == "mask" and config.loss_region == "mask":
            region = torch.from_numpy(loss_region(masks, config.loss_margin)).to(device)
            loss = (squared * region).sum() / region.sum().clamp(min=1.0)
        else:
            loss = squared.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), config.grad_clip)
        optimizer.step()
        ema.step(unet.parameters())
        step += 1
        rows.append({"step": step, "loss": float(loss.item()), "lr": lr})
        if step % config.log_every == 0 or step == config.max_steps:
            rate = (time.perf_counter() - started) / max(1, step - first_step)
            recent = np.mean([r["loss"] for r in rows[-config.log_every :]])
            log.info("step %d/%d loss %.4f (%.2f s/step)", step, config.max_steps, recent, rate)
        if step % config.checkpoint_every == 0 or step == config.max_steps:
            with atomic_path(last) as tmp:
                torch.save(
                    {
                        "model": unet.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "ema": ema.state_dict(),
                        "step": step,
                        "rows": json.dumps(rows),
                        "data_sha256": data_sha256,
                        "skysift": meta,
                    },
                    tmp,
                )
    seconds = time.perf_counter() - started
    sampler = copy.deepcopy(unet).cpu()
    ema.copy_to(sampler.parameters())
    meta["steps"] = step
    save_model(out_dir / "model.pt", sampler, meta)
    write_csv_rows(out_dir / "train_log.csv", rows)
    plot_loss(rows, out_dir / "loss_curve.png", title=f"DDPM ({conditioning} conditioning)")
    tail = rows[-max(1, len(rows) // 10) :]
    summary = {
        "steps": step,
        "windows": len(windows),
        "windows_per_class": windows.class_counts(),
        "skipped_objects": windows.skipped,
        "first_loss": rows[0]["loss"] if rows else None,
        "final_loss_mean_last_10pct": float(np.mean([r["loss"] for r in tail])) if rows else None,
        "s_per_step": seconds / max(1, step - first_step),
        "parameters": sum(p.numel() for p in unet.parameters()),
        "device": str(device),
        "batch_size": config.batch_size,
    }
    with atomic_path(out_dir / "train_summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    return summary
