"""A user's photometric catalogue (CSV or FITS) as Vega magnitudes in a feature spec's bands.

Columns are mapped to bands by ``sed.catalogue.bands`` (band -> column and magnitude system);
without a mapping, columns ``mag_<band>`` in the Vega system are used where present. AB
magnitudes become Vega with the spec's ``m_AB - m_Vega`` of each band (pyphot's zero points, as
in the synthetic set). Empty, masked, NaN and sentinel cells (``missing_values``) and magnitudes
outside -10..40 are missing; a spec band without a column is missing for every object (the
masking handles it). Errors (mag) come from each band's ``error_column``, else ``err_<band>``
where the file has it; they weigh the bands of the template fit only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table
from numpy.typing import NDArray

from skysift.errors import ConfigError, InputFileError
from skysift.sed.analysis_config import BandColumn, CatalogueConfig
from skysift.sed.features import FeatureSpec
from skysift.sed.grid import shared_data_dir

log = logging.getLogger(__name__)

#: The real validation sample inside the shared data folder.
GREEN2020_RELPATH = Path("stars") / "green2020" / "green2020_test_data_small.csv"

#: Magnitudes outside this range are treated as missing (sentinels not listed by the user).
PLAUSIBLE_MAG = (-10.0, 40.0)


def default_catalogue_path() -> Path:
    """The Green et al. (2021) stars in the shared data (``$SKYSIFT_SHARED_DATA`` or
    ``../shared/data``); may not exist."""
    return shared_data_dir() / GREEN2020_RELPATH


def read_catalogue(path: str | Path, fmt: str = "auto") -> Table:
    """Read a CSV or FITS table; :class:`InputFileError` naming the file if it cannot be."""
    path = Path(path)
    if path.is_dir() and (path / GREEN2020_RELPATH.name).is_file():
        path = path / GREEN2020_RELPATH.name
    if not path.is_file():
        raise InputFileError(path, "catalogue not found")
    if fmt == "auto":
        fmt = (
            "fits"
            if path.suffix.lower() in (".fits", ".fit", ".fts")
            or path.name.lower().endswith(".fits.gz")
            else "csv"
        )
    try:
        table = Table.read(path, format="fits" if fmt == "fits" else "ascii.csv")
    except Exception as exc:  # astropy raises many types for malformed files
        raise InputFileError(path, f"cannot be read as {fmt.upper()} ({exc})") from exc
    if len(table) == 0:
        raise InputFileError(path, "catalogue has no rows")
    return table


def band_mapping(
    table: Table, spec: FeatureSpec, config: CatalogueConfig, source: str | Path
) -> dict[str, BandColumn]:
    """The band -> column mapping in use (configured, or ``mag_<band>`` where present).

    Raises
    ------
    ConfigError
        A configured band the spec does not know.
    InputFileError
        A configured column absent from the file, or no photometry column at all.
    """
    if config.bands:
        unknown = [b for b in config.bands if b not in spec.bands]
        if unknown:
            raise ConfigError(
                f"sed.catalogue.bands.{unknown[0]}",
                f"band not in the embedding's bands {list(spec.bands)}",
            )
        for band, entry in config.bands.items():
            if entry.column not in table.colnames:
                raise InputFileError(
                    source,
                    f"column '{entry.column}' (band {band}) not found; the file has "
                    f"{', '.join(table.colnames[:30])}{' ...' if len(table.colnames) > 30 else ''}",
                )
            if entry.error_column is not None and entry.error_column not in table.colnames:
                raise InputFileError(
                    source, f"error column '{entry.error_column}' (band {band}) not found"
                )
        return dict(config.bands)
    mapping = {b: BandColumn(column=f"mag_{b}") for b in spec.bands if f"mag_{b}" in table.colnames}
    if not mapping:
        raise InputFileError(
            source,
            f"no photometry columns: expected mag_<band> for bands {list(spec.bands)} or a "
            "mapping in sed.catalogue.bands",
        )
    return mapping


def _column_values(table: Table, column: str, source: str | Path) -> NDArray[np.float64]:
    col = table[column]
    if col.dtype.kind not in "fiu":
        try:
            return np.array(
                [float(v) if str(v).strip() not in ("", "--") else np.nan for v in col], float
            )
        except ValueError as exc:
            raise InputFileError(source, f"column '{column}' is not numeric ({exc})") from exc
    return np.asarray(np.ma.filled(np.ma.asarray(col, dtype=np.float64), np.nan))


@dataclass(frozen=True)
class CatalogueMags:
    """Photometry of a catalogue in a spec's bands.

    Attributes
    ----------
    mags
        Vega magnitudes (n, B) in ``spec.bands`` order, NaN = missing.
    errors
        1-sigma magnitude errors (n, B), NaN where unknown or the magnitude is missing.
    ids
        Object ids (n,).
    mapping
        Band -> column used.
    error_columns
        Band -> error column used (bands without one absent).
    """

    mags: NDArray[np.float64]
    errors: NDArray[np.float64]
    ids: NDArray
    mapping: dict[str, BandColumn]
    error_columns: dict[str, str]


def catalogue_mags(
    table: Table, spec: FeatureSpec, config: CatalogueConfig, source: str | Path
) -> CatalogueMags:
    """Vega magnitudes of a user catalogue in the spec's bands.

    Raises
    ------
    InputFileError
        Unknown columns (photometry, id, kept columns), non-numeric photometry, or no object
        with any usable magnitude.
    """
    for name in [*config.keep_columns, *([config.id_column] if config.id_column else [])]:
        if name not in table.colnames:
            raise InputFileError(source, f"column '{name}' (sed.catalogue) not found")
    mapping = band_mapping(table, spec, config, source)
    mags = np.full((len(table), len(spec.bands)), np.nan)
    errors = np.full_like(mags, np.nan)
    error_columns: dict[str, str] = {}
    sentinels = np.asarray(config.missing_values, np.float64)
    for band, entry in mapping.items():
        values = _column_values(table, entry.column, source)
        bad = ~np.isfinite(values) | np.isin(values, sentinels)
        bad |= (values < PLAUSIBLE_MAG[0]) | (values > PLAUSIBLE_MAG[1])
        i = spec.bands.index(band)
        if entry.system == "ab":
            values = values - spec.ab_minus_vega[i]
        mags[:, i] = np.where(bad, np.nan, values)
        error_column = entry.error_column or (
            f"err_{band}" if f"err_{band}" in table.colnames else None
        )
        if error_column is not None:
            error_columns[band] = error_column
            err = _column_values(table, error_column, source)
            ok = ~bad & np.isfinite(err) & (err > 0) & ~np.isin(err, sentinels)
            errors[:, i] = np.where(ok, err, np.nan)
    present = np.isfinite(mags)
    if not present.any():
        raise InputFileError(
            source,
            f"all photometry is missing (columns {', '.join(e.column for e in mapping.values())}"
            " hold no usable magnitude)",
        )
    absent = [b for b in spec.bands if b not in mapping]
    log.info(
        "%s: %d objects; bands %s (missing %s); bands absent from the file: %s",
        source,
        len(table),
        ", ".join(f"{b}={e.column}[{e.system}]" for b, e in mapping.items()),
        ", ".join(f"{b} {1 - present[:, spec.bands.index(b)].mean():.2f}" for b in mapping),
        ", ".join(absent) or "none",
    )
    ids = (
        np.asarray(table[config.id_column])
        if config.id_column
        else np.arange(len(table), dtype=np.int64)
    )
    return CatalogueMags(
        mags=mags, errors=errors, ids=ids, mapping=mapping, error_columns=error_columns
    )
