"""The ``pointchem`` command: a thin argparse shell over importable functions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import torch
from ase.data import chemical_symbols

from . import __version__
from .serialization import PotentialFileError, read_potential_file

__all__ = ["format_model_card", "main"]


def _count_parameters(state_dict: dict[str, torch.Tensor]) -> int:
    return sum(int(tensor.numel()) for tensor in state_dict.values())


def _format_mapping(mapping: dict[str, Any], indent: str = "  ") -> list[str]:
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines.extend(_format_mapping(value, indent + "  "))
        else:
            lines.append(f"{indent}{key}: {value}")
    return lines


def format_model_card(content: dict[str, Any]) -> str:
    """Human-readable summary of a potential file's dictionary (see serialization)."""
    elements = [chemical_symbols[z] for z in content["atomic_numbers"]]
    metadata = dict(content.get("metadata", {}))
    lines = [
        f"architecture:    {content['architecture']}",
        f"format version:  {content['format_version']}",
        f"elements:        {' '.join(elements)}",
        f"cutoff:          {content['hypers'].get('cutoff', '?')} Å",
        f"dtype:           {content['dtype']}",
        f"tensors:         {_count_parameters(content['state_dict'])} numbers",
        "hyperparameters:",
        *_format_mapping(content["hypers"]),
        "metadata:",
        *_format_mapping(metadata),
    ]
    return "\n".join(lines)


def _info(arguments: argparse.Namespace) -> int:
    for path in arguments.potentials:
        try:
            content = read_potential_file(path)
        except (FileNotFoundError, PotentialFileError) as error:
            sys.stderr.write(f"pointchem info: {error}\n")
            return 1
        sys.stdout.write(f"# {path}\n{format_model_card(content)}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointchem", description="Machine-learned interatomic potentials for ASE."
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="print the model card of potential files")
    info.add_argument("potentials", nargs="+", help="potential files (.pt)")
    info.set_defaults(run=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pointchem`` console command; returns the exit status."""
    arguments = _parser().parse_args(argv)
    return int(arguments.run(arguments))


if __name__ == "__main__":
    raise SystemExit(main())
