"""Torch dataset over one split of a skysift COCO training set, and the step-indexed sampler.

An item is ``(image, target)``: ``image`` float32 tensor (C, H, W) in [0, 1] made by the dataset's
own normaliser (:func:`skysift.data.normalise.normalise` with the spec of ``dataset.json``) from
the raw Jy/beam cutout (augmented first when training), and ``target`` the torchvision dict
``boxes`` (N, 4) float32 x1, y1, x2, y2 pixels (pixel-edge convention, x2 = last column + 1),
``labels`` (N,) int64 1..K (index in the class list + 1), ``masks`` (N, H, W) uint8 and
``image_id`` (int, the COCO image id). Images without annotations give empty targets.

Sampling is a pure function of (seed, step): :class:`StepBatchSampler` yields the batches of
steps ``start_step .. max_steps - 1`` (with a per-sample augmentation seed), so a run resumed at
step ``s`` draws exactly the batches an uninterrupted run draws from step ``s`` on.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from torch.utils.data import Dataset, Sampler

from skysift.data.coco import decode_mask
from skysift.data.config import NormalisationSpec
from skysift.data.cutouts import load_cutout
from skysift.data.normalise import normalise
from skysift.detect.config import AugmentConfig
from skysift.detect.transforms import augment
from skysift.errors import ConfigError, InputFileError

log = logging.getLogger(__name__)

Target = dict[str, Any]
SampleKey = int | tuple[int, int]


@dataclass(frozen=True)
class DatasetInfo:
    """What ``dataset.json`` says about a training set.

    Attributes
    ----------
    root
        Dataset folder.
    classes
        Class names in category-id order (id = index + 1).
    normalisation
        The one normalisation of this dataset.
    size_pix
        Cutout side, pixels.
    """

    root: Path
    classes: list[str]
    normalisation: NormalisationSpec
    size_pix: int

    @property
    def in_channels(self) -> int:
        """Channels of a normalised image."""
        return len(self.normalisation.channels)


def read_dataset_info(root: str | Path) -> DatasetInfo:
    """Read and check ``root/dataset.json`` (written by ``skysift build-cutouts``)."""
    root = Path(root)
    path = root / "dataset.json"
    if not path.is_file():
        raise InputFileError(
            path, "dataset.json not found; is this a `skysift build-cutouts` folder?"
        )
    try:
        doc = json.loads(path.read_text())
        classes = [c["name"] for c in sorted(doc["classes"], key=lambda c: c["id"])]
        spec = NormalisationSpec.model_validate(doc["normalisation"])
        size = int(doc["size_pix"])
    except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
        raise InputFileError(path, f"not a valid skysift dataset description ({exc})") from exc
    return DatasetInfo(root=root, classes=classes, normalisation=spec, size_pix=size)


@dataclass(frozen=True)
class ImageRecord:
    """One cutout of the split and its annotations (labels 1..K, RLE masks)."""

    image_id: int
    path: Path
    height: int
    width: int
    labels: tuple[int, ...]
    rles: tuple[dict[str, Any], ...]


def dataset_files(root: Path, splits: Sequence[str]) -> list[Path]:
    """The files that define a set's ``splits``: ``dataset.json`` and each split's
    ``annotations/<split>.json`` (they name every cutout file and its normalisation)."""
    return [root / "dataset.json", *(root / "annotations" / f"{s}.json" for s in splits)]


def read_split(
    root: Path, split: str, classes: Sequence[str]
) -> tuple[list[ImageRecord], dict[str, Any]]:
    """Load ``annotations/<split>.json`` into image records with labels in ``classes``.

    Raises
    ------
    InputFileError
        The file is missing or malformed, or an annotation has an unknown category id.
    ConfigError
        An annotation's class is not in ``classes`` (the message names it).
    """
    path = root / "annotations" / f"{split}.json"
    if not path.is_file():
        raise InputFileError(path, f"annotations of split '{split}' not found")
    try:
        doc = json.loads(path.read_text())
        categories = {int(c["id"]): str(c["name"]) for c in doc["categories"]}
        images = doc["images"]
        annotations = doc["annotations"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputFileError(path, f"not a COCO annotation file ({exc})") from exc
    per_image: dict[int, list[tuple[int, dict[str, Any]]]] = {int(im["id"]): [] for im in images}
    for ann in annotations:
        category = int(ann["category_id"])
        if category not in categories:
            raise InputFileError(
                path, f"annotation {ann.get('id')} has unknown category {category}"
            )
        name = str(ann.get("class", categories[category]))
        if name != categories[category]:
            raise InputFileError(
                path,
                f"annotation {ann.get('id')}: class '{name}' disagrees with its category "
                f"'{categories[category]}'",
            )
        if name not in classes:
            raise ConfigError(
                "classes",
                f"class '{name}' in {path} is not among the classes {list(classes)}; add it to "
                "`classes` or rename it with cutouts.class_map and rebuild the cutouts",
            )
        image_id = int(ann["image_id"])
        if image_id not in per_image:
            raise InputFileError(
                path, f"annotation {ann.get('id')} refers to missing image {image_id}"
            )
        per_image[image_id].append((classes.index(name) + 1, ann["segmentation"]))
    records = [
        ImageRecord(
            image_id=int(im["id"]),
            path=root / im["file_name"],
            height=int(im["height"]),
            width=int(im["width"]),
            labels=tuple(label for label, _ in per_image[int(im["id"])]),
            rles=tuple(rle for _, rle in per_image[int(im["id"])]),
        )
        for im in images
    ]
    return records, doc


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """Boxes (N, 4) float32 x1, y1, x2, y2 (pixel edges) of non-empty masks (N, H, W)."""
    boxes = np.zeros((masks.shape[0], 4), dtype=np.float32)
    for i, mask in enumerate(masks):
        ys = np.flatnonzero(mask.any(axis=1))
        xs = np.flatnonzero(mask.any(axis=0))
        boxes[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return boxes


class CutoutDataset(Dataset[tuple[torch.Tensor, Target]]):
    """One split of a COCO cutout set as torchvision detection samples.

    Parameters
    ----------
    root
        Dataset folder (``dataset.json``, ``annotations/``, ``images/``).
    split
        ``train``, ``val`` or ``test``.
    classes
        Class list of the model (default: the dataset's); labels are index + 1 in it.
    normalisation
        Spec to apply (default: the dataset's).
    augment_config
        Augmentations, applied when an item is requested with a sample seed (see
        :class:`StepBatchSampler`); None = never.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        *,
        classes: Sequence[str] | None = None,
        normalisation: NormalisationSpec | None = None,
        augment_config: AugmentConfig | None = None,
    ) -> None:
        self.info = read_dataset_info(root)
        self.split = split
        self.classes = list(classes) if classes is not None else self.info.classes
        self.normalisation = normalisation or self.info.normalisation
        self.augment_config = augment_config
        self.records, _ = read_split(self.info.root, split, self.classes)

    def __len__(self) -> int:
        return len(self.records)

    def add_train_set(self, root: str | Path) -> int:
        """Append the ``train`` split of another set (e.g. synthetic sources of
        ``sample-diffusion``); returns the number of images added.

        Raises
        ------
        InputFileError
            Its normalisation or cutout size differs from this set's (its classes must be
            among this set's model classes: a ConfigError names an unknown one).
        """
        other = read_dataset_info(root)
        if other.normalisation != self.info.normalisation or other.size_pix != self.info.size_pix:
            raise InputFileError(
                other.root / "dataset.json",
                f"normalisation or cutout size ({other.size_pix} px) differs from "
                f"{self.info.root} ({self.info.size_pix} px): not an extra training set of it",
            )
        records, _ = read_split(other.root, "train", self.classes)
        offset = max((r.image_id for r in self.records), default=0)
        self.records.extend(replace(r, image_id=r.image_id + offset) for r in records)
        return len(records)

    def __getitem__(self, key: SampleKey) -> tuple[torch.Tensor, Target]:
        index, sample_seed = (key, None) if isinstance(key, int) else key
        record = self.records[index]
        image = load_cutout(record.path)
        if image.shape != (record.height, record.width):
            raise InputFileError(
                record.path, f"shape {image.shape} != ({record.height}, {record.width}) in COCO"
            )
        masks = np.zeros((len(record.rles), *image.shape), dtype=bool)
        for i, rle in enumerate(record.rles):
            masks[i] = decode_mask(rle)
        config = self.augment_config
        if sample_seed is not None and config is not None and config.enabled:
            image, masks = augment(image, masks, config, np.random.default_rng(sample_seed))
        keep = masks.reshape(len(masks), image.size).any(axis=1)
        masks = masks[keep]
        labels = np.asarray(record.labels, dtype=np.int64)[keep]
        pixels = normalise(image, self.normalisation)
        target: Target = {
            "boxes": torch.from_numpy(masks_to_boxes(masks)).reshape(-1, 4),
            "labels": torch.from_numpy(labels),
            "masks": torch.from_numpy(masks.astype(np.uint8)),
            "image_id": record.image_id,
        }
        return torch.from_numpy(pixels), target

    def image_weights(self) -> np.ndarray:
        """Class-balanced sampling weights, shape (n_images,), summing to 1.

        An image weighs 1 / (count of its rarest class in the split); images without objects
        weigh as much as the lightest image with objects.
        """
        counts = np.zeros(len(self.classes) + 1)
        for record in self.records:
            for label in record.labels:
                counts[label] += 1
        weights = np.array(
            [max((1.0 / counts[label] for label in r.labels), default=0.0) for r in self.records]
        )
        if len(weights) == 0:
            return weights
        positive = weights[weights > 0]
        weights[weights == 0] = positive.min() if positive.size else 1.0
        return weights / weights.sum()


def collate(
    batch: Sequence[tuple[torch.Tensor, Target]],
) -> tuple[list[torch.Tensor], list[Target]]:
    """Lists of images and targets (torchvision detection models take lists)."""
    return [item[0] for item in batch], [item[1] for item in batch]


def epoch_order(n: int, epoch: int, *, seed: int, weights: np.ndarray | None) -> np.ndarray:
    """Image indices of one epoch: a permutation, or ``n`` weighted draws with replacement."""
    rng = np.random.default_rng([seed, epoch])
    if weights is None:
        return rng.permutation(n)
    return rng.choice(n, size=n, replace=True, p=weights)


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(index, sample_seed)`` for optimisation steps ``start_step .. max_steps - 1``.

    Step ``s`` belongs to epoch ``s // steps_per_epoch`` and takes positions
    ``(s % steps_per_epoch) * batch_size ...`` of that epoch's order (:func:`epoch_order`); the
    sample seed derives from (seed, epoch, position). Everything is a function of the step.
    """

    def __init__(
        self,
        n_images: int,
        *,
        batch_size: int,
        seed: int,
        max_steps: int,
        start_step: int = 0,
        weights: np.ndarray | None = None,
    ) -> None:
        self.n_images = n_images
        self.batch_size = batch_size
        self.seed = seed
        self.max_steps = max_steps
        self.start_step = start_step
        self.weights = weights
        self.steps_per_epoch = max(1, math.ceil(n_images / batch_size))

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The batch of optimisation step ``step``."""
        epoch, position = divmod(step, self.steps_per_epoch)
        order = epoch_order(self.n_images, epoch, seed=self.seed, weights=self.weights)
        first = position * self.batch_size
        return [
            (int(order[p]), int(np.random.SeedSequence([self.seed, epoch, p]).generate_state(1)[0]))
            for p in range(first, min(first + self.batch_size, self.n_images))
        ]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.max_steps):
            yield self.batch(step)

    def __len__(self) -> int:
        return max(0, self.max_steps - self.start_step)
