"""Reactions through intermediates: first-passage rates and the pathway workflow.

The workflow is checked on one hydrogen atom in an external triple well,

    V(x, y, z) = a x² (x² − b²)² + ½ (k_y + c x²) y² + ½ k_z z²,

with minima at x = −b, 0, b (all at V = 0), saddles at x = ±b/√3 (V = 4ab⁶/27) and
curvatures along x of 8ab⁴ (x = ±b), 2ab⁴ (x = 0) and −8ab⁴/3 (saddles). From x = −b
to x = b the atom must stop at x = 0: two elementary steps whose harmonic rates, and
the first-passage rate they combine into, are known in closed form.
"""

from __future__ import annotations

import dataclasses
import math

import ase
import numpy as np
import pytest
import torch
from ase import units
from ase.build import bulk
from ase.constraints import FixAtoms
from ase.data import atomic_masses
from ase.mep import NEB

from pointchem import PointChemCalculator
from pointchem.workflows import (
    RateSettings,
    SaddlePointError,
    first_passage_rate,
    reaction_pathway,
    reaction_rates,
    same_minimum,
)
from pointchem.workflows._path import _Band, interpolated_band

from .analytic import LennardJonesModel, LJHypers
from .test_rates import (
    DoubleWell,
    WellHypers,
    frequency_hz,
    hydrogen_at,
    well_calculator,
)

RATE_RELATIVE = 1e-6
"""Acceptance of issue 7 for the rate helper, kept for the pathway."""

FORMULA_RELATIVE = 1e-12
"""Two exact evaluations of the same formula."""

TIGHT = RateSettings(
    zero_modes="none", fmax=1e-9, neb_fmax=1e-9, n_images=4, max_steps=2000
)
TEMPERATURES = np.array([300.0, 600.0, 1200.0])


TRIPLE_WELL = WellHypers(a=1.0, b=1.0, k_y=2.0, c=1.5, k_z=4.0)
"""a in eV/Å⁶ here (x² (x² − b²)² is a sixth power), b Å, k_y, k_z eV/Å², c eV/Å⁴."""


class TripleWell(DoubleWell):
    """Each atom in the external potential V(x, y, z) of the module docstring."""

    def along_x(self, x: torch.Tensor) -> torch.Tensor:
        """The triple-well part a x² (x² − b²)², eV."""
        return self.hypers.a * x**2 * (x**2 - self.hypers.b**2) ** 2


def triple_well_rates(h: WellHypers, temperature: float) -> tuple[float, ...]:
    """Closed-form Vineyard k⁺_0 (−b → 0), k⁻_0 (0 → −b) and the −b → b rate."""
    mass = atomic_masses[1]
    saddle_x2 = h.b**2 / 3

    def modes(curvature_x: float, x2: float) -> float:
        return frequency_hz(curvature_x, mass) * frequency_hz(h.k_y + h.c * x2, mass)

    saddle = frequency_hz(h.k_y + h.c * saddle_x2, mass)
    boltzmann = math.exp(-4 * h.a * h.b**6 / 27 / (units.kB * temperature))
    outer = modes(8 * h.a * h.b**4, h.b**2) / saddle * boltzmann
    middle = modes(2 * h.a * h.b**4, 0.0) / saddle * boltzmann
    # −b → 0 at `outer`, back at `middle`; 0 → b at `middle` (the mirror image)
    passage_time = 1 / outer + (1 + middle / outer) / middle
    return outer, middle, 1 / passage_time


# ------------------------------------------------------------ first passage


def test_first_passage_of_one_step_is_its_rate() -> None:
    forward = np.array([[2.0, 3e-7, 5e9]])
    rate = first_passage_rate(forward, np.zeros_like(forward))
    np.testing.assert_allclose(rate, forward[0], rtol=FORMULA_RELATIVE)


def test_first_passage_of_two_steps_by_hand() -> None:
    """τ = 1/k⁺_0 + (1 + k⁻_0/k⁺_0)/k⁺_1."""
    forward = np.array([[2.0], [5.0]])
    backward = np.array([[7.0], [0.0]])
    tau = 1 / 2.0 + (1 + 7.0 / 2.0) / 5.0
    np.testing.assert_allclose(
        first_passage_rate(forward, backward), [1 / tau], rtol=FORMULA_RELATIVE
    )


def test_first_passage_equals_the_master_equation(rng: np.random.Generator) -> None:
    """Against τ = (−Q)⁻¹ 1 of the chain's generator restricted to transient states."""
    n = 5
    forward = 10.0 ** rng.uniform(-2, 3, size=(n, 1))
    backward = 10.0 ** rng.uniform(-2, 3, size=(n, 1))
    generator = np.zeros((n, n))
    for i in range(n):
        generator[i, i] -= forward[i, 0]
        if i + 1 < n:
            generator[i, i + 1] = forward[i, 0]
        if i > 0:
            generator[i, i - 1] = backward[i - 1, 0]
            generator[i, i] -= backward[i - 1, 0]
    tau = np.linalg.solve(-generator, np.ones(n))
    np.testing.assert_allclose(
        first_passage_rate(forward, backward), [1 / tau[0]], rtol=1e-10
    )


def test_first_passage_refuses_bad_rates() -> None:
    with pytest.raises(ValueError, match="same"):
        first_passage_rate(np.ones((2, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="positive"):
        first_passage_rate(np.array([[1.0], [0.0]]), np.ones((2, 1)))


# ------------------------------------------------------------ minima and bands


def test_same_minimum_uses_the_minimum_image() -> None:
    cell = np.eye(3) * 4.0
    first = ase.Atoms("H2", positions=[[0.01, 0, 0], [2, 2, 2]], cell=cell, pbc=True)
    across = first.copy()
    across.positions[0] = [3.99, 0, 0]  # 0.02 Å away through the boundary
    assert same_minimum(first, across, 0.05)
    assert not same_minimum(first, across, 0.01)
    across.pbc = False  # now 3.98 Å apart
    assert not same_minimum(across, first, 0.05)


def test_band_noise_is_seeded_and_leaves_fixed_atoms() -> None:
    start = ase.Atoms("H3", positions=[[0, 0, 0], [1, 0, 0], [2, 0, 0]])
    start.set_constraint(FixAtoms([2]))
    end = start.copy()
    end.positions[0] = [0, 1, 0]
    settings = RateSettings(n_images=3, interpolation="linear", band_noise=0.1)
    band = interpolated_band(start, end, settings)
    again = interpolated_band(start, end, settings)
    plain = interpolated_band(
        start, end, RateSettings(n_images=3, interpolation="linear")
    )
    for noisy, same, smooth in zip(band[1:-1], again[1:-1], plain[1:-1], strict=True):
        np.testing.assert_array_equal(noisy.positions, same.positions)
        np.testing.assert_array_equal(noisy.positions[2], start.positions[2])
        assert np.abs(noisy.positions[:2] - smooth.positions[:2]).min() > 0
    np.testing.assert_array_equal(band[0].positions, start.positions)
    np.testing.assert_array_equal(band[-1].positions, end.positions)


# ------------------------------------------------------------ the workflow


@pytest.fixture(scope="module")
def triple_well_pathway():
    calculator = PointChemCalculator(
        TripleWell(TRIPLE_WELL), device="cpu", dtype=torch.float64
    )
    return reaction_pathway(
        hydrogen_at(-1.05, 0.02),
        hydrogen_at(0.97, -0.01),
        calculator,
        TEMPERATURES,
        TIGHT,
    )


def test_pathway_stops_at_the_intermediate(triple_well_pathway) -> None:
    h = TRIPLE_WELL
    steps = triple_well_pathway.steps
    assert len(steps) == 2
    np.testing.assert_allclose(
        [step.reactant.positions[0, 0] for step in steps], [-h.b, 0.0], atol=1e-6
    )
    np.testing.assert_allclose(triple_well_pathway.minimum_energies, 0.0, atol=1e-12)
    np.testing.assert_allclose(
        triple_well_pathway.saddle_energies, 4 * h.a * h.b**6 / 27, rtol=1e-9
    )


def test_pathway_rates_equal_the_closed_form(triple_well_pathway) -> None:
    """Forward, backward and effective Vineyard rates to the acceptance's 1e-6."""
    h = TRIPLE_WELL
    answers = np.array([triple_well_rates(h, t) for t in TEMPERATURES])
    outer, middle, effective = answers.T
    result = triple_well_pathway
    np.testing.assert_allclose(result.steps[0].vineyard, outer, rtol=RATE_RELATIVE)
    np.testing.assert_allclose(result.steps[1].vineyard, middle, rtol=RATE_RELATIVE)
    np.testing.assert_allclose(result.backward_vineyard[0], middle, rtol=RATE_RELATIVE)
    np.testing.assert_allclose(result.vineyard, effective, rtol=RATE_RELATIVE)
    assert (result.eyring > 0).all()


def test_pathway_without_intermediate_is_the_single_step() -> None:
    """The double well of test_rates: one step, effective rate = its rate."""
    settings = dataclasses.replace(TIGHT, n_images=5)
    start, end = hydrogen_at(-0.9, 0.05), hydrogen_at(1.1, -0.03)
    pathway = reaction_pathway(start, end, well_calculator(), TEMPERATURES, settings)
    direct = reaction_rates(start, end, well_calculator(), TEMPERATURES, settings)
    assert len(pathway.steps) == 1
    np.testing.assert_allclose(pathway.vineyard, direct.vineyard, rtol=1e-9)
    np.testing.assert_allclose(pathway.eyring, direct.eyring, rtol=1e-9)
    assert pathway.barrier == pytest.approx(direct.barrier, abs=1e-12)


def test_pathway_of_depth_zero_refuses_a_saddle_that_skips_a_minimum() -> None:
    """max_depth=0: the saddle at x = −b/√3 or b/√3 leads to x = 0, not both ends."""
    calculator = PointChemCalculator(
        TripleWell(TRIPLE_WELL), device="cpu", dtype=torch.float64
    )
    with pytest.raises(SaddlePointError, match="raise max_depth"):
        reaction_pathway(
            hydrogen_at(-1.0), hydrogen_at(1.0), calculator, [300.0], TIGHT, max_depth=0
        )


# ------------------------------------------------------------ the band itself


def periodic_argon_band(rng: np.random.Generator, n_images: int = 3) -> list[ase.Atoms]:
    """A band of rattled fcc argon (LJ units, a = 1.6), calculators attached."""
    model = LennardJonesModel(LJHypers(cutoff=2.0, smooth=True), [18]).double()
    calculator = PointChemCalculator(model, device="cpu", dtype=torch.float64)
    crystal = bulk("Ar", "fcc", a=1.6, cubic=True).repeat(2)
    end = crystal.copy()
    end.positions[0] += [0.3, 0.1, 0.0]
    images = [crystal.copy() for _ in range(n_images + 1)] + [end]
    for image in images:
        image.positions += rng.normal(scale=0.02, size=image.positions.shape)
        image.calc = calculator
    return images


def test_band_forces_without_drift_and_residual_with_climbing_image(
    rng: np.random.Generator,
) -> None:
    """Projected forces are ASE's minus each image's mean; residual over all images.

    The residual is the largest per-atom norm over every interior image, the
    climbing one included (ASE's own residual leaves it out).
    """
    images = periodic_argon_band(rng)
    stock = NEB(
        images, climb=True, method="improvedtangent", allow_shared_calculator=True
    )
    band = _Band(
        images,
        project_translations=True,
        climb=True,
        method="improvedtangent",
        allow_shared_calculator=True,
    )
    reference = stock.get_forces().reshape(3, len(images[0]), 3)
    forces = band.get_forces().reshape(3, len(images[0]), 3)
    np.testing.assert_allclose(forces.sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        forces, reference - reference.mean(axis=1, keepdims=True), atol=1e-12
    )
    norms = np.linalg.norm(forces, axis=2)
    assert band.get_residual() == pytest.approx(norms.max(), rel=1e-12)
    assert reference.mean(axis=1).any(), "the test band should have drift to remove"


@pytest.mark.parametrize("optimizer", ["ODE", "FIRE"])
def test_neb_optimizers_find_the_barrier(optimizer: str) -> None:
    """Every band optimizer reaches the closed-form barrier a b⁴ of the double well."""
    settings = RateSettings(
        zero_modes="none", n_images=6, neb_optimizer=optimizer, neb_fmax=1e-5
    )
    result = reaction_rates(
        hydrogen_at(-1.0), hydrogen_at(1.0), well_calculator(), [300.0], settings
    )
    assert result.path.converged
    assert result.barrier == pytest.approx(0.5, abs=1e-8)


def test_pathway_gives_up_beyond_max_minima() -> None:
    """The triple well has one intermediate; allowing none stops the search."""
    calculator = PointChemCalculator(
        TripleWell(TRIPLE_WELL), device="cpu", dtype=torch.float64
    )
    with pytest.raises(SaddlePointError, match="max_minima"):
        reaction_pathway(
            hydrogen_at(-1.0),
            hydrogen_at(1.0),
            calculator,
            [300.0],
            TIGHT,
            max_minima=0,
        )
