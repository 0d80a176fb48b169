"""The one normaliser: ranges, NaN handling, stretches, channel stacking, JSON round trip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pydantic import ValidationError

from skysift.data.normalise import ChannelSpec, NormalisationSpec, normalise, normalise_channel

METHODS = ("zscale", "sigma_clip", "asinh", "log", "minmax")


def noisy_image(seed: int = 0) -> np.ndarray:
    """64x64 Gaussian noise (rms 1e-4 Jy/beam) with a bright 5x5 source and NaN corner."""
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 1e-4, (64, 64))
    image[30:35, 30:35] += 5e-2
    image[:4, :4] = np.nan
    return image


@pytest.mark.parametrize("method", METHODS)
def test_range_dtype_and_nan(method: str) -> None:
    image = noisy_image()
    out = normalise(image, NormalisationSpec(channels=[ChannelSpec(method=method)]))
    assert out.shape == (1, 64, 64) and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.all(out[0, :4, :4] == 0.0)
    assert out[0, 32, 32] > 0.99  # the bright source is at the top for every method
    assert out[0].max() > out[0, 10:20, 40:60].mean()


@pytest.mark.parametrize("method", METHODS)
def test_monotonic(method: str) -> None:
    """A larger input pixel never gets a smaller output value."""
    image = noisy_image(seed=2)
    out = normalise_channel(image, ChannelSpec(method=method))
    good = np.isfinite(image)
    order = np.argsort(image[good], kind="stable")
    assert np.all(np.diff(out[good][order].astype(np.float64)) >= -1e-7)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("value", [np.nan, 0.0, 3.5e-3, np.inf])
def test_degenerate_inputs_give_zeros_without_warnings(method: str, value: float) -> None:
    image = np.full((16, 16), value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = normalise(image, NormalisationSpec(channels=[ChannelSpec(method=method)]))
    np.testing.assert_array_equal(out, np.zeros((1, 16, 16), dtype=np.float32))


def test_minmax_exact() -> None:
    image = np.array([[1.0, 2.0], [3.0, np.nan]])
    out = normalise_channel(image, ChannelSpec(method="minmax"))
    np.testing.assert_allclose(out, [[0.0, 0.5], [1.0, 0.0]])


def test_sigma_clip_limits() -> None:
    """Unit-rms noise: median 0 -> 3/13 with limits -3 and +10 sigma."""
    rng = np.random.default_rng(4)
    image = rng.normal(0.0, 1.0, (200, 200))
    image[0, 0] = 0.0
    image[0, 1] = 5.0
    image[0, 2] = 100.0  # an outlier must not move the clipped statistics
    out = normalise_channel(image, ChannelSpec(method="sigma_clip", lo_sigma=3, hi_sigma=10))
    assert out[0, 0] == pytest.approx(3 / 13, abs=0.01)
    assert out[0, 1] == pytest.approx(8 / 13, abs=0.01)
    assert out[0, 2] == 1.0
    assert np.mean(out == 0.0) == pytest.approx(0.00135, abs=0.001)  # below -3 sigma


def test_asinh_and_log_follow_astropy_formulae() -> None:
    """With percentiles 0/100 a linear ramp 0..1 is stretched by the textbook formulae."""
    ramp = np.linspace(0.0, 1.0, 101).reshape(1, 101)
    asinh = normalise_channel(
        ramp, ChannelSpec(method="asinh", percentile_lo=0, percentile_hi=100, stretch_a=0.1)
    )
    np.testing.assert_allclose(asinh[0], np.arcsinh(ramp[0] / 0.1) / np.arcsinh(10.0), atol=1e-6)
    log = normalise_channel(
        ramp, ChannelSpec(method="log", percentile_lo=0, percentile_hi=100, stretch_a=1000)
    )
    np.testing.assert_allclose(log[0], np.log(1000 * ramp[0] + 1) / np.log(1001), atol=1e-6)
    assert asinh[0, 10] > 0.1  # the stretch lifts the faint end
    default = normalise_channel(
        ramp, ChannelSpec(method="asinh", percentile_lo=0, percentile_hi=100)
    )
    np.testing.assert_allclose(default, asinh)


def test_zscale_matches_astropy() -> None:
    from astropy.visualization import ZScaleInterval

    image = noisy_image(seed=3)
    lo, hi = ZScaleInterval().get_limits(image[np.isfinite(image)])
    out = normalise_channel(image, ChannelSpec(method="zscale"))
    expected = np.clip((image - lo) / (hi - lo), 0, 1)
    good = np.isfinite(image)
    np.testing.assert_allclose(out[good], expected[good], atol=1e-6)


def test_channel_stack_order() -> None:
    image = noisy_image(seed=5)
    channels = [ChannelSpec(method=m) for m in ("asinh", "zscale", "minmax")]
    out = normalise(image, NormalisationSpec(channels=channels))
    assert out.shape == (3, 64, 64)
    for index, channel in enumerate(channels):
        np.testing.assert_array_equal(out[index], normalise_channel(image, channel))
    assert not np.array_equal(out[0], out[1])


def test_spec_json_round_trip_and_validation() -> None:
    spec = NormalisationSpec(
        channels=[ChannelSpec(method="sigma_clip", hi_sigma=20), ChannelSpec(method="log")]
    )
    again = NormalisationSpec.model_validate_json(spec.model_dump_json())
    assert again == spec and again.channels[0].hi_sigma == 20
    assert NormalisationSpec().channels == [ChannelSpec(method="zscale")]
    with pytest.raises(ValidationError, match="method"):
        ChannelSpec.model_validate({"method": "histeq"})
    with pytest.raises(ValidationError, match="percentile_lo"):
        ChannelSpec(method="asinh", percentile_lo=90, percentile_hi=10)
    with pytest.raises(ValidationError, match="at least 1"):
        NormalisationSpec(channels=[])
    with pytest.raises(ValueError, match="2-D"):
        normalise(np.zeros((2, 3, 4)), NormalisationSpec())
