"""Print the JSON schema (draft 2020-12) of the project config as YAML.

Reads: nothing. Writes: the schema to stdout, or to --out (the workflow's copy lives in
workflow/schemas/config.schema.yaml and a test keeps it equal to the models).
"""

from __future__ import annotations

import argparse

import yaml

from skysift.config import config_json_schema
from skysift.io.atomic import atomic_path


def build_parser(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``skysift config-schema``."""
    parser.add_argument("--out", help="write the schema to this file instead of stdout")


def render_schema() -> str:
    """The schema as YAML text."""
    return yaml.safe_dump(config_json_schema(), sort_keys=False, width=100)


def main(args: argparse.Namespace) -> None:
    """Print or write the schema."""
    text = render_schema()
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":  # pragma: no cover
    from skysift.cli import run_module

    run_module("skysift.config_schema")
