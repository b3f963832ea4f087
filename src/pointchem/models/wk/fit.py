"""Sparse (projected-process) kernel regression of a WK model on energies and forces.

With M support environments X_m, the kernel rows of structure s are
K_E[s, m] = Σ_{i∈s} K(A_i, X_m) (energies) and K_F[(a, x), m] = −∂K_E[s, m]/∂r_{a,x}
(forces). The weights w (eV) solve, in float64,

    (K_MM + K_NMᵀ Λ⁻¹ K_NM) w = K_NMᵀ Λ⁻¹ y,

Λ = diag(σ_E² n_s for energy rows, σ_F² for force rows), y = reference energies
minus the composition baseline and reference forces. We never form the normal
equations: with K_MM + εI = L Lᵀ (Cholesky, ε grown tenfold until it succeeds),
w is the least-squares solution of the stacked system [Λ^(−½) K_NM; Lᵀ] w ≈
[Λ^(−½) y; 0] (LAPACK gelsd, SVD-based), whose condition number is the square root
of the normal equations'.

With ``hypers.dipole`` the dipole head is fitted afterwards on the same support and
body-order weights (:func:`~pointchem.models.wk.dipole_fit.fit_dipole`).

Kernel rows are computed once per body order ν; the hyperparameter search
(α of the "kernel_exp" mixture, σ_E, σ_F) on the validation set repeats only the
solve. Force rows come from one backward pass per ν over *per-pair copies* of the
neighbour vectors: each copy feeds a single kernel value, so the gradient of the
sum is every pair's own gradient (no Jacobian loop over outputs).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

import torch

from ..._progress import ProgressLine
from ...graph import AtomicGraph, batch_graphs, edge_vectors
from .dipole_fit import fit_dipole
from .hypers import WKHypers
from .model import WignerKernelModel
from .regression import Candidate, KernelRows, candidates, chosen_hypers, score
from .sparse import (
    Environments,
    body_order_kernels,
    farthest_point_sampling,
    graph_environments,
    same_centre_pairs,
)

__all__ = [
    "Reference",
    "fit_wigner_kernel",
    "kernel_rows",
    "select_support",
    "support_kernel",
]

logger = logging.getLogger(__name__)

Reference = tuple[AtomicGraph, float, torch.Tensor | None]
"""One training structure: its graph (float64), total energy (eV) and forces
((n_atoms, 3) eV/Å, or None)."""

PAIRS_PER_CHUNK = 2048
"""Environment pairs per autograd pass of :func:`kernel_rows` (bounds memory)."""


def select_support(
    model: WignerKernelModel, environments: Environments, progress: bool = False
) -> Environments:
    """Up to ``hypers.n_support`` environments per centre species, by FPS.

    Args:
        model: supplies the hypers and the species.
        environments: candidate environments (e.g. every training atom).
        progress: show a progress line per species.

    Returns:
        The chosen environments, species by species, without the ``neighbours``
        table and with the neighbour padding trimmed to the longest chosen one.
    """
    hypers = model.hypers
    chosen = []
    for number in model.atomic_numbers:
        index = torch.nonzero(environments.centres == number).squeeze(1)
        if index.numel() == 0:
            continue
        label = f"WK farthest-point sampling (Z={number})"
        total = min(hypers.n_support, index.numel())
        with ProgressLine(total, label, enabled=progress) as line:
            picked = farthest_point_sampling(
                environments.select(index),
                hypers.n_support,
                hypers,
                hypers.fps_body_order,
                on_pick=line.advance,
            )
        chosen.append(index[picked])
    support = environments.select(torch.cat(chosen))
    width = max(1, int((support.species >= 0).sum(dim=1).max()))
    order = torch.argsort((support.species < 0).to(torch.int8), dim=1, stable=True)
    vectors = torch.gather(support.vectors, 1, order[..., None].expand(-1, -1, 3))
    species = torch.gather(support.species, 1, order)
    return Environments(vectors[:, :width], species[:, :width], support.centres)


def support_kernel(model: WignerKernelModel, support: Environments) -> torch.Tensor:
    """K_MM per body order, (ν_max + 1, M, M), row ν in Å^(−3ν), no gradient."""
    m = len(support)
    with torch.no_grad():
        pairs = same_centre_pairs(support.centres, support.centres)
        values = body_order_kernels(support, support, pairs, model.hypers)
        result = values.new_zeros(values.shape[0], m * m)
        result[:, pairs[:, 0] * m + pairs[:, 1]] = values
    return result.view(-1, m, m)


def _baseline(model: WignerKernelModel, graph: AtomicGraph) -> torch.Tensor:
    """Composition baseline of each structure of ``graph``, (n_systems,) eV."""
    per_atom = model.composition_energies[model.checked_species(graph)]
    total = per_atom.new_zeros(graph.n_systems)
    return total.index_add(0, graph.system_index, per_atom)


def kernel_rows(
    model: WignerKernelModel,
    structures: Sequence[Reference],
    support: Environments,
    progress: bool = False,
    label: str = "WK kernel rows",
) -> KernelRows:
    """Energy and force kernel rows of ``structures`` against ``support``, per ν.

    Args:
        model: supplies hypers and the composition baseline.
        structures: (graph, energy, forces) of each structure; forces are used
            only if every structure has them.
        support: the M support environments.
        progress: show a progress line over chunks of environment pairs.
        label: text of the progress line.
    """
    graph = batch_graphs([g for g, _, _ in structures])
    m = len(support)
    with_forces = all(f is not None for _, _, f in structures)
    with torch.no_grad():
        vectors = edge_vectors(graph)
        environments = graph_environments(graph, vectors, model.cutoff)
        pairs = same_centre_pairs(environments.centres, support.centres)
    orders = model.hypers.nu_max + 1
    energy = vectors.new_zeros(orders, graph.n_systems * m)
    derivative = (
        vectors.new_zeros(orders, graph.n_atoms * 3 * m) if with_forces else None
    )
    n_chunks = max(1, math.ceil(pairs.shape[0] / PAIRS_PER_CHUNK))
    with ProgressLine(n_chunks, label, enabled=progress) as line:
        for start in range(0, pairs.shape[0], PAIRS_PER_CHUNK):
            chunk = pairs[start : start + PAIRS_PER_CHUNK]
            _chunk_rows(model, environments, support, chunk, graph, energy, derivative)
            line.advance()
    reference = torch.tensor([e for _, e, _ in structures], dtype=vectors.dtype)
    n_atoms = torch.bincount(graph.system_index, minlength=graph.n_systems)
    forces, force_targets = None, None
    if derivative is not None:
        forces = -derivative.view(orders, graph.n_atoms * 3, m)
        force_targets = torch.cat([f.reshape(-1) for _, _, f in structures])  # type: ignore[union-attr]
        force_targets = force_targets.to(vectors)
    return KernelRows(
        energy=energy.view(orders, graph.n_systems, m),
        forces=forces,
        energy_targets=reference.to(vectors.device) - _baseline(model, graph),
        force_targets=force_targets,
        n_atoms=n_atoms.to(vectors),
    )


def _chunk_rows(
    model: WignerKernelModel,
    environments: Environments,
    support: Environments,
    chunk: torch.Tensor,
    graph: AtomicGraph,
    energy: torch.Tensor,
    derivative: torch.Tensor | None,
) -> None:
    """Add one chunk of pairs (atom, support) to the flat energy/derivative rows."""
    m = len(support)
    atoms, columns = chunk[:, 0], chunk[:, 1]
    mine = environments.select(atoms)
    copies = mine.vectors.detach().clone().requires_grad_(derivative is not None)
    local = torch.stack([torch.arange(len(chunk), device=chunk.device), columns], 1)
    with torch.set_grad_enabled(derivative is not None):
        own = Environments(copies, mine.species, mine.centres)
        kernels = body_order_kernels(own, support, local, model.hypers)
    energy.index_add_(1, graph.system_index[atoms] * m + columns, kernels.detach())
    if derivative is None:
        return
    assert mine.neighbours is not None
    neighbours = mine.neighbours
    valid = neighbours >= 0
    xyz = torch.arange(3, device=chunk.device)
    centre_index = ((atoms[:, None] * 3 + xyz) * m + columns[:, None]).reshape(-1)
    slot_index = (neighbours[..., None].clamp(min=0) * 3 + xyz) * m
    slot_index = (slot_index + columns[:, None, None])[valid].reshape(-1)
    orders = kernels.shape[0]
    for nu in range(1, orders):
        (gradient,) = torch.autograd.grad(
            kernels[nu].sum(), copies, retain_graph=nu < orders - 1
        )
        derivative[nu].index_add_(0, centre_index, -gradient.sum(dim=1).reshape(-1))
        derivative[nu].index_add_(0, slot_index, gradient[valid].reshape(-1))


def _fitted_model(
    model: WignerKernelModel,
    candidate: Candidate,
    support: Environments,
) -> WignerKernelModel:
    """A fresh model with the chosen hypers, the baseline, support and weights."""
    fitted = WignerKernelModel(
        chosen_hypers(model.hypers, candidate), model.atomic_numbers
    )
    fitted = fitted.to(device=model.weights.device)
    with torch.no_grad():
        fitted.composition_energies.copy_(model.composition_energies)
    assert candidate.weights is not None
    fitted.set_support(support, candidate.weights)
    return fitted


def _search(
    hypers: WKHypers, k_mm: torch.Tensor, train: KernelRows, validation: KernelRows
) -> Candidate:
    """Solve at every grid point; the one with the lowest validation metric."""
    best = Candidate(None, math.nan, math.nan)
    for candidate in candidates(hypers, k_mm):
        chosen = chosen_hypers(hypers, candidate)
        mixture = k_mm.new_tensor(chosen.weights())
        scored = score(candidate, mixture, k_mm, train, validation, chosen.jitter)
        logger.info(
            "WK α=%s σ_E=%.3g σ_F=%.3g: validation E %.4g meV/atom, F %.4g meV/Å",
            scored.alpha,
            scored.energy_regulariser,
            scored.force_regulariser,
            scored.energy_mae * 1e3,
            scored.force_mae * 1e3,
        )
        if scored.metric < best.metric:
            best = scored
    return best


def fit_wigner_kernel(
    model: WignerKernelModel,
    train: Sequence[Reference],
    validation: Sequence[Reference],
    *,
    progress: bool = True,
    train_dipoles: Sequence[torch.Tensor] | None = None,
    validation_dipoles: Sequence[torch.Tensor] | None = None,
) -> tuple[WignerKernelModel, dict[str, float]]:
    """Fit a WK model: FPS support, kernel rows, grid search, projected-process solve.

    The composition baseline of ``model`` must be fitted already (it is subtracted
    from the reference energies). Everything runs in float64 on the model's device
    (the least-squares solve on the CPU).

    Args:
        model: a float64 model (its support, if any, is replaced).
        train: (graph, energy eV, forces eV/Å or None) of the training structures.
        validation: the same for the structures that choose the hyperparameters.
        progress: show progress lines on stderr.
        train_dipoles: reference dipole (3,) e·Å of each training structure;
            required when ``model.hypers.dipole`` (else ignored).
        validation_dipoles: the same for the validation structures.

    Returns:
        The fitted model (hypers with the chosen α and regularisers), and a report:
        validation energy MAE per atom (meV) and force MAE (meV/Å), the number of
        support environments, the chosen values and the wall time (s); with a
        dipole head also its validation MAEs (e·Å) and σ_μ.
    """
    if model.dtype != torch.float64:
        raise ValueError(f"the WK fit runs in float64, the model is {model.dtype}")
    if not model.hypers.dipole:
        train_dipoles = validation_dipoles = None
    elif train_dipoles is None or validation_dipoles is None:
        raise ValueError(
            "hypers.dipole is true: the fit needs train_dipoles and "
            "validation_dipoles (reference dipoles in e·Å; data.dipole_key)"
        )
    start = time.perf_counter()
    with torch.no_grad():
        graph = batch_graphs([g for g, _, _ in train])
        environments = graph_environments(graph, edge_vectors(graph), model.cutoff)
        support = select_support(model, environments, progress)
    k_mm = support_kernel(model, support)
    train_rows = kernel_rows(model, train, support, progress, "WK kernel rows (train)")
    validation_rows = kernel_rows(
        model, validation, support, progress, "WK kernel rows (validation)"
    )
    best = _search(model.hypers, k_mm, train_rows, validation_rows)
    fitted = _fitted_model(model, best, support)
    dipole_report: dict[str, float] = {}
    if train_dipoles is not None and validation_dipoles is not None:
        fitted, dipole_report = fit_dipole(
            fitted,
            ([g for g, _, _ in train], train_dipoles),
            ([g for g, _, _ in validation], validation_dipoles),
            progress=progress,
        )
    report = {
        "validation_energy_per_atom_mae": best.energy_mae * 1e3,
        "validation_forces_mae": best.force_mae * 1e3,
        "n_support": float(len(support)),
        "energy_regulariser": best.energy_regulariser,
        "force_regulariser": best.force_regulariser,
        **dipole_report,
        "fit_wall_time_s": time.perf_counter() - start,
    }
    if best.alpha is not None:
        report["mixture_alpha"] = best.alpha
    return fitted, report
