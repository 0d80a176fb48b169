"""Exceptions of skysift.

Library code raises these; only :mod:`skysift.cli` turns them into one line on stderr and a
non-zero exit status. Every message names the file or configuration key at fault and what is
wrong with it, so the user can fix it without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path


class SkysiftError(Exception):
    """Base class of all errors that skysift reports to the user as one line."""


class InputFileError(SkysiftError):
    """A file given to a stage cannot be used.

    Parameters
    ----------
    path
        The offending file.
    problem
        What is wrong and, where possible, how to fix it.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ConfigError(SkysiftError):
    """A configuration value is missing, misspelt or of the wrong type.

    Parameters
    ----------
    key
        Dotted path of the key, e.g. ``simulate.beam.bmaj_arcsec``.
    problem
        What is wrong with it.
    source
        The configuration file it came from, when known.
    """

    def __init__(self, key: str, problem: str, source: str | Path | None = None) -> None:
        self.key = key
        self.problem = problem
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}config key '{key}': {problem}")


class OutputExistsError(SkysiftError):
    """An output path exists and the stage was not told to overwrite it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: output already exists (remove it or pass --overwrite)")
