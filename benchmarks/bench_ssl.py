"""Benchmark of SSL pretraining: images/s per method, backbone and input size.

Run: ``python benchmarks/bench_ssl.py [--device cpu|cuda] [--threads 2] [--steps 5]``.
Each case runs in its own process on random-noise cutouts with a source (96 x 96 raw pixels,
the demo's cutout size) through the real step of ``ssl-pretrain``
(:func:`skysift.ssl.pretrain.train_steps`: radio views with the one normaliser on the CPU,
forward, backward, AdamW, momentum update), the demo's view and head settings. The view time is
measured apart (making the views of one batch on the CPU, no model). Prints the numbers and
writes ``benchmarks/results/ssl[_cuda].md``. Not a test: timings depend on the machine (and on
other load on it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

#: (method, backbone, input px, batch) of the cases.
CASES: list[tuple[str, str, int, int]] = [
    ("simclr", "resnet18", 32, 32),
    ("byol", "resnet18", 32, 32),
    ("dino", "resnet18", 32, 32),
    ("simclr", "resnet18", 64, 32),
    ("byol", "resnet18", 64, 32),
    ("dino", "resnet18", 64, 32),
    ("byol", "resnet50", 64, 32),
]


def run_case(
    method: str, backbone: str, size: int, batch: int, device: str, steps: int
) -> dict[str, Any]:
    """Images/s of pretraining steps (after 2 warm-up steps) and of making the views alone."""
    import numpy as np
    import torch

    from skysift.data.config import ChannelSpec, NormalisationSpec
    from skysift.ssl.augment import RadioViews, batch_views
    from skysift.ssl.config import SSLConfig
    from skysift.ssl.pretrain import make_method, train_steps
    from skysift.ssl.training import sample_rngs

    spec = NormalisationSpec(
        channels=[
            ChannelSpec(method="zscale"),
            ChannelSpec(method="asinh"),
            ChannelSpec(method="sigma_clip"),
        ]
    )
    config = SSLConfig(backbone=backbone, image_pix=size, normalisation=spec, device=device)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :96] - 47.5
    images = rng.normal(0, 1e-4, (64, 96, 96)) + 3e-3 * np.exp(-(xx**2 + yy**2) / 30.0)
    images = images.astype(np.float32)
    views = RadioViews(config.views, spec, size, config.crop_fraction)
    model = make_method(config, method)
    kwargs: dict[str, Any] = {
        "max_steps": steps + 2, "batch_size": batch, "lr": 1e-3, "weight_decay": 1e-4,
        "warmup_steps": 0, "seed": 0, "device": torch.device(device),
    }  # fmt: skip
    train_steps(model, images, views, steps=2, **kwargs)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    train_steps(model, images, views, steps=steps, **kwargs)
    if device == "cuda":
        torch.cuda.synchronize()
    step_s = (time.perf_counter() - start) / steps
    start = time.perf_counter()
    for step in range(steps):
        batch_views(views, images[:batch], sample_rngs(0, step, batch), local=model.local_views)
    views_s = (time.perf_counter() - start) / steps
    return {
        "method": method,
        "backbone": backbone,
        "size": size,
        "batch": batch,
        "views_per_image": 2 + model.local_views,
        "images_per_s": batch / step_s,
        "step_s": step_s,
        "views_share": views_s / step_s,
        "params_m": sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6,
    }


def machine(device: str) -> str:
    """One line describing the machine."""
    import torch

    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0]
    text = f"{cpu}, {os.cpu_count()} CPUs (load average {load:.1f} at the end)"
    text += f", torch {torch.__version__}"
    if device == "cuda":
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def main() -> None:
    """Run all cases in subprocesses and write the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per case")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        import torch

        torch.set_num_threads(args.threads)
        method, backbone, size, batch = args.case.split(",")
        print(
            json.dumps(run_case(method, backbone, int(size), int(batch), args.device, args.steps))
        )
        return
    rows = []
    for method, backbone, size, batch in CASES:
        case = f"{method},{backbone},{size},{batch}"
        command = [sys.executable, __file__, "--case", case, "--device", args.device,
                   "--threads", str(args.threads), "--steps", str(args.steps)]  # fmt: skip
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        row = json.loads(output.strip().splitlines()[-1])
        print(row, flush=True)
        rows.append(row)
    lines = [
        f"# SSL pretraining benchmark ({args.device})",
        "",
        f"Machine: {machine(args.device)}; torch threads: {args.threads}. "
        f"`python benchmarks/bench_ssl.py --device {args.device}`, {args.steps} timed steps after "
        "2 warm-up steps of `ssl-pretrain`'s own loop on 96 x 96 raw cutouts, 3 normaliser "
        "channels, demo view and head settings (DINO with 2 local views). Images/s counts source "
        "images (each gives 2 views, DINO 4); `views` is the share of a step spent making the "
        "radio views on the CPU.",
        "",
        "| method | backbone | input px | batch | views/image | trainable params (M) | "
        "s/step | images/s | views |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['backbone']} | {r['size']} | {r['batch']} | "
            f"{r['views_per_image']} | {r['params_m']:.1f} | {r['step_s']:.2f} | "
            f"{r['images_per_s']:.1f} | {100 * r['views_share']:.0f}% |"
        )
    suffix = "" if args.device == "cpu" else "_cuda"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"ssl{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
