"""The SED analysis stages end to end on a small synthetic set and the real Green et al. stars:
sed-embed, sed-cluster, sed-explain, sed-classify, sed-validate through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from skysift.cli import main
from skysift.sed.products import float_column

GREEN_MAPPING = {
    "bands": {
        **{b: {"column": f"mag_{b}"} for b in ("G", "BP", "RP", "J", "H", "Ks")},
        "W1": {"column": "mag_W1", "system": "ab"},
        "W2": {"column": "mag_W2", "system": "ab"},
    },
    "keep_columns": ["teff", "E_prior"],
}


def run(*argv: str) -> None:
    assert main(list(argv)) == 0, argv


@pytest.fixture(scope="module")
def chain(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (shared_data / "ck04" / "ck04_subset.npz").is_file():
        pytest.skip("ck04 grid absent")
    root = tmp_path_factory.mktemp("sed")
    run(
        "sed-synth",
        "--settings",
        json.dumps({"n_seds": 1500, "dust_fraction": 0.35}),
        "--grid",
        str(shared_data / "ck04"),
        "--seed",
        "3",
        "--out",
        str(root / "synth"),
        "-q",
    )
    embed = {"embeddings": ["ae", "pca"], "epochs": 40, "hidden": [32, 32]}
    run(
        "sed-embed",
        "--seds",
        str(root / "synth" / "seds.fits"),
        "--settings",
        json.dumps(embed),
        "--seed",
        "3",
        "--out",
        str(root / "embed"),
        "-q",
    )
    cluster = {"min_cluster_size": 30, "gmm_max_components": 8, "gmm_n_init": 1}
    run(
        "sed-cluster",
        "--seds",
        str(root / "synth" / "seds.fits"),
        "--embedding",
        str(root / "embed"),
        "--settings",
        json.dumps(cluster),
        "--seed",
        "3",
        "--out",
        str(root / "cluster"),
        "-q",
    )
    explain = {"epochs": 40, "per_cluster": 60, "n_steps": 32}
    run(
        "sed-explain",
        "--seds",
        str(root / "synth" / "seds.fits"),
        "--embedding",
        str(root / "embed"),
        "--clusters",
        str(root / "cluster"),
        "--settings",
        json.dumps(explain),
        "--seed",
        "3",
        "--out",
        str(root / "explain"),
        "-q",
    )
    return root


def test_embed_and_cluster_products(chain: Path) -> None:
    seds = Table.read(chain / "synth" / "seds.fits")
    emb = Table.read(chain / "embed" / "embedding.fits")
    assert len(emb) == len(seds) and np.array_equal(emb["id"], seds["id"])
    assert {"ae_1", "ae_4", "pca_4"} <= set(emb.colnames) and "umap_1" not in emb.colnames
    # not embedded exactly where the reference band G is missing (or too few bands)
    assert np.all(
        ~emb["embedded"][~seds["mask_G"]]
        == (
            np.sum(
                [
                    ~np.asarray(seds[f"mask_{b}"])
                    for b in (
                        "BP",
                        "RP",
                        "J",
                        "H",
                        "Ks",
                        "W1",
                        "W2",
                        "W3",
                        "W4",
                        "I1",
                        "I2",
                        "I3",
                        "I4",
                        "G",
                    )
                ],
                axis=0,
            )[~seds["mask_G"]]
            < 3
        )
    )
    assert not np.any(emb["embedded"][seds["mask_G"]])
    log = Table.read(chain / "embed" / "train_log.csv")
    assert len(log) == 40 and log["val_loss"].min() < 0.5 * log["val_loss"][0]
    metrics = Table.read(chain / "cluster" / "metrics.csv")
    assert sorted(zip(metrics["embedding"], metrics["method"], strict=True)) == [
        ("ae", "gmm"),
        ("ae", "hdbscan"),
        ("pca", "gmm"),
        ("pca", "hdbscan"),
    ]
    labels = Table.read(chain / "cluster" / "clusters.fits")
    lab = np.asarray(labels["ae_gmm_label"])
    assert np.all(lab[~np.asarray(emb["embedded"])] == -2)
    # the mixture on the AE embedding separates stars with and without a shell
    dust = np.asarray(seds["has_dust"])
    used = lab >= 0
    purity = (
        sum(
            max(dust[used & (lab == k)].mean(), 1 - dust[used & (lab == k)].mean())
            * np.sum(used & (lab == k))
            for k in np.unique(lab[used])
        )
        / used.sum()
    )
    assert purity > 0.9 > 1 - dust[used].mean()
    for name in ("embeddings.png", "cluster_params.png", "metrics.md", "clusterers.pkl"):
        assert (chain / "cluster" / name).stat().st_size > 0


def test_embedding_is_reproducible(chain: Path) -> None:
    embed = {"embeddings": ["ae", "pca"], "epochs": 40, "hidden": [32, 32]}
    run(
        "sed-embed",
        "--seds",
        str(chain / "synth" / "seds.fits"),
        "--settings",
        json.dumps(embed),
        "--seed",
        "3",
        "--out",
        str(chain / "embed_again"),
        "-q",
    )
    a = Table.read(chain / "embed" / "embedding.fits")
    b = Table.read(chain / "embed_again" / "embedding.fits")
    for col in a.colnames:
        np.testing.assert_array_equal(a[col], b[col])


def test_dusty_clusters_are_driven_by_mid_infrared_bands(chain: Path) -> None:
    summary = json.loads((chain / "explain" / "explain.json").read_text())
    rows = Table.read(chain / "explain" / "explain.csv")
    assert summary["n_dusty_clusters"] >= 1 and summary["n_dusty_clusters"] < len(rows)
    assert summary["mid_ir_share_dusty_mean"] > summary["mid_ir_share_other_mean"] + 0.05
    assert summary["max_abs_completeness_delta"] < 1e-2
    assert summary["val_accuracy"] > 0.7
    attr = Table.read(chain / "explain" / "attributions.csv")
    assert len(attr) == len(rows) * 13 and (chain / "explain" / "attribution_heatmap.png").is_file()


def test_real_stars_classified_and_validated(chain: Path, shared_data: Path) -> None:
    real = shared_data / "stars" / "green2020" / "green2020_test_data_small.csv"
    run(
        "sed-classify",
        "--catalogue",
        str(real),
        "--embedding",
        str(chain / "embed"),
        "--clusters",
        str(chain / "cluster"),
        "--seds",
        str(chain / "synth" / "seds.fits"),
        "--settings",
        json.dumps(GREEN_MAPPING),
        "--out",
        str(chain / "classify"),
        "-q",
    )
    out = Table.read(chain / "classify" / "classified.fits")
    assert len(out) == 10000 and np.mean(out["embedded"]) > 0.99
    assert np.all(np.isnan(float_column(out, "mag_W3")))
    assert np.all(np.isnan(float_column(out, "mag_I1")))
    # AB -> Vega: FGK stars have Ks - W1 near zero in Vega (about -2.7 if left in AB)
    assert abs(np.nanmedian(float_column(out, "mag_Ks") - float_column(out, "mag_W1"))) < 0.3
    for name in ("ae_gmm", "ae_hdbscan", "pca_gmm"):
        assert f"{name}_prob" in out.colnames and f"{name}_teff" in out.colnames
    prob = np.asarray(out["ae_gmm_prob"])[np.asarray(out["embedded"])]
    assert np.all((prob > 0) & (prob <= 1))
    run(
        "sed-validate",
        "--classified",
        str(chain / "classify"),
        "--seds",
        str(chain / "synth" / "seds.fits"),
        "--out",
        str(chain / "validate"),
        "-q",
    )
    rows = {
        r["method"]: r
        for r in json.loads((chain / "validate" / "validation.json").read_text())["rows"]
    }
    baseline = next(r for m, r in rows.items() if m.startswith("user: degree-3 G-Ks"))
    # the data's own check: Spearman(Teff, G-Ks) = -0.84 (stars/README.md)
    assert 0.8 < baseline["spearman_teff"] < 0.88
    label_free = rows["user: degree-3 G-Ks fit to the synthetic SEDs"]
    assert label_free["n_stars"] == baseline["n_stars"] and label_free["mae_teff_k"] > 0
    raw = next(r for m, r in rows.items() if m.startswith("user: HDBSCAN"))
    assert raw["noise_fraction"] > 0.5
    ours = rows["skysift ae_gmm"]
    assert ours["n_stars"] > 9900 and ours["spearman_teff"] > 0.3  # orders stars, if coarsely
    fit = next(r for m, r in rows.items() if m.startswith("skysift template fit"))
    # label-free SED fit: orders real stars by Teff better than the in-sample colour fit
    # (0.86 vs 0.84 with these 1500 SEDs), and errs less than the label-free colour fit
    assert fit["n_stars"] > 9900 and fit["spearman_teff"] > baseline["spearman_teff"]
    assert fit["mae_teff_k"] < label_free["mae_teff_k"] and fit["spearman_ebv"] > 0.2
    assert fit["ami_teff"] > raw["ami_teff"]  # its Teff bins vs HDBSCAN's clusters, all stars
    info = json.loads((chain / "classify" / "classify.json").read_text())["template_fit"]
    assert info["error_columns"]["G"] == "err_G" and info["em_converged"]
    assert info["prior_mean_av_mag"] < 1.0  # drawn flat in 0-3 mag; field stars have less
    assert (chain / "validate" / "compare_real.png").is_file()


def test_bad_catalogue_is_one_line_and_nothing_is_written(
    chain: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "cat.csv"
    bad.write_text("ra,dec,gmag\n1,2,12\n")
    args = [
        "sed-classify",
        "--catalogue",
        str(bad),
        "--embedding",
        str(chain / "embed"),
        "--clusters",
        str(chain / "cluster"),
        "--seds",
        str(chain / "synth" / "seds.fits"),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "no photometry columns" in err[0]
    bad.write_text("mag_G,mag_Ks\n,\n-99,-99\n")
    assert main(args) == 1
    assert "all photometry is missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
