"""Samples → batched graphs and target tensors on the training device."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..graph import AtomicGraph, atoms_to_graph, batch_graphs
from .data import Sample

__all__ = ["Batch", "BatchMaker", "random_orthogonal"]


def random_orthogonal(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw n random O(3) matrices: Haar-uniform rotations, half of them times −1.

    Args:
        n: how many.
        generator: torch random generator (CPU) for reproducible draws.

    Returns:
        (n, 3, 3) float64; each acts on column vectors, v → Q v.
    """
    gaussian = torch.randn(n, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    q = q * torch.linalg.det(q)[:, None, None]  # now a proper rotation
    flips = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
    return q * flips.to(torch.float64)[:, None, None]


@dataclasses.dataclass(frozen=True)
class Batch:
    """Several structures with their targets.

    Attributes:
        graph: the batched graph.
        energy: (n_systems,) float64, eV.
        atoms_per_system: (n_systems,) float64, atom counts.
        forces: (n_atoms, 3) eV/Å, or None when the data has no forces.
        stress: (n_systems, 3, 3) eV/Å³ (zeros where unknown).
        has_stress: (n_systems,) bool, which systems have a reference stress.
    """

    graph: AtomicGraph
    energy: torch.Tensor
    atoms_per_system: torch.Tensor
    forces: torch.Tensor | None
    stress: torch.Tensor
    has_stress: torch.Tensor

    def rotated(self, orthogonal: torch.Tensor) -> Batch:
        """The same batch with system s rotated (or inverted) by ``orthogonal[s]``.

        Positions, cell vectors and forces transform as vectors, stress as a rank-2
        tensor (Q σ Qᵀ); energies and the neighbor list are unchanged.

        Args:
            orthogonal: (n_systems, 3, 3) orthogonal matrices (acting on column
                vectors), e.g. from :func:`random_orthogonal`.
        """
        graph = self.graph
        q = orthogonal.to(device=graph.device, dtype=graph.dtype)
        per_atom = q[graph.system_index]
        rotated_graph = graph.replace(
            positions=torch.einsum("nkj,nj->nk", per_atom, graph.positions),
            cell=graph.cell @ q.transpose(1, 2),
        )
        forces = self.forces
        if forces is not None:
            forces = torch.einsum("nkj,nj->nk", per_atom, forces)
        stress = q @ self.stress @ q.transpose(1, 2)
        return dataclasses.replace(
            self, graph=rotated_graph, forces=forces, stress=stress
        )


class BatchMaker:
    """Builds each sample's graph once, then assembles batches from indices.

    Args:
        samples: the structures.
        cutoff: neighbor cutoff of the model, Å.
        dtype: float dtype of graphs and force/stress targets.
        device: where batches live.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        cutoff: float,
        dtype: torch.dtype,
        device: torch.device,
    ):
        with_forces = [s.forces is not None for s in samples]
        if any(with_forces) and not all(with_forces):
            missing = samples[with_forces.index(False)].source
            raise ValueError(f"{missing}: no forces, while other structures have them")
        self.samples = list(samples)
        self.has_forces = bool(with_forces and with_forces[0])
        self.dtype = dtype
        self.device = device
        self.graphs = [atoms_to_graph(s.atoms, cutoff, dtype, device) for s in samples]

    def __len__(self) -> int:
        return len(self.samples)

    def batch(self, indices: Sequence[int]) -> Batch:
        """The batch of the samples at ``indices``."""
        chosen = [self.samples[i] for i in indices]
        stress = np.stack(
            [s.stress if s.stress is not None else np.zeros((3, 3)) for s in chosen]
        )
        forces = None
        if self.has_forces:
            all_forces = np.concatenate([s.forces for s in chosen])
            forces = torch.as_tensor(all_forces, dtype=self.dtype, device=self.device)
        return Batch(
            graph=batch_graphs([self.graphs[i] for i in indices]),
            energy=torch.tensor(
                [s.energy for s in chosen], dtype=torch.float64, device=self.device
            ),
            atoms_per_system=torch.tensor(
                [len(s.atoms) for s in chosen], dtype=torch.float64, device=self.device
            ),
            forces=forces,
            stress=torch.as_tensor(stress, dtype=self.dtype, device=self.device),
            has_stress=torch.tensor(
                [s.stress is not None for s in chosen], device=self.device
            ),
        )

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """All samples in batches; shuffled when a generator is given."""
        if generator is None:
            order = list(range(len(self)))
        else:
            order = torch.randperm(len(self), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            yield self.batch(order[start : start + batch_size])
