"""Graphs against ASE's own neighbor list, for every kind of periodicity."""

from __future__ import annotations

import ase
import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk, fcc111, molecule
from ase.neighborlist import neighbor_list

from pointchem.graph import (
    SkinNeighborList,
    atoms_to_graph,
    batch_graphs,
    edge_vectors,
)
from pointchem.testing import random_rotation

from .conftest import DATA

CUTOFF = 3.5


def _carbon() -> ase.Atoms:
    return ase.io.read(DATA / "carbon_reduced_100.xyz", index=5)


def _slab() -> ase.Atoms:
    slab = fcc111("Al", size=(2, 2, 3), vacuum=5.0)
    slab.pbc = [True, True, False]
    return slab


def _slab_without_vertical_cell() -> ase.Atoms:
    slab = _slab()
    cell = slab.cell.array.copy()
    cell[2] = 0.0
    slab.set_cell(cell, scale_atoms=False)
    return slab


def _wire() -> ase.Atoms:
    wire = bulk("Cu", "fcc", a=3.6, cubic=True)
    wire.pbc = [False, False, True]
    return wire


STRUCTURES = {
    "molecule": lambda: molecule("CH3CH2OH"),
    "small periodic cell": _carbon,
    "bulk with self images": lambda: bulk("Cu", "fcc", a=3.6),
    "slab": _slab,
    "slab with zero vertical cell": _slab_without_vertical_cell,
    "wire": _wire,
}


def _edge_set(i: np.ndarray, j: np.ndarray, shifts: np.ndarray) -> set[tuple[int, ...]]:
    return {
        (int(a), int(b), *map(int, s)) for a, b, s in zip(i, j, shifts, strict=True)
    }


@pytest.mark.parametrize("name", STRUCTURES)
def test_edges_match_ase(name: str, device: str) -> None:
    atoms = STRUCTURES[name]()
    graph = atoms_to_graph(atoms, CUTOFF, torch.float64, device)
    reference_i, reference_j, reference_shifts, reference_vectors = neighbor_list(
        "ijSD", atoms, CUTOFF
    )
    ours = _edge_set(*(t.cpu().numpy() for t in (*graph.edge_index, graph.cell_shifts)))
    assert ours == _edge_set(reference_i, reference_j, reference_shifts), name
    order = np.lexsort((reference_j, reference_i))
    vectors = edge_vectors(graph).cpu().numpy()
    edges = graph.edge_index.cpu().numpy()
    our_order = np.lexsort((edges[1], edges[0]))
    lengths = np.linalg.norm(vectors[our_order], axis=1)
    reference_lengths = np.linalg.norm(reference_vectors[order], axis=1)
    np.testing.assert_allclose(np.sort(lengths), np.sort(reference_lengths), atol=1e-12)


def test_edge_vectors_match_ase_vectors_exactly() -> None:
    atoms = _carbon()
    graph = atoms_to_graph(atoms, CUTOFF)
    i, j, shifts, vectors = neighbor_list("ijSD", atoms, CUTOFF)
    lookup = {
        key: v
        for key, v in zip(
            zip(i, j, map(tuple, shifts), strict=True), vectors, strict=True
        )
    }
    ours = edge_vectors(graph).numpy()
    for edge, (a, b) in enumerate(graph.edge_index.T.tolist()):
        key = (a, b, tuple(graph.cell_shifts[edge].tolist()))
        np.testing.assert_allclose(ours[edge], lookup[key], atol=1e-12)


def test_self_images_present_in_small_cells() -> None:
    graph = atoms_to_graph(bulk("Cu", "fcc", a=3.6), CUTOFF)
    i, j = graph.edge_index
    assert graph.n_atoms == 1
    assert int((i == j).sum()) == 12, "one Cu atom has 12 images as nearest neighbors"


def test_edges_unchanged_by_rotation_and_translation(rng: np.random.Generator) -> None:
    atoms = _carbon()
    moved = atoms.copy()
    rotation = random_rotation(rng)
    moved.positions = atoms.positions @ rotation.T + np.array([0.3, -2.0, 1.1])
    moved.set_cell(atoms.cell.array @ rotation.T, scale_atoms=False)
    lengths = [
        np.sort(
            torch.linalg.norm(edge_vectors(atoms_to_graph(a, CUTOFF)), dim=1).numpy()
        )
        for a in (atoms, moved)
    ]
    np.testing.assert_allclose(lengths[0], lengths[1], atol=1e-12)


def test_gradients_reach_positions_and_cell() -> None:
    graph = atoms_to_graph(_carbon(), CUTOFF)
    positions = graph.positions.clone().requires_grad_(True)
    cell = graph.cell.clone().requires_grad_(True)
    total = edge_vectors(graph.replace(positions=positions, cell=cell)).pow(2).sum()
    position_gradient, cell_gradient = torch.autograd.grad(total, [positions, cell])
    assert float(cell_gradient.abs().max()) > 0
    assert torch.isfinite(position_gradient).all()


def test_batch_offsets_indices() -> None:
    first, second = molecule("H2O"), _carbon()
    batch = batch_graphs(
        [atoms_to_graph(first, CUTOFF), atoms_to_graph(second, CUTOFF)]
    )
    assert batch.n_systems == 2
    assert batch.system_index.tolist() == [0] * 3 + [1] * 4
    second_edges = batch.edge_index[:, batch.system_index[batch.edge_index[0]] == 1]
    assert int(second_edges.min()) == 3
    direct = atoms_to_graph([first, second], CUTOFF)
    assert torch.equal(direct.edge_index, batch.edge_index)
    single = atoms_to_graph(second, CUTOFF)
    np.testing.assert_allclose(
        edge_vectors(batch)[batch.system_index[batch.edge_index[0]] == 1].numpy(),
        edge_vectors(single).numpy(),
    )


@pytest.mark.parametrize(
    ("atoms", "message"),
    [
        (ase.Atoms(), "no atoms"),
        (ase.Atoms("H2", positions=[[0, 0, 0], [0.7, 0, 0]], pbc=True), "cell vector"),
        (
            ase.Atoms("H2", positions=[[0, 0, 0], [np.nan, 0, 0]]),
            "NaN or infinite",
        ),
    ],
)
def test_invalid_structures_are_rejected(atoms: ase.Atoms, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        atoms_to_graph(atoms, CUTOFF)


def test_skin_list_equals_fresh_list_and_rebuilds_only_when_needed(
    rng: np.random.Generator,
) -> None:
    atoms = _carbon().repeat((2, 2, 1))
    skin = SkinNeighborList(CUTOFF, 1.0, torch.float64, torch.device("cpu"))
    for step in range(6):
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        reused, lengths = skin.graph(atoms)
        assert float(lengths.max()) < CUTOFF
        fresh = atoms_to_graph(atoms, CUTOFF)
        reused_set = _edge_set(*reused.edge_index.numpy(), reused.cell_shifts.numpy())
        assert reused_set == _edge_set(
            *fresh.edge_index.numpy(), fresh.cell_shifts.numpy()
        ), step
    assert skin.n_builds < 6
    atoms.set_cell(atoms.cell.array * 1.01, scale_atoms=True)
    builds = skin.n_builds
    skin.graph(atoms)
    assert skin.n_builds == builds + 1, "a cell change must rebuild the list"
