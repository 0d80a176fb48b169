"""Radio source detector: Mask R-CNN model factory, datasets, training engine, prediction."""
