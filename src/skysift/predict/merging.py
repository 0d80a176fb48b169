"""Border merging: detections of overlapping tiles -> one object per source.

Two pieces (detections of different tiles, :class:`~skysift.predict.inference.Piece`) belong to
one object when, **within the pixels both tiles see** (the intersection of the two tile
windows),

- their mask IoU reaches ``merge_iou`` (a duplicate in an overlap, or the two sides of an object
  cut by a tile border: each tile's part covers the same overlap pixels), or
- one of them is *truncated* (touches a tile border inside the map) and the other covers at
  least ``merge_containment`` of its pixels there (a cut fragment next to the whole object).

Restricting the comparison to the common window is what makes a cut object and its whole
version comparable: outside that window one tile cannot see the object at all. The same rule
joins the islands of an extended-multi object: a tile that sees only one island reports that
island, the tile that sees the object whole reports all islands; within their common window
both report the same pixels.

Candidate pairs come from a spatial hash of the pieces' bounding boxes on a grid of
``cell_pix`` cells (no all-pairs loop; cost ~ linear in the number of pieces), and linked pieces
are grouped with union-find (chains over several tiles, including the four tiles of a corner).
Pieces of the same tile are never linked directly: the model's own NMS separated them.

A merged object has the union of its pieces' masks. Its class and score are those of the
highest-scoring piece that is *not* truncated (a tile saw it whole); when every piece is
truncated (an object larger than the overlap) the class is a score-weighted vote over the pieces
(ties: first in the class list) and the score the highest piece score.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from skysift.predict.inference import Piece
from skysift.predict.tiling import Tile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergedObject:
    """One object of the map after merging.

    Attributes
    ----------
    y0, x0
        Map pixel (0-based) of ``mask[0, 0]``.
    mask
        Bool (h, w): union of the pieces' masks, cut to its bounding box.
    label
        Class name.
    score
        Score (see module docstring).
    pieces
        Indices of the merged pieces in the input list, ascending.
    n_tiles
        Number of distinct tiles that detected it.
    """

    y0: int
    x0: int
    mask: np.ndarray
    label: str
    score: float
    pieces: tuple[int, ...]
    n_tiles: int


class UnionFind:
    """Disjoint sets over ``0 .. n-1``; the smaller index is the root (deterministic)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        """Root of ``i`` (with path halving)."""
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        """Join the sets of ``i`` and ``j``."""
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _count_in(piece: Piece, y0: int, y1: int, x0: int, x1: int) -> int:
    """Mask pixels of ``piece`` inside the window ``[y0:y1, x0:x1]``."""
    ya, yb = max(y0, piece.y0), min(y1, piece.y1)
    xa, xb = max(x0, piece.x0), min(x1, piece.x1)
    if ya >= yb or xa >= xb:
        return 0
    return int(piece.mask[ya - piece.y0 : yb - piece.y0, xa - piece.x0 : xb - piece.x0].sum())


def overlap_in_window(
    a: Piece, b: Piece, window: tuple[int, int, int, int]
) -> tuple[int, int, int]:
    """Pixel counts within ``window`` (y0, y1, x0, x1): (|a & b|, |a|, |b|)."""
    y0, y1, x0, x1 = window
    area_a = _count_in(a, y0, y1, x0, x1)
    area_b = _count_in(b, y0, y1, x0, x1)
    ya, yb = max(y0, a.y0, b.y0), min(y1, a.y1, b.y1)
    xa, xb = max(x0, a.x0, b.x0), min(x1, a.x1, b.x1)
    if ya >= yb or xa >= xb or not area_a or not area_b:
        return 0, area_a, area_b
    inter = int(
        (
            a.mask[ya - a.y0 : yb - a.y0, xa - a.x0 : xb - a.x0]
            & b.mask[ya - b.y0 : yb - b.y0, xa - b.x0 : xb - b.x0]
        ).sum()
    )
    return inter, area_a, area_b


def linked(a: Piece, b: Piece, tiles: Sequence[Tile], *, iou: float, containment: float) -> bool:
    """Whether two pieces of different tiles are one object (module docstring rules)."""
    ta, tb = tiles[a.tile], tiles[b.tile]
    window = (max(ta.y0, tb.y0), min(ta.y1, tb.y1), max(ta.x0, tb.x0), min(ta.x1, tb.x1))
    if window[0] >= window[1] or window[2] >= window[3]:
        return False
    inter, area_a, area_b = overlap_in_window(a, b, window)
    if inter == 0:
        return False
    if inter / (area_a + area_b - inter) >= iou:
        return True
    return (a.truncated and inter / area_a >= containment) or (
        b.truncated and inter / area_b >= containment
    )


def candidate_pairs(pieces: Sequence[Piece], *, cell_pix: int = 32) -> list[tuple[int, int]]:
    """Pairs (i < j) of pieces from different tiles whose bounding boxes intersect.

    A spatial hash: every piece is entered in the grid cells its bounding box covers; only
    pieces sharing a cell are compared. Sorted, without duplicates.
    """
    grid: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, p in enumerate(pieces):
        for cy in range(p.y0 // cell_pix, (p.y1 - 1) // cell_pix + 1):
            for cx in range(p.x0 // cell_pix, (p.x1 - 1) // cell_pix + 1):
                grid[(cy, cx)].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in grid.values():
        for k, i in enumerate(members):
            a = pieces[i]
            for j in members[k + 1 :]:
                b = pieces[j]
                if a.tile == b.tile:
                    continue
                if a.y0 < b.y1 and b.y0 < a.y1 and a.x0 < b.x1 and b.x0 < a.x1:
                    pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def _choose_class(group: Sequence[Piece], classes: Sequence[str]) -> tuple[str, float]:
    whole = [p for p in group if not p.truncated]
    if whole:
        best = max(whole, key=lambda p: p.score)  # first maximum: lowest piece index
        return best.label, best.score
    votes: dict[str, float] = defaultdict(float)
    for p in group:
        votes[p.label] += p.score
    order = {name: k for k, name in enumerate(classes)}
    label = min(votes, key=lambda name: (-votes[name], order.get(name, len(order)), name))
    return label, max(p.score for p in group)


def union_mask(group: Sequence[Piece]) -> tuple[int, int, np.ndarray]:
    """(y0, x0, mask) of the union of the pieces' masks, cut to its bounding box."""
    y0, x0 = min(p.y0 for p in group), min(p.x0 for p in group)
    y1, x1 = max(p.y1 for p in group), max(p.x1 for p in group)
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for p in group:
        mask[p.y0 - y0 : p.y1 - y0, p.x0 - x0 : p.x1 - x0] |= p.mask
    return y0, x0, mask


def merge_pieces(
    pieces: Sequence[Piece],
    tiles: Sequence[Tile],
    *,
    classes: Sequence[str],
    merge_iou: float = 0.3,
    merge_containment: float = 0.6,
    cell_pix: int = 32,
) -> list[MergedObject]:
    """Merge the pieces of all tiles into objects.

    Parameters
    ----------
    pieces
        Detections of all tiles in map pixels, in a fixed order (tile, then detection).
    tiles
        The tile list the pieces' ``tile`` indices refer to.
    classes
        Class names in the model's order (tie-break of the class vote).
    merge_iou, merge_containment
        Link thresholds (module docstring).
    cell_pix
        Cell side of the spatial hash, pixels.

    Returns
    -------
    list of MergedObject
        Sorted by (bounding-box top row, left column, descending score, first piece).
    """
    finder = UnionFind(len(pieces))
    pairs = candidate_pairs(pieces, cell_pix=cell_pix)
    n_links = 0
    for i, j in pairs:
        if finder.find(i) != finder.find(j) and linked(
            pieces[i], pieces[j], tiles, iou=merge_iou, containment=merge_containment
        ):
            finder.union(i, j)
            n_links += 1
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(pieces)):
        groups[finder.find(i)].append(i)
    objects = []
    for members in groups.values():
        group = [pieces[i] for i in members]
        label, score = _choose_class(group, classes)
        y0, x0, mask = union_mask(group)
        objects.append(
            MergedObject(
                y0=y0,
                x0=x0,
                mask=mask,
                label=label,
                score=score,
                pieces=tuple(members),
                n_tiles=len({p.tile for p in group}),
            )
        )
    objects.sort(key=lambda o: (o.y0, o.x0, -o.score, o.pieces[0]))
    log.info(
        "merged %d pieces into %d objects (%d candidate pairs, %d links)",
        len(pieces), len(objects), len(pairs), n_links,
    )  # fmt: skip
    return objects
