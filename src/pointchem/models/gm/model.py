"""The Gaussian-moment neural network (GM-NN) as an :class:`EnergyModel`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch

from ...graph import AtomicGraph, edge_vectors
from ...nn.cutoffs import cosine_cutoff
from ...nn.mlp import MLP
from ...nn.radial import bessel_basis, gaussian_basis
from ..base import EnergyModel
from .hypers import GMHypers
from .moments import GaussianMoments

__all__ = ["GaussianMomentModel"]

_DENSE_PAIR_LIMIT = 64
"""Largest n_species² · N_R for which all pair types are evaluated on every edge (one
small matmul) before picking the edge's own; beyond it coefficients are gathered per
edge."""


class GaussianMomentModel(EnergyModel):
    r"""Gaussian-moment neural network: atomic energies from Cartesian moments.

    **Radial functions.** For an edge i→j with distance d = |r_ij| (Å), primitive
    basis functions Φ_b(d) (b = 0..N_b−1, :mod:`pointchem.nn.radial`) are contracted
    with learnable species-pair coefficients β (dimensionless, shape
    (n_species, n_species, N_R, N_b), first index the centre's species, second the
    neighbour's) into N_R radial functions

        R_s(d; Z_i, Z_j) = η Σ_b β_{Z_i Z_j s b} Φ_b(d) f_c(d),
        f_c(d) = ½[cos(π d / r_c) + 1] for d < r_c, 0 beyond,

    with η = 1/√N_b and β ~ U(−1, 1) at initialisation for the Gaussian basis, η = 1 and
    β ~ U(0, 1) for the Bessel basis. R has the unit of Φ (Å^(−1/2) or Å^(−3/2)); edges
    at or beyond r_c contribute exactly zero, with zero slope.

    **Moments.** With n̂_ij = r_ij / d, each atom carries the Cartesian moments
    (shapes per atom (N_R,), (N_R, 3), (N_R, 3, 3), (N_R, 3, 3, 3))

        M⁰_s = Σ_j R_s,  M¹_{s,a} = Σ_j R_s n̂_a,  M²_{s,ab} = Σ_j R_s n̂_a n̂_b,
        M³_{s,abc} = Σ_j R_s n̂_a n̂_b n̂_c.

    Under a rotation Q, n̂ → Q n̂ and a rank-k moment transforms as a rank-k tensor.

    **Invariants.** Contracting every Cartesian index pairwise gives scalars
    G_i (:class:`~pointchem.models.gm.moments.GaussianMoments`): M⁰_s; M¹_s·M¹_t,
    M²_s:M²_t, M³_s⋮M³_t (s ≤ t); tr(M²_s M²_t M²_u) (multisets); M¹_sᵀ M²_u M¹_t
    and M³_s:M³_t:M²_u (s ≤ t, all u); M³_s:M²_t·M¹_u (all s, t, u) — 360 features
    for N_R = 5, invariant under rotations and inversion, body order up to four.

    **Energy.** One network for all species (the species enter through β):

        E_i = scale_{Z_i} · NN(G_i) + shift_{Z_i}   (eV),

    NN = :class:`~pointchem.nn.mlp.MLP` (360 → hidden_sizes → 1, scaled swish),
    scale starting at 1 and shift at 0 (eV). The composition baseline is added by
    :func:`pointchem.evaluate`, not here.

    Args:
        hypers: the architecture.
        atomic_numbers: elements the model knows.

    Attributes:
        pair_coefficients: (n_species, n_species, N_R, N_b) parameter β.
        descriptor: the moment contraction module.
        readout: the atomic network.
        scale: (n_species,) parameter, multiplies the network output.
        shift: (n_species,) parameter, eV, added per atom.
    """

    supported_dtypes: ClassVar[tuple[torch.dtype, ...]] = (
        torch.float32,
        torch.float64,
    )

    def __init__(self, hypers: GMHypers, atomic_numbers: Sequence[int]):
        super().__init__(hypers, atomic_numbers, hypers.cutoff)
        self.hypers: GMHypers = hypers
        n_species = self.n_species
        shape = (n_species, n_species, hypers.n_radial, hypers.n_basis)
        self.pair_coefficients = torch.nn.Parameter(torch.empty(shape))
        if hypers.radial_basis == "gaussian":
            self.coefficient_norm = 1.0 / math.sqrt(hypers.n_basis)
            torch.nn.init.uniform_(self.pair_coefficients, -1.0, 1.0)
        else:
            self.coefficient_norm = 1.0
            torch.nn.init.uniform_(self.pair_coefficients, 0.0, 1.0)
        self.descriptor = GaussianMoments(hypers.n_radial)
        sizes = [self.descriptor.n_features, *hypers.hidden_sizes, 1]
        self.readout = MLP(sizes)
        self.scale = torch.nn.Parameter(torch.ones(n_species))
        self.shift = torch.nn.Parameter(torch.zeros(n_species))

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies without the composition baseline, (n_atoms,), eV.

        Raises:
            ValueError: the graph contains an element the model does not know.
        """
        species = self._checked_species(graph)
        centre, neighbor = graph.edge_index
        distances, unit = _distances_and_directions(edge_vectors(graph))
        pair = species[centre] * self.n_species + species[neighbor]
        radial = self.radial_functions(distances, pair)
        features = self.descriptor(radial, unit, centre, graph.n_atoms)
        atomic = self.readout(features).squeeze(-1)
        return self.scale[species] * atomic + self.shift[species]

    def radial_functions(
        self, distances: torch.Tensor, pair: torch.Tensor
    ) -> torch.Tensor:
        """Species-pair radial functions R_s of every edge.

        Args:
            distances: (n_edges,) Å.
            pair: (n_edges,) int64, species(i) · n_species + species(j).

        Returns:
            (n_edges, N_R), unit of the primitive basis; exactly 0 for d ≥ r_c.
        """
        hypers = self.hypers
        if hypers.radial_basis == "gaussian":
            basis = gaussian_basis(
                distances, hypers.n_basis, hypers.basis_r_min, hypers.cutoff
            )
        else:
            basis = bessel_basis(distances, hypers.n_basis, hypers.cutoff)
        weight = cosine_cutoff(distances, hypers.cutoff) * self.coefficient_norm
        basis = basis * weight.unsqueeze(-1)
        n_pairs = self.n_species**2
        coefficients = self.pair_coefficients.reshape(n_pairs, hypers.n_radial, -1)
        if n_pairs * hypers.n_radial <= _DENSE_PAIR_LIMIT:
            every_pair = basis @ coefficients.permute(2, 0, 1).reshape(
                -1, n_pairs * hypers.n_radial
            )
            every_pair = every_pair.reshape(-1, n_pairs, hypers.n_radial)
            index = pair.view(-1, 1, 1).expand(-1, 1, hypers.n_radial)
            return every_pair.gather(1, index).squeeze(1)
        return torch.einsum("esb,eb->es", coefficients[pair], basis)

    def _checked_species(self, graph: AtomicGraph) -> torch.Tensor:
        species = self.species(graph)
        if bool((species < 0).any()):
            unknown = sorted(set(graph.atomic_numbers[species < 0].tolist()))
            raise ValueError(
                f"atomic numbers {unknown} are unknown to this GM model, which knows "
                f"{list(self.atomic_numbers)}"
            )
        return species


def _distances_and_directions(
    vectors: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lengths (n_edges,) Å and unit vectors (n_edges, 3) of edge vectors.

    A zero vector gets length 0 and direction 0 with finite gradients (no NaN), by
    evaluating the square root and the division only on nonzero lengths.
    """
    squared = (vectors * vectors).sum(-1)
    nonzero = squared > 0
    safe = torch.sqrt(torch.where(nonzero, squared, torch.ones_like(squared)))
    distances = torch.where(nonzero, safe, torch.zeros_like(safe))
    return distances, vectors / safe.unsqueeze(-1)
