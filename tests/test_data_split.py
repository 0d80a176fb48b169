"""Sky-region splits: block grid, fractions, object ownership, cutout placement, leak check."""

from __future__ import annotations

import numpy as np
import pytest

from skysift.data.split import (
    Block,
    assign_splits,
    block_edges,
    block_split_image,
    cutout_leaks,
    cutout_origins,
    make_blocks,
    object_splits,
    split_counts,
)

FRACTIONS = (0.7, 0.15, 0.15)


def test_block_edges_cover_axis() -> None:
    assert block_edges(500, 128) == [(0, 128), (128, 256), (256, 384), (384, 500)]
    assert block_edges(256, 128) == [(0, 128), (128, 256)]


@pytest.mark.parametrize(
    ("n", "expected"),
    [(16, [11, 3, 2]), (32, [22, 5, 5]), (100, [70, 15, 15]), (4, [2, 1, 1]), (1, [1, 0, 0])],
)
def test_split_counts(n: int, expected: list[int]) -> None:
    assert split_counts(n, FRACTIONS) == expected
    assert sum(split_counts(n, FRACTIONS)) == n


def test_assign_splits_is_seeded_and_honours_fractions() -> None:
    a = assign_splits(1000, FRACTIONS, seed=1)
    assert np.array_equal(a, assign_splits(1000, FRACTIONS, seed=1))
    assert not np.array_equal(a, assign_splits(1000, FRACTIONS, seed=2))
    assert np.bincount(a).tolist() == [700, 150, 150]
    # a permutation, not blocks in order
    assert np.unique(a[:100]).size == 3


def test_make_blocks_joint_over_maps() -> None:
    blocks = make_blocks([(256, 384), (128, 128)], 128, FRACTIONS, seed=0)
    assert [len(b) for b in blocks] == [6, 1]
    assert blocks[0][4] == Block(0, 128, 256, 128, 256, blocks[0][4].split)
    splits = [b.split for bl in blocks for b in bl]
    assert sorted(splits) == sorted([0] * 5 + [1] + [2])  # 4.9/1.05/1.05 -> 5/1/1
    image = block_split_image((256, 384), blocks[0])
    assert image[200, 300] == blocks[0][5].split and image.min() >= 0


def test_object_owned_by_centre_block() -> None:
    blocks = [Block(0, 0, 10, 0, 10, 0), Block(0, 0, 10, 10, 20, 2)]
    image = block_split_image((10, 20), blocks)
    splits = object_splits(
        np.array([1, 2, 3, 4]),
        np.array([9.4, 9.6, -3.0, 25.0]),
        np.array([5.0, 5.0, 5.0, 5.0]),
        image,
    )
    assert splits == {1: 0, 2: 2, 3: 0, 4: 2}


def test_cutout_origins_inside_block_and_cover_it() -> None:
    block = Block(0, 128, 256, 0, 100, 1)
    origins = cutout_origins(block, 32, 32)
    ys = sorted({y for y, _ in origins})
    xs = sorted({x for _, x in origins})
    assert ys == [128, 160, 192, 224]
    assert xs == [0, 32, 64, 68]  # one more flush with the far edge covers 96..99
    covered = np.zeros((256, 100), dtype=bool)
    for y0, x0 in origins:
        assert block.y0 <= y0 and y0 + 32 <= block.y1 and block.x0 <= x0 and x0 + 32 <= block.x1
        covered[y0 : y0 + 32, x0 : x0 + 32] = True
    assert covered[128:256].all() and not covered[:128].any()
    assert cutout_origins(Block(0, 0, 20, 0, 64, 0), 32, 32) == []  # block thinner than a cutout
    assert len(cutout_origins(block, 32, 16)) == 7 * 6  # y: 128..224; x: 0..64 and 68


def test_cutout_leaks() -> None:
    window = np.zeros((8, 8), dtype=np.int32)
    window[1:3, 1:3] = 5
    window[6, 6] = 9
    assert not cutout_leaks(window, 0, {5: 0, 9: 0})
    assert cutout_leaks(window, 0, {5: 0, 9: 1})  # one pixel of a val object is enough
    assert not cutout_leaks(np.zeros((8, 8), dtype=np.int32), 2, {5: 0})
