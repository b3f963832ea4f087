"""The Gaussian-moment neural network (GM-NN) as an :class:`EnergyModel`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch

from ...graph import AtomicGraph, edge_vectors
from ...nn.cutoffs import cosine_cutoff
from ...nn.mlp import MLP
from ...nn.neighbors import TopologyCache, neighbor_slots
from ...nn.radial import RadialFactors, bessel_factors, gaussian_factors
from ..base import EnergyModel
from .hypers import GMHypers
from .moments import GaussianMoments
from .slots import dense_moments

__all__ = ["GaussianMomentModel", "SpeciesPairRadial"]


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

    **Implementation.** Edges shorter than r_c (a neighbour list may carry a skin)
    are grouped by centre into a (3, n_atoms, K) table of edge vectors
    (:mod:`~pointchem.models.gm.slots`); R and dR/dd come from one set of basis rows
    (:class:`~pointchem.nn.radial.RadialFactors`); moments and contractions have
    hand-written backward passes made of differentiable operations, so forces,
    stress and force training (second derivatives) all work while little fresh
    memory is touched. Results equal the plain definition above to rounding.

    Args:
        hypers: the architecture.
        atomic_numbers: elements the model knows.

    Attributes:
        pair_coefficients: (n_species, n_species, N_R, N_b) parameter β.
        coefficient_norm: η, 1/√N_b (Gaussian basis) or 1 (Bessel basis).
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
        self.topology = TopologyCache()

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies without the composition baseline, (n_atoms,), eV.

        Edges at or beyond the cutoff (a neighbour list with a skin) are dropped
        first; they would contribute exactly zero.

        Raises:
            ValueError: the graph contains an element the model does not know.
        """
        species = self.checked_species(graph)
        n_atoms = graph.n_atoms
        vectors = edge_vectors(graph)
        edges = self._edges_inside(graph, vectors)
        centre, neighbor = graph.edge_index[:, edges]
        slots, width = neighbor_slots(centre, n_atoms)
        # Empty slots hold a vector beyond the cutoff, where R vanishes exactly.
        table = vectors.new_zeros(3, n_atoms * width)
        table[0] = 2.0 * self.cutoff
        table = table.index_copy(1, slots, vectors[edges].T)
        pairs = species[centre] * self.n_species + species[neighbor]
        slot_pairs = torch.zeros_like(table[0], dtype=torch.int64)
        slot_pairs = slot_pairs.index_copy(0, slots, pairs).view(n_atoms, width)
        weights = self.pair_coefficients * self.coefficient_norm
        radial = SpeciesPairRadial(self.radial_factors, self.n_species)
        compressed = dense_moments(
            table.view(3, n_atoms, width), slot_pairs, weights, radial
        )
        atomic = self.readout(self.descriptor(compressed)).squeeze(-1)
        return self.scale[species] * atomic + self.shift[species]

    def _edges_inside(self, graph: AtomicGraph, vectors: torch.Tensor) -> torch.Tensor:
        """Indices of the edges shorter than the cutoff, grouped by centre atom.

        The grouping (a stable sort of the centres) is cached for the graph's
        ``edge_index`` tensor, so calls that only move atoms (a neighbour list with a
        skin, reused across MD steps) skip the sort.
        """
        edge_index = graph.edge_index
        order = self.topology.get(
            edge_index, lambda: torch.sort(edge_index[0], stable=True)[1]
        )
        with torch.no_grad():
            inside = (vectors * vectors).sum(1) < self.cutoff**2
        return order[inside[order]]

    def radial_factors(self, distances: torch.Tensor) -> RadialFactors:
        """Primitive basis times cutoff, Φ_b(d) f_c(d), in factored form.

        Args:
            distances: (n,) Å.

        Returns:
            Factors of the (N_b, n) rows Φ_b f_c and their d-derivatives.
        """
        hypers = self.hypers
        cutoff = hypers.cutoff
        if hypers.radial_basis == "gaussian":
            factors = gaussian_factors(
                distances, hypers.n_basis, hypers.basis_r_min, cutoff
            )
        else:
            factors = bessel_factors(distances, hypers.n_basis, cutoff)
        inside = distances < cutoff
        phase = torch.where(inside, distances, torch.zeros_like(distances))
        envelope_slope = torch.where(
            inside,
            (-0.5 * math.pi / cutoff) * torch.sin(phase * (math.pi / cutoff)),
            torch.zeros_like(distances),
        )
        return factors.times(cosine_cutoff(distances, cutoff), envelope_slope)


class SpeciesPairRadial:
    """R_s = Σ_b w_{p s b} B_b(d), p the species pair (implements ``SlotRadial``).

    B = Φ f_c comes in factored form (:class:`~pointchem.nn.radial.RadialFactors`),
    so R and dR/dd are two small matrix products with the same rows.

    Args:
        factors: d (n,) ↦ factors of B (N_b, n), cutoff included.
        n_species: number of species; pair index p = centre · n_species + neighbour.
    """

    def __init__(
        self, factors: Callable[[torch.Tensor], RadialFactors], n_species: int
    ):
        self.factors = factors
        self.n_species = n_species

    def values(
        self,
        distances: torch.Tensor,
        pairs: torch.Tensor,
        weights: torch.Tensor,
        slopes: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """R (N_R, n), dR/dd if ``slopes`` (else None), and the basis factors.

        Args:
            distances: (n,) Å.
            pairs: (n,) int64 species-pair index.
            weights: (n_species, n_species, N_R, N_b) coefficients w.
            slopes: whether to return dR/dd.
        """
        factors = self.factors(distances)
        n_radial = weights.shape[2]
        flat = weights.reshape(-1, weights.shape[-1])
        index = pairs.expand(1, n_radial, -1)

        def pick(coefficients: torch.Tensor) -> torch.Tensor:
            every_pair = (coefficients @ factors.rows).view(-1, n_radial, len(pairs))
            return every_pair.gather(0, index).squeeze(0)

        plain = pick(flat @ factors.value_map)
        radial = plain * factors.value_scale
        if not slopes:
            return radial, None, factors
        slope = pick(flat @ factors.slope_map) * factors.slope_scale
        return radial, slope + plain * factors.value_slope_scale, factors

    def weight_gradient(
        self, factors: Any, pairs: torch.Tensor, grad_radial: torch.Tensor
    ) -> torch.Tensor:
        """∂L/∂w (n_species, n_species, N_R, N_b) from ∂L/∂R (N_R, n)."""
        n_radial, n_slots = grad_radial.shape
        n_pairs = self.n_species**2
        spread = grad_radial.new_zeros(n_pairs, n_radial, n_slots)
        index = pairs.expand(1, n_radial, -1)
        spread = spread.scatter(0, index, grad_radial.unsqueeze(0))
        scaled = spread.view(-1, n_slots) * factors.value_scale
        grad = (scaled @ factors.rows.T) @ factors.value_map.T
        return grad.view(self.n_species, self.n_species, n_radial, -1)
