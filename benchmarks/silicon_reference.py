r"""A silicon potential against its Kumagai reference: test errors, lattice, phonons.

Three comparisons, each model and Kumagai (matscipy, Comput. Mater. Sci. 39, 457
(2007)) computed the same way:

1. Errors on the held-out frames of ``python -m pointchem.recipes.silicon``
   (``--test-output``), per configuration (crystal, strained, vacancy, liquid) and
   overall: energy MAE in meV/atom, force-component MAE in meV/Å, and stress MAE
   over the nine components of the 3×3 tensor (as ``pointchem eval`` and the
   training metrics count them) in GPa and meV/Å³.
2. The cubic lattice constant: the 8-atom conventional diamond cell relaxed with
   BFGS on a ``FrechetCellFilter`` to fmax 1e-4 eV/Å.
3. Phonons with phonopy's finite displacements (0.01 Å) at each potential's own
   lattice constant. The unit cell is the 2-atom fcc primitive cell and the
   supercell 4×4×4 of it (128 atoms, periodic images 15.4 Å apart, so force
   constants reaching up to ~7.7 Å are kept whole: Kumagai's reach 2 × 3.3 Å, a
   model's twice its cutoff times its message-passing depth); diamond needs one
   displacement. Frequencies at Γ, X and L (all six
   branches, THz; imaginary ones negative, as phonopy reports them) go to the table
   and the JSON, and the dispersion along Γ–X–W–K–Γ–L to a PNG overlay.

Writes ``benchmarks/out/silicon_reference.json`` and
``benchmarks/out/silicon_reference_phonons.png`` and prints markdown tables.

Run::

    python benchmarks/silicon_reference.py --potential potentials/silicon-pet.pt \
        --test data/kumagai/silicon-test.xyz --dtype float64
    python benchmarks/silicon_reference.py --reference-only   # Kumagai side only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import ase.io
import matplotlib.pyplot as plt
import numpy as np
import torch
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms

from pointchem import PointChemCalculator
from pointchem.recipes.silicon import make_kumagai_calculator, relax_lattice_constant

OUT = Path(__file__).parent / "out"
GPA_PER_EV_PER_ANGSTROM3 = 1.0 / units.GPa
POINTS = ("G", "X", "L")
"""Special points of the fcc Brillouin zone reported in the table (ase's names)."""
GREEK = {"G": "Γ"}
PATH = "GXWKGL"
DISPLACEMENT_ANGSTROM = 0.01
SUPERCELL = 4
RELAX_FMAX_EV_PER_ANGSTROM = 1e-4


def held_out_errors(calculator: Calculator, path: str) -> dict[str, dict[str, float]]:
    """MAEs of ``calculator`` on the frames of ``path``, per config and "all"."""
    frames = ase.io.read(path, index=":", format="extxyz")
    assert isinstance(frames, list)
    errors: dict[str, dict[str, list[np.ndarray]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for frame in frames:
        atoms = Atoms(frame.numbers, frame.positions, cell=frame.cell, pbc=frame.pbc)
        atoms.calc = calculator
        energy = atoms.get_potential_energy() - frame.get_potential_energy()
        difference = {
            "energy": np.array([energy / len(atoms)]),
            "forces": (atoms.get_forces() - frame.get_forces()).ravel(),
            "stress": (
                atoms.get_stress(voigt=False) - frame.get_stress(voigt=False)
            ).ravel(),
        }
        for group in (frame.info["config"], "all"):
            for key, value in difference.items():
                errors[group][key].append(value)
    table = {}
    for group, values in errors.items():
        mae = {
            key: float(np.abs(np.concatenate(v)).mean()) for key, v in values.items()
        }
        table[group] = {
            "n_frames": len(values["energy"]),
            "energy_mae_meV_per_atom": 1e3 * mae["energy"],
            "forces_mae_meV_per_angstrom": 1e3 * mae["forces"],
            "stress_mae_GPa": GPA_PER_EV_PER_ANGSTROM3 * mae["stress"],
            "stress_mae_meV_per_angstrom3": 1e3 * mae["stress"],
        }
    return table


def _supercell_forces(calculator: Calculator, cell: PhonopyAtoms) -> np.ndarray:
    atoms = Atoms(
        cell.symbols, cell=cell.cell, pbc=True, scaled_positions=cell.scaled_positions
    )
    atoms.calc = calculator
    return atoms.get_forces()


def phonons(calculator: Calculator, lattice_constant: float) -> Phonopy:
    """Phonopy object with force constants from finite displacements.

    The forces of the undisplaced supercell are subtracted from every displaced
    one (phonopy's ``--fz``): a model that is not exactly symmetric (bare PET) has
    small residual forces in the ideal crystal (9 meV/Å for silicon-pet), which at a
    0.01 Å displacement would otherwise enter the force constants as 0.9 eV/Å² and
    put its Γ optical mode at 31.7 THz instead of the 17.6 THz of its Hessian.
    """
    primitive = bulk("Si", "diamond", a=lattice_constant)
    unitcell = PhonopyAtoms(
        symbols=primitive.get_chemical_symbols(),
        cell=primitive.cell.array,
        scaled_positions=primitive.get_scaled_positions(),
    )
    phonon = Phonopy(unitcell, supercell_matrix=np.eye(3, dtype=int) * SUPERCELL)
    phonon.generate_displacements(distance=DISPLACEMENT_ANGSTROM)
    residual = _supercell_forces(calculator, phonon.supercell)
    forces = [
        _supercell_forces(calculator, displaced) - residual
        for displaced in phonon.supercells_with_displacements
    ]
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    return phonon


def frequencies_THz(phonon: Phonopy, q_points: np.ndarray) -> np.ndarray:
    """(n_q, 6) frequencies in THz at q-points given in primitive reciprocal units."""
    phonon.run_qpoints(np.reshape(q_points, (-1, 3)))
    return np.asarray(phonon.qpoints.frequencies)


def dispersion(phonon: Phonopy, lattice_constant: float) -> dict[str, object]:
    """Frequencies (THz) at ``POINTS`` and along ``PATH``."""
    path = bulk("Si", "diamond", a=lattice_constant).cell.bandpath(PATH, npoints=150)
    x, special_x, labels = path.get_linear_kpoint_axis()
    points = frequencies_THz(phonon, np.array([path.special_points[p] for p in POINTS]))
    return {
        "points": dict(zip(POINTS, points.tolist(), strict=True)),
        "path": {"x": x.tolist(), "special_x": special_x.tolist(), "labels": labels},
        "band_THz": frequencies_THz(phonon, path.kpts).tolist(),
    }


def reference_side(calculator: Calculator, name: str) -> dict[str, object]:
    """Relaxed lattice constant and phonons of one potential."""
    start = time.perf_counter()
    lattice_constant = relax_lattice_constant(
        calculator, fmax_eV_per_angstrom=RELAX_FMAX_EV_PER_ANGSTROM, max_steps=1000
    )
    result = dispersion(phonons(calculator, lattice_constant), lattice_constant)
    print(f"{name}: a = {lattice_constant:.5f} Å ({time.perf_counter() - start:.1f} s)")
    return {"lattice_constant_angstrom": lattice_constant, **result}


def plot(sides: dict[str, dict], path: Path) -> None:
    """Dispersion overlay: Kumagai solid black, the model dashed red."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    styles = {"kumagai": ("k", "-"), "model": ("tab:red", "--")}
    for name, side in sides.items():
        color, style = styles[name]
        x = np.array(side["path"]["x"])
        for index, branch in enumerate(np.array(side["band_THz"]).T):
            label = f"{name} (a = {side['lattice_constant_angstrom']:.4f} Å)"
            shown = label if index == 0 else None
            axis.plot(x, branch, color=color, ls=style, lw=1.0, label=shown)
    reference = sides["kumagai"]["path"]
    for position in reference["special_x"]:
        axis.axvline(position, color="grey", lw=0.5)
    labels = [GREEK.get(label, label) for label in reference["labels"]]
    axis.set_xticks(reference["special_x"], labels)
    axis.set_xlim(reference["x"][0], reference["x"][-1])
    axis.axhline(0.0, color="grey", lw=0.5)
    axis.set_ylabel("frequency (THz)")
    axis.set_title(
        f"Si phonons, {SUPERCELL}×{SUPERCELL}×{SUPERCELL} primitive supercell"
    )
    axis.legend(loc="lower left", bbox_to_anchor=(0.27, 0.0))  # under X–K: free
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


def error_table(errors: dict[str, dict[str, float]]) -> str:
    lines = [
        "| config | frames | E MAE (meV/atom) | F MAE (meV/Å) "
        "| σ MAE (GPa) | σ MAE (meV/Å³) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for group, row in sorted(errors.items(), key=lambda item: item[0] == "all"):
        lines.append(
            f"| {group} | {row['n_frames']} | {row['energy_mae_meV_per_atom']:.2f} "
            f"| {row['forces_mae_meV_per_angstrom']:.1f} | {row['stress_mae_GPa']:.3f} "
            f"| {row['stress_mae_meV_per_angstrom3']:.3f} |"
        )
    return "\n".join(lines)


def phonon_table(sides: dict[str, dict]) -> str:
    lines = [
        "| | a (Å) | " + " | ".join(f"{GREEK.get(p, p)} (THz)" for p in POINTS) + " |",
        "|---|---:|" + "---|" * len(POINTS),
    ]
    for name, side in sides.items():
        cells = [
            " ".join(f"{f:.2f}" for f in side["points"][point]) for point in POINTS
        ]
        lattice = side["lattice_constant_angstrom"]
        lines.append(f"| {name} | {lattice:.5f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", help="potential file (.pt)")
    parser.add_argument("--test", default="data/kumagai/silicon-test.xyz")
    parser.add_argument(
        "--dtype", choices=["float32", "float64"], help="default: the potential's"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--reference-only", action="store_true", help="Kumagai lattice and phonons"
    )
    parser.add_argument("--json", type=Path, default=OUT / "silicon_reference.json")
    parser.add_argument(
        "--png", type=Path, default=OUT / "silicon_reference_phonons.png"
    )
    arguments = parser.parse_args(argv)
    if not arguments.reference_only and arguments.potential is None:
        parser.error("--potential is required unless --reference-only is given")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    torch.set_num_threads(1)
    report: dict[str, object] = {
        "potential": arguments.potential,
        "test": None if arguments.reference_only else arguments.test,
        "dtype": arguments.dtype,
        "phonons": {
            "unitcell": "fcc primitive (2 atoms)",
            "supercell": [SUPERCELL] * 3,
            "displacement_angstrom": DISPLACEMENT_ANGSTROM,
            "relax_fmax_eV_per_angstrom": RELAX_FMAX_EV_PER_ANGSTROM,
        },
    }
    sides = {"kumagai": reference_side(make_kumagai_calculator(), "kumagai")}
    if not arguments.reference_only:
        dtype = getattr(torch, arguments.dtype) if arguments.dtype else None
        model = PointChemCalculator(
            arguments.potential, device=arguments.device, dtype=dtype
        )
        errors = held_out_errors(model, arguments.test)
        report["test_errors"] = errors
        print("\n## Errors on held-out Kumagai frames\n\n" + error_table(errors))
        sides["model"] = reference_side(model, "model")
    report["sides"] = sides
    print("\n## Lattice constant and phonons\n\n" + phonon_table(sides))
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps(report, indent=1))
    plot(sides, arguments.png)
    print(f"\nwrote {arguments.json} and {arguments.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
