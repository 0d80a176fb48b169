"""Self-supervised learning benchmark for radio source morphology (datasets, methods, probes)."""
