"""Sparse (projected-process) regression of the dipole head of a WK model.

The energy fit (:mod:`pointchem.models.wk.fit`) chooses the support environments
X_m and the body-order weights c_ν; the dipole head reuses both. Its unknowns are
one vector w^μ_m ∈ R³ (e·Å) per support environment, flattened to 3M entries
(m, b). With the Cartesian λ = 1 kernels K^(ν)_cart of :mod:`.dipole`, the rows of
structure s are

    D[(s, a), (m, b)] = Σ_ν c_ν Σ_{i∈s} K^(ν)_cart(A_i, X_m)_{ab}     (a, b ∈ x, y, z),

and the weights solve, in float64 and by the stacked least squares of
:func:`~pointchem.models.wk.regression.solve_weights`,

    (K_MM + Dᵀ Λ⁻¹ D) w = Dᵀ Λ⁻¹ y,
    K_MM[(m, a), (m′, b)] = Σ_ν c_ν K^(ν)_cart(X_m, X_m′)_ab,

with y the reference dipoles (e·Å) and Λ = σ_μ² n_s per component of structure s.
K_MM is a symmetric matrix-valued kernel (K(B, A) = K(A, B)ᵀ). σ_μ is chosen on the
validation set from ``hypers.dipole_regulariser_factors``; kernel rows are computed
once per ν, so each grid point costs one mixing and one solve. No derivatives are
needed: the rows are computed without autograd.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence

import torch

from ..._progress import ProgressLine
from ...graph import AtomicGraph, batch_graphs, edge_vectors
from .dipole import vector_kernels
from .model import WignerKernelModel
from .ragged import NeighbourTerms, ragged_nu1_kernel
from .regression import mix, solve_weights
from .sparse import graph_terms, same_centre_pairs

__all__ = ["DipoleRows", "dipole_rows", "dipole_support_kernel", "fit_dipole"]

logger = logging.getLogger(__name__)

PAIRS_PER_CHUNK = 8192
"""Environment pairs per kernel evaluation of the dipole rows (bounds memory)."""


@dataclasses.dataclass(frozen=True)
class DipoleRows:
    """Dipole kernel rows of a set of structures against M supports, per ν.

    Attributes:
        rows: (ν_max + 1, 3 n_structures, 3M), row ν in Å^(−3ν); rows ordered
            (structure, a), columns (m, b), a and b Cartesian x, y, z.
        targets: (3 n_structures,) reference dipoles in e·Å, ordered (structure, a).
        n_atoms: (n_structures,) float, atoms per structure.
    """

    rows: torch.Tensor
    targets: torch.Tensor
    n_atoms: torch.Tensor


def _vector_blocks(
    model: WignerKernelModel,
    a: NeighbourTerms,
    b: NeighbourTerms,
    pairs: torch.Tensor,
) -> torch.Tensor:
    """K^(ν)_cart of environment pairs, (ν_max + 1, P, 3, 3), no gradient."""
    hypers = model.hypers
    k_1 = ragged_nu1_kernel(a, b, pairs, hypers.l_max)
    return vector_kernels(
        k_1,
        hypers.nu_max,
        hypers.lambda_max,
        **hypers.iteration_options(),
    )


def _blocks_to_matrix(blocks: torch.Tensor, n_rows: int, m: int) -> torch.Tensor:
    """(ν+1, n_rows, M, 3, 3) blocks → (ν+1, 3 n_rows, 3M), rows (r, a), cols (m, b)."""
    orders = blocks.shape[0]
    return (
        blocks.view(orders, n_rows, m, 3, 3)
        .permute(0, 1, 3, 2, 4)
        .reshape(orders, 3 * n_rows, 3 * m)
    )


def dipole_support_kernel(model: WignerKernelModel) -> torch.Tensor:
    """K_MM of the dipole head per body order, (ν_max + 1, 3M, 3M), symmetrised."""
    support = model.support()
    m = len(support)
    with torch.no_grad():
        terms = model.support_terms()
        pairs = same_centre_pairs(support.centres, support.centres)
        values = _vector_blocks(model, terms, terms, pairs)
        blocks = values.new_zeros(values.shape[0], m * m, 3, 3)
        blocks[:, pairs[:, 0] * m + pairs[:, 1]] = values
        matrix = _blocks_to_matrix(blocks, m, m)
    return 0.5 * (matrix + matrix.transpose(1, 2))


def dipole_rows(
    model: WignerKernelModel,
    graphs: Sequence[AtomicGraph],
    dipoles: Sequence[torch.Tensor],
    progress: bool = False,
    label: str = "WK dipole rows",
) -> DipoleRows:
    """Dipole kernel rows of ``graphs`` against the model's support, per ν.

    Args:
        model: a WK model with its support (and c_ν) already fitted.
        graphs: one float64 graph per structure.
        dipoles: reference dipole of each structure, (3,) e·Å.
        progress: show a progress line over chunks of environment pairs.
        label: text of the progress line.
    """
    if len(graphs) != len(dipoles):
        raise ValueError(f"{len(graphs)} structures but {len(dipoles)} dipoles")
    graph = batch_graphs(list(graphs))
    m, orders = model.n_support, model.hypers.nu_max + 1
    with torch.no_grad():
        atoms = graph_terms(
            graph,
            edge_vectors(graph),
            model.species_of_atomic_number,
            model.n_species,
            model.hypers.density(),
        )
        support = model.support_terms()
        pairs = same_centre_pairs(graph.atomic_numbers, model.support_centres)
        blocks = graph.positions.new_zeros(orders, graph.n_systems * m, 3, 3)
        n_chunks = max(1, math.ceil(pairs.shape[0] / PAIRS_PER_CHUNK))
        with ProgressLine(n_chunks, label, enabled=progress) as line:
            for start in range(0, pairs.shape[0], PAIRS_PER_CHUNK):
                chunk = pairs[start : start + PAIRS_PER_CHUNK]
                values = _vector_blocks(model, atoms, support, chunk)
                where = graph.system_index[chunk[:, 0]] * m + chunk[:, 1]
                blocks.index_add_(1, where, values)
                line.advance()
    targets = torch.stack([torch.as_tensor(d).reshape(3) for d in dipoles])
    n_atoms = torch.bincount(graph.system_index, minlength=graph.n_systems)
    return DipoleRows(
        rows=_blocks_to_matrix(blocks, graph.n_systems, m),
        targets=targets.to(blocks).reshape(-1),
        n_atoms=n_atoms.to(blocks),
    )


@dataclasses.dataclass(frozen=True)
class DipoleScore:
    """One σ_μ of the grid with its weights and validation errors.

    Attributes:
        regulariser: σ_μ, e·Å per √atom.
        weights: (M, 3) dipole weights, e·Å.
        component_mae: mean |Δμ_a| over structures and components, e·Å.
        vector_mae: mean |Δμ| (length of the error vector) over structures, e·Å.
    """

    regulariser: float
    weights: torch.Tensor
    component_mae: float
    vector_mae: float


def _score(
    regulariser: float,
    mixture: torch.Tensor,
    k_mm: torch.Tensor,
    train: DipoleRows,
    validation: DipoleRows,
    jitter: float,
) -> DipoleScore:
    """Solve for the weights at one σ_μ and score them on validation."""
    scale = (regulariser * torch.sqrt(train.n_atoms)).repeat_interleave(3)
    design = mix(mixture, train.rows) / scale[:, None]
    flat = solve_weights(mix(mixture, k_mm), design, train.targets / scale, jitter)
    error = (mix(mixture, validation.rows) @ flat - validation.targets).view(-1, 3)
    return DipoleScore(
        regulariser=regulariser,
        weights=flat.view(-1, 3),
        component_mae=float(error.abs().mean()),
        vector_mae=float(torch.linalg.vector_norm(error, dim=1).mean()),
    )


def _with_dipole_weights(
    model: WignerKernelModel, best: DipoleScore
) -> WignerKernelModel:
    """A copy of ``model`` with the chosen σ_μ in its hypers and the weights set."""
    hypers = dataclasses.replace(model.hypers, dipole_regulariser=best.regulariser)
    fitted = WignerKernelModel(hypers, model.atomic_numbers)
    fitted = fitted.to(device=model.weights.device)
    fitted.load_state_dict(model.state_dict())
    fitted.set_dipole_weights(best.weights)
    return fitted


def fit_dipole(
    model: WignerKernelModel,
    train: tuple[Sequence[AtomicGraph], Sequence[torch.Tensor]],
    validation: tuple[Sequence[AtomicGraph], Sequence[torch.Tensor]],
    *,
    progress: bool = False,
) -> tuple[WignerKernelModel, dict[str, float]]:
    """Fit the dipole head of a WK model whose energy part is fitted already.

    Args:
        model: a float64 WK model with ``hypers.dipole`` and its support and
            mixture fitted (the energy fit's result).
        train: (graphs, reference dipoles (3,) e·Å) of the training structures.
        validation: the same for the structures that choose σ_μ.
        progress: show progress lines on stderr.

    Returns:
        The model with dipole weights and the chosen σ_μ in its hypers, and a
        report: validation dipole MAE per component and of the error vector's
        length (e·Å), and the chosen σ_μ.

    Raises:
        ValueError: no dipole head, or the model has no support environments.
    """
    if not model.predicts_dipole:
        raise ValueError("fit_dipole needs a model with hypers.dipole true")
    if model.n_support == 0:
        raise ValueError("fit the energy model (support environments) first")
    hypers = model.hypers
    train_rows = dipole_rows(model, *train, progress, "WK dipole rows (train)")
    validation_rows = dipole_rows(
        model, *validation, progress, "WK dipole rows (validation)"
    )
    k_mm = dipole_support_kernel(model)
    mixture = model.mixture()
    best: DipoleScore | None = None
    for factor in hypers.dipole_regulariser_factors:
        scored = _score(
            hypers.dipole_regulariser * factor,
            mixture,
            k_mm,
            train_rows,
            validation_rows,
            hypers.jitter,
        )
        logger.info(
            "WK dipole σ_μ=%.3g: validation MAE %.4g e·Å per component, %.4g e·Å |Δμ|",
            scored.regulariser,
            scored.component_mae,
            scored.vector_mae,
        )
        if best is None or scored.component_mae < best.component_mae:
            best = scored
    assert best is not None
    factors = hypers.dipole_regulariser_factors
    if len(factors) > 1 and best.regulariser in (
        hypers.dipole_regulariser * min(factors),
        hypers.dipole_regulariser * max(factors),
    ):
        logger.warning(
            "WK dipole: the chosen σ_μ=%.3g is at the edge of the grid; widen "
            "dipole_regulariser_factors",
            best.regulariser,
        )
    return _with_dipole_weights(model, best), {
        "validation_dipole_mae": best.component_mae,
        "validation_dipole_vector_mae": best.vector_mae,
        "dipole_regulariser": best.regulariser,
    }
