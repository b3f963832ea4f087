"""Cartesian moments of a neighbourhood and their rotation-invariant contractions.

For atom i, radial functions R_s(d_ij) (s = 1..N_R) and unit vectors n̂_ij, the moments
of rank 0..3 are

    M⁰_s = Σ_j R_s,   M¹_{s,a} = Σ_j R_s n̂_a,   M²_{s,ab} = Σ_j R_s n̂_a n̂_b,
    M³_{s,abc} = Σ_j R_s n̂_a n̂_b n̂_c,

and :class:`GaussianMoments` contracts them into the eight families of invariants of
GM-NN (see its docstring). Units: every moment has the unit of R; a feature built from
k moments has the unit of R^k.

Speed: on each edge only the symmetry-distinct monomials of n̂ are formed (1 + 3 + 6 + 10
= 20 per edge instead of 40), summed over neighbours with one ``index_add``, and expanded
to full Cartesian tensors per atom, where the contractions cost little.
"""

from __future__ import annotations

import itertools

import torch

from ...nn.scatter import scatter_sum

__all__ = [
    "GaussianMoments",
    "cartesian_moments",
    "monomial_tables",
    "n_gaussian_moment_features",
    "pair_indices",
    "triple_indices",
]


def n_gaussian_moment_features(n_radial: int) -> int:
    """Number of GM features per atom for N_R radial functions.

    N_R + 3·N_R(N_R+1)/2 (ranks 1–3 squared) + N_R(N_R+1)(N_R+2)/6 (triple M²) +
    2·N_R·N_R(N_R+1)/2 (M¹M²M¹, M³M³M²) + N_R³ (M³M²M¹); 360 for N_R = 5.

    Args:
        n_radial: N_R ≥ 1.

    Returns:
        Feature count.
    """
    pairs = n_radial * (n_radial + 1) // 2
    multisets = n_radial * (n_radial + 1) * (n_radial + 2) // 6
    return n_radial + 3 * pairs + multisets + 2 * pairs * n_radial + n_radial**3


def pair_indices(n_radial: int) -> list[tuple[int, int]]:
    """Pairs (s, t) with s ≤ t in lexicographic order: (0,0), (0,1), …, (1,1), …."""
    return [(s, t) for s in range(n_radial) for t in range(s, n_radial)]


def triple_indices(n_radial: int) -> list[tuple[int, int, int]]:
    """One representative (s, t, u) of every multiset {s, t, u}, in apax's order.

    For each s: (s, s, s), then (s, t, t) for every t ≠ s, then (s, t, u) with
    s < t < u. Matching apax's order keeps the feature layout of its weights.
    """
    triples = []
    for s in range(n_radial):
        triples.append((s, s, s))
        triples.extend((s, t, t) for t in range(n_radial) if t != s)
        triples.extend(
            (s, t, u) for t in range(s + 1, n_radial) for u in range(t + 1, n_radial)
        )
    return triples


def monomial_tables() -> torch.Tensor:
    """Index tables linking n̂ to its distinct monomials of degree 2 and 3.

    Returns:
        (72,) int64, the concatenation of: positions in n̂ of the first and of the
        second factor of the 6 rank-2 monomials (n̂_a n̂_b, a ≤ b); position among
        those of the rank-2 factor and position in n̂ of the last factor of the 10
        rank-3 monomials (a ≤ b ≤ c); and for each of the 1 + 3 + 9 + 27 = 40 full
        Cartesian components (row-major) the position of its monomial among the 20
        distinct ones [1, n̂, rank 2, rank 3].
    """
    rank2 = list(itertools.combinations_with_replacement(range(3), 2))
    rank3 = list(itertools.combinations_with_replacement(range(3), 3))
    offset2, offset3 = 4, 4 + len(rank2)
    expand = [0, 1, 2, 3]
    expand += [offset2 + rank2.index(tuple(sorted(ab))) for ab in _product(2)]
    expand += [offset3 + rank3.index(tuple(sorted(abc))) for abc in _product(3)]
    tables = (
        [a for a, _ in rank2]
        + [b for _, b in rank2]
        + [rank2.index((a, b)) for a, b, _ in rank3]
        + [c for _, _, c in rank3]
        + expand
    )
    return torch.tensor(tables, dtype=torch.int64)


def _product(rank: int) -> list[tuple[int, ...]]:
    return list(itertools.product(range(3), repeat=rank))


def cartesian_moments(
    radial: torch.Tensor,
    unit: torch.Tensor,
    centre: torch.Tensor,
    n_atoms: int,
    tables: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """Per-atom moments M⁰..M³ summed over each atom's edges.

    Args:
        radial: (n_edges, N_R) radial functions R_s of each edge (any unit).
        unit: (n_edges, 3) unit vectors n̂ from centre to neighbour.
        centre: (n_edges,) int64 centre atom of each edge.
        n_atoms: number of atoms; atoms without edges get zero moments.
        tables: (72,) int64 output of :func:`monomial_tables` on the right device
            (pass it to avoid rebuilding it on every call).

    Returns:
        [M⁰ (n_atoms, N_R), M¹ (n_atoms, N_R, 3), M² (n_atoms, N_R, 3, 3),
        M³ (n_atoms, N_R, 3, 3, 3)], unit of R.
    """
    if tables is None:
        tables = monomial_tables().to(unit.device)
    first2, second2, pair3, last3, expand = tables.split([6, 6, 10, 10, 40])
    rank2 = unit[:, first2] * unit[:, second2]
    rank3 = rank2[:, pair3] * unit[:, last3]
    monomials = torch.cat([torch.ones_like(unit[:, :1]), unit, rank2, rank3], dim=1)
    per_edge = radial.unsqueeze(-1) * monomials.unsqueeze(1)
    full = scatter_sum(per_edge, centre, n_atoms)[..., expand]
    n_radial = radial.shape[1]
    return [
        full[..., 0],
        full[..., 1:4],
        full[..., 4:13].reshape(n_atoms, n_radial, 3, 3),
        full[..., 13:40].reshape(n_atoms, n_radial, 3, 3, 3),
    ]


class GaussianMoments(torch.nn.Module):
    """The eight rotation-invariant contractions of the Cartesian moments (GM-NN).

    With moments M^k (rank k, radial channel s = 0..N_R−1, summed over neighbours),
    the features of one atom are, concatenated in this order:

    ====  ============================================  ====================  ======
    k     invariant                                     channels              N_R=5
    ====  ============================================  ====================  ======
    0     M⁰_s                                          s                     5
    1     Σ_a M¹_{s,a} M¹_{t,a}                         s ≤ t                 15
    2     Σ_ab M²_{s,ab} M²_{t,ab}                      s ≤ t                 15
    3     Σ_abc M³_{s,abc} M³_{t,abc}                   s ≤ t                 15
    4     Σ_abc M²_{s,ab} M²_{t,bc} M²_{u,ca}           multisets {s,t,u}     35
    5     Σ_ab M¹_{s,a} M²_{u,ab} M¹_{t,b}              s ≤ t, then all u     75
    6     Σ_abcd M³_{s,abc} M³_{t,abd} M²_{u,cd}        s ≤ t, then all u     75
    7     Σ_abc M³_{s,abc} M²_{t,ab} M¹_{u,c}           all s, t, u           125
    ====  ============================================  ====================  ======

    Every term contracts all Cartesian indices pairwise, so it is invariant under
    rotations; each has an even number of n̂ factors, so it is also invariant under
    inversion (O(3)). Pairs run lexicographically (:func:`pair_indices`), the
    multisets follow :func:`triple_indices`, and in k = 5, 6 the pair index is the
    slow one (as in apax).

    Args:
        n_radial: N_R ≥ 1.

    Shapes:
        forward: radial (n_edges, N_R), unit (n_edges, 3), centre (n_edges,) →
        (n_atoms, n_features), n_features = :func:`n_gaussian_moment_features` (N_R).
    """

    selection: torch.Tensor
    tables: torch.Tensor

    def __init__(self, n_radial: int):
        super().__init__()
        self.n_radial = n_radial
        self.n_features = n_gaussian_moment_features(n_radial)
        self.register_buffer(
            "selection", _feature_selection(n_radial), persistent=False
        )
        self.register_buffer("tables", monomial_tables(), persistent=False)

    def forward(
        self,
        radial: torch.Tensor,
        unit: torch.Tensor,
        centre: torch.Tensor,
        n_atoms: int,
    ) -> torch.Tensor:
        """Invariant features of every atom from its edges.

        Args:
            radial: (n_edges, N_R) radial functions R_s.
            unit: (n_edges, 3) unit vectors from centre to neighbour.
            centre: (n_edges,) int64 centre atom of each edge.
            n_atoms: number of atoms.

        Returns:
            (n_atoms, n_features), units of R^k for a k-moment feature.
        """
        moments = cartesian_moments(radial, unit, centre, n_atoms, self.tables)
        return self.contract(moments)

    def contract(self, moments: list[torch.Tensor]) -> torch.Tensor:
        """Contract moments [M⁰, M¹, M², M³] into (n_atoms, n_features) invariants."""
        m0, m1, m2, m3 = moments
        n_atoms = m0.shape[0]
        m2_flat = m2.reshape(n_atoms, self.n_radial, 9)
        m3_flat = m3.reshape(n_atoms, self.n_radial, 27)
        products = [
            m0,
            torch.bmm(m1, m1.transpose(1, 2)),
            torch.bmm(m2_flat, m2_flat.transpose(1, 2)),
            torch.bmm(m3_flat, m3_flat.transpose(1, 2)),
            torch.einsum("nsab,ntbc,nuca->nstu", m2, m2, m2),
            torch.einsum("nsa,nuab,ntb->nstu", m1, m2, m1),
            torch.einsum("nsabc,ntabd,nucd->nstu", m3, m3, m2),
            torch.einsum("nsabc,ntab,nuc->nstu", m3, m2, m1),
        ]
        flat = torch.cat([p.reshape(n_atoms, -1) for p in products], dim=1)
        return flat[:, self.selection]


def _feature_selection(n_radial: int) -> torch.Tensor:
    """Columns of the concatenated full products that make up the features.

    The full products are laid out as [M⁰ (N), three (N, N) blocks, four (N, N, N)
    blocks] with N = N_R, each flattened row-major.
    """
    n = n_radial
    square, cube = n * n, n * n * n
    columns = list(range(n))
    for block in range(3):
        start = n + block * square
        columns += [start + s * n + t for s, t in pair_indices(n)]
    start = n + 3 * square
    columns += [start + (s * n + t) * n + u for s, t, u in triple_indices(n)]
    for block in (1, 2):
        start = n + 3 * square + block * cube
        columns += [
            start + (s * n + t) * n + u for s, t in pair_indices(n) for u in range(n)
        ]
    start = n + 3 * square + 3 * cube
    columns += list(range(start, start + cube))
    return torch.tensor(columns, dtype=torch.int64)
