"""Training windows of the diffusion model: background-free emission (S/N) and class-coded masks.

A window is ``window_pix`` square, centred on one annotated object of a cutout set. Its target
is the cutout in units of the cutout's robust rms (S/N per pixel), kept inside the masks of all
objects in the window and zero elsewhere: the noise outside the sources is not modelled (it is
added back from real or simulated noise when a sample is used). The conditioning is one mask
channel per class. Pixels beyond the cutout edge are zero in both.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skysift.data.coco import decode_mask
from skysift.data.cutouts import load_cutout
from skysift.detect.dataset import ImageRecord, read_dataset_info, read_split
from skysift.detect.transforms import robust_rms
from skysift.errors import InputFileError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowSet:
    """Windows of one or more splits.

    Attributes
    ----------
    snr
        (N, W, W) float32, emission in units of the local rms inside the masks, 0 outside.
    masks
        (N, K, W, W) uint8, mask of every object in the window in the channel of its class.
    labels
        (N,) int64, class index (0..K-1) of the object the window is centred on.
    own
        (N, W, W) bool, mask of that object alone.
    layout
        (N, W, W) int16, the objects lying wholly inside the window numbered 1, 2, ... (the
        centred one is 1), 0 elsewhere: what a paste copies.
    layout_labels
        Per window, the class index of each numbered object.
    truncated
        (N,) bool, the centred object is cut by its cutout's edge: a training window (its mask
        ends where its emission does) but never a layout to paste.
    sources
        (N,) ``<image file>#<annotation index>`` of each window.
    classes
        The K class names.
    skipped
        Objects left out, by reason (too large for the window, too small).
    """

    snr: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    own: np.ndarray
    layout: np.ndarray
    layout_labels: list[tuple[int, ...]]
    truncated: np.ndarray
    sources: list[str]
    classes: list[str]
    skipped: dict[str, int]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_counts(self) -> dict[str, int]:
        """Windows per class name."""
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


def snr_image(image: np.ndarray, union: np.ndarray) -> tuple[np.ndarray, float]:
    """S/N of ``image`` inside ``union`` (0 outside, NaN -> 0) and the rms used, Jy/beam.

    The rms is the robust (MAD) rms of the finite pixels outside every mask.
    """
    background = image[~union & np.isfinite(image)]
    rms = robust_rms(background) if background.size >= 16 else robust_rms(image)
    if not rms > 0:
        return np.zeros_like(image, dtype=np.float32), 0.0
    snr = np.where(union & np.isfinite(image), image / rms, 0.0).astype(np.float32)
    return snr, rms


def crop(array: np.ndarray, cy: int, cx: int, size: int) -> np.ndarray:
    """``size`` x ``size`` window of the last two axes with its centre pixel at (cy, cx),
    zero-padded beyond the array."""
    h, w = array.shape[-2:]
    y0, x0 = cy - size // 2, cx - size // 2
    out = np.zeros((*array.shape[:-2], size, size), dtype=array.dtype)
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y0 + size, h), min(x0 + size, w)
    if sy1 > sy0 and sx1 > sx0:
        out[..., sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = array[..., sy0:sy1, sx0:sx1]
    return out


def truncated_flags(doc: dict[str, Any]) -> dict[int, list[bool]]:
    """Per image id, the ``truncated`` flag of its annotations in file order (as ``read_split``)."""
    flags: dict[int, list[bool]] = {}
    for ann in doc["annotations"]:
        flags.setdefault(int(ann["image_id"]), []).append(bool(ann.get("truncated", False)))
    return flags


@dataclass(frozen=True)
class _Item:
    snr: np.ndarray
    masks: np.ndarray
    label: int
    own: np.ndarray
    layout: np.ndarray
    layout_labels: tuple[int, ...]
    truncated: bool
    source: str


def object_windows(
    snr: np.ndarray,
    object_masks: np.ndarray,
    labels: Sequence[int],
    truncated: Sequence[bool],
    *,
    n_classes: int,
    centre_classes: set[int],
    window_pix: int,
    min_mask_pix: int,
    name: str,
) -> tuple[list[_Item], dict[str, int]]:
    """Windows centred on the objects of one image.

    ``snr`` is the emission in rms units (0 outside the masks), ``object_masks`` (M, H, W) bool,
    ``labels`` class indices 0..K-1. The layout of a window numbers the objects lying wholly
    inside it (1, 2, ...; the centred one first) with their class indices in ``layout_labels``.
    """
    skipped = {"too_large": 0, "too_small": 0}
    coded = np.zeros((n_classes, *snr.shape), dtype=np.uint8)
    for label, mask in zip(labels, object_masks, strict=True):
        coded[label][mask] = 1
    boxes = []
    for mask in object_masks:
        ys, xs = np.nonzero(mask)
        boxes.append((ys.min(), ys.max(), xs.min(), xs.max()) if ys.size else None)
    out = []
    for index, (label, mask) in enumerate(zip(labels, object_masks, strict=True)):
        if label not in centre_classes:
            continue
        box = boxes[index]
        if box is None or int(mask.sum()) < min_mask_pix:
            skipped["too_small"] += 1
            continue
        y_lo, y_hi, x_lo, x_hi = box
        if y_hi - y_lo + 1 > window_pix or x_hi - x_lo + 1 > window_pix:
            skipped["too_large"] += 1
            continue
        cy, cx = (y_lo + y_hi + 1) // 2, (x_lo + x_hi + 1) // 2
        y0, x0 = cy - window_pix // 2, cx - window_pix // 2
        layout = np.zeros((window_pix, window_pix), dtype=np.int16)
        members = [index] + [
            j
            for j, b in enumerate(boxes)
            if j != index
            and b is not None
            and not truncated[j]
            and b[0] >= y0
            and b[1] < y0 + window_pix
            and b[2] >= x0
            and b[3] < x0 + window_pix
        ]
        for number, j in enumerate(members, start=1):
            layout[crop(object_masks[j], cy, cx, window_pix) & (layout == 0)] = number
        out.append(
            _Item(
                snr=crop(snr, cy, cx, window_pix),
                masks=crop(coded, cy, cx, window_pix),
                label=int(label),
                own=crop(mask, cy, cx, window_pix),
                layout=layout,
                layout_labels=tuple(int(labels[j]) for j in members),
                truncated=bool(truncated[index]),
                source=f"{name}#{index}",
            )
        )
    return out, skipped


def record_windows(
    record: ImageRecord,
    truncated: Sequence[bool],
    *,
    n_classes: int,
    centre_classes: set[int],
    window_pix: int,
    min_mask_pix: int,
) -> tuple[list[_Item], dict[str, int]]:
    """Windows centred on the objects of one cutout (labels 1..K in ``record``)."""
    if not record.labels:
        return [], {}
    image = load_cutout(record.path)
    masks = np.stack([decode_mask(rle).astype(bool) for rle in record.rles])
    snr, rms = snr_image(image, np.asarray(masks.any(axis=0)))
    if rms == 0.0:
        return [], {}
    return object_windows(
        snr,
        masks,
        [label - 1 for label in record.labels],
        truncated,
        n_classes=n_classes,
        centre_classes=centre_classes,
        window_pix=window_pix,
        min_mask_pix=min_mask_pix,
        name=record.path.name,
    )


def stack_windows(
    items: Sequence[_Item], classes: Sequence[str], skipped: dict[str, int]
) -> WindowSet:
    """A :class:`WindowSet` of window items."""
    return WindowSet(
        snr=np.stack([i.snr for i in items]),
        masks=np.stack([i.masks for i in items]),
        labels=np.asarray([i.label for i in items], dtype=np.int64),
        own=np.stack([i.own for i in items]),
        layout=np.stack([i.layout for i in items]),
        layout_labels=[i.layout_labels for i in items],
        truncated=np.asarray([i.truncated for i in items], dtype=bool),
        sources=[i.source for i in items],
        classes=list(classes),
        skipped=skipped,
    )


def load_windows(
    dataset_dir: str | Path,
    *,
    window_pix: int,
    splits: Sequence[str] = ("train",),
    classes: Sequence[str] | None = None,
    min_mask_pix: int = 4,
) -> WindowSet:
    """Windows of every object of ``classes`` (default all) in ``splits`` of a cutout set.

    Raises
    ------
    InputFileError
        The set is not a `build-cutouts` folder, or holds no usable object.
    ConfigError
        A class of ``classes`` is not a class of the set.
    """
    info = read_dataset_info(dataset_dir)
    wanted = list(classes) if classes else list(info.classes)
    unknown = [c for c in wanted if c not in info.classes]
    if unknown:
        from skysift.errors import ConfigError

        raise ConfigError(
            "diffusion.train.classes", f"{unknown} not among the dataset classes {info.classes}"
        )
    centre = {info.classes.index(c) for c in wanted}
    items: list[_Item] = []
    skipped = {"too_large": 0, "too_small": 0}
    for split in splits:
        records, doc = read_split(info.root, split, info.classes)
        flags = truncated_flags(doc)
        for record in records:
            got, why = record_windows(
                record,
                flags.get(record.image_id, []),
                n_classes=len(info.classes),
                centre_classes=centre,
                window_pix=window_pix,
                min_mask_pix=min_mask_pix,
            )
            items.extend(got)
            for key, value in why.items():
                skipped[key] += value
    if not items:
        raise InputFileError(
            info.root,
            f"no object of {wanted} in splits {list(splits)} fits a {window_pix}-pixel window",
        )
    windows = stack_windows(items, info.classes, skipped)
    log.info(
        "%d windows of %d px from %s %s (per class %s; skipped %s)",
        len(windows),
        window_pix,
        info.root,
        list(splits),
        json.dumps(windows.class_counts()),
        skipped,
    )
    return windows
