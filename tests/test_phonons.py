"""Vibrations and phonons: analytic Hessian against finite differences (issue 7).

Tiny float64 models with random weights on the 2-atom primitive cell of diamond carbon
and a 2×2×2 supercell (16 atoms). Random weights do not make a realistic crystal, but
both routes to the force constants see the same potential, so they must agree.
"""

from __future__ import annotations

from pathlib import Path

import ase
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.vibrations import Vibrations

from pointchem import PointChemCalculator
from pointchem.models.base import EnergyModel
from pointchem.testing import FINITE_DIFFERENCE_STEP, FLOAT64_TOLERANCES
from pointchem.workflows.phonons import (
    PHONON_DISPLACEMENT,
    harmonic_vibrations,
    phonon_frequencies,
    phonons_from_displacements,
    phonons_from_hessian,
    plot_phonons,
    supercell_forces,
)

from .models.test_gm import tiny_model as tiny_gm
from .models.test_pet import tiny_model as tiny_pet
from .physics_suite import ethanol

SPECIAL_POINTS = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.5, 0.5, 0.5]])
"""Γ, X, L of the fcc Brillouin zone, in the reciprocal basis of the primitive cell."""

SUPERCELL = 2

AGREEMENT_THZ = 0.01
"""Issue 7 acceptance: Hessian and finite-displacement phonons agree to 0.01 THz. At
the default ±0.005 Å displacement the measured difference is 3e-4 THz (tiny GM) and
2e-3 THz (tiny PET, whose random weights curve more), scaling as d² (test below)."""

ACOUSTIC_THZ = 1e-5
"""|ν| of the three acoustic modes at Γ. Translation invariance makes them exactly
zero; round-off of a Hessian with entries ~10 eV/Å² leaves eigenvalues ~1e-13
eV/(Å² amu), i.e. ~5e-6 THz, since ν grows like √λ (15.6 THz per √(eV/Å²/amu))."""

TRUNCATION_RATIO = (3.6, 4.4)
"""Halving the displacement must divide the frequency difference by 4 ± 10 %: the
difference is then the d² truncation error of central differences, nothing else."""

CM_PER_ROOT_EIGENVALUE = 1e-2 * units.s / (2 * np.pi * units._c)
"""cm⁻¹ per √(eV/(Å² amu)): wavenumber of a mass-weighted Hessian eigenvalue."""


def diamond() -> ase.Atoms:
    """2-atom primitive cell of diamond carbon (a = 3.57 Å)."""
    return bulk("C", "diamond", a=3.57)


@pytest.fixture(params=["gm", "pet"])
def model(request: pytest.FixtureRequest) -> EnergyModel:
    """A tiny GM (exactly rotation-invariant) or bare PET (not) model, float64."""
    return tiny_gm() if request.param == "gm" else tiny_pet()


def frequency_difference(calculator: PointChemCalculator, displacement: float) -> float:
    """Max |ν_Hessian − ν_displacements| (THz) over all branches at Γ, X, L."""
    cell = diamond()
    hessian_route = phonons_from_hessian(cell, calculator, SUPERCELL)
    displacement_route = phonons_from_displacements(
        cell, calculator, SUPERCELL, displacement=displacement
    )
    reference = phonon_frequencies(hessian_route, SPECIAL_POINTS)
    frequencies = phonon_frequencies(displacement_route, SPECIAL_POINTS)
    return float(np.abs(frequencies - reference).max())


def test_hessian_and_displacement_phonons_agree_at_gamma_x_l(
    model: EnergyModel,
) -> None:
    calculator = PointChemCalculator(model, device="cpu")
    difference = frequency_difference(calculator, PHONON_DISPLACEMENT)
    assert difference < AGREEMENT_THZ, f"{difference:.2e} THz"


def test_displacement_error_is_central_difference_truncation() -> None:
    calculator = PointChemCalculator(tiny_gm(), device="cpu")
    coarse = frequency_difference(calculator, 2 * PHONON_DISPLACEMENT)
    fine = frequency_difference(calculator, PHONON_DISPLACEMENT)
    low, high = TRUNCATION_RATIO
    assert low < coarse / fine < high, f"{coarse:.3e} / {fine:.3e} THz"


@pytest.mark.parametrize("route", ["hessian", "displacements"])
def test_three_acoustic_modes_vanish_at_gamma(route: str) -> None:
    calculator = PointChemCalculator(tiny_gm(), device="cpu")
    make = phonons_from_hessian if route == "hessian" else phonons_from_displacements
    gamma = phonon_frequencies(make(diamond(), calculator, SUPERCELL), np.zeros(3))[0]
    ordered = np.sort(np.abs(gamma))
    assert ordered[:3].max() < ACOUSTIC_THZ, gamma
    assert ordered[3] > 1.0, f"an optical mode is soft: {gamma}"


def test_crystal_symmetry_is_not_imposed_on_a_model_that_breaks_it() -> None:
    # Bare PET is not exactly rotation-invariant: phonopy's space-group symmetrization
    # changes its force constants, the translations-only default does not.
    calculator = PointChemCalculator(tiny_pet(), device="cpu")
    cell = diamond()
    reference = phonon_frequencies(
        phonons_from_hessian(cell, calculator, SUPERCELL), SPECIAL_POINTS
    )
    symmetrized = phonons_from_displacements(cell, calculator, SUPERCELL, symmetry=True)
    difference = np.abs(phonon_frequencies(symmetrized, SPECIAL_POINTS) - reference)
    assert difference.max() > 10 * AGREEMENT_THZ


def test_harmonic_vibrations_match_ase_finite_differences(tmp_path: Path) -> None:
    atoms = ethanol()
    atoms.calc = PointChemCalculator(tiny_gm(), device="cpu")
    analytic = harmonic_vibrations(atoms, atoms.calc)
    finite = Vibrations(atoms, name=str(tmp_path / "vib"), delta=FINITE_DIFFERENCE_STEP)
    finite.run()
    reference = finite.get_vibrations()
    tolerance = FLOAT64_TOLERANCES.hessian_vs_finite_differences
    error = np.abs(analytic.get_hessian_2d() - reference.get_hessian_2d()).max()
    assert error < tolerance
    # Weyl: eigenvalues of the mass-weighted Hessians differ by at most its spectral
    # norm ≤ 3N · max|ΔH| / m_min, so the signed squared wavenumbers by that × c².
    bound = 3 * len(atoms) * tolerance / atoms.get_masses().min()
    bound *= CM_PER_ROOT_EIGENVALUE**2

    def signed_square(frequencies: np.ndarray) -> np.ndarray:
        return np.sort(frequencies.real**2 - frequencies.imag**2)

    squares = signed_square(analytic.get_frequencies())
    assert np.abs(squares - signed_square(reference.get_frequencies())).max() < bound
    assert analytic.get_atoms() is not atoms  # a copy, without the calculator
    assert analytic.get_atoms().calc is None


def test_batched_supercells_equal_one_by_one_in_one_model_call() -> None:
    calculator = PointChemCalculator(tiny_gm(), device="cpu")
    structures = [diamond().repeat(SUPERCELL) for _ in range(4)]
    for seed, structure in enumerate(structures):
        structure.rattle(0.05, seed=seed)
    calls: list[int] = []
    hook = calculator.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        batched = supercell_forces(structures, calculator)
    finally:
        hook.remove()
    assert len(calls) == 1
    for structure, forces in zip(structures, batched, strict=True):
        structure.calc = calculator
        expected = structure.get_forces()
        error = np.abs(forces - expected).max()
        assert error < FLOAT64_TOLERANCES.batch_vs_single
        assert np.abs(expected).max() > 1e-3  # a rattled cell: forces not trivially 0


def test_plot_phonons_writes_a_png(tmp_path: Path) -> None:
    calculator = PointChemCalculator(tiny_gm(), device="cpu")
    cell = diamond()
    phonons = {
        "Hessian": phonons_from_hessian(cell, calculator, SUPERCELL),
        "displacements": phonons_from_displacements(cell, calculator, SUPERCELL),
    }
    path = plot_phonons(
        phonons, cell, tmp_path / "bands.png", "GXU,KGL", npoints=5, mesh=(4, 4, 4)
    )
    assert path.stat().st_size > 10_000


def test_molecules_are_refused_for_phonons() -> None:
    calculator = PointChemCalculator(tiny_gm(), device="cpu")
    with pytest.raises(ValueError, match="periodic in 3-D"):
        phonons_from_hessian(ethanol(), calculator)
