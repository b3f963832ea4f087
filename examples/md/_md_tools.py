"""Helpers shared by the MD examples (not an example itself).

Output at an interval (ASE ``Trajectory`` and ``MDLogger``), the fraction of MD steps
that rebuilt the calculator's neighbor list, sampling of observables along a run, and
the statistics the examples report: the drift of the total energy (least-squares
slope), the mean of a correlated series with its standard error by block averaging,
and the canonical distribution of the kinetic energy.

``benchmarks/md_ensembles.py`` imports these through the examples, so the numbers it
reports are computed by the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import ase
import numpy as np
from ase import units
from ase.build import molecule
from ase.io import Trajectory
from ase.md.logger import MDLogger
from ase.md.md import MolecularDynamics
from ase.optimize import BFGS
from scipy import stats
from scipy.stats.distributions import rv_frozen

from pointchem import PointChemCalculator

try:
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # ase < 3.29
    from ase.md.velocitydistribution import (
        MaxwellBoltzmannDistribution as thermalize_momenta,
    )

__all__ = [
    "Sampler",
    "attach_output",
    "block_average",
    "kinetic_energy_distribution",
    "linear_drift",
    "relaxed_ethanol",
    "run_timed",
    "thermalize_momenta",
]

POTENTIALS = Path(__file__).resolve().parents[2] / "potentials"
"""The shipped potentials of a clone of the repository."""

MIN_BLOCKS = 16
"""Blocking stops when fewer blocks than this are left (their variance is too noisy)."""


def relaxed_ethanol(calculator: PointChemCalculator) -> ase.Atoms:
    """Ethanol (ASE's G2 geometry) relaxed by BFGS to 1e-3 eV/Å with ``calculator``."""
    atoms = molecule("CH3CH2OH")
    atoms.calc = calculator
    if not BFGS(atoms, logfile=None).run(fmax=1e-3, steps=500):
        raise RuntimeError("the ethanol relaxation did not converge in 500 steps")
    return atoms


def attach_output(
    dynamics: MolecularDynamics, stem: str | Path, interval: int, stress: bool = False
) -> Trajectory:
    """Write ``stem.traj`` and the ASE MD log ``stem.log`` every ``interval`` steps.

    Args:
        dynamics: the integrator; its atoms are written.
        stem: path without suffix.
        interval: steps between frames and log lines.
        stress: also log the stress (GPa, kinetic part included); periodic cells only.

    Returns:
        The open trajectory: close it after the run.
    """
    trajectory = Trajectory(f"{stem}.traj", "w", dynamics.atoms)
    dynamics.attach(trajectory.write, interval=interval)
    logger = MDLogger(
        dynamics, dynamics.atoms, f"{stem}.log", header=True, stress=stress, mode="w"
    )
    dynamics.attach(logger, interval=interval)
    return trajectory


class Sampler:
    """Observables sampled every ``interval`` steps of a run, plus neighbor-list use.

    Args:
        dynamics: the integrator to attach to.
        observables: name → function of the atoms returning a float; called at each
            sample (the calculator caches results, so energies cost nothing extra).
        interval: steps between samples.

    Attributes:
        builds_at_start: neighbor-list builds of the calculator before the run.
        steps_at_start: step counter of the integrator before the run.
    """

    def __init__(
        self,
        dynamics: MolecularDynamics,
        observables: dict[str, Callable[[ase.Atoms], float]],
        interval: int,
    ):
        self.dynamics = dynamics
        self.observables = observables
        self.samples: dict[str, list[float]] = {"time_fs": []}
        self.samples.update({name: [] for name in observables})
        self.builds_at_start = self._calculator().neighbors.n_builds
        self.steps_at_start = dynamics.nsteps
        dynamics.attach(self._sample, interval=interval)

    def _calculator(self) -> PointChemCalculator:
        calculator = self.dynamics.atoms.calc
        if not isinstance(calculator, PointChemCalculator):
            raise TypeError("the atoms need a PointChemCalculator")
        return calculator

    def _sample(self) -> None:
        self.samples["time_fs"].append(self.dynamics.get_time() / units.fs)
        for name, observable in self.observables.items():
            self.samples[name].append(observable(self.dynamics.atoms))

    def arrays(self, skip_fs: float = 0.0) -> dict[str, np.ndarray]:
        """The samples as arrays, leaving out those before ``skip_fs`` (fs)."""
        time_fs = np.asarray(self.samples["time_fs"])
        keep = time_fs >= skip_fs
        return {name: np.asarray(values)[keep] for name, values in self.samples.items()}

    def rebuild_fraction(self) -> float:
        """Fraction of the steps since the start that rebuilt the neighbor list."""
        steps = self.dynamics.nsteps - self.steps_at_start
        builds = self._calculator().neighbors.n_builds - self.builds_at_start
        return builds / max(steps, 1)


def run_timed(dynamics: MolecularDynamics, steps: int) -> dict[str, float]:
    """Run ``steps`` steps; return wall-clock and CPU milliseconds per step.

    Both are given because on a shared core the wall-clock time also counts the
    other processes; the CPU time of this process does not.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    dynamics.run(steps)
    return {
        "ms_per_step": 1e3 * (time.perf_counter() - wall) / max(steps, 1),
        "cpu_ms_per_step": 1e3 * (time.process_time() - cpu) / max(steps, 1),
    }


def linear_drift(
    time_fs: np.ndarray, energy_eV: np.ndarray, n_atoms: int
) -> dict[str, float]:
    """Drift and fluctuation of a total energy from a least-squares line.

    Args:
        time_fs: (n_samples,) times, fs.
        energy_eV: (n_samples,) total energies, eV.
        n_atoms: atoms in the system (results are per atom).

    Returns:
        ``drift_meV_per_atom_per_ns`` (slope of the line),
        ``fluctuation_meV_per_atom`` (standard deviation about the line) and
        ``max_excursion_meV_per_atom`` (largest |E(t) − E(0)|).
    """
    energy = (np.asarray(energy_eV) - energy_eV[0]) * 1e3 / n_atoms
    time_ns = np.asarray(time_fs) * 1e-6
    slope, intercept = np.polyfit(time_ns, energy, 1)
    residual = energy - (slope * time_ns + intercept)
    return {
        "drift_meV_per_atom_per_ns": float(slope),
        "fluctuation_meV_per_atom": float(residual.std()),
        "max_excursion_meV_per_atom": float(np.abs(energy).max()),
    }


def block_average(samples: np.ndarray) -> tuple[float, float, float]:
    """Mean of a correlated series and its standard error by block averaging.

    Flyvbjerg and Petersen, J. Chem. Phys. 91, 461 (1989): neighbouring samples are
    averaged in pairs again and again; the naive standard error of the block means
    grows until the blocks are longer than the correlation time, then stays flat.
    The largest estimate among levels that keep at least ``MIN_BLOCKS`` blocks is
    returned (slightly conservative).

    Args:
        samples: (n_samples,) equally spaced in time, at least ``MIN_BLOCKS`` long.

    Returns:
        Mean, its standard error, and the statistical inefficiency
        (standard error / naive standard error)², about twice the integrated
        correlation time in units of the sample spacing.
    """
    blocks = np.asarray(samples, dtype=float)
    if len(blocks) < MIN_BLOCKS:
        raise ValueError(f"need at least {MIN_BLOCKS} samples, got {len(blocks)}")
    mean = float(blocks.mean())
    errors = []
    while len(blocks) >= MIN_BLOCKS:
        errors.append(blocks.std(ddof=1) / np.sqrt(len(blocks)))
        blocks = blocks[: len(blocks) // 2 * 2]
        blocks = 0.5 * (blocks[0::2] + blocks[1::2])
    error = float(max(errors))
    inefficiency = (error / errors[0]) ** 2 if errors[0] > 0 else 1.0
    return mean, error, float(inefficiency)


def kinetic_energy_distribution(n_dof: int, temperature_K: float) -> rv_frozen:
    """The canonical distribution of the kinetic energy (eV) of ``n_dof`` momenta.

    Each momentum degree of freedom contributes a χ² term, so the kinetic energy is
    gamma-distributed with shape n_dof/2 and scale k_B T: mean n_dof k_B T / 2 and
    relative standard deviation √(2 / n_dof).
    """
    return stats.gamma(a=0.5 * n_dof, scale=units.kB * temperature_K)
