"""Labelled sets from outside the simulator: MiraBest Confident and a user's image folder.

MiraBest (Porter & Scaife 2023) comes as CIFAR-style pickled batches (``data_batch_1..7`` =
train, ``test_batch`` = test; images (150, 150) uint8 of FIRST at 1.8"/px). The "Confident"
task keeps label codes 0, 1, 2 (FR I confident: standard, double-double, wide-angle tail) as
FR I and 5, 6 (FR II confident) as FR II: 729 train and 104 test images. The batches are
read with an unpickler that only builds numpy arrays and plain containers.

A user's set is a folder of FITS cutouts or images (PNG/JPEG, read as grey levels) and,
for labels, a CSV with a file-name column and a label column (optional ``split`` column:
train/val/test). Every problem (unreadable or empty image, unknown label, a CSV row without
its file) is one :class:`~skysift.errors.InputFileError` naming the file.
"""

from __future__ import annotations

import csv
import logging
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from skysift.data.config import SPLITS
from skysift.data.cutouts import load_cutout
from skysift.errors import InputFileError
from skysift.ssl.datasets import UNLABELLED, CutoutSet, finite_or_zero

log = logging.getLogger(__name__)

#: MiraBest Confident classes and the label codes (index into ``label_names``) of each.
MIRABEST_CLASSES: tuple[str, ...] = ("FRI", "FRII")
MIRABEST_CONFIDENT: dict[int, int] = {0: 0, 1: 0, 2: 0, 5: 1, 6: 1}
MIRABEST_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 8))
MIRABEST_TEST = "test_batch"
#: FIRST pixel scale of the MiraBest images, arcsec.
MIRABEST_PIXEL_ARCSEC = 1.8

#: File suffixes read as images (FITS first).
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: Column names accepted for the file and the label in a labels CSV.
FILE_COLUMNS = ("filename", "file", "image", "id", "name")
LABEL_COLUMNS = ("label", "class", "morphology")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only reconstructs numpy arrays, scalars and dtypes."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_batch(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputFileError(path, "MiraBest batch not found (skysift fetch-data mirabest)")
    try:
        with path.open("rb") as handle:
            batch = _ArrayUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise InputFileError(path, f"not a MiraBest batch ({exc})") from exc
    if not isinstance(batch, dict) or not {"data", "labels"} <= set(batch):
        raise InputFileError(path, "not a MiraBest batch (no 'data'/'labels')")
    return batch


def mirabest_candidates(folder: str | Path | None = None) -> list[Path]:
    """Where the MiraBest batches are looked for, in order.

    1. ``folder`` when given; 2. ``$SKYSIFT_SHARED_DATA/mirabest``, else
    ``../shared/data/mirabest`` relative to the working directory; 3. the fetch cache
    ``<cache>/mirabest/batches`` (``skysift fetch-data mirabest``).
    """
    from skysift.fetch.config import FetchConfig

    if folder is not None:
        return [Path(folder).expanduser()]
    shared_env = os.environ.get("SKYSIFT_SHARED_DATA")
    shared = Path(shared_env) if shared_env else Path.cwd().parent / "shared" / "data"
    return [shared / "mirabest", FetchConfig().cache_path() / "mirabest" / "batches"]


def find_mirabest(folder: str | Path | None = None) -> Path:
    """The first candidate folder that holds ``test_batch`` (see :func:`mirabest_candidates`)."""
    candidates = mirabest_candidates(folder)
    for candidate in candidates:
        if (candidate / MIRABEST_TEST).is_file():
            return candidate
    raise InputFileError(
        candidates[0],
        "MiraBest batches not found (looked in "
        + ", ".join(map(str, candidates))
        + "); run `skysift fetch-data mirabest` or set ssl.mirabest_dir",
    )


def _stem(name: str) -> str:
    base = Path(str(name)).name
    for suffix in (*FITS_SUFFIXES, *IMAGE_SUFFIXES):
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def mirabest_test_ids(folder: str | Path) -> set[str]:
    """File stems (``100_123.251+043.797_...``) of every MiraBest test image."""
    batch = _read_batch(Path(folder) / MIRABEST_TEST)
    return {_stem(str(n)) for n in batch.get("filenames", [])}


def load_mirabest(folder: str | Path) -> CutoutSet:
    """MiraBest Confident, its standard split: 729 train and 104 test images.

    Returns
    -------
    CutoutSet
        Kind ``mirabest``, classes ``FRI``, ``FRII``; images (N, 150, 150) float32 with the
        archive's 0-255 grey levels; split 0 (train) or 2 (test).
    """
    folder = Path(folder)
    images, labels, splits, ids = [], [], [], []
    for name in (*MIRABEST_TRAIN, MIRABEST_TEST):
        batch = _read_batch(folder / name)
        data = np.asarray(batch["data"])
        if data.ndim == 2 and data.shape[1] == 150 * 150:
            data = data.reshape(-1, 150, 150)
        codes = np.asarray(batch["labels"], dtype=int)
        names = batch.get("filenames") or [f"{name}_{i}" for i in range(len(codes))]
        if data.ndim != 3 or data.shape[0] != codes.size:
            raise InputFileError(folder / name, f"unexpected data shape {data.shape}")
        split = SPLITS.index("test") if name == MIRABEST_TEST else SPLITS.index("train")
        for image, code, file_name in zip(data, codes, names, strict=True):
            if int(code) in MIRABEST_CONFIDENT:
                images.append(image.astype(np.float32))
                labels.append(MIRABEST_CONFIDENT[int(code)])
                splits.append(split)
                ids.append(_stem(str(file_name)))
    meta = {
        "source": str(folder),
        "task": "MiraBest Confident: codes 0,1,2 -> FRI, 5,6 -> FRII",
        "pixel_scale_arcsec": MIRABEST_PIXEL_ARCSEC,
        "citation": "Porter & Scaife 2023, RASTI; Zenodo 4288837",
    }
    return CutoutSet(
        np.stack(images), np.asarray(labels), np.asarray(splits), ids,
        list(MIRABEST_CLASSES), "mirabest", meta,
    )  # fmt: skip


def image_files(folder: str | Path) -> list[Path]:
    """FITS and image files of a folder (not recursive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "not a folder of images")
    suffixes = (*FITS_SUFFIXES, *IMAGE_SUFFIXES)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffixes))


def read_image(path: str | Path) -> np.ndarray:
    """Pixels of one FITS cutout (Jy/beam) or image file (grey levels), shape (H, W) float32.

    Degenerate leading FITS axes (FREQ, STOKES) are squeezed; colour images become grey.

    Raises
    ------
    InputFileError
        Unreadable, not 2-D, empty (no finite pixel) or constant.
    """
    path = Path(path)
    if path.name.lower().endswith(FITS_SUFFIXES):
        data = load_cutout(path)
        while data.ndim > 2 and data.shape[0] == 1:
            data = data[0]
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as handle:
                data = np.asarray(handle.convert("F"), dtype=np.float32)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InputFileError(path, f"not a readable image ({exc})") from exc
    if data.ndim != 2 or min(data.shape) < 2:
        raise InputFileError(path, f"not a 2-D image (shape {data.shape})")
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise InputFileError(path, "empty image: no finite pixel")
    if finite.min() == finite.max():
        raise InputFileError(path, "empty image: every pixel has the same value")
    return data.astype(np.float32)


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Area-averaged (antialiased bilinear) resize of a (H, W) image to (size, size)."""
    import torch
    from torch.nn import functional as nnf

    if image.shape == (size, size):
        return image
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    out = nnf.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True)
    return out[0, 0].numpy()


def _column(header: Sequence[str], choices: Sequence[str], path: Path, what: str) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for choice in choices:
        if choice in lowered:
            return lowered[choice]
    raise InputFileError(
        path, f"no {what} column (expected one of {', '.join(choices)}; got {list(header)})"
    )


def read_labels_csv(
    path: str | Path, classes: Sequence[str] | None
) -> tuple[dict[str, tuple[str, str | None]], list[str]]:
    """File stem -> (label, split or None), and the class list (given, else sorted labels).

    Raises
    ------
    InputFileError
        Unreadable CSV, missing columns, a label not in ``classes``, a bad split name or a
        file listed twice.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "labels CSV not found")
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not a readable CSV ({exc})") from exc
    file_col = _column(header, FILE_COLUMNS, path, "file name")
    label_col = _column(header, LABEL_COLUMNS, path, "label")
    split_col = next((h for h in header if h.strip().lower() == "split"), None)
    labels: dict[str, tuple[str, str | None]] = {}
    for line, row in enumerate(rows, start=2):
        stem = _stem(str(row[file_col]).strip())
        label = str(row[label_col]).strip()
        split = (str(row[split_col] or "").strip().lower() or None) if split_col else None
        if classes is not None and label not in classes:
            raise InputFileError(
                path, f"line {line}: unknown label {label!r} (known: {', '.join(classes)})"
            )
        if split is not None and split not in SPLITS:
            raise InputFileError(path, f"line {line}: split {split!r} is not train, val or test")
        if stem in labels:
            raise InputFileError(path, f"line {line}: {stem!r} is listed twice")
        labels[stem] = (label, split)
    if not labels:
        raise InputFileError(path, "no labelled rows")
    names = list(classes) if classes is not None else sorted({v[0] for v in labels.values()})
    return labels, names


def load_folder(
    folder: str | Path,
    *,
    labels_csv: str | Path | None = None,
    classes: Sequence[str] | None = None,
    size: int | None = None,
) -> CutoutSet:
    """A user's folder of FITS cutouts or images, labelled by a CSV or unlabelled.

    Parameters
    ----------
    folder
        The images (not recursive).
    labels_csv
        CSV with a file column (``filename``/``file``/``image``/``id``/``name``; with or
        without suffix) and a label column (``label``/``class``/``morphology``); optional
        ``split``. Rows without split are train. Images not in the CSV are left out.
    classes
        Known labels in class order; default: the sorted labels of the CSV.
    size
        When the images do not share one shape, every one is resized to (size, size) (the
        model's preprocessing crops and resizes each image anyway); None: shapes must agree.

    Returns
    -------
    CutoutSet
        Kind ``folder``; ids are the file stems.
    """
    files = image_files(folder)
    if not files:
        raise InputFileError(Path(folder), "no FITS or image files (.fits, .png, .jpg ...)")
    labels: dict[str, tuple[str, str | None]] = {}
    names: list[str] = []
    if labels_csv is not None:
        labels, names = read_labels_csv(labels_csv, classes)
        stems = {_stem(p.name) for p in files}
        missing = sorted(set(labels) - stems)
        if missing:
            raise InputFileError(
                Path(labels_csv), f"{len(missing)} listed images not in {folder}: {missing[:5]}"
            )
        files = [p for p in files if _stem(p.name) in labels]
    raw = [finite_or_zero(read_image(path))[0] for path in files]
    shapes = {image.shape for image in raw}
    if len(shapes) > 1:
        if size is None:
            raise InputFileError(
                Path(folder), f"images of several shapes {sorted(shapes)[:3]}; pass a size"
            )
        raw = [resize_image(image, size) for image in raw]
    images, label_ids, splits, ids = [], [], [], []
    for path, image in zip(files, raw, strict=True):
        stem = _stem(path.name)
        label, split = labels.get(stem, (None, None))
        images.append(image)
        label_ids.append(names.index(label) if label is not None else UNLABELLED)
        splits.append(SPLITS.index(split or "train"))
        ids.append(stem)
    meta = {"source": str(folder), "labels_csv": None if labels_csv is None else str(labels_csv)}
    return CutoutSet(
        np.stack(images), np.asarray(label_ids), np.asarray(splits), ids, names, "folder", meta
    )


def model_inputs(source: str | Path, preprocess: Any) -> tuple[list[str], Any]:
    """Ids and preprocessed model inputs of a folder of images or an ``ssl-dataset`` folder.

    Parameters
    ----------
    source
        A folder of FITS cutouts/images (any sizes), or a folder holding ``cutouts.npz``.
    preprocess
        A :class:`skysift.ssl.augment.Preprocess` (the model's own).

    Returns
    -------
    (ids, inputs)
        File stems (or the set's ids) and a tensor (N, C, S, S).
    """
    import torch

    from skysift.ssl.datasets import load_cutout_set

    source = Path(source)
    if (source / "cutouts.npz").is_file():
        cutouts = load_cutout_set(source)
        return list(cutouts.ids), preprocess.batch(cutouts.images)
    files = image_files(source)
    if not files:
        raise InputFileError(source, "no FITS or image files (.fits, .png, .jpg ...)")
    arrays = [preprocess(finite_or_zero(read_image(p))[0]) for p in files]
    return [_stem(p.name) for p in files], torch.from_numpy(np.stack(arrays))
