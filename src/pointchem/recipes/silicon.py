"""Seeded silicon reference data labelled with Kumagai's bond-order potential.

The reference is matscipy's ``Manybody`` calculator with the explicit Kumagai form
and its published silicon parameters (T. Kumagai et al., Comput. Mater. Sci. 39,
457 (2007); ``Kumagai_Comp_Mat_Sci_39_Si``). Langevin NVT MD driven by that same
calculator samples four kinds of configuration, recorded in ``info["config"]``:

* ``"crystal"``: the diamond supercell (2×2×2 conventional cells, 64 atoms, by
  default) at its relaxed lattice constant;
* ``"strained"``: the same cell under a random symmetric strain ε (cell rows and
  positions multiplied by 1 + ε): isotropic ``e·1``, uniaxial ``ε_aa = e`` or shear
  ``ε_ab = ε_ba = e`` (tensor, not engineering, shear), e uniform in ±``max_strain``;
* ``"vacancy"``: the supercell with randomly chosen atoms removed;
* ``"liquid"``: the supercell compressed to liquid density, melted at
  ``melt_temperature_K``, then cooled to the sampling temperature.

The recipe, in named steps (each a function below):

1. ``relax_lattice_constant``: relax the 8-atom conventional diamond cell (BFGS on a
   ``FrechetCellFilter``). Kumagai's silicon gives a = 5.4290 Å and −4.6300 eV/atom.
2. ``plan_runs``: one entry per MD run, in a fixed order. For each configuration and
   temperature, the last ``held_out_runs`` runs form the test set, so every
   configuration and temperature is in both sets and no test frame shares a
   trajectory with a training frame.
3. ``starting_structure``: the run's cell (strain, vacancies, density) and tags.
4. ``sample_run``: Maxwell–Boltzmann momenta, (melt,) Langevin equilibration, then
   every ``sample_interval``-th step of the production run is kept.
5. ``label_frame``: a fresh Kumagai single point per frame.

Every random number comes from ``numpy.random.SeedSequence(seed)``, one spawned
stream per planned run, so a run's frames depend only on the seed and its place in
the plan, and the training file is the same whether or not the test file is made.
matscipy's Kumagai form is plain numpy, so a seed gives a byte-identical file on a
given machine and library stack.

Default cost, measured on one core: one Kumagai call takes ~7 ms for the 64-atom
crystal and ~25 ms for the liquid (about six neighbours each, so more triplets);
the default recipe runs 59 400 MD steps and makes 720 training and 180 test frames
in 10.4 CPU-minutes (14.5 minutes wall-clock on a busy 2-core machine). The 2 fs
step was checked in NVE on the 1800 K liquid: the total energy drifts 0.15 meV/atom
in 0.5 ps (0.05 with 1 fs).

Units in the written extxyz file: positions and cell Å, ``energy`` eV, ``forces``
(n_atoms, 3) eV/Å, ``stress`` eV/Å³ in ASE's sign convention (positive under
tension; ASE writes it as a full 3×3 and reads it back as Voigt 6), ``temperature_K``
K. Other tags: ``sampling="md"``, ``run`` (index within its configuration and
temperature), ``md_step`` (after equilibration), ``n_vacancies``, ``strain_kind`` and
``strain`` (Voigt 6: xx yy zz yz xz xy, dimensionless). Read it back with
``pointchem.training.data.read_samples`` and ``DataSettings(stress_key="stress")``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ase.io
import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.filters import FrechetCellFilter
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.neighborlist import neighbor_list
from ase.optimize import BFGS

from .._progress import ProgressLine

__all__ = [
    "CONFIGS",
    "STRAIN_KINDS",
    "Run",
    "SiliconSamplingRecipe",
    "generate_silicon_dataset",
    "label_frame",
    "main",
    "make_kumagai_calculator",
    "mean_coordination",
    "plan_runs",
    "random_strain",
    "relax_lattice_constant",
    "sample_run",
    "starting_structure",
]

logger = logging.getLogger(__name__)

CONFIGS = ("crystal", "strained", "vacancy", "liquid")
"""Configuration kinds, in the order the recipe samples and writes them."""

STRAIN_KINDS = ("isotropic", "uniaxial", "shear")
"""Kinds of strain accepted by :attr:`SiliconSamplingRecipe.strain_kinds`."""

COORDINATION_RADIUS_ANGSTROM = 3.0
"""Å; neighbours closer than this count towards the logged coordination number (4
in the crystal, ~6 in the liquid: the first minimum of liquid g(r) is ~3.1 Å)."""

LIQUID_MIN_COORDINATION = 4.5
"""A "liquid" run with a lower mean coordination did not melt; a warning is logged."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class SiliconSamplingRecipe:
    """Everything that determines a Kumagai silicon data set, seed included.

    A *run* is one Langevin trajectory giving ``frames_per_run`` frames. Each
    configuration samples ``<config>_runs`` runs at each of its temperatures; an
    empty temperature tuple leaves that configuration out.
    """

    supercell: int = 2
    """Conventional 8-atom cells along each axis, ≥ 1 (2 → 64 atoms)."""

    crystal_temperatures_K: tuple[float, ...] = (300.0, 600.0, 900.0, 1200.0, 1500.0)
    """Temperatures of the perfect crystal, K, each > 0."""

    crystal_runs: int = 5
    """Runs per crystal temperature, ≥ 1."""

    strained_temperatures_K: tuple[float, ...] = (300.0, 900.0)
    """Temperatures of the strained crystal, K, each > 0."""

    strained_runs: int = 15
    """Runs per strained temperature, ≥ 1, each with its own random strain."""

    strain_kinds: tuple[str, ...] = STRAIN_KINDS
    """Strain kind of run ``i`` is ``strain_kinds[i % len(strain_kinds)]``."""

    max_strain: float = 0.03
    """Largest strain component, dimensionless, in (0, 0.2]."""

    vacancy_temperatures_K: tuple[float, ...] = (300.0, 1200.0)
    """Temperatures of the crystal with vacancies, K, each > 0."""

    vacancy_runs: int = 6
    """Runs per vacancy temperature, ≥ 1."""

    vacancy_counts: tuple[int, ...] = (1, 2, 1)
    """Run ``i`` removes ``vacancy_counts[i % len(vacancy_counts)]`` random atoms,
    each ≥ 1 and fewer than a quarter of the atoms."""

    liquid_temperatures_K: tuple[float, ...] = (1800.0, 2000.0)
    """Temperatures of the liquid, K, each > 0 (Kumagai silicon melts near 1700 K)."""

    liquid_runs: int = 4
    """Runs per liquid temperature, ≥ 1, each melted on its own."""

    liquid_density_g_per_cm3: float = 2.57
    """Density of the liquid cell, g/cm³, > 0 (the crystal's is 2.33)."""

    melt_temperature_K: float = 3500.0
    """Temperature at which each liquid run is melted, K, > 0."""

    melt_steps: int = 750
    """MD steps at ``melt_temperature_K`` before a liquid run's equilibration, ≥ 0."""

    timestep_fs: float = 2.0
    """MD time step, fs, > 0."""

    friction_per_fs: float = 0.01
    """Langevin friction, 1/fs, > 0; 0.01 fs⁻¹ relaxes kinetic energy in ~100 fs."""

    equilibration_steps: int = 400
    """MD steps discarded at the start of each run (after melting), ≥ 0."""

    frames_per_run: int = 12
    """Frames kept per run, ≥ 1."""

    sample_interval: int = 25
    """Keep every this-many-th production step, ≥ 1 (25 × 2 fs = 50 fs apart)."""

    test_fraction: float = 0.2
    """Share of each configuration's runs per temperature held out for the test
    file, in [0, 1): ``max(1, floor(test_fraction × runs))`` runs, none for 0."""

    seed: int = 0
    """Seed of every random number in the recipe, ≥ 0."""

    def __post_init__(self) -> None:
        _check_lower_bound(self, 1, "supercell", "crystal_runs", "strained_runs")
        _check_lower_bound(self, 1, "vacancy_runs", "liquid_runs", "frames_per_run")
        _check_lower_bound(self, 1, "sample_interval")
        _check_lower_bound(self, 0, "melt_steps", "equilibration_steps", "seed")
        positive = ("timestep_fs", "friction_per_fs", "melt_temperature_K")
        _check_lower_bound(self, 0, *positive, strict=True)
        _check_lower_bound(self, 0, "liquid_density_g_per_cm3", strict=True)
        for config in CONFIGS:
            temperatures = getattr(self, f"{config}_temperatures_K")
            if any(not temperature > 0 for temperature in temperatures):
                raise ValueError(
                    f"{config}_temperatures_K must all be > 0, got {temperatures}"
                )
        if not any(getattr(self, f"{c}_temperatures_K") for c in CONFIGS):
            raise ValueError("every *_temperatures_K is empty: nothing to sample")
        if not 0 < self.max_strain <= 0.2:
            raise ValueError(f"max_strain must be in (0, 0.2], got {self.max_strain}")
        unknown = set(self.strain_kinds) - set(STRAIN_KINDS)
        if not self.strain_kinds or unknown:
            raise ValueError(
                f"strain_kinds must be a non-empty selection of {STRAIN_KINDS}, "
                f"got {self.strain_kinds}"
            )
        n_atoms = 8 * self.supercell**3
        if not self.vacancy_counts or not all(
            1 <= count < n_atoms / 4 for count in self.vacancy_counts
        ):
            raise ValueError(
                f"vacancy_counts must be non-empty, each >= 1 and < {n_atoms / 4:g} "
                f"(a quarter of {n_atoms} atoms), got {self.vacancy_counts}"
            )
        self._check_split()

    def _check_split(self) -> None:
        if not 0 <= self.test_fraction < 1:
            raise ValueError(
                f"test_fraction must be in [0, 1), got {self.test_fraction}"
            )
        for config in CONFIGS:
            runs = getattr(self, f"{config}_runs")
            if self.held_out_runs(config) >= runs:
                raise ValueError(
                    f"{config}_runs ({runs}) must be larger than the "
                    f"{self.held_out_runs(config)} run(s) test_fraction="
                    f"{self.test_fraction} holds out, or no training run is left"
                )

    def held_out_runs(self, config: str) -> int:
        """Runs per temperature of ``config`` that go to the test file."""
        if self.test_fraction == 0:
            return 0
        runs = getattr(self, f"{config}_runs")
        return max(1, int(self.test_fraction * runs + 1e-9))


def _check_lower_bound(
    recipe: SiliconSamplingRecipe, bound: int, *names: str, strict: bool = False
) -> None:
    """Raise a ValueError naming the field unless each is ≥ (> if strict) bound."""
    for name in names:
        value = getattr(recipe, name)
        if (value <= bound) if strict else (value < bound):
            relation = ">" if strict else ">="
            raise ValueError(f"{name} must be {relation} {bound}, got {value}")


@dataclasses.dataclass(frozen=True)
class Run:
    """One planned MD run.

    Attributes:
        config: one of :data:`CONFIGS`.
        temperature_K: Langevin thermostat temperature, K.
        index: place among the runs of the same config and temperature.
        held_out: whether its frames go to the test file.
    """

    config: str
    temperature_K: float
    index: int
    held_out: bool


def make_kumagai_calculator() -> Calculator:
    """A new matscipy ``Manybody`` calculator with Kumagai's silicon parameters."""
    from matscipy.calculators.manybody import Manybody
    from matscipy.calculators.manybody.explicit_forms import Kumagai
    from matscipy.calculators.manybody.explicit_forms.kumagai import (
        Kumagai_Comp_Mat_Sci_39_Si,
    )

    calculator: Calculator = Manybody(**Kumagai(Kumagai_Comp_Mat_Sci_39_Si))
    return calculator


def relax_lattice_constant(
    calculator: Calculator,
    guess_angstrom: float = 5.43,
    fmax_eV_per_angstrom: float = 1e-4,
    max_steps: int = 500,
) -> float:
    """Cubic lattice constant (Å) of diamond silicon relaxed with ``calculator``.

    BFGS on a ``FrechetCellFilter`` of the 8-atom conventional cell, positions and
    cell together, until every force and scaled stress component is below
    ``fmax_eV_per_angstrom``; returns the cube root of the cell volume.

    Raises:
        RuntimeError: the relaxation did not converge in ``max_steps`` steps.
    """
    atoms = bulk("Si", "diamond", a=guess_angstrom, cubic=True)
    atoms.calc = calculator
    # ase annotates Optimizer's argument as Atoms; filters are its documented use
    optimizer = BFGS(FrechetCellFilter(atoms), logfile=None)  # type: ignore[arg-type]
    if not optimizer.run(fmax=fmax_eV_per_angstrom, steps=max_steps):
        raise RuntimeError(
            f"lattice relaxation did not reach fmax={fmax_eV_per_angstrom} "
            f"in {max_steps} steps"
        )
    return float(atoms.cell.volume ** (1 / 3))


def plan_runs(recipe: SiliconSamplingRecipe) -> list[Run]:
    """Every run of the recipe: config by config, temperature by temperature."""
    plan = []
    for config in CONFIGS:
        runs = getattr(recipe, f"{config}_runs")
        first_held_out = runs - recipe.held_out_runs(config)
        for temperature_K in getattr(recipe, f"{config}_temperatures_K"):
            plan += [
                Run(config, float(temperature_K), index, index >= first_held_out)
                for index in range(runs)
            ]
    return plan


def random_strain(kind: str, max_strain: float, rng: np.random.Generator) -> np.ndarray:
    """A symmetric (3, 3) strain of ``kind`` with magnitude uniform in ±max_strain."""
    magnitude = rng.uniform(-max_strain, max_strain)
    strain = np.zeros((3, 3))
    if kind == "isotropic":
        strain[np.diag_indices(3)] = magnitude
    elif kind == "uniaxial":
        axis = rng.integers(3)
        strain[axis, axis] = magnitude
    elif kind == "shear":
        first, second = rng.choice(3, size=2, replace=False)
        strain[first, second] = strain[second, first] = magnitude
    else:
        raise ValueError(f"unknown strain kind {kind!r}; known: {STRAIN_KINDS}")
    return strain


def starting_structure(
    run: Run,
    lattice_constant_angstrom: float,
    recipe: SiliconSamplingRecipe,
    rng: np.random.Generator,
) -> Atoms:
    """The run's starting cell (Å), with its config tags in ``info``."""
    atoms = bulk("Si", "diamond", a=lattice_constant_angstrom, cubic=True)
    atoms = atoms.repeat(recipe.supercell)
    atoms.info.update(config=run.config, temperature_K=run.temperature_K)
    if run.config == "strained":
        kind = recipe.strain_kinds[run.index % len(recipe.strain_kinds)]
        strain = random_strain(kind, recipe.max_strain, rng)
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
        voigt = strain[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        atoms.info.update(strain_kind=kind, strain=voigt)
    elif run.config == "vacancy":
        count = recipe.vacancy_counts[run.index % len(recipe.vacancy_counts)]
        del atoms[sorted(rng.choice(len(atoms), size=count, replace=False))]
        atoms.info.update(n_vacancies=count)
    elif run.config == "liquid":
        mass_g = atoms.get_masses().sum() * units._amu * 1e3
        volume_angstrom3 = mass_g / recipe.liquid_density_g_per_cm3 * 1e24
        scale = (volume_angstrom3 / atoms.get_volume()) ** (1 / 3)
        atoms.set_cell(atoms.cell.array * scale, scale_atoms=True)
    return atoms


def _langevin(
    atoms: Atoms,
    temperature_K: float,
    recipe: SiliconSamplingRecipe,
    rng: np.random.Generator,
) -> Langevin:
    return Langevin(
        atoms,
        timestep=recipe.timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=recipe.friction_per_fs / units.fs,
        fixcm=False,  # the FixCom constraint keeps the centre of mass instead
        rng=rng,
    )


def _run_steps(dynamics: Langevin, steps: int, progress: ProgressLine | None) -> None:
    if steps:
        dynamics.run(steps)
    if progress is not None:
        progress.advance(steps)


def mean_coordination(atoms: Atoms) -> float:
    """Mean number of neighbours within ``COORDINATION_RADIUS_ANGSTROM``."""
    first = neighbor_list("i", atoms, COORDINATION_RADIUS_ANGSTROM)
    return len(first) / len(atoms)


def sample_run(
    start: Atoms,
    run: Run,
    recipe: SiliconSamplingRecipe,
    rng: np.random.Generator,
    progress: ProgressLine | None = None,
) -> list[Atoms]:
    """Unlabelled frames of one Langevin run from ``start`` (not modified).

    Liquid runs are first melted for ``recipe.melt_steps`` at
    ``recipe.melt_temperature_K``. Returns ``recipe.frames_per_run`` frames carrying
    ``start``'s tags plus ``sampling="md"``, ``run`` and ``md_step``; ``progress``
    advances once per MD step.
    """
    atoms = start.copy()
    atoms.set_constraint(FixCom())
    atoms.calc = make_kumagai_calculator()
    melting = run.config == "liquid"
    first_K = recipe.melt_temperature_K if melting else run.temperature_K
    thermalize_momenta(atoms, temperature_K=first_K, rng=rng)
    Stationary(atoms)
    if melting:
        _run_steps(_langevin(atoms, first_K, recipe, rng), recipe.melt_steps, progress)
    dynamics = _langevin(atoms, run.temperature_K, recipe, rng)
    _run_steps(dynamics, recipe.equilibration_steps, progress)
    frames, temperatures_K, coordinations = [], [], []
    for number in range(1, recipe.frames_per_run + 1):
        _run_steps(dynamics, recipe.sample_interval, progress)
        frame = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
        frame.info.update(start.info)
        frame.info.update(
            sampling="md", run=run.index, md_step=number * recipe.sample_interval
        )
        frames.append(frame)
        temperatures_K.append(atoms.get_temperature())
        coordinations.append(mean_coordination(frame))
    logger.info(
        "%s %g K run %d%s: kinetic temperature %.0f K, coordination %.2f",
        run.config,
        run.temperature_K,
        run.index,
        " (test)" if run.held_out else "",
        np.mean(temperatures_K),
        np.mean(coordinations),
    )
    if melting and np.mean(coordinations) < LIQUID_MIN_COORDINATION:
        logger.warning("liquid run %d did not melt: raise melt_steps", run.index)
    return frames


def label_frame(frame: Atoms) -> Atoms:
    """A copy of ``frame`` labelled by a fresh Kumagai single point.

    The copy holds ``energy`` (eV) and ``stress`` (Voigt 6, eV/Å³) in ``info`` and
    ``forces`` (n_atoms, 3) eV/Å in ``arrays``, and has no calculator.
    """
    atoms = Atoms(frame.numbers, frame.positions, cell=frame.cell, pbc=frame.pbc)
    atoms.calc = make_kumagai_calculator()
    energy_eV = float(atoms.get_potential_energy())
    forces_eV_per_angstrom = np.array(atoms.get_forces())
    stress_eV_per_angstrom3 = np.array(atoms.get_stress(voigt=True))
    atoms.calc = None
    atoms.info.update(frame.info)
    atoms.info.update(energy=energy_eV, stress=stress_eV_per_angstrom3)
    atoms.arrays["forces"] = forces_eV_per_angstrom
    return atoms


def _write(frames: Sequence[Atoms], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    ase.io.write(partial, list(frames), format="extxyz")
    partial.replace(path)
    logger.info("wrote %d frames to %s", len(frames), path)


def generate_silicon_dataset(
    recipe: SiliconSamplingRecipe,
    output_path: str | os.PathLike[str],
    progress: bool = True,
    *,
    test_path: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path | None]:
    """Run the recipe and write the labelled frames to extxyz files.

    Frames are written in the order of :func:`plan_runs`. Files appear only once
    complete. Without ``test_path`` the held-out runs are skipped, and the training
    file is the same as with it.

    Args:
        recipe: What to sample and how.
        output_path: The training extxyz file; parent folders are created.
        progress: Show a progress line on stderr (see ``ProgressLine``).
        test_path: The extxyz file of the held-out runs, or None.

    Returns:
        The training and test paths written (test None when not asked for).
    """
    plan = plan_runs(recipe)
    streams = np.random.SeedSequence(recipe.seed).spawn(len(plan))
    chosen = [
        (run, stream)
        for run, stream in zip(plan, streams, strict=True)
        if test_path is not None or not run.held_out
    ]
    if test_path is not None and not any(run.held_out for run, _ in chosen):
        raise ValueError("test_path given but test_fraction is 0: no test runs")
    steps = recipe.equilibration_steps + recipe.frames_per_run * recipe.sample_interval
    n_work = sum(
        steps + recipe.frames_per_run + recipe.melt_steps * (run.config == "liquid")
        for run, _ in chosen
    )
    lattice_constant = relax_lattice_constant(make_kumagai_calculator(), 5.43, 1e-6)
    logger.info("Kumagai lattice constant: %.6f Å", lattice_constant)
    train: list[Atoms] = []
    test: list[Atoms] = []
    label = f"Kumagai {Path(output_path).name}:"
    with ProgressLine(n_work, label, enabled=progress) as line:
        for run, stream in chosen:
            rng = np.random.default_rng(stream)
            start = starting_structure(run, lattice_constant, recipe, rng)
            for frame in sample_run(start, run, recipe, rng, line):
                (test if run.held_out else train).append(label_frame(frame))
                line.advance()
    _write(train, Path(output_path))
    if test_path is None:
        return Path(output_path), None
    _write(test, Path(test_path))
    return Path(output_path), Path(test_path)


_DEFAULTS: dict[str, object] = {
    field.name: field.default for field in dataclasses.fields(SiliconSamplingRecipe)
}

# (flag, recipe field, help); tuple-valued fields take several values (none: off)
_OPTIONS = [
    ("--supercell", "supercell", "conventional cells per axis"),
    ("--crystal-temperatures", "crystal_temperatures_K", "crystal, K"),
    ("--crystal-runs", "crystal_runs", "runs per crystal temperature"),
    ("--strained-temperatures", "strained_temperatures_K", "strained crystal, K"),
    ("--strained-runs", "strained_runs", "runs per strained temperature"),
    ("--strain-kinds", "strain_kinds", f"cycled over runs, from {STRAIN_KINDS}"),
    ("--max-strain", "max_strain", "largest strain component"),
    ("--vacancy-temperatures", "vacancy_temperatures_K", "crystal with vacancies, K"),
    ("--vacancy-runs", "vacancy_runs", "runs per vacancy temperature"),
    ("--vacancy-counts", "vacancy_counts", "atoms removed, cycled over runs"),
    ("--liquid-temperatures", "liquid_temperatures_K", "liquid, K"),
    ("--liquid-runs", "liquid_runs", "runs per liquid temperature"),
    ("--liquid-density", "liquid_density_g_per_cm3", "liquid density, g/cm³"),
    ("--melt-temperature", "melt_temperature_K", "melting temperature, K"),
    ("--melt-steps", "melt_steps", "MD steps of melting per liquid run"),
    ("--timestep", "timestep_fs", "MD time step, fs"),
    ("--friction", "friction_per_fs", "Langevin friction, 1/fs"),
    ("--equilibration", "equilibration_steps", "discarded MD steps per run"),
    ("--frames-per-run", "frames_per_run", "frames kept per run"),
    ("--interval", "sample_interval", "keep every this-many-th step"),
    ("--test-fraction", "test_fraction", "share of runs held out for test"),
    ("--seed", "seed", "random seed"),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each option maps to one ``SiliconSamplingRecipe`` field."""
    parser = argparse.ArgumentParser(
        prog="python -m pointchem.recipes.silicon",
        description="Generate seeded silicon reference data labelled with the "
        "Kumagai potential (energy eV, forces eV/Å, stress eV/Å³) as extxyz.",
    )
    for flag, field, text in _OPTIONS:
        default = _DEFAULTS[field]
        if isinstance(default, tuple):
            kind, nargs, shown = type(default[0]), "*", " ".join(map(str, default))
        else:
            kind, nargs, shown = type(default), None, str(default)
        parser.add_argument(
            flag,
            dest=field,
            type=kind,
            nargs=nargs,
            metavar=flag.removeprefix("--").upper(),
            help=f"{text} ({shown})",
        )
    parser.add_argument("--output", required=True, help="training extxyz file")
    parser.add_argument("--test-output", help="extxyz file of the held-out runs")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the recipe, write the files; returns the exit status."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    given: dict[str, Any] = {
        field: tuple(value) if isinstance(value, list) else value
        for _, field, _ in _OPTIONS
        if (value := getattr(arguments, field)) is not None
    }
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        recipe = SiliconSamplingRecipe(**given)
    except ValueError as error:
        parser.error(str(error))
    logging.getLogger(__name__).info("recipe: %s", recipe)
    generate_silicon_dataset(
        recipe,
        arguments.output,
        progress=not arguments.quiet,
        test_path=arguments.test_output,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
