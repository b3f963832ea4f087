"""Wigner-kernel model: the physics suite on a tiny random-support model.

Also the model's own contract: support buffers, the kernel it evaluates, mixture
weights.
"""

from __future__ import annotations

import ase
import pytest
import torch
from ase.build import molecule

from pointchem import atoms_to_graph, evaluate
from pointchem.graph import edge_vectors
from pointchem.models.base import EnergyModel
from pointchem.models.wk import WignerKernelModel, WKHypers, invariant_kernels
from pointchem.models.wk.density_kernel import nu1_kernel
from pointchem.models.wk.sparse import Environments, graph_environments
from pointchem.testing import rattled_copy

from ..physics_suite import PhysicsSuite, carbon_cell, ethanol

TINY = WKHypers(
    cutoff=3.0,
    cutoff_width=1.0,
    width_scale=0.3,
    width_length=2.0,
    l_max=2,
    nu_max=3,
    lambda_max=2,
    mixture_alpha=0.05,
)
"""A 1 Å switch and broad densities keep the curvature moderate, so central
differences with the suite's 1e-4 Å step resolve forces to 1e-6 eV/Å."""


def support_of(structures: list[ase.Atoms], cutoff: float) -> Environments:
    """Every atom's environment in ``structures`` (float64), as support tables."""
    tables = []
    for atoms in structures:
        graph = atoms_to_graph(atoms, cutoff, torch.float64)
        tables.append(graph_environments(graph, edge_vectors(graph), cutoff))
    width = max(t.vectors.shape[1] for t in tables)

    def padded(tensor: torch.Tensor, value: float) -> torch.Tensor:
        extra = width - tensor.shape[1]
        pad = (0, 0, 0, extra) if tensor.ndim == 3 else (0, extra)
        return torch.nn.functional.pad(tensor, pad, value=value)

    return Environments(
        torch.cat([padded(t.vectors, 0.0) for t in tables]),
        torch.cat([padded(t.species, -1) for t in tables]),
        torch.cat([t.centres for t in tables]),
    )


def tiny_model(seed: int = 0) -> WignerKernelModel:
    """Support: a differently rattled ethanol and carbon cell; random weights (eV)."""
    model = WignerKernelModel(TINY, [1, 6, 8])
    support = support_of(
        [rattled_copy(molecule("CH3CH2OH"), 0.2, seed + 5), carbon_cell()],
        TINY.cutoff,
    )
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(len(support), generator=generator, dtype=torch.float64)
    model.set_support(support, weights)
    with torch.no_grad():
        model.composition_energies.copy_(torch.tensor([-13.6, -1030.0, -2040.0]))
    return model


class TestWignerKernel(PhysicsSuite):
    @pytest.fixture
    def model(self) -> EnergyModel:
        return tiny_model()


def test_energy_is_the_kernel_sum_over_support() -> None:
    """E_i = Σ_m Σ_ν c_ν k^(ν)(A_i, X_m) w_m, from nu1_kernel and the iteration."""
    model = tiny_model()
    graph = atoms_to_graph(ethanol(), TINY.cutoff, torch.float64)
    energies = model(graph)
    mine = graph_environments(graph, edge_vectors(graph), TINY.cutoff)
    support = model.support()
    c = torch.tensor(TINY.weights(), dtype=torch.float64)
    for atom in (0, 3, 8):
        same = torch.nonzero(support.centres == mine.centres[atom]).squeeze(1)
        pairs = torch.stack([torch.full_like(same, atom), same], dim=1)
        blocks = nu1_kernel(
            mine.vectors,
            mine.species,
            support.vectors,
            support.species,
            pairs,
            TINY.density(),
        )
        kernels = invariant_kernels(
            blocks, TINY.nu_max, TINY.lambda_max, normalisation="haar"
        )
        expected = (c @ kernels) @ model.weights[same]
        assert float(abs(energies[atom] - expected)) < 1e-12 * float(abs(expected))


def test_kernel_exp_weights() -> None:
    weights = TINY.weights()
    alpha = TINY.mixture_alpha
    assert alpha is not None
    assert weights == pytest.approx((1.0, alpha, alpha**2 / 2, alpha**3 / 6))
    explicit = WKHypers(mixture="explicit", nu_max=2, body_order_weights=(1, 2, 3))
    assert explicit.weights() == (1, 2, 3)
    with pytest.raises(ValueError, match="mixture_alpha is None"):
        WKHypers().weights()


def test_unfitted_model_predicts_zero() -> None:
    model = WignerKernelModel(TINY, [1, 6, 8])
    graph = atoms_to_graph(ethanol(), TINY.cutoff, torch.float64)
    assert model.n_support == 0
    assert bool((model(graph) == 0).all())


def test_weights_scale_energies_linearly() -> None:
    model = tiny_model()
    graph = atoms_to_graph(ethanol(), TINY.cutoff, torch.float64)
    before = evaluate(model, graph, forces=True)
    model.set_support(model.support(), 3.0 * model.weights)
    after = evaluate(model, graph, forces=True)
    baseline = float(model.composition_energies[model.species(graph)].sum())
    assert before.forces is not None
    assert after.forces is not None
    assert float(after.energy[0]) - baseline == pytest.approx(
        3.0 * (float(before.energy[0]) - baseline), rel=1e-12
    )
    assert torch.allclose(after.forces, 3.0 * before.forces, rtol=1e-12, atol=0.0)


def test_set_support_rejects_mismatched_shapes_and_elements() -> None:
    model = tiny_model()
    support = model.support()
    with pytest.raises(ValueError, match="weights"):
        model.set_support(support, model.weights[:-1])
    wrong = Environments(support.vectors, support.species, support.centres + 20)
    with pytest.raises(ValueError, match="unknown elements"):
        model.set_support(wrong, model.weights)


def test_state_dict_loads_into_a_fresh_model_with_other_shapes() -> None:
    model = tiny_model()
    fresh = WignerKernelModel(TINY, [1, 6, 8])
    fresh.load_state_dict(model.state_dict(), strict=True)
    graph = atoms_to_graph(ethanol(), TINY.cutoff, torch.float64)
    assert torch.equal(fresh(graph), model(graph))
    assert fresh.support_vectors.shape == model.support_vectors.shape


def test_float64_only() -> None:
    assert WignerKernelModel.supported_dtypes == (torch.float64,)
    assert tiny_model().dtype == torch.float64
