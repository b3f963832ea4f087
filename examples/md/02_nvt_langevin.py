"""Langevin NVT of ethanol at 300 K with the shipped Gaussian-moment potential.

Loads ``potentials/ethanol-gm.pt`` (trained on GFN2-xTB data, see
``potentials/README.md``), thermalises ethanol at 300 K, runs Langevin dynamics with a
0.5 fs step, writes the trajectory and saves a PNG of temperature and energies against
time. The temperature fluctuates around 300 K with the spread expected for 9 atoms
(σ_T/T ≈ √(2/(3N)) ≈ 27 %).

Run: ``python examples/md/02_nvt_langevin.py`` (``POINTCHEM_SMOKE=1`` for a few steps).
Writes ``nvt_ethanol.traj`` and ``nvt_ethanol.png`` in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from ase import units
from ase.build import molecule
from ase.constraints import FixCom
from ase.io import Trajectory
from ase.md.langevin import Langevin
from ase.optimize import BFGS

from pointchem import PointChemCalculator

try:
    from ase.md.velocitydistribution import thermalize_momenta
except ImportError:  # ase < 3.29
    from ase.md.velocitydistribution import (
        MaxwellBoltzmannDistribution as thermalize_momenta,
    )

POTENTIAL = Path(__file__).resolve().parents[2] / "potentials" / "ethanol-gm.pt"
SMOKE = bool(os.environ.get("POINTCHEM_SMOKE"))
STEPS = 100 if SMOKE else 20_000  # 10 ps
TIMESTEP_FS = 0.5
TEMPERATURE_K = 300.0


def main() -> None:
    """Run NVT, print the mean temperature and save trajectory and plot."""
    atoms = molecule("CH3CH2OH")
    atoms.calc = PointChemCalculator(POTENTIAL)
    BFGS(atoms, logfile=None).run(fmax=0.01, steps=200)
    atoms.set_constraint(FixCom())
    thermalize_momenta(atoms, temperature_K=TEMPERATURE_K, rng=np.random.default_rng(0))
    dynamics = Langevin(
        atoms,
        timestep=TIMESTEP_FS * units.fs,
        temperature_K=TEMPERATURE_K,
        friction=0.01 / units.fs,
        fixcm=False,
        rng=np.random.default_rng(1),
    )
    trajectory = Trajectory("nvt_ethanol.traj", "w", atoms)
    dynamics.attach(trajectory.write, interval=20)
    records: list[tuple[float, float, float, float]] = []

    def record() -> None:
        records.append(
            (
                dynamics.get_time() / units.fs,
                atoms.get_temperature(),
                atoms.get_potential_energy(),
                atoms.get_kinetic_energy(),
            )
        )

    dynamics.attach(record, interval=10)
    dynamics.run(STEPS)
    trajectory.close()
    time_fs, temperature, potential, kinetic = (
        np.array(c) for c in zip(*records, strict=True)
    )
    second_half = temperature[len(temperature) // 2 :]
    print(
        f"{STEPS} steps of {TIMESTEP_FS} fs at {TEMPERATURE_K} K: "
        f"mean T (second half) {second_half.mean():.1f} K ± {second_half.std():.1f} K"
    )
    _plot(time_fs, temperature, potential, kinetic)


def _plot(
    time_fs: np.ndarray,
    temperature: np.ndarray,
    potential: np.ndarray,
    kinetic: np.ndarray,
) -> None:
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    top.plot(time_fs / 1000, temperature, lw=0.8)
    top.axhline(TEMPERATURE_K, color="grey", ls="--", lw=0.8)
    top.set_ylabel("temperature (K)")
    bottom.plot(time_fs / 1000, potential - potential.min(), lw=0.8, label="potential")
    bottom.plot(time_fs / 1000, kinetic, lw=0.8, label="kinetic")
    bottom.set_xlabel("time (ps)")
    bottom.set_ylabel("energy (eV)")
    bottom.legend()
    figure.tight_layout()
    figure.savefig("nvt_ethanol.png", dpi=120)


if __name__ == "__main__":
    main()
