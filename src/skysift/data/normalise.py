"""The one image normaliser of skysift: Jy/beam pixels -> float32 channels in [0, 1].

Training, prediction and self-supervised learning all call :func:`normalise` with the
:class:`~skysift.data.config.NormalisationSpec` stored with the dataset or model, so a model can
never see a different preprocessing than it was trained with.

Methods (per channel)
---------------------
``zscale``
    IRAF zscale limits (:class:`astropy.visualization.ZScaleInterval`), linear in between.
``sigma_clip``
    Limits ``median - lo_sigma * rms`` and ``median + hi_sigma * rms`` from sigma-clipped
    statistics (:func:`astropy.stats.sigma_clipped_stats`), linear in between.
``asinh`` / ``log``
    Robust min/max (percentiles) to [0, 1], then astropy's ``AsinhStretch`` / ``LogStretch``.
``minmax``
    Finite minimum and maximum to [0, 1].

NaN/inf pixels become 0 after normalisation; an all-NaN or constant image gives zeros.
"""

from __future__ import annotations

import warnings

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.visualization import AsinhStretch, LogStretch, ZScaleInterval

from skysift.data.config import ChannelSpec, NormalisationSpec

__all__ = ["ChannelSpec", "NormalisationSpec", "channel_limits", "normalise", "normalise_channel"]

#: Default stretch parameter ``a`` of the astropy stretches.
DEFAULT_STRETCH_A: dict[str, float] = {"asinh": 0.1, "log": 1000.0}


def channel_limits(finite: np.ndarray, channel: ChannelSpec) -> tuple[float, float]:
    """Lower and upper data limits (Jy/beam) that map to 0 and 1 for one channel.

    Parameters
    ----------
    finite
        1-D array of the finite pixel values, Jy/beam (at least one element).
    channel
        The channel spec.

    Returns
    -------
    (lo, hi)
        Data values mapped to 0 and 1; ``hi <= lo`` means the channel is all zeros.
    """
    method = channel.method
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "zscale":
            lo, hi = ZScaleInterval(contrast=channel.contrast).get_limits(finite)
        elif method == "sigma_clip":
            _, median, rms = sigma_clipped_stats(finite, sigma=channel.clip_sigma, maxiters=10)
            lo = median - channel.lo_sigma * rms
            hi = median + channel.hi_sigma * rms
        elif method in ("asinh", "log"):
            lo, hi = np.percentile(finite, [channel.percentile_lo, channel.percentile_hi])
        else:  # minmax
            lo, hi = finite.min(), finite.max()
    return float(lo), float(hi)


def normalise_channel(image: np.ndarray, channel: ChannelSpec) -> np.ndarray:
    """Normalise one image into one channel.

    Parameters
    ----------
    image
        Pixels, shape (H, W), Jy/beam; NaN marks blanked pixels.
    channel
        Method and parameters.

    Returns
    -------
    numpy.ndarray
        Shape (H, W), float32, values in [0, 1]; non-finite input pixels are 0.
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"normalise expects a 2-D image (H, W), got shape {data.shape}")
    good = np.isfinite(data)
    out = np.zeros(data.shape, dtype=np.float64)
    if not good.any():
        return out.astype(np.float32)
    finite = data[good]
    if finite.min() == finite.max():  # constant: no contrast (avoids round-off "rms")
        return out.astype(np.float32)
    lo, hi = channel_limits(finite, channel)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return out.astype(np.float32)
    scaled = np.clip((finite - lo) / (hi - lo), 0.0, 1.0)
    if channel.method in DEFAULT_STRETCH_A:
        a = channel.stretch_a or DEFAULT_STRETCH_A[channel.method]
        stretch = AsinhStretch(a=a) if channel.method == "asinh" else LogStretch(a=a)
        scaled = np.clip(stretch(scaled, clip=True), 0.0, 1.0)
    out[good] = scaled
    out[~np.isfinite(out)] = 0.0
    return out.astype(np.float32)


def normalise(image: np.ndarray, spec: NormalisationSpec) -> np.ndarray:
    """Normalise a Jy/beam image into a stack of channels.

    Parameters
    ----------
    image
        Pixels, shape (H, W), Jy/beam; NaN marks blanked pixels.
    spec
        The normalisation; channel ``c`` of the output follows ``spec.channels[c]``.

    Returns
    -------
    numpy.ndarray
        Shape (C, H, W), float32, values in [0, 1], never NaN or inf (blanked pixels are 0).
    """
    return np.stack([normalise_channel(image, channel) for channel in spec.channels])
