"""Radio views: invariants (sign pattern, total flux, finite in [0, 1]), seeding, preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

from skysift.data.config import ChannelSpec, NormalisationSpec
from skysift.data.normalise import normalise_channel
from skysift.ssl.augment import (
    Preprocess,
    RadioViews,
    batch_views,
    central_box,
    flux_and_noise,
    random_normalise,
    rotate,
)
from skysift.ssl.config import ViewConfig

SPEC = NormalisationSpec(
    channels=[
        ChannelSpec(method="zscale"),
        ChannelSpec(method="asinh"),
        ChannelSpec(method="sigma_clip"),
    ]
)


def source_image(seed: int = 0, size: int = 64) -> np.ndarray:
    """Noise (rms 1e-4 Jy/beam) plus an elongated source at the centre, Jy/beam."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    source = 5e-3 * np.exp(-(xx**2 / 18.0 + yy**2 / 6.0))
    return (source + rng.normal(0, 1e-4, (size, size))).astype(np.float32)


def test_flux_scaling_keeps_the_sign_pattern() -> None:
    image = source_image()
    rng = np.random.default_rng(0)
    for factor in (0.3, 1.0, 2.7):
        scaled = flux_and_noise(image, factor, 0.0, rng)
        np.testing.assert_array_equal(np.sign(scaled), np.sign(image))
        np.testing.assert_allclose(scaled, factor * image, rtol=1e-6)


def test_noise_is_in_units_of_the_robust_rms() -> None:
    image = np.random.default_rng(1).normal(0, 2e-4, (256, 256)).astype(np.float32)
    out = flux_and_noise(image, 1.0, 1.0, np.random.default_rng(2))
    added = out - image
    assert np.std(added) == pytest.approx(2e-4, rel=0.05)


def test_rotations_keep_the_total_flux_of_a_central_source() -> None:
    yy, xx = np.mgrid[:64, :64] - 31.5
    image = np.exp(-(xx**2 / 20.0 + yy**2 / 5.0)).astype(np.float32)
    total = image.sum()
    np.testing.assert_allclose(rotate(image, 90.0), np.rot90(image), atol=1e-5)
    for angle in (17.0, 45.0, 133.0, 270.0):
        assert rotate(image, angle).sum() == pytest.approx(total, rel=0.01)


def test_views_are_finite_in_range_of_the_right_shape_and_seeded() -> None:
    views = RadioViews(ViewConfig(), SPEC, image_pix=32, crop_fraction=0.68)
    image = source_image()
    image[:5] = 0.0  # blanked rows stored as 0
    a = views.views(image, np.random.default_rng(5), local=2)
    b = views.views(image, np.random.default_rng(5), local=2)
    assert [v.shape for v in a] == [(3, 32, 32), (3, 32, 32), (3, 16, 16), (3, 16, 16)]
    for view, again in zip(a, b, strict=True):
        assert view.dtype == np.float32 and np.all(np.isfinite(view))
        assert view.min() >= 0.0 and view.max() <= 1.0
        np.testing.assert_array_equal(view, again)
    c = views.view(image, np.random.default_rng(6))
    assert not np.array_equal(a[0], c)
    constant = views.view(np.zeros((64, 64), np.float32), np.random.default_rng(0))
    assert np.all(constant == 0.0)  # no contrast: zeros, never NaN


def test_the_visible_part_never_shows_rotation_corners() -> None:
    """The central 0.68 of the side holds no zero-filled corner pixel at any angle."""
    ones = np.ones((64, 64), dtype=np.float32)
    top, length = central_box(64, 0.68)
    assert (top, length) == (10, 43)
    for angle in (10.0, 30.0, 45.0, 60.0, 135.0, 222.0):
        inner = rotate(ones, angle)[top : top + length, top : top + length]
        assert inner.min() > 0.999, angle
    assert rotate(ones, 45.0).min() == 0.0  # the corners themselves are zero-filled


def test_random_stretch_uses_the_one_normaliser() -> None:
    image = source_image(size=32)
    forced = random_normalise(
        image, SPEC, [ChannelSpec(method="minmax")], 1.0, np.random.default_rng(0)
    )
    expected = normalise_channel(image, ChannelSpec(method="minmax"))
    for channel in forced:
        np.testing.assert_array_equal(channel, expected)
    kept = random_normalise(
        image, SPEC, [ChannelSpec(method="minmax")], 0.0, np.random.default_rng(0)
    )
    for channel, spec in zip(kept, SPEC.channels, strict=True):
        np.testing.assert_array_equal(channel, normalise_channel(image, spec))


def test_preprocess_and_batches() -> None:
    preprocess = Preprocess(SPEC, image_pix=24, crop_fraction=0.5)
    images = np.stack([source_image(i) for i in range(3)])
    batch = preprocess.batch(images)
    assert tuple(batch.shape) == (3, 3, 24, 24)
    np.testing.assert_array_equal(batch[0].numpy(), preprocess(images[0]))
    views = RadioViews(ViewConfig(), SPEC, 24, 0.68)
    rngs = [np.random.default_rng(i) for i in range(3)]
    out = batch_views(views, images, rngs, local=1)
    assert [tuple(v.shape) for v in out] == [(3, 3, 24, 24), (3, 3, 24, 24), (3, 3, 16, 16)]
