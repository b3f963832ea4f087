"""The one place derivatives are taken: energies → forces, stress and Hessians.

Stress uses the strain trick. A symmetric strain ε (zero-valued, differentiated) deforms
positions and cell together, r → r (I + ε) and cell → cell (I + ε) in ASE's row-vector
convention; then σ = (1/V) ∂E/∂ε at ε = 0. The antisymmetric part of a general strain
is a rotation, so only the symmetrized strain enters.

Per-atom energies are cast to float64 before the composition baseline is added and the
sum per system is taken, so large cells do not lose energy resolution in float32.
"""

from __future__ import annotations

import dataclasses

import torch

from .graph import AtomicGraph
from .models.base import EnergyModel
from .nn.scatter import scatter_sum

__all__ = ["Prediction", "evaluate", "hessian"]


@dataclasses.dataclass(frozen=True)
class Prediction:
    """What :func:`evaluate` returns.

    Attributes:
        energy: (n_systems,) float64, eV. Total energy of each system.
        energies: (n_atoms,) float64, eV. Per-atom energies (baseline included).
        forces: (n_atoms, 3) in the graph's dtype, eV/Å, or None if not requested.
        stress: (n_systems, 3, 3) in the graph's dtype, eV/Å³, or None.
    """

    energy: torch.Tensor
    energies: torch.Tensor
    forces: torch.Tensor | None = None
    stress: torch.Tensor | None = None


def _strained(graph: AtomicGraph, strain: torch.Tensor) -> AtomicGraph:
    symmetric = 0.5 * (strain + strain.transpose(1, 2))
    atom_strain = symmetric[graph.system_index]
    positions = graph.positions + torch.einsum(
        "ni,nij->nj", graph.positions, atom_strain
    )
    cell = graph.cell + torch.bmm(graph.cell, symmetric)
    return graph.replace(positions=positions, cell=cell)


def _atom_energies(model: EnergyModel, graph: AtomicGraph) -> torch.Tensor:
    baseline = model.composition_energies[model.species(graph)]
    return model(graph).to(torch.float64) + baseline


def _check_stress_possible(graph: AtomicGraph) -> None:
    if not bool(graph.pbc.all()):
        raise ValueError(
            "stress is defined only for systems periodic in all three directions; "
            f"got pbc={graph.pbc.tolist()}"
        )


def evaluate(
    model: EnergyModel,
    graph: AtomicGraph,
    *,
    forces: bool = True,
    stress: bool = False,
    training: bool = False,
) -> Prediction:
    """Energies and, by one backward pass, forces and stress of every system.

    Args:
        model: any :class:`EnergyModel`, on the graph's device and dtype.
        graph: one system or a batch.
        forces: compute F = −∂E/∂r.
        stress: compute σ = (1/V) ∂E/∂ε (every system must be 3-D periodic).
        training: keep the autograd graph of forces and stress (``create_graph``) so
            a loss on them can be differentiated with respect to the parameters.

    Returns:
        The :class:`Prediction`.
    """
    if stress:
        _check_stress_possible(graph)
    if not (forces or stress or training):
        with torch.no_grad():
            energies = _atom_energies(model, graph)
        energy = scatter_sum(energies, graph.system_index, graph.n_systems)
        return Prediction(energy=energy, energies=energies)
    positions = graph.positions.detach().requires_grad_(forces or stress)
    inputs = [positions]
    strained = graph.replace(positions=positions)
    if stress:
        strain = torch.zeros_like(graph.cell, requires_grad=True)
        strained = _strained(strained, strain)
        inputs.append(strain)
    energies = _atom_energies(model, strained)
    energy = scatter_sum(energies, graph.system_index, graph.n_systems)
    if not (forces or stress):
        return Prediction(energy=energy, energies=energies)
    gradients = torch.autograd.grad(energy.sum(), inputs, create_graph=training)
    prediction_stress = None
    if stress:
        volume = torch.linalg.det(graph.cell).abs()
        prediction_stress = gradients[1] / volume[:, None, None]
    return Prediction(
        energy=energy if training else energy.detach(),
        energies=energies if training else energies.detach(),
        forces=-gradients[0] if forces else None,
        stress=prediction_stress,
    )


def hessian(
    model: EnergyModel, graph: AtomicGraph, chunk_size: int = 32
) -> torch.Tensor:
    """Second derivatives ∂²E/∂r_a∂r_b of the total energy, shape (3N, 3N), eV/Å².

    Rows are obtained by a second backward pass through the forces, ``chunk_size``
    rows at a time (batched vector-Jacobian products), so memory grows with the
    chunk, not with 3N.

    Args:
        model: the model, on the graph's device and dtype.
        graph: usually one system; for a batch the result is block diagonal.
        chunk_size: rows per backward pass; lower it if memory runs out.

    Returns:
        (3 n_atoms, 3 n_atoms) tensor in the graph's dtype, symmetric up to rounding.
        Coordinates are ordered atom-major: (atom 0 x, y, z, atom 1 x, ...).
    """
    positions = graph.positions.detach().requires_grad_(True)
    energy = _atom_energies(model, graph.replace(positions=positions)).sum()
    (gradient,) = torch.autograd.grad(energy, positions, create_graph=True)
    gradient = gradient.reshape(-1)
    size = gradient.shape[0]
    rows = []
    for start in range(0, size, chunk_size):
        stop = min(start + chunk_size, size)
        selectors = torch.zeros(
            stop - start, size, dtype=gradient.dtype, device=gradient.device
        )
        selectors[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
        (block,) = torch.autograd.grad(
            gradient, positions, selectors, retain_graph=True, is_grads_batched=True
        )
        rows.append(block.reshape(stop - start, size))
    return torch.cat(rows)
