"""Geometry optimization of ethanol and silicon against GFN2-xTB and Kumagai.

Ethanol (``ase.build.molecule("CH3CH2OH")``, trans) is relaxed with BFGS to
fmax 1e-3 eV/Å three times from the same start: with the shipped PET + ECSE potential
(``potentials/ethanol-pet.pt``), with the Gaussian-moment potential
(``potentials/ethanol-gm.pt``), both in float64, and with GFN2-xTB (tblite, 300 K
electronic temperature, as in the training data), the method both were trained on.
For each potential it prints the RMSD from the xTB minimum after optimal
superposition, the largest bond-length difference, ΔE = E_model(model minimum) −
E_xTB(xTB minimum) (both total energies: the potentials are fitted to xTB's), and
E_xTB(model minimum) − E_xTB(xTB minimum) ≥ 0, which says how much worse the model's
geometry is in xTB's own eyes.

Silicon (8-atom conventional diamond cell, lattice constant 5.5 Å and rattled
positions to start) is relaxed with positions and cell together (BFGS on ASE's
``FrechetCellFilter``, fmax 1e-3 eV/Å on forces and on stress × volume) with the
shipped ``potentials/silicon-pet.pt`` and with the Kumagai potential it was trained
on (matscipy). It prints the lattice constant a = V^(1/3) of each, its difference,
and the model's three cell lengths (bare PET is not exactly cubic).

Saves ``geometry_optimization.png``: the largest force per BFGS step of every
relaxation, and the bond lengths of ethanol of each potential minus xTB's.

Run: ``python examples/md/04_geometry_optimization.py`` (needs tblite:
``pip install -e ".[xtb]"``; about a minute on one core). ``POINTCHEM_SMOKE=1`` (or
``--smoke``) relaxes to fmax 0.05 eV/Å only: every step runs, the numbers are rough.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from ase import Atoms
from ase.build import bulk, minimize_rotation_and_translation, molecule
from ase.calculators.calculator import Calculator
from ase.filters import FrechetCellFilter
from ase.neighborlist import natural_cutoffs, neighbor_list
from ase.optimize import BFGS

from pointchem import PointChemCalculator
from pointchem.recipes.silicon import make_kumagai_calculator
from pointchem.recipes.xtb import XTBSamplingRecipe, make_xtb_calculator

POTENTIALS = Path(__file__).resolve().parents[2] / "potentials"
MAX_STEPS = 1000


@dataclasses.dataclass
class Relaxation:
    """One BFGS relaxation.

    Attributes:
        atoms: the relaxed structure, calculator attached.
        energies: potential energy at every step, eV.
        fmax: largest force (with a cell filter: or stress × volume) per step, eV/Å.
    """

    atoms: Atoms
    energies: list[float]
    fmax: list[float]


def relax(
    start: Atoms, calculator: Calculator, fmax: float, cell: bool = False
) -> Relaxation:
    """BFGS-relax a copy of ``start`` to ``fmax`` eV/Å (with the cell if ``cell``).

    Raises:
        RuntimeError: not converged in ``MAX_STEPS`` steps.
    """
    atoms = start.copy()
    atoms.calc = calculator
    # ase annotates Optimizer's argument as Atoms; filters are its documented use
    target = FrechetCellFilter(atoms) if cell else atoms
    optimizer = BFGS(target, logfile=None)  # type: ignore[arg-type]
    energies: list[float] = []
    largest: list[float] = []

    def record() -> None:
        energies.append(atoms.get_potential_energy())
        largest.append(float(np.linalg.norm(target.get_forces(), axis=1).max()))

    optimizer.attach(record)
    if not optimizer.run(fmax=fmax, steps=MAX_STEPS):
        raise RuntimeError(f"BFGS did not reach fmax {fmax} eV/Å in {MAX_STEPS} steps")
    return Relaxation(atoms, energies, largest)


def rmsd(atoms: Atoms, reference: Atoms) -> float:
    """Root-mean-square distance (Å) of ``atoms`` from ``reference``.

    ``atoms`` is first rotated and translated onto ``reference`` (Kabsch:
    ``ase.build.minimize_rotation_and_translation``).
    """
    moved = atoms.copy()
    minimize_rotation_and_translation(reference, moved)
    return float(np.sqrt(((moved.positions - reference.positions) ** 2).sum(1).mean()))


def bonds(reference: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Bonded pairs (n_bonds, 2), i < j, and their names.

    Two atoms are bonded when closer than 1.2 × the sum of their covalent radii.
    """
    radii = natural_cutoffs(reference, mult=1.2)
    first, second = neighbor_list("ij", reference, radii)
    pairs = np.array([(i, j) for i, j in zip(first, second, strict=True) if i < j])
    symbols = reference.get_chemical_symbols()
    names = np.array([f"{symbols[i]}{i}–{symbols[j]}{j}" for i, j in pairs])
    return pairs, names


def bond_lengths(atoms: Atoms, pairs: np.ndarray) -> np.ndarray:
    """Lengths (Å) of the bonds ``pairs`` (n_bonds, 2) in ``atoms``."""
    return np.linalg.norm(
        atoms.positions[pairs[:, 1]] - atoms.positions[pairs[:, 0]], axis=1
    )


def ethanol(fmax: float) -> dict[str, Relaxation]:
    """Relax ethanol with both potentials and GFN2-xTB; print the comparison."""
    start = molecule("CH3CH2OH")
    xtb = make_xtb_calculator(XTBSamplingRecipe())
    relaxations = {
        name: relax(
            start, PointChemCalculator(POTENTIALS / name, dtype="float64"), fmax
        )
        for name in ("ethanol-pet.pt", "ethanol-gm.pt")
    }
    reference = relax(start, xtb, fmax)
    pairs, _ = bonds(reference.atoms)
    print(f"ethanol, BFGS to fmax {fmax:g} eV/Å from ase.build.molecule('CH3CH2OH')")
    print(f"  GFN2-xTB: E = {reference.energies[-1]:.6f} eV, {_steps(reference)}")
    for name, relaxation in relaxations.items():
        atoms = relaxation.atoms
        xtb_there = atoms.copy()
        xtb_there.calc = xtb
        bond_error = bond_lengths(atoms, pairs) - bond_lengths(reference.atoms, pairs)
        energy_error = relaxation.energies[-1] - reference.energies[-1]
        xtb_penalty = xtb_there.get_potential_energy() - reference.energies[-1]
        print(
            f"  {name}: {_steps(relaxation)}; "
            f"RMSD {rmsd(atoms, reference.atoms):.4f} Å, "
            f"max |Δ bond| {np.abs(bond_error).max():.4f} Å; "
            f"ΔE = {energy_error * 1e3:+.2f} meV; "
            f"E_xTB(its minimum) − E_xTB(xTB minimum) = {xtb_penalty * 1e3:.3f} meV"
        )
    return {**relaxations, "GFN2-xTB": reference}


def silicon(fmax: float) -> dict[str, Relaxation]:
    """Relax the diamond cell with silicon-pet and Kumagai; print lattice constants."""
    start = bulk("Si", "diamond", a=5.5, cubic=True)
    start.rattle(0.02, seed=0)
    calculators = {
        "silicon-pet.pt": PointChemCalculator(
            POTENTIALS / "silicon-pet.pt", dtype="float64"
        ),
        "Kumagai": make_kumagai_calculator(),
    }
    relaxations = {
        name: relax(start, calculator, fmax, cell=True)
        for name, calculator in calculators.items()
    }
    print(f"silicon, 8-atom cell, BFGS + FrechetCellFilter to fmax {fmax:g} eV/Å")
    constants = {}
    for name, relaxation in relaxations.items():
        atoms = relaxation.atoms
        constants[name] = atoms.cell.volume ** (1 / 3)
        lengths = " ".join(f"{length:.4f}" for length in atoms.cell.lengths())
        print(
            f"  {name}: a = {constants[name]:.4f} Å (cell lengths {lengths} Å), "
            f"E = {relaxation.energies[-1] / len(atoms):.4f} eV/atom, "
            f"{_steps(relaxation)}"
        )
    difference = constants["silicon-pet.pt"] - constants["Kumagai"]
    print(
        f"  a(model) − a(Kumagai) = {difference:+.4f} Å "
        f"({difference / constants['Kumagai'] * 100:+.3f} %)"
    )
    return relaxations


def _steps(relaxation: Relaxation) -> str:
    return f"{len(relaxation.fmax) - 1} BFGS steps"


def plot(molecules: dict[str, Relaxation], crystals: dict[str, Relaxation]) -> None:
    """Save fmax per step and ethanol's bond-length errors in one PNG."""
    figure, (steps, errors) = plt.subplots(1, 2, figsize=(11, 4))
    for system, relaxations in (("ethanol", molecules), ("Si", crystals)):
        for name, relaxation in relaxations.items():
            steps.semilogy(relaxation.fmax, label=f"{system}: {name}")
    steps.set_xlabel("BFGS step")
    steps.set_ylabel("largest force (eV/Å)")
    steps.legend(fontsize=8)
    reference = molecules["GFN2-xTB"].atoms
    pairs, names = bonds(reference)
    positions = np.arange(len(pairs))
    for offset, name in ((-0.2, "ethanol-pet.pt"), (0.2, "ethanol-gm.pt")):
        error = bond_lengths(molecules[name].atoms, pairs) - bond_lengths(
            reference, pairs
        )
        errors.bar(positions + offset, error * 1e3, width=0.4, label=name)
    errors.set_xticks(positions, names, rotation=45, fontsize=8)
    errors.set_ylabel("bond length − GFN2-xTB's (mÅ)")
    errors.axhline(0.0, color="black", linewidth=0.5)
    errors.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig("geometry_optimization.png", dpi=120)


def main() -> None:
    """Relax ethanol and silicon, print the comparisons and save the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a quick, loose run")
    smoke = parser.parse_args().smoke or bool(os.environ.get("POINTCHEM_SMOKE"))
    fmax = 0.05 if smoke else 1e-3
    plot(ethanol(fmax), silicon(fmax))


if __name__ == "__main__":
    main()
