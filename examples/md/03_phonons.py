"""Phonons of silicon and vibrations of ethanol from the analytic Hessian.

Silicon (``potentials/silicon-pet.pt``, evaluated in float64 as its file records it:
bare PET): the cubic lattice constant is relaxed, then phonopy force constants of the
2-atom primitive cell are made two ways, from finite displacements (all displaced
supercells in one batched model call) and from the analytic Hessian of the supercell.
The frequencies at Γ, X and L of both are printed with their largest difference,
which must stay below 0.01 THz, and the band structure (Γ–X–U|K–Γ–L) and density of
states of both are overlaid in ``phonons_silicon.png``.

Ethanol (``potentials/ethanol-gm.pt``): the molecule is relaxed to fmax 1e-3 eV/Å and
its harmonic wavenumbers from the analytic Hessian (:func:`harmonic_vibrations`,
ASE's ``VibrationsData``) are printed next to ASE's finite-difference ``Vibrations``
(its default ±0.01 Å). Their difference is ASE's truncation error: it scales as the
step squared (largest 4.3, 1.09, 0.27, 0.068 cm⁻¹ at 0.02, 0.01, 0.005, 0.0025 Å).

Run: ``python examples/md/03_phonons.py`` (a 3×3×3 supercell, about two minutes on one
core, most of it the Hessian of 54 atoms). ``POINTCHEM_SMOKE=1`` (or ``--smoke``)
takes a 2×2×2 supercell and coarse plots: seconds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from ase.build import bulk, molecule
from ase.optimize import BFGS
from ase.vibrations import Vibrations

from pointchem import PointChemCalculator
from pointchem.recipes.silicon import relax_lattice_constant
from pointchem.workflows import (
    harmonic_vibrations,
    phonon_frequencies,
    phonons_from_displacements,
    phonons_from_hessian,
    plot_phonons,
)

POTENTIALS = Path(__file__).resolve().parents[2] / "potentials"
POINTS = {"Γ": [0.0, 0.0, 0.0], "X": [0.5, 0.0, 0.5], "L": [0.5, 0.5, 0.5]}
"""fcc special points in the reciprocal basis of the primitive cell (as ASE's)."""


def silicon_phonons(smoke: bool) -> None:
    """Phonons of silicon two ways: print Γ/X/L and save the band-structure PNG."""
    calculator = PointChemCalculator(POTENTIALS / "silicon-pet.pt", dtype="float64")
    lattice_constant = relax_lattice_constant(calculator)
    cell = bulk("Si", "diamond", a=lattice_constant)
    supercell = 2 if smoke else 3
    phonons = {
        "analytic Hessian": phonons_from_hessian(cell, calculator, supercell),
        "finite displacements": phonons_from_displacements(cell, calculator, supercell),
    }
    print(
        f"silicon-pet: a = {lattice_constant:.4f} Å, "
        f"{supercell}×{supercell}×{supercell} supercell of the primitive cell"
    )
    frequencies = {
        label: phonon_frequencies(phonon, np.array(list(POINTS.values())))
        for label, phonon in phonons.items()
    }
    hessian, displaced = frequencies.values()
    print("point  frequencies (THz): Hessian / displacements / |difference|")
    for row, name in enumerate(POINTS):
        difference = np.abs(hessian[row] - displaced[row])
        print(f"{name:>5}  " + " ".join(f"{f:7.3f}" for f in hessian[row]))
        print(f"{'':>5}  " + " ".join(f"{f:7.3f}" for f in displaced[row]))
        print(f"{'':>5}  " + " ".join(f"{f:7.1e}" for f in difference))
    print(f"max |difference| at Γ, X, L: {np.abs(hessian - displaced).max():.2e} THz")
    plot_phonons(
        phonons,
        cell,
        "phonons_silicon.png",
        band_path="GXU,KGL",
        npoints=11 if smoke else 51,
        mesh=(8, 8, 8) if smoke else (24, 24, 24),
    )


def ethanol_vibrations() -> None:
    """Harmonic wavenumbers of ethanol: analytic Hessian next to ASE's differences."""
    calculator = PointChemCalculator(POTENTIALS / "ethanol-gm.pt", dtype="float64")
    atoms = molecule("CH3CH2OH")
    atoms.calc = calculator
    BFGS(atoms, logfile=None).run(fmax=1e-3, steps=500)
    analytic = harmonic_vibrations(atoms, calculator).get_frequencies()
    with tempfile.TemporaryDirectory() as directory:
        finite = Vibrations(atoms, name=os.path.join(directory, "vib"), delta=0.01)
        finite.run()
        reference = finite.get_vibrations().get_frequencies()
    # ASE orders modes by eigenvalue: the first 6 are the free translations and
    # rotations (≈ 0, tiny imaginary parts from round-off), not shown.
    keep = slice(6, None)
    print("ethanol-gm harmonic wavenumbers (cm⁻¹): Hessian / ASE Vibrations (0.01 Å)")
    for a, r in zip(analytic[keep].real, reference[keep].real, strict=True):
        print(f"{a:9.2f} {r:9.2f}  {a - r:+.2f}")
    difference = np.abs(analytic[keep] - reference[keep]).max()
    print(f"max |difference|: {difference:.3f} cm⁻¹")


def main() -> None:
    """Silicon phonons, then ethanol vibrations."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a quick, coarse run")
    smoke = parser.parse_args().smoke or bool(os.environ.get("POINTCHEM_SMOKE"))
    silicon_phonons(smoke)
    ethanol_vibrations()


if __name__ == "__main__":
    main()
