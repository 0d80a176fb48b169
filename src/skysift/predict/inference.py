"""Run a detector on tiles: raw Jy/beam windows -> detections ("pieces") in map pixels.

A *tile predictor* is any callable that takes raw tiles and returns per-tile detections
(:class:`TilePredictor`); :class:`DetectorPredictor` is the real one (the one normaliser with the
checkpoint's spec, then the Mask R-CNN). Tests use fake predictors with the same interface to
check tiling and merging exactly. :func:`detect_batch` turns predictor output into
:class:`Piece` objects: masks cropped to the map window, blanked pixels removed, cut to their
bounding box, and flagged when they touch a tile border that lies inside the map.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from skysift.data.config import NormalisationSpec
from skysift.data.normalise import normalise
from skysift.detect.config import MASK_THRESHOLD
from skysift.detect.thresholds import label_thresholds, select_detections
from skysift.predict.lazymap import LazyMap
from skysift.predict.tiling import Tile

if TYPE_CHECKING:  # torch is imported only by the real predictor (fakes and MPI tests skip it)
    import torch
    from torchvision.models.detection import MaskRCNN

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TileDetections:
    """Detections of one tile, in tile pixels.

    Attributes
    ----------
    labels
        Class name of each detection, length N.
    scores
        Shape (N,), in [0, 1].
    masks
        Shape (N, size, size), bool.
    """

    labels: list[str]
    scores: np.ndarray
    masks: np.ndarray


class TilePredictor(Protocol):
    """What whole-map prediction needs from a model.

    ``size_pix`` is the tile side; ``classes`` the class names. A call takes raw tiles, each
    shape (size_pix, size_pix) float32 Jy/beam with NaN for blanked or padded pixels, and
    returns one :class:`TileDetections` per tile.
    """

    size_pix: int
    classes: list[str]

    def __call__(self, tiles: Sequence[np.ndarray]) -> list[TileDetections]: ...


#: /proc/cpuinfo flags of CPUs that compute bfloat16 matrix products natively.
NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_has_native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether the CPU flags (Linux ``/proc/cpuinfo``) include AVX-512 BF16 or AMX-BF16; False
    where the file cannot be read (other systems)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(NATIVE_BF16_CPU_FLAGS & set(line.split(":", 1)[-1].split()))
    return False


#: Environment variables that cap the instruction set of oneDNN (PyTorch's CPU convolutions).
ONEDNN_ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")


def onednn_allows_bf16(environ: Mapping[str, str] | None = None) -> bool:
    """Whether oneDNN may use the CPU's bfloat16 instructions: False when ``ONEDNN_MAX_CPU_ISA``
    (or the older ``DNNL_MAX_CPU_ISA``) caps it below them (``AVX2``, ``AVX512_CORE``,
    ``AVX512_CORE_VNNI`` ...); then bfloat16 would be emulated, slower than float32."""
    environ = os.environ if environ is None else environ
    value = next((environ[k] for k in ONEDNN_ISA_VARIABLES if environ.get(k)), "").upper()
    if value in ("", "ALL", "DEFAULT"):
        return True
    return any(tag in value for tag in ("BF16", "AMX", "FP16", "AVX10"))


def resolve_precision(
    precision: str,
    device: torch.device,
    cpuinfo: str | Path = "/proc/cpuinfo",
    environ: Mapping[str, str] | None = None,
) -> str:
    """``float32`` or ``bfloat16``: the given one, or for ``auto`` bfloat16 where ``device``
    computes it natively (CUDA with bf16 support; a CPU per :func:`cpu_has_native_bf16`, unless
    ``environ``, default ``os.environ``, caps oneDNN below it: :func:`onednn_allows_bf16`)."""
    import torch

    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    if device.type == "cpu" and cpu_has_native_bf16(cpuinfo) and onednn_allows_bf16(environ):
        return "bfloat16"
    return "float32"


def scale_budgets(model: MaskRCNN, tile_pix: int, area_ratio: float) -> None:
    """Make an eval-mode Mask R-CNN take ``tile_pix`` tiles unresized, with its per-image
    proposal and detection budgets (test mode) scaled by ``area_ratio``."""
    transform = model.transform
    transform.min_size = (tile_pix,)
    transform.max_size = tile_pix
    rpn = model.rpn
    for budget in ("_pre_nms_top_n", "_post_nms_top_n"):
        values = getattr(rpn, budget)
        setattr(rpn, budget, {**values, "testing": max(1, round(values["testing"] * area_ratio))})
    heads = model.roi_heads
    heads.detections_per_img = max(1, round(heads.detections_per_img * area_ratio))


class DetectorPredictor:
    """A trained skysift detector as a :class:`TilePredictor`.

    Each raw tile is normalised by :func:`skysift.data.normalise.normalise` with the
    checkpoint's spec (exactly the training preprocessing of a cutout), the batch goes through
    the model in inference mode, and detections with ``score >=`` their class's threshold are kept,
    masks thresholded at probability 0.5. The model's own ``roi_heads.score_thresh`` is raised
    to the threshold (same detections, no mask-head work for boxes that would be dropped).

    Parameters
    ----------
    model
        Detector in eval mode (from :func:`skysift.detect.checkpoint.load_detector`).
    meta
        The checkpoint's ``skysift`` block (classes, normalisation, size_pix).
    score_threshold
        Minimum score: one for every class, or one per class name
        (:func:`skysift.detect.thresholds.class_thresholds`).
    device
        Torch device of the model.
    precision
        ``float32`` (exact), ``bfloat16`` (autocast: faster where the CPU has AVX-512 BF16
        or AMX, and on GPUs; detections differ slightly) or ``auto``
        (:func:`resolve_precision`); the one used is ``self.precision``.
    max_proposals
        At most this many RPN proposals kept after NMS per tile of the training cutout size
        (default: the model's ``rpn_post_nms_top_n_test``, never raised); a larger tile gets
        this many times the area ratio, like the model's own budgets. Fewer is faster (box head
        and RoIAlign scale with it) and may miss objects in crowded tiles.
    tile_pix
        Tile side (default: the training cutout size ``meta["size_pix"]``). A different side
        sets the model's resize to that side (no resampling: pixels keep the training scale)
        and scales the per-image budgets (RPN proposals before and after NMS, detections per
        image) by the area ratio, so a large tile keeps the budget per pixel of training.
    """

    def __init__(
        self,
        model: MaskRCNN,
        meta: dict[str, Any],
        *,
        score_threshold: float | Mapping[str, float],
        device: str | torch.device = "cpu",
        precision: str = "float32",
        max_proposals: int | None = None,
        tile_pix: int | None = None,
    ) -> None:
        import torch

        self.model = model.eval()
        self.classes = list(meta["classes"])
        trained = int(meta["size_pix"])
        self.size_pix = int(tile_pix or trained)
        area_ratio = (self.size_pix / trained) ** 2
        if self.size_pix != trained:
            scale_budgets(self.model, self.size_pix, area_ratio)
        self.spec = NormalisationSpec.model_validate(meta["normalisation"])
        if isinstance(score_threshold, Mapping):
            self.score_thresholds = {name: float(score_threshold[name]) for name in self.classes}
        else:
            self.score_thresholds = dict.fromkeys(self.classes, float(score_threshold))
        self.label_cuts = label_thresholds(self.score_thresholds, self.classes)
        self.nms_iou = float(self.model.roi_heads.nms_thresh)  # also across classes
        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        self.autocast_dtype = torch.bfloat16 if self.precision == "bfloat16" else None
        if max_proposals is not None:
            rpn = self.model.rpn
            cap = max(1, round(max_proposals * area_ratio))
            budget = min(rpn._post_nms_top_n["testing"], cap)
            rpn._post_nms_top_n = {**rpn._post_nms_top_n, "testing": budget}
        # Boxes below the threshold are dropped anyway: drop them inside the model, before NMS
        # and the mask head (same kept detections, far less mask-head work). torchvision keeps
        # score > score_thresh; the float32 just below the threshold makes that ">= threshold".
        roi_heads = self.model.roi_heads
        lowest = min(self.score_thresholds.values())
        below = float(np.nextafter(np.float32(lowest), np.float32(0)))
        roi_heads.score_thresh = max(float(roi_heads.score_thresh), below)
        roi_heads.postprocess_detections = self._reported_only(roi_heads.postprocess_detections)

    def _reported_only(self, postprocess: Callable[..., Any]) -> Callable[..., Any]:
        """The model's box post-processing, then the per-class thresholds and one per place.

        torchvision's cut is one number (the lowest class threshold); applying each class's own
        and the one-per-place rule before the mask head spares it the boxes that would be
        dropped anyway (the same detections as selecting afterwards).
        """

        def reported(*args: Any) -> tuple[list[Any], list[Any], list[Any]]:
            all_boxes, all_scores, all_labels = postprocess(*args)
            out: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
            for boxes, scores, labels in zip(all_boxes, all_scores, all_labels, strict=True):
                keep = select_detections(boxes, labels, scores, self.label_cuts, self.nms_iou)
                out[0].append(boxes[keep])
                out[1].append(scores[keep])
                out[2].append(labels[keep])
            return out

        return reported

    def __call__(self, tiles: Sequence[np.ndarray]) -> list[TileDetections]:
        import torch

        if not tiles:
            return []
        images = [torch.from_numpy(normalise(tile, self.spec)).to(self.device) for tile in tiles]
        autocast = (
            contextlib.nullcontext()
            if self.autocast_dtype is None
            else torch.autocast(self.device.type, dtype=self.autocast_dtype)
        )
        with torch.inference_mode(), autocast:
            outputs = self.model(images)
        # the model's output is already what is reported (_reported_only ran inside it)
        return [
            TileDetections(
                labels=[self.classes[int(k) - 1] for k in output["labels"].cpu().numpy()],
                scores=output["scores"].float().cpu().numpy().astype(np.float64),
                masks=(output["masks"][:, 0].float() > MASK_THRESHOLD).cpu().numpy(),
            )
            for output in outputs
        ]


@dataclass(frozen=True)
class Piece:
    """One detection of one tile, in map pixels.

    Attributes
    ----------
    tile
        Index of the tile it comes from.
    label
        Class name.
    score
        Detection score.
    y0, x0
        Map pixel (0-based) of ``mask[0, 0]``.
    mask
        Bool (h, w), cut to the detection's bounding box.
    truncated
        The mask touches a tile border that lies inside the map (the object may go on in the
        neighbouring tile).
    """

    tile: int
    label: str
    score: float
    y0: int
    x0: int
    mask: np.ndarray
    truncated: bool

    @property
    def y1(self) -> int:
        """Bounding box end row (exclusive)."""
        return self.y0 + self.mask.shape[0]

    @property
    def x1(self) -> int:
        """Bounding box end column (exclusive)."""
        return self.x0 + self.mask.shape[1]


def read_tile(lazy_map: LazyMap, tile: Tile, size: int) -> np.ndarray | None:
    """Raw tile (size, size) float32 Jy/beam, NaN-padded; None when every pixel is blank."""
    window = lazy_map.window(tile.y0, tile.y1, tile.x0, tile.x1)
    if not np.isfinite(window).any():
        return None
    if window.shape == (size, size):
        return window
    padded = np.full((size, size), np.nan, dtype=np.float32)
    padded[: window.shape[0], : window.shape[1]] = window
    return padded


def pieces_of_tile(
    tile: Tile, raw: np.ndarray, detections: TileDetections, *, min_area_pix: int = 1
) -> list[Piece]:
    """Turn one tile's detections into pieces: valid pixels only, cropped, border flags.

    Parameters
    ----------
    tile
        The tile.
    raw
        Its raw pixels (size, size), NaN where blanked or padded (those pixels are removed
        from the masks).
    detections
        The predictor's output for this tile.
    min_area_pix
        Masks with fewer remaining pixels are dropped.
    """
    h, w = tile.shape
    valid = np.isfinite(raw[:h, :w])
    top, bottom, left, right = tile.inner
    pieces = []
    for label, score, full in zip(
        detections.labels, detections.scores, detections.masks, strict=True
    ):
        mask = full[:h, :w] & valid
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0 or int(mask.sum()) < min_area_pix:
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        ry0, ry1, cx0, cx1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        truncated = (top and ry0 == 0) or (bottom and ry1 == h)
        truncated = truncated or (left and cx0 == 0) or (right and cx1 == w)
        pieces.append(
            Piece(
                tile=tile.index,
                label=str(label),
                score=float(score),
                y0=tile.y0 + ry0,
                x0=tile.x0 + cx0,
                mask=np.ascontiguousarray(mask[ry0:ry1, cx0:cx1]),
                truncated=bool(truncated),
            )
        )
    return pieces


def detect_batch(
    lazy_map: LazyMap,
    tiles: Sequence[Tile],
    predictor: TilePredictor,
    *,
    min_area_pix: int = 1,
) -> tuple[list[Piece], int]:
    """Read, predict and convert one batch of tiles.

    Returns
    -------
    (pieces, n_predicted)
        Pieces in tile order then detection order, and how many tiles had data (all-NaN
        tiles are skipped without calling the model).
    """
    raws: list[np.ndarray] = []
    kept: list[Tile] = []
    for tile in tiles:
        raw = read_tile(lazy_map, tile, predictor.size_pix)
        if raw is not None:
            raws.append(raw)
            kept.append(tile)
    pieces: list[Piece] = []
    for tile, raw, detections in zip(kept, raws, predictor(raws), strict=True):
        pieces.extend(pieces_of_tile(tile, raw, detections, min_area_pix=min_area_pix))
    return pieces, len(kept)
