"""Detector evaluation: the one matcher, completeness/reliability metrics, COCO mAP, plots.

:mod:`skysift.evaluate.matching` is the single place where detections are paired with truth
objects (by mask IoU, or by position for finders without masks); every score of skysift and of
the baseline finders goes through it. :mod:`skysift.evaluate.catalogue_to_coco` cuts a whole-map
finder's catalogue and segmentation into COCO results on the same cutouts, so that every finder is
scored on exactly the detector's test split.
"""
