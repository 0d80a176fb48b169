"""Training sets: background/rms, normalisation, cutouts, COCO annotations, splits."""
