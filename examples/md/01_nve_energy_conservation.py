"""NVE molecular dynamics of ethanol: exact forces conserve the total energy.

Builds a small Gaussian-moment model (random weights until a trained potential ships:
the dynamics is not chemistry yet, but the physics of the integration is), attaches it
to ethanol through ``PointChemCalculator``, relaxes the structure with BFGS, then runs
velocity-Verlet NVE at 300 K and reports the drift of the total energy. Because forces
are the exact negative gradient of the energy, the drift shrinks with the timestep
squared and stays far below the kinetic energy.

Run: ``python examples/md/01_nve_energy_conservation.py`` (``POINTCHEM_SMOKE=1`` for a
few steps only). Writes ``nve_ethanol.traj`` and ``nve_ethanol.png`` in the working
directory.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from ase import units
from ase.build import molecule
from ase.io import Trajectory
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

from pointchem import PointChemCalculator
from pointchem.models.gm import GaussianMomentModel, GMHypers

try:
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # ase < 3.29
    from ase.md.velocitydistribution import (
        MaxwellBoltzmannDistribution as thermalize_momenta,
    )

SMOKE = bool(os.environ.get("POINTCHEM_SMOKE"))
STEPS = 50 if SMOKE else 4000
TIMESTEP_FS = 0.5


def main() -> None:
    """Relax ethanol, run NVE, print the energy drift and save a plot."""
    torch.manual_seed(0)
    hypers = GMHypers(cutoff=5.0, n_basis=8, n_radial=3, hidden_sizes=(32, 32))
    model = GaussianMomentModel(hypers, atomic_numbers=[1, 6, 8]).double()
    atoms = molecule("CH3CH2OH")
    atoms.calc = PointChemCalculator(model, dtype=torch.float64, skin=1.0)
    BFGS(atoms, logfile=None, maxstep=0.05).run(fmax=0.05, steps=100)

    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dynamics = VelocityVerlet(atoms, timestep=TIMESTEP_FS * units.fs)
    trajectory = Trajectory("nve_ethanol.traj", "w", atoms)
    dynamics.attach(trajectory.write, interval=10)
    records: list[tuple[float, float, float]] = []

    def record() -> None:
        records.append(
            (
                atoms.get_potential_energy(),
                atoms.get_kinetic_energy(),
                dynamics.get_time(),
            )
        )

    dynamics.attach(record, interval=1)
    dynamics.run(STEPS)
    trajectory.close()

    potential, kinetic, time = (
        np.array(column) for column in zip(*records, strict=True)
    )
    total = potential + kinetic
    drift = (total[-1] - total[0]) / len(atoms)
    print(
        f"{STEPS} steps of {TIMESTEP_FS} fs: "
        f"total-energy drift {drift * 1e3:.3f} meV/atom"
    )
    print(f"fluctuation (std) {total.std() / len(atoms) * 1e3:.3f} meV/atom")
    _plot(time / units.fs, potential, kinetic, total)


def _plot(
    time_fs: np.ndarray, potential: np.ndarray, kinetic: np.ndarray, total: np.ndarray
) -> None:
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for label, values in (
        ("potential", potential),
        ("kinetic", kinetic),
        ("total", total),
    ):
        axis.plot(time_fs, values - total[0], label=label)
    axis.set_xlabel("time (fs)")
    axis.set_ylabel("energy − E_total(0) (eV)")
    axis.legend()
    figure.tight_layout()
    figure.savefig("nve_ethanol.png", dpi=120)


if __name__ == "__main__":
    main()
