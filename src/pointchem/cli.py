"""The ``pointchem`` command: a thin argparse shell over importable functions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
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


def _train(arguments: argparse.Namespace) -> int:
    from .training.config import load_config
    from .training.loop import train

    config = load_config(arguments.config, arguments.overrides)
    output = arguments.output or f"runs/{Path(arguments.config).stem}"
    train(config, output, restart=arguments.restart, progress=not arguments.quiet)
    sys.stdout.write(f"potential written to {Path(output) / 'potential.pt'}\n")
    return 0


def _eval(arguments: argparse.Namespace) -> int:
    from .serialization import load_potential
    from .training.config import DataSettings
    from .training.data import read_samples
    from .training.metrics import (
        dipole_metrics,
        error_metrics,
        format_metrics,
        parity_plot,
        predict,
        predict_dipoles,
        write_predictions,
    )

    settings = DataSettings(
        train=tuple(arguments.data),
        energy_key=arguments.energy_key,
        forces_key=arguments.forces_key,
        stress_key=arguments.stress_key,
        virial_key=arguments.virial_key,
        dipole_key=arguments.dipole_key,
        energy_unit=arguments.energy_unit,
        length_unit=arguments.length_unit,
    )
    samples = read_samples(arguments.data, settings)
    model = load_potential(arguments.potential, device=arguments.device)
    predictions = predict(model, samples)
    metrics = error_metrics(samples, predictions)
    if arguments.dipole_key is not None:
        metrics |= dipole_metrics(samples, predict_dipoles(model, samples))
    sys.stdout.write(format_metrics(metrics) + "\n")
    if arguments.plot:
        parity_plot(
            samples, predictions, arguments.plot, title=str(arguments.potential)
        )
    if arguments.output:
        write_predictions(samples, predictions, arguments.output)
    return 0


def _add_train(commands: Any) -> None:
    train = commands.add_parser(
        "train",
        help="train a potential from a YAML config",
        description="Train a potential. Overrides: section.key=value (YAML values).",
    )
    train.add_argument("config", help="YAML file with architecture/model/training/data")
    train.add_argument("overrides", nargs="*", help="e.g. training.epochs=10")
    train.add_argument("--output", help="output directory (default runs/<config name>)")
    train.add_argument(
        "--restart", action="store_true", help="resume from its checkpoint"
    )
    train.add_argument("--quiet", action="store_true", help="no progress line")
    train.set_defaults(run=_train)


def _add_eval(commands: Any) -> None:
    evaluate = commands.add_parser("eval", help="errors of a potential on extxyz data")
    evaluate.add_argument("potential", help="potential file (.pt)")
    evaluate.add_argument("data", nargs="+", help="extxyz files with reference values")
    evaluate.add_argument("--energy-key", default="energy")
    evaluate.add_argument("--forces-key", default="forces")
    evaluate.add_argument("--stress-key", default=None)
    evaluate.add_argument("--virial-key", default=None)
    evaluate.add_argument(
        "--dipole-key",
        default=None,
        help="info key of reference dipoles (e·length unit); scores a dipole head",
    )
    evaluate.add_argument(
        "--energy-unit", default="eV", help="eV, meV, kcal/mol, kJ/mol, Hartree"
    )
    evaluate.add_argument("--length-unit", default="Å", help="Å or bohr")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--plot", help="write parity plots to this PNG")
    evaluate.add_argument("--output", help="write predictions to this extxyz file")
    evaluate.set_defaults(run=_eval)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointchem", description="Machine-learned interatomic potentials for ASE."
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared 2-core machine two threads "
        "made training up to 20x slower in our measurements)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="print the model card of potential files")
    info.add_argument("potentials", nargs="+", help="potential files (.pt)")
    info.set_defaults(run=_info)
    _add_train(commands)
    _add_eval(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pointchem`` console command; returns the exit status."""
    arguments = _parser().parse_args(argv)
    torch.set_num_threads(arguments.threads)
    return int(arguments.run(arguments))


if __name__ == "__main__":
    raise SystemExit(main())
