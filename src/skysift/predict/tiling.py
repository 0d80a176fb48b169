"""Tiles of a map: the model's input size with an overlap, last tiles shifted inward.

Along an axis of ``n`` pixels, tiles of side ``size`` start at ``0, stride, 2 stride, ...``
(``stride = size - overlap``) and the last one starts at ``n - size`` (shifted inward so it ends
at the map edge; it overlaps its neighbour by more than ``overlap``). No tile is padded except
when the map itself is smaller than ``size`` along an axis: then the one tile covers the whole
axis and is padded with NaN before normalisation (the normaliser turns NaN into 0, as it does
for blanked pixels). Tiles are numbered in row-major order (y first), which fixes the order of
everything downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from skysift.errors import ConfigError


@dataclass(frozen=True)
class Tile:
    """One tile window of the map, 0-based pixels, end exclusive.

    Attributes
    ----------
    index
        Position in the row-major tile list.
    y0, y1, x0, x1
        Window ``[y0:y1, x0:x1]`` of the map (at most ``size`` pixels a side).
    inner
        Which edges (top = y0, bottom = y1, left = x0, right = x1) lie inside the map, i.e. are
        tile borders that can cut an object, as a tuple (top, bottom, left, right).
    """

    index: int
    y0: int
    y1: int
    x0: int
    x1: int
    inner: tuple[bool, bool, bool, bool]

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the window in pixels."""
        return self.y1 - self.y0, self.x1 - self.x0


def axis_starts(n: int, size: int, overlap: int) -> list[int]:
    """Start pixels of the tiles along one axis of ``n`` pixels.

    Parameters
    ----------
    n
        Axis length, pixels.
    size
        Tile side, pixels.
    overlap
        Minimum overlap of neighbouring tiles, pixels (``0 <= overlap < size``).
    """
    if n <= size:
        return [0]
    stride = size - overlap
    starts = list(range(0, n - size + 1, stride))
    if starts[-1] != n - size:
        starts.append(n - size)
    return starts


def make_tiles(shape: tuple[int, int], *, size: int, overlap: int) -> list[Tile]:
    """All tiles of a map of ``shape`` (ny, nx), row-major.

    Raises
    ------
    ConfigError
        ``predict.overlap_pix`` not below the tile size.
    """
    if not 0 <= overlap < size:
        raise ConfigError(
            "predict.overlap_pix",
            f"must be >= 0 and below the model's tile size {size} px (got {overlap})",
        )
    ny, nx = shape
    tiles: list[Tile] = []
    for y0 in axis_starts(ny, size, overlap):
        for x0 in axis_starts(nx, size, overlap):
            y1, x1 = min(ny, y0 + size), min(nx, x0 + size)
            inner = (y0 > 0, y1 < ny, x0 > 0, x1 < nx)
            tiles.append(Tile(len(tiles), y0, y1, x0, x1, inner))
    return tiles


def batches(n_tiles: int, batch_size: int) -> list[list[int]]:
    """Tile indices in fixed consecutive batches (the unit of work handed to a rank).

    Batches depend only on the tile list and the batch size, never on the number of ranks,
    so every tile is computed in the same batch however the work is shared.
    """
    return [
        list(range(start, min(n_tiles, start + batch_size)))
        for start in range(0, n_tiles, batch_size)
    ]
