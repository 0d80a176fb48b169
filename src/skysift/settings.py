"""Typed settings: the base model of every config section and how stages load one.

Each section of ``config/config.yaml`` is a pydantic model (``extra="forbid"``), so a misspelt
key or a wrong type is an error that names the key. A stage receives its section through
``--settings``, given either as a YAML/JSON file (the whole project config or just the section)
or as an inline JSON object (how the Snakemake rules pass it, so that Snakemake tracks the
values as ``params`` and reruns exactly the rules whose settings changed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from skysift.errors import ConfigError, InputFileError


class StrictModel(BaseModel):
    """Base of all config models: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


ModelT = TypeVar("ModelT", bound=BaseModel)


def validation_error_to_config_error(
    exc: ValidationError, *, prefix: str = "", source: str | Path | None = None
) -> ConfigError:
    """Turn the first pydantic error into a :class:`ConfigError` naming the dotted key."""
    first = exc.errors()[0]
    parts = [str(p) for p in first.get("loc", ())]
    key = ".".join([prefix, *parts] if prefix else parts) or prefix or "<root>"
    message = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        message = "unknown key (misspelt? see config/config.yaml for the valid keys)"
    elif "input" in first and first.get("type") != "missing":
        message = f"{message} (got {first['input']!r})"
    return ConfigError(key, message, source)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with one-line errors for missing or malformed files."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "config file not found")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputFileError(path, f"not valid YAML{where}") from exc
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise InputFileError(path, "config must be a mapping of keys to values")
    return content


def parse_settings_argument(value: str) -> tuple[dict[str, Any], str | None]:
    """Decode a ``--settings`` argument: inline JSON object or a YAML/JSON file path.

    Returns
    -------
    (mapping, source)
        The decoded mapping and the file it came from (None for inline JSON).
    """
    text = value.strip()
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("--settings", f"inline JSON is malformed: {exc.msg}") from exc
        return decoded, None
    return read_yaml(value), value


def load_section(
    model: type[ModelT], section: str, settings: str | None, **overrides: Any
) -> ModelT:
    """Build the settings model of one stage.

    Parameters
    ----------
    model
        The section's pydantic model.
    section
        Its key in the project config, e.g. ``"simulate"``; a dotted key (``"sed.embed"``) names
        a sub-section. A settings file may hold the whole project config, any enclosing
        section, or the section itself; an enclosing section without it gives the defaults.
    settings
        ``--settings`` value (see :func:`parse_settings_argument`), or None for defaults.
    overrides
        Values from explicit command-line flags; ``None`` values are ignored.

    Raises
    ------
    ConfigError
        Naming the dotted key of the first invalid value.
    """
    mapping: dict[str, Any] = {}
    source: str | None = None
    if settings:
        mapping, source = parse_settings_argument(settings)
        descended = False
        for part in section.split("."):
            if part in mapping and isinstance(mapping[part], dict):
                mapping, descended = dict(mapping[part]), True
            elif descended:
                mapping = {}
                break
    mapping.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return model.model_validate(mapping)
    except ValidationError as exc:
        raise validation_error_to_config_error(exc, prefix=section, source=source) from exc


def settings_json(model: BaseModel) -> str:
    """Compact JSON of a settings model, as passed inline to ``--settings``."""
    return model.model_dump_json()
