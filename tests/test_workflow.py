"""The Snakemake workflow as a user runs it: dry run, config validation, a tiny end-to-end run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import SNAKEMAKE, snakemake_env


def _snakemake(
    repo_root: Path, *args: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SNAKEMAKE, *args],
        cwd=repo_root,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        check=check,
    )


def test_dry_run_shows_the_dag(repo_root: Path, tmp_path: Path) -> None:
    result = _snakemake(
        repo_root, "-n", "--forceall", "--config", f"results_dir={tmp_path}", "--nolock"
    )
    assert result.returncode == 0, result.stderr
    for rule in ("simulate_sky", "ingest_map", "build_cutouts"):
        assert rule in result.stdout + result.stderr


def _predict_map_resources(output: str) -> str:
    block = output.split("rule predict_map:", 1)[1]
    return next(line for line in block.splitlines() if "resources:" in line)


def test_cluster_profile_gives_predict_map_a_gpu_when_the_config_predicts_on_cuda(
    repo_root: Path, tmp_path: Path
) -> None:
    """The README's cluster command: config/paper.yaml predicts on cuda, so its MPI ranks get a
    GPU to share; the demo config predicts on the CPU and asks for none."""
    paper = _snakemake(
        repo_root, "-n", "--profile", "workflow/profiles/slurm", "--configfile",
        "config/paper.yaml", "--config", f"results_dir={tmp_path / 'paper'}", "--nolock",
        "--", f"{tmp_path / 'paper'}/predict/sim000/catalogue.fits",
    )  # fmt: skip
    assert paper.returncode == 0, paper.stderr
    resources = _predict_map_resources(paper.stdout)
    assert "gpu=1" in resources and "tasks=8" in resources and "srun" in resources
    demo = _snakemake(
        repo_root, "-n", "--config", f"results_dir={tmp_path / 'demo'}", "--nolock",
        "--", f"{tmp_path / 'demo'}/predict/sim000/catalogue.fits",
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert "gpu=0" in _predict_map_resources(demo.stdout)


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"simulate": {"n_mapz": 3}}, "n_mapz"),
        ({"seed": "forty-two"}, "seed"),
        ({"cutoutz": {}}, "cutoutz"),
    ],
)
def test_config_typo_stops_the_run_naming_the_key(
    repo_root: Path, tmp_path: Path, patch: dict[str, object], key: str
) -> None:
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    for section, value in patch.items():
        if isinstance(value, dict) and isinstance(config.get(section), dict):
            config[section].update(value)
        else:
            config[section] = value
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = _snakemake(repo_root, "-n", "--configfile", str(bad))
    assert result.returncode != 0
    assert key in result.stderr + result.stdout


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the shared local run of the tiny workflow is set up in this test
def test_tiny_workflow_end_to_end(
    repo_root: Path, tmp_path: Path, tiny_workflow_results: Path
) -> None:
    results = tiny_workflow_results
    dataset = json.loads((results / "cutouts" / "dataset.json").read_text())
    assert dataset["classes"]
    for split in ("train", "val", "test"):
        coco = json.loads((results / "cutouts" / "annotations" / f"{split}.json").read_text())
        assert coco["images"], f"{split} split has no images"
    comparison = (results / "evaluation" / "comparison" / "comparison.md").read_text()
    for finder in (
        "skysift (cutouts)",
        "skysift (whole map)",
        "PyBDSF (position)",
        "Aegean (mask)",
    ):
        assert finder in comparison
    assert (results / "detector" / "model.pt").is_file()
    sed = results / "sed"
    for product in ("cluster/metrics.md", "explain/explain.json", "embed/loss_curve.png"):
        assert (sed / product).is_file(), product
    assert (results / "logs" / "sed_explain.log").is_file()
    for name in ("sim000", "sim001"):
        for product in ("map.fits", "background.fits", "rms.fits"):
            assert (results / "maps" / name / product).is_file()
        assert (results / "logs" / "simulate_sky" / f"{name}.log").is_file()
        assert (results / "benchmarks" / "simulate_sky" / f"{name}.tsv").is_file()
        predicted = results / "predict" / name
        for product in ("catalogue.fits", "catalogue.csv", "regions.reg", "outlines.png"):
            assert (predicted / product).is_file(), product
        summary = json.loads((predicted / "summary.json").read_text())
        assert summary["ranks"] == 2  # the rule's `mpiexec -n 2`
    ssl = results / "ssl"
    assert "SimCLR on random cutouts (c)" in (ssl / "benchmark" / "sim6" / "results.md").read_text()
    assert (ssl / "pretrain" / "random" / "simclr" / "backbone.pt").is_file()
    assert (ssl / "benchmark" / "sim6" / "classifier.pt").is_file()
    assert "random_model" in (ssl / "explain" / "sim6" / "explain.json").read_text()

    # The HTML report: every figure with its caption, self-contained.
    report = tmp_path / "report.html"
    result = _snakemake(
        repo_root, "--configfile", "tests/workflow/config.yaml", "--config",
        f"results_dir={results}", "--nolock", "--report", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    html = report.read_text(errors="replace")
    for caption in ("Whole-map prediction on", "each finder's objects", "beside the traditional"):
        assert caption in html, caption

    # A changed setting or an added map reruns exactly the jobs that depend on it.
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"predict": {"overlap_pix": 24}}))
    assert _planned_jobs(repo_root, results, overlay) == {
        "predict_map": 2,
        "catalogue_to_coco": 1,
        "evaluate_catalogue": 1,
        "compare_finders": 1,
        "plot_finders": 2,
        "all": 1,
    }
    extra = {"name": "extra", "path": str(results / "sky" / "sim000" / "map.fits")}
    overlay.write_text(yaml.safe_dump({"ingest": {"maps": [extra]}}))
    assert _planned_jobs(repo_root, results, overlay) == {
        "ingest_map": 1,
        "predict_map": 1,
        "run_baseline": 2,
        "plot_finders": 1,
        # random survey cutouts come from every map, and what is trained on them follows
        "ssl_dataset_random": 1,
        "ssl_pretrain": 1,
        "ssl_benchmark": 1,
        "ssl_explain": 1,
        # the Frechet distance of the synthetic sources uses that SSL backbone
        "diffusion_quality": 1,
        "all": 1,
    }


def _planned_jobs(repo_root: Path, results: Path, overlay: Path) -> dict[str, int]:
    """Jobs (rule -> count) of a dry run of the tiny workflow with a config overlay."""
    result = _snakemake(
        repo_root, "-n", "--configfile", "tests/workflow/config.yaml", str(overlay),
        "--config", f"results_dir={results}", "--nolock",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (result.stdout + result.stderr).splitlines()
    start = lines.index("Job stats:") + 3
    jobs = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    return jobs
