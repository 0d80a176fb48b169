"""Features of SEDs for the embeddings, masks for missing bands, and the spec that fixes both.

A :class:`FeatureSpec` holds everything that turns magnitudes into network input, so that the
synthetic training set and any later catalogue go through the same preprocessing: the bands (in
wavelength order), their AB - Vega offsets (to read AB catalogues), the normalisation and the
per-feature centre and scale fitted on the training set. It is written as ``feature_spec.json``
and inside every model file.

Normalisations (magnitudes in the Vega system; distance and radius drop out of both):

- ``log_flux``: ``f_b = -0.4 (m_b - m_ref)``, the log10 of each band's flux relative to the
  reference band, in Vega units, for every band but the reference. A feature is observed when
  its band and the reference are; an object without the reference band is not embedded.
- ``colours``: ``c_i = m_i - m_(i+1)`` for neighbouring bands in wavelength order; observed
  when both bands are (one missing band removes two colours).

Features are standardised, ``(f - centre) / scale`` with the mean and standard deviation of
the observed training values; missing entries are set to 0 (the training mean) and carry
``mask = False``, which the autoencoder's loss and inputs respect.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from numpy.typing import NDArray

from skysift.errors import ConfigError, InputFileError
from skysift.io.atomic import atomic_path
from skysift.sed.analysis_config import EmbedConfig

log = logging.getLogger(__name__)

SPEC_VERSION = 1


@dataclass(frozen=True)
class FeatureSpec:
    """How magnitudes become standardised features (see the module docstring).

    Attributes
    ----------
    bands
        Band names in wavelength order, length B.
    pivot_um
        Pivot wavelengths in um, length B.
    ab_minus_vega
        m_AB - m_Vega per band (mag), length B.
    normalisation
        ``"log_flux"`` or ``"colours"``.
    reference_band
        Band of the log_flux features (unused for colours).
    min_bands
        Fewest observed bands of an embedded object.
    names
        Feature names, length F.
    centre, scale
        Standardisation per feature (in the feature's unit: dex or mag), length F.
    """

    bands: tuple[str, ...]
    pivot_um: tuple[float, ...]
    ab_minus_vega: tuple[float, ...]
    normalisation: str
    reference_band: str
    min_bands: int
    names: tuple[str, ...]
    centre: tuple[float, ...]
    scale: tuple[float, ...]

    @property
    def n_features(self) -> int:
        """Number of features F."""
        return len(self.names)

    def feature_bands(self) -> list[tuple[str, ...]]:
        """The bands each feature depends on (the reference band is left out)."""
        if self.normalisation == "colours":
            return [tuple(name.split("-")) for name in self.names]
        return [(name,) for name in self.names]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with a version)."""
        return {"version": SPEC_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path = "feature spec") -> FeatureSpec:
        """Inverse of :meth:`to_dict`; :class:`InputFileError` when fields are missing."""
        if data.get("version") != SPEC_VERSION:
            raise InputFileError(source, f"feature spec version {data.get('version')!r} unknown")
        try:
            return cls(
                bands=tuple(data["bands"]),
                pivot_um=tuple(float(v) for v in data["pivot_um"]),
                ab_minus_vega=tuple(float(v) for v in data["ab_minus_vega"]),
                normalisation=str(data["normalisation"]),
                reference_band=str(data["reference_band"]),
                min_bands=int(data["min_bands"]),
                names=tuple(data["names"]),
                centre=tuple(float(v) for v in data["centre"]),
                scale=tuple(float(v) for v in data["scale"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFileError(source, f"not a feature spec ({exc})") from exc

    def save(self, path: str | Path) -> None:
        """Write ``feature_spec.json`` atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        """Read a spec written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise InputFileError(path, "feature spec not found (written by skysift sed-embed)")
        return cls.from_dict(json.loads(path.read_text()), source=path)


def read_bands_json(path: str | Path) -> dict[str, dict[str, Any]]:
    """Bands of ``bands.json`` (written by sed-synth) by name, in file order."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "bands.json not found (written by skysift sed-synth)")
    try:
        entries = json.loads(path.read_text())["bands"]
        return {str(e["name"]): e for e in entries}
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"not a sed-synth bands.json ({exc})") from exc


def make_spec(bands: dict[str, dict[str, Any]], config: EmbedConfig) -> FeatureSpec:
    """The (unfitted: centre 0, scale 1) spec of the configured bands.

    Parameters
    ----------
    bands
        ``bands.json`` entries by name (:func:`read_bands_json`).
    config
        Uses ``bands``, ``normalisation``, ``reference_band``, ``min_bands``.

    Raises
    ------
    ConfigError
        A configured band or the reference band is not in ``bands``.
    """
    chosen = list(bands) if config.bands is None else list(config.bands)
    unknown = [b for b in chosen if b not in bands]
    if unknown:
        raise ConfigError("sed.embed.bands", f"{unknown} not among the SED bands {list(bands)}")
    if len(set(chosen)) != len(chosen) or len(chosen) < 2:
        raise ConfigError("sed.embed.bands", "needs at least two distinct bands")
    chosen.sort(key=lambda b: float(bands[b]["pivot_wavelength_um"]))
    if config.normalisation == "log_flux":
        if config.reference_band not in chosen:
            raise ConfigError(
                "sed.embed.reference_band", f"'{config.reference_band}' is not a used band {chosen}"
            )
        names = tuple(b for b in chosen if b != config.reference_band)
    else:
        names = tuple(f"{a}-{b}" for a, b in itertools.pairwise(chosen))
    return FeatureSpec(
        bands=tuple(chosen),
        pivot_um=tuple(float(bands[b]["pivot_wavelength_um"]) for b in chosen),
        ab_minus_vega=tuple(float(bands[b]["ab_minus_vega_mag"]) for b in chosen),
        normalisation=config.normalisation,
        reference_band=config.reference_band,
        min_bands=config.min_bands,
        names=names,
        centre=(0.0,) * len(names),
        scale=(1.0,) * len(names),
    )


def table_mags(table: Table, bands: tuple[str, ...]) -> NDArray[np.float64]:
    """Vega magnitudes of an SED table (``mag_<b>``, NaN where ``mask_<b>``), shape (n, B)."""
    missing = [b for b in bands if f"mag_{b}" not in table.colnames]
    if missing:
        raise ConfigError("sed.embed.bands", f"the SED table has no columns for {missing}")
    out = np.empty((len(table), len(bands)))
    for i, band in enumerate(bands):
        values = np.ma.filled(np.ma.asarray(table[f"mag_{band}"], dtype=np.float64), np.nan)
        if f"mask_{band}" in table.colnames:
            values = np.where(np.asarray(table[f"mask_{band}"], bool), np.nan, values)
        out[:, i] = values
    return out


def raw_features(
    spec: FeatureSpec, mags: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Unstandardised features and their observed mask.

    Parameters
    ----------
    spec
        The feature spec.
    mags
        Vega magnitudes, shape (n, B) in ``spec.bands`` order; NaN = missing.

    Returns
    -------
    (values, observed)
        Shape (n, F) each; values are NaN where not observed.
    """
    mags = np.asarray(mags, np.float64)
    if mags.ndim != 2 or mags.shape[1] != len(spec.bands):
        raise ValueError(f"mags must have shape (n, {len(spec.bands)}), got {mags.shape}")
    if spec.normalisation == "log_flux":
        ref = mags[:, spec.bands.index(spec.reference_band)]
        cols = [spec.bands.index(b) for b in spec.names]
        values = -0.4 * (mags[:, cols] - ref[:, None])
    else:
        values = mags[:, :-1] - mags[:, 1:]
    observed = np.isfinite(values)
    return np.where(observed, values, np.nan), observed


def fit_scaling(
    spec: FeatureSpec, values: NDArray[np.float64], observed: NDArray[np.bool_]
) -> FeatureSpec:
    """The spec with centre/scale = mean/std of the observed training values per feature.

    A feature observed fewer than twice keeps centre 0 and scale 1 (logged as a warning).
    """
    centre, scale = [], []
    for j, name in enumerate(spec.names):
        v = values[observed[:, j], j]
        if v.size < 2:
            log.warning("feature %s is observed %d times in training: not scaled", name, v.size)
            centre.append(0.0)
            scale.append(1.0)
            continue
        centre.append(float(v.mean()))
        scale.append(float(max(v.std(), 1e-6)))
    return replace(spec, centre=tuple(centre), scale=tuple(scale))


def embeddable(spec: FeatureSpec, mags: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Objects that get an embedding: at least ``min_bands`` observed bands, and (log_flux)
    the reference band; shape (n,)."""
    finite = np.isfinite(np.asarray(mags, np.float64))
    ok = finite.sum(axis=1) >= spec.min_bands
    if spec.normalisation == "log_flux":
        ok &= finite[:, spec.bands.index(spec.reference_band)]
    return np.asarray(ok & raw_features(spec, mags)[1].any(axis=1))


def standardise(
    spec: FeatureSpec, values: NDArray[np.float64], observed: NDArray[np.bool_]
) -> NDArray[np.float32]:
    """Standardised features, 0 where not observed, shape (n, F), float32."""
    centre = np.asarray(spec.centre)
    scale = np.asarray(spec.scale)
    with np.errstate(invalid="ignore"):
        x = (values - centre) / scale
    return np.where(observed, x, 0.0).astype(np.float32)


def feature_matrix(
    spec: FeatureSpec, mags: NDArray[np.float64]
) -> tuple[NDArray[np.float32], NDArray[np.bool_], NDArray[np.bool_]]:
    """Standardised features, their mask and which objects are embeddable.

    Returns
    -------
    (x, mask, ok)
        Shapes (n, F), (n, F), (n,).
    """
    values, observed = raw_features(spec, mags)
    return standardise(spec, values, observed), observed, embeddable(spec, mags)
