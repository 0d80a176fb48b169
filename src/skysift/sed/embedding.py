"""Embeddings of SED features: the masked autoencoder beside PCA and UMAP baselines.

PCA and UMAP cannot take masks; they see the standardised features with missing entries at 0,
the training mean (mean imputation). All three are fitted on the synthetic set and applied to
any catalogue through the same :class:`~skysift.sed.features.FeatureSpec`. An
:class:`Embedder` is saved as a folder: ``feature_spec.json``, ``autoencoder.pt`` and
``reducers.pkl`` (the fitted scikit-learn PCA and umap-learn UMAP, pickled: load only files you
wrote yourself).
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skysift.errors import InputFileError
from skysift.io.atomic import atomic_path
from skysift.sed.analysis_config import EmbedConfig
from skysift.sed.autoencoder import (
    MaskedAutoencoder,
    TrainResult,
    encode,
    load_autoencoder,
    save_autoencoder,
    train_autoencoder,
)
from skysift.sed.features import (
    FeatureSpec,
    embeddable,
    feature_matrix,
    fit_scaling,
    raw_features,
)

log = logging.getLogger(__name__)

SPEC_FILE = "feature_spec.json"
MODEL_FILE = "autoencoder.pt"
REDUCERS_FILE = "reducers.pkl"


def fit_pca(x: NDArray[np.float32], n_components: int, seed: int) -> Any:
    """scikit-learn PCA of mean-imputed features (n, F), at most F components."""
    from sklearn.decomposition import PCA

    n = min(n_components, x.shape[1], x.shape[0])
    return PCA(n_components=n, random_state=seed).fit(x)


def fit_umap(
    x: NDArray[np.float32], config: EmbedConfig, seed: int
) -> tuple[Any, NDArray[np.intp]]:
    """umap-learn UMAP of mean-imputed features, fitted on at most ``umap_fit_max`` objects
    (a seeded random subset, whose row indices are returned with it).

    With ``random_state`` set UMAP runs single-threaded and is reproducible.
    """
    import umap

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(x.shape[0])[: config.umap_fit_max])
    reducer = umap.UMAP(
        n_components=config.n_components,
        n_neighbors=min(config.umap_neighbors, rows.size - 1),
        min_dist=config.umap_min_dist,
        random_state=seed,
        transform_seed=seed,
        n_jobs=1,  # what a fixed random_state implies anyway (reproducible, single-threaded)
    )
    return reducer.fit(x[rows]), rows


@dataclass
class Embedder:
    """Everything that maps magnitudes to embeddings.

    Attributes
    ----------
    spec
        Feature spec, fitted on the training set.
    autoencoder
        The masked autoencoder, or None when ``"ae"`` was not built.
    reducers
        Fitted ``"pca"`` / ``"umap"`` objects by name.
    umap_rows
        Indices (into the embeddable training objects) that UMAP was fitted on.
    """

    spec: FeatureSpec
    autoencoder: MaskedAutoencoder | None
    reducers: dict[str, Any] = field(default_factory=dict)
    umap_rows: NDArray[np.intp] | None = None

    @property
    def names(self) -> list[str]:
        """Embedding names in a fixed order (ae, pca, umap)."""
        have = {"ae"} if self.autoencoder is not None else set()
        return [e for e in ("ae", "pca", "umap") if e in have or e in self.reducers]

    def embed(self, mags: NDArray[np.float64]) -> tuple[dict[str, NDArray[np.float32]], NDArray]:
        """Embeddings of magnitudes (n, B) in ``spec.bands`` order (Vega, NaN = missing).

        Returns
        -------
        (embeddings, ok)
            Name -> (n, d) float32 with NaN rows where an object is not embeddable; ``ok``
            (n,) says which are.
        """
        x, mask, ok = feature_matrix(self.spec, mags)
        out: dict[str, NDArray[np.float32]] = {}
        for name in self.names:
            start = time.perf_counter()
            z = self._embed_one(name, x[ok], mask[ok])
            full = np.full((x.shape[0], z.shape[1]), np.nan, np.float32)
            full[ok] = z
            out[name] = full
            log.debug(
                "%s embedding of %d objects: %.1f s", name, ok.sum(), time.perf_counter() - start
            )
        return out, ok

    def _embed_one(
        self, name: str, x: NDArray[np.float32], mask: NDArray[np.bool_]
    ) -> NDArray[np.float32]:
        if name == "ae":
            assert self.autoencoder is not None
            return encode(self.autoencoder, x, mask)
        if x.shape[0] == 0:
            return np.zeros((0, self.reducers[name].n_components), np.float32)
        return np.asarray(self.reducers[name].transform(x), np.float32)

    def save(self, folder: str | Path, config: EmbedConfig, **extra: Any) -> None:
        """Write spec, autoencoder and reducers into ``folder`` (each file atomically)."""
        folder = Path(folder)
        self.spec.save(folder / SPEC_FILE)
        if self.autoencoder is not None:
            save_autoencoder(folder / MODEL_FILE, self.autoencoder, self.spec, config, **extra)
        with atomic_path(folder / REDUCERS_FILE) as tmp:
            tmp.write_bytes(pickle.dumps({"reducers": self.reducers, "umap_rows": self.umap_rows}))


def load_embedder(folder: str | Path) -> Embedder:
    """Read an :class:`Embedder` written by :meth:`Embedder.save`.

    Raises
    ------
    InputFileError
        Missing files, or an autoencoder trained with another feature spec.
    """
    folder = Path(folder)
    spec = FeatureSpec.load(folder / SPEC_FILE)
    model = None
    if (folder / MODEL_FILE).is_file():
        model, model_spec = load_autoencoder(folder / MODEL_FILE)
        if model_spec != spec:
            raise InputFileError(
                folder / MODEL_FILE, f"trained with another feature spec than {SPEC_FILE}"
            )
    reducers_path = folder / REDUCERS_FILE
    if not reducers_path.is_file():
        raise InputFileError(reducers_path, "reducers not found (written by skysift sed-embed)")
    stored = pickle.loads(reducers_path.read_bytes())
    return Embedder(spec, model, stored["reducers"], stored["umap_rows"])


def fit_embedder(
    spec: FeatureSpec, mags: NDArray[np.float64], *, config: EmbedConfig, seed: int
) -> tuple[Embedder, TrainResult | None, NDArray[np.bool_]]:
    """Fit scaling, autoencoder, PCA and UMAP (those in ``config.embeddings``) on a training set.

    Parameters
    ----------
    spec
        Unfitted spec (:func:`~skysift.sed.features.make_spec`).
    mags
        Training magnitudes (n, B), Vega, NaN = missing.
    config, seed
        Settings and the seed of every random choice.

    Returns
    -------
    (embedder, ae_result, ok)
        ``ae_result`` is None without ``"ae"``; ``ok`` (n,) marks the embeddable objects used.
    """
    values, observed = raw_features(spec, mags)
    ok = embeddable(spec, mags)
    if ok.sum() < 10:
        raise ValueError(f"only {int(ok.sum())} embeddable objects: too few to fit embeddings")
    spec = fit_scaling(spec, values[ok], observed[ok])
    x, mask, _ = feature_matrix(spec, mags[ok])
    result = None
    model = None
    if "ae" in config.embeddings:
        result = train_autoencoder(x, mask, config=config, seed=seed)
        model = result.model
    reducers: dict[str, Any] = {}
    umap_rows = None
    if "pca" in config.embeddings:
        reducers["pca"] = fit_pca(x, config.n_components, seed)
        log.info(
            "PCA: explained variance %s",
            ", ".join(f"{v:.3f}" for v in reducers["pca"].explained_variance_ratio_),
        )
    if "umap" in config.embeddings:
        start = time.perf_counter()
        reducers["umap"], umap_rows = fit_umap(x, config, seed)
        log.info("UMAP fitted on %d objects in %.1f s", umap_rows.size, time.perf_counter() - start)
    return Embedder(spec, model, reducers, umap_rows), result, ok
