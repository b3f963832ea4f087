"""Dipole head of a shipped WK potential: accuracy, exact equivariance and cost.

Three measurements on ``potentials/ethanol-wk.pt`` (or ``--potential``):

1. **Accuracy** against the GFN2-xTB dipoles of the held-out test files
   (``data/xtb/ethanol-test-300K.xyz``, ``-600K.xyz``; 100 frames each): MAE and RMSE
   per Cartesian component, mean length of the error vector, and the spread of the
   reference components, all in e·Å (``pointchem.training.metrics.dipole_metrics``).
2. **Equivariance** in float64: each of ``--operations`` random orthogonal matrices
   (every second one an improper rotation, i.e. with an inversion) and a random
   translation applied to a test frame; the largest |μ(Qx + t) − Q μ(x)| over
   components (e·Å), with |μ| for scale.
3. **Cost**: process CPU time of a dipole-only call (no derivatives) and of an
   energy+forces call through ``PointChemCalculator`` on one test frame, median of
   ``--repeats`` calls, one torch thread.

Writes ``benchmarks/out/wk_dipole.json`` and prints a markdown summary. Run from the
repository root with the project's environment active, on one core::

    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/wk_dipole.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import ase
import ase.io
import numpy as np
import torch

from pointchem import PointChemCalculator, load_potential
from pointchem.testing import random_rotation
from pointchem.training.config import DataSettings
from pointchem.training.data import read_samples
from pointchem.training.metrics import dipole_metrics, predict_dipoles

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "wk_dipole.json"
TESTS = {
    "300K": ROOT / "data" / "xtb" / "ethanol-test-300K.xyz",
    "600K": ROOT / "data" / "xtb" / "ethanol-test-600K.xyz",
}


def accuracy(potential: Path) -> dict[str, dict[str, float]]:
    """Dipole errors (e·Å) of the potential on each test file."""
    model = load_potential(potential)
    results = {}
    for name, path in TESTS.items():
        settings = DataSettings(train=(str(path),), dipole_key="dipole")
        samples = read_samples([path], settings)
        results[name] = dipole_metrics(samples, predict_dipoles(model, samples))
    return results


def equivariance(potential: Path, operations: int, seed: int) -> dict[str, float]:
    """Largest |μ(Qx + t) − Q μ(x)| (e·Å) over random O(3) operations on test frames."""
    calculator = PointChemCalculator(potential, device="cpu")
    frames = ase.io.read(TESTS["300K"], index=":")
    rng = np.random.default_rng(seed)
    worst, sizes = 0.0, []
    for k in range(operations):
        atoms = frames[k % len(frames)].copy()
        atoms.calc = calculator
        dipole = atoms.get_dipole_moment()
        sizes.append(float(np.linalg.norm(dipole)))
        operation = random_rotation(rng) * (-1.0 if k % 2 else 1.0)
        moved = atoms.copy()
        moved.positions = atoms.positions @ operation.T + rng.normal(size=3)
        moved.calc = calculator
        error = np.abs(moved.get_dipole_moment() - operation @ dipole).max()
        worst = max(worst, float(error))
    return {
        "operations": operations,
        "max_deviation_e_angstrom": worst,
        "mean_dipole_norm_e_angstrom": float(np.mean(sizes)),
    }


def cost(potential: Path, repeats: int) -> dict[str, float]:
    """Median CPU ms of a dipole-only and of an energy+forces call (one frame)."""
    torch.set_num_threads(1)
    calculator = PointChemCalculator(potential, device="cpu")
    atoms: ase.Atoms = ase.io.read(TESTS["300K"], index=0)
    atoms.calc = calculator
    timings: dict[str, list[float]] = {"dipole_ms": [], "energy_forces_ms": []}
    for k in range(repeats + 2):
        for name, call in (
            ("dipole_ms", atoms.get_dipole_moment),
            ("energy_forces_ms", atoms.get_forces),
        ):
            atoms.positions[0, 0] += 1e-4 * (-1) ** k  # a new structure each call
            start = time.process_time()
            call()
            if k >= 2:  # two warm-up calls
                timings[name].append(1e3 * (time.process_time() - start))
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--potential", type=Path, default=ROOT / "potentials" / "ethanol-wk.pt"
    )
    parser.add_argument("--operations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = {
        "potential": str(args.potential),
        "accuracy": accuracy(args.potential),
        "equivariance": equivariance(args.potential, args.operations, args.seed),
        "cost": cost(args.potential, args.repeats),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print("| test set (e·Å) | MAE per component | RMSE | mean |Δμ| | reference std |")
    print("|---|---|---|---|---|")
    for name, m in result["accuracy"].items():
        print(
            f"| {name} | {m['dipole_mae']:.5f} | {m['dipole_rmse']:.5f} | "
            f"{m['dipole_vector_mae']:.5f} | {m['dipole_std']:.4f} |"
        )
    eq = result["equivariance"]
    print(
        f"\nequivariance: max |μ(Qx+t) − Qμ(x)| = {eq['max_deviation_e_angstrom']:.2e}"
        f" e·Å over {eq['operations']} O(3) operations "
        f"(mean |μ| {eq['mean_dipole_norm_e_angstrom']:.3f} e·Å)"
    )
    c = result["cost"]
    print(
        f"cost (CPU, one thread): dipole {c['dipole_ms']:.1f} ms, "
        f"energy+forces {c['energy_forces_ms']:.1f} ms per call"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
