"""Where the layouts of synthetic sources come from: the dataset's objects or the simulator.

``dataset``: windows of the cutout set's own objects of a class (with the neighbours lying wholly
inside the window, e.g. the bright parent of a sidelobe artefact), randomly rotated by 90 degrees
and flipped. ``simulator``: fresh objects of the class from the sky simulator's morphology
generator (``simulate`` settings of the project), drawn on maps holding that class only (plus the
bright compact parents that spurious patterns need).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from skysift.diffusion.windows import WindowSet, object_windows, stack_windows
from skysift.errors import ConfigError
from skysift.sky.config import SimulationConfig

log = logging.getLogger(__name__)

#: Section of ``simulate`` of each simulator class.
SIMULATOR_SECTIONS = {
    "compact": "compact",
    "extended": "extended",
    "extended-multi": "extended_multi",
    "diffuse": "diffuse",
    "spurious": "spurious",
}


Layout = tuple[np.ndarray, tuple[int, ...]]


def draw_layouts(
    windows: WindowSet, class_index: int, n: int, rng: np.random.Generator
) -> list[Layout]:
    """``n`` layouts of windows centred on class ``class_index`` (drawn with repetition), turned."""
    pool = np.flatnonzero((windows.labels == class_index) & ~windows.truncated)
    if pool.size == 0:
        raise ConfigError(
            "diffusion.sample.per_class",
            f"no whole (untruncated) object of class '{windows.classes[class_index]}' to take "
            "masks from; use mask_source: simulator",
        )
    out = []
    for i in rng.choice(pool, size=n, replace=True):
        layout = np.rot90(windows.layout[i], int(rng.integers(4)))
        if rng.integers(2):
            layout = layout[:, ::-1]
        out.append((np.ascontiguousarray(layout), windows.layout_labels[i]))
    return out


def simulator_windows(
    simulation: SimulationConfig,
    class_name: str,
    n_wanted: int,
    *,
    classes: Sequence[str],
    window_pix: int,
    min_mask_pix: int,
    seed: int,
    max_maps: int = 20,
) -> WindowSet:
    """Windows of ``n_wanted`` fresh simulated objects of ``class_name`` (exact emission, S/N).

    Raises
    ------
    ConfigError
        The class is not a simulator class or not among ``classes``, or too few objects fit.
    """
    from skysift.sky.simulate import simulate_sky

    if class_name not in SIMULATOR_SECTIONS:
        raise ConfigError(
            "diffusion.sample.mask_source",
            f"class '{class_name}' is not a simulator class {list(SIMULATOR_SECTIONS)}",
        )
    if any(c not in classes for c in (class_name, "compact")):
        raise ConfigError(
            "classes", f"simulator masks need the classes '{class_name}' and 'compact'"
        )
    update = simulation.model_dump()
    for name, section in SIMULATOR_SECTIONS.items():
        update[section]["count"] = n_wanted if name == class_name else 0
    if class_name == "spurious":
        update["compact"]["count"] = n_wanted
    config = SimulationConfig.model_validate(update)
    centre = {list(classes).index(class_name)}
    items: list[Any] = []
    skipped = {"too_large": 0, "too_small": 0}
    for i in range(max_maps):
        sky = simulate_sky(config, seed=seed * 1000 + 900 + i, name=f"masks{i}")
        rms = np.nan_to_num(sky.rms, nan=np.inf)
        snr = np.where(sky.segmentation > 0, sky.model / rms, 0.0).astype(np.float32)
        ids = [int(i) for i in sky.truth["id"]]
        labels = [list(classes).index(sky.classes_by_id[i]) for i in ids]
        masks = np.stack([sky.segmentation == i for i in ids])
        h, w = sky.segmentation.shape
        truncated = []
        for mask in masks:
            ys, xs = np.nonzero(mask)
            truncated.append(
                bool(
                    ys.size
                    and (ys.min() == 0 or xs.min() == 0 or ys.max() == h - 1 or xs.max() == w - 1)
                )
            )
        got, why = object_windows(
            snr,
            masks,
            labels,
            truncated,
            n_classes=len(classes),
            centre_classes=centre,
            window_pix=window_pix,
            min_mask_pix=min_mask_pix,
            name=f"masks{i}",
        )
        items.extend(item for item in got if not item.truncated)
        for key, value in why.items():
            skipped[key] += value
        if len(items) >= n_wanted:
            break
    if not items:
        raise ConfigError(
            "diffusion.sample.mask_source",
            f"the simulator made no '{class_name}' object that fits a {window_pix}-pixel window",
        )
    log.info("%d simulated '%s' layouts (skipped %s)", len(items), class_name, skipped)
    return stack_windows(items[:n_wanted], classes, skipped)
