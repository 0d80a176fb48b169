"""Benchmark of the detector: training s/step and inference s/image per backbone and size.

Run: ``python benchmarks/bench_detector.py [--device cpu|cuda] [--threads 2] [--quick]``.
Each case runs in its own process (so peak memory is per case) on a toy dataset
(:func:`skysift.detect.toy.make_toy_dataset`, source density of the demo: about one source per
40 x 40 pixels) with the demo's lean model settings (``DetectorConfig`` defaults) except the
backbone. Prints the numbers and writes ``benchmarks/results/detector[_cuda].md``.
Not a test: timings depend on the machine (and on other load on it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

#: (backbone, image size px, batch size) of the cases.
CASES: list[tuple[str, int, int]] = [
    ("resnet18_fpn", 128, 2),
    ("mobilenet_v3_fpn", 128, 2),
    ("resnet18_fpn", 512, 2),
    ("mobilenet_v3_fpn", 512, 2),
    ("resnet50_fpn_v2", 512, 2),
]


def run_case(backbone: str, size: int, batch: int, device: str, steps: int) -> dict[str, Any]:
    """Time ``steps`` training steps and ``steps`` single-image inferences (after warm-up)."""
    import torch

    from skysift.detect.config import DetectorConfig
    from skysift.detect.dataset import CutoutDataset, collate
    from skysift.detect.engine import make_optimizer, train_one_step
    from skysift.detect.model import build_detector
    from skysift.detect.toy import make_toy_dataset

    config = DetectorConfig(backbone=backbone, device=device)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        sources = max(2, round(size * size / 1600))
        root = make_toy_dataset(
            tmp, size=size, images_per_split=(4, 0, 0), sources_per_image=sources
        )
        dataset = CutoutDataset(root, "train")
        model = build_detector(config, num_classes=5, in_channels=1, image_size=size)
        model.to(device)
        optimizer = make_optimizer(model, config)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
        images, targets = collate([dataset[i % len(dataset)] for i in range(batch)])
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()

        def step() -> None:
            train_one_step(
                model,
                images,
                targets,
                optimizer=optimizer,
                scheduler=scheduler,
                scaler=None,
                grad_clip=5.0,
                device=torch.device(device),
            )

        for _ in range(2):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        train_s = (time.perf_counter() - start) / steps
        model.eval()
        with torch.inference_mode():
            image = images[0].to(device)
            model([image])
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                model([image])
            sync()
            infer_s = (time.perf_counter() - start) / steps
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "backbone": backbone,
        "size": size,
        "batch": batch,
        "sources_per_image": sources,
        "train_s_per_step": train_s,
        "infer_s_per_image": infer_s,
        "peak_rss_mib": peak_rss,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
    }
    if device == "cuda":
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def machine(device: str) -> str:
    """One line describing the machine."""
    import torch

    cpu = platform.processor() or platform.machine()
    text = f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    if device == "cuda":
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def main() -> None:
    """Run all cases in subprocesses and write the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per case")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        import torch

        torch.set_num_threads(args.threads)
        backbone, size, batch = args.case.split(",")
        print(json.dumps(run_case(backbone, int(size), int(batch), args.device, args.steps)))
        return
    rows = []
    for backbone, size, batch in CASES:
        command = [
            sys.executable,
            __file__,
            "--case",
            f"{backbone},{size},{batch}",
            "--device",
            args.device,
            "--threads",
            str(args.threads),
            "--steps",
            str(args.steps),
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        row = json.loads(output.strip().splitlines()[-1])
        print(row, flush=True)
        rows.append(row)
    gpu = args.device == "cuda"
    lines = [
        f"# Detector benchmark ({args.device})",
        "",
        f"Machine: {machine(args.device)}; torch threads: {args.threads}. "
        f"`python benchmarks/bench_detector.py --device {args.device}`, {args.steps} timed steps "
        "after 2 warm-up steps; toy cutouts with one source per ~40x40 px; demo (lean) model "
        "settings (`DetectorConfig` defaults) except the backbone; 1 input channel, 5 classes. "
        "Peak RSS is the whole process (Python, torch, data).",
        "",
        "| backbone | image px | batch | sources/image | params (M) | train s/step | "
        "inference s/image | peak RSS (MiB) |" + (" peak GPU (MiB) |" if gpu else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if gpu else ""),
    ]
    for r in rows:
        lines.append(
            f"| {r['backbone']} | {r['size']} | {r['batch']} | {r['sources_per_image']} | "
            f"{r['params_m']:.1f} | {r['train_s_per_step']:.2f} | {r['infer_s_per_image']:.3f} | "
            f"{r['peak_rss_mib']:.0f} |" + (f" {r['peak_gpu_mib']:.0f} |" if gpu else "")
        )
    suffix = "" if args.device == "cpu" else "_cuda"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"detector{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
