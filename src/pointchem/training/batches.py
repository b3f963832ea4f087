"""Samples → batched graphs and target tensors on the training device."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..graph import AtomicGraph, atoms_to_graph, batch_graphs
from .data import Sample

__all__ = ["Batch", "BatchMaker"]


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
