"""The ν = 1 Wigner kernel on ragged neighbour lists (no padding, same species only).

Same formula and conventions as :mod:`pointchem.models.wk.density_kernel` (whose
:func:`~pointchem.models.wk.nu1_kernel` is a thin wrapper around this module):

    k_l(A, B)_{m m′} = Σ_{j j′: Z_j = Z′_j′} R_l(r_j, r′_j′) Y_lm(r̂_j) Y_lm′(r̂′_j′),
    R_l(r, r′) = 32π³/(2l+1) (A/2π)^{3/2} exp(−A(r − r′)²/2) ĩ_l(A r r′) f_c(r) f_c(r′),

A = 1/(σ(r)² + σ(r′)²). Environments are stored flat, one row per neighbour
(:class:`NeighbourTerms`), with everything that depends on one neighbour alone
(r, σ², f_c, Y_lm) computed once; a batch of environment pairs is expanded into the
list of its *same-species* neighbour pairs by integer index arithmetic
(:func:`neighbour_pairs`), so padding and different-species neighbour pairs cost
nothing. The blocks are then two scatter-sums: over the neighbours j′ of B for each
(pair, j), then over j. Everything is plain torch on the inputs' device and dtype, so
autograd gives forces and second derivatives.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ...nn.cutoffs import cosine_switch
from .density_kernel import DensitySettings, gaussian_width
from .spherical import scaled_spherical_bessel_i, spherical_harmonics

__all__ = [
    "NeighbourPairs",
    "NeighbourTerms",
    "neighbour_pairs",
    "neighbour_terms",
    "ragged_nu1_kernel",
    "table_terms",
]


@dataclasses.dataclass(frozen=True)
class NeighbourTerms:
    """Per-neighbour terms of a batch of environments, one row per neighbour.

    Rows are sorted by (environment, species code); ``starts``/``counts`` locate the
    neighbours of environment e and species code s at rows
    ``starts[e·S + s] : starts[e·S + s] + counts[e·S + s]``.

    Attributes:
        n_env: number of environments (some may have no neighbours).
        n_species: S, number of species codes (codes are 0..S−1).
        distances: (N,) r in Å.
        variances: (N,) σ(r)² in Å².
        switch: (N,) f_c(r), dimensionless.
        harmonics: per l, (N, 2l+1) real Y_lm(r̂), dimensionless.
        starts: (n_env · S,) int64 first row of each (environment, species) group.
        counts: (n_env · S,) int64 number of rows of each group.
    """

    n_env: int
    n_species: int
    distances: torch.Tensor
    variances: torch.Tensor
    switch: torch.Tensor
    harmonics: list[torch.Tensor]
    starts: torch.Tensor
    counts: torch.Tensor


def neighbour_terms(
    vectors: torch.Tensor,
    owner: torch.Tensor,
    codes: torch.Tensor,
    n_env: int,
    n_species: int,
    settings: DensitySettings,
) -> NeighbourTerms:
    """Flat per-neighbour terms of environments given as a neighbour list.

    Args:
        vectors: (N, 3) non-zero neighbour vectors r_j − r_i in Å (autograd flows).
        owner: (N,) int64 environment of each neighbour, in [0, n_env).
        codes: (N,) int64 species code of each neighbour, in [0, n_species).
        n_env: number of environments.
        n_species: number of species codes, ≥ 1.
        settings: density parameters.

    Returns:
        The terms, rows reordered by (environment, species code).
    """
    key = owner * n_species + codes
    order = torch.argsort(key, stable=True)
    ordered = vectors[order]
    counts = torch.bincount(key, minlength=n_env * n_species)
    distances = torch.linalg.vector_norm(ordered, dim=-1)
    return NeighbourTerms(
        n_env=n_env,
        n_species=n_species,
        distances=distances,
        variances=gaussian_width(distances, settings) ** 2,
        switch=cosine_switch(distances, settings.cutoff, settings.cutoff_width),
        harmonics=spherical_harmonics(ordered, settings.l_max),
        starts=torch.cumsum(counts, 0) - counts,
        counts=counts,
    )


def table_terms(
    vectors: torch.Tensor,
    species: torch.Tensor,
    code_of: torch.Tensor,
    n_species: int,
    settings: DensitySettings,
) -> NeighbourTerms:
    """Flat per-neighbour terms of padded neighbour tables (padding dropped).

    Args:
        vectors: (n_env, n_max, 3) neighbour vectors in Å; padding entries ignored.
        species: (n_env, n_max) int64 atomic numbers, −1 for padding.
        code_of: (Z_max + 1,) int64 species code of each atomic number that occurs.
        n_species: number of species codes.
        settings: density parameters.
    """
    owner, slot = torch.nonzero(species >= 0, as_tuple=True)
    codes = code_of[species[owner, slot]]
    return neighbour_terms(
        vectors[owner, slot], owner, codes, species.shape[0], n_species, settings
    )


@dataclasses.dataclass(frozen=True)
class NeighbourPairs:
    """Same-species neighbour pairs (j of A, j′ of B) of a batch of environment pairs.

    Neighbour pairs are grouped by (environment pair, j): group g holds the pairs of
    neighbour ``group_a[g]`` of A with the same-species neighbours of B.

    Attributes:
        b: (Q,) int64 row of j′ in B's terms, per neighbour pair.
        group: (Q,) int64 group of each neighbour pair (non-decreasing).
        group_a: (G,) int64 row of j in A's terms, per group.
        group_pair: (G,) int64 environment pair of each group (non-decreasing).
    """

    b: torch.Tensor
    group: torch.Tensor
    group_a: torch.Tensor
    group_pair: torch.Tensor


def _expand(sizes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(owner, rank) of the items of consecutive blocks of the given sizes."""
    blocks = torch.arange(sizes.shape[0], device=sizes.device)
    owner = torch.repeat_interleave(blocks, sizes)
    firsts = torch.cumsum(sizes, 0) - sizes
    rank = torch.arange(owner.shape[0], device=sizes.device) - firsts[owner]
    return owner, rank


def neighbour_pairs(
    a: NeighbourTerms, b: NeighbourTerms, pairs: torch.Tensor
) -> NeighbourPairs:
    """Index lists of every same-species neighbour pair of the environment pairs.

    Args:
        a: terms of the environments indexed by ``pairs[:, 0]``.
        b: terms of the environments indexed by ``pairs[:, 1]``, same species codes.
        pairs: (P, 2) int64 environment pairs.

    Returns:
        The neighbour pairs, ordered by environment pair, species, j, j′.
    """
    s = a.n_species
    species = torch.arange(s, device=pairs.device)
    key_a = (pairs[:, 0, None] * s + species).reshape(-1)  # (P·S,) blocks
    key_b = (pairs[:, 1, None] * s + species).reshape(-1)
    n_b = b.counts[key_b]
    n_a = a.counts[key_a] * (n_b > 0)
    block, rank_a = _expand(n_a)  # one group per (block, j)
    group_size = n_b[block]
    group, rank_b = _expand(group_size)
    return NeighbourPairs(
        b=b.starts[key_b][block][group] + rank_b,
        group=group,
        group_a=a.starts[key_a][block] + rank_a,
        group_pair=torch.div(block, s, rounding_mode="floor"),
    )


def _radial(
    a: NeighbourTerms, b: NeighbourTerms, index: NeighbourPairs, l_max: int
) -> torch.Tensor:
    """R_l of every neighbour pair, (Q, l_max + 1) in Å⁻³ (module docstring)."""
    rows_a = index.group_a[index.group]
    precision = 1.0 / (a.variances[rows_a] + b.variances[index.b])
    distance_a = a.distances[rows_a]
    distance_b = b.distances[index.b]
    difference = distance_a - distance_b
    gaussian = (precision / (2.0 * math.pi)) ** 1.5 * torch.exp(
        -0.5 * precision * difference * difference
    )
    radial = gaussian * (a.switch[rows_a] * b.switch[index.b])
    bessel = scaled_spherical_bessel_i(precision * distance_a * distance_b, l_max)
    degrees = torch.arange(l_max + 1, dtype=radial.dtype, device=radial.device)
    return radial[:, None] * bessel * (32.0 * math.pi**3 / (2 * degrees + 1))


def ragged_nu1_kernel(
    a: NeighbourTerms, b: NeighbourTerms, pairs: torch.Tensor, l_max: int
) -> list[torch.Tensor]:
    """ν = 1 kernel blocks k_l(A_p, B_p) of environment pairs, from flat terms.

    Args:
        a: terms of the environments indexed by ``pairs[:, 0]``.
        b: terms of the environments indexed by ``pairs[:, 1]`` (same species codes,
            dtype and device as ``a``).
        pairs: (P, 2) int64 environment pairs (list only equal centre species).
        l_max: largest degree, ≤ the l_max the terms were built with.

    Returns:
        List of l_max + 1 tensors; entry l is (P, 2l+1, 2l+1) in Å⁻³, rows m of A,
        columns m′ of B. Pairs without same-species neighbours get zero blocks.
    """
    index = neighbour_pairs(a, b, pairs)
    radial = _radial(a, b, index, l_max)
    n_groups, n_pairs = index.group_a.shape[0], pairs.shape[0]
    blocks = []
    for ell in range(l_max + 1):
        weighted = radial[:, ell, None] * b.harmonics[ell][index.b]
        inner = weighted.new_zeros(n_groups, 2 * ell + 1)
        inner = inner.index_add(0, index.group, weighted)  # Σ_j′ R Y(j′)
        outer = a.harmonics[ell][index.group_a][:, :, None] * inner[:, None, :]
        zeros = outer.new_zeros(n_pairs, 2 * ell + 1, 2 * ell + 1)
        blocks.append(zeros.index_add(0, index.group_pair, outer))
    return blocks
