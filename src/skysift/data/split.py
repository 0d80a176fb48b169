"""Train/val/test split by sky region, so that no object and no pixel is shared across splits.

Each map is cut into square blocks of ``region_block_pix`` pixels (the last row/column of blocks
may be smaller). The blocks of all maps are assigned to the splits in the configured fractions
by a seeded random permutation. An object belongs to the split of the block holding its centre;
a cutout lies fully inside one block, and a cutout that contains a mask pixel of an object of
another split is dropped (see :func:`cutout_leaks`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from skysift.data.config import SPLITS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Block:
    """A sky-region block of one map, half-open pixel ranges ``[y0, y1) x [x0, x1)``."""

    map_index: int
    y0: int
    y1: int
    x0: int
    x1: int
    split: int

    @property
    def split_name(self) -> str:
        """``train``, ``val`` or ``test``."""
        return SPLITS[self.split]


def block_edges(length: int, block_pix: int) -> list[tuple[int, int]]:
    """Half-open ranges ``[start, stop)`` of the blocks along one axis of ``length`` pixels."""
    return [(start, min(start + block_pix, length)) for start in range(0, length, block_pix)]


def split_counts(n_blocks: int, fractions: Sequence[float]) -> list[int]:
    """Blocks per split: largest-remainder rounding of ``fractions * n_blocks``.

    A split with a positive fraction that would get no block takes one from the largest split
    when that split has more than one, so small demo maps still yield all three splits.
    """
    exact = np.asarray(fractions, dtype=float) * n_blocks
    counts = np.floor(exact).astype(int)
    remainder = exact - counts
    for index in np.argsort(-remainder, kind="stable")[: n_blocks - int(counts.sum())]:
        counts[index] += 1
    for index, fraction in enumerate(fractions):
        if fraction > 0 and counts[index] == 0 and counts.max() > 1:
            counts[int(np.argmax(counts))] -= 1
            counts[index] += 1
    return [int(c) for c in counts]


def assign_splits(n_blocks: int, fractions: Sequence[float], *, seed: int) -> np.ndarray:
    """Split index (0 train, 1 val, 2 test) of each of ``n_blocks`` blocks.

    Parameters
    ----------
    n_blocks
        Number of blocks (all maps together).
    fractions
        Train, val and test fractions (sum 1).
    seed
        Seed of the permutation.

    Returns
    -------
    numpy.ndarray
        Shape (n_blocks,), int64.
    """
    counts = split_counts(n_blocks, fractions)
    for name, count, fraction in zip(SPLITS, counts, fractions, strict=True):
        if fraction > 0 and count == 0:
            log.warning("split %s gets no sky-region block (only %d blocks)", name, n_blocks)
    labels = np.repeat(np.arange(len(SPLITS)), counts)
    out = np.empty(n_blocks, dtype=np.int64)
    out[np.random.default_rng(seed).permutation(n_blocks)] = labels
    return out


def make_blocks(
    shapes: Sequence[tuple[int, int]],
    block_pix: int,
    fractions: Sequence[float],
    *,
    seed: int,
) -> list[list[Block]]:
    """Cut every map into blocks and assign all blocks jointly to the splits.

    Parameters
    ----------
    shapes
        Map shapes (ny, nx) in pixels, in map order.
    block_pix
        Block side in pixels.
    fractions
        Train, val, test fractions.
    seed
        Seed of the assignment.

    Returns
    -------
    list of list of Block
        Per map, its blocks in row-major order.
    """
    raw = [
        [
            (m, y0, y1, x0, x1)
            for y0, y1 in block_edges(ny, block_pix)
            for x0, x1 in block_edges(nx, block_pix)
        ]
        for m, (ny, nx) in enumerate(shapes)
    ]
    n_blocks = sum(len(blocks) for blocks in raw)
    labels = iter(assign_splits(n_blocks, fractions, seed=seed).tolist())
    return [[Block(*spec, split=next(labels)) for spec in blocks] for blocks in raw]


def block_split_image(shape: tuple[int, int], blocks: Sequence[Block]) -> np.ndarray:
    """Split index of every pixel of a map, shape (ny, nx), int8."""
    image = np.full(shape, -1, dtype=np.int8)
    for block in blocks:
        image[block.y0 : block.y1, block.x0 : block.x1] = block.split
    return image


def object_splits(
    ids: np.ndarray, x: np.ndarray, y: np.ndarray, split_image: np.ndarray
) -> dict[int, int]:
    """Split of each object: the split of the block holding its centre.

    Parameters
    ----------
    ids
        Object ids, shape (n,).
    x, y
        0-based centre pixel coordinates, shape (n,); centres off the map are clipped to it.
    split_image
        Output of :func:`block_split_image`.
    """
    ny, nx = split_image.shape
    xi = np.clip(np.rint(np.nan_to_num(np.asarray(x, dtype=float))), 0, nx - 1).astype(int)
    yi = np.clip(np.rint(np.nan_to_num(np.asarray(y, dtype=float))), 0, ny - 1).astype(int)
    return {int(i): int(split_image[b, a]) for i, a, b in zip(ids, xi, yi, strict=True)}


def cutout_origins(block: Block, size: int, stride: int) -> list[tuple[int, int]]:
    """Origins (y0, x0) of the cutouts of ``size`` pixels inside ``block``.

    Cutouts step by ``stride`` from the block's corner; where the steps leave a strip at the
    block's far edge uncovered, one more cutout flush with that edge is added. A block smaller
    than ``size`` along an axis yields no cutouts.
    """

    def starts(lo: int, hi: int) -> list[int]:
        if hi - lo < size:
            return []
        values = list(range(lo, hi - size + 1, stride))
        if values[-1] + size < hi:
            values.append(hi - size)
        return values

    return [(y0, x0) for y0 in starts(block.y0, block.y1) for x0 in starts(block.x0, block.x1)]


def cutout_leaks(segmentation_window: np.ndarray, split: int, splits_of: dict[int, int]) -> bool:
    """True if the window holds a mask pixel of an object that belongs to another split."""
    ids = np.unique(segmentation_window)
    return any(splits_of.get(int(i), split) != split for i in ids if i != 0)
