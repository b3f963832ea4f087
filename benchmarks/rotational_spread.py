"""How far a potential is from rotation and inversion invariance, in numbers.

For each structure, the potential is evaluated on ``--operations`` random O(3)
copies (Haar-uniform rotations, half of them combined with the inversion; the cell
is transformed with the positions). Reported per structure and dtype:

- energy: max and standard deviation over the copies of E(Qx) − E(x), meV/atom;
- forces: max over copies and atoms of |F(Qx) − Q F(x)|, meV/Å, and the mean of
  that deviation over all components;
- stress (periodic structures): max |σ(Qx) − Q σ(x) Qᵀ|, meV/Å³.

An exactly invariant model (GM, or PET after symmetrization) gives numbers at the
rounding level; bare PET, trained with random rotations, gives its learned spread.

Run from the repository root with the project's virtual environment active::

    python benchmarks/rotational_spread.py potentials/ethanol-pet.pt
    python benchmarks/rotational_spread.py potentials/silicon-pet.pt
        --structures data/kumagai/silicon-test.xyz@0  (one line)

Structures are ``FILE@INDEX`` or a name of ``benchmarks/systems.py``. Writes a JSON
next to the potential's name in ``benchmarks/out/``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import ase
import ase.io
import numpy as np
import torch
from systems import SYSTEM_NAMES, build_system

from pointchem import PointChemCalculator
from pointchem.training.batches import random_orthogonal

OUT_DIR = Path(__file__).resolve().parent / "out"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("potential", type=Path)
    parser.add_argument(
        "--structures",
        default="ethanol",
        help=f"comma-separated FILE@INDEX or names out of {','.join(SYSTEM_NAMES)}",
    )
    parser.add_argument("--operations", type=int, default=100)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def load_structure(spec: str) -> ase.Atoms:
    """``FILE@INDEX`` → that frame; otherwise a benchmark system by name."""
    if "@" in spec:
        path, index = spec.rsplit("@", 1)
        atoms = ase.io.read(path, index=int(index))
        assert isinstance(atoms, ase.Atoms)
        atoms.calc = None
        return atoms
    return build_system(spec)


def transformed(atoms: ase.Atoms, matrix: np.ndarray) -> ase.Atoms:
    """A copy with positions and cell vectors mapped by ``matrix`` (v → Q v)."""
    copy = atoms.copy()
    copy.positions = atoms.positions @ matrix.T
    copy.set_cell(atoms.cell.array @ matrix.T, scale_atoms=False)
    return copy


def spread(atoms: ase.Atoms, calculator: PointChemCalculator, matrices: np.ndarray):
    """Deviations from invariance over the given O(3) matrices (see module doc)."""
    periodic = bool(atoms.pbc.all())
    reference = atoms.copy()
    reference.calc = calculator
    energy = reference.get_potential_energy()
    forces = reference.get_forces()
    stress = reference.get_stress(voigt=False) if periodic else None
    energy_errors, force_errors, stress_errors = [], [], []
    for matrix in matrices:
        copy = transformed(atoms, matrix)
        copy.calc = calculator
        energy_errors.append(copy.get_potential_energy() - energy)
        force_errors.append(np.abs(copy.get_forces() - forces @ matrix.T))
        if stress is not None:
            expected = matrix @ stress @ matrix.T
            stress_errors.append(np.abs(copy.get_stress(voigt=False) - expected).max())
    per_atom = np.array(energy_errors) * 1e3 / len(atoms)
    all_forces = np.stack(force_errors) * 1e3
    result = {
        "n_atoms": len(atoms),
        "energy_max_meV_per_atom": float(np.abs(per_atom).max()),
        "energy_std_meV_per_atom": float(per_atom.std()),
        "forces_max_meV_per_A": float(all_forces.max()),
        "forces_mean_meV_per_A": float(all_forces.mean()),
    }
    if stress_errors:
        result["stress_max_meV_per_A3"] = float(np.max(stress_errors) * 1e3)
    return result


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    calculator = PointChemCalculator(args.potential, device="cpu", dtype=dtype)
    generator = torch.Generator().manual_seed(args.seed)
    matrices = random_orthogonal(args.operations, generator).numpy()
    results = {}
    print(f"{args.potential}, {args.dtype}, {args.operations} random O(3) operations")
    print(
        "| structure | atoms | E max (meV/atom) | E std (meV/atom) "
        "| F max (meV/Å) | F mean (meV/Å) | σ max (meV/Å³) |"
    )
    print("|---|---|---|---|---|---|---|")
    for spec in args.structures.split(","):
        result = spread(load_structure(spec), calculator, matrices)
        results[spec] = result
        stress = result.get("stress_max_meV_per_A3")
        print(
            f"| {spec} | {result['n_atoms']} | {result['energy_max_meV_per_atom']:.3g} "
            f"| {result['energy_std_meV_per_atom']:.3g} "
            f"| {result['forces_max_meV_per_A']:.3g} "
            f"| {result['forces_mean_meV_per_A']:.3g} "
            f"| {'—' if stress is None else f'{stress:.3g}'} |"
        )
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"rotational_spread-{args.potential.stem}-{args.dtype}.json"
    meta = {"potential": str(args.potential), "dtype": args.dtype, "seed": args.seed}
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
