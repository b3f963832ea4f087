"""NPT of crystalline silicon: pressure, volume and temperature against their targets.

A 64-atom diamond supercell (2×2×2 conventional cells) with the shipped PET potential
``potentials/silicon-pet.pt`` (trained on Kumagai silicon, 300–1500 K, strained cells
and stress included) starts at the potential's own 0 K lattice constant and runs at
300 K and 0 GPa with a fully flexible cell. Two of ASE's NPT integrators that sample
the isothermal–isobaric ensemble of a crystal (all nine cell degrees of freedom) can
be chosen:

* ``baoab`` (default): ``ase.md.langevinbaoab.LangevinBAOAB``, Langevin dynamics of
  the atoms (Leimkuhler–Matthews BAOAB splitting) and Langevin–Hoover dynamics of the
  cell (Quigley and Probert, J. Chem. Phys. 120, 11432 (2004)). The noise on every
  degree of freedom makes it ergodic even in a nearly harmonic crystal;
* ``mtk``: ``ase.md.nose_hoover_chain.MTKNPT``, Martyna–Tobias–Klein equations with
  Nosé–Hoover chains, deterministic.

(Not offered: ``ase.md.npt.NPT``, now ``MelchionnaNPT``, which ASE marks as not
recommended because of stability problems, and ``NPTBerendsen``, whose weak coupling
damps the fluctuations, so it does not sample the ensemble.) Thermostat time 100 fs,
barostat time 1 ps, 2 fs steps; 1 ps of equilibration is left out of the statistics.

Reported against the targets, each with its standard error by block averaging:
the pressure P = −tr(σ)/3 from the stress *including the kinetic term*
(``get_stress(include_ideal_gas=True)``, the quantity both barostats hold at the
target), the volume and lattice constant a = (V/8)^(1/3) per conventional cell
(thermal expansion against the 0 K value), and the temperature. The plot shows their
time series and the distributions of P and a.

The calculator reuses its neighbor list only while the cell is unchanged, so under a
barostat it is rebuilt at every step (the printed fraction is 100 %); for 64 atoms
the rebuild is a small part of a PET call.

Run: ``python examples/md/07_npt_silicon.py`` (5 ps, about 10 minutes on one core;
``--integrator mtk``, ``--picoseconds``, ``--temperature``, ``--pressure`` change it;
``POINTCHEM_SMOKE=1`` runs 0.1 ps). Writes ``npt_silicon.traj`` and the ASE MD log
``npt_silicon.log`` (with the stress, every 50 fs) and ``npt_silicon.png``.
"""

from __future__ import annotations

import argparse
import os
import warnings
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
    run_timed,
    thermalize_momenta,
)
from ase import units
from ase.build import bulk
from ase.md.md import MolecularDynamics
from ase.md.velocitydistribution import Stationary

from pointchem import PointChemCalculator
from pointchem.recipes.silicon import relax_lattice_constant

try:
    from ase.md.langevinbaoab import LangevinBAOAB
    from ase.md.nose_hoover_chain import MTKNPT
except ImportError as error:  # added to ASE in 2025
    raise ImportError(
        "this example needs ase.md.langevinbaoab and ase.md.nose_hoover_chain.MTKNPT "
        "(recent ASE; tested with 3.29): pip install --upgrade ase"
    ) from error

SMOKE = bool(os.environ.get("POINTCHEM_SMOKE"))
POTENTIAL = POTENTIALS / "silicon-pet.pt"
INTEGRATORS = ("baoab", "mtk")
REPEAT = 2
"""Conventional cells per axis: 8 × 2³ = 64 atoms."""
THERMOSTAT_TAU_FS = 100.0
BAROSTAT_TAU_FS = 1000.0
SAMPLE_INTERVAL = 2
OUTPUT_INTERVAL = 25


def make_barostat(
    name: str,
    atoms: ase.Atoms,
    timestep_fs: float,
    temperature_K: float,
    pressure_GPa: float,
    rng: np.random.Generator,
) -> MolecularDynamics:
    """ASE's LangevinBAOAB (``"baoab"``) or MTKNPT (``"mtk"``), full cell, NPT."""
    pressure = pressure_GPa * units.GPa
    if name == "baoab":
        with warnings.catch_warnings():
            # it announces its heuristic barostat mass (period about P_tau / 4)
            warnings.filterwarnings("ignore", message="Using heuristic P_mass")
            return LangevinBAOAB(
                atoms,
                timestep=timestep_fs * units.fs,
                temperature_K=temperature_K,
                externalstress=-pressure,  # stress is minus the pressure
                hydrostatic=False,
                T_tau=THERMOSTAT_TAU_FS * units.fs,
                P_tau=BAROSTAT_TAU_FS * units.fs,
                rng=rng,
            )
    if name == "mtk":
        return MTKNPT(
            atoms,
            timestep=timestep_fs * units.fs,
            temperature_K=temperature_K,
            pressure_au=pressure,
            tdamp=THERMOSTAT_TAU_FS * units.fs,
            pdamp=BAROSTAT_TAU_FS * units.fs,
        )
    raise ValueError(f"unknown integrator {name!r}; choose from {INTEGRATORS}")


def pressure_GPa(atoms: ase.Atoms) -> float:
    """P = −tr(σ)/3 in GPa, the kinetic (ideal-gas) part of the stress included."""
    stress = atoms.get_stress(voigt=True, include_ideal_gas=True)
    return float(-stress[:3].mean() / units.GPa)


def run_npt(
    picoseconds: float,
    integrator: str = "baoab",
    equilibration_ps: float = 1.0,
    timestep_fs: float = 2.0,
    temperature_K: float = 300.0,
    target_pressure_GPa: float = 0.0,
    stem: str | Path = "npt_silicon",
    seed: int = 0,
) -> tuple[dict[str, float | int | str], dict[str, np.ndarray]]:
    """Run NPT of the 64-atom silicon crystal; statistics of the production run.

    Args:
        picoseconds: production run, ps (after ``equilibration_ps``).
        integrator: ``"baoab"`` or ``"mtk"``.
        equilibration_ps: left out of the statistics, ps.
        timestep_fs: step, fs.
        temperature_K: target temperature, K.
        target_pressure_GPa: target pressure, GPa.
        stem: trajectory and log path without suffix.
        seed: seeds the velocities and the Langevin noise.

    Returns:
        A summary (pressure, lattice constant, volume and temperature, each mean ±
        standard error, the 0 K lattice constant, neighbor-list rebuild fraction,
        ms per step) and the production samples ``time_fs``, ``pressure_GPa``,
        ``volume_A3``, ``temperature_K``.
    """
    calculator = PointChemCalculator(POTENTIAL)
    lattice_constant = relax_lattice_constant(calculator)
    atoms = bulk("Si", "diamond", a=lattice_constant, cubic=True).repeat(REPEAT)
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    dynamics = make_barostat(
        integrator, atoms, timestep_fs, temperature_K, target_pressure_GPa, rng
    )
    trajectory = attach_output(dynamics, stem, OUTPUT_INTERVAL, stress=True)
    observables = {
        "pressure_GPa": pressure_GPa,
        "volume_A3": lambda a: a.get_volume(),
        "temperature_K": lambda a: a.get_temperature(),
    }
    sampler = Sampler(dynamics, observables, SAMPLE_INTERVAL)
    steps = round((equilibration_ps + picoseconds) * 1000.0 / timestep_fs)
    timing = run_timed(dynamics, steps)
    trajectory.close()
    series = sampler.arrays(skip_fs=equilibration_ps * 1000.0)
    cells = len(atoms) / 8
    series["lattice_constant_A"] = (series["volume_A3"] / cells) ** (1.0 / 3.0)
    summary: dict[str, float | int | str] = {
        "integrator": type(dynamics).__name__,
        "system": f"diamond Si, {len(atoms)} atoms, flexible cell",
        "timestep_fs": timestep_fs,
        "equilibration_ps": equilibration_ps,
        "production_ps": picoseconds,
        "steps": steps,
        "target_temperature_K": temperature_K,
        "target_pressure_GPa": target_pressure_GPa,
        "lattice_constant_0K_A": lattice_constant,
    }
    for name in ("pressure_GPa", "lattice_constant_A", "volume_A3", "temperature_K"):
        mean, error, _ = block_average(series[name])
        summary[f"{name}_mean"] = mean
        summary[f"{name}_standard_error"] = error
        summary[f"{name}_std"] = float(series[name].std())
    summary["neighbor_list_rebuild_fraction"] = sampler.rebuild_fraction()
    summary.update(timing)
    return summary, series


def plot_npt(series: dict[str, np.ndarray], summary: dict, path: str | Path) -> None:
    """Time series of T, P and a, and the distributions of P and a (PNG)."""
    figure, axes = plt.subplots(2, 3, figsize=(13, 6))
    time_ps = series["time_fs"] / 1000.0
    panels = (
        ("temperature_K", "temperature (K)", summary["target_temperature_K"]),
        ("pressure_GPa", "pressure (GPa)", summary["target_pressure_GPa"]),
        ("lattice_constant_A", "lattice constant (Å)", None),
    )
    for column, (name, label, target) in enumerate(panels):
        axis = axes[0, column]
        axis.plot(time_ps, series[name], lw=0.4)
        axis.axhline(summary[f"{name}_mean"], color="C3", lw=0.8, label="mean")
        if target is not None:
            axis.axhline(target, color="black", ls="--", lw=0.8, label="target")
        axis.set_xlabel("time (ps)")
        axis.set_ylabel(label)
        axis.legend(loc="upper right")
    for column, name, label in (
        (0, "pressure_GPa", "pressure (GPa)"),
        (1, "lattice_constant_A", "lattice constant (Å)"),
    ):
        axis = axes[1, column]
        axis.hist(series[name], bins=40, density=True, alpha=0.7)
        axis.axvline(summary[f"{name}_mean"], color="C3", lw=0.8)
        axis.set_xlabel(label)
        axis.set_ylabel("probability density")
    axes[1, 1].axvline(summary["lattice_constant_0K_A"], color="black", ls=":", lw=0.8)
    axes[1, 2].axis("off")
    figure.suptitle(
        f"{summary['integrator']}, {summary['system']}, {summary['production_ps']} ps"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def print_summary(summary: dict) -> None:
    """Print one NPT run's results against the targets."""
    print(
        f"{summary['integrator']}: {summary['system']}, {summary['production_ps']} ps "
        f"after {summary['equilibration_ps']} ps of equilibration, "
        f"{summary['timestep_fs']} fs steps"
    )
    for name, unit, target in (
        ("pressure_GPa", "GPa", summary["target_pressure_GPa"]),
        ("temperature_K", "K", summary["target_temperature_K"]),
        ("lattice_constant_A", "Å", summary["lattice_constant_0K_A"]),
        ("volume_A3", "Å³", None),
    ):
        line = (
            f"  {name.rsplit('_', 1)[0]:>16}: {summary[f'{name}_mean']:.4f} ± "
            f"{summary[f'{name}_standard_error']:.4f} {unit} "
            f"(std {summary[f'{name}_std']:.4f})"
        )
        if target is not None:
            kind = "0 K value" if name == "lattice_constant_A" else "target"
            line += f"; {kind} {target:.4f}"
        print(line)
    print(
        "  neighbor list rebuilt at "
        f"{100 * summary['neighbor_list_rebuild_fraction']:.1f} % of the steps "
        f"(the cell changes at every step); {summary['ms_per_step']:.1f} ms per step "
        f"({summary['cpu_ms_per_step']:.1f} ms of CPU)"
    )


def main() -> None:
    """Parse the arguments, run NPT, print the summary and save the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrator", choices=INTEGRATORS, default="baoab")
    parser.add_argument("--picoseconds", type=float, default=0.1 if SMOKE else 5.0)
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    parser.add_argument("--pressure", type=float, default=0.0, help="GPa")
    arguments = parser.parse_args()
    summary, series = run_npt(
        arguments.picoseconds,
        arguments.integrator,
        equilibration_ps=0.02 if SMOKE else 1.0,
        temperature_K=arguments.temperature,
        target_pressure_GPa=arguments.pressure,
    )
    print_summary(summary)
    plot_npt(series, summary, "npt_silicon.png")


if __name__ == "__main__":
    main()
