"""Energy conservation of a shipped potential in NVE (velocity Verlet).

Runs a structure the potential knows (ethanol for H/C/O potentials, a 64-atom
diamond cell for silicon ones) from a 300 K Maxwell–Boltzmann start (after a BFGS
relaxation of the positions) with velocity Verlet in float64 and reports the drift
of the total energy: the slope of a least-squares line through E_total(t), in
meV/atom/ns, its fluctuation about that line and the largest excursion (the fit of
``examples/md/_md_tools.py``, shared with the MD examples).
Writes a PNG of the total energy against time to benchmarks/out/.

Run: ``python benchmarks/nve_drift.py potentials/ethanol-gm.pt --timestep 0.5
--picoseconds 10`` (about 2 minutes on one CPU core for GM).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import ase
import matplotlib.pyplot as plt
import numpy as np
import torch
from ase import units
from ase.build import bulk, molecule
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

from pointchem import PointChemCalculator

# the drift fit is the one of the MD examples (examples/md/_md_tools.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "md"))
from _md_tools import linear_drift, thermalize_momenta

OUT = Path(__file__).parent / "out"


def start_structure(atomic_numbers: tuple[int, ...]) -> ase.Atoms:
    """Ethanol for a potential knowing H, C and O; 64-atom diamond Si for silicon."""
    if {1, 6, 8} <= set(atomic_numbers):
        return molecule("CH3CH2OH")
    if 14 in atomic_numbers:
        return bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    raise ValueError(f"no start structure for elements {atomic_numbers}")


def run_nve(potential: str, timestep_fs: float, picoseconds: float, seed: int) -> dict:
    """Run NVE and return drift statistics (meV/atom/ns, meV/atom)."""
    calculator = PointChemCalculator(potential, dtype=torch.float64, device="cpu")
    atoms = start_structure(calculator.model.atomic_numbers)
    atoms.calc = calculator
    BFGS(atoms, logfile=None).run(fmax=1e-3, steps=500)
    thermalize_momenta(atoms, temperature_K=300.0, rng=np.random.default_rng(seed))
    dynamics = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    times, totals, temperatures = [], [], []

    def record() -> None:
        times.append(dynamics.get_time() / units.fs)
        totals.append(atoms.get_total_energy())
        temperatures.append(atoms.get_temperature())

    dynamics.attach(record, interval=10)
    steps = round(picoseconds * 1000 / timestep_fs)
    start = time.perf_counter()
    dynamics.run(steps)
    wall = time.perf_counter() - start
    total_mev_per_atom = (np.array(totals) - totals[0]) * 1e3 / len(atoms)
    _plot(np.array(times), total_mev_per_atom, potential)
    return {
        "potential": potential,
        "timestep_fs": timestep_fs,
        "steps": steps,
        **linear_drift(np.array(times), np.array(totals), len(atoms)),
        "mean_temperature_K": float(np.mean(temperatures)),
        "ms_per_step": 1e3 * wall / steps,
    }


def _plot(time_fs: np.ndarray, total: np.ndarray, label: str) -> None:
    OUT.mkdir(exist_ok=True)
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.plot(time_fs / 1000, total, lw=0.7)
    axis.set_xlabel("time (ps)")
    axis.set_ylabel("E_total − E_total(0) (meV/atom)")
    axis.set_title(f"NVE, {label}")
    figure.tight_layout()
    figure.savefig(OUT / "nve_drift.png", dpi=120)
    plt.close(figure)


def main() -> None:
    """Parse arguments, run, print a summary and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("potential")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    parser.add_argument("--picoseconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    result = run_nve(
        arguments.potential, arguments.timestep, arguments.picoseconds, arguments.seed
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "nve_drift.json").write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
