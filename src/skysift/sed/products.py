"""Readers of the SED stages' products, each with one-line errors naming the file.

- ``seds.fits`` (sed-synth): parameters and photometry of the synthetic stars;
- ``embedding.fits`` (sed-embed): ``id``, ``embedded`` and ``<name>_1..d`` per embedding;
- ``clusterers.pkl`` (sed-cluster): fitted clusterings with per-cluster temperatures.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from numpy.typing import NDArray

from skysift.errors import InputFileError

#: Cluster label of HDBSCAN noise and of objects without an embedding (clusters.fits,
#: classified.fits).
NOISE = -1
NOT_EMBEDDED = -2

#: Parameter columns of seds.fits that the analysis reads.
PARAM_NAMES = ("teff", "logg", "av", "has_dust", "dust_tau", "dust_temp")

CLUSTERERS_FILE = "clusterers.pkl"


def read_table(path: str | Path, what: str, required: tuple[str, ...]) -> Table:
    """A FITS/CSV table with the ``required`` columns, else :class:`InputFileError`."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"{what} not found")
    try:
        table = Table.read(path)
    except Exception as exc:  # astropy raises many types for malformed files
        raise InputFileError(path, f"not a readable table ({exc})") from exc
    missing = [c for c in required if c not in table.colnames]
    if missing:
        raise InputFileError(path, f"not a {what} (no columns {missing})")
    return table


def float_column(table: Table, name: str) -> NDArray[np.float64]:
    """A column as float64 with masked cells as NaN (FITS NaNs are read back masked)."""
    return np.asarray(np.ma.filled(np.ma.asarray(table[name], dtype=np.float64), np.nan))


def read_seds(path: str | Path) -> Table:
    """The SED table written by sed-synth."""
    return read_table(path, "sed-synth SED table", ("id", *PARAM_NAMES))


def seds_params(table: Table) -> dict[str, NDArray[Any]]:
    """Parameter arrays of an SED table by name (:data:`PARAM_NAMES`)."""
    return {name: np.asarray(table[name]) for name in PARAM_NAMES}


def missing_pattern(table: Table) -> NDArray[np.int64]:
    """Which bands an object lacks, as one integer per object (bit i: the i-th ``mask_<b>``
    column in table order), shape (n,)."""
    masks = [c for c in table.colnames if c.startswith("mask_")]
    code = np.zeros(len(table), np.int64)
    for i, col in enumerate(masks):
        code |= np.asarray(table[col], bool).astype(np.int64) << i
    return code


def read_embedding(path: str | Path) -> tuple[Table, dict[str, NDArray[np.float32]]]:
    """``embedding.fits`` (file or its sed-embed folder): the table and name -> (n, d) arrays."""
    path = Path(path)
    if path.is_dir():
        path = path / "embedding.fits"
    table = read_table(path, "sed-embed embedding table", ("id", "embedded"))
    groups: dict[str, list[str]] = {}
    for col in table.colnames:
        match = re.fullmatch(r"(ae|pca|umap)_(\d+)", col)
        if match:
            groups.setdefault(match.group(1), []).append(col)
    if not groups:
        raise InputFileError(path, "no embedding columns (ae_1, pca_1, umap_1, ...)")
    arrays = {
        name: np.stack([float_column(table, c).astype(np.float32) for c in cols], axis=1)
        for name, cols in groups.items()
    }
    return table, arrays


def read_clusterers(folder: str | Path) -> dict[str, Any]:
    """The pickled clusterings of sed-cluster: ``clusterers`` (name -> Clusterer),
    ``log_teff`` (name -> (K,) log10 K), ``primary``, ``seed``."""
    path = Path(folder)
    if path.is_dir():
        path = path / CLUSTERERS_FILE
    if not path.is_file():
        raise InputFileError(path, "clusterings not found (written by skysift sed-cluster)")
    stored = pickle.loads(path.read_bytes())
    if not isinstance(stored, dict) or "clusterers" not in stored:
        raise InputFileError(path, "not a sed-cluster clusterers.pkl")
    return stored
