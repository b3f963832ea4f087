"""ECSE-symmetrized PET: physics suite, degenerate cases, smoothness, potential files.

The suite now demands exact rotation and inversion invariance. The smoothness path
makes frames appear, disappear and get pruned; potential files record the
symmetrization and the calculator follows them unless told ``symmetrize=False``.
"""

from __future__ import annotations

from pathlib import Path

import ase
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from pointchem import PointChemCalculator, atoms_to_graph, evaluate, load_potential
from pointchem.models.base import EnergyModel
from pointchem.models.pet import PointEdgeTransformer
from pointchem.models.pet import model as model_module
from pointchem.models.pet.symmetrized import (
    Symmetrization,
    SymmetrizedPET,
    frames_per_atom,
)
from pointchem.nn.frames import FrameHypers
from pointchem.serialization import read_potential_file, save_potential
from pointchem.testing import random_rotation, rattled_copy
from pointchem.training import loop
from pointchem.training.config import TrainConfig

from ..conftest import DATA
from ..physics_suite import PhysicsSuite, ethanol
from .test_pet import TINY, tiny_model


def tiny_symmetrized(n_prunings: int | None = None) -> SymmetrizedPET:
    """The tiny PET symmetrized with default frames, or with ``n_prunings``."""
    torch.manual_seed(0)
    if n_prunings is None:
        return SymmetrizedPET(tiny_model())
    frames = FrameHypers(n_prunings=n_prunings)
    return SymmetrizedPET(tiny_model(), Symmetrization(frames=frames))


PRUNINGS = [None, 4]
"""Default frames (no pruning) and the reference's 4 prunings."""


class TestSymmetrizedPET(PhysicsSuite):
    rotation_invariant = True

    @pytest.fixture
    def model(self) -> EnergyModel:
        return tiny_symmetrized()


def _energy_and_forces(
    model: EnergyModel, atoms: ase.Atoms
) -> tuple[float, np.ndarray]:
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64, "cpu")
    prediction = evaluate(model, graph, forces=True)
    assert prediction.forces is not None
    return float(prediction.energy[0]), prediction.forces.detach().numpy()


def test_symmetrized_is_invariant_where_bare_is_not() -> None:
    model = tiny_symmetrized()
    atoms = ethanol()
    energy, forces = _energy_and_forces(model, atoms)
    bare_energy, bare_forces = _energy_and_forces(model.base, atoms)
    rng = np.random.default_rng(3)
    errors, bare_errors = [], []
    for index in range(10):
        rotation = random_rotation(rng) * (-1 if index % 2 else 1)
        moved = atoms.copy()
        moved.positions = atoms.positions @ rotation.T
        e, f = _energy_and_forces(model, moved)
        errors.append(max(abs(e - energy), np.abs(f - forces @ rotation.T).max()))
        e, f = _energy_and_forces(model.base, moved)
        bare = np.abs(f - bare_forces @ rotation.T).max()
        bare_errors.append(max(abs(e - bare_energy), bare))
    assert max(errors) < 1e-10
    assert min(bare_errors) > 1e4 * max(max(errors), 1e-14)


DEGENERATE = {
    "isolated atom": ase.Atoms("O", positions=[[0, 0, 0]]),
    "H2": ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]),
    "CO2": ase.Atoms("CO2", positions=[[0, 0, 0], [0, 0, 1.16], [0, 0, -1.16]]),
    "linear chain": ase.Atoms("HCCCH", positions=[[0, 0, z] for z in range(5)]),
    "one neighbour within the cutoff": ase.Atoms(
        "OH", positions=[[0, 0, 0], [0.97, 0, 0]]
    ),
}


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_environments_are_finite(name: str) -> None:
    model = tiny_symmetrized()
    atoms = DEGENERATE[name].copy()
    energy, forces = _energy_and_forces(model, atoms)
    assert np.isfinite(energy)
    assert np.isfinite(forces).all()
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64, "cpu")
    ensemble = model.frames(graph)
    # no atom of these structures has a usable frame: the auxiliary set carries all
    assert ensemble.atom.numel() == 0
    assert torch.allclose(
        ensemble.aux_weights, torch.ones(len(atoms), dtype=torch.float64)
    )
    rotated = atoms.copy()
    rotation = random_rotation(np.random.default_rng(0))
    rotated.positions = atoms.positions @ rotation.T
    energy_rotated, forces_rotated = _energy_and_forces(model, rotated)
    assert abs(energy_rotated - energy) < 1e-10
    assert np.abs(forces_rotated - forces @ rotation.T).max() < 1e-10


def path_structure(t: float) -> ase.Atoms:
    """C with neighbours A, B, D: B turns until collinear with C–A while D leaves.

    At t = 0 every pair of neighbours gives frames; as t grows, D passes through the
    adaptive inner cutoff (its frames fade and others are pruned or revived), and B
    reaches the line C–A (sin² → 0: those frames vanish), so that at t = 1 only the
    auxiliary set is left for C.
    """
    angle = np.deg2rad(100.0 * (1.0 - t))
    distance = 1.1 + 3.0 * t
    direction = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
    positions = [
        [0.0, 0.0, 0.0],
        [1.1, 0.0, 0.0],
        [-1.2 * np.cos(angle), 1.2 * np.sin(angle), 0.0],
        list(distance * direction),
    ]
    return ase.Atoms("COHH", positions=positions)


def _work_mismatch(model: EnergyModel, steps: np.ndarray) -> np.ndarray:
    """|ΔE + trapezoid work of the forces| of every step along the path, eV."""
    energies, forces, positions = [], [], []
    for t in steps:
        atoms = path_structure(float(t))
        energy, force = _energy_and_forces(model, atoms)
        energies.append(energy)
        forces.append(force)
        positions.append(atoms.positions)
    return np.array(
        [
            abs(
                energies[k + 1]
                - energies[k]
                + 0.5
                * np.sum(
                    (forces[k] + forces[k + 1]) * (positions[k + 1] - positions[k])
                )
            )
            for k in range(len(steps) - 1)
        ]
    )


@pytest.mark.parametrize("n_prunings", PRUNINGS)
def test_no_energy_jump_along_a_path_through_frame_changes(
    n_prunings: int | None,
) -> None:
    """Where energy and work disagree most, a 100× finer path makes them agree.

    A jump J in the energy would leave a mismatch ≥ J however fine the steps; a smooth
    energy's mismatch falls like (step)³. The random test model changes frame
    weights steeply (its frames disagree by O(1) eV), hence refinement, not one
    fixed tolerance.
    """
    model = tiny_symmetrized(n_prunings)
    steps = np.linspace(0.0, 1.0, 201)
    mismatch = _work_mismatch(model, steps)
    for k in np.argsort(mismatch)[-3:]:
        finer = np.linspace(steps[k], steps[k + 1], 101)
        assert _work_mismatch(model, finer).max() < 1e-2 * mismatch[k] + 1e-12


@pytest.mark.parametrize("n_prunings", PRUNINGS)
def test_forces_are_gradients_along_the_path(n_prunings: int | None) -> None:
    model = tiny_symmetrized(n_prunings)
    for t in np.linspace(0.0, 1.0, 11):
        atoms = path_structure(float(t))
        _, force = _energy_and_forces(model, atoms)
        numerical = np.zeros_like(force)
        for atom in range(len(atoms)):
            for axis in range(3):
                shifted = []
                for sign in (1, -1):
                    moved = atoms.copy()
                    moved.positions[atom, axis] += sign * 1e-5
                    shifted.append(_energy_and_forces(model, moved)[0])
                numerical[atom, axis] = -(shifted[0] - shifted[1]) / 2e-5
        assert np.abs(numerical - force).max() < 1e-6


def test_frames_per_atom_are_few() -> None:
    """The adaptive inner cutoff keeps a small shell of neighbours; pruning cuts more.

    Every ordered pair of the k neighbours inside the cutoff would give 2k(k − 1)
    sets + aux per atom (113 for most atoms of ethanol at 4 Å).
    """
    model = tiny_symmetrized()
    graph = atoms_to_graph(ethanol(), model.cutoff, torch.float64, "cpu")
    neighbours = torch.bincount(graph.edge_index[0], minlength=graph.n_atoms)
    all_pairs = (2 * neighbours * (neighbours - 1) + 1).double().mean()
    mean, largest = frames_per_atom(model, graph)
    assert 2.0 <= mean < 0.25 * float(all_pairs)
    pruned_mean, pruned_largest = frames_per_atom(tiny_symmetrized(4), graph)
    assert 2.0 <= pruned_mean < mean
    assert pruned_largest <= largest


def test_potential_file_records_the_symmetrization(tmp_path: Path) -> None:
    model = tiny_symmetrized()
    path = tmp_path / "ecse.pt"
    save_potential(model, path)
    record = read_potential_file(path)["symmetrization"]
    assert record == model.symmetrization.to_dict()
    assert Symmetrization.from_dict(record) == model.symmetrization
    loaded = load_potential(path)
    assert isinstance(loaded, SymmetrizedPET)
    bare = load_potential(path, symmetrize=False)
    assert type(bare) is PointEdgeTransformer
    atoms = rattled_copy(molecule("CH3CH2OH"), amplitude=0.05, seed=4)
    for potential, reference in ((loaded, model), (bare, model.base)):
        assert _energy_and_forces(potential, atoms)[0] == pytest.approx(
            _energy_and_forces(reference, atoms)[0], abs=1e-10
        )


def test_calculator_uses_the_file_and_opts_out_explicitly(tmp_path: Path) -> None:
    model = tiny_symmetrized()
    path = tmp_path / "ecse.pt"
    save_potential(model, path)
    atoms = rattled_copy(molecule("CH3CH2OH"), amplitude=0.05, seed=5)
    energies = {}
    for symmetrize in (True, False):
        for source in (path, model):
            calc = PointChemCalculator(
                source, device="cpu", dtype="float64", symmetrize=symmetrize
            )
            symmetrized = isinstance(calc.model, SymmetrizedPET)
            assert symmetrized == symmetrize
            energies[symmetrize, isinstance(source, Path)] = calc.get_potential_energy(
                atoms.copy()
            )
    assert energies[True, True] == pytest.approx(energies[True, False], abs=1e-10)
    assert energies[False, True] == pytest.approx(energies[False, False], abs=1e-10)
    assert abs(energies[True, True] - energies[False, True]) > 1e-6


def test_baseline_is_shared_with_the_bare_model() -> None:
    model = tiny_symmetrized()
    model = model.to(torch.float32)
    with torch.no_grad():
        model.composition_energies.add_(1.0)
    assert model.composition_energies.dtype == torch.float64
    assert torch.equal(model.composition_energies, model.base.composition_energies)


def test_periodic_cell_smaller_than_the_cutoff_is_invariant() -> None:
    model = tiny_symmetrized()
    atoms = rattled_copy(bulk("C", "diamond", a=3.57), amplitude=0.05, seed=6)
    energy, forces = _energy_and_forces(model, atoms)
    rotation = random_rotation(np.random.default_rng(1))
    rotated = atoms.copy()
    rotated.set_cell(atoms.cell[:] @ rotation.T, scale_atoms=False)
    rotated.positions = atoms.positions @ rotation.T
    energy_rotated, forces_rotated = _energy_and_forces(model, rotated)
    assert abs(energy_rotated - energy) < 1e-10 * len(atoms)
    assert np.abs(forces_rotated - forces @ rotation.T).max() < 1e-10


def _fine_tune_config(tmp_path: Path, initial: Path, **model: object) -> TrainConfig:
    return TrainConfig.from_dict(
        {
            "architecture": "pet",
            "model": {**TINY, **model},
            "training": {
                "epochs": 1,
                "batch_size": 4,
                "dtype": "float64",
                "learning_rate": 1e-5,
                "initial_potential": str(initial),
                "train_symmetrized": True,
            },
            "data": {
                "train": [str(DATA / "ethanol_reduced_100.xyz")],
                "energy_unit": "kcal/mol",
                "validation_fraction": 0.8,
                "test_fraction": 0.1,
            },
        }
    )


def test_fine_tuning_the_symmetrized_model_from_a_potential(tmp_path: Path) -> None:
    start = tiny_symmetrized()
    save_potential(start, tmp_path / "start.pt")
    config = _fine_tune_config(tmp_path, tmp_path / "start.pt")
    metrics = loop.train(config, tmp_path / "run", progress=False)
    assert np.isfinite(metrics["test"]["forces_mae"])
    tuned = load_potential(tmp_path / "run" / "potential.pt")
    assert isinstance(tuned, SymmetrizedPET)
    moved = [
        not torch.equal(a, b)
        for a, b in zip(tuned.base.parameters(), start.base.parameters(), strict=True)
    ]
    assert any(moved), "the symmetrized loss trains the shared parameters"
    wrong = _fine_tune_config(tmp_path, tmp_path / "start.pt", d_model=16)
    with pytest.raises(ValueError, match=r"initial_potential .* but the config asks"):
        loop.train(wrong, tmp_path / "wrong", progress=False)


@pytest.mark.parametrize("recompute", [False, True])
@pytest.mark.parametrize("symmetrized", [False, True])
def test_layers_run_in_chunks_give_the_same_results(
    symmetrized: bool, recompute: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Layers run in chunks, kept or recomputed in the backward, equal one pass."""
    model = tiny_symmetrized()
    if not symmetrized:
        model = model.base
    atoms = rattled_copy(bulk("C", "diamond", a=3.57, cubic=True), 0.1, 1)
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64, "cpu")
    whole = evaluate(model, graph, forces=True, stress=True, training=True)
    monkeypatch.setattr(model_module, "LAYER_TOKENS_PER_CHUNK", 50)
    monkeypatch.setattr(model_module, "LAYER_TOKENS_KEPT", 60 if recompute else 10**9)
    chunked = evaluate(model, graph, forces=True, stress=True, training=True)
    for name in ("energy", "forces", "stress"):
        assert torch.allclose(
            getattr(chunked, name), getattr(whole, name), rtol=0, atol=1e-12
        )
    # second derivatives (force training) through the recomputed chunks
    bare = model.base if isinstance(model, SymmetrizedPET) else model
    parameter = bare.layers[0].compress[0].weight
    assert whole.forces is not None
    assert chunked.forces is not None
    (expected,) = torch.autograd.grad(whole.forces.square().sum(), parameter)
    (got,) = torch.autograd.grad(chunked.forces.square().sum(), parameter)
    assert torch.allclose(got, expected, rtol=0, atol=1e-10)
