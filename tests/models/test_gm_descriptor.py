"""Parts of the Gaussian-moment model: radial bases, moments, the eight contractions.

The contractions are checked against a slow reference written here with explicit
loops over edges and Cartesian indices, and for invariance under rotations and
inversion; the fast slot route and the hand-written backward passes against plain
autograd through the reference route (energies, forces and second derivatives).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule

from pointchem.graph import AtomicGraph, atoms_to_graph, edge_vectors
from pointchem.models.gm import GaussianMomentModel, GMHypers
from pointchem.models.gm.model import SpeciesPairRadial
from pointchem.models.gm.moments import (
    GaussianMoments,
    cartesian_moments,
    expand_moments,
    n_gaussian_moment_features,
)
from pointchem.models.gm.slots import dense_moments
from pointchem.nn.cutoffs import cosine_cutoff
from pointchem.nn.mlp import MLP, SWISH_GAIN
from pointchem.nn.neighbors import neighbor_slots
from pointchem.nn.radial import (
    bessel_basis,
    bessel_factors,
    gaussian_basis,
    gaussian_factors,
)
from pointchem.testing import random_rotation

REFERENCE_RELATIVE = 1e-12
"""float64: fast contractions vs the explicit-loop reference, relative to max |G|."""
INVARIANCE_RELATIVE = 1e-10
"""float64: features of rotated / inverted neighbourhoods, relative to max |G|."""
BASIS_ABSOLUTE = 1e-12
"""float64: radial bases vs hand-evaluated values (values are O(1))."""
ROUTE_ABSOLUTE = 1e-10
"""float64: fast slot route vs plain autograd route (energies eV, forces eV/Å)."""
GRADCHECK = {"eps": 1e-6, "atol": 1e-8, "rtol": 1e-6}
"""float64 finite-difference checks of the hand-written backward passes."""
FLOAT32_RELATIVE = 1e-4
"""float32 vs float64 per-atom energies of the same model, relative to max |E_i|."""

N_RADIAL = 3
"""Small enough for the loop reference, large enough for every multiset kind."""


def _block_sizes(r: int) -> list[int]:
    pairs = r * (r + 1) // 2
    multisets = r * (r + 1) * (r + 2) // 6
    return [r, pairs, pairs, pairs, multisets, pairs * r, pairs * r, r**3]


def _random_edges(
    n_atoms: int, n_edges: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    radial = torch.randn(n_edges, N_RADIAL, generator=generator, dtype=torch.float64)
    unit = torch.randn(n_edges, 3, generator=generator, dtype=torch.float64)
    unit = unit / unit.norm(dim=1, keepdim=True)
    centre = torch.arange(n_edges) % n_atoms
    return radial, unit, centre


def _loop_moments(
    radial: np.ndarray, unit: np.ndarray, centre: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r = radial.shape[1]
    m0, m1 = np.zeros((n, r)), np.zeros((n, r, 3))
    m2, m3 = np.zeros((n, r, 3, 3)), np.zeros((n, r, 3, 3, 3))
    for e, i in enumerate(centre):
        for s in range(r):
            m0[i, s] += radial[e, s]
            for a in range(3):
                m1[i, s, a] += radial[e, s] * unit[e, a]
                for b in range(3):
                    m2[i, s, a, b] += radial[e, s] * unit[e, a] * unit[e, b]
                    for c in range(3):
                        m3[i, s, a, b, c] += (
                            radial[e, s] * unit[e, a] * unit[e, b] * unit[e, c]
                        )
    return m0, m1, m2, m3


def _loop_features(
    radial: torch.Tensor, unit: torch.Tensor, centre: torch.Tensor, n: int
) -> np.ndarray:
    """The eight contractions of methods.md §2.1, one explicit loop per index."""
    m0, m1, m2, m3 = _loop_moments(radial.numpy(), unit.numpy(), centre.numpy(), n)
    r = radial.shape[1]
    pairs = [(s, t) for s in range(r) for t in range(s, r)]
    multisets = []  # apax order: (s,s,s), (s,t,t) for t != s, (s,t,u) for s<t<u
    for s in range(r):
        multisets += [(s, s, s)] + [(s, t, t) for t in range(r) if t != s]
        multisets += [(s, t, u) for t in range(s + 1, r) for u in range(t + 1, r)]
    x3 = list(itertools.product(range(3), repeat=3))
    rows = []
    for i in range(n):
        row = [m0[i, s] for s in range(r)]
        row += [sum(m1[i, s, a] * m1[i, t, a] for a in range(3)) for s, t in pairs]
        row += [
            sum(m2[i, s, a, b] * m2[i, t, a, b] for a in range(3) for b in range(3))
            for s, t in pairs
        ]
        row += [
            sum(m3[i, s, a, b, c] * m3[i, t, a, b, c] for a, b, c in x3)
            for s, t in pairs
        ]
        row += [
            sum(m2[i, s, a, b] * m2[i, t, b, c] * m2[i, u, c, a] for a, b, c in x3)
            for s, t, u in multisets
        ]
        row += [
            sum(
                m1[i, s, a] * m2[i, u, a, b] * m1[i, t, b]
                for a in range(3)
                for b in range(3)
            )
            for s, t in pairs
            for u in range(r)
        ]
        row += [
            sum(
                m3[i, s, a, b, c] * m3[i, t, a, b, d] * m2[i, u, c, d]
                for a, b, c in x3
                for d in range(3)
            )
            for s, t in pairs
            for u in range(r)
        ]
        row += [
            sum(m3[i, s, a, b, c] * m2[i, t, a, b] * m1[i, u, c] for a, b, c in x3)
            for s in range(r)
            for t in range(r)
            for u in range(r)
        ]
        rows.append(row)
    return np.array(rows)


def _einsum_features(compressed: torch.Tensor) -> torch.Tensor:
    """The contractions by their definition with torch.einsum (plain autograd)."""
    m0, m1, m2, m3 = expand_moments(compressed)
    r = m0.shape[1]
    pairs = [(s, t) for s in range(r) for t in range(s, r)]
    multisets = []
    for s in range(r):
        multisets += [(s, s, s)] + [(s, t, t) for t in range(r) if t != s]
        multisets += [(s, t, u) for t in range(s + 1, r) for u in range(t + 1, r)]
    grams = [torch.einsum("ns...,nt...->nst", m, m) for m in (m1, m2, m3)]
    triple = torch.einsum("nsab,ntbc,nuca->nstu", m2, m2, m2)
    blocks = [m0] + [torch.stack([g[:, s, t] for s, t in pairs], 1) for g in grams]
    blocks.append(torch.stack([triple[:, s, t, u] for s, t, u in multisets], 1))
    for equation, operands in (
        ("nsa,nuab,ntb->nstu", (m1, m2, m1)),
        ("nsabc,ntabd,nucd->nstu", (m3, m3, m2)),
    ):
        full = torch.einsum(equation, *operands)
        blocks.append(
            torch.stack([full[:, s, t, u] for s, t in pairs for u in range(r)], 1)
        )
    blocks.append(torch.einsum("nsabc,ntab,nuc->nstu", m3, m2, m1).flatten(1))
    return torch.cat(blocks, 1)


def _features(
    radial: torch.Tensor, unit: torch.Tensor, centre: torch.Tensor, n: int
) -> torch.Tensor:
    contraction = GaussianMoments(radial.shape[1]).double()
    return contraction(cartesian_moments(radial, unit, centre, n))


def test_feature_count_is_360_for_five_radial_functions() -> None:
    assert n_gaussian_moment_features(5) == 360
    assert sum(_block_sizes(5)) == 360
    assert _block_sizes(5) == [5, 15, 15, 15, 35, 75, 75, 125]


@pytest.mark.parametrize("n_radial", [1, 2, 3, 4, 6, 7])
def test_feature_count_formula_matches_the_index_sets(n_radial: int) -> None:
    pairs = len(list(itertools.combinations_with_replacement(range(n_radial), 2)))
    multisets = len(list(itertools.combinations_with_replacement(range(n_radial), 3)))
    expected = n_radial + 3 * pairs + multisets + 2 * pairs * n_radial + n_radial**3
    assert n_gaussian_moment_features(n_radial) == expected
    radial, unit, centre = _random_edges(2, 6, seed=n_radial)
    radial = radial[:, :1].repeat(1, n_radial)
    assert _features(radial, unit, centre, 2).shape == (2, expected)


@pytest.mark.parametrize("block", range(8))
def test_contraction_matches_explicit_loop_reference(block: int) -> None:
    radial, unit, centre = _random_edges(n_atoms=3, n_edges=11, seed=1)
    fast = _features(radial, unit, centre, 3).numpy()
    slow = _loop_features(radial, unit, centre, 3)
    by_einsum = _einsum_features(cartesian_moments(radial, unit, centre, 3)).numpy()
    start = sum(_block_sizes(N_RADIAL)[:block])
    columns = slice(start, start + _block_sizes(N_RADIAL)[block])
    scale = np.abs(slow[:, columns]).max()
    assert scale > 0
    for name, result in (("fast", fast), ("einsum", by_einsum)):
        error = np.abs(result[:, columns] - slow[:, columns]).max() / scale
        assert error < REFERENCE_RELATIVE, f"{name} contraction {block}: {error}"


@pytest.mark.parametrize("block", range(8))
@pytest.mark.parametrize("operation", ["rotation", "inversion", "rotoinversion"])
def test_contraction_is_invariant_under_o3(block: int, operation: str) -> None:
    radial, unit, centre = _random_edges(n_atoms=3, n_edges=14, seed=2)
    matrix = torch.from_numpy(random_rotation(np.random.default_rng(block)))
    if operation == "inversion":
        matrix = -torch.eye(3, dtype=torch.float64)
    elif operation == "rotoinversion":
        matrix = -matrix
    moved = unit @ matrix.T
    moments, moved_moments = (
        expand_moments(cartesian_moments(radial, u, centre, 3)) for u in (unit, moved)
    )
    assert not torch.allclose(moments[3], moved_moments[3]), "the operation is trivial"
    before, after = (_features(radial, u, centre, 3) for u in (unit, moved))
    start = sum(_block_sizes(N_RADIAL)[:block])
    columns = slice(start, start + _block_sizes(N_RADIAL)[block])
    scale = before[:, columns].abs().max()
    error = (after[:, columns] - before[:, columns]).abs().max() / scale
    assert error < INVARIANCE_RELATIVE, f"contraction {block}, {operation}: {error}"


def test_contraction_gradients_match_finite_differences() -> None:
    radial, unit, centre = _random_edges(n_atoms=2, n_edges=7, seed=3)
    compressed = cartesian_moments(radial, unit, centre, 2)
    contraction = GaussianMoments(2).double()
    narrow = compressed[:, :2].clone().requires_grad_()
    assert torch.autograd.gradcheck(contraction, (narrow,), **GRADCHECK)
    assert torch.autograd.gradgradcheck(contraction, (narrow,), **GRADCHECK)


def test_bessel_basis_against_hand_evaluated_values() -> None:
    r_max = 5.0
    distances = torch.tensor([1.0, 3.2, 0.0, r_max], dtype=torch.float64)
    values = bessel_basis(distances, 4, r_max)

    def sinc(x: float) -> float:
        return 1.0 if x == 0 else math.sin(math.pi * x) / (math.pi * x)

    for row, d in enumerate(distances.tolist()):
        for n in range(4):
            kappa = (n + 1) * (n + 2) / math.sqrt((n + 1) ** 2 + (n + 2) ** 2)
            prefactor = (-1) ** n * math.sqrt(2) * math.pi / r_max**1.5 * kappa
            expected = prefactor * (
                sinc((n + 1) * d / r_max) + sinc((n + 2) * d / r_max)
            )
            assert abs(values[row, n].item() - expected) < BASIS_ABSOLUTE, (d, n)
    assert values[3].abs().max() < BASIS_ABSOLUTE  # every function vanishes at r_max


def test_gaussian_basis_against_hand_evaluated_values() -> None:
    distances = torch.tensor([0.0, 2.0, 4.3], dtype=torch.float64)
    values = gaussian_basis(distances, 4, 0.5, 5.0)
    gamma = 16 / 25
    for row, d in enumerate(distances.tolist()):
        for b in range(4):
            shift = 0.5 + b * 4.5 / 4
            expected = (2 * gamma / math.pi) ** 0.25 * math.exp(
                -gamma * (d - shift) ** 2
            )
            assert abs(values[row, b].item() - expected) < BASIS_ABSOLUTE, (d, b)


@pytest.mark.parametrize("kind", ["bessel", "gaussian"])
def test_factored_slopes_are_the_derivatives_of_the_bases(kind: str) -> None:
    distances = torch.tensor(
        [0.0, 1e-4, 0.3, 1.7, 4.99, 5.0, 6.0], dtype=torch.float64, requires_grad=True
    )
    if kind == "bessel":
        basis, factors = (
            bessel_basis(distances, 6, 5.0),
            bessel_factors(distances, 6, 5.0),
        )
    else:
        basis = gaussian_basis(distances, 6, 0.5, 5.0)
        factors = gaussian_factors(distances, 6, 0.5, 5.0)
    slopes = torch.stack(
        [
            torch.autograd.grad(basis[:, b].sum(), distances, retain_graph=True)[0]
            for b in range(6)
        ],
        1,
    )
    assert torch.isfinite(factors.slopes()).all()
    torch.testing.assert_close(factors.values().T, basis, rtol=0, atol=BASIS_ABSOLUTE)
    torch.testing.assert_close(factors.slopes().T, slopes, rtol=0, atol=1e-9)


def _tiny_model(
    radial_basis: str = "bessel", cutoff: float = 3.5
) -> GaussianMomentModel:
    hypers = GMHypers(
        cutoff=cutoff,
        radial_basis=radial_basis,
        n_basis=5,
        n_radial=3,
        hidden_sizes=(6,),
    )
    model = GaussianMomentModel(hypers, [1, 6, 8]).double()
    with torch.no_grad():
        model.scale.uniform_(0.5, 1.5)
        model.shift.normal_()
    return model


@pytest.mark.parametrize("kind", ["bessel", "gaussian"])
def test_radial_functions_vanish_exactly_at_and_beyond_the_cutoff(kind: str) -> None:
    model = _tiny_model(kind)
    cutoff = model.cutoff
    distances = torch.tensor([cutoff, cutoff + 1e-9, cutoff + 0.3, 2 * cutoff]).double()
    factors = model.radial_factors(distances)
    assert (factors.values() == 0).all()
    assert (factors.slopes() == 0).all()
    radial = SpeciesPairRadial(model.radial_factors, model.n_species)
    pairs = torch.tensor([0, 4, 8, 5])
    values, slopes, _ = radial.values(distances, pairs, model.pair_coefficients, True)
    assert (values == 0).all()
    assert slopes is not None
    assert (slopes == 0).all()
    inside = model.radial_factors(torch.tensor([0.9 * cutoff]).double()).values()
    assert inside.abs().max() > 0


def _reference_energies(model: GaussianMomentModel, graph: AtomicGraph) -> torch.Tensor:
    """The model by its definition: plain autograd, edge by edge."""
    hypers = model.hypers
    species = model.species(graph)
    centre, neighbor = graph.edge_index
    vectors = edge_vectors(graph)
    distances = vectors.norm(dim=1)
    if hypers.radial_basis == "gaussian":
        basis = gaussian_basis(
            distances, hypers.n_basis, hypers.basis_r_min, model.cutoff
        )
    else:
        basis = bessel_basis(distances, hypers.n_basis, model.cutoff)
    basis = basis * cosine_cutoff(distances, model.cutoff).unsqueeze(1)
    beta = model.pair_coefficients[species[centre], species[neighbor]]
    radial = model.coefficient_norm * torch.einsum("esb,eb->es", beta, basis)
    unit = vectors / distances.unsqueeze(1)
    moments = cartesian_moments(radial, unit, centre, graph.n_atoms)
    atomic = model.readout(_einsum_features(moments)).squeeze(-1)
    return model.scale[species] * atomic + model.shift[species]


def _water_cell() -> Atoms:
    water = molecule("H2O")
    positions = np.concatenate([water.positions + shift for shift in np.eye(3) * 2.4])
    numbers = np.tile(water.numbers, 3)
    atoms = Atoms(numbers, positions=positions, cell=[5.2] * 3, pbc=True)
    atoms.rattle(0.05, seed=4)
    return atoms


@pytest.mark.parametrize("kind", ["bessel", "gaussian"])
@pytest.mark.parametrize("system", ["ethanol", "water"])
def test_fast_route_matches_plain_autograd(kind: str, system: str) -> None:
    model = _tiny_model(kind)
    atoms = molecule("CH3CH2OH") if system == "ethanol" else _water_cell()
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64)
    parameters = list(model.parameters())
    results = []
    for energies_of in (model, lambda g: _reference_energies(model, g)):
        positions = graph.positions.clone().requires_grad_()
        energies = energies_of(graph.replace(positions=positions))
        forces = -torch.autograd.grad(energies.sum(), positions, create_graph=True)[0]
        loss = energies.sum() + (forces**2).sum()
        results.append((energies, forces, torch.autograd.grad(loss, parameters)))
    (fast_e, fast_f, fast_g), (ref_e, ref_f, ref_g) = results
    torch.testing.assert_close(fast_e, ref_e, rtol=0, atol=ROUTE_ABSOLUTE)
    torch.testing.assert_close(fast_f, ref_f, rtol=0, atol=ROUTE_ABSOLUTE)
    for fast, ref in zip(fast_g, ref_g, strict=True):
        scale = max(1.0, ref.abs().max().item())
        torch.testing.assert_close(
            fast / scale, ref / scale, rtol=0, atol=ROUTE_ABSOLUTE
        )


def test_slot_moments_gradients_match_finite_differences() -> None:
    model = _tiny_model("bessel", cutoff=2.0)
    radial = SpeciesPairRadial(model.radial_factors, model.n_species)
    generator = torch.Generator().manual_seed(5)
    vectors = torch.randn(3, 2, 3, dtype=torch.float64, generator=generator)
    vectors[:, 1, 2] = torch.tensor([4.0, 0.0, 0.0])  # an empty slot
    pairs = torch.randint(0, 9, (2, 3), generator=generator)
    weights = model.pair_coefficients.detach().clone().requires_grad_()
    inputs = (vectors.requires_grad_(), weights)

    def moments(v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return dense_moments(v, pairs, w, radial)

    assert torch.autograd.gradcheck(moments, inputs, **GRADCHECK)
    assert torch.autograd.gradgradcheck(moments, inputs, **GRADCHECK)


def test_neighbor_slots_group_edges_by_centre_in_any_order() -> None:
    centre = torch.tensor([2, 0, 2, 1, 0, 2])
    slots, width = neighbor_slots(centre, 4)
    assert width == 3
    assert sorted((slots // width).tolist()) == sorted(centre.tolist())
    assert len(set(slots.tolist())) == len(slots)
    assert (slots // width == centre).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_in_float32_and_float64(dtype: torch.dtype) -> None:
    model = _tiny_model().to(dtype)
    graph = atoms_to_graph(molecule("CH3CH2OH"), model.cutoff, dtype)
    energies = model(graph)
    assert energies.dtype == dtype
    assert energies.shape == (9,)
    assert torch.isfinite(energies).all()
    reference = _tiny_model()
    reference.load_state_dict(model.state_dict())
    expected = reference(atoms_to_graph(molecule("CH3CH2OH"), model.cutoff))
    scale = expected.abs().max()
    assert ((energies.double() - expected).abs().max() / scale) < FLOAT32_RELATIVE


def test_isolated_atoms_have_zero_features() -> None:
    model = _tiny_model()
    atoms = Atoms("OH", positions=[[0, 0, 0], [0, 0, 3 * model.cutoff]])
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64)
    assert graph.n_edges == 0
    positions = graph.positions.clone().requires_grad_()
    energies = model(graph.replace(positions=positions))
    species = model.species(graph)
    zero = model.readout(
        torch.zeros(1, model.descriptor.n_features, dtype=torch.float64)
    )
    torch.testing.assert_close(
        energies, model.scale[species] * zero[0] + model.shift[species]
    )
    (forces,) = torch.autograd.grad(energies.sum(), positions)
    assert (forces == 0).all()


def test_inference_mode_first_then_autograd() -> None:
    hypers = GMHypers(cutoff=3.3, n_basis=7, n_radial=2, hidden_sizes=(3,))  # fresh
    model = GaussianMomentModel(hypers, [1, 8]).double()
    graph = atoms_to_graph(molecule("H2O"), model.cutoff, torch.float64)
    with torch.inference_mode():
        expected = model(graph)
    positions = graph.positions.clone().requires_grad_()
    energies = model(graph.replace(positions=positions))
    (forces,) = torch.autograd.grad(energies.sum(), positions, create_graph=True)
    forces.pow(2).sum().backward()  # second derivatives, as in force training
    torch.testing.assert_close(energies.detach(), expected, rtol=0, atol=ROUTE_ABSOLUTE)
    assert model.pair_coefficients.grad is not None


def test_edges_beyond_the_cutoff_are_ignored() -> None:
    model = _tiny_model()
    atoms = _water_cell()
    results = []
    for list_cutoff in (model.cutoff, model.cutoff + 1.5):
        graph = atoms_to_graph(atoms, list_cutoff, torch.float64)
        positions = graph.positions.clone().requires_grad_()
        energies = model(graph.replace(positions=positions))
        results.append((energies, torch.autograd.grad(energies.sum(), positions)[0]))
    torch.testing.assert_close(
        results[0][0], results[1][0], rtol=0, atol=ROUTE_ABSOLUTE
    )
    torch.testing.assert_close(
        results[0][1], results[1][1], rtol=0, atol=ROUTE_ABSOLUTE
    )


def test_zero_length_edge_gives_finite_gradients() -> None:
    model = _tiny_model()
    graph = atoms_to_graph(molecule("H2O"), model.cutoff, torch.float64)
    positions = graph.positions.clone()
    positions[2] = positions[0]  # an H on top of the O: the O–H edge has length 0
    positions.requires_grad_()
    energies = model(graph.replace(positions=positions))
    (forces,) = torch.autograd.grad(energies.sum(), positions, create_graph=True)
    (second,) = torch.autograd.grad(forces.pow(2).sum(), model.pair_coefficients)
    assert torch.isfinite(forces).all()
    assert torch.isfinite(second).all()


def test_unknown_element_is_a_clear_error() -> None:
    model = _tiny_model()
    graph = atoms_to_graph(molecule("NH3"), model.cutoff, torch.float64)
    with pytest.raises(ValueError, match=r"\[7\]"):
        model(graph)


def test_mlp_layers_activation_and_initialisation() -> None:
    mlp = MLP([40, 30, 1]).double()
    first, last = mlp.layers
    assert (first.bias == 0).all()
    assert abs(first.weight.std().item() - 1 / math.sqrt(40)) < 0.02
    x = torch.randn(5, 40, dtype=torch.float64)
    hidden = first(x)
    expected = last(SWISH_GAIN * hidden * torch.sigmoid(hidden))
    torch.testing.assert_close(mlp(x), expected)


def test_hypers_validation_and_from_dict() -> None:
    with pytest.raises(ValueError, match=r"n_radial.*0"):
        GMHypers(n_radial=0)
    with pytest.raises(ValueError, match=r"radial_basis.*'sinc'"):
        GMHypers(radial_basis="sinc")
    with pytest.raises(ValueError, match=r"basis_r_min"):
        GMHypers(cutoff=3.0, basis_r_min=3.0)
    with pytest.raises(ValueError, match="did you mean 'n_radial'"):
        GMHypers.from_dict({"n_radials": 4})
    hypers = GMHypers.from_dict({"hidden_sizes": [8, 4], "cutoff": 4})
    assert hypers.hidden_sizes == (8, 4)
    assert hypers == GMHypers.from_dict(dataclasses.asdict(hypers))
