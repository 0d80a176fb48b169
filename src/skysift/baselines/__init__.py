"""Traditional source finders beside the detector: PyBDSF and Aegean (with BANE).

Each runner (:func:`skysift.baselines.pybdsf.run_pybdsf`,
:func:`skysift.baselines.aegean.run_aegean`) runs the finder on a map of the *Map* contract,
keeps its native catalogue, and converts it to the truth columns of
:data:`skysift.io.catalogue.TRUTH_COLUMNS` plus a segmentation image, so that the same matcher
scores the detector and the baselines. Importing this package imports nothing else (the
workflow's config models import :mod:`skysift.baselines.config` at every Snakemake start), and
the finders themselves (``bdsf``, ``AegeanTools``) are imported only by their runners.
"""
