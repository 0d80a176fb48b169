"""Radio Galaxy Zoo morphology labels: components (C) and peaks (P) of an object.

One definition, the simulator's own (:mod:`skysift.sky.masks`): components are the
8-connected islands of the object's mask; peaks are the local maxima of its noiseless model
inside the mask (neighbourhood about one beam FWHM), one per plateau. The mask already implies
"above threshold": it is where the object's own model is >= min(threshold_sigma x local rms,
peak_fraction x its peak). The truth columns ``n_islands`` and ``n_peaks`` written by
``simulate-sky`` are exactly these counts, so the labelled set reads them from the truth and
:func:`count_components_and_peaks` recomputes them for any model and mask.
"""

from __future__ import annotations

import numpy as np

from skysift.sky.masks import count_islands, find_peaks, peak_size

#: The six RGZ classes (Wu et al. 2019), in label order.
RGZ_CLASSES: tuple[str, ...] = ("1C-1P", "1C-2P", "1C-3P", "2C-2P", "2C-3P", "3C-3P")


def rgz_class(n_components: int, n_peaks: int) -> str | None:
    """The RGZ class of an object, or None when it is none of the six.

    Parameters
    ----------
    n_components
        Islands of the object's mask.
    n_peaks
        Local maxima of its model inside the mask.
    """
    name = f"{int(n_components)}C-{int(n_peaks)}P"
    return name if name in RGZ_CLASSES else None


def count_components_and_peaks(
    model: np.ndarray, mask: np.ndarray, *, beam_fwhm_pix: float
) -> tuple[int, int]:
    """Components and peaks of one object, as the simulator counts them for its truth.

    Parameters
    ----------
    model
        Noiseless model of the object, shape (H, W), Jy/beam.
    mask
        The object's mask, bool, same shape.
    beam_fwhm_pix
        Beam minor-axis FWHM in pixels (sets the local-maximum neighbourhood).

    Returns
    -------
    (n_components, n_peaks)
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != np.shape(model):
        raise ValueError(f"mask shape {mask.shape} differs from model shape {np.shape(model)}")
    peaks = find_peaks(np.asarray(model, dtype=float), mask, size=peak_size(beam_fwhm_pix))
    return count_islands(mask), int(peaks.shape[0])
