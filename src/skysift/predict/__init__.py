"""Whole-map prediction: tiling, MPI sharding, border merging and catalogue assembly.

:func:`skysift.predict.pipeline.predict_map` is the entry point; ``skysift predict-map`` is its
command line.
"""
