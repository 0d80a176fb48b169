"""Traditional source finders beside the detector: PyBDSF and Aegean (with BANE).

Each runner (:func:`skysift.baselines.pybdsf.run_pybdsf`,
:func:`skysift.baselines.aegean.run_aegean`) runs the finder on a map of the *Map* contract,
keeps its native catalogue, and converts it to the truth columns of
:data:`skysift.io.catalogue.TRUTH_COLUMNS` plus a segmentation image, so that the same matcher
scores the detector and the baselines. The finders are imported lazily: importing this package
does not import ``bdsf`` or ``AegeanTools``.
"""

from skysift.baselines.common import BaselineResult, RuntimeStats

__all__ = ["BaselineResult", "RuntimeStats"]
