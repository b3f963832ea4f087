"""Harmonic-TST rates: pure formulas, mode projection, saddle checks, full workflow.

The workflow is checked on one hydrogen atom in an external double well,

    V(x, y, z) = a (x² − b²)² + ½ (k_y + c x²) y² + ½ k_z z²,

whose stationary points and curvatures are known in closed form: minima at x = ±b
(curvatures 8ab², k_y + c b², k_z), the saddle at x = 0 (curvatures −4ab², k_y, k_z)
and the barrier a b⁴. The potential is not translation-invariant, so no mode is free
(``zero_modes="none"``): all three motions of the atom are vibrations.
"""

from __future__ import annotations

import dataclasses
import math

import ase
import numpy as np
import pytest
import torch
from ase import units
from ase.calculators.calculator import Calculator, all_changes
from ase.optimize import BFGS

from pointchem import PointChemCalculator
from pointchem.graph import AtomicGraph
from pointchem.models.base import EnergyModel
from pointchem.workflows import (
    BatchedImages,
    RateSettings,
    SaddlePointError,
    check_minimum,
    check_saddle,
    eyring_rate,
    free_motion_vectors,
    normal_mode_frequencies,
    plot_arrhenius,
    reaction_rates,
    rotational_log_partition,
    structure_hessian,
    vibrational_log_partition,
    vineyard_rate,
    wavenumber,
)

from .analytic import LennardJonesModel, LJHypers

RATE_RELATIVE = 1e-6
"""Acceptance of issue 7: helper rate vs closed-form harmonic-TST rate."""

BARRIER_ABSOLUTE = 1e-4
"""eV. NEB barrier vs the closed-form barrier at default settings."""

FORMULA_RELATIVE = 1e-12
"""Relations between the pure formulas that hold to rounding."""

CODATA_RELATIVE = 1e-6
"""Hand values computed with CODATA 2018 constants vs ase.units (CODATA 2014 by
default: k_B differs by 3.5e-7 relative)."""

LITERATURE_RELATIVE = 1e-3
"""A literature value quoted to three or four significant figures."""

HESSIAN_FD_ABSOLUTE = 1e-5
"""eV/Å². Fallback finite-difference Hessian (step 1e-3 Å) of a quartic: h²V''''/6."""

TIGHT = RateSettings(
    zero_modes="none", fmax=1e-9, neb_fmax=1e-9, n_images=4, max_steps=2000
)
"""Even image count: no image starts on the saddle, the climbing image must find it."""

TEMPERATURES = np.array([200.0, 300.0, 500.0, 1000.0])


@dataclasses.dataclass(frozen=True, kw_only=True)
class WellHypers:
    a: float = 0.5  # eV/Å⁴
    b: float = 1.0  # Å
    k_y: float = 2.0  # eV/Å²
    c: float = 1.0  # eV/Å⁴
    k_z: float = 4.0  # eV/Å²


class DoubleWell(EnergyModel):
    """Each atom in the external potential V(x, y, z) of the module docstring."""

    supported_dtypes = (torch.float64,)

    def __init__(self, hypers: WellHypers):
        super().__init__(hypers, [1], cutoff=1.0)

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        h = self.hypers
        x, y, z = graph.positions.unbind(dim=1)
        transverse = 0.5 * (h.k_y + h.c * x**2) * y**2 + 0.5 * h.k_z * z**2
        return self.along_x(x) + transverse

    def along_x(self, x: torch.Tensor) -> torch.Tensor:
        """The double-well part a (x² − b²)², eV."""
        return self.hypers.a * (x**2 - self.hypers.b**2) ** 2


def well_calculator(hypers: WellHypers = WellHypers()) -> PointChemCalculator:
    return PointChemCalculator(DoubleWell(hypers), device="cpu", dtype=torch.float64)


def hydrogen_at(x: float, y: float = 0.0, z: float = 0.0) -> ase.Atoms:
    return ase.Atoms("H", positions=[[x, y, z]])


def frequency_hz(curvature: float, mass: float) -> float:
    """ν = √(κ/m)/2π with κ in eV/Å² and m in amu, through SI units."""
    kappa_si = curvature * units._e * 1e20  # J/m²
    return math.sqrt(kappa_si / (mass * units._amu)) / (2 * math.pi)


@dataclasses.dataclass(frozen=True)
class WellAnswer:
    barrier: float  # eV
    imaginary: float  # Hz, |ν‡|
    minimum: list[float]  # Hz, x, y, z modes at x = ±b
    saddle: list[float]  # Hz, y, z modes at x = 0


def analytic_well(h: WellHypers, mass: float) -> WellAnswer:
    minimum = [8 * h.a * h.b**2, h.k_y + h.c * h.b**2, h.k_z]
    return WellAnswer(
        barrier=h.a * h.b**4,
        imaginary=frequency_hz(4 * h.a * h.b**2, mass),
        minimum=[frequency_hz(k, mass) for k in minimum],
        saddle=[frequency_hz(k, mass) for k in (h.k_y, h.k_z)],
    )


def quantum_q(frequency: float, temperature: float) -> float:
    x = units._hplanck * frequency / (units._k * temperature)
    return math.exp(-x / 2) / (1 - math.exp(-x))


def analytic_rates(h: WellHypers, mass: float, temperature: float) -> tuple[float, ...]:
    """Closed-form Vineyard and quantum-harmonic Eyring rates of the well, 1/s."""
    well = analytic_well(h, mass)
    boltzmann = math.exp(-well.barrier / (units.kB * temperature))
    vineyard = math.prod(well.minimum) / math.prod(well.saddle) * boltzmann
    q_saddle = math.prod(quantum_q(f, temperature) for f in well.saddle)
    q_minimum = math.prod(quantum_q(f, temperature) for f in well.minimum)
    attempt = units._k * temperature / units._hplanck
    return vineyard, attempt * q_saddle / q_minimum * boltzmann


@pytest.fixture(scope="module")
def well_result():
    return reaction_rates(
        hydrogen_at(-0.9, 0.05),
        hydrogen_at(1.1, -0.03),
        well_calculator(),
        TEMPERATURES,
        TIGHT,
    )


# ---------------------------------------------------------------- pure formulas


def test_vibrational_partition_at_h_nu_equal_k_t() -> None:
    temperature = 300.0
    frequency = units._k * temperature / units._hplanck  # x = hν/kT = 1
    quantum = vibrational_log_partition(np.array([frequency]), temperature)
    classical = vibrational_log_partition(
        np.array([frequency]), temperature, quantum=False
    )
    # hand value: ln[e^{-1/2} / (1 - e^{-1})] = -0.5 - ln(0.6321205588...)
    assert quantum[0] == pytest.approx(-0.0413248546, rel=1e-9)
    assert classical[0] == pytest.approx(0.0, abs=1e-15)


def test_vibrational_partition_sums_modes_and_tends_to_classical() -> None:
    frequencies = np.array([1e12, 3e12, 5e13])
    each = [vibrational_log_partition(frequencies[i : i + 1], 400.0) for i in range(3)]
    assert vibrational_log_partition(frequencies, 400.0)[0] == pytest.approx(
        sum(float(v[0]) for v in each), rel=FORMULA_RELATIVE
    )
    hot = 1e7  # x ~ 2.4e-4 for the stiffest mode: quantum → classical as x²/24
    difference = vibrational_log_partition(frequencies, hot) - (
        vibrational_log_partition(frequencies, hot, quantum=False)
    )
    assert abs(difference[0]) < 1e-8


def test_vibrational_partition_rejects_imaginary_modes() -> None:
    with pytest.raises(ValueError, match="real and positive"):
        vibrational_log_partition(np.array([-1e12, 1e13]), 300.0)


def test_rotational_partition_of_h2_against_its_rotational_temperature() -> None:
    # H2, r = 0.741 Å: Θ_rot = ħ²/(2 I k_B) = 87.6 K (textbook value); σ = 2.
    h2 = ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.741]])
    log_q = rotational_log_partition(h2.get_moments_of_inertia(), 300.0, 2)
    assert math.exp(log_q[0]) == pytest.approx(
        300.0 / (2 * 87.6), rel=LITERATURE_RELATIVE
    )


def test_rotational_partition_nonlinear_and_atom() -> None:
    moments = np.array([0.6, 1.2, 1.8])  # amu·Å²
    hbar, k_b = 1.054571817e-34, 1.380649e-23  # CODATA 2018, typed for independence
    thetas = [hbar**2 / (2 * i * 1.66053906660e-47 * k_b) for i in moments]
    expected = math.sqrt(math.pi) / 3 * math.sqrt(500.0**3 / math.prod(thetas))
    log_q = rotational_log_partition(moments, 500.0, symmetry_number=3)
    assert math.exp(log_q[0]) == pytest.approx(expected, rel=CODATA_RELATIVE)
    atom = rotational_log_partition(np.zeros(3), [100.0, 200.0])
    np.testing.assert_array_equal(atom, [0.0, 0.0])


def test_eyring_prefactor_is_k_t_over_h() -> None:
    # k_B T/h at 300 K with CODATA 2018 constants: 6.250985e12 s⁻¹
    rate = eyring_rate(0.0, 300.0, 0.0)
    assert rate[0] == pytest.approx(
        1.380649e-23 * 300 / 6.62607015e-34, rel=CODATA_RELATIVE
    )


def test_vineyard_hand_value_and_shape_check() -> None:
    rate = vineyard_rate(np.array([2e13, 3e13]), np.array([1e13]), 0.1, [500.0])
    expected = 2e13 * 3e13 / 1e13 * math.exp(-0.1 / (units.kB * 500.0))
    assert rate[0] == pytest.approx(expected, rel=FORMULA_RELATIVE)
    with pytest.raises(ValueError, match="one real mode fewer"):
        vineyard_rate(np.array([2e13, 3e13]), np.array([1e13, 2e13]), 0.1, [500.0])


def test_classical_eyring_without_rotations_equals_vineyard() -> None:
    reactant, saddle = np.array([3e12, 2e13, 9e13]), np.array([5e12, 7e13])
    ratio = vibrational_log_partition(
        saddle, TEMPERATURES, quantum=False
    ) - vibrational_log_partition(reactant, TEMPERATURES, quantum=False)
    np.testing.assert_allclose(
        eyring_rate(0.3, TEMPERATURES, ratio),
        vineyard_rate(reactant, saddle, 0.3, TEMPERATURES),
        rtol=FORMULA_RELATIVE,
    )


def test_temperatures_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive kelvin"):
        eyring_rate(0.1, [300.0, 0.0], 0.0)


# ---------------------------------------------------------------- modes and checks


@pytest.mark.parametrize(
    ("atoms", "zero_modes", "n_free"),
    [
        (
            ase.Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]),
            "auto",
            6,
        ),
        (
            ase.Atoms("CO2", positions=[[0, 0, 0], [0, 0, 1.16], [0, 0, -1.16]]),
            "auto",
            5,
        ),
        (ase.Atoms("H", positions=[[0.3, 0.1, 0]]), "auto", 3),
        (ase.Atoms("H", positions=[[0.3, 0.1, 0]]), "none", 0),
        (
            ase.Atoms(
                "Si2",
                scaled_positions=[[0, 0, 0], [0.25, 0.25, 0.25]],
                cell=np.eye(3) * 5.43,
                pbc=True,
            ),
            "auto",
            3,
        ),
    ],
    ids=["nonlinear", "linear", "atom-auto", "atom-external", "crystal"],
)
def test_free_motion_count(atoms: ase.Atoms, zero_modes: str, n_free: int) -> None:
    vectors = free_motion_vectors(atoms, zero_modes)
    assert vectors.shape == (3 * len(atoms), n_free)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(n_free), atol=1e-12)


def test_projection_keeps_the_vibrations_of_a_relaxed_cluster() -> None:
    """LJ trimer: 3 vibrations = the non-zero eigenvalues of the full Hessian."""
    atoms = ase.Atoms("Ar3", positions=[[0, 0, 0], [1.1, 0, 0], [0.5, 0.9, 0.05]])
    model = LennardJonesModel(LJHypers(cutoff=3.0, smooth=True), [18]).double()
    atoms.calc = PointChemCalculator(model, device="cpu", dtype=torch.float64)
    BFGS(atoms, logfile=None).run(fmax=1e-10, steps=200)
    hessian = atoms.calc.get_hessian(atoms)
    masses = atoms.get_masses()
    projected = normal_mode_frequencies(
        hessian, masses, free_motion_vectors(atoms, "auto")
    )
    everything = normal_mode_frequencies(hessian, masses, np.zeros((9, 0)))
    assert projected.shape == (3,)
    np.testing.assert_allclose(projected, everything[-3:], rtol=1e-8)
    assert np.abs(everything[:-3]).max() < 1e-4 * projected.min()


def test_saddle_check_wants_exactly_one_imaginary_mode() -> None:
    one = np.array([-3e13, 2e13, 4e13])
    imaginary, real = check_saddle(one, threshold=10.0)
    assert imaginary == 3e13
    np.testing.assert_array_equal(real, [2e13, 4e13])
    with pytest.raises(SaddlePointError, match="0 imaginary modes"):
        check_saddle(np.array([1e13, 2e13, 4e13]), threshold=10.0)
    with pytest.raises(SaddlePointError, match="2 imaginary modes"):
        check_saddle(np.array([-3e13, -1e13, 4e13]), threshold=10.0)


def test_soft_modes_and_imaginary_reactants_are_refused() -> None:
    soft = wavenumber(1.0) ** -1 * 5.0  # 5 cm⁻¹ in Hz
    with pytest.raises(SaddlePointError, match="softer than 10"):
        check_saddle(np.array([-3e13, float(soft), 4e13]), threshold=10.0)
    with pytest.raises(SaddlePointError, match="not a minimum"):
        check_minimum(np.array([-3e13, 4e13]), threshold=10.0)


def test_minimum_of_the_well_fails_the_saddle_check() -> None:
    """The Hessian at x = b has 0 imaginary modes: not a saddle."""
    atoms = hydrogen_at(1.0)
    hessian = well_calculator().get_hessian(atoms)
    frequencies = normal_mode_frequencies(hessian, atoms.get_masses(), np.zeros((3, 0)))
    with pytest.raises(SaddlePointError, match="0 imaginary modes"):
        check_saddle(frequencies, threshold=10.0)


# ---------------------------------------------------------------- workflow


def test_helper_rates_equal_the_closed_form_harmonic_tst(well_result) -> None:
    hypers = WellHypers()
    mass = float(hydrogen_at(0.0).get_masses()[0])
    for temperature, vineyard, eyring in zip(
        TEMPERATURES, well_result.vineyard, well_result.eyring, strict=True
    ):
        expected_vineyard, expected_eyring = analytic_rates(hypers, mass, temperature)
        assert vineyard == pytest.approx(expected_vineyard, rel=RATE_RELATIVE), (
            temperature
        )
        assert eyring == pytest.approx(expected_eyring, rel=RATE_RELATIVE), temperature


def test_helper_modes_and_structures_of_the_well(well_result) -> None:
    mass = float(hydrogen_at(0.0).get_masses()[0])
    well = analytic_well(WellHypers(), mass)
    assert well_result.imaginary_frequency == pytest.approx(well.imaginary, rel=1e-8)
    np.testing.assert_allclose(
        well_result.reactant_frequencies,
        sorted(well.minimum),
        rtol=1e-8,
    )
    np.testing.assert_allclose(well_result.saddle_frequencies, well.saddle, rtol=1e-8)
    np.testing.assert_allclose(well_result.saddle.positions, [[0, 0, 0]], atol=1e-8)
    np.testing.assert_allclose(well_result.reactant.positions, [[-1, 0, 0]], atol=1e-8)
    assert well_result.path.converged


def test_classical_eyring_of_the_well_equals_vineyard(well_result) -> None:
    ratio = vibrational_log_partition(
        well_result.saddle_frequencies, TEMPERATURES, quantum=False
    ) - vibrational_log_partition(
        well_result.reactant_frequencies, TEMPERATURES, quantum=False
    )
    np.testing.assert_allclose(
        eyring_rate(well_result.barrier, TEMPERATURES, ratio),
        well_result.vineyard,
        rtol=FORMULA_RELATIVE,
    )


def test_neb_finds_the_barrier_at_default_tolerances() -> None:
    """Six images (none starts on the top): the climbing image has to find it."""
    result = reaction_rates(
        hydrogen_at(-1.0),
        hydrogen_at(1.0),
        well_calculator(),
        [300.0],
        RateSettings(zero_modes="none", n_images=6),
    )
    assert result.path.n_model_calls is not None
    assert result.path.n_model_calls > 1, "the band should have had to move"
    assert result.barrier == pytest.approx(WellHypers().a, abs=BARRIER_ABSOLUTE)


def test_second_order_saddle_on_the_path_is_refused() -> None:
    """With k_y + c x² = −1 + 3x², the top x = 0 of the y = 0 path is 2nd order."""
    calculator = well_calculator(WellHypers(k_y=-1.0, c=3.0))
    with pytest.raises(SaddlePointError, match="2 imaginary modes") as error:
        reaction_rates(
            hydrogen_at(-1.0),
            hydrogen_at(1.0),
            calculator,
            [300.0],
            RateSettings(zero_modes="none", n_images=4),
        )
    assert error.value.n_imaginary == 2


def test_reactant_and_product_must_match() -> None:
    with pytest.raises(ValueError, match="same atoms"):
        reaction_rates(
            hydrogen_at(-1.0),
            ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 1]]),
            well_calculator(),
            [300.0],
        )


def test_batched_images_match_single_evaluations(rng: np.random.Generator) -> None:
    model = LennardJonesModel(LJHypers(cutoff=3.0, smooth=True), [18]).double()
    calculator = PointChemCalculator(model, device="cpu", dtype=torch.float64)
    base = ase.Atoms(
        "Ar4", positions=[[0, 0, 0], [1.1, 0, 0], [0, 1.1, 0], [0, 0, 1.1]]
    )
    images = [base.copy() for _ in range(3)]
    for image in images:
        image.positions += rng.normal(scale=0.05, size=(4, 3))
    batch = BatchedImages(calculator, images)
    for image, image_calculator in zip(images, batch.calculators(), strict=True):
        image.calc = image_calculator
    for image in images:
        single = image.copy()
        single.calc = calculator
        assert image.get_potential_energy() == pytest.approx(
            single.get_potential_energy(), abs=1e-12
        )
        np.testing.assert_allclose(image.get_forces(), single.get_forces(), atol=1e-12)
    assert batch.n_model_calls == 1
    images[1].positions[0, 0] += 0.01
    images[1].get_forces()
    assert batch.n_model_calls == 2


class ForcesOnly(Calculator):
    """An ASE calculator without ``get_hessian`` (wraps another one)."""

    implemented_properties = ["energy", "free_energy", "forces"]  # noqa: RUF012

    def __init__(self, inner: Calculator):
        super().__init__()
        self.inner = inner

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy = self.inner.get_potential_energy(self.atoms)
        forces = self.inner.get_forces(self.atoms)
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}


def test_finite_difference_hessian_for_calculators_without_one() -> None:
    atoms = hydrogen_at(0.7, 0.2, -0.1)
    analytic = structure_hessian(atoms, well_calculator())
    numeric = structure_hessian(atoms, ForcesOnly(well_calculator()))
    np.testing.assert_allclose(numeric, analytic, atol=HESSIAN_FD_ABSOLUTE)


def test_unbatched_calculator_runs_the_neb_image_by_image() -> None:
    result = reaction_rates(
        hydrogen_at(-1.0),
        hydrogen_at(1.0),
        ForcesOnly(well_calculator()),
        [300.0],
        RateSettings(zero_modes="none", n_images=4),
    )
    assert result.path.n_model_calls is None
    assert result.barrier == pytest.approx(WellHypers().a, abs=BARRIER_ABSOLUTE)


def test_arrhenius_plot_is_a_png(well_result, tmp_path) -> None:
    path = plot_arrhenius(
        TEMPERATURES,
        {"Eyring": well_result.eyring, "Vineyard": well_result.vineyard},
        tmp_path / "arrhenius.png",
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_structure_hessian_accepts_matscipy_sparse_hessians() -> None:
    from ase.build import bulk

    from pointchem.recipes.silicon import make_kumagai_calculator

    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.02, seed=1)
    calculator = make_kumagai_calculator()
    hessian = structure_hessian(atoms, calculator)
    assert hessian.shape == (24, 24)
    assert hessian.dtype == np.float64
    numeric = structure_hessian(atoms, ForcesOnly(calculator))
    assert np.abs(hessian - numeric).max() < 1e-5 * np.abs(hessian).max()
