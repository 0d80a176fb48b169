"""Self-supervised pretraining loop: the engine of ``skysift ssl-pretrain``.

Each step draws ``batch_size`` images (seeded by the step), makes their radio views (each
sample's generator derived from seed, step and position, so a run is reproducible), computes
the method's loss, takes an AdamW step with the warm-up + cosine-to-zero schedule, and lets the
method update its momentum teacher. The exported trunk goes to ``backbone.pt``
(:mod:`skysift.ssl.checkpoint`) together with the config and the normalisation spec.

Every ``pretrain.checkpoint_every`` steps the whole state (method incl. heads and momentum
teacher, optimiser, step, log) goes to ``last.pt``; a killed run started again with the same
settings and images resumes there and ends with the same weights as an unbroken run (the batches
and views of step k depend only on the seed and k); a ``last.pt`` of other pretraining settings
or images is another run, which starts afresh (:mod:`skysift.io.resume`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from skysift.data.cutouts import git_revision
from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path, write_csv_rows
from skysift.io.resume import array_sha256, continues_same_run, read_training_state
from skysift.ssl.augment import RadioViews, batch_views
from skysift.ssl.checkpoint import backbone_metadata, save_backbone
from skysift.ssl.config import SSLConfig
from skysift.ssl.datasets import CutoutSet
from skysift.ssl.models import SSLMethod, build_method
from skysift.ssl.training import (
    plot_loss,
    resolve_device,
    sample_rngs,
    set_lr,
    warmup_cosine,
)

log = logging.getLogger(__name__)

CheckpointHook = Callable[[int, torch.optim.Optimizer, list[dict[str, Any]]], None]
"""``hook(steps_done, optimizer, rows_of_this_run)``: saves the full state."""


def make_method(config: SSLConfig, name: str) -> SSLMethod:
    """The configured method with a backbone seeded from ``config.seed``."""
    return build_method(
        name,
        backbone_name=config.backbone,
        in_channels=len(config.normalisation.channels),
        config=config.pretrain,
        seed=config.seed,
        local_views=config.views.local_crops if name == "dino" else 0,
    )


class StepBatches(torch.utils.data.Dataset[list[torch.Tensor]]):
    """Item ``k`` = the views of step ``k``'s batch, a pure function of (seed, k).

    So the batches are the same whether they are made in the main process or by any number of
    DataLoader workers (which keep the CPU-side view making off the GPU's critical path).
    """

    def __init__(
        self, images: np.ndarray, views: RadioViews, *, batch_size: int, seed: int, local: int,
        steps: int,
    ) -> None:  # fmt: skip
        self.images, self.views, self.batch_size = images, views, batch_size
        self.seed, self.local, self.steps = seed, local, steps

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> list[torch.Tensor]:
        n = self.images.shape[0]
        rng = np.random.default_rng([self.seed, step, 1 << 30])  # apart from the view streams
        index = rng.choice(n, size=self.batch_size, replace=n < self.batch_size)
        rngs = sample_rngs(self.seed, step, self.batch_size)
        return batch_views(self.views, self.images[index], rngs, local=self.local)


def train_steps(
    method: SSLMethod,
    images: np.ndarray,
    views: RadioViews,
    *,
    steps: int,
    max_steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    warmup_steps: int,
    seed: int,
    device: torch.device,
    num_workers: int = 0,
    progress: bool = False,
    start_step: int = 0,
    optimizer_state: dict[str, Any] | None = None,
    on_checkpoint: CheckpointHook | None = None,
    checkpoint_every: int = 0,
    log_every: int = 0,
) -> list[dict[str, Any]]:
    """Run steps ``start_step .. steps - 1`` of a schedule that lasts ``max_steps``.

    Parameters
    ----------
    method
        The SSL method (moved to ``device``, left in train mode).
    images
        Raw cutouts, shape (N, H, W).
    views
        The view maker.
    steps, max_steps
        Steps to run now, and the length of the learning-rate and momentum schedules.
    num_workers
        DataLoader processes making the views (0: in this process); same batches either way.
    start_step, optimizer_state
        Where a resumed run starts, and its optimiser's saved state.
    on_checkpoint, checkpoint_every
        Called as ``on_checkpoint(steps_done, optimizer, rows_of_this_call)`` every
        ``checkpoint_every`` steps and after the last one (0: never).
    log_every
        A log line (loss, images/s) every this many steps (0: none).

    Returns
    -------
    list of dict
        Per step run: ``step``, ``loss``, ``lr``, ``images_per_s`` (source images per second).
    """
    method.to(device).train()
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    batches = StepBatches(
        images, views, batch_size=batch_size, seed=seed, local=method.local_views, steps=steps
    )
    todo = torch.utils.data.Subset(batches, range(start_step, steps))
    loader = torch.utils.data.DataLoader(
        todo, batch_size=None, shuffle=False, num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    start = first = time.perf_counter()
    progress_bar = tqdm(loader, desc=method.name, disable=None if progress else True)
    for step, batch in enumerate(progress_bar, start=start_step):
        factor = warmup_cosine(step, max_steps, warmup_steps)
        set_lr(optimizer, lr * factor)
        loss = method.loss([v.to(device) for v in batch])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{method.name} loss is {loss.item()} at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        method.after_step(step, max_steps)
        elapsed, start = time.perf_counter() - start, time.perf_counter()
        rows.append(
            {
                "step": step,
                "loss": float(loss.item()),
                "lr": lr * factor,
                "images_per_s": batch_size / elapsed if elapsed > 0 else float("nan"),
            }
        )
        done = step + 1
        if log_every and (done % log_every == 0 or done == steps):
            recent = np.mean([r["loss"] for r in rows[-log_every:]])
            rate = len(rows) * batch_size / (time.perf_counter() - first)
            log.info(
                "%s step %d/%d loss %.4f (%.1f images/s)", method.name, done, steps, recent, rate
            )
        if on_checkpoint and checkpoint_every and (done % checkpoint_every == 0 or done == steps):
            on_checkpoint(done, optimizer, rows)
    return rows


PRETRAINING_KEYS = ("backbone", "image_pix", "crop_fraction", "normalisation", "views", "seed")
RESUME_FREE = ("max_steps", "checkpoint_every", "log_every", "num_workers")


def _pretraining_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that shape pretraining (``PRETRAINING_KEYS`` and ``pretrain.*``), flat;
    the downstream ones (probe, finetune, tasks) are not among them."""
    flat = {k: config.get(k) for k in PRETRAINING_KEYS}
    flat.update({f"pretrain.{k}": v for k, v in config.get("pretrain", {}).items()})
    return flat


def _resumable_state(
    path: Path, config: SSLConfig, method_name: str, data_sha256: str
) -> dict[str, Any] | None:
    """``last.pt`` when it holds this run (same method, settings and images), else None."""
    state = read_training_state(path)
    if state is None or not continues_same_run(
        path,
        state,
        saved_settings={
            "method": state["method"],
            **_pretraining_settings(json.loads(state["config"])),
        },
        settings={"method": method_name, **_pretraining_settings(config.model_dump(mode="json"))},
        data_sha256=data_sha256,
        max_steps=config.pretrain.max_steps,
        may_change={f"pretrain.{k}" for k in RESUME_FREE},
    ):
        return None
    return state


def pretrain(
    config: SSLConfig, method_name: str, data: CutoutSet, out: Path, *, resume: bool = True
) -> dict[str, Any]:
    """Pretrain one method on an unlabelled set; write the backbone, log, curve and summary.

    Writes ``out/backbone.pt``, ``out/train_log.csv``, ``out/loss_curve.png``,
    ``out/summary.json``, and ``out/last.pt`` (the full state; resumed from when ``resume``).

    Returns
    -------
    dict
        The summary (steps, first/last loss, images/s, wall time).
    """
    if len(data) < 2:
        raise InputFileError(Path(out), f"{data.kind} set has {len(data)} images; need >= 2")
    device = resolve_device(config.device)
    method = make_method(config, method_name)
    views = RadioViews(config.views, config.normalisation, config.image_pix, config.crop_fraction)
    cfg = config.pretrain
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    step, done_rows, optimizer_state = 0, [], None
    data_sha256 = array_sha256(data.images)
    state = _resumable_state(last, config, method_name, data_sha256) if resume else None
    if state is not None:
        method.load_state_dict(state["model"])
        optimizer_state = state["optimizer"]
        step, done_rows = int(state["step"]), list(json.loads(state["rows"]))
        log.info("resuming %s from %s at step %d", method_name, last, step)

    def save_state(done: int, optimizer: torch.optim.Optimizer, new: list[dict[str, Any]]) -> None:
        with atomic_path(last) as tmp:
            torch.save(
                {
                    "model": method.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": done,
                    "rows": json.dumps(done_rows + new),
                    "method": method_name,
                    "n_images": len(data),
                    "data_sha256": data_sha256,
                    "config": json.dumps(config.model_dump(mode="json")),
                },
                tmp,
            )

    start = time.perf_counter()
    rows = done_rows + train_steps(
        method,
        data.images,
        views,
        steps=cfg.max_steps,
        max_steps=cfg.max_steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps,
        seed=config.seed,
        device=device,
        num_workers=cfg.num_workers,
        progress=True,
        start_step=step,
        optimizer_state=optimizer_state,
        on_checkpoint=save_state,
        checkpoint_every=cfg.checkpoint_every,
        log_every=cfg.log_every,
    )
    wall = time.perf_counter() - start
    ran = len(rows) - len(done_rows)
    losses = [r["loss"] for r in rows]
    tail = max(1, len(losses) // 10)
    summary: dict[str, Any] = {
        "method": method_name,
        "pretrain_data": data.kind,
        "n_images": len(data),
        "steps": len(rows),
        "first_loss": losses[0],
        "final_loss_mean_last_10pct": float(np.mean(losses[-tail:])),
        "resumed_at_step": step,
        "images_per_s": float(ran * cfg.batch_size / wall) if ran else float("nan"),
        "wall_s": wall,
        "device": str(device),
        "git_revision": git_revision(),
    }
    meta = backbone_metadata(
        backbone=config.backbone,
        spec=config.normalisation,
        feature_dim=method.dim,
        image_pix=config.image_pix,
        crop_fraction=config.crop_fraction,
        method=method_name,
        pretrain_data=data.kind,
        ssl_config=config.model_dump(mode="json"),
        steps=len(rows),
        final_loss=summary["final_loss_mean_last_10pct"],
    )
    write_csv_rows(out / "train_log.csv", rows)
    plot_loss(rows, out / "loss_curve.png", title=f"{method_name} on {data.kind} cutouts")
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    save_backbone(out / "backbone.pt", method.export_backbone(), meta)
    log.info(
        "%s on %d %s cutouts: %d steps, loss %.3f -> %.3f, %.1f images/s",
        method_name,
        len(data),
        data.kind,
        len(rows),
        summary["first_loss"],
        summary["final_loss_mean_last_10pct"],
        summary["images_per_s"],
    )
    return summary
