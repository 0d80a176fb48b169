"""AegeanTools 2.3.5 on numpy >= 2.4: a singular covariance must fall back, not crash."""

from __future__ import annotations

import lmfit
import numpy as np
import pytest

from skysift.baselines.aegean import numpy_linalg_alias


def _one_gaussian() -> lmfit.Parameters:
    params = lmfit.Parameters()
    params.add("components", value=1, vary=False)
    for key, value in {
        "amp": 1.0,
        "xo": 5.0,
        "yo": 5.0,
        "sx": 2.0,
        "sy": 2.0,
        "theta": 0.0,
    }.items():
        params.add(f"c0_{key}", value=value)
    params.add("c0_flags", value=0, vary=False)
    return params


def test_singular_covariance_falls_back_inside_the_alias() -> None:
    from AegeanTools import fitting

    data, errs = np.zeros((10, 10)), np.ones((10, 10))
    singular = np.zeros((100, 100))
    if not hasattr(np.linalg, "linalg"):  # the bug the alias works around (Aegean#228)
        with pytest.raises(AttributeError, match="linalg"):
            fitting.covar_errors(_one_gaussian(), data, errs, B=None, C=singular)
    with numpy_linalg_alias():
        params = fitting.covar_errors(_one_gaussian(), data, errs, B=None, C=singular)
    assert params["c0_amp"].stderr == -2  # Aegean's "no error estimate" flag
    assert hasattr(np.linalg, "linalg") == (np.lib.NumpyVersion(np.__version__) < "2.4.0")
