"""Self-supervised pretraining loop: the engine of ``skysift ssl-pretrain``.

Each step draws ``batch_size`` images (seeded by the step), makes their radio views (each
sample's generator derived from seed, step and position, so a run is reproducible), computes
the method's loss, takes an AdamW step with the warm-up + cosine-to-zero schedule, and lets the
method update its momentum teacher. The exported trunk goes to ``backbone.pt``
(:mod:`skysift.ssl.checkpoint`) together with the config and the normalisation spec.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from skysift.data.cutouts import git_revision
from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path, write_csv_rows
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
) -> list[dict[str, Any]]:
    """Run ``steps`` optimisation steps of a schedule that lasts ``max_steps``.

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

    Returns
    -------
    list of dict
        Per step: ``step``, ``loss``, ``lr``, ``images_per_s`` (source images per second).
    """
    method.to(device).train()
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    batches = StepBatches(
        images, views, batch_size=batch_size, seed=seed, local=method.local_views, steps=steps
    )
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, shuffle=False, num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    progress_bar = tqdm(loader, desc=method.name, disable=None if progress else True)
    for step, batch in enumerate(progress_bar):
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
    return rows


def pretrain(config: SSLConfig, method_name: str, data: CutoutSet, out: Path) -> dict[str, Any]:
    """Pretrain one method on an unlabelled set; write the backbone, log, curve and summary.

    Writes ``out/backbone.pt``, ``out/train_log.csv``, ``out/loss_curve.png`` and
    ``out/summary.json``.

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
    start = time.perf_counter()
    rows = train_steps(
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
    )
    wall = time.perf_counter() - start
    losses = [r["loss"] for r in rows]
    tail = max(1, len(losses) // 10)
    summary: dict[str, Any] = {
        "method": method_name,
        "pretrain_data": data.kind,
        "n_images": len(data),
        "steps": len(rows),
        "first_loss": losses[0],
        "final_loss_mean_last_10pct": float(np.mean(losses[-tail:])),
        "images_per_s": float(len(rows) * cfg.batch_size / wall),
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
    out.mkdir(parents=True, exist_ok=True)
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
