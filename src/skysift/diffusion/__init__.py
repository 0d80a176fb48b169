"""Synthetic annotated radio sources from diffusion models (and the trivial paste baseline).

windows (training windows of emission + class-coded masks), model (UNet, schedules, files),
train (DDPM training, EMA, resume), sample (DDIM sampling), masks (mask sources: the dataset's
objects or the simulator's generator), compose (paste into training cutouts, COCO output),
quality (mask obedience, noise level, flux/size distributions, Frechet distance), plots.
"""
