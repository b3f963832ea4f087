"""Atomic environments as padded neighbour tables, and body-ordered kernels of them.

An environment is stored the way the basis-free ν = 1 kernel needs it
(:func:`~pointchem.models.wk.nu1_kernel`): the vectors to its neighbours, their
atomic numbers and the centre's atomic number. These tables serve three users: the
model (atoms of a graph against its support environments), farthest-point sampling
of support environments, and the fit (kernel rows of energies and forces).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from ...graph import AtomicGraph
from ...nn.neighbors import neighbor_slots
from .density_kernel import DensitySettings, nu1_kernel
from .hypers import WKHypers
from .iteration import invariant_kernels
from .ragged import NeighbourTerms, neighbour_terms

__all__ = [
    "Environments",
    "body_order_kernels",
    "farthest_point_sampling",
    "graph_environments",
    "graph_terms",
    "same_centre_pairs",
]


@dataclasses.dataclass(frozen=True)
class Environments:
    """A batch of atomic environments as padded neighbour tables.

    Attributes:
        vectors: (n_env, n_max, 3) float, Å; r_j − r_i of each neighbour j of the
            centre i; padding entries are zero vectors.
        species: (n_env, n_max) int64 atomic number of each neighbour, −1 for padding.
        centres: (n_env,) int64 atomic number of each centre atom.
        neighbours: (n_env, n_max) int64 index of each neighbour atom in the graph the
            environments come from (−1 for padding), or None for stored environments.
    """

    vectors: torch.Tensor
    species: torch.Tensor
    centres: torch.Tensor
    neighbours: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.centres.shape[0])

    def select(self, index: torch.Tensor) -> Environments:
        """The environments ``index`` (n,) int64, in that order."""
        neighbours = None if self.neighbours is None else self.neighbours[index]
        return Environments(
            self.vectors[index], self.species[index], self.centres[index], neighbours
        )


def graph_environments(
    graph: AtomicGraph, vectors: torch.Tensor, cutoff: float
) -> Environments:
    """Every atom's environment from a graph's edges, differentiable in ``vectors``.

    Edges at or beyond ``cutoff`` (a neighbour list with a skin) are dropped; they
    would contribute exactly zero through the cosine switch.

    Args:
        graph: the structures (full neighbour list).
        vectors: (n_edges, 3) edge vectors of ``graph`` in Å (``edge_vectors``),
            carrying whatever autograd history forces and stress need.
        cutoff: r_c in Å.

    Returns:
        One environment per atom, in atom order, with the ``neighbours`` table.
    """
    n_atoms = graph.n_atoms
    with torch.no_grad():
        inside = (vectors * vectors).sum(dim=1) < cutoff**2
    edges = torch.nonzero(inside).squeeze(1)
    centre, neighbour = graph.edge_index[:, edges]
    slots, width = neighbor_slots(centre, n_atoms)
    table = vectors.new_zeros(n_atoms * width, 3).index_copy(0, slots, vectors[edges])
    padding = torch.full((n_atoms * width,), -1, dtype=torch.int64, device=graph.device)
    species = padding.index_copy(0, slots, graph.atomic_numbers[neighbour])
    neighbours = padding.index_copy(0, slots, neighbour)
    return Environments(
        table.view(n_atoms, width, 3),
        species.view(n_atoms, width),
        graph.atomic_numbers,
        neighbours.view(n_atoms, width),
    )


def graph_terms(
    graph: AtomicGraph,
    vectors: torch.Tensor,
    code_of: torch.Tensor,
    n_species: int,
    settings: DensitySettings,
) -> NeighbourTerms:
    """Every atom's environment as flat per-neighbour terms (ragged, no padding).

    Edges at or beyond the cutoff are dropped as in :func:`graph_environments`.

    Args:
        graph: the structures (full neighbour list).
        vectors: (n_edges, 3) edge vectors in Å, with their autograd history.
        code_of: (Z_max + 1,) int64 species code of every atomic number in the graph.
        n_species: number of species codes.
        settings: density parameters (cutoff, widths, l_max).

    Returns:
        Terms of n_atoms environments, environment i being atom i.
    """
    with torch.no_grad():
        inside = (vectors * vectors).sum(dim=1) < settings.cutoff**2
    edges = torch.nonzero(inside).squeeze(1)
    centre, neighbour = graph.edge_index[:, edges]
    codes = code_of[graph.atomic_numbers[neighbour]]
    return neighbour_terms(
        vectors[edges], centre, codes, graph.n_atoms, n_species, settings
    )


def same_centre_pairs(centres_a: torch.Tensor, centres_b: torch.Tensor) -> torch.Tensor:
    """All (a, b) index pairs whose centres have the same atomic number, (P, 2) int64.

    Ordered by a, then b.
    """
    return torch.nonzero(centres_a[:, None] == centres_b[None, :])


def body_order_kernels(
    a: Environments,
    b: Environments,
    pairs: torch.Tensor,
    hypers: WKHypers,
    nu_max: int | None = None,
) -> torch.Tensor:
    """Invariant kernels k^(ν)(A_p, B_p) of body orders ν = 0..ν_max for listed pairs.

    The ν = 1 kernel is the closed form of :func:`~pointchem.models.wk.nu1_kernel`;
    higher orders come from the Wigner iteration with the hypers' λ_max, mode and
    normalisation. Plain torch: autograd reaches ``a.vectors`` and ``b.vectors``.

    Args:
        a: environments indexed by ``pairs[:, 0]``.
        b: environments indexed by ``pairs[:, 1]``.
        pairs: (P, 2) int64; list only pairs with equal centre species.
        hypers: density and iteration settings.
        nu_max: highest body order, default ``hypers.nu_max``.

    Returns:
        (ν_max + 1, P); row 0 is ones, row ν in Å^(−3ν).
    """
    order = hypers.nu_max if nu_max is None else nu_max
    k_1 = nu1_kernel(
        a.vectors, a.species, b.vectors, b.species, pairs, hypers.density()
    )
    return invariant_kernels(
        k_1,
        order,
        hypers.lambda_max,
        **hypers.iteration_options(),
    )


def _normalised_kernel(
    candidates: Environments,
    chosen: int,
    self_kernels: torch.Tensor,
    hypers: WKHypers,
    body_order: int,
) -> torch.Tensor:
    """k(a, X)/√(k(a, a) k(X, X)) of every candidate a with candidate X = ``chosen``."""
    n = len(candidates)
    index = torch.arange(n, device=self_kernels.device)
    pairs = torch.stack([index, torch.zeros_like(index)], dim=1)
    single = candidates.select(torch.tensor([chosen], device=self_kernels.device))
    kernel = body_order_kernels(candidates, single, pairs, hypers, body_order)
    return kernel[body_order] / torch.sqrt(self_kernels * self_kernels[chosen])


def farthest_point_sampling(
    candidates: Environments,
    n_points: int,
    hypers: WKHypers,
    body_order: int,
    on_pick: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Indices of up to ``n_points`` mutually distant environments of one species.

    Greedy farthest-point sampling on the distance of the normalised invariant
    kernel of order ``body_order``, d²(a, b) = 2 − 2 k(a, b)/√(k(a, a) k(b, b))
    (0 for identical environments, up to 2). It starts from the environment with the
    largest self-kernel (the most crowded one) and stops early when every remaining
    candidate duplicates a chosen one (d² ≤ 1e−12), so the support holds no
    duplicates and K_MM stays positive definite.

    Args:
        candidates: environments, all with the same centre species.
        n_points: how many to choose, ≥ 1.
        hypers: density and iteration settings.
        body_order: ν ∈ {1, 2} of the kernel.
        on_pick: called after each chosen point (progress reporting).

    Returns:
        (n_chosen,) int64 indices into ``candidates``, in the order chosen.
    """
    n = len(candidates)
    with torch.no_grad():
        diagonal = torch.arange(n, device=candidates.centres.device)
        self_pairs = torch.stack([diagonal, diagonal], dim=1)
        self_kernels = body_order_kernels(
            candidates, candidates, self_pairs, hypers, body_order
        )[body_order]
        # An environment without neighbours has k(a, a) = 0: treat it as distance 2.
        self_kernels = torch.clamp(
            self_kernels, min=torch.finfo(self_kernels.dtype).tiny
        )
        chosen = [int(torch.argmax(self_kernels))]
        if on_pick is not None:
            on_pick()
        distance = torch.full_like(self_kernels, torch.inf)
        while len(chosen) < min(n_points, n):
            similarity = _normalised_kernel(
                candidates, chosen[-1], self_kernels, hypers, body_order
            )
            distance = torch.minimum(distance, 2.0 - 2.0 * similarity)
            best = int(torch.argmax(distance))
            if float(distance[best]) <= 1e-12:
                break
            chosen.append(best)
            if on_pick is not None:
                on_pick()
    return torch.tensor(chosen, dtype=torch.int64, device=candidates.centres.device)
