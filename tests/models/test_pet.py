"""Point Edge Transformer: physics suite, messages, chunking, force training.

Bare PET is not rotation-invariant: the suite checks that it fails those tests.
Also: reversed-edge messages, chunked attention, second derivatives, augmentation.
"""

from __future__ import annotations

from pathlib import Path

import ase
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.md.langevin import Langevin

from pointchem import PointChemCalculator, atoms_to_graph, evaluate, load_potential
from pointchem.models.base import EnergyModel
from pointchem.models.pet import PETHypers, PointEdgeTransformer
from pointchem.models.pet import transformer as pet_transformer
from pointchem.models.pet.symmetrized import SymmetrizedPET
from pointchem.nn.neighbors import reverse_edges
from pointchem.testing import random_rotation, rattled_copy
from pointchem.training import loop
from pointchem.training.batches import BatchMaker, random_orthogonal
from pointchem.training.config import TrainConfig
from pointchem.training.data import DataSettings, read_samples

from ..conftest import DATA, thermalize
from ..physics_suite import PhysicsSuite, carbon_cell, ethanol

# A 1 Å switch keeps a random model's curvature where central differences with a
# 1e-4 Å step are accurate to the suite's 1e-6 eV/Å: with 0.5 Å, the carbon cell's
# finite-difference error was 1.4e-6 at 1e-4 Å and 5.8e-6 at 2e-4 Å (∝ h², i.e.
# truncation, not a wrong gradient).
TINY = {
    "cutoff": 4.0,
    "cutoff_width": 1.0,
    "d_model": 8,
    "n_heads": 2,
    "d_feedforward": 8,
    "n_layers": 2,
    "n_attention_layers": 1,
    "head_hidden_sizes": [8],
}


def tiny_model(**changes: object) -> PointEdgeTransformer:
    hypers = PETHypers.from_dict({**TINY, **changes})
    model = PointEdgeTransformer(hypers, [1, 6, 8]).double()
    with torch.no_grad():
        model.composition_energies.copy_(torch.tensor([-13.6, -1030.0, -2040.0]))
    return model


class TestPointEdgeTransformer(PhysicsSuite):
    rotation_invariant = False

    @pytest.fixture
    def model(self) -> EnergyModel:
        return tiny_model()


def _energies(model: EnergyModel, atoms: ase.Atoms) -> torch.Tensor:
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64, "cpu")
    return model(graph).detach()


def test_hypers_are_validated_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="n_heads=3 must divide d_model=8"):
        PETHypers.from_dict({**TINY, "n_heads": 3})
    with pytest.raises(ValueError, match="cutoff_width"):
        PETHypers(cutoff=4.0, cutoff_width=5.0)
    with pytest.raises(ValueError, match="did you mean 'n_layers'"):
        PETHypers.from_dict({"n_layer": 2})


def test_reverse_edges_pair_periodic_self_images() -> None:
    atoms = carbon_cell()
    graph = atoms_to_graph(atoms, 4.0, torch.float64, "cpu")
    centre, neighbor = graph.edge_index
    assert bool((centre == neighbor).any()), "the cell must see its own images"
    reverse = reverse_edges(graph.edge_index, graph.cell_shifts, graph.n_atoms)
    assert torch.equal(reverse[reverse], torch.arange(graph.n_edges))
    assert torch.equal(centre[reverse], neighbor)
    assert torch.equal(graph.cell_shifts[reverse], -graph.cell_shifts)


def test_reverse_edges_refuse_a_half_list() -> None:
    graph = atoms_to_graph(molecule("H2O"), 4.0, torch.float64, "cpu")
    half = graph.edge_index[:, graph.edge_index[0] < graph.edge_index[1]]
    with pytest.raises(ValueError, match="not a full list"):
        reverse_edges(half, torch.zeros(half.shape[1], 3, dtype=torch.int64), 3)


def test_messages_reach_two_cutoffs_with_two_layers() -> None:
    # A–B and B–C are inside the cutoff, A–C is not: only a message through B
    # lets C change A's energy.
    def chain(c_position: float) -> ase.Atoms:
        return ase.Atoms(
            "COC", positions=[[0, 0, 0], [3.0, 0, 0], [c_position, 0.3, 0]]
        )

    for n_layers, reaches in ((2, True), (1, False)):
        model = tiny_model(n_layers=n_layers)
        first, second = _energies(model, chain(6.0)), _energies(model, chain(6.2))
        assert abs(float(first[0] - second[0])) > 1e-8 if reaches else True
        if not reaches:
            assert float(first[0]) == float(second[0])


def test_chunked_attention_equals_unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model()
    atoms = rattled_copy(carbon_cell().repeat((2, 2, 2)), 0.05, 4)
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64, "cpu")
    whole = evaluate(model, graph, forces=True)
    monkeypatch.setattr(pet_transformer, "ATTENTION_ELEMENTS_PER_CHUNK", 1)
    chunked = evaluate(model, graph, forces=True)
    assert whole.forces is not None
    assert chunked.forces is not None
    assert torch.allclose(whole.energies, chunked.energies, rtol=0, atol=1e-12)
    assert torch.allclose(whole.forces, chunked.forces, rtol=0, atol=1e-12)


def test_force_loss_gradient_matches_finite_differences() -> None:
    model = tiny_model()
    graph = atoms_to_graph(ethanol(), model.cutoff, torch.float64, "cpu")
    parameter = model.layers[0].transformer.layers[0].attention.project_in.weight

    def force_loss() -> torch.Tensor:
        forces = evaluate(model, graph, forces=True, training=True).forces
        assert forces is not None
        return (forces**2).sum()

    (gradient,) = torch.autograd.grad(force_loss(), parameter)
    step = 1e-6
    values = []
    for change in (step, -2 * step, step):
        with torch.no_grad():
            parameter[3, 5] += change
        values.append(float(force_loss().detach()))
    numeric = (values[0] - values[1]) / (2 * step)
    assert abs(float(gradient[3, 5]) - numeric) < 1e-6 * max(1.0, abs(numeric))
    assert abs(numeric) > 1e-6, "the test needs a parameter the forces depend on"


def test_skin_list_reuse_matches_fresh_lists_in_md() -> None:
    atoms = rattled_copy(bulk("C", "diamond", a=3.57, cubic=True), 0.02, 5)
    thermalize(atoms, 1000.0, seed=6)
    model = tiny_model()
    atoms.calc = PointChemCalculator(model, device="cpu", skin=1.0)
    fresh = PointChemCalculator(model, device="cpu", skin=0.0)
    dynamics = Langevin(
        atoms,
        timestep=1.0 * ase.units.fs,
        temperature_K=1000,
        friction=0.01,
        rng=np.random.default_rng(7),
        fixcm=False,
    )
    for _ in range(5):
        dynamics.run(4)
        reference = fresh.get_forces(atoms)
        assert np.abs(atoms.get_forces() - reference).max() < 1e-5
    assert atoms.calc.neighbors.n_builds < 20


def test_random_orthogonal_draws_rotations_and_inversions() -> None:
    matrices = random_orthogonal(200, torch.Generator().manual_seed(0))
    identity = torch.eye(3, dtype=torch.float64).expand(200, 3, 3)
    assert torch.allclose(matrices @ matrices.transpose(1, 2), identity, atol=1e-12)
    determinants = torch.linalg.det(matrices)
    assert 60 < int((determinants < 0).sum()) < 140


def test_rotated_batch_transforms_targets_as_vectors_and_tensors() -> None:
    settings = DataSettings(
        train=(str(DATA / "carbon_reduced_100.xyz"),), forces_key="force"
    )
    samples = read_samples(settings.train, settings)[:3]
    maker = BatchMaker(samples, 4.0, torch.float64, torch.device("cpu"))
    batch = maker.batch([0, 1, 2])
    rotations = torch.as_tensor(
        np.stack([random_rotation(np.random.default_rng(s)) for s in range(3)])
    )
    rotated = batch.rotated(rotations)
    gm = tiny_gm()
    before = evaluate(gm, batch.graph, forces=True, stress=True)
    after = evaluate(gm, rotated.graph, forces=True, stress=True)
    assert torch.allclose(before.energy, after.energy, rtol=1e-12, atol=0)
    per_atom = rotations[batch.graph.system_index]
    assert before.forces is not None
    assert after.forces is not None
    expected = torch.einsum("nkj,nj->nk", per_atom, before.forces)
    assert torch.allclose(after.forces, expected, atol=1e-10)
    assert batch.forces is not None
    assert rotated.forces is not None
    expected = torch.einsum("nkj,nj->nk", per_atom, batch.forces)
    assert torch.allclose(rotated.forces, expected, atol=1e-12)
    assert before.stress is not None
    assert after.stress is not None
    expected = rotations @ before.stress @ rotations.transpose(1, 2)
    assert torch.allclose(after.stress, expected, atol=1e-10)


def tiny_gm() -> EnergyModel:
    from .test_gm import tiny_model as gm_model

    return gm_model()


def test_training_with_augmentation_runs_and_saves(tmp_path: Path) -> None:
    config = TrainConfig.from_dict(
        {
            "architecture": "pet",
            "model": TINY,
            "training": {"epochs": 2, "batch_size": 4, "dtype": "float64"},
            "data": {
                "train": [str(DATA / "ethanol_reduced_100.xyz")],
                "energy_unit": "kcal/mol",
                "validation_fraction": 0.8,
                "test_fraction": 0.1,
            },
        }
    )
    metrics = loop.train(config, tmp_path, progress=False)
    assert np.isfinite(metrics["test"]["forces_mae"])
    # saved with its symmetrization record (the family default); bare on request
    assert isinstance(load_potential(tmp_path / "potential.pt"), SymmetrizedPET)
    model = load_potential(tmp_path / "potential.pt", symmetrize=False)
    assert isinstance(model, PointEdgeTransformer)
    assert model.hypers == PETHypers.from_dict(TINY)
    assert float(model.scale.detach()[0]) != 1.0, "initialize_from_data scales it"


def test_pet_energy_is_not_rotation_invariant_by_a_clear_margin() -> None:
    model = tiny_model()
    atoms = ethanol()
    rotated = atoms.copy()
    rotated.positions = atoms.positions @ random_rotation(np.random.default_rng(7)).T
    difference = _energies(model, atoms).sum() - _energies(model, rotated).sum()
    assert abs(float(difference)) > 1e-4
