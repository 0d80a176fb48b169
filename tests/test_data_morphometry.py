"""Mask measurements shared by the simulator, annotation import and evaluation."""

from __future__ import annotations

import math

import numpy as np

from skysift.data.morphometry import bbox_of, count_islands, largest_extent_pixels


def test_two_islands_touching_at_a_corner_are_one() -> None:
    mask = np.zeros((6, 6), dtype=bool)
    mask[1, 1] = mask[2, 2] = True  # diagonal neighbours: 8-connected
    mask[4:6, 4:6] = True
    assert count_islands(mask) == 2
    assert count_islands(np.zeros((3, 3), dtype=bool)) == 0


def test_largest_extent_is_the_centre_to_centre_diagonal() -> None:
    mask = np.zeros((20, 30), dtype=bool)
    mask[2:5, 3:9] = True  # a 3 x 6 rectangle
    mask[15, 25] = True  # a far single pixel
    assert math.isclose(largest_extent_pixels(mask), math.hypot(25 - 3, 15 - 2))
    single = np.zeros((4, 4), dtype=bool)
    single[1, 2] = True
    assert largest_extent_pixels(single) == 0.0


def test_largest_extent_equals_the_all_pairs_maximum_on_random_masks() -> None:
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(7)
    for size in (2, 5, 20, 60):  # 60 x 60 masks have more edge pixels than the direct limit
        for fill in (0.05, 0.5, 0.95):
            mask = rng.random((size, size + 3)) < fill
            ys, xs = np.nonzero(mask)
            expected = pdist(np.column_stack([xs, ys]).astype(float)).max() if xs.size > 1 else 0.0
            assert largest_extent_pixels(mask) == expected
    line = np.zeros((3, 400), dtype=bool)
    line[1, 5:345] = True  # 340 collinear pixels: too many to pair directly, and no hull
    assert largest_extent_pixels(line) == 339.0


def test_bbox_is_half_open_and_minus_one_when_empty() -> None:
    mask = np.zeros((10, 10), dtype=bool)
    mask[3:7, 2:5] = True
    assert bbox_of(mask) == (2, 3, 5, 7)
    assert bbox_of(np.zeros((2, 2), dtype=bool)) == (-1, -1, -1, -1)
