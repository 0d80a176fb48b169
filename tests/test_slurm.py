"""The tiny workflow through a REAL single-node Slurm gives the same files as the local run.

The MPI rule (predict_map) runs under `srun --mpi=pmi2` with 2 tasks there and under
`mpiexec -n 2` locally.

Starts munge + slurmctld + slurmd on this host (tests/slurm/start-slurm.sh; installs Debian's
slurm-wlm and munge when missing), submits every job with snakemake-executor-plugin-slurm and the
project's cluster profile, compares the products with a local run, and stops Slurm.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_tiny_workflow

#: Products that must be identical, relative to results_dir (simulation, training set, finder
#: catalogue, detector output, evaluation table, synthetic SEDs).
COMPARED = (
    "sky/sim000/map.fits",
    "sky/sim001/truth.csv",
    "cutouts/annotations/train.json",
    "cutouts/annotations/test.json",
    "baselines/pybdsf/sim000/catalogue.csv",
    "predict/sim000/catalogue.csv",
    "predict/sim001/catalogue.csv",
    "detector/predictions_test.json",
    "evaluation/skysift/per_class.csv",
    "sed/synth/seds.csv",
)


@pytest.fixture()
def slurm(repo_root: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld and slurmd on this host needs root")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("no Slurm and no apt-get to install Debian's slurm-wlm")
    state = tmp_path / "slurm-state"
    start = subprocess.run(
        ["bash", "tests/slurm/start-slurm.sh", str(state)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert start.returncode == 0, f"Slurm did not start: {start.stderr[-2000:]}"
    try:
        yield state
    finally:
        subprocess.run(["bash", "tests/slurm/stop-slurm.sh", str(state)], timeout=60)


@pytest.mark.slow
@pytest.mark.slurm
# Installing Slurm (apt-get, on a clean machine) and the local run, when this test is the first to
# ask for it, count here too.
@pytest.mark.timeout(2400)
def test_tiny_workflow_on_slurm_equals_local_run(
    slurm: Path, tmp_path: Path, tiny_workflow_results: Path
) -> None:
    local, cluster = tiny_workflow_results, tmp_path / "slurm"
    result = run_tiny_workflow(
        "--profile",
        "workflow/profiles/slurm",
        "--config",
        f"results_dir={cluster}",
        # The test cluster: one 2-core node, partition debug, no accounting, no GPU.
        "--default-resources",
        "slurm_partition=debug",
        "runtime=30",
        "mem_mb=1500",
        "cpus_per_task=1",
        "--set-resources",
        "train_detector:gpu=0",
        "train_detector:mem_mb=3000",
        "train_detector:cpus_per_task=2",
        "predict_cutouts:mem_mb=2000",
        "predict_cutouts:cpus_per_task=2",
        "run_baseline:mem_mb=2000",
        "predict_map:tasks=2",
        "predict_map:mem_mb_per_cpu=1000",
        "ssl_dataset_random:mem_mb=1500",
        "ssl_dataset_curated:mem_mb=1500",
        "ssl_pretrain:gpu=0",
        "ssl_pretrain:cpus_per_task=1",
        "ssl_pretrain:mem_mb=2000",
        "ssl_benchmark:gpu=0",
        "ssl_benchmark:cpus_per_task=1",
        "ssl_benchmark:mem_mb=2000",
        "train_diffusion:gpu=0",
        "train_diffusion:cpus_per_task=2",
        "train_diffusion:mem_mb=2000",
        "sample_diffusion:gpu=0",
        "sample_diffusion:cpus_per_task=2",
        "sample_diffusion:mem_mb=2000",
        "sed_embed:cpus_per_task=1",
        "sed_embed:mem_mb=1500",
        "sed_cluster:mem_mb=1500",
        "--slurm-no-account",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        "--slurm-logdir",
        str(tmp_path / "slurm-logs"),
        "--jobs",
        "4",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    job_logs = list((tmp_path / "slurm-logs").rglob("*.log"))
    assert len(job_logs) >= 10, f"only {len(job_logs)} jobs went through Slurm"
    for product in COMPARED:
        assert (local / product).is_file(), product
        assert filecmp.cmp(local / product, cluster / product, shallow=False), (
            f"{product} differs between the local run and the Slurm run"
        )
