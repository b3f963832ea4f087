"""A torch Lennard-Jones EnergyModel whose answers ASE already knows.

It reproduces ``ase.calculators.lj.LennardJones`` (both its shifted and its smooth
variants), so the whole pipeline (graph → evaluate → calculator) can be checked
against an independent implementation.
"""

from __future__ import annotations

import dataclasses

import torch

from pointchem.graph import AtomicGraph, edge_vectors
from pointchem.models.base import EnergyModel
from pointchem.nn.scatter import scatter_sum


@dataclasses.dataclass(frozen=True, kw_only=True)
class LJHypers:
    sigma: float = 1.0
    epsilon: float = 1.0
    cutoff: float = 3.0
    smooth: bool = False
    onset: float | None = None  # ASE's ro; default 0.66 * cutoff


class LennardJonesModel(EnergyModel):
    """u(r) = 4ε[(σ/r)¹² − (σ/r)⁶], shifted to 0 at r_c or smoothly switched off.

    Each pair energy is split equally between its two atoms, as in ASE.
    """

    supported_dtypes = (torch.float32, torch.float64)

    def __init__(self, hypers: LJHypers, atomic_numbers: list[int]):
        super().__init__(hypers, atomic_numbers, hypers.cutoff)
        self.onset = hypers.onset if hypers.onset is not None else 0.66 * hypers.cutoff

    def _switch(self, r2: torch.Tensor) -> torch.Tensor:
        rc2, ro2 = self.cutoff**2, self.onset**2
        middle = (rc2 - r2) ** 2 * (rc2 + 2 * r2 - 3 * ro2) / (rc2 - ro2) ** 3
        inside = torch.where(r2 < ro2, torch.ones_like(r2), middle)
        return torch.where(r2 < rc2, inside, torch.zeros_like(r2))

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        hypers = self.hypers
        r2 = edge_vectors(graph).pow(2).sum(dim=1)
        inside = r2 <= self.cutoff**2
        c6 = torch.where(inside, (hypers.sigma**2 / r2) ** 3, torch.zeros_like(r2))
        pair = 4 * hypers.epsilon * (c6**2 - c6)
        if hypers.smooth:
            pair = pair * self._switch(r2)
        else:
            sr6 = (hypers.sigma / self.cutoff) ** 6
            pair = pair - 4 * hypers.epsilon * (sr6**2 - sr6) * inside.to(r2.dtype)
        return 0.5 * scatter_sum(pair, graph.edge_index[0], graph.n_atoms)
