"""ECSE local frames: switches, covariance, permutation, smoothness, degeneracy."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import ase
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.neighborlist import neighbor_list

from pointchem.nn import frames
from pointchem.nn.cutoffs import cosine_cutoff
from pointchem.nn.frames import (
    FrameEnsemble,
    FrameHypers,
    local_frames,
    mirror_switch,
    tanh_switch,
)
from pointchem.testing import random_rotation, rattled_copy

CUTOFF = 4.5
COVARIANCE = 1e-12  # frames of a rotated structure vs rotated frames (float64)
IDENTICAL = 1e-13  # the same quantity computed two ways (edge order, chunking)
REFERENCE = (
    1e-10  # vectorised vs plain-loop implementation (pruning amplifies rounding)
)
PATH_MISMATCH = 1e-6  # |Δy − trapezoid of y'| per path step: a jump shows up here
FLAT = 1e-30  # switch derivatives 1e-3 Å inside either end of the switch
FLOAT32_AGREEMENT = 1e-4  # float32 vs float64 weights and cutoffs (relative)
N_PATH = 4001  # points on a smoothness path (then twice as many)
PATH_CONVERGENCE = 4.0  # mismatch ratio on halving the step: smooth 8, kink 2, jump 1
PATH_NOISE = 1e-10  # mismatch level reached by rounding (and weight_floor drops)


def _edges(
    atoms: ase.Atoms, cutoff: float = CUTOFF
) -> tuple[torch.Tensor, torch.Tensor]:
    centre, vectors = neighbor_list("iD", atoms, cutoff)
    return torch.tensor(vectors), torch.tensor(centre)


def _silicon() -> ase.Atoms:
    return rattled_copy(bulk("Si", "diamond", a=5.43, cubic=True), 0.1, seed=3)


SYSTEMS = {"ethanol": lambda: molecule("CH3CH2OH"), "silicon": _silicon}


def _per_atom(ens: FrameEnsemble, values: torch.Tensor, n_atoms: int) -> torch.Tensor:
    return values.new_zeros(n_atoms).index_add(0, ens.atom, values)


def _local_observable(
    ens: FrameEnsemble, vectors: torch.Tensor, centre: torch.Tensor
) -> torch.Tensor:
    """(n_frames,) smooth function of the local coordinates of the atom's neighbours.

    Not rotation-invariant by itself: it is what a symmetrised model would see.
    """
    order = torch.argsort(centre, stable=True)
    counts = torch.bincount(
        centre, minlength=int(ens.atom.max()) + 1 if len(ens.atom) else 1
    )
    per_frame = counts[ens.atom]
    frame = torch.repeat_interleave(torch.arange(len(ens.atom)), per_frame)
    offset = torch.arange(len(frame)) - (per_frame.cumsum(0) - per_frame)[frame]
    edge = order[(counts.cumsum(0) - counts)[ens.atom[frame]] + offset]
    local = torch.einsum("pc,pcd->pd", vectors[edge], ens.rotations[frame])
    radial = cosine_cutoff(torch.linalg.vector_norm(vectors[edge], dim=-1), CUTOFF)
    x, y, z = local.unbind(-1)
    value = radial * (x + 0.5 * y - 0.3 * z + 0.2 * x * y + 0.1 * z * z)
    return value.new_zeros(len(ens.atom)).index_add(0, frame, value)


def _outputs(
    vectors: torch.Tensor, centre: torch.Tensor, n_atoms: int, cutoff: float = CUTOFF
) -> tuple[torch.Tensor, ...]:
    ens = local_frames(vectors, centre, n_atoms, cutoff)
    observable = ens.weights * _local_observable(ens, vectors, centre)
    return (
        _per_atom(ens, ens.weights, n_atoms),
        ens.aux_weights,
        ens.inner_cutoff,
        _per_atom(ens, observable, n_atoms),
    )


# ---------------------------------------------------------------- switches, hypers


def test_tanh_switch_values_and_flat_ends() -> None:
    x = torch.linspace(0.0, 3.0, 3001, dtype=torch.float64, requires_grad=True)
    f = tanh_switch(x, 2.0, 0.5)
    (slope,) = torch.autograd.grad(f.sum(), x)
    below, after = x < 1.5, x >= 2.0
    assert torch.all(f[below] == 1.0)
    assert torch.all(f[after] == 0.0)
    assert torch.all(slope[below] == 0.0)
    assert torch.all(slope[after] == 0.0)
    assert torch.all(f.diff() <= 0.0)
    centre = tanh_switch(torch.tensor(1.75, dtype=torch.float64), 2.0, 0.5)
    assert centre.item() == pytest.approx(0.5, abs=1e-15)
    ends = torch.tensor([1.501, 1.999], dtype=torch.float64, requires_grad=True)
    (first,) = torch.autograd.grad(
        tanh_switch(ends, 2.0, 0.5).sum(), ends, create_graph=True
    )
    (second,) = torch.autograd.grad(first.sum(), ends)
    assert first.abs().max() < FLAT
    assert second.abs().max() < FLAT


def test_mirror_switch_is_the_complement() -> None:
    x = torch.linspace(-1.0, 1.0, 201, dtype=torch.float64)
    total = mirror_switch(x, -0.25, 0.5) + tanh_switch(x, 0.25, 0.5)
    assert torch.allclose(total, torch.ones_like(x), atol=1e-15, rtol=0.0)
    assert mirror_switch(torch.tensor(-0.25), -0.25, 0.5) == 0.0
    assert mirror_switch(torch.tensor(0.25), -0.25, 0.5) == 1.0


def test_switch_second_derivatives_everywhere() -> None:
    x = torch.tensor([0.0, 1.5, 1.55, 1.7, 1.9, 1.99, 2.0, 2.5], dtype=torch.float64)
    cutoff = torch.tensor(2.0, dtype=torch.float64)
    x.requires_grad_(True)
    cutoff.requires_grad_(True)
    assert torch.autograd.gradgradcheck(
        lambda a, c: tanh_switch(a, c, 0.5), (x, cutoff)
    )
    assert torch.autograd.gradgradcheck(
        lambda a, c: mirror_switch(a, c, 0.5), (x, cutoff)
    )


def test_lambert_constant_bounds_the_smooth_max() -> None:
    # β (max(a, b) − smoothmax_β(a, b)) = d / (1 + e^d) with d = β|a − b|; its maximum
    # over d is W(1/e), which is what T(β) = W(1/e)/β must cover.
    d = torch.linspace(0.0, 5.0, 500001, dtype=torch.float64)
    assert (d / (1.0 + d.exp())).max().item() == pytest.approx(
        frames.LAMBERT_W_INV_E, abs=1e-10
    )
    w = frames.LAMBERT_W_INV_E
    assert w * math.exp(w) == pytest.approx(math.exp(-1.0), abs=1e-16)


def test_hypers_round_trip_and_strict_keys() -> None:
    hypers = FrameHypers(beta=4.0, n_prunings=2)
    assert FrameHypers.from_dict(hypers.to_dict()) == hypers
    with pytest.raises(ValueError, match=r"'betta' \(did you mean 'beta'\?\)"):
        FrameHypers.from_dict({"betta": 4.0})
    with pytest.raises(ValueError, match=r"delta_w=0\.3"):
        FrameHypers(delta_w=0.3)
    with pytest.raises(ValueError, match=r"delta_r=0\.0"):
        FrameHypers(delta_r=0.0)


# ------------------------------------------------------------ symmetry and structure


@pytest.mark.parametrize("name", SYSTEMS)
def test_rotation_covariance(name: str, device: str, rng: np.random.Generator) -> None:
    atoms = SYSTEMS[name]()
    vectors, centre = (t.to(device) for t in _edges(atoms))
    rotation = torch.tensor(random_rotation(rng), device=device)
    before = local_frames(vectors, centre, len(atoms), CUTOFF)
    after = local_frames(vectors @ rotation.T, centre, len(atoms), CUTOFF)
    assert before.atom.numel() > len(atoms)
    assert torch.equal(before.atom, after.atom)
    expected = rotation @ before.rotations
    assert (after.rotations - expected).abs().max() < COVARIANCE
    for field in ("weights", "aux_weights", "inner_cutoff"):
        difference = getattr(after, field) - getattr(before, field)
        assert difference.abs().max() < COVARIANCE, field


@pytest.mark.parametrize("name", SYSTEMS)
def test_frames_are_proper_rotations_with_positive_weights(name: str) -> None:
    atoms = SYSTEMS[name]()
    vectors, centre = _edges(atoms)
    ens = local_frames(vectors, centre, len(atoms), CUTOFF)
    eye = torch.eye(3, dtype=torch.float64)
    gram = ens.rotations.transpose(1, 2) @ ens.rotations
    assert (gram - eye).abs().max() < 1e-14
    assert (torch.linalg.det(ens.rotations) - 1.0).abs().max() < 1e-14
    assert torch.all(ens.weights > FrameHypers().weight_floor)
    assert torch.all(ens.atom.diff() >= 0)
    assert torch.equal(
        ens.counts(len(atoms)), torch.bincount(ens.atom, minlength=len(atoms))
    )


def _signatures(
    ens: FrameEnsemble, vectors: torch.Tensor, centre: torch.Tensor
) -> dict[int, np.ndarray]:
    """Per atom, one row per frame, rows sorted.

    A row holds the weight, then the local coordinates of all the atom's neighbours
    in a canonical (sorted) order.
    """
    rows: dict[int, list[np.ndarray]] = {}
    for f, atom in enumerate(ens.atom.tolist()):
        local = (vectors[centre == atom] @ ens.rotations[f]).numpy()
        local = local[np.lexsort(np.round(local, 8).T[::-1])]
        row = np.concatenate([[ens.weights[f].item()], local.ravel()])
        rows.setdefault(atom, []).append(row)
    tables = {atom: np.array(atom_rows) for atom, atom_rows in rows.items()}
    return {a: t[np.lexsort(np.round(t, 8).T[::-1])] for a, t in tables.items()}


@pytest.mark.parametrize("name", SYSTEMS)
def test_edge_order_does_not_matter(name: str) -> None:
    atoms = SYSTEMS[name]()
    vectors, centre = _edges(atoms)
    order = torch.randperm(centre.numel())
    before = local_frames(vectors, centre, len(atoms), CUTOFF)
    after = local_frames(vectors[order], centre[order], len(atoms), CUTOFF)
    assert torch.equal(before.counts(len(atoms)), after.counts(len(atoms)))
    expected = _signatures(before, vectors, centre)
    found = _signatures(after, vectors, centre)
    assert expected.keys() == found.keys()
    for atom, table in expected.items():
        assert np.abs(table - found[atom]).max() < IDENTICAL
    assert (before.aux_weights - after.aux_weights).abs().max() < IDENTICAL
    assert (before.inner_cutoff - after.inner_cutoff).abs().max() < IDENTICAL


def test_chunked_and_checkpointed_equals_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    atoms = _silicon()
    vectors, centre = _edges(atoms)
    vectors.requires_grad_(True)
    results = []
    for budget in (frames.PAIR_BUDGET, 1):  # 1: one atom a chunk, all checkpointed
        monkeypatch.setattr(frames, "PAIR_BUDGET", budget)
        monkeypatch.setattr(frames, "PAIR_MEMORY", budget)
        outputs = _outputs(vectors, centre, len(atoms))
        total = torch.stack([output.sum() for output in outputs]).sum()
        (gradient,) = torch.autograd.grad(total, vectors, create_graph=True)
        (curvature,) = torch.autograd.grad(gradient.square().sum(), vectors)
        results.append((*outputs, gradient, curvature))
    for whole, chunked in zip(*results, strict=True):
        assert (whole - chunked).abs().max() < IDENTICAL


def _switch(x: float, cutoff: float, width: float) -> float:
    g = 2.0 * (x - cutoff + 0.5 * width) / width
    if abs(g) >= 1.0:
        return float(g < 0.0)
    return 0.5 + 0.5 * math.tanh(1.0 / (g + 1.0) + 1.0 / (g - 1.0))


def _smooth_max(values: list[float], weights: list[float], beta: float) -> float:
    factors = [w * math.exp(beta * v) for v, w in zip(values, weights, strict=True)]
    return sum(f * v for f, v in zip(factors, values, strict=True)) / sum(factors)


def _reference_atom(
    vectors: np.ndarray, cutoff: float, h: FrameHypers
) -> tuple[list[float], float, float]:
    """Sorted frame weights, w_aux and R_in of one atom (methods.md §4.2–4.4).

    Plain loops over pairs, written independently of the vectorised code.
    """
    r_out = min(cutoff, h.outer_cutoff_upper_bound)
    r = [float(np.linalg.norm(v)) for v in vectors]
    unit = [v / length for v, length in zip(vectors, r, strict=True)]
    sin2 = [[float(np.sum(np.cross(a, b) ** 2)) for b in unit] for a in unit]
    values, weights = [r_out], [1.0]
    for j, k in itertools.combinations(range(len(r)), 2):
        smooth_max = _smooth_max([r[j], r[k]], [1.0, 1.0], h.beta)
        values.append(smooth_max + frames.LAMBERT_W_INV_E / h.beta)
        radial = _switch(r[j], r_out, h.delta_r) * _switch(r[k], r_out, h.delta_r)
        weights.append(radial * (1.0 - _switch(sin2[j][k], h.w + h.delta_w, h.delta_w)))
    r_in = _smooth_max(values, weights, -h.beta) + h.delta_r
    start = h.w - h.delta_w
    frame_weights = []
    for j, k in itertools.permutations(range(len(r)), 2):
        radial = math.prod(
            _switch(r[i], c, h.delta_r) for i in (j, k) for c in (r_in, r_out)
        )
        angular = (1.0 - _switch(sin2[j][k], h.w, h.delta_w)) * (sin2[j][k] - start)
        frame_weights.append(radial * angular / h.delta_w)
    weights, aux = _reference_pruning(frame_weights, h)
    return weights, aux, r_in


def _reference_pruning(ws: list[float], h: FrameHypers) -> tuple[list[float], float]:
    ws = [w for w in ws if w > h.weight_floor]
    w_max = _smooth_max(ws, ws, h.beta_weights) if ws else 0.0
    aux = _switch(w_max, h.aux_threshold, h.aux_threshold_delta)
    turn_on = _switch(w_max, h.pruning_turn_on, h.pruning_turn_on_delta)
    for _ in range(h.n_prunings if ws else 0):
        top = _smooth_max(ws, ws, h.beta_weights)
        end = (h.pruning_threshold + h.pruning_threshold_delta) * top
        kept = [1.0 - _switch(w, end, h.pruning_threshold_delta * top) for w in ws]
        ws = [w * (p * (1 - turn_on) + turn_on) for w, p in zip(ws, kept, strict=True)]
        ws = [w for w in ws if w > h.weight_floor]
    return sorted(ws), aux


REFERENCE_CASES = (*SYSTEMS, "water", "collinear", "pruning half way")


def _reference_case(name: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    if name == "pruning half way":  # frames of weight 0.95 W_max, pruned to 40 %
        t = torch.tensor([1.1985], dtype=torch.float64)
        vectors = _crossing_inner_cutoff(t)[0]
        return vectors, torch.zeros(len(vectors), dtype=torch.int64), 1
    names = {"water": "H2O", "collinear": "CO2"}
    atoms = molecule(names[name]) if name in names else SYSTEMS[name]()
    return (*_edges(atoms), len(atoms))


@pytest.mark.parametrize("name", REFERENCE_CASES)
def test_against_a_loop_implementation(name: str) -> None:
    vectors, centre, n_atoms = _reference_case(name)
    ens = local_frames(vectors, centre, n_atoms, CUTOFF)
    for atom in range(n_atoms):
        mine = vectors[centre == atom].numpy()
        weights, aux, r_in = _reference_atom(mine, CUTOFF, FrameHypers())
        found = sorted(ens.weights[ens.atom == atom].tolist())
        assert np.allclose(found, weights, rtol=REFERENCE, atol=REFERENCE), atom
        assert ens.aux_weights[atom].item() == pytest.approx(aux, abs=REFERENCE)
        assert ens.inner_cutoff[atom].item() == pytest.approx(r_in, abs=REFERENCE)


def test_frame_counts_of_known_structures() -> None:
    # diamond: 4 neighbours at 2.35 Å make R_in ≈ 2.57 Å, so 4·3 equal frames per atom
    diamond = bulk("Si", "diamond", a=5.43, cubic=True)
    ens = local_frames(*_edges(diamond), len(diamond), CUTOFF)
    assert ens.counts(len(diamond)).tolist() == [12] * 8
    assert torch.all(ens.aux_weights == 0.0)
    # water: O sees its two H, each H sees O and the other H (the only pair of each)
    water = molecule("H2O")
    ens = local_frames(*_edges(water), len(water), CUTOFF)
    assert ens.counts(len(water)).tolist() == [2, 2, 2]


def test_float32_follows_float64() -> None:
    atoms = molecule("CH3CH2OH")
    vectors, centre = _edges(atoms)
    double = local_frames(vectors, centre, len(atoms), CUTOFF)
    single = local_frames(vectors.float(), centre, len(atoms), CUTOFF)
    assert single.weights.dtype == single.rotations.dtype == torch.float32
    assert torch.equal(single.atom, double.atom)
    scale = FLOAT32_AGREEMENT * double.weights.abs().max()
    assert (single.weights.double() - double.weights).abs().max() < scale
    assert (
        single.inner_cutoff.double() - double.inner_cutoff
    ).abs().max() < FLOAT32_AGREEMENT


# ----------------------------------------------------------------------- smoothness


def _path_mismatch(
    build: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor, cutoff: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest |Δy − trapezoid of dy/dt| per step of each output along a path.

    Every point of the path is its own atom, so one call does the whole path. Also
    returns the number of frames at each point.
    """
    t = t.clone().requires_grad_(True)
    environments = build(t)
    n_points, n_neighbours = environments.shape[:2]
    centre = torch.arange(n_points).repeat_interleave(n_neighbours)
    vectors = environments.reshape(-1, 3)
    mismatch = []
    for output in _outputs(vectors, centre, n_points, cutoff):
        (slope,) = torch.autograd.grad(output.sum(), t, retain_graph=True)
        assert torch.isfinite(slope).all()
        trapezoid = 0.5 * (slope[1:] + slope[:-1]) * (t[1] - t[0]).detach()
        mismatch.append((output.detach().diff() - trapezoid).abs().max())
    counts = local_frames(vectors.detach(), centre, n_points, cutoff).counts(n_points)
    return torch.stack(mismatch), counts


def _check_path(
    build: Callable[[torch.Tensor], torch.Tensor],
    start: float,
    stop: float,
    cutoff: float = CUTOFF,
) -> None:
    """Σ w, w_aux, R_in and Σ w·(local observable) of each atom are smooth on a path.

    A jump in y or in dy/dt leaves a trapezoid mismatch that does not shrink when the
    step is halved (a kink: 2 times); for a smooth y it shrinks ~8 times (O(h³)).
    """
    coarse, counts = _path_mismatch(
        build, torch.linspace(start, stop, N_PATH, dtype=torch.float64), cutoff
    )
    fine, _ = _path_mismatch(
        build, torch.linspace(start, stop, 2 * N_PATH - 1, dtype=torch.float64), cutoff
    )
    assert counts.min() < counts.max()  # frames do appear or vanish along the path
    assert torch.all(fine <= coarse / PATH_CONVERGENCE + PATH_NOISE), (coarse, fine)


def _crossing_inner_cutoff(t: torch.Tensor) -> torch.Tensor:
    angle = math.radians(100.0)
    fixed = [[1.0, 0.0, 0.0], [1.1 * math.cos(angle), 1.1 * math.sin(angle), 0.0]]
    third = torch.tensor([0.2, -0.5, 0.84], dtype=torch.float64)
    moving = t[:, None] * third / third.norm()
    fixed_part = torch.tensor([*fixed, [0.0, 0.3, 2.6]], dtype=torch.float64)
    stacked = fixed_part.expand(len(t), 3, 3)
    return torch.cat([stacked[:, :2], moving[:, None], stacked[:, 2:]], dim=1)


def _becoming_collinear(t: torch.Tensor) -> torch.Tensor:
    zero, one = torch.zeros_like(t), torch.ones_like(t)
    first = torch.stack([one, zero, zero], dim=-1)
    second = torch.stack([-1.2 * torch.cos(t), 1.2 * torch.sin(t), zero], dim=-1)
    return torch.stack([first, second], dim=1)


def _leaving_the_cutoff(t: torch.Tensor) -> torch.Tensor:
    # nearly collinear pairs only (sin² = 0.12 < W): R_in is ≈ R_out + Δ_R here
    zero, one = torch.zeros_like(t), torch.ones_like(t)
    first = torch.stack([one, zero, zero], dim=-1)
    angle = math.radians(20.0)
    second = torch.stack([t * math.cos(angle), t * math.sin(angle), zero], dim=-1)
    return torch.stack([first, second], dim=1)


def test_smooth_when_a_neighbour_crosses_the_inner_cutoff() -> None:
    _check_path(_crossing_inner_cutoff, 1.0, 1.7)


def test_smooth_when_three_atoms_become_collinear() -> None:
    _check_path(_becoming_collinear, 0.0, 0.8)


def test_smooth_when_a_neighbour_leaves_the_cutoff() -> None:
    _check_path(_leaving_the_cutoff, 2.6, 3.3, cutoff=3.0)


@pytest.mark.parametrize(
    ("build", "t"),
    [
        (_crossing_inner_cutoff, 1.30),  # third neighbour inside the R_in switch
        (_crossing_inner_cutoff, 1.20),
        (_becoming_collinear, 0.25),  # sin² ≈ 0.06, frame weights switching on
        (_becoming_collinear, 0.50),  # sin² ≈ 0.23, R_in pair switch
        (_becoming_collinear, 0.62),  # sin² ≈ 0.34
        (_leaving_the_cutoff, 2.95),  # inside the outer switch
    ],
)
def test_gradients_near_thresholds(
    build: Callable[[torch.Tensor], torch.Tensor], t: float
) -> None:
    vectors = build(torch.tensor([t], dtype=torch.float64))[0].requires_grad_(True)
    centre = torch.zeros(len(vectors), dtype=torch.int64)
    cutoff = 3.0 if build is _leaving_the_cutoff else CUTOFF

    def function(v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return _outputs(v, centre, 1, cutoff)

    assert torch.autograd.gradcheck(function, (vectors,))
    assert torch.autograd.gradgradcheck(function, (vectors,))


def test_gradients_of_ethanol() -> None:
    atoms = molecule("CH3CH2OH")
    vectors, centre = _edges(atoms)
    vectors.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda v: _outputs(v, centre, len(atoms)), (vectors,), fast_mode=True
    )


# ----------------------------------------------------------------- degenerate cases


def _chain(n: int, spacing: float) -> ase.Atoms:
    return ase.Atoms(f"C{n}", positions=[[spacing * k, 0.0, 0.0] for k in range(n)])


DEGENERATE = {
    "isolated atom": lambda: ase.Atoms("Ar"),
    "two isolated atoms": lambda: ase.Atoms("Ar2", positions=[[0, 0, 0], [0, 0, 9.0]]),
    "H2": lambda: molecule("H2"),
    "CO2": lambda: molecule("CO2"),
    "linear chain": lambda: _chain(6, 1.3),
    "periodic chain": lambda: ase.Atoms(
        "C", cell=[1.3, 10.0, 10.0], pbc=[True, False, False]
    ),
}


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_environments(name: str, device: str) -> None:
    atoms = DEGENERATE[name]()
    vectors, centre = (t.to(device) for t in _edges(atoms))
    vectors.requires_grad_(True)
    ens = local_frames(vectors, centre, len(atoms), CUTOFF)
    assert ens.atom.numel() == 0
    assert ens.rotations.shape == (0, 3, 3)
    assert torch.all(ens.aux_weights == 1.0)
    assert torch.isfinite(ens.inner_cutoff).all()
    total = ens.aux_weights.sum() + ens.inner_cutoff.sum() + ens.weights.sum()
    (gradient,) = torch.autograd.grad(total, vectors, create_graph=True)
    assert torch.isfinite(gradient).all()
    if gradient.requires_grad:
        (curvature,) = torch.autograd.grad(
            gradient.square().sum(), vectors, allow_unused=True
        )
        assert curvature is None or torch.isfinite(curvature).all()
