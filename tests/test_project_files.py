"""The project's own files agree with each other: pins, schema, CLI help."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from skysift.cli import STAGES, main
from skysift.config import ProjectConfig
from skysift.config_schema import render_schema


def _pyproject_pins(repo_root: Path) -> list[str]:
    data = tomllib.loads((repo_root / "pyproject.toml").read_text())
    return list(data["project"]["dependencies"])


def test_every_dependency_is_pinned_exactly(repo_root: Path) -> None:
    pins = _pyproject_pins(repo_root)
    loose = [d for d in pins if "==" not in d]
    assert not loose, f"unpinned dependencies in pyproject.toml: {loose}"
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins


def test_conda_env_mirrors_pyproject_pins(repo_root: Path) -> None:
    env = yaml.safe_load((repo_root / "envs" / "skysift.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = [p for p in pip_section if not p.startswith("-")]
    assert conda_pins == _pyproject_pins(repo_root)
    assert "python=3.11" in env["dependencies"]


def test_committed_schema_equals_models(repo_root: Path) -> None:
    committed = (repo_root / "workflow" / "schemas" / "config.schema.yaml").read_text()
    assert committed == render_schema(), "run `make schema` to regenerate the config schema"


def test_demo_and_paper_configs_validate(repo_root: Path) -> None:
    from skysift.config import load_config

    for name in ("config.yaml", "paper.yaml"):
        load_config(repo_root / "config" / name)


def _overlaid_config(repo_root: Path, base: str, overlay: str) -> ProjectConfig:
    """``--configfile config/<base> config/<overlay>`` as snakemake merges them."""
    from snakemake.utils import update_config

    from skysift.config import project_config_from_mapping
    from skysift.settings import read_yaml

    merged = read_yaml(repo_root / "config" / base)
    update_config(merged, read_yaml(repo_root / "config" / overlay))
    return project_config_from_mapping(merged, source=repo_root / "config" / overlay)


@pytest.mark.parametrize("overlay", ["sed_fgk.yaml", "ssl_cpu.yaml", "diffusion_bench.yaml"])
def test_overlay_configs_validate_over_the_demo_config(repo_root: Path, overlay: str) -> None:
    config = _overlaid_config(repo_root, "config.yaml", overlay)
    assert config.results_dir.startswith("results-")


def test_paper_smoke_overlay_changes_sizes_not_models(repo_root: Path) -> None:
    """config/paper_smoke.yaml over config/paper.yaml: every model setting stays the paper's."""
    from skysift.config import load_config

    smoke = _overlaid_config(repo_root, "paper.yaml", "paper_smoke.yaml")
    full = load_config(repo_root / "config" / "paper.yaml")
    assert smoke.results_dir == "results-paper-smoke"
    sizes = {"max_steps", "batch_size", "warmup_steps", "checkpoint_every", "eval_every", "device"}

    def differing(a: object, b: object, path: str = "") -> set[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            return {d for k in a for d in differing(a[k], b.get(k), f"{path}.{k}")}
        return set() if a == b else {path}

    for section in ("detect", "predict"):
        changed = differing(
            getattr(smoke, section).model_dump(), getattr(full, section).model_dump()
        )
        assert {c.rsplit(".", 1)[-1] for c in changed} <= sizes, changed
    smoke_ssl, full_ssl = smoke.ssl.model_dump(), full.ssl.model_dump()
    for key in ("backbone", "image_pix", "cutout_pix", "normalisation", "views"):
        assert smoke_ssl[key] == full_ssl[key], key
    for key in (
        "methods",
        "datasets",
        "hidden_dim",
        "projection_dim",
        "dino_output_dim",
        "num_workers",
    ):
        assert smoke_ssl["pretrain"][key] == full_ssl["pretrain"][key], key
    assert smoke.diffusion.train.model == full.diffusion.train.model
    assert smoke.cutouts == full.cutouts


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_help_says_what_it_reads_and_writes(
    stage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([stage, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out.lower()
    assert "read" in text and "write" in text, (
        f"`skysift {stage} --help` must say what it reads/writes"
    )


def test_unknown_stage_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-stage"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_runs_a_stage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skysift.config_schema"], capture_output=True, text=True, check=True
    )
    assert "draft/2020-12" in result.stdout


def test_every_rule_has_a_log_and_a_benchmark(repo_root: Path) -> None:
    rules: dict[str, str] = {}
    for path in sorted((repo_root / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule )", path.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0].removeprefix("rule ").strip()
            rules[name] = block
    assert len(rules) >= 20
    missing = {n: [k for k in ("log:", "benchmark:") if f"\n    {k}" not in b]
               for n, b in rules.items()}  # fmt: skip
    assert {n: m for n, m in missing.items() if m} == {}
