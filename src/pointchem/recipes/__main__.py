"""Command line for the xTB data recipe: ``python -m pointchem.recipes.xtb --help``.

A thin argparse shell over ``XTBSamplingRecipe`` and ``generate_xtb_dataset``;
defaults are read from the dataclass, never restated here.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Sequence

from .xtb import XTBSamplingRecipe, generate_xtb_dataset

__all__ = ["build_parser", "main"]

_DEFAULTS: dict[str, object] = {
    field.name: field.default for field in dataclasses.fields(XTBSamplingRecipe)
}

# (flag, recipe field, type, help); nargs="+" for the one tuple-valued field
_OPTIONS = [
    ("--molecule", "structure", str, "G2 molecule name or structure file"),
    ("--temperatures", "temperatures_K", float, "thermostat temperatures, K"),
    ("--timestep", "timestep_fs", float, "MD time step, fs"),
    ("--steps", "steps", int, "production MD steps per temperature"),
    ("--equilibration", "equilibration_steps", int, "discarded MD steps"),
    ("--interval", "sample_interval", int, "keep every this-many-th step"),
    ("--friction", "friction_per_fs", float, "Langevin friction, 1/fs"),
    ("--rattled", "n_rattled", int, "number of rattled frames"),
    ("--rattle-amplitude", "rattle_amplitude_angstrom", float, "noise std, Å"),
    ("--seed", "seed", int, "random seed"),
    ("--method", "method", str, "tblite method"),
    ("--electronic-temperature", "electronic_temperature_K", float, "xTB smearing, K"),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each option maps to one ``XTBSamplingRecipe`` field."""
    parser = argparse.ArgumentParser(
        prog="python -m pointchem.recipes.xtb",
        description="Generate seeded xTB reference data (energy eV, forces eV/Å, "
        "dipole e·Å) as extxyz. Set OMP_NUM_THREADS for bit-identical reruns.",
    )
    for flag, field, kind, text in _OPTIONS:
        default = _DEFAULTS[field]
        nargs = "+" if isinstance(default, tuple) else None
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        parser.add_argument(
            flag,
            dest=field,
            type=kind,
            nargs=nargs,
            metavar=flag.removeprefix("--").upper(),
            help=f"{text} ({shown})",
        )
    parser.add_argument("--output", required=True, help="extxyz file to write")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the recipe, write the file; returns the exit status."""
    arguments = build_parser().parse_args(argv)
    given = {
        field: getattr(arguments, field)
        for _, field, _, _ in _OPTIONS
        if getattr(arguments, field) is not None
    }
    if "temperatures_K" in given:
        given["temperatures_K"] = tuple(given["temperatures_K"])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    recipe = XTBSamplingRecipe(**given)
    logging.getLogger(__name__).info("recipe: %s", recipe)
    generate_xtb_dataset(recipe, arguments.output, progress=not arguments.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
