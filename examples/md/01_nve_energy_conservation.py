"""NVE molecular dynamics of ethanol: exact forces conserve the total energy.

Loads the shipped Gaussian-moment potential ``potentials/ethanol-gm.pt`` in float64,
relaxes gas-phase ethanol, draws Maxwell–Boltzmann velocities at twice the target
temperature (with the centre-of-mass motion and the rotation removed, so half of that
kinetic energy flows into the vibrations and the molecule settles near the target),
then runs velocity-Verlet NVE. It reports:

* the drift of the total energy, the slope of a least-squares line through E_total(t)
  in meV/atom/ns, and its fluctuation about that line. Forces are the exact negative
  gradient of the energy, so the fluctuation shrinks with the timestep squared and
  the drift stays far below the thermal energy. The acceptance bound of the project
  is |drift| < 1 meV/atom/ns over 20 ps at 0.5 fs (``benchmarks/md_ensembles.py``
  runs that length);
* the mean temperature over the 3N − 6 vibrational degrees of freedom;
* how often the neighbor list was rebuilt: the calculator builds it at cutoff + skin
  (1 Å) and reuses it until an atom has moved more than skin/2, so most steps reuse it.

Run: ``python examples/md/01_nve_energy_conservation.py`` (10 ps, about 2 minutes on
one core; ``--picoseconds`` and ``--timestep`` change it, ``POINTCHEM_SMOKE=1`` runs
0.1 ps). Writes ``nve_ethanol.traj`` and the ASE MD log ``nve_ethanol.log`` (every
50 fs) and the plot ``nve_ethanol.png`` in the working directory.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _md_tools import (
    POTENTIALS,
    Sampler,
    attach_output,
    linear_drift,
    relaxed_ethanol,
    run_timed,
    thermalize_momenta,
)
from ase import units
from ase.md.velocitydistribution import Stationary, ZeroRotation
from ase.md.verlet import VelocityVerlet

from pointchem import PointChemCalculator

SMOKE = bool(os.environ.get("POINTCHEM_SMOKE"))
POTENTIAL = POTENTIALS / "ethanol-gm.pt"
SKIN_ANGSTROM = 1.0
SAMPLE_INTERVAL = 10
"""Steps between energy samples."""
OUTPUT_INTERVAL = 100
"""Steps between trajectory frames and log lines."""


def run_nve(
    picoseconds: float,
    timestep_fs: float = 0.5,
    temperature_K: float = 300.0,
    stem: str | Path = "nve_ethanol",
    seed: int = 0,
) -> tuple[dict[str, float | int | str], dict[str, np.ndarray]]:
    """Run NVE of ethanol with ethanol-gm.pt in float64.

    Args:
        picoseconds: length of the run, ps.
        timestep_fs: velocity-Verlet step, fs.
        temperature_K: target temperature; velocities are drawn at twice this value.
        stem: path of the trajectory and log, without suffix.
        seed: seed of the velocities.

    Returns:
        A summary (drift, fluctuation and excursion in meV/atom[/ns], mean
        temperature K, neighbor-list rebuild fraction, ms per step) and the sampled
        series ``time_fs``, ``total_eV``, ``potential_eV``, ``kinetic_eV``.
    """
    calculator = PointChemCalculator(POTENTIAL, dtype="float64", skin=SKIN_ANGSTROM)
    atoms = relaxed_ethanol(calculator)
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=2.0 * temperature_K, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    dynamics = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    trajectory = attach_output(dynamics, stem, OUTPUT_INTERVAL)
    observables = {
        "total_eV": lambda a: a.get_total_energy(),
        "potential_eV": lambda a: a.get_potential_energy(),
        "kinetic_eV": lambda a: a.get_kinetic_energy(),
    }
    sampler = Sampler(dynamics, observables, SAMPLE_INTERVAL)
    steps = round(picoseconds * 1000.0 / timestep_fs)
    timing = run_timed(dynamics, steps)
    trajectory.close()
    series = sampler.arrays()
    n_dof = 3 * len(atoms) - 6
    summary = {
        "system": "ethanol (gas phase, no cell)",
        "n_atoms": len(atoms),
        "potential": POTENTIAL.name,
        "dtype": "float64",
        "timestep_fs": timestep_fs,
        "steps": steps,
        "picoseconds": picoseconds,
        **linear_drift(series["time_fs"], series["total_eV"], len(atoms)),
        "mean_temperature_K": float(
            2.0 * series["kinetic_eV"].mean() / (n_dof * units.kB)
        ),
        "neighbor_list_rebuild_fraction": sampler.rebuild_fraction(),
        **timing,
    }
    return summary, series


def plot_nve(series: dict[str, np.ndarray], summary: dict, path: str | Path) -> None:
    """Energies against time and the fitted drift line; saved to ``path`` (PNG)."""
    time_ps = series["time_fs"] / 1000.0
    total = series["total_eV"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    potential = series["potential_eV"]
    top.plot(time_ps, potential - potential.min(), lw=0.6, label="potential − min")
    top.plot(time_ps, series["kinetic_eV"], lw=0.6, label="kinetic")
    top.set_ylabel("energy (eV)")
    top.legend(loc="upper right")
    per_atom = (total - total[0]) * 1e3 / summary["n_atoms"]
    bottom.plot(time_ps, per_atom, lw=0.6, label="E_total")
    slope = summary["drift_meV_per_atom_per_ns"]
    # the least-squares line passes through the centroid of the points
    line = per_atom.mean() + slope * (time_ps - time_ps.mean()) * 1e-3
    bottom.plot(
        time_ps,
        line,
        color="black",
        lw=1.0,
        label=f"fit: {slope:+.3f} meV/atom/ns",
    )
    bottom.set_xlabel("time (ps)")
    bottom.set_ylabel("E_total − E_total(0)\n(meV/atom)")
    bottom.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    """Parse the arguments, run NVE, print the summary and save the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picoseconds", type=float, default=0.1 if SMOKE else 10.0)
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    arguments = parser.parse_args()
    summary, series = run_nve(arguments.picoseconds, arguments.timestep)
    print(
        f"NVE ethanol, {summary['potential']} float64, {summary['steps']} steps of "
        f"{summary['timestep_fs']} fs ({summary['picoseconds']} ps):"
    )
    print(
        f"  total-energy drift {summary['drift_meV_per_atom_per_ns']:+.3f} "
        f"meV/atom/ns, fluctuation {summary['fluctuation_meV_per_atom']:.4f} "
        f"meV/atom, largest excursion {summary['max_excursion_meV_per_atom']:.4f} "
        "meV/atom"
    )
    print(
        f"  mean temperature {summary['mean_temperature_K']:.1f} K (3N − 6 degrees "
        "of freedom)"
    )
    print(
        "  neighbor list rebuilt at "
        f"{100 * summary['neighbor_list_rebuild_fraction']:.2f} % of the steps "
        f"(skin {SKIN_ANGSTROM} Å); {summary['ms_per_step']:.1f} ms per step "
        f"({summary['cpu_ms_per_step']:.1f} ms of CPU)"
    )
    plot_nve(series, summary, "nve_ethanol.png")


if __name__ == "__main__":
    main()
