"""Attributions of a morphology classifier (captum) and their sanity check against truth masks.

For a sample of test images per class, Integrated Gradients (Sundararajan et al. 2017; zero
baseline = an empty normalised image) and Grad-CAM on the deepest ResNet stage with a map of at
least 4 x 4 pixels (Selvaraju et al. 2017, upsampled to the input) attribute the logit of the
TRUE class to the input pixels.

Sanity number: the fraction of the absolute IG attribution (summed over channels) that falls
inside the object's truth mask (mapped into the model's input geometry: the same central crop
and resize as the pixels, then > 0.5). It is compared with the same number for a randomly
initialised model of the same architecture (Adebayo et al. 2018: attributions that do not depend
on the trained weights explain nothing) and with the mask's area fraction (what attribution
spread evenly would give). A trained model that looks at the source has fraction > both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from skysift.ssl.augment import Preprocess, central_box, resized_crop


def mask_to_input(mask: np.ndarray, preprocess: Preprocess) -> np.ndarray:
    """A truth mask (H, W) in the model's input geometry: (S, S) bool."""
    top, height = central_box(mask.shape[0], preprocess.crop_fraction)
    left, width = central_box(mask.shape[1], preprocess.crop_fraction)
    resized = resized_crop(mask.astype(np.float32), top, left, height, width, preprocess.image_pix)
    return np.asarray(resized > 0.5)


def integrated_gradients(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, steps: int = 32
) -> np.ndarray:
    """IG attributions (N, C, S, S) of the target logits, zero baseline, model in eval mode."""
    from captum.attr import IntegratedGradients

    model.eval()
    explainer = IntegratedGradients(model)
    out = explainer.attribute(
        inputs, baselines=torch.zeros_like(inputs), target=targets, n_steps=steps,
        internal_batch_size=max(1, min(64, inputs.shape[0] * steps)),
    )  # fmt: skip
    return np.asarray(out.detach().numpy())


def cam_layer(image_pix: int) -> str:
    """Deepest ResNet stage whose map is at least 4 x 4 pixels (strides 4, 8, 16, 32)."""
    for stage, stride in (("layer4", 32), ("layer3", 16), ("layer2", 8)):
        if image_pix // stride >= 4:
            return stage
    return "layer1"


def grad_cam(
    model: nn.Sequential, inputs: torch.Tensor, targets: torch.Tensor, *, layer: str
) -> np.ndarray:
    """Grad-CAM of the trunk stage ``layer`` (e.g. ``layer4``) upsampled to (N, S, S)."""
    from captum.attr import LayerAttribution, LayerGradCam

    model.eval()
    cam = LayerGradCam(model, getattr(model[0], layer)).attribute(inputs, target=targets)
    up = LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), interpolate_mode="bilinear")
    return np.asarray(up.detach().numpy()[:, 0])


def mass_inside(attribution: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of sum |attribution| (over channels and pixels) inside ``mask`` (S, S)."""
    magnitude = np.abs(attribution).sum(axis=0) if attribution.ndim == 3 else np.abs(attribution)
    total = float(magnitude.sum())
    return float(magnitude[mask].sum() / total) if total > 0 else float("nan")


@dataclass
class Explanation:
    """Attributions and sanity numbers of one sample of images.

    Attributes
    ----------
    index
        Positions of the explained images in the test split.
    inputs
        Model inputs (N, C, S, S).
    masks
        Truth masks in input geometry (N, S, S).
    ig, ig_random
        IG of the trained and of the random-init model (N, C, S, S).
    cam
        Grad-CAM of the trained model (N, S, S).
    summary
        Mean fractions: ``trained``, ``random_model``, ``mask_area``; and per class.
    """

    index: np.ndarray
    inputs: np.ndarray
    masks: np.ndarray
    ig: np.ndarray
    ig_random: np.ndarray
    cam: np.ndarray
    summary: dict[str, Any]


def sample_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """The first ``per_class`` indices of each class, in class order."""
    return np.concatenate(
        [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
    ).astype(np.int64)


def explain(
    model: nn.Sequential,
    random_model: nn.Sequential,
    images: np.ndarray,
    masks: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    preprocess: Preprocess,
    *,
    per_class: int = 4,
    steps: int = 32,
) -> Explanation:
    """Attributions and the mask-mass sanity check for ``per_class`` images of each class.

    Parameters
    ----------
    model, random_model
        ``[trunk, linear head]`` trained, and the same architecture with random weights.
    images, masks, labels
        Test split: raw (N, H, W), truth masks (N, H, W), classes (N,).
    """
    index = sample_per_class(labels, per_class)
    inputs = preprocess.batch(images[index])
    targets = torch.as_tensor(labels[index], dtype=torch.long)
    input_masks = np.stack([mask_to_input(masks[i], preprocess) for i in index])
    ig = integrated_gradients(model, inputs, targets, steps=steps)
    ig_random = integrated_gradients(random_model, inputs, targets, steps=steps)
    layer = cam_layer(preprocess.image_pix)
    cam = grad_cam(model, inputs, targets, layer=layer)
    trained = np.array([mass_inside(a, m) for a, m in zip(ig, input_masks, strict=True)])
    rand = np.array([mass_inside(a, m) for a, m in zip(ig_random, input_masks, strict=True)])
    area = input_masks.reshape(len(index), -1).mean(axis=1)
    by_class = {
        classes[c]: {
            "n": int(np.sum(labels[index] == c)),
            "trained": float(np.nanmean(trained[labels[index] == c])),
            "random_model": float(np.nanmean(rand[labels[index] == c])),
            "mask_area": float(np.mean(area[labels[index] == c])),
        }
        for c in np.unique(labels[index])
    }
    summary = {
        "n_images": int(index.size),
        "ig_steps": steps,
        "grad_cam_layer": layer,
        "trained": float(np.nanmean(trained)),
        "random_model": float(np.nanmean(rand)),
        "mask_area": float(np.mean(area)),
        "by_class": by_class,
    }
    return Explanation(index, inputs.numpy(), input_masks, ig, ig_random, cam, summary)
