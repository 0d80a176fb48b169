"""``sample-diffusion`` end to end: layouts -> emission stamps -> pasted cutouts -> COCO set."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from skysift.detect.dataset import read_dataset_info
from skysift.diffusion.compose import load_canvases, paste, write_synthetic_set
from skysift.diffusion.config import DiffusionModelConfig, SampleConfig
from skysift.diffusion.masks import Layout, draw_layouts, simulator_windows
from skysift.diffusion.plots import plot_samples
from skysift.diffusion.sample import Stamp, calibrate_brightness, model_stamps, paste_stamps
from skysift.diffusion.train import object_mean_snr, typical_snr
from skysift.diffusion.windows import WindowSet, load_windows
from skysift.errors import ConfigError, OutputExistsError
from skysift.sky.config import SimulationConfig
from skysift.ssl.training import resolve_device

log = logging.getLogger(__name__)


def _layouts(
    config: SampleConfig,
    windows: WindowSet,
    classes: list[str],
    window_pix: int,
    simulation: SimulationConfig | None,
    rng: np.random.Generator,
) -> list[Layout]:
    layouts: list[Layout] = []
    for name, n in config.per_class.items():
        if n == 0:
            continue
        if config.mask_source == "dataset":
            layouts.extend(draw_layouts(windows, classes.index(name), n, rng))
        else:
            assert simulation is not None
            fresh = simulator_windows(
                simulation,
                name,
                n,
                classes=classes,
                window_pix=window_pix,
                min_mask_pix=config.min_mask_pix,
                seed=config.seed,
            )
            layouts.extend(draw_layouts(fresh, classes.index(name), n, rng))
    return layouts


def sample_synthetic_set(
    config: SampleConfig,
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    model_path: str | Path | None,
    simulation: SimulationConfig | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Make the synthetic set of ``config`` from ``dataset_dir``; its counts."""
    dataset_dir = Path(dataset_dir)
    if Path(out_dir).exists() and not overwrite:  # before any sampling, not after it
        raise OutputExistsError(Path(out_dir))
    info = read_dataset_info(dataset_dir)
    unknown = [c for c in config.per_class if c not in info.classes]
    if unknown:
        raise ConfigError(
            "diffusion.sample.per_class", f"{unknown} not among the dataset classes {info.classes}"
        )
    unet, meta = None, None
    if config.generator == "diffusion":
        from skysift.diffusion.model import load_model

        unet, meta = load_model(model_path)  # type: ignore[arg-type]
        if list(meta["classes"]) != info.classes:
            raise ConfigError(
                "classes", f"{model_path} has classes {meta['classes']}, the dataset {info.classes}"
            )
        model_config = DiffusionModelConfig.model_validate(meta["config"])
        window_pix = model_config.window_pix
    else:
        model_config = DiffusionModelConfig()
        window_pix = config.window_pix
    windows = load_windows(
        dataset_dir,
        window_pix=window_pix,
        classes=list(config.per_class),
        min_mask_pix=config.min_mask_pix,
    )
    rng = np.random.default_rng(config.seed)
    layouts = _layouts(config, windows, info.classes, window_pix, simulation, rng)
    typical = {info.classes.index(k): v for k, v in typical_snr(windows).items()}
    if config.generator == "diffusion":
        device = resolve_device(config.device, "diffusion.sample.device")
        log.info(
            "sampling %d sources (DDIM %d steps) on %s",
            len(layouts),
            model_config.sample_steps,
            device,
        )
        generated = model_stamps(
            unet,
            model_config,
            layouts,
            n_classes=len(info.classes),
            seed=config.seed,
            batch_size=config.batch_size,
            device=device,
            mask_snr=config.mask_snr,
            min_mask_pix=config.min_mask_pix,
        )
        stamps: list[Stamp] = [s for s in generated if s is not None]
        if config.brightness == "empirical":
            pools = {info.classes.index(k): v for k, v in object_mean_snr(windows).items()}
            stamps = calibrate_brightness(stamps, pools, np.random.default_rng([config.seed, 1]))
    else:
        stamps = paste_stamps(layouts, typical)
    canvases = load_canvases(dataset_dir)
    placed = paste(
        canvases,
        stamps,
        rng=rng,
        margin_pix=config.margin_pix,
        max_tries=config.max_tries,
        sources_per_cutout=config.sources_per_cutout,
        min_visible_fraction=config.min_visible_fraction,
    )
    log.info("placed %d of %d stamps", sum(placed), len(stamps))
    provenance = {
        "model": str(model_path) if model_path else None,
        "mask_source": config.mask_source,
        "settings": config.model_dump(),
        "stamps": len(stamps),
        "placed": int(sum(placed)),
        "rejected_samples": len(layouts) - len(stamps),
    }
    counts = write_synthetic_set(
        canvases,
        out_dir,
        source_dataset=dataset_dir,
        classes=info.classes,
        generator=config.generator,
        provenance=provenance,
        overwrite=overwrite,
        figure=lambda folder: plot_samples(canvases, folder / "samples.png", classes=info.classes),
    )
    return counts
