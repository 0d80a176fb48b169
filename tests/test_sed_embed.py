"""SED features and the masked autoencoder: normalisations, masking, determinism, saved specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from skysift.errors import ConfigError, InputFileError
from skysift.sed.analysis_config import EmbedConfig
from skysift.sed.autoencoder import (
    MaskedAutoencoder,
    load_autoencoder,
    masked_mse,
    train_autoencoder,
)
from skysift.sed.embedding import fit_embedder, load_embedder
from skysift.sed.features import (
    FeatureSpec,
    embeddable,
    feature_matrix,
    make_spec,
    raw_features,
)

#: bands.json-like entries: name -> pivot wavelength (um) and AB - Vega (mag); deliberately
#: listed out of wavelength order.
BANDS: dict[str, dict[str, Any]] = {
    name: {"name": name, "pivot_wavelength_um": pivot, "ab_minus_vega_mag": offset}
    for name, pivot, offset in (
        ("Ks", 2.16, 1.85),
        ("G", 0.62, 0.12),
        ("J", 1.24, 0.89),
        ("W3", 12.0, 5.17),
        ("BP", 0.51, 0.03),
    )
}


def toy_mags(n: int, seed: int = 0) -> np.ndarray:
    """Magnitudes in wavelength order BP, G, J, Ks, W3 of a two-parameter family of SEDs."""
    rng = np.random.default_rng(seed)
    temp = rng.uniform(0, 1, n)
    excess = rng.uniform(0, 1, n)
    shape = np.stack(
        [1.2 * temp, 0.9 * temp, 0.3 * temp, 0.0 * temp, -0.2 * temp - 2.0 * excess], axis=1
    )
    return shape + rng.uniform(10, 15, n)[:, None] + 0.01 * rng.standard_normal((n, 5))


def test_spec_orders_bands_by_wavelength_and_drops_the_reference() -> None:
    spec = make_spec(BANDS, EmbedConfig(reference_band="G"))
    assert spec.bands == ("BP", "G", "J", "Ks", "W3")
    assert spec.names == ("BP", "J", "Ks", "W3")
    colours = make_spec(BANDS, EmbedConfig(normalisation="colours"))
    assert colours.names == ("BP-G", "G-J", "J-Ks", "Ks-W3")
    assert colours.feature_bands()[3] == ("Ks", "W3")


def test_log_flux_and_colours_are_distance_free_and_masked() -> None:
    mags = toy_mags(50)
    for norm in ("log_flux", "colours"):
        spec = make_spec(BANDS, EmbedConfig(normalisation=norm))
        v1, o1 = raw_features(spec, mags)
        v2, _ = raw_features(spec, mags + 3.7)  # same star 5.4x farther
        np.testing.assert_allclose(v1, v2, atol=1e-12)
        assert o1.all()
    spec = make_spec(BANDS, EmbedConfig(reference_band="G"))
    values, _ = raw_features(spec, mags)
    np.testing.assert_allclose(values[:, 0], -0.4 * (mags[:, 0] - mags[:, 1]))
    holes = mags.copy()
    holes[0, 2] = np.nan  # J missing
    holes[1, 1] = np.nan  # the reference band G missing
    _, observed = raw_features(spec, holes)
    assert observed[0].tolist() == [True, False, True, True]
    assert not observed[1].any()
    ok = embeddable(spec, holes)
    assert ok[0] and not ok[1] and ok[2:].all()
    colours = make_spec(BANDS, EmbedConfig(normalisation="colours"))
    _, observed = raw_features(colours, holes)
    assert observed[0].tolist() == [True, False, False, True]  # G-J and J-Ks lost


def test_unknown_bands_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"sed\.embed\.bands.*\['W9'\]"):
        make_spec(BANDS, EmbedConfig(bands=["G", "W9"]))
    with pytest.raises(ConfigError, match=r"sed\.embed\.reference_band"):
        make_spec(BANDS, EmbedConfig(bands=["BP", "J"], reference_band="G"))


def test_a_missing_band_changes_nothing_in_loss_encoding_or_gradient() -> None:
    torch.manual_seed(0)
    model = MaskedAutoencoder(n_features=5, n_latent=2, hidden=[8])
    x = torch.randn(16, 5)
    mask = torch.rand(16, 5) > 0.3
    results = []
    for filler in (0.0, 1e6, float("nan")):
        x_fill = torch.where(mask, x, torch.full_like(x, filler))
        model.zero_grad()
        z, recon = model(x_fill, mask)
        loss = masked_mse(recon, x_fill, mask)
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        results.append((z.detach(), float(loss.detach()), grads.clone()))
    for z, loss, grads in results[1:]:
        assert torch.equal(z, results[0][0])
        assert loss == results[0][1]
        assert torch.equal(grads, results[0][2])
    # an observed entry does change the loss
    x_changed = x.clone()
    row, col = np.argwhere(mask.numpy())[0]
    x_changed[row, col] += 1.0
    _, recon = model(x, mask)
    assert float(masked_mse(recon, x_changed, mask).detach()) != results[0][1]


def test_training_is_deterministic_and_learns() -> None:
    spec = make_spec(BANDS, EmbedConfig())
    mags = toy_mags(400)
    mags[np.random.default_rng(1).random(mags.shape) < 0.1] = np.nan
    x, mask, ok = feature_matrix(spec, mags)
    config = EmbedConfig(n_components=2, hidden=[16], epochs=30, batch_size=64)
    a = train_autoencoder(x[ok], mask[ok], config=config, seed=3)
    b = train_autoencoder(x[ok], mask[ok], config=config, seed=3)
    assert [h["val_loss"] for h in a.history] == [h["val_loss"] for h in b.history]
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a.history[-1]["val_loss"] < 0.3 * a.history[0]["val_loss"]
    c = train_autoencoder(x[ok], mask[ok], config=config, seed=4)
    assert [h["val_loss"] for h in c.history] != [h["val_loss"] for h in a.history]


def test_saved_spec_and_models_embed_a_new_catalogue_identically(tmp_path: Path) -> None:
    config = EmbedConfig(embeddings=["ae", "pca"], n_components=2, hidden=[16], epochs=5)
    spec = make_spec(BANDS, config)
    train = toy_mags(300)
    embedder, result, ok = fit_embedder(spec, train, config=config, seed=0)
    assert result is not None and ok.all()
    assert embedder.spec.centre != spec.centre  # scaling fitted on the training set
    embedder.save(tmp_path, config)
    loaded = load_embedder(tmp_path)
    assert loaded.spec == embedder.spec
    new = toy_mags(40, seed=9)
    new[:, 4] = np.nan  # a catalogue without W3 at all
    z1, ok1 = embedder.embed(new)
    z2, ok2 = loaded.embed(new)
    assert ok1.all() and np.array_equal(ok1, ok2)
    for name in ("ae", "pca"):
        np.testing.assert_array_equal(z1[name], z2[name])
    model, spec_back = load_autoencoder(tmp_path / "autoencoder.pt")
    assert spec_back == embedder.spec and model.n_latent == 2


def test_autoencoder_with_another_spec_is_refused(tmp_path: Path) -> None:
    config = EmbedConfig(embeddings=["ae"], n_components=2, hidden=[8], epochs=2)
    spec = make_spec(BANDS, config)
    embedder, _, _ = fit_embedder(spec, toy_mags(100), config=config, seed=0)
    embedder.save(tmp_path, config)
    other = FeatureSpec.from_dict({**embedder.spec.to_dict(), "scale": [2.0] * spec.n_features})
    other.save(tmp_path / "feature_spec.json")
    with pytest.raises(InputFileError, match="another feature spec"):
        load_embedder(tmp_path)


def test_dotted_settings_sections(tmp_path: Path) -> None:
    from skysift.settings import load_section

    project = tmp_path / "project.yaml"
    project.write_text("seed: 1\nsed:\n  n_seds: 10\n  embed:\n    epochs: 7\n")
    assert load_section(EmbedConfig, "sed.embed", str(project)).epochs == 7
    section = tmp_path / "sed.yaml"
    section.write_text("n_seds: 10\nembed: {epochs: 8}\n")
    assert load_section(EmbedConfig, "sed.embed", str(section)).epochs == 8
    bare = tmp_path / "bare.yaml"
    bare.write_text("sed:\n  n_seds: 10\n")  # no embed sub-section: the defaults
    assert load_section(EmbedConfig, "sed.embed", str(bare)) == EmbedConfig()
    assert load_section(EmbedConfig, "sed.embed", '{"epochs": 9}').epochs == 9
    with pytest.raises(ConfigError, match=r"sed\.embed\.epoch"):
        load_section(EmbedConfig, "sed.embed", '{"epoch": 9}')
