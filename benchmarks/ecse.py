r"""ECSE acceptance measurements on the shipped PET potentials (issue 5).

Stages (``--stages``, all by default):

- ``invariance``: 100 random rotations, half of them combined with inversion, of
  ethanol, the 192-atom water box (ethanol-pet knows H, C, O) and a rattled 64-atom
  silicon cell (silicon-pet), float64: max |ΔE| (eV), max force and stress
  deviations, symmetrized and bare.
- ``path``: a 1000-point path (C with neighbours O, H, H; one H turns until
  collinear with C–O while the other leaves through the inner cutoffs), float64
  ethanol-pet: the largest energy step, the largest mismatch between an energy step
  and the forces' trapezoid work, and forces vs central finite differences of the
  energy (step 1e-4 Å) at every point, retried with steps down to 1e-7 Å where they
  differ by > 1e-3 eV/Å (a steep feature converges like step², a jump would not),
  and the 3 worst steps cut into 100; once per ``--path-prunings`` count (the
  file's frames have none; 4 is the reference's).
- ``degenerate``: H2, CO2, a linear HC≡C–C≡CH chain, an isolated O atom and OH
  (one neighbour): energies and forces must be finite.
- ``cost``: frame sets per atom (2 per frame + aux: mean, max) and ms per
  energy+forces(+stress) call, symmetrized vs bare, float32, one thread, for
  ethanol and the 192- and 1536-atom water boxes (and CUDA when available).
- ``accuracy``: force and energy MAEs of ethanol-pet on the held-out GFN2-xTB frames
  (``data/xtb/ethanol-test-{300K,600K}.xyz``), symmetrized vs bare.

Writes ``benchmarks/out/ecse.json`` and prints markdown tables::

    python benchmarks/ecse.py --stages cost --sizes ethanol,192
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import ase
import numpy as np
import torch
from ase.build import bulk
from systems import build_system
from train_vs_apax import TEST_SETS, predict_ours, score

from pointchem import PointChemCalculator, atoms_to_graph, load_potential
from pointchem.models.base import EnergyModel
from pointchem.models.pet import PointEdgeTransformer
from pointchem.models.pet.symmetrized import SymmetrizedPET, frames_per_atom
from pointchem.models.pet.symmetrized import symmetrize as symmetrize_pet
from pointchem.testing import random_rotation, rattled_copy

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
ETHANOL = ROOT / "potentials" / "ethanol-pet.pt"
SILICON = ROOT / "potentials" / "silicon-pet.pt"
STAGES = ("invariance", "path", "degenerate", "cost", "accuracy")
FD_STEP = 1e-4
"""Å, central finite-difference step of the path check."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--operations", type=int, default=100)
    parser.add_argument("--path-points", type=int, default=1000)
    parser.add_argument(
        "--path-prunings", default="0,4", help="path: pruning counts to run"
    )
    parser.add_argument("--json", default=str(OUT / "ecse.json"), help="results file")
    parser.add_argument("--sizes", default="ethanol,192,1536")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--calls-large", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--rounds", type=int, default=3, help="cost: alternations of both models"
    )
    args = parser.parse_args()
    args.stages = [s for s in args.stages.split(",") if s]
    args.sizes = [s for s in args.sizes.split(",") if s]
    args.path_prunings = [int(s) for s in args.path_prunings.split(",") if s]
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
    return args


def potential(path: Path, symmetrize: bool) -> EnergyModel:
    """The potential bare, or symmetrized (default ECSE if the file records none)."""
    model = load_potential(path, symmetrize=symmetrize)
    if symmetrize and not isinstance(model, SymmetrizedPET):
        assert isinstance(model, PointEdgeTransformer)
        model = symmetrize_pet(model, None)
    return model


def calculator(path: Path, symmetrize: bool, dtype: str, device: str = "cpu") -> Any:
    return PointChemCalculator(
        potential(path, symmetrize), device=device, dtype=dtype, skin=0.0
    )


# --- invariance --------------------------------------------------------------------


def silicon_cell() -> ase.Atoms:
    return rattled_copy(bulk("Si", "diamond", a=5.43, cubic=True) * (2, 2, 2), 0.1, 7)


def transformed(atoms: ase.Atoms, operation: np.ndarray) -> ase.Atoms:
    moved = atoms.copy()
    moved.positions = atoms.positions @ operation.T
    if atoms.pbc.all():
        moved.set_cell(atoms.cell[:] @ operation.T, scale_atoms=False)
    return moved


def results(atoms: ase.Atoms, calc: Any) -> tuple[float, np.ndarray, np.ndarray | None]:
    atoms = atoms.copy()
    atoms.calc = calc
    stress = atoms.get_stress(voigt=False) if atoms.pbc.all() else None
    return atoms.get_potential_energy(), atoms.get_forces(), stress


def invariance_of(atoms: ase.Atoms, calc: Any, n_operations: int) -> dict:
    """Max deviations under random rotations (odd operations also invert)."""
    energy, forces, stress = results(atoms, calc)
    rng = np.random.default_rng(0)
    worst = {"energy_eV": 0.0, "forces_eV_per_A": 0.0, "stress_eV_per_A3": 0.0}
    for index in range(n_operations):
        operation = random_rotation(rng) * (-1.0 if index % 2 else 1.0)
        e, f, s = results(transformed(atoms, operation), calc)
        worst["energy_eV"] = max(worst["energy_eV"], abs(e - energy))
        deviation = np.abs(f - forces @ operation.T).max()
        worst["forces_eV_per_A"] = max(worst["forces_eV_per_A"], float(deviation))
        if stress is not None and s is not None:
            expected = operation @ stress @ operation.T
            deviation = np.abs(s - expected).max()
            worst["stress_eV_per_A3"] = max(worst["stress_eV_per_A3"], float(deviation))
    return worst


def stage_invariance(args: argparse.Namespace) -> dict:
    systems = {
        "ethanol": (build_system("ethanol", seed=0), ETHANOL),
        "water 192": (build_system("192", seed=0), ETHANOL),
        "silicon 64": (silicon_cell(), SILICON),
    }
    table: dict[str, dict] = {}
    for name, (atoms, path) in systems.items():
        for symmetrize in (True, False):
            label = "symmetrized" if symmetrize else "bare"
            calc = calculator(path, symmetrize, "float64")
            table.setdefault(name, {})[label] = invariance_of(
                atoms, calc, args.operations
            )
            print(f"invariance {name} {label}: {table[name][label]}", flush=True)
    return table


# --- path --------------------------------------------------------------------------


def path_structure(t: float) -> ase.Atoms:
    """C with O, H, H: one H turns until collinear with C–O, the other leaves."""
    angle = np.deg2rad(100.0 * (1.0 - t))
    distance = 1.1 + 3.0 * t
    direction = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
    positions = [
        [0.0, 0.0, 0.0],
        [1.4, 0.0, 0.0],
        [-1.1 * np.cos(angle), 1.1 * np.sin(angle), 0.0],
        list(distance * direction),
    ]
    return ase.Atoms("COHH", positions=positions)


def numerical_forces(atoms: ase.Atoms, calc: Any, step: float = FD_STEP) -> np.ndarray:
    forces = np.zeros((len(atoms), 3))
    for atom in range(len(atoms)):
        for axis in range(3):
            energies = []
            for sign in (1.0, -1.0):
                moved = atoms.copy()
                moved.positions[atom, axis] += sign * step
                energies.append(results(moved, calc)[0])
            forces[atom, axis] = -(energies[0] - energies[1]) / (2 * step)
    return forces


FD_REFINED_STEPS = (1e-5, 1e-6, 1e-7)
"""Smaller steps tried where the FD_STEP deviation exceeds FD_REFINE_ABOVE."""
FD_REFINE_ABOVE = 1e-3


def step_mismatches(energies: list, forces: list, positions: list) -> list[float]:
    """|ΔE + trapezoid work of the forces| of every step between path points, eV."""
    return [
        abs(energies[k + 1] - energies[k] + trapezoid_work(forces, positions, k))
        for k in range(len(energies) - 1)
    ]


def work_mismatch(calc: Any, ts: np.ndarray) -> float:
    """Largest step mismatch over the path points ``ts``, eV."""
    points = [path_structure(float(t)) for t in ts]
    computed = [results(atoms, calc) for atoms in points]
    energies = [energy for energy, _, _ in computed]
    forces = [force for _, force, _ in computed]
    return max(step_mismatches(energies, forces, [a.positions for a in points]))


def refined_deviations(atoms: ase.Atoms, calc: Any, forces: np.ndarray) -> list:
    """Force deviations from central differences at each of FD_REFINED_STEPS.

    Where a steep but smooth feature makes the FD_STEP difference inaccurate, these
    fall like step²; at a jump or kink they would not fall.
    """
    return [
        float(np.abs(numerical_forces(atoms, calc, step) - forces).max())
        for step in FD_REFINED_STEPS
    ]


def trapezoid_work(forces: list, positions: list, k: int) -> float:
    """Work of the forces from point k to k + 1 by the trapezoid rule, eV."""
    step = positions[k + 1] - positions[k]
    return 0.5 * float(np.sum((forces[k] + forces[k + 1]) * step))


def stage_path(args: argparse.Namespace) -> dict:
    """The path for the file's frame settings with each of ``--path-prunings``."""
    return {
        f"n_prunings={count}": path_with_prunings(args, count)
        for count in args.path_prunings
    }


def path_with_prunings(args: argparse.Namespace, n_prunings: int) -> dict:
    model = potential(ETHANOL, True)
    assert isinstance(model, SymmetrizedPET)
    settings = model.symmetrization
    frames = dataclasses.replace(settings.frames, n_prunings=n_prunings)
    settings = dataclasses.replace(settings, frames=frames)
    model = SymmetrizedPET(model.base, settings)
    calc = PointChemCalculator(model, dtype="float64", skin=0.0)
    energies, forces, positions, fd_error, frame_counts = [], [], [], [], []
    refined: dict[float, list[float]] = {}  # t → deviations at FD_STEP, refined steps
    steepest = 0.0
    ts = np.linspace(0.0, 1.0, args.path_points)
    for t in ts:
        atoms = path_structure(float(t))
        energy, force, _ = results(atoms, calc)
        energies.append(energy)
        forces.append(force)
        positions.append(atoms.positions)
        fd_error.append(float(np.abs(numerical_forces(atoms, calc) - force).max()))
        if fd_error[-1] > FD_REFINE_ABOVE:
            refined[float(t)] = [fd_error[-1], *refined_deviations(atoms, calc, force)]
            steepest = max(steepest, float(np.abs(force).max()))
        graph = atoms_to_graph(atoms, model.cutoff, torch.float64, "cpu")
        ensemble = model.frames(graph)
        frame_counts.append(ensemble.counts(len(atoms)).tolist())
    work = step_mismatches(energies, forces, positions)
    refined_work = {}
    for k in np.argsort(work)[-3:]:  # the worst steps, cut into 100
        finer = np.linspace(ts[k], ts[k + 1], 101)
        refined_work[f"{ts[k]:.6f}"] = [float(work[k]), work_mismatch(calc, finer)]
    changes = sorted({tuple(c) for c in frame_counts})
    summary = {
        "points": args.path_points,
        "energy_range_eV": float(max(energies) - min(energies)),
        "largest_energy_step_eV": float(np.abs(np.diff(energies)).max()),
        "largest_work_mismatch_eV": float(max(work)),
        "worst_steps_cut_into_100_eV": refined_work,
        "max_force_vs_fd_eV_per_A": float(max(fd_error)),
        "fd_step_A": FD_STEP,
        "refined_fd_steps_A": [FD_STEP, *FD_REFINED_STEPS],
        "refined_points": {f"{t:.6f}": errors for t, errors in refined.items()},
        "max_force_vs_fd_at_smallest_step_eV_per_A": max(
            [errors[-1] for errors in refined.values()] + [0.0]
        ),
        "largest_force_where_refined_eV_per_A": steepest,
        "distinct_frame_counts_per_atom": [list(c) for c in changes],
    }
    print(f"path n_prunings={n_prunings}: {summary}", flush=True)
    return summary


# --- degenerate --------------------------------------------------------------------

DEGENERATE = {
    "H2": ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]),
    "CO2": ase.Atoms("CO2", positions=[[0, 0, 0], [0, 0, 1.16], [0, 0, -1.16]]),
    "HCCCCH chain": ase.Atoms(
        "HCCCCH", positions=[[0, 0, z] for z in (0, 1.06, 2.27, 3.64, 4.85, 5.91)]
    ),
    "isolated O": ase.Atoms("O", positions=[[0, 0, 0]]),
    "OH (one neighbour)": ase.Atoms("OH", positions=[[0, 0, 0], [0.97, 0, 0]]),
}


def stage_degenerate(args: argparse.Namespace) -> dict:
    calc = calculator(ETHANOL, True, "float64")
    table = {}
    for name, atoms in DEGENERATE.items():
        energy, forces, _ = results(atoms, calc)
        table[name] = {
            "energy_eV": energy,
            "max_force_eV_per_A": float(np.abs(forces).max()),
            "finite": bool(np.isfinite(energy) and np.isfinite(forces).all()),
        }
        print(f"degenerate {name}: {table[name]}", flush=True)
    return table


# --- cost --------------------------------------------------------------------------


def time_calls(atoms: ase.Atoms, calc: Any, calls: int) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    reference = atoms.positions.copy()
    rng = np.random.default_rng(0)
    times = []
    for index in range(calls + 1):
        atoms.positions = reference + rng.normal(0.0, 0.01, reference.shape)
        start = time.perf_counter()
        atoms.get_forces()
        if atoms.pbc.all():
            atoms.get_stress()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if index:  # the first call warms up
            times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def stage_cost(args: argparse.Namespace) -> dict:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    table: dict[str, dict] = {}
    for device in devices:
        for name in args.sizes:
            atoms = build_system(name, seed=0)
            calls = args.calls_large if len(atoms) > 1000 else args.calls
            row: dict[str, Any] = {"n_atoms": len(atoms)}
            model = potential(ETHANOL, True)
            assert isinstance(model, SymmetrizedPET)
            graph = atoms_to_graph(atoms, model.cutoff, torch.float32, "cpu")
            row["sets_per_atom_mean"], row["sets_per_atom_max"] = frames_per_atom(
                model, graph
            )
            calculators = {
                label: PointChemCalculator(
                    potential(ETHANOL, symmetrize), device=device, dtype="float32"
                )
                for label, symmetrize in (("symmetrized", True), ("bare", False))
            }
            rounds: dict[str, list[float]] = {label: [] for label in calculators}
            for _ in range(args.rounds):  # alternate, so that load drift hits both
                for label, calc in calculators.items():
                    rounds[label].append(time_calls(atoms, calc, calls))
            ratios = [s / b for s, b in zip(*rounds.values(), strict=True)]
            for label, times in rounds.items():
                row[f"{label}_ms"] = statistics.median(times)
                row[f"{label}_ms_rounds"] = times
            row["ratio"] = statistics.median(ratios)
            row["ratio_rounds"] = ratios
            table.setdefault(device, {})[name] = row
            print(f"cost {device} {name}: {row}", flush=True)
    return table


# --- accuracy ----------------------------------------------------------------------


def stage_accuracy(args: argparse.Namespace) -> dict:
    table: dict[str, dict] = {}
    OUT.mkdir(parents=True, exist_ok=True)
    for name, source in TEST_SETS.items():
        for symmetrize in (True, False):
            label = "symmetrized" if symmetrize else "bare"
            target = OUT / f"ecse-{label}-{name}.xyz"
            predict_ours(ETHANOL, source, target, symmetrize=symmetrize)
            table.setdefault(name, {})[label] = score(source, target)
        pair = table[name]
        pair["force_mae_change_percent"] = 100 * (
            pair["symmetrized"]["forces_mae"] / pair["bare"]["forces_mae"] - 1
        )
        print(f"accuracy {name}: {pair}", flush=True)
    return table


STAGE_FUNCTIONS = {
    "invariance": stage_invariance,
    "path": stage_path,
    "degenerate": stage_degenerate,
    "cost": stage_cost,
    "accuracy": stage_accuracy,
}


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    output = Path(args.json)
    result = json.loads(output.read_text()) if output.is_file() else {}
    result["meta"] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "threads": args.threads,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    for stage in args.stages:
        result[stage] = STAGE_FUNCTIONS[stage](args)
        OUT.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2))
    print(f"written {output}")


if __name__ == "__main__":
    main()
