"""One map, several finders: the map with each finder's class-coloured outlines, side by side.

What a user looks at first on a real map: skysift's whole-map objects next to PyBDSF's islands
(or any catalogue with a segmentation image), on the same pixels with the same stretch. Outlines
are those of :mod:`skysift.report.quicklook` (boundary pixels of each segment, class colours).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from astropy.io import fits
from astropy.table import Table

from skysift.classes import DEFAULT_CLASSES
from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path
from skysift.report.quicklook import draw_map_with_outlines, map_norm


@dataclass(frozen=True)
class FinderPanel:
    """One finder's objects on the map.

    Attributes
    ----------
    label
        Panel title (finder name).
    segmentation
        int (ny, nx) on the map grid, or already subsampled to the shown grid: object id per
        pixel, 0 = none.
    classes_by_id
        Class of every catalogue id.
    """

    label: str
    segmentation: np.ndarray
    classes_by_id: dict[int, str]


def read_panel(
    label: str,
    catalogue: str | Path,
    segmentation: str | Path,
    *,
    shape: tuple[int, int],
    step: int = 1,
) -> FinderPanel:
    """Read a finder's catalogue (``id``, ``class``) and segmentation, subsampled by ``step``.

    Raises
    ------
    InputFileError
        Missing columns, or a segmentation not on the map grid ``shape``.
    """
    table = Table.read(catalogue)
    missing = {"id", "class"} - set(table.colnames)
    if missing:
        raise InputFileError(catalogue, f"no column(s) {sorted(missing)} in the catalogue")
    with fits.open(segmentation, memmap=True) as hdul:
        data = hdul[0].data
        if data is None or tuple(data.shape[-2:]) != shape:
            got = None if data is None else tuple(data.shape)
            raise InputFileError(segmentation, f"shape {got} is not the map's {shape}")
        seg = np.array(data.reshape(shape)[::step, ::step], dtype=np.int64)
    classes = {int(i): str(c).strip() for i, c in zip(table["id"], table["class"], strict=True)}
    return FinderPanel(label=label, segmentation=seg, classes_by_id=classes)


def plot_finder_panels(
    path: str | Path,
    shown: np.ndarray,
    panels: Sequence[FinderPanel],
    *,
    step: int = 1,
    title: str = "",
    classes: Sequence[str] = DEFAULT_CLASSES,
    panel_inches: float = 6.5,
    dpi: int = 150,
) -> Path:
    """Write a PNG with one panel per finder: the same map, each finder's outlines.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    shown
        The map on the shown grid (subsampled by ``step``), Jy/beam, NaN grey.
    panels
        Finders, left to right; their segmentations on the shown grid.
    step
        Subsampling of ``shown`` relative to the map (axis labels).
    title
        Figure title.
    classes
        Class order of the legends.
    panel_inches
        Width of one panel, inches.
    dpi
        Resolution of the PNG.
    """
    ny, nx = shown.shape
    norm = map_norm(shown)
    width = panel_inches * max(1, len(panels))
    fig, axes = plt.subplots(
        1, max(1, len(panels)), figsize=(width, panel_inches * ny / nx + 0.8), squeeze=False
    )
    for ax, panel in zip(axes[0], panels, strict=False):
        if panel.segmentation.shape != shown.shape:
            raise ValueError(f"panel {panel.label!r}: segmentation not on the shown grid")
        draw_map_with_outlines(
            ax,
            shown,
            panel.segmentation,
            panel.classes_by_id,
            classes=classes,
            norm=norm,
            step=step,
            title=f"{panel.label}: {len(panel.classes_by_id)} objects",
        )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    return Path(path)
