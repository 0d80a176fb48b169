"""Tiling, border merging (hand-built pieces), segmentation and DS9 outlines of predict-map."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from scipy import ndimage
from skimage.measure import approximate_polygon, find_contours

from skysift.errors import ConfigError
from skysift.io.regions_io import read_regions, region_class
from skysift.predict.inference import Piece, TileDetections, pieces_of_tile
from skysift.predict.merging import candidate_pairs, linked, merge_pieces
from skysift.predict.regions import outlines, simplify_polyline, write_regions
from skysift.predict.segmentation import (
    segmentation_image,
    subsampled_segmentation,
    write_segmentation,
)
from skysift.predict.tiling import Tile, axis_starts, batches, make_tiles
from skysift.predict.toy import toy_header

CLASSES = ["compact", "extended", "extended-multi"]


# --- tiling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "size", "overlap", "expected"),
    [
        (64, 64, 16, [0]),
        (40, 64, 16, [0]),  # smaller than a tile: one (padded) tile
        (112, 64, 16, [0, 48]),
        (150, 64, 16, [0, 48, 86]),  # last tile shifted inward: ends at 150
        (97, 64, 0, [0, 33]),
    ],
)
def test_axis_starts(n: int, size: int, overlap: int, expected: list[int]) -> None:
    assert axis_starts(n, size, overlap) == expected


def test_tiles_of_a_map_not_square_nor_a_multiple_cover_every_pixel_with_overlap() -> None:
    shape, size, overlap = (150, 97), 64, 16
    tiles = make_tiles(shape, size=size, overlap=overlap)
    assert len(tiles) == 3 * 2 and [t.index for t in tiles] == list(range(6))
    cover = np.zeros(shape, dtype=int)
    for t in tiles:
        assert t.shape == (64, 64)  # never padded when the map is larger than a tile
        assert 0 <= t.y0 < t.y1 <= shape[0] and 0 <= t.x0 < t.x1 <= shape[1]
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
    assert cover.min() >= 1
    # neighbours overlap by at least `overlap` pixels
    for a, b in itertools.pairwise(tiles):
        if a.y0 == b.y0:
            assert a.x1 - b.x0 >= overlap
    first, last = tiles[0], tiles[-1]
    assert first.inner == (False, True, False, True)
    assert last.inner == (True, False, True, False)


def test_overlap_must_be_below_the_tile_size() -> None:
    with pytest.raises(ConfigError, match=r"predict.overlap_pix.*below the model's tile size 64"):
        make_tiles((100, 100), size=64, overlap=64)


def test_batches_are_fixed_by_tile_count_and_batch_size() -> None:
    assert batches(7, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches(0, 3) == []


def test_pieces_of_a_tile_drop_blank_pixels_and_flag_inner_borders() -> None:
    tile = Tile(index=4, y0=48, y1=112, x0=48, x1=112, inner=(True, True, True, False))
    raw = np.zeros((64, 64), dtype=np.float32)
    raw[:, 60:] = np.nan
    masks = np.zeros((3, 64, 64), dtype=bool)
    masks[0, 0:5, 10:15] = True  # touches the top border (inside the map): truncated
    masks[1, 20:25, 58:64] = True  # touches the right border = map edge, and NaN there
    masks[2, 30:31, 30:31] = True  # one pixel: below min_area_pix
    pieces = pieces_of_tile(
        tile,
        raw,
        TileDetections(["compact", "extended", "compact"], np.array([0.9, 0.8, 0.7]), masks),
        min_area_pix=2,
    )
    assert len(pieces) == 2
    assert pieces[0].truncated and (pieces[0].y0, pieces[0].x0) == (48, 58)
    assert not pieces[1].truncated
    assert pieces[1].mask.shape == (5, 2) and pieces[1].x1 == 48 + 60  # NaN columns removed


# --- merging --------------------------------------------------------------------------------


def _disk(cy: float, cx: float, r: float, shape: tuple[int, int]) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _pieces_from_tiles(
    truth: np.ndarray, tiles: list[Tile], label: str = "compact", score: float = 0.9
) -> list[Piece]:
    """What an exact detector reports in each tile: each island of the truth cut to the tile."""
    pieces = []
    for tile in tiles:
        islands, n = ndimage.label(truth[tile.y0 : tile.y1, tile.x0 : tile.x1])
        full = np.zeros((n, 64, 64), dtype=bool)
        full[:, : islands.shape[0], : islands.shape[1]] = (
            islands == np.arange(1, n + 1)[:, None, None]
        )
        raw = np.zeros((64, 64), dtype=np.float32)
        detections = TileDetections([label] * n, np.full(n, score), full)
        pieces += pieces_of_tile(tile, raw, detections)
    return pieces


def test_an_object_on_a_tile_corner_larger_than_the_overlap_becomes_one_object() -> None:
    shape = (112, 112)
    tiles = make_tiles(shape, size=64, overlap=16)  # 2 x 2 tiles, corner region 48..64
    truth = _disk(56, 56, 20, shape)  # radius 20 > overlap 16: no tile sees it whole
    pieces = _pieces_from_tiles(truth, tiles)
    assert len(pieces) == 4 and all(p.truncated for p in pieces)
    objects = merge_pieces(pieces, tiles, classes=CLASSES)
    assert len(objects) == 1
    obj = objects[0]
    rebuilt = np.zeros(shape, dtype=bool)
    rebuilt[obj.y0 : obj.y0 + obj.mask.shape[0], obj.x0 : obj.x0 + obj.mask.shape[1]] = obj.mask
    assert np.array_equal(rebuilt, truth)  # union of the four quarters = the object
    assert obj.n_tiles == 4 and obj.pieces == (0, 1, 2, 3)


def test_duplicates_in_an_overlap_are_kept_once_and_neighbours_stay_apart() -> None:
    shape = (112, 112)
    tiles = make_tiles(shape, size=64, overlap=16)
    one = _disk(56, 56, 4, shape)  # inside the 4-tile corner overlap: four identical copies
    two = _disk(56, 66, 3, shape)  # 10 px away, not touching
    pieces = _pieces_from_tiles(one, tiles) + _pieces_from_tiles(two, tiles, "extended", 0.8)
    objects = merge_pieces(pieces, tiles, classes=CLASSES)
    assert len(objects) == 2
    assert sorted(int(o.mask.sum()) for o in objects) == sorted([int(two.sum()), int(one.sum())])
    assert {o.label for o in objects} == {"compact", "extended"}


def test_class_comes_from_the_best_whole_piece_else_a_score_weighted_vote() -> None:
    tiles = make_tiles((64, 112), size=64, overlap=16)  # two tiles side by side, overlap 48..64
    whole = Piece(1, "extended-multi", 0.7, 20, 50, np.ones((6, 10), bool), truncated=False)
    cut = Piece(0, "compact", 0.95, 20, 50, np.ones((6, 10), bool)[:, :10], truncated=True)
    objects = merge_pieces([cut, whole], tiles, classes=CLASSES)
    assert len(objects) == 1
    assert (objects[0].label, objects[0].score) == ("extended-multi", 0.7)
    # all pieces truncated: score-weighted vote (0.5 + 0.45 extended vs 0.9 compact)
    a = Piece(0, "extended", 0.5, 20, 40, np.ones((6, 24), bool), truncated=True)
    b = Piece(1, "compact", 0.9, 20, 48, np.ones((6, 30), bool), truncated=True)
    c = Piece(1, "extended", 0.45, 40, 50, np.ones((3, 3), bool), truncated=False)
    objects = merge_pieces([a, b], tiles, classes=CLASSES)
    assert len(objects) == 1 and objects[0].label == "compact"  # 0.9 > 0.5
    a2 = Piece(0, "extended", 0.5, 20, 40, np.ones((6, 24), bool), truncated=True)
    d = Piece(0, "extended", 0.5, 21, 40, np.ones((4, 24), bool), truncated=True)
    objects = merge_pieces([a2, d, b, c], tiles, classes=CLASSES)
    assert len(objects) == 2  # c is elsewhere; a2, d (same tile) joined through b
    merged = next(o for o in objects if o.n_tiles == 2)
    assert merged.label == "extended" and merged.score == 0.9  # 1.0 extended vs 0.9 compact


def test_pieces_of_one_tile_are_never_linked_directly() -> None:
    tiles = make_tiles((64, 112), size=64, overlap=16)
    a = Piece(0, "compact", 0.9, 10, 10, np.ones((5, 5), bool), truncated=False)
    b = Piece(0, "compact", 0.8, 12, 12, np.ones((5, 5), bool), truncated=False)
    assert candidate_pairs([a, b]) == []
    assert len(merge_pieces([a, b], tiles, classes=CLASSES)) == 2


def test_link_is_judged_only_inside_the_pixels_both_tiles_see() -> None:
    tiles = make_tiles((64, 112), size=64, overlap=16)  # common window x in [48, 64)
    # tile 1 sees a long object [48, 100); tile 0 its part [30, 64): IoU over both masks is
    # low, inside the common window it is 1
    left = Piece(0, "extended", 0.8, 10, 30, np.ones((4, 34), bool), truncated=True)
    right = Piece(1, "extended", 0.9, 10, 48, np.ones((4, 52), bool), truncated=False)
    assert linked(left, right, tiles, iou=0.9, containment=1.0)
    far = Piece(1, "extended", 0.9, 30, 48, np.ones((4, 52), bool), truncated=False)
    assert not linked(left, far, tiles, iou=0.1, containment=0.1)


def test_spatial_index_finds_exactly_the_intersecting_pairs() -> None:
    rng = np.random.default_rng(3)
    pieces = []
    for _ in range(300):
        y0, x0 = (int(v) for v in rng.integers(0, 400, 2))
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        pieces.append(
            Piece(int(rng.integers(0, 9)), "compact", 0.5, y0, x0, np.ones((h, w), bool), False)
        )
    brute = sorted(
        (i, j)
        for i, a in enumerate(pieces)
        for j, b in enumerate(pieces)
        if i < j
        and a.tile != b.tile
        and a.y0 < b.y1
        and b.y0 < a.y1
        and a.x0 < b.x1
        and b.x0 < a.x1
    )
    assert candidate_pairs(pieces, cell_pix=16) == brute == candidate_pairs(pieces, cell_pix=64)


# --- outputs --------------------------------------------------------------------------------


def test_subsampled_segmentation_equals_the_full_one_subsampled() -> None:
    tiles = make_tiles((150, 131), size=64, overlap=16)
    truth = _disk(70, 60, 25, (150, 131)) | _disk(10, 120, 6, (150, 131))
    objects = merge_pieces(_pieces_from_tiles(truth, tiles), tiles, classes=CLASSES)
    full = segmentation_image(objects, (150, 131))
    assert set(np.unique(full)) == {0, 1, 2}
    for step in (1, 3, 7):
        assert np.array_equal(
            subsampled_segmentation(objects, (150, 131), step), full[::step, ::step]
        )


def test_region_file_outlines_read_back_with_class_and_enclose_the_mask(tmp_path: Path) -> None:
    tiles = make_tiles((100, 100), size=64, overlap=16)
    truth = _disk(30, 30, 8, (100, 100)) | _disk(30, 52, 5, (100, 100))
    objects = merge_pieces(
        _pieces_from_tiles(truth, tiles, label="extended-multi"), tiles, classes=CLASSES
    )
    assert len(objects) == 2  # separate disks, same class: two objects (not touching)
    path = write_regions(tmp_path / "r.reg", objects, CLASSES)
    regions = read_regions(path)
    assert len(regions) == 2
    assert all(region_class(r.meta) == "extended-multi" for r in regions)
    assert regions[0].visual["edgecolor"] in ("#E69F00", "#e69f00")
    # the DS9 polygon (1-based) encloses the disk: vertices lie 0.5 px around the mask pixels
    poly = outlines(objects[0].mask, objects[0].y0, objects[0].x0)[0]
    assert poly[:, 0].min() == pytest.approx(30 - 8 - 0.5, abs=0.01)
    assert poly[:, 0].max() == pytest.approx(30 + 8 + 0.5, abs=0.01)
    # `regions` turns DS9's 1-based image coordinates back into 0-based pixels
    vertices = regions[0].vertices
    assert float(np.min(vertices.x)) == pytest.approx(30 - 8 - 0.5, abs=0.01)
    line = next(t for t in path.read_text().splitlines() if t.startswith("polygon("))
    numbers = [float(v) for v in line[len("polygon(") : line.index(")")].split(",")]
    assert min(numbers[0::2]) == pytest.approx(30 - 8 - 0.5 + 1)  # file: 1-based x


def _distance_to_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0.0, 1.0))
    return float(np.hypot(*(p - (a + t * ab))))


def test_outline_simplification_keeps_skimage_vertices_within_the_tolerance() -> None:
    rng = np.random.default_rng(3)
    n_checked = 0
    for _ in range(40):
        shape = tuple(int(v) for v in rng.integers(3, 40, size=2))
        blobs = ndimage.gaussian_filter(rng.random(shape), rng.uniform(0.5, 3.0))
        mask = blobs > np.quantile(blobs, rng.uniform(0.3, 0.9))
        for contour in find_contours(np.pad(mask.astype(np.float32), 1), 0.5):
            simple = simplify_polyline(contour, 0.25)
            np.testing.assert_array_equal(simple, approximate_polygon(contour, 0.25))
            assert np.array_equal(simple[0], contour[0]) and np.array_equal(simple[-1], contour[-1])
            # every outline point lies within 0.25 px of the simplified chain
            for point in contour:
                gap = min(_distance_to_segment(point, a, b) for a, b in itertools.pairwise(simple))
                assert gap <= 0.25 + 1e-9
            n_checked += 1
    assert n_checked > 40
    straight = np.column_stack([np.zeros(9), np.arange(9.0)])
    np.testing.assert_array_equal(simplify_polyline(straight, 0.25), straight[[0, -1]])


def test_streamed_segmentation_file_equals_the_image_in_memory(tmp_path: Path) -> None:
    shape = (150, 131)
    tiles = make_tiles(shape, size=64, overlap=16)
    truth = _disk(70, 60, 25, shape) | _disk(10, 120, 6, shape) | _disk(140, 20, 5, shape)
    objects = merge_pieces(_pieces_from_tiles(truth, tiles), tiles, classes=CLASSES)
    assert len(objects) == 3
    wcs = WCS(toy_header(shape))
    for block_rows in (7, 64, 1000):  # objects across block borders, one block for all
        path = write_segmentation(tmp_path / f"s{block_rows}.fits", objects, shape, wcs,
                                  extra={"MAPNAME": "toy"})  # fmt: skip
        with fits.open(path) as hdul:
            assert hdul[0].header["MAPNAME"] == "toy" and hdul[0].header["CTYPE1"] == "RA---SIN"
            assert hdul[0].data.dtype.kind == "i"
            assert np.array_equal(hdul[0].data, segmentation_image(objects, shape))
