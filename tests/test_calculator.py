"""PointChemCalculator: results, caching, dtype choice and every error it names."""

from __future__ import annotations

import ase
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.calculators.calculator import PropertyNotImplementedError

from pointchem import PointChemCalculator, save_potential
from pointchem.graph import AtomicGraph
from pointchem.models.base import EnergyModel

from .models.test_gm import tiny_model


class CountingModel(EnergyModel):
    """Wraps a model and counts its calls (to test caching)."""

    supported_dtypes = (torch.float32, torch.float64)

    def __init__(self, inner: EnergyModel):
        super().__init__(inner.hypers, inner.atomic_numbers, inner.cutoff)
        self.inner = inner
        self.calls = 0

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        self.calls += 1
        return self.inner(graph)


class NaNModel(EnergyModel):
    supported_dtypes = (torch.float64,)

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        return graph.positions[:, 0] * float("nan")


def _calculator(
    model: EnergyModel | None = None, **kwargs: object
) -> PointChemCalculator:
    model = model if model is not None else tiny_model()
    return PointChemCalculator(model, device="cpu", **kwargs)  # type: ignore[arg-type]


def test_results_are_float64_numpy_and_consistent() -> None:
    atoms = molecule("CH3CH2OH")
    atoms.calc = _calculator(dtype=torch.float32)
    energy = atoms.get_potential_energy()
    energies = atoms.get_potential_energies()
    forces = atoms.get_forces()
    assert forces.dtype == np.float64
    assert forces.shape == (9, 3)
    assert energies.dtype == np.float64
    assert energies.shape == (9,)
    assert energies.sum() == pytest.approx(energy, rel=1e-12)
    assert atoms.calc.results["free_energy"] == energy


def test_float32_agrees_with_float64() -> None:
    atoms = molecule("CH3CH2OH")
    model = tiny_model()
    single = atoms.copy()
    single.calc = _calculator(model, dtype=torch.float32)
    double = atoms.copy()
    double.calc = _calculator(model, dtype=torch.float64)
    assert single.get_potential_energy() == pytest.approx(
        double.get_potential_energy(), abs=1e-3
    )
    np.testing.assert_allclose(single.get_forces(), double.get_forces(), atol=1e-3)


def test_computes_once_until_the_structure_changes() -> None:
    atoms = bulk("C", "diamond", a=3.57)
    atoms.calc = PointChemCalculator(
        CountingModel(tiny_model()), device="cpu", dtype=torch.float64
    )
    model = atoms.calc.model
    atoms.get_potential_energy()
    atoms.get_forces()
    atoms.get_stress()
    atoms.get_potential_energies()
    assert model.calls == 1, "energy, forces, stress come from one model call"
    atoms.positions[0, 0] += 0.01
    atoms.get_forces()
    assert model.calls == 2
    atoms.set_cell(atoms.cell.array * 1.01, scale_atoms=True)
    atoms.get_stress()
    assert model.calls == 3


def test_skin_gives_the_same_results_as_no_skin(rng: np.random.Generator) -> None:
    atoms = bulk("C", "diamond", a=3.57).repeat((2, 2, 2))
    with_skin, without = atoms.copy(), atoms.copy()
    model = tiny_model()
    with_skin.calc = _calculator(model, dtype=torch.float64, skin=1.0)
    without.calc = _calculator(model, dtype=torch.float64, skin=0.0)
    for _ in range(5):
        step = rng.normal(scale=0.05, size=atoms.positions.shape)
        with_skin.positions += step
        without.positions += step
        np.testing.assert_allclose(
            with_skin.get_forces(), without.get_forces(), atol=1e-12
        )
        np.testing.assert_allclose(
            with_skin.get_stress(), without.get_stress(), atol=1e-12
        )
    assert with_skin.calc.neighbors.n_builds == 1


def test_loads_a_potential_file(tmp_path: object) -> None:
    path = f"{tmp_path}/model.pt"
    model = tiny_model()
    save_potential(model, path)
    atoms = molecule("H2O")
    from_file = atoms.copy()
    from_file.calc = PointChemCalculator(path, device="cpu")
    atoms.calc = PointChemCalculator(model, device="cpu")
    assert from_file.get_potential_energy() == atoms.get_potential_energy()


def test_device_auto_picks_cuda_when_present() -> None:
    calculator = _calculator()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert PointChemCalculator(tiny_model()).device.type == expected
    assert calculator.device.type == "cpu"


def test_hessian_has_the_right_shape() -> None:
    atoms = molecule("H2O")
    atoms.calc = _calculator(dtype=torch.float64)
    assert atoms.calc.get_hessian(atoms).shape == (9, 9)


@pytest.mark.parametrize(
    ("atoms", "error", "message"),
    [
        (
            ase.Atoms("FeH", positions=[[0, 0, 0], [1.5, 0, 0]]),
            ValueError,
            r"does not know the element\(s\) Fe; it was made for H, C, O",
        ),
        (ase.Atoms(), ValueError, "no atoms"),
        (
            ase.Atoms("CH", positions=[[0, 0, 0], [1.1, 0, 0]], pbc=True),
            ValueError,
            "periodic along lattice vector 0",
        ),
        (
            ase.Atoms("CH", positions=[[0, 0, 0], [np.inf, 0, 0]]),
            ValueError,
            "NaN or infinite",
        ),
        (
            ase.Atoms("CH", positions=[[0, 0, 0], [0.05, 0, 0]]),
            ValueError,
            r"atoms 0 and 1 are 0.05 Å apart, closer than 0.1 Å",
        ),
    ],
)
def test_bad_structures_give_clear_errors(
    atoms: ase.Atoms, error: type[Exception], message: str
) -> None:
    atoms.calc = _calculator()
    with pytest.raises(error, match=message):
        atoms.get_potential_energy()


def test_stress_of_a_molecule_is_a_clear_error() -> None:
    atoms = molecule("H2O")
    atoms.calc = _calculator()
    with pytest.raises(PropertyNotImplementedError, match="periodic in all three"):
        atoms.get_stress()


def test_non_finite_model_output_is_a_clear_error() -> None:
    atoms = molecule("H2O")
    model = NaNModel(hypers=None, atomic_numbers=[1, 8], cutoff=3.0)
    atoms.calc = PointChemCalculator(model, device="cpu", dtype=torch.float64)
    with pytest.raises(FloatingPointError, match="non-finite energies"):
        atoms.get_potential_energy()


def test_unsupported_dtype_is_rejected() -> None:
    model = NaNModel(hypers=None, atomic_numbers=[1, 8], cutoff=3.0)
    with pytest.raises(ValueError, match="supports"):
        PointChemCalculator(model, device="cpu", dtype=torch.float32)


def test_energy_only_potential_does_not_claim_a_dipole() -> None:
    atoms = molecule("CH3CH2OH")
    atoms.calc = _calculator()
    assert "dipole" not in atoms.calc.implemented_properties
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_dipole_moment()
