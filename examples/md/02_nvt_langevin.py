"""NVT of an ethanol gas at 300 K: Langevin and Bussi thermostats against the ensemble.

The system is a periodic box of 8 ethanol molecules (72 atoms) with the shipped
Gaussian-moment potential ``potentials/ethanol-gm.pt``, and why it is built this way:

* The potential was trained on single gas-phase molecules (GFN2-xTB). A liquid box
  would put it far outside its data: for two molecules in contact (closest atoms
  1.8–2.5 Å apart) it gives interaction energies up to 4x those of GFN2-xTB, in one
  orientation of the wrong sign (three random dimer orientations scanned against
  GFN2-xTB). So this is a dilute gas whose molecules never interact.
* One molecule alone gives a weak temperature test: its instantaneous temperature
  spreads by √(2/n_dof) ≈ 29 % (24 degrees of freedom), so even 50 ps leave a standard
  error of the mean near 1 %. Eight molecules have 192 degrees of freedom, a 10 %
  spread, and the 2 % acceptance bound becomes a test that a biased thermostat or
  integrator would fail.
* The centre of mass of every molecule is fixed (``FixSubsetCom``, 3 degrees of
  freedom each, which ASE removes from the temperature), and the molecules sit on a
  grid spaced by twice their largest radius plus 1 Å plus the cutoff. A free molecule
  crosses a box of this size in a few ps, and the collisions would sample exactly the
  untrained contacts above; with fixed centres no atom ever comes within the cutoff
  of another molecule (checked along the run: the smallest intermolecular distance
  is printed), so the forces are those of isolated molecules and the ensemble is an
  ideal gas of flexible, rotating ethanol molecules.

Each thermostat (ASE's ``Langevin``, friction 0.01/fs, and ``Bussi`` stochastic
velocity rescaling, τ = 100 fs) runs 0.5 fs steps: 1 ps of equilibration, then the
production run, sampled every 2.5 fs. Reported against the target: the mean
temperature with its standard error by block averaging (the samples are correlated),
and the kinetic energy, whose canonical distribution is a gamma distribution of shape
n_dof/2 and scale k_B T (relative spread √(2/n_dof)); the plot overlays the histogram
on it. Also the fraction of steps that rebuilt the neighbor list (skin 1 Å).

Run: ``python examples/md/02_nvt_langevin.py`` (both thermostats, 5 ps each after
equilibration, about 10 minutes on one core; ``--thermostat langevin`` or ``bussi``
runs one, ``--picoseconds`` sets the length; ``POINTCHEM_SMOKE=1`` runs 0.1 ps).
5 ps gives a standard error of about 2 %: ``benchmarks/md_ensembles.py`` runs the
50 ps acceptance test. Writes ``nvt_ethanol-<thermostat>.traj`` and ``.log`` (every
100 fs) and ``nvt_ethanol.png`` in the working directory.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import ase
import matplotlib.pyplot as plt
import numpy as np
from _md_tools import (
    POTENTIALS,
    Sampler,
    attach_output,
    block_average,
    kinetic_energy_distribution,
    relaxed_ethanol,
    run_timed,
    thermalize_momenta,
)
from ase import units
from ase.constraints import FixSubsetCom
from ase.md.bussi import Bussi
from ase.md.langevin import Langevin
from ase.md.md import MolecularDynamics
from scipy import stats
from scipy.spatial.transform import Rotation

from pointchem import PointChemCalculator

SMOKE = bool(os.environ.get("POINTCHEM_SMOKE"))
POTENTIAL = POTENTIALS / "ethanol-gm.pt"
THERMOSTATS = ("langevin", "bussi")
MOLECULES_PER_AXIS = 2
CLEARANCE_ANGSTROM = 1.0
"""Extra spacing of the grid for bond stretching, beyond radii and cutoff."""
SKIN_ANGSTROM = 1.0
LANGEVIN_FRICTION_PER_FS = 0.01
BUSSI_TAU_FS = 100.0
SAMPLE_INTERVAL = 5
OUTPUT_INTERVAL = 200


def ethanol_gas(
    calculator: PointChemCalculator, per_axis: int, rng: np.random.Generator
) -> ase.Atoms:
    """A cubic periodic box of ``per_axis``³ randomly turned ethanol molecules.

    The molecules sit on a simple cubic grid spaced by 2 × (largest distance of an
    atom from the centre of mass) + ``CLEARANCE_ANGSTROM`` + the potential's
    cutoff, with the centre of mass of each fixed (``FixSubsetCom``). The molecule
    index of every atom is in ``atoms.arrays["mol-id"]``.
    """
    molecule = relaxed_ethanol(calculator)
    molecule.calc = None
    centred = molecule.positions - molecule.get_center_of_mass()
    radius = np.linalg.norm(centred, axis=1).max()
    spacing = 2.0 * radius + CLEARANCE_ANGSTROM + calculator.model.cutoff
    box = ase.Atoms(cell=np.eye(3) * spacing * per_axis, pbc=True)
    sites = np.indices((per_axis,) * 3).reshape(3, -1).T
    for index, site in enumerate(sites):
        copy = molecule.copy()
        turn = Rotation.random(random_state=rng).as_matrix()
        copy.positions = centred @ turn.T + (site + 0.5) * spacing
        copy.arrays["mol-id"] = np.full(len(copy), index)
        box += copy
    n_atoms = len(molecule)
    box.set_constraint(
        [
            FixSubsetCom(range(start, start + n_atoms))
            for start in range(0, len(box), n_atoms)
        ]
    )
    box.calc = calculator
    return box


def min_intermolecular_distance(atoms: ase.Atoms) -> float:
    """Smallest distance (Å, minimum image) between atoms of different molecules.

    For the orthorhombic periodic boxes of :func:`ethanol_gas` (ASE's general
    ``get_distances`` costs about a tenth of a model call here).
    """
    if not (atoms.cell.orthorhombic and atoms.pbc.all()):
        raise ValueError("needs an orthorhombic cell periodic in all directions")
    lengths = atoms.cell.lengths()
    delta = atoms.positions[:, None, :] - atoms.positions[None, :, :]
    delta -= lengths * np.round(delta / lengths)
    distances = np.linalg.norm(delta, axis=-1)
    molecule = atoms.arrays["mol-id"]
    return float(distances[molecule[:, None] != molecule[None, :]].min())


def make_thermostat(
    name: str,
    atoms: ase.Atoms,
    timestep_fs: float,
    temperature_K: float,
    rng: np.random.Generator,
) -> MolecularDynamics:
    """ASE's Langevin (friction 0.01/fs) or Bussi (τ = 100 fs) integrator."""
    if name == "langevin":
        return Langevin(
            atoms,
            timestep=timestep_fs * units.fs,
            temperature_K=temperature_K,
            friction=LANGEVIN_FRICTION_PER_FS / units.fs,
            fixcm=False,
            rng=rng,
        )
    if name == "bussi":
        return Bussi(
            atoms,
            timestep=timestep_fs * units.fs,
            temperature_K=temperature_K,
            taut=BUSSI_TAU_FS * units.fs,
            rng=rng,
        )
    raise ValueError(f"unknown thermostat {name!r}; choose from {THERMOSTATS}")


def run_nvt(
    thermostat: str,
    picoseconds: float,
    equilibration_ps: float = 1.0,
    timestep_fs: float = 0.5,
    temperature_K: float = 300.0,
    stem: str | Path = "nvt_ethanol",
    seed: int = 0,
) -> tuple[dict[str, float | int | str | bool], dict[str, np.ndarray]]:
    """Equilibrate and run NVT of the ethanol gas; statistics of the production run.

    Args:
        thermostat: ``"langevin"`` or ``"bussi"``.
        picoseconds: production run, ps (after ``equilibration_ps``).
        equilibration_ps: left out of the statistics, ps.
        timestep_fs: step, fs.
        temperature_K: target temperature, K.
        stem: trajectory and log path without suffix; ``-<thermostat>`` is added.
        seed: seeds the orientations, velocities and thermostat noise.

    Returns:
        A summary (mean temperature ± standard error, kinetic-energy spread against
        the canonical one, closest intermolecular approach, largest force,
        neighbor-list rebuild fraction, ms per step) and the production samples
        ``time_fs``, ``temperature_K``, ``kinetic_eV``.
    """
    rng = np.random.default_rng(seed)
    calculator = PointChemCalculator(POTENTIAL, skin=SKIN_ANGSTROM)
    atoms = ethanol_gas(calculator, MOLECULES_PER_AXIS, rng)
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    atoms.set_momenta(atoms.get_momenta())  # applies the constraints
    dynamics = make_thermostat(thermostat, atoms, timestep_fs, temperature_K, rng)
    trajectory = attach_output(dynamics, f"{stem}-{thermostat}", OUTPUT_INTERVAL)
    observables = {
        "temperature_K": lambda a: a.get_temperature(),
        "kinetic_eV": lambda a: a.get_kinetic_energy(),
        "max_force_eV_per_A": lambda a: float(
            np.linalg.norm(a.get_forces(), axis=1).max()
        ),
        "min_intermolecular_A": min_intermolecular_distance,
    }
    sampler = Sampler(dynamics, observables, SAMPLE_INTERVAL)
    steps = round((equilibration_ps + picoseconds) * 1000.0 / timestep_fs)
    timing = run_timed(dynamics, steps)
    trajectory.close()
    series = sampler.arrays(skip_fs=equilibration_ps * 1000.0)
    n_dof = atoms.get_number_of_degrees_of_freedom()
    summary: dict[str, float | int | str | bool] = {
        "thermostat": thermostat,
        "system": f"{len(atoms) // 9} ethanol, fixed centres of mass, periodic box",
        "n_atoms": len(atoms),
        "n_dof": n_dof,
        "box_A": float(atoms.cell[0, 0]),
        "timestep_fs": timestep_fs,
        "equilibration_ps": equilibration_ps,
        "production_ps": picoseconds,
        "steps": steps,
        "target_temperature_K": temperature_K,
        **_temperature_statistics(series, n_dof, temperature_K),
        "min_intermolecular_A": float(series["min_intermolecular_A"].min()),
        "cutoff_A": calculator.model.cutoff,
        "max_force_eV_per_A": float(series["max_force_eV_per_A"].max()),
        "neighbor_list_rebuild_fraction": sampler.rebuild_fraction(),
        **timing,
    }
    return summary, series


def _temperature_statistics(
    series: dict[str, np.ndarray], n_dof: int, temperature_K: float
) -> dict[str, float | bool]:
    mean, error, inefficiency = block_average(series["temperature_K"])
    canonical = kinetic_energy_distribution(n_dof, temperature_K)
    kinetic = series["kinetic_eV"]
    deviation = (mean - temperature_K) / temperature_K
    return {
        "mean_temperature_K": mean,
        "standard_error_K": error,
        "statistical_inefficiency": inefficiency,
        "relative_deviation": deviation,
        "within_2_percent": bool(abs(deviation) < 0.02),
        "kinetic_relative_std": float(kinetic.std() / kinetic.mean()),
        "canonical_relative_std": float(np.sqrt(2.0 / n_dof)),
        "kolmogorov_smirnov_distance": float(stats.kstest(kinetic, canonical.cdf)[0]),
    }


def plot_nvt(
    runs: dict[str, tuple[dict, dict[str, np.ndarray]]], path: str | Path
) -> None:
    """Temperature vs time and kinetic-energy histogram vs gamma, per thermostat."""
    figure, axes = plt.subplots(2, len(runs), figsize=(5 * len(runs), 6), squeeze=False)
    for column, (name, (summary, series)) in enumerate(runs.items()):
        target = summary["target_temperature_K"]
        top, bottom = axes[:, column]
        top.plot(series["time_fs"] / 1000.0, series["temperature_K"], lw=0.3)
        top.axhline(target, color="black", ls="--", lw=0.8, label="target")
        top.axhline(summary["mean_temperature_K"], color="C3", lw=0.8, label="mean")
        top.set_title(
            f"{name}: {summary['mean_temperature_K']:.1f} ± "
            f"{summary['standard_error_K']:.1f} K"
        )
        top.set_xlabel("time (ps)")
        top.set_ylabel("temperature (K)")
        top.legend(loc="upper right")
        kinetic = series["kinetic_eV"]
        bottom.hist(kinetic, bins=40, density=True, alpha=0.6, label="sampled")
        grid = np.linspace(kinetic.min(), kinetic.max(), 200)
        canonical = kinetic_energy_distribution(summary["n_dof"], target)
        bottom.plot(grid, canonical.pdf(grid), color="black", label="canonical (gamma)")
        bottom.set_xlabel("kinetic energy (eV)")
        bottom.set_ylabel("probability density (1/eV)")
        bottom.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    """Parse the arguments, run the thermostat(s), print the summaries, plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thermostat", choices=(*THERMOSTATS, "both"), default="both")
    parser.add_argument("--picoseconds", type=float, default=0.1 if SMOKE else 5.0)
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    arguments = parser.parse_args()
    names = THERMOSTATS if arguments.thermostat == "both" else (arguments.thermostat,)
    equilibration_ps = 0.05 if SMOKE else 1.0
    runs = {}
    for name in names:
        runs[name] = run_nvt(
            name,
            arguments.picoseconds,
            equilibration_ps,
            temperature_K=arguments.temperature,
        )
        print_summary(runs[name][0])
    plot_nvt(runs, "nvt_ethanol.png")


def print_summary(summary: dict) -> None:
    """Print one NVT run's results against the ensemble."""
    print(
        f"{summary['thermostat']}: {summary['system']} ({summary['n_atoms']} atoms, "
        f"{summary['n_dof']} degrees of freedom), {summary['production_ps']} ps "
        f"after {summary['equilibration_ps']} ps of equilibration, "
        f"{summary['timestep_fs']} fs steps"
    )
    print(
        f"  mean T {summary['mean_temperature_K']:.2f} ± "
        f"{summary['standard_error_K']:.2f} K (block average) against "
        f"{summary['target_temperature_K']:.0f} K: "
        f"{100 * summary['relative_deviation']:+.2f} %"
    )
    print(
        f"  kinetic-energy spread {100 * summary['kinetic_relative_std']:.2f} % "
        f"against the canonical {100 * summary['canonical_relative_std']:.2f} %; "
        f"Kolmogorov–Smirnov distance to the gamma distribution "
        f"{summary['kolmogorov_smirnov_distance']:.3f}"
    )
    print(
        f"  closest intermolecular approach {summary['min_intermolecular_A']:.2f} Å "
        f"(cutoff {summary['cutoff_A']} Å), largest force "
        f"{summary['max_force_eV_per_A']:.2f} eV/Å"
    )
    print(
        "  neighbor list rebuilt at "
        f"{100 * summary['neighbor_list_rebuild_fraction']:.2f} % of the steps; "
        f"{summary['ms_per_step']:.1f} ms per step "
        f"({summary['cpu_ms_per_step']:.1f} ms of CPU)"
    )


if __name__ == "__main__":
    main()
