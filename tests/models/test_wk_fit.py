"""Wigner-kernel fit: support selection, kernel rows, regression, training hook.

Also its limits, strict hypers and save/load round trips.

Synthetic targets come from a WK model with known support and weights, so the fit
has an exact answer to find; kernel rows are checked against ``evaluate`` (autograd
through the whole graph), an independent path from the fit's per-pair copies.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import ase
import numpy as np
import pytest
import torch
from ase.build import molecule

from pointchem import PointChemCalculator, atoms_to_graph, evaluate, load_potential
from pointchem.graph import batch_graphs, edge_vectors
from pointchem.models.wk import WignerKernelModel, WKHypers
from pointchem.models.wk.fit import (
    Reference,
    fit_wigner_kernel,
    kernel_rows,
    select_support,
    support_kernel,
)
from pointchem.models.wk.regression import solve_weights
from pointchem.models.wk.sparse import (
    body_order_kernels,
    farthest_point_sampling,
    graph_environments,
    same_centre_pairs,
)
from pointchem.registry import get_architecture
from pointchem.serialization import save_potential
from pointchem.testing import rattled_copy
from pointchem.training import loop
from pointchem.training.config import TrainConfig

from ..conftest import DATA
from .test_wk_model import TINY, support_of

ROUNDING = 1e-9
"""Relative agreement of two float64 evaluations of the same sums in another order."""


def structures(n: int, seed: int, amplitude: float = 0.15) -> list[ase.Atoms]:
    """Rattled ethanol molecules, ``n`` of them (seeded)."""
    return [rattled_copy(molecule("CH3CH2OH"), amplitude, seed + k) for k in range(n)]


def target_model(seed: int = 0) -> WignerKernelModel:
    """A WK model with support from two rattled molecules and random weights."""
    model = WignerKernelModel(TINY, [1, 6, 8])
    support = support_of(structures(2, 100 + seed, 0.2), TINY.cutoff)
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(len(support), generator=generator, dtype=torch.float64)
    model.set_support(support, weights)
    with torch.no_grad():
        model.composition_energies.copy_(torch.tensor([-13.6, -1030.0, -2040.0]))
    return model


def references(model: WignerKernelModel, frames: list[ase.Atoms]) -> list[Reference]:
    """(graph, energy, forces) of ``frames`` as predicted by ``model``."""
    result: list[Reference] = []
    for atoms in frames:
        graph = atoms_to_graph(atoms, model.cutoff, torch.float64)
        prediction = evaluate(model, graph, forces=True)
        assert prediction.forces is not None
        result.append((graph, float(prediction.energy[0]), prediction.forces))
    return result


def test_farthest_point_sampling_picks_distinct_environments() -> None:
    frames = structures(3, 0)
    graph = atoms_to_graph([*frames, frames[0]], TINY.cutoff, torch.float64)
    environments = graph_environments(graph, edge_vectors(graph), TINY.cutoff)
    hydrogens = environments.select(torch.nonzero(environments.centres == 1).squeeze(1))
    chosen = farthest_point_sampling(hydrogens, 100, TINY, body_order=2)
    # 4 frames × 6 H, frame 0 twice: 18 distinct environments, no duplicate chosen.
    assert len(chosen) == 18
    assert len(set(chosen.tolist())) == 18
    picked = hydrogens.select(chosen)
    pairs = same_centre_pairs(picked.centres, picked.centres)
    kernel = body_order_kernels(picked, picked, pairs, TINY, 2)[2].view(18, 18)
    diagonal = torch.diagonal(kernel)
    distance = 2 - 2 * kernel / torch.sqrt(diagonal[:, None] * diagonal[None, :])
    off_diagonal = distance[~torch.eye(18, dtype=torch.bool)]
    assert float(off_diagonal.min()) > 1e-6


def test_farthest_point_sampling_spreads_out() -> None:
    """The second point is the farthest from the first, the third from both."""
    graph = atoms_to_graph(structures(4, 7), TINY.cutoff, torch.float64)
    environments = graph_environments(graph, edge_vectors(graph), TINY.cutoff)
    carbons = environments.select(torch.nonzero(environments.centres == 6).squeeze(1))
    chosen = farthest_point_sampling(carbons, 3, TINY, body_order=1).tolist()
    n = len(carbons)
    index = torch.arange(n)
    pairs = torch.stack([index.repeat_interleave(n), index.repeat(n)], dim=1)
    kernel = body_order_kernels(carbons, carbons, pairs, TINY, 1)[1].view(n, n)
    diagonal = torch.diagonal(kernel)
    distance = 2 - 2 * kernel / torch.sqrt(diagonal[:, None] * diagonal[None, :])
    assert chosen[0] == int(torch.argmax(diagonal))
    assert chosen[1] == int(torch.argmax(distance[chosen[0]]))
    nearest = torch.minimum(distance[chosen[0]], distance[chosen[1]])
    assert chosen[2] == int(torch.argmax(nearest))


def test_select_support_covers_every_species_and_caps_the_count() -> None:
    model = WignerKernelModel(dataclasses.replace(TINY, n_support=4), [1, 6, 8])
    graph = atoms_to_graph(structures(2, 3), TINY.cutoff, torch.float64)
    environments = graph_environments(graph, edge_vectors(graph), TINY.cutoff)
    support = select_support(model, environments)
    counts = {z: int((support.centres == z).sum()) for z in (1, 6, 8)}
    assert counts == {1: 4, 6: 4, 8: 2}  # two molecules have only two O atoms
    assert bool((support.species[:, -1] >= 0).any()), "padding not trimmed"


def test_kernel_rows_reproduce_model_energies_and_forces() -> None:
    model = target_model()
    frames = structures(3, 20)
    data = references(model, frames)
    rows = kernel_rows(model, data, model.support())
    assert rows.forces is not None
    assert rows.force_targets is not None
    c = model.mixture()
    energies = torch.tensordot(c, rows.energy, dims=1) @ model.weights
    forces = torch.tensordot(c, rows.forces, dims=1) @ model.weights
    assert torch.allclose(energies, rows.energy_targets, rtol=ROUNDING, atol=0.0)
    scale = float(rows.force_targets.abs().max())
    assert scale > 1e-2, "forces too small for the test to have power"
    assert float((forces - rows.force_targets).abs().max()) < ROUNDING * scale


def test_solve_recovers_known_weights() -> None:
    model = target_model()
    data = references(model, structures(8, 30))
    rows = kernel_rows(model, data, model.support())
    assert rows.forces is not None
    assert rows.force_targets is not None
    c = model.mixture()
    design = torch.cat(
        [torch.tensordot(c, rows.energy, 1), torch.tensordot(c, rows.forces, 1)]
    )
    targets = torch.cat([rows.energy_targets, rows.force_targets])
    k_mm = torch.tensordot(c, support_kernel(model, model.support()), 1)
    sigma = 1e-7
    weights = solve_weights(k_mm, design / sigma, targets / sigma, jitter=0.0)
    error = (weights - model.weights).abs().max() / model.weights.abs().max()
    assert float(error) < 1e-6


def _small_problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    points = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    k_mm = torch.exp(-(torch.cdist(points, points) ** 2))
    design = torch.randn(20, 6, generator=generator, dtype=torch.float64)
    targets = torch.randn(20, generator=generator, dtype=torch.float64)
    return k_mm, design, targets


def test_solve_equals_the_projected_process_normal_equations() -> None:
    k_mm, design, targets = _small_problem()
    weights = solve_weights(k_mm, design, targets, jitter=0.0)
    normal = torch.linalg.solve(k_mm + design.T @ design, design.T @ targets)
    assert torch.allclose(weights, normal, rtol=1e-10, atol=0.0)


def test_regulariser_limits() -> None:
    """σ → 0: ordinary least squares; σ → ∞: w σ² → K_MM⁻¹ Dᵀ y (prior-dominated)."""
    k_mm, design, targets = _small_problem()
    small = 1e-6
    weights = solve_weights(k_mm, design / small, targets / small, jitter=0.0)
    plain = torch.linalg.lstsq(design, targets[:, None]).solution[:, 0]
    assert torch.allclose(weights, plain, rtol=1e-8, atol=0.0)
    large = 1e6  # the next term is O(|DᵀD| / (σ² λ_min(K_MM))) ≈ 1e-9 relative
    weights = solve_weights(k_mm, design / large, targets / large, jitter=0.0)
    prior = torch.linalg.solve(k_mm, design.T @ targets)
    assert torch.allclose(weights * large**2, prior, rtol=1e-6, atol=0.0)


def test_jitter_rescues_duplicate_support_points() -> None:
    k_mm, design, targets = _small_problem()
    k_mm[5], k_mm[:, 5] = k_mm[4], k_mm[:, 4]  # two identical support points
    k_mm[5, 5] = k_mm[4, 4]
    weights = solve_weights(k_mm, design, targets, jitter=1e-10)
    assert bool(torch.isfinite(weights).all())


def test_fit_reproduces_a_kernel_model_target() -> None:
    """Data from a WK model whose support lies among the training environments."""
    frames = structures(6, 40)
    model = target_model()
    support = support_of(frames[:2], TINY.cutoff)
    generator = torch.Generator().manual_seed(5)
    model.set_support(
        support, torch.randn(len(support), generator=generator, dtype=torch.float64)
    )
    data = references(model, frames)
    validation = references(model, structures(2, 90))
    hypers = dataclasses.replace(
        TINY,
        n_support=50,
        energy_regulariser=1e-5,
        force_regulariser=1e-5,
        regulariser_factors=(1.0, 0.1),
        alpha_factors=(1.0, 3.0),
    )
    start = WignerKernelModel(hypers, [1, 6, 8])
    with torch.no_grad():
        start.composition_energies.copy_(model.composition_energies)
    fitted, report = fit_wigner_kernel(start, data, validation, progress=False)
    assert fitted.hypers.mixture_alpha == TINY.mixture_alpha  # the generating α
    forces = torch.cat([f for _, _, f in validation])  # type: ignore[misc]
    assert report["validation_forces_mae"] * 1e-3 < 1e-4 * float(forces.abs().mean())
    for graph, energy, _ in validation:
        assert float(evaluate(fitted, graph).energy[0]) == pytest.approx(energy)


def test_strict_hypers() -> None:
    with pytest.raises(ValueError, match="'n_suport'; did you mean 'n_support'"):
        WKHypers.from_dict({"n_suport": 10})
    with pytest.raises(ValueError, match="nu_max"):
        WKHypers(nu_max=0)
    with pytest.raises(ValueError, match="body_order_weights"):
        WKHypers(mixture="explicit", nu_max=2, body_order_weights=(1.0, 2.0))
    with pytest.raises(ValueError, match="normalisation"):
        WKHypers(normalisation="unit")
    with pytest.raises(ValueError, match="regulariser_factors"):
        WKHypers(regulariser_factors=())
    values = dataclasses.asdict(TINY)
    assert WKHypers.from_dict(values) == TINY
    yaml_like = {**values, "alpha_factors": [0.5, 2.0]}
    assert WKHypers.from_dict(yaml_like).alpha_factors == (0.5, 2.0)


def test_save_load_round_trip_gives_identical_energies(tmp_path: Path) -> None:
    model = target_model()
    path = tmp_path / "wk.pt"
    save_potential(model, path)
    loaded = load_potential(path)
    assert isinstance(loaded, WignerKernelModel)
    assert loaded.hypers == model.hypers
    graph = batch_graphs(
        [atoms_to_graph(a, TINY.cutoff, torch.float64) for a in structures(2, 60)]
    )
    first = evaluate(model, graph, forces=True)
    second = evaluate(loaded, graph, forces=True)
    assert torch.equal(first.energy, second.energy)
    assert first.forces is not None
    assert second.forces is not None
    assert torch.equal(first.forces, second.forces)
    atoms = structures(1, 61)[0]
    atoms.calc = PointChemCalculator(path, device="cpu")
    expected = evaluate(model, atoms_to_graph(atoms, TINY.cutoff, torch.float64))
    assert atoms.get_potential_energy() == float(expected.energy[0])


def test_registry_entry_uses_the_linear_fit() -> None:
    architecture = get_architecture("wk")
    assert architecture.fit is fit_wigner_kernel
    assert architecture.model is WignerKernelModel


def _train_config(dtype: str) -> TrainConfig:
    model = {
        **{k: v for k, v in dataclasses.asdict(TINY).items() if k != "mixture_alpha"},
        "n_support": 4,
        "alpha_factors": [1.0, 2.0],
        "regulariser_factors": [1.0],
    }
    return TrainConfig.from_dict(
        {
            "architecture": "wk",
            "model": model,
            "training": {"dtype": dtype, "batch_size": 16},
            "data": {
                "train": [str(DATA / "ethanol_reduced_100.xyz")],
                "energy_unit": "kcal/mol",
                "validation_fraction": 0.2,
                "test_fraction": 0.6,
            },
        }
    )


def test_pointchem_train_fits_wk(tmp_path: Path) -> None:
    metrics = loop.train(_train_config("float64"), tmp_path, progress=False)
    for name in ("potential.pt", "config.yaml", "metrics.json", "log.csv"):
        assert (tmp_path / name).exists(), name
    model = load_potential(tmp_path / "potential.pt")
    assert isinstance(model, WignerKernelModel)
    assert model.n_support == 4 + 4 + 4
    assert model.hypers.mixture_alpha is not None
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test"]["forces_mae"] == pytest.approx(metrics["test"]["forces_mae"])
    # A 12-point fit on 20 frames must beat predicting zero forces on the test set
    # (whose RMSE is about the standard deviation of the reference components).
    test = written["test"]
    assert np.isfinite(test["forces_rmse"])
    assert test["forces_rmse"] < test["forces_std"]


def test_pointchem_train_rejects_float32_for_wk(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"not training\.dtype 'float32'"):
        loop.train(_train_config("float32"), tmp_path, progress=False)
