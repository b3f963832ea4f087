"""Seeded GFN2-xTB reference data: Langevin MD at several temperatures, plus rattling.

The recipe, in four named steps (each a function below):

1. ``relax_structure``: BFGS-relax the input molecule with the xTB calculator.
2. ``sample_md_frames``: for each temperature, draw Maxwell–Boltzmann momenta,
   run Langevin MD (``fixcm=False`` with a ``FixCom`` constraint, as ASE ≥ 3.28
   recommends), discard ``equilibration_steps`` and keep every
   ``sample_interval``-th step of the following ``steps``.
3. ``rattle_frames``: copy randomly chosen MD frames and add Gaussian noise of
   standard deviation ``rattle_amplitude_angstrom`` to every Cartesian coordinate.
4. ``label_frames``: a fresh single point per frame (no wavefunction carried over
   from the previous geometry, so a label depends on its geometry only).

Every random number comes from ``numpy.random.SeedSequence(seed)``: one spawned
stream per temperature, one for rattling. tblite runs on one OpenMP thread while
a data set is made, because its threaded reductions change the last bits from
run to run (which MD then amplifies); one thread is also the fastest for small
molecules. So the same recipe and tblite version give a byte-identical file. Use
a *different seed* for held-out sets: stream ``i`` of a seed is the same whatever
the other temperatures.

Units in the written extxyz file: positions Å, ``energy`` eV, ``forces``
(n_atoms, 3) eV/Å, ``dipole`` (3,) e·Å, ``temperature_K`` K. ``sampling`` is
``"md"`` or ``"rattled"``; ``md_step`` is the MD step the frame (or the frame it
was rattled from) was taken at, counted after equilibration.

Dipole unit: tblite's ASE calculator says "Debye" in its docstring, but its code
multiplies tblite's atomic-unit dipole (e·Bohr) by ``ase.units.Bohr``, so it
returns e·Å. We checked this (tblite 0.8.0, ethanol) against −∂E/∂F from
finite electric fields, which agree to 4e-6 e·Å, and ``tests/test_recipes.py``
pins it against ``tblite.interface``'s atomic-unit result.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import ase.collections
import ase.io
import numpy as np
from ase import Atoms, units
from ase.build import molecule
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.optimize import BFGS

from .._progress import ProgressLine

__all__ = [
    "TBLITE_DIPOLE_TO_E_ANGSTROM",
    "XTBSamplingRecipe",
    "generate_xtb_dataset",
    "label_frames",
    "load_structure",
    "make_xtb_calculator",
    "one_openmp_thread",
    "rattle_frames",
    "relax_structure",
    "sample_md_frames",
    "split_by_temperature",
]

logger = logging.getLogger(__name__)

TBLITE_DIPOLE_TO_E_ANGSTROM = 1.0
"""Factor from ``tblite.ase.TBLite``'s dipole to e·Å (it is e·Å already; see above)."""


@dataclass(frozen=True, kw_only=True)
class XTBSamplingRecipe:
    """Everything that determines an xTB reference data set, seed included."""

    structure: str = "CH3CH2OH"
    """A molecule name known to ``ase.build.molecule`` (the G2 set, e.g.
    ``"CH3CH2OH"``, ``"H2O"``) or the path of a structure file ``ase.io.read``
    reads (its first frame). Names take precedence over files."""

    temperatures_K: tuple[float, ...] = (300.0, 500.0, 800.0)
    """Langevin thermostat temperatures, K, each > 0. One independent MD run each."""

    timestep_fs: float = 0.5
    """MD time step, fs, > 0."""

    steps: int = 2000
    """Production MD steps per temperature, after equilibration, ≥ sample_interval."""

    equilibration_steps: int = 1000
    """MD steps discarded at the start of each temperature, ≥ 0."""

    sample_interval: int = 20
    """Keep every this-many-th production step, ≥ 1. Each temperature gives
    ``steps // sample_interval`` frames."""

    friction_per_fs: float = 0.01
    """Langevin friction, 1/fs, > 0; 0.01 fs⁻¹ relaxes kinetic energy in ~100 fs."""

    n_rattled: int = 0
    """Number of rattled copies of randomly chosen MD frames, ≥ 0."""

    rattle_amplitude_angstrom: float = 0.05
    """Standard deviation of the Gaussian noise added to each coordinate, Å, ≥ 0."""

    seed: int = 0
    """Seed of every random number in the recipe, ≥ 0."""

    method: str = "GFN2-xTB"
    """tblite method name: ``"GFN2-xTB"``, ``"GFN1-xTB"`` or ``"IPEA1-xTB"``."""

    electronic_temperature_K: float = 300.0
    """Fermi smearing temperature of the xTB electrons, K, > 0."""

    relax_fmax_eV_per_angstrom: float = 0.01
    """Largest force component at which the starting BFGS relaxation stops, eV/Å."""

    def __post_init__(self) -> None:
        positive = {
            "timestep_fs": self.timestep_fs,
            "friction_per_fs": self.friction_per_fs,
            "electronic_temperature_K": self.electronic_temperature_K,
            "relax_fmax_eV_per_angstrom": self.relax_fmax_eV_per_angstrom,
            "sample_interval": self.sample_interval,
        }
        non_negative = {
            "equilibration_steps": self.equilibration_steps,
            "n_rattled": self.n_rattled,
            "rattle_amplitude_angstrom": self.rattle_amplitude_angstrom,
            "seed": self.seed,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        for name, value in non_negative.items():
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not self.temperatures_K or min(self.temperatures_K) <= 0:
            raise ValueError(
                f"temperatures_K must be non-empty and > 0, got {self.temperatures_K}"
            )
        if self.steps < self.sample_interval:
            raise ValueError(
                f"steps ({self.steps}) must be >= sample_interval "
                f"({self.sample_interval}), or no frame is sampled"
            )

    @property
    def frames_per_temperature(self) -> int:
        """Number of MD frames each temperature contributes."""
        return self.steps // self.sample_interval


def load_structure(structure: str) -> Atoms:
    """The starting molecule: a G2 name for ``ase.build.molecule`` or a file path.

    Raises:
        FileNotFoundError: ``structure`` is neither a known name nor a file.
    """
    if structure in ase.collections.g2.names:
        return molecule(structure)
    if Path(structure).is_file():
        atoms = ase.io.read(structure, index=0)
        assert isinstance(atoms, Atoms)
        return Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    raise FileNotFoundError(
        f"{structure!r} is neither a molecule name known to ase.build.molecule "
        "(see ase.collections.g2.names) nor an existing structure file"
    )


def make_xtb_calculator(recipe: XTBSamplingRecipe) -> Calculator:
    """A new, silent tblite ASE calculator for the recipe's method.

    Raises:
        ImportError: tblite is not installed.
    """
    try:
        from tblite.ase import TBLite
    except ImportError as error:
        raise ImportError(
            'xTB recipes need tblite: pip install "pointchem[xtb]"'
        ) from error
    return TBLite(
        method=recipe.method,
        electronic_temperature=recipe.electronic_temperature_K,
        verbosity=0,
    )


@contextlib.contextmanager
def one_openmp_thread() -> Iterator[None]:
    """Limit OpenMP (GNU libgomp, which tblite's Linux wheels use) to one thread.

    ``dlopen("libgomp.so.1")`` returns the copy already loaded in the process
    (torch's, if torch came first), which is the one tblite binds to. The previous
    thread count is restored on exit. Without libgomp this only logs a warning.
    """
    try:
        openmp = ctypes.CDLL("libgomp.so.1")
    except OSError:
        logger.warning("libgomp not found: xTB results may vary with thread count")
        yield
        return
    previous_threads = openmp.omp_get_max_threads()
    openmp.omp_set_num_threads(1)
    try:
        yield
    finally:
        openmp.omp_set_num_threads(previous_threads)


def relax_structure(atoms: Atoms, recipe: XTBSamplingRecipe) -> Atoms:
    """A BFGS-relaxed copy of ``atoms`` (positions Å), without calculator."""
    relaxed = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    relaxed.calc = make_xtb_calculator(recipe)
    optimizer = BFGS(relaxed, logfile=None)
    converged = optimizer.run(fmax=recipe.relax_fmax_eV_per_angstrom, steps=1000)
    logger.info(
        "relaxed start: E = %.6f eV after %d BFGS steps (converged: %s)",
        relaxed.get_potential_energy(),
        optimizer.nsteps,
        converged,
    )
    relaxed.calc = None
    return relaxed


def sample_md_frames(
    start: Atoms,
    temperature_K: float,
    recipe: XTBSamplingRecipe,
    rng: np.random.Generator,
    progress: ProgressLine | None = None,
) -> list[Atoms]:
    """Unlabelled frames from one Langevin run at ``temperature_K`` (K).

    Returns ``recipe.frames_per_temperature`` frames with info ``temperature_K``,
    ``sampling="md"`` and ``md_step``; ``progress`` advances once per MD step.
    """
    atoms = Atoms(start.numbers, start.positions, cell=start.cell, pbc=start.pbc)
    atoms.set_constraint(FixCom())
    atoms.calc = make_xtb_calculator(recipe)
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    dynamics = Langevin(
        atoms,
        timestep=recipe.timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=recipe.friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    if recipe.equilibration_steps:
        dynamics.run(recipe.equilibration_steps)
    if progress is not None:
        progress.advance(recipe.equilibration_steps)
    frames, kinetic_temperatures_K = [], []
    for index in range(1, recipe.frames_per_temperature + 1):
        dynamics.run(recipe.sample_interval)
        if progress is not None:
            progress.advance(recipe.sample_interval)
        frame = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        frame.info.update(
            temperature_K=float(temperature_K),
            sampling="md",
            md_step=index * recipe.sample_interval,
        )
        frames.append(frame)
        kinetic_temperatures_K.append(atoms.get_temperature())
    logger.info(
        "%g K: %d frames, mean kinetic temperature %.0f K",
        temperature_K,
        len(frames),
        np.mean(kinetic_temperatures_K),
    )
    return frames


def rattle_frames(
    frames: Sequence[Atoms], recipe: XTBSamplingRecipe, rng: np.random.Generator
) -> list[Atoms]:
    """``recipe.n_rattled`` noisy copies of frames chosen at random from ``frames``.

    Frames are chosen without replacement while there are enough. Copies keep the
    source's ``temperature_K`` and ``md_step`` and get ``sampling="rattled"``.
    """
    if recipe.n_rattled and not frames:
        raise ValueError("cannot rattle: no frames to rattle")
    chosen = rng.choice(
        len(frames), size=recipe.n_rattled, replace=recipe.n_rattled > len(frames)
    )
    rattled = []
    for index in chosen:
        source = frames[index]
        noise = rng.normal(
            0.0, recipe.rattle_amplitude_angstrom, source.positions.shape
        )
        frame = Atoms(
            source.numbers, source.positions + noise, cell=source.cell, pbc=source.pbc
        )
        frame.info.update(source.info, sampling="rattled")
        rattled.append(frame)
    return rattled


def label_frames(
    frames: Iterable[Atoms],
    recipe: XTBSamplingRecipe,
    progress: ProgressLine | None = None,
) -> list[Atoms]:
    """Copies of ``frames`` labelled by a fresh xTB single point each.

    The copies hold ``energy`` (eV) and ``dipole`` (3,) e·Å in ``info`` and
    ``forces`` (n_atoms, 3) eV/Å in ``arrays``, and have no calculator attached;
    ``progress`` advances once per frame.
    """
    labelled = []
    for frame in frames:
        atoms = Atoms(frame.numbers, frame.positions, cell=frame.cell, pbc=frame.pbc)
        atoms.info.update(frame.info)
        atoms.calc = make_xtb_calculator(recipe)
        energy_eV = float(atoms.get_potential_energy())
        forces_eV_per_angstrom = np.array(atoms.get_forces())
        dipole_e_angstrom = atoms.get_dipole_moment() * TBLITE_DIPOLE_TO_E_ANGSTROM
        atoms.calc = None
        atoms.info.update(energy=energy_eV, dipole=np.array(dipole_e_angstrom))
        atoms.arrays["forces"] = forces_eV_per_angstrom
        labelled.append(atoms)
        if progress is not None:
            progress.advance()
    return labelled


def generate_xtb_dataset(
    recipe: XTBSamplingRecipe,
    output_path: str | os.PathLike[str],
    progress: bool = True,
) -> Path:
    """Run the recipe and write the labelled frames to an extxyz file.

    Frames are written per temperature in the order of ``recipe.temperatures_K``,
    then the rattled ones. The file appears only once complete.

    Args:
        recipe: What to sample and how.
        output_path: The extxyz file to write; parent folders are created.
        progress: Show a progress line on stderr (see ``ProgressLine``).

    Returns:
        The path written.
    """
    output = Path(output_path)
    *md_streams, rattle_stream = np.random.SeedSequence(recipe.seed).spawn(
        len(recipe.temperatures_K) + 1
    )
    md_steps = recipe.equilibration_steps + recipe.steps
    n_frames = recipe.frames_per_temperature * len(recipe.temperatures_K)
    n_work = md_steps * len(recipe.temperatures_K) + n_frames + recipe.n_rattled
    with (
        one_openmp_thread(),
        ProgressLine(n_work, f"xTB {output.name}:", enabled=progress) as line,
    ):
        start = relax_structure(load_structure(recipe.structure), recipe)
        md_frames = []
        for temperature_K, stream in zip(
            recipe.temperatures_K, md_streams, strict=True
        ):
            rng = np.random.default_rng(stream)
            md_frames += sample_md_frames(start, temperature_K, recipe, rng, line)
        rattled = rattle_frames(md_frames, recipe, np.random.default_rng(rattle_stream))
        frames = label_frames([*md_frames, *rattled], recipe, line)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    ase.io.write(partial, frames, format="extxyz")
    partial.replace(output)
    logger.info("wrote %d frames to %s", len(frames), output)
    return output


def split_by_temperature(
    frames: Iterable[Atoms],
    test_temperatures_K: Iterable[float],
    tolerance_K: float = 1e-6,
) -> tuple[list[Atoms], list[Atoms]]:
    """Split frames by their ``info["temperature_K"]`` into (kept, held out).

    A frame is held out when its temperature is within ``tolerance_K`` (K) of one
    of ``test_temperatures_K``, whatever its ``sampling``. Frames read back with
    ``ase.io.read`` keep ``temperature_K`` in ``info``.

    Raises:
        KeyError: A frame has no ``temperature_K``.
    """
    test = np.asarray(list(test_temperatures_K), dtype=float)
    kept: list[Atoms] = []
    held_out: list[Atoms] = []
    for frame in frames:
        if "temperature_K" not in frame.info:
            raise KeyError("frame has no info['temperature_K'] to split on")
        distance_K = np.abs(test - float(frame.info["temperature_K"]))
        (held_out if np.any(distance_K <= tolerance_K) else kept).append(frame)
    return kept, held_out


if __name__ == "__main__":
    from pointchem.recipes.__main__ import main

    raise SystemExit(main())
