"""In-memory SSL cutout sets and their files (``cutouts.npz`` + ``dataset.json``).

A :class:`CutoutSet` holds raw pixels (Jy/beam for maps; the survey's own pixel values for
MiraBest PNG-derived images), never normalised ones: the one normaliser is applied when a model
reads them, with the spec stored in the model. Blanked (NaN) pixels are stored as 0, the
background level, and counted in ``meta``.

Folder layout written by :func:`save_cutout_set`::

    OUT/cutouts.npz    images (N, H, W) float32, labels (N,) int64 (-1 = unlabelled),
                       splits (N,) int8 (0 train, 1 val, 2 test), ids (N,) str, and for
                       simulated labelled sets masks (N, H, W) bool (the object's truth mask)
    OUT/dataset.json   kind, classes, counts per split and class, meta (sources, seed, ...)
    OUT/class_balance.md  the counts as a Markdown table
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skysift import __version__
from skysift.data.config import SPLITS
from skysift.data.cutouts import git_revision
from skysift.errors import InputFileError
from skysift.io.atomic import atomic_dir

log = logging.getLogger(__name__)

#: Label of an unlabelled image.
UNLABELLED = -1
#: Format version of the files.
FORMAT_VERSION = 1


@dataclass
class CutoutSet:
    """Cutouts with labels, splits and ids.

    Attributes
    ----------
    images
        Shape (N, H, W), float32, raw pixels, finite.
    labels
        Shape (N,), int64 class index into ``classes``; -1 = unlabelled.
    splits
        Shape (N,), int8: 0 train, 1 val, 2 test.
    ids
        N unique names (map_x_y, file name, ...).
    classes
        Class names (empty for unlabelled sets).
    kind
        ``labelled``, ``random``, ``curated``, ``mirabest`` or ``folder``.
    meta
        JSON-serialisable facts: sources, pixel scale (arcsec), seed, what was dropped.
    masks
        Shape (N, H, W), bool: the labelled object's truth mask (simulated sets), or None.
    """

    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    ids: list[str]
    classes: list[str]
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    masks: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.images = np.ascontiguousarray(self.images, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.splits = np.asarray(self.splits, dtype=np.int8)
        n = self.images.shape[0]
        if self.images.ndim != 3 or self.labels.shape != (n,) or self.splits.shape != (n,):
            raise ValueError(
                f"images (N, H, W), labels (N,) and splits (N,) disagree: {self.images.shape}, "
                f"{self.labels.shape}, {self.splits.shape}"
            )
        if len(self.ids) != n or len(set(self.ids)) != n:
            raise ValueError("ids must be N unique names")
        if self.labels.size and self.labels.max() >= max(len(self.classes), 0):
            raise ValueError(f"label {self.labels.max()} outside classes {self.classes}")
        if not np.all(np.isfinite(self.images)):
            raise ValueError("images must be finite (store blanked pixels as 0)")
        if self.masks is not None:
            self.masks = np.asarray(self.masks, dtype=bool)
            if self.masks.shape != self.images.shape:
                raise ValueError(f"masks {self.masks.shape} differ from images {self.images.shape}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: np.ndarray) -> CutoutSet:
        """The images at ``index`` (int array), same classes and meta."""
        index = np.asarray(index, dtype=np.int64)
        return CutoutSet(
            self.images[index],
            self.labels[index],
            self.splits[index],
            [self.ids[i] for i in index],
            list(self.classes),
            self.kind,
            dict(self.meta),
            None if self.masks is None else self.masks[index],
        )

    def split(self, name: str) -> CutoutSet:
        """The images of one split (``train``, ``val`` or ``test``)."""
        return self.subset(np.flatnonzero(self.splits == SPLITS.index(name)))

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per split and class (``unlabelled`` for label -1)."""
        out: dict[str, dict[str, int]] = {}
        names = [*self.classes, "unlabelled"]
        for s, split in enumerate(SPLITS):
            chosen = self.labels[self.splits == s]
            row = {name: int(np.sum(chosen == (i if i < len(self.classes) else UNLABELLED)))
                   for i, name in enumerate(names)}  # fmt: skip
            out[split] = {k: v for k, v in row.items() if v or k != "unlabelled"}
        return out


def finite_or_zero(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Float32 copy with non-finite pixels set to 0, and the fraction of finite pixels."""
    data = np.array(image, dtype=np.float32, copy=True)
    good = np.isfinite(data)
    data[~good] = 0.0
    return data, float(good.mean()) if good.size else 0.0


def counts_markdown(cutouts: CutoutSet) -> str:
    """Markdown table of images per class (rows) and split (columns)."""
    counts = cutouts.counts()
    names = list(dict.fromkeys(k for row in counts.values() for k in row))
    lines = ["| class | " + " | ".join(SPLITS) + " | all |", "|---|" + "---:|" * 4]
    for name in names:
        values = [counts[s].get(name, 0) for s in SPLITS]
        lines.append(f"| {name} | " + " | ".join(map(str, values)) + f" | {sum(values)} |")
    totals = [sum(counts[s].values()) for s in SPLITS]
    lines.append("| all | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    return "\n".join(lines) + "\n"


def save_cutout_set(cutouts: CutoutSet, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write a set as ``OUT/cutouts.npz``, ``OUT/dataset.json``, ``OUT/class_balance.md``.

    The folder appears only when complete (written under a temporary name, then renamed).
    """
    out = Path(out)
    document = {
        "format_version": FORMAT_VERSION,
        "kind": cutouts.kind,
        "classes": list(cutouts.classes),
        "n_images": len(cutouts),
        "image_shape": [int(n) for n in cutouts.images.shape[1:]],
        "counts": cutouts.counts(),
        "meta": cutouts.meta,
        "skysift_version": __version__,
        "git_revision": git_revision(),
    }
    arrays: dict[str, np.ndarray] = {
        "images": cutouts.images,
        "labels": cutouts.labels,
        "splits": cutouts.splits,
        "ids": np.array(cutouts.ids, dtype=str),
    }
    if cutouts.masks is not None:
        arrays["masks"] = cutouts.masks
    with atomic_dir(out, overwrite=overwrite) as tmp:
        np.savez(tmp / "cutouts.npz", **arrays)  # type: ignore[arg-type]
        (tmp / "dataset.json").write_text(json.dumps(document, indent=2) + "\n")
        (tmp / "class_balance.md").write_text(counts_markdown(cutouts))
    log.info("wrote %d %s cutouts to %s", len(cutouts), cutouts.kind, out)
    return out


def load_cutout_set(folder: str | Path) -> CutoutSet:
    """Read a folder written by :func:`save_cutout_set`.

    Raises
    ------
    InputFileError
        Missing or unreadable files, or arrays that disagree.
    """
    folder = Path(folder)
    if folder.is_file() and folder.name in ("dataset.json", "cutouts.npz"):
        folder = folder.parent
    doc_path, npz_path = folder / "dataset.json", folder / "cutouts.npz"
    for path in (doc_path, npz_path):
        if not path.is_file():
            raise InputFileError(path, "not found (make the set with `skysift ssl-dataset`)")
    try:
        document = json.loads(doc_path.read_text())
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("images", "labels", "splits", "ids")}
            masks = data["masks"] if "masks" in data.files else None
    except (OSError, ValueError, KeyError) as exc:
        raise InputFileError(folder, f"not a readable SSL cutout set ({exc})") from exc
    try:
        return CutoutSet(
            arrays["images"],
            arrays["labels"],
            arrays["splits"],
            [str(i) for i in arrays["ids"]],
            list(document.get("classes", [])),
            str(document.get("kind", "unknown")),
            dict(document.get("meta", {})),
            masks,
        )
    except ValueError as exc:
        raise InputFileError(folder, str(exc)) from exc


def stratified_fraction(
    labels: np.ndarray, fraction: float, *, seed: int, n_classes: int | None = None
) -> np.ndarray:
    """Indices of a stratified random subset: ``fraction`` of each class, at least one each.

    Parameters
    ----------
    labels
        Shape (N,), class indices >= 0.
    fraction
        In (0, 1]; 1 returns every index.
    seed
        Seed of the draw (same seed: same subset; subsets of a seed are not nested).
    n_classes
        Number of classes (default: ``labels.max() + 1``).

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices into ``labels``.
    """
    labels = np.asarray(labels)
    if fraction >= 1.0:
        return np.arange(labels.size, dtype=np.int64)
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    for c in range(n_classes if n_classes is not None else int(labels.max()) + 1):
        members = np.flatnonzero(labels == c)
        if members.size == 0:
            continue
        take = max(1, round(fraction * members.size))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
