"""The ragged fast path of WK against the first, padded-table implementation.

``wk_reference`` keeps the original code: every environment pair on its full
n_max × n_max neighbour table, padding and different-species pairs masked by zero
weights. The fast path (ragged neighbour lists, same-species pairs only, cached
support terms, halved k ⊗ k coupling) must agree with it to float64 rounding.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle

import ase
import numpy as np
import pytest
import torch
from ase.build import molecule

from pointchem import atoms_to_graph
from pointchem.graph import AtomicGraph
from pointchem.models.wk import WignerKernelModel, nu1_kernel
from pointchem.models.wk.sparse import Environments
from pointchem.testing import rattled_copy

from ..physics_suite import carbon_cell
from .test_wk_model import TINY, tiny_model
from .wk_helpers import SETTINGS, random_environment
from .wk_reference import padded_nu1_kernel, reference_energies

ROUNDING = 1e-12
"""Largest difference allowed between fast and reference, relative to the largest
reference value (float64 rounding of sums reordered; observed ≲ 1e-15)."""


def assert_close(fast: torch.Tensor, reference: torch.Tensor) -> None:
    """|fast − reference| ≤ ROUNDING · max|reference| elementwise, and not all zero."""
    scale = float(reference.abs().max())
    assert scale > 0.0
    assert float((fast - reference).abs().max()) <= ROUNDING * scale


def random_tables(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded tables of 7 environments, 0–6 neighbours of species 1, 6, 8 each."""
    sizes = [3, 0, 6, 1, 5, 2, 4]
    n_max = max(sizes)
    vectors = torch.zeros(len(sizes), n_max, 3, dtype=torch.float64)
    species = torch.full((len(sizes), n_max), -1)
    for env, size in enumerate(sizes):
        numbers = list(rng.choice([1, 6, 8], size=size))
        v, z = random_environment(rng, size, numbers)
        vectors[env, :size] = torch.as_tensor(v)
        species[env, :size] = torch.as_tensor(z)
    return vectors, species


def test_nu1_kernel_equals_padded_reference() -> None:
    """All pairs of 7 environments (mixed species, padding, an empty one), l ≤ 2."""
    rng = np.random.default_rng(11)
    vectors_a, species_a = random_tables(rng)
    vectors_b, species_b = random_tables(rng)
    index = torch.arange(7)
    pairs = torch.cartesian_prod(index, index)
    fast = nu1_kernel(vectors_a, species_a, vectors_b, species_b, pairs, SETTINGS)
    chunked = nu1_kernel(
        vectors_a, species_a, vectors_b, species_b, pairs, SETTINGS, chunk_size=5
    )
    reference = padded_nu1_kernel(
        vectors_a, species_a, vectors_b, species_b, pairs, SETTINGS
    )
    for ell, block in enumerate(reference):
        assert_close(fast[ell], block)
        assert_close(chunked[ell], block)
    empty = (pairs[:, 0] == 1) | (pairs[:, 1] == 1)
    assert all(bool((block[empty] == 0).all()) for block in fast)


def energies_and_forces(
    energy_fn, model: WignerKernelModel, graph: AtomicGraph
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-atom energies (eV) and forces −∂E/∂r (eV/Å) of ``energy_fn(model, g)``."""
    positions = graph.positions.detach().clone().requires_grad_(True)
    moved = dataclasses.replace(graph, positions=positions)
    energies = energy_fn(model, moved)
    (gradient,) = torch.autograd.grad(energies.sum(), positions)
    return energies.detach(), -gradient


def fast_energies(model: WignerKernelModel, graph: AtomicGraph) -> torch.Tensor:
    return model(graph)


def lone_atoms() -> ase.Atoms:
    """Rattled ethanol plus an O and an H far from everything (empty environments)."""
    atoms = rattled_copy(molecule("CH3CH2OH"), 0.15, 3)
    atoms += ase.Atoms("OH", positions=[[12.0, 0.0, 0.0], [0.0, 15.0, 0.0]])
    return atoms


@pytest.mark.parametrize("structure", ["ethanol", "carbon_cell", "lone_atoms"])
def test_model_equals_padded_reference(structure: str, device: str) -> None:
    """Energies and forces of the fast forward equal the first implementation's."""
    atoms = {
        "ethanol": rattled_copy(molecule("CH3CH2OH"), 0.2, 8),
        "carbon_cell": rattled_copy(carbon_cell(), 0.1, 2),
        "lone_atoms": lone_atoms(),
    }[structure]
    model = tiny_model(seed=3).to(device)
    graph = atoms_to_graph(atoms, TINY.cutoff, torch.float64, device=device)
    energies, forces = energies_and_forces(fast_energies, model, graph)
    ref_energies, ref_forces = energies_and_forces(reference_energies, model, graph)
    assert_close(energies, ref_energies)
    assert_close(forces, ref_forces)
    if structure == "lone_atoms":  # only ν = 0 survives: c_0 Σ_{m: Z_m = Z} w_m
        c_0 = TINY.weights()[0]
        for atom, z in ((-2, 8), (-1, 1)):
            expected = c_0 * float(model.weights[model.support_centres == z].sum())
            assert float(energies[atom]) == pytest.approx(expected, rel=ROUNDING)
        assert bool((forces[-2:] == 0).all())


def test_support_cache_follows_the_buffers() -> None:
    """set_support, in-place edits, load_state_dict and copies rebuild the terms."""
    model = tiny_model()
    graph = atoms_to_graph(rattled_copy(molecule("CH3CH2OH"), 0.2, 1), 3.0)
    model(graph)  # fills the cache
    support = model.support()
    moved = Environments(1.05 * support.vectors, support.species, support.centres)
    model.set_support(moved, model.weights)
    assert_close(model(graph), reference_energies(model, graph))
    with torch.no_grad():
        model.support_vectors.mul_(0.97)
    assert_close(model(graph), reference_energies(model, graph))
    other = tiny_model(seed=4)
    model.load_state_dict(other.state_dict())
    assert_close(model(graph), reference_energies(other, graph))
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert torch.equal(clone(graph), model(graph))


def test_cache_built_in_inference_mode_serves_autograd() -> None:
    model = tiny_model()
    graph = atoms_to_graph(rattled_copy(molecule("CH3CH2OH"), 0.2, 1), 3.0)
    with torch.inference_mode():
        model(graph)
    _, forces = energies_and_forces(fast_energies, model, graph)
    _, reference = energies_and_forces(reference_energies, model, graph)
    assert_close(forces, reference)
