"""Elastic constants of diamond silicon: silicon-pet against Kumagai, two ways.

The 8-atom conventional cell is relaxed (positions and cell, BFGS on a
``FrechetCellFilter``) with the shipped ``potentials/silicon-pet.pt`` (bare PET, in
float64) and with the Kumagai potential it was trained on (matscipy). Then, for each,
with matscipy's elasticity tools on top of the calculator's stress and Hessian:

* clamped-ion constants: stress against small homogeneous strains (±0.2 %, atoms
  moved affinely), fitted by ``matscipy.elasticity.fit_elastic_constants``;
* relaxed-ion constants by finite strain: the same, with the atoms relaxed (BFGS) in
  every strained cell;
* relaxed-ion constants from the Hessian: clamped-ion constants from central
  differences of the stress (``measure_triclinic_elastic_constants``) plus the
  non-affine correction −(1/V) Σ Ξ·H⁺·Ξ (``nonaffine_elastic_contribution``), where H
  is the calculator's analytic Hessian (the three translations left out of its
  pseudo-inverse) and Ξ = ∂F/∂ε the forces that a homogeneous strain puts on the atoms
  (central differences, ``matscipy.numerical.numerical_nonaffine_forces``).

Both relaxed-ion routes must agree: that checks the Hessian. For Kumagai, matscipy's
fully analytic constants (Born + stress + non-affine terms) are printed as well. Only
C44 changes with internal relaxation in diamond (the two sublattices shift under
shear; Kleinman). The cubic C11, C12 and C44 are averages over the three equivalent
entries of the 6×6 Voigt matrix; the largest entry of that matrix not explained by cubic
symmetry is printed too (bare PET is not exactly symmetric).

Saves ``elastic_constants.png``: a bar chart of C11, C12, C44 of both potentials.

Run: ``python examples/md/06_elastic_constants.py`` (about a minute on one core).
``POINTCHEM_SMOKE=1`` (or ``--smoke``) fits one cubic strain pattern with three strains
and relaxes to fmax 1e-3 eV/Å only: every step runs, the numbers are rough.
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
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from matscipy.calculators.calculator import MatscipyCalculator
from matscipy.elasticity import (
    cubic_to_Voigt_6x6,
    fit_elastic_constants,
    full_3x3x3x3_to_Voigt_6x6,
    measure_triclinic_elastic_constants,
    nonaffine_elastic_contribution,
)
from matscipy.numerical import numerical_nonaffine_forces

from pointchem import PointChemCalculator
from pointchem.recipes.silicon import make_kumagai_calculator

POTENTIAL = Path(__file__).resolve().parents[2] / "potentials" / "silicon-pet.pt"
STRAIN_STEP = 1e-3
"""Strain increment of the finite-strain fits and of the stress differences."""
NONAFFINE_STEP = 1e-4
"""Strain step of the central differences of the forces (non-affine forces)."""
ZERO_MODE_EV_PER_ANGSTROM2 = 1e-6
"""Hessian eigenvalues below this (eV/Å²) are the free translations."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """How thoroughly to fit.

    Attributes:
        symmetry: matscipy strain-pattern set: ``"triclinic"`` (six patterns, all 21
            constants) or ``"cubic"`` (one pattern).
        n_steps: strains per pattern, spaced by ``STRAIN_STEP`` around zero.
        fmax: force tolerance of every relaxation, eV/Å.
    """

    symmetry: str
    n_steps: int
    fmax: float


FULL = Settings(symmetry="triclinic", n_steps=5, fmax=1e-5)
SMOKE = Settings(symmetry="cubic", n_steps=3, fmax=1e-3)


class SecondDerivatives(Calculator):
    """Hands precomputed second derivatives to matscipy's elasticity functions.

    Args:
        hessian: (3N, 3N) eV/Å², atom-major.
        nonaffine_forces: (N, 3, 3, 3) eV/Å, ∂F_ia/∂ε_bc.
    """

    implemented_properties = ["hessian", "nonaffine_forces"]  # noqa: RUF012 (ase API)

    def __init__(self, hessian: np.ndarray, nonaffine_forces: np.ndarray):
        super().__init__()
        self.values = {"hessian": hessian, "nonaffine_forces": nonaffine_forces}

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Store the precomputed arrays as results."""
        super().calculate(atoms, properties, system_changes)
        self.results = dict(self.values)


def relaxed_cell(calculator: Calculator, fmax: float) -> Atoms:
    """Diamond silicon, 8 atoms, relaxed with its cell; calculator attached."""
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.calc = calculator
    # ase annotates Optimizer's argument as Atoms; filters are its documented use
    optimizer = BFGS(FrechetCellFilter(atoms), logfile=None)  # type: ignore[arg-type]
    if not optimizer.run(fmax=fmax, steps=1000):
        raise RuntimeError(f"the cell did not relax to fmax {fmax} eV/Å")
    return atoms


def finite_strain(atoms: Atoms, settings: Settings, relax_ions: bool) -> np.ndarray:
    """Voigt 6×6 constants (eV/Å³) fitted to stress–strain, ions relaxed or not."""
    relaxation = {"optimizer": BFGS, "fmax": settings.fmax} if relax_ions else {}
    constants, _ = fit_elastic_constants(
        atoms,
        symmetry=settings.symmetry,
        N_steps=settings.n_steps,
        delta=STRAIN_STEP,
        verbose=False,
        **relaxation,
    )
    return np.asarray(constants)


def dense_hessian(calculator: Calculator, atoms: Atoms) -> np.ndarray:
    """The calculator's Hessian, (3N, 3N) eV/Å², dense (matscipy's are sparse)."""
    hessian = calculator.get_hessian(atoms)  # type: ignore[attr-defined]
    return hessian.toarray() if hasattr(hessian, "toarray") else np.asarray(hessian)


def from_hessian(atoms: Atoms, calculator: Calculator) -> np.ndarray:
    """Relaxed-ion Voigt 6×6 constants (eV/Å³): clamped-ion + non-affine correction."""
    clamped = measure_triclinic_elastic_constants(atoms, delta=STRAIN_STEP)
    hessian = dense_hessian(calculator, atoms)
    values, vectors = np.linalg.eigh(hessian)
    if np.abs(values[:3]).max() > ZERO_MODE_EV_PER_ANGSTROM2 or values[3] < 0:
        raise RuntimeError(f"not a minimum: lowest Hessian eigenvalues {values[:4]}")
    strained = atoms.copy()  # numerical_nonaffine_forces leaves its input strained
    strained.calc = calculator
    probe = atoms.copy()
    probe.calc = SecondDerivatives(
        hessian, numerical_nonaffine_forces(strained, d=NONAFFINE_STEP)
    )
    correction = nonaffine_elastic_contribution(
        probe, eigenvalues=values[3:], eigenvectors=vectors[:, 3:]
    )
    return full_3x3x3x3_to_Voigt_6x6(clamped + correction, check_symmetry=False)


def cubic_constants(voigt: np.ndarray) -> tuple[np.ndarray, float]:
    """(C11, C12, C44) averaged over equivalent entries, and the largest non-cubic part.

    Both in the units of ``voigt`` (6, 6).
    """
    c11 = np.diag(voigt)[:3].mean()
    c12 = voigt[[1, 0, 0], [2, 2, 1]].mean()
    c44 = np.diag(voigt)[3:].mean()
    rest = np.abs(voigt - cubic_to_Voigt_6x6(c11, c12, c44)).max()
    return np.array([c11, c12, c44]), float(rest)


def elastic_constants(
    calculator: Calculator, settings: Settings
) -> dict[str, np.ndarray]:
    """Voigt 6×6 constants (GPa) of every route for one calculator."""
    atoms = relaxed_cell(calculator, settings.fmax)
    print(
        f"  relaxed cell: lengths {np.round(atoms.cell.lengths(), 4)} Å, "
        f"angles {np.round(atoms.cell.angles(), 3)}°"
    )
    routes = {
        "clamped-ion, finite strain": finite_strain(atoms, settings, False),
        "relaxed-ion, finite strain": finite_strain(atoms, settings, True),
        "relaxed-ion, Hessian": from_hessian(atoms, calculator),
    }
    if isinstance(calculator, MatscipyCalculator):  # analytic second derivatives
        analytic = calculator.get_property("elastic_constants", atoms)
        routes["relaxed-ion, analytic (matscipy)"] = full_3x3x3x3_to_Voigt_6x6(analytic)
    return {route: voigt / units.GPa for route, voigt in routes.items()}


def report(routes: dict[str, np.ndarray]) -> None:
    """Print the cubic constants of every route."""
    for route, voigt in routes.items():
        (c11, c12, c44), rest = cubic_constants(voigt)
        print(
            f"  {route:33s} C11 {c11:7.2f}  C12 {c12:7.2f}  C44 {c44:7.2f} GPa  "
            f"(non-cubic part ≤ {rest:.2f})"
        )


def plot(results: dict[str, dict[str, np.ndarray]]) -> None:
    """Bar chart of C11, C12, C44 (GPa) for every potential and route."""
    figure, axis = plt.subplots(figsize=(10, 4))
    bars = [
        (f"{name}: {route}", cubic_constants(voigt)[0])
        for name, routes in results.items()
        for route, voigt in routes.items()
    ]
    width = 0.8 / len(bars)
    positions = np.arange(3)
    for number, (label, values) in enumerate(bars):
        axis.bar(
            positions + (number - (len(bars) - 1) / 2) * width,
            values,
            width,
            label=label,
        )
    axis.set_xticks(positions, ["C11", "C12", "C44"])
    axis.set_ylabel("elastic constant (GPa)")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig("elastic_constants.png", dpi=120)


def main() -> None:
    """Compute, print and plot the elastic constants of both potentials."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a quick, loose run")
    smoke = parser.parse_args().smoke or bool(os.environ.get("POINTCHEM_SMOKE"))
    settings = SMOKE if smoke else FULL
    calculators = {
        "silicon-pet.pt": PointChemCalculator(POTENTIAL, dtype="float64"),
        "Kumagai": make_kumagai_calculator(),
    }
    results = {}
    for name, calculator in calculators.items():
        print(f"{name}:")
        results[name] = elastic_constants(calculator, settings)
        report(results[name])
    model, reference = (
        cubic_constants(routes["relaxed-ion, Hessian"])[0]
        for routes in results.values()
    )
    print(
        "silicon-pet.pt − Kumagai, relaxed-ion (Hessian): "
        + ", ".join(
            f"Δ{label} {d:+.2f} GPa ({d / r * 100:+.1f} %)"
            for label, d, r in zip(
                ("C11", "C12", "C44"), model - reference, reference, strict=True
            )
        )
    )
    plot(results)


if __name__ == "__main__":
    main()
