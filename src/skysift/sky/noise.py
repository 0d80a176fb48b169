"""Beam-correlated Gaussian noise, as in a real interferometric image."""

from __future__ import annotations

import math

import numpy as np
import scipy.fft


def correlated_noise(
    rng: np.random.Generator, shape: tuple[int, int], beam_cov: np.ndarray, *, workers: int = 1
) -> np.ndarray:
    """White Gaussian noise convolved with the beam, rescaled to an rms of exactly 1.

    The convolution is done in Fourier space with the analytic transfer function of the
    Gaussian beam, ``exp(-2 pi^2 k^T C k)`` (k in cycles/pixel), so the kernel is never truncated;
    the map is periodic, which a stationary noise field does not notice.

    Parameters
    ----------
    rng
        Random generator (the noise stream).
    shape
        Map shape (ny, nx).
    beam_cov
        Beam covariance (x, y order), pixel^2.
    workers
        Threads of the FFT (results do not depend on it).

    Returns
    -------
    numpy.ndarray
        Shape ``shape``, float32, zero mean, standard deviation 1 (multiply by the rms map).
    """
    ny, nx = shape
    white = rng.standard_normal(shape, dtype=np.float32)
    spectrum = scipy.fft.rfft2(white, workers=workers)
    del white
    ky = scipy.fft.fftfreq(ny).astype(np.float32)[:, None]
    kx = scipy.fft.rfftfreq(nx).astype(np.float32)[None, :]
    c = -2.0 * math.pi**2
    transfer = np.exp(
        np.float32(c * beam_cov[0, 0]) * kx * kx
        + np.float32(2.0 * c * beam_cov[0, 1]) * kx * ky
        + np.float32(c * beam_cov[1, 1]) * ky * ky
    )
    spectrum *= transfer
    del transfer
    noise = scipy.fft.irfft2(spectrum, s=shape, workers=workers)
    del spectrum
    noise = np.asarray(noise, dtype=np.float32)
    noise -= np.float32(noise.mean(dtype=np.float64))
    noise /= np.float32(noise.std(dtype=np.float64))
    return noise
