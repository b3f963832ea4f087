"""Cartesian moments of a neighbourhood and their rotation-invariant contractions.

For atom i, radial functions R_s(d_ij) (s = 0..N_R−1) and unit vectors n̂_ij, the
moments of rank 0..3 are

    M⁰_s = Σ_j R_s,   M¹_{s,a} = Σ_j R_s n̂_a,   M²_{s,ab} = Σ_j R_s n̂_a n̂_b,
    M³_{s,abc} = Σ_j R_s n̂_a n̂_b n̂_c,

and :class:`GaussianMoments` contracts them into the eight families of invariants of
GM-NN. Every moment has the unit of R; a feature built from k moments has unit R^k.

Moments are stored compressed: M^k is symmetric, so only its components on the 20
distinct monomials of n̂ (1 + 3 + 6 + 10) are kept, shape (n_atoms, N_R, 20).
:func:`cartesian_moments` computes them by their definition (edge by edge, summed with
``scatter_sum``); :mod:`pointchem.models.gm.slots` has the fast route the model uses.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from ...nn.scatter import scatter_sum

__all__ = [
    "MONOMIAL_SLOPES",
    "N_MONOMIALS",
    "GaussianMoments",
    "cartesian_moments",
    "expand_moments",
    "monomials",
    "n_gaussian_moment_features",
    "pair_indices",
    "triple_indices",
]

_EXPONENTS = [
    exponent
    for degree in range(4)
    for exponent in sorted(
        (e for e in itertools.product(range(4), repeat=3) if sum(e) == degree),
        reverse=True,
    )
]
"""Exponents (p, q, r) of the distinct monomials x^p y^q z^r of degree 0..3, ordered
1; x, y, z; xx, xy, xz, yy, yz, zz; xxx, xxy, …, zzz."""

N_MONOMIALS = len(_EXPONENTS)
"""Number of distinct monomials of n̂ of degree 0..3 (20)."""


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


def _monomial_tables() -> dict[str, torch.Tensor]:
    """Tables for the distinct monomials: derivatives and full-tensor expansion.

    ``slope[a, k, j]`` is the coefficient of monomial j in ∂(monomial k)/∂n̂_a;
    ``full[c]`` is the monomial of the c-th full Cartesian component (ranks 0..3,
    each row-major, 1 + 3 + 9 + 27 = 40).
    """
    position = {e: k for k, e in enumerate(_EXPONENTS)}

    def lower(exponent: tuple[int, ...], axis: int) -> tuple[int, ...]:
        return tuple(p - (a == axis) for a, p in enumerate(exponent))

    slope = torch.zeros(3, N_MONOMIALS, N_MONOMIALS)
    for k, exponent in enumerate(_EXPONENTS):
        for axis in range(3):
            if exponent[axis] > 0:
                slope[axis, k, position[lower(exponent, axis)]] = exponent[axis]
    full = [
        position[tuple(sum(1 for c in combo if c == a) for a in range(3))]
        for rank in range(4)
        for combo in itertools.product(range(3), repeat=rank)
    ]
    return {
        "slope": slope,
        "full": torch.tensor(full),
    }


_TABLES = _monomial_tables()

MONOMIAL_SLOPES = _TABLES["slope"]
"""(3, 20, 20): [a, k, j] is the coefficient of monomial j in ∂(monomial k)/∂n̂_a."""


def monomials(unit: torch.Tensor) -> torch.Tensor:
    """The 20 distinct monomials of n̂ up to degree 3, component-major.

    Args:
        unit: (3, n) unit vectors, one per column.

    Returns:
        (20, n): rows 1; x, y, z; xx, xy, xz, yy, yz, zz; xxx, xxy, xxz, xyy, xyz,
        xzz, yyy, yyz, yzz, zzz.
    """
    x, y, z = unit[0:1], unit[1:2], unit[2:3]
    rank2 = torch.cat([unit * x, unit[1:] * y, z * z])
    rank3 = torch.cat([rank2 * x, rank2[3:] * y, rank2[5:] * z])
    return torch.cat([torch.ones_like(x), unit, rank2, rank3])


def expand_moments(compressed: torch.Tensor) -> list[torch.Tensor]:
    """Full symmetric Cartesian moments from their distinct components.

    Args:
        compressed: (n_atoms, N_R, 20) moments of the 20 monomials.

    Returns:
        [M⁰ (n_atoms, N_R), M¹ (n_atoms, N_R, 3), M² (n_atoms, N_R, 3, 3),
        M³ (n_atoms, N_R, 3, 3, 3)].
    """
    n_atoms, n_radial, _ = compressed.shape
    full = compressed[..., _TABLES["full"].to(compressed.device)]
    return [
        full[..., 0],
        full[..., 1:4],
        full[..., 4:13].reshape(n_atoms, n_radial, 3, 3),
        full[..., 13:40].reshape(n_atoms, n_radial, 3, 3, 3),
    ]


def cartesian_moments(
    radial: torch.Tensor, unit: torch.Tensor, centre: torch.Tensor, n_atoms: int
) -> torch.Tensor:
    """Per-atom moments by their definition, summed edge by edge (reference route).

    Args:
        radial: (n_edges, N_R) radial functions R_s of each edge (any unit).
        unit: (n_edges, 3) unit vectors n̂ from centre to neighbour.
        centre: (n_edges,) int64 centre atom of each edge.
        n_atoms: number of atoms; atoms without edges get zero moments.

    Returns:
        (n_atoms, N_R, 20), Σ_j R_s(d_ij) · monomial_k(n̂_ij) for the 20 distinct
        monomials of :func:`monomials`; :func:`expand_moments` gives M⁰..M³.
    """
    per_edge = radial.unsqueeze(-1) * monomials(unit.T).T.unsqueeze(1)
    return scatter_sum(per_edge, centre, n_atoms)


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

    Computation (M² and M³ are symmetric, as built from monomials): two Gram
    matrices per atom, of the rows [M²_{s,a·}; M¹_t] and [M³_{s,c··}; M²_t], hold
    (M²_s M²_t)_{ac}, Σ_b M²_{u,ab} M¹_{t,b}, M¹·M¹, Σ_ab M³_{s,abc} M³_{t,abd},
    Σ_ab M³_{s,abc} M²_{t,ab} and M²:M²; one product of their entries with M² gives
    k = 4, 6 and one with M¹ gives k = 5, 7. The products run in blocks of atoms, and
    the backward is written out by hand (and is itself differentiable).

    Args:
        n_radial: N_R ≥ 1.

    Shapes:
        forward: (n_atoms, N_R, 20) moments of :func:`cartesian_moments` →
        (n_atoms, n_features), n_features = :func:`n_gaussian_moment_features` (N_R).
    """

    selection: torch.Tensor
    left_index: torch.Tensor

    def __init__(self, n_radial: int):
        super().__init__()
        self.n_radial = n_radial
        self.n_features = n_gaussian_moment_features(n_radial)
        selection, left_index = _contraction_tables(n_radial)
        self.register_buffer("selection", selection, persistent=False)
        self.register_buffer("left_index", left_index, persistent=False)

    def forward(self, compressed: torch.Tensor) -> torch.Tensor:
        """Invariant features (n_atoms, n_features) from (n_atoms, N_R, 20) moments."""
        result: torch.Tensor = _Contractions.apply(
            compressed, self.selection, self.left_index
        )
        return result


_ATOM_BUDGET = 512
"""Atoms contracted at once by :class:`_Contractions` (keeps temporaries reusable)."""


def _contraction_tables(r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature columns of the product layout, and the Gram entries of the left factors.

    See :class:`_Products`: the left factors of the products with M² and with M¹ are
    entries of the two Gram matrices, picked by the second table.
    """
    d = 4 * r  # Gram size: 3r rows of M² (or M³) plus r rows of M¹ (or M²)
    second = d * d  # offset of the second Gram matrix

    def gram(which: int, i: int, j: int) -> int:
        return which * second + i * d + j

    rr = [(s, t) for s in range(r) for t in range(r)]
    left2 = [
        gram(0, 3 * s + a, 3 * t + c) for s, t in rr for a in range(3) for c in range(3)
    ]
    left2 += [
        gram(1, 3 * s + c, 3 * t + e) for s, t in rr for c in range(3) for e in range(3)
    ]
    left1 = [gram(1, 3 * s + c, 3 * r + t) for s, t in rr for c in range(3)]
    left1 += [gram(0, 3 * u + a, 3 * r + t) for t, u in rr for a in range(3)]
    # product layout: [M⁰ | Gram² | Gram³ | M³M³ | with M² | with M¹]
    gram3, with2 = r + 2 * second, r + 2 * second + r * r
    with1 = with2 + 2 * r**3
    pairs = pair_indices(r)
    columns = list(range(r))
    columns += [r + gram(0, 3 * r + s, 3 * r + t) for s, t in pairs]
    columns += [r + gram(1, 3 * r + s, 3 * r + t) for s, t in pairs]
    columns += [gram3 + s * r + t for s, t in pairs]
    columns += [with2 + (s * r + t) * r + u for s, t, u in triple_indices(r)]
    columns += [with1 + (r * r + t * r + u) * r + s for s, t in pairs for u in range(r)]
    columns += [with2 + (r * r + s * r + t) * r + u for s, t in pairs for u in range(r)]
    columns += list(range(with1, with1 + r**3))
    return torch.tensor(columns), torch.tensor(left2 + left1)


class _Products:
    """Moments of one block of atoms and the products the features are taken from."""

    def __init__(self, compressed: torch.Tensor, left_index: torch.Tensor):
        n, r, _ = compressed.shape
        expand = _TABLES["full"].to(compressed.device)
        self.m0 = compressed[..., 0]
        self.m1 = compressed[..., 1:4]
        self.m2 = compressed.index_select(2, expand[4:13])
        self.m3 = compressed.index_select(2, expand[13:40])
        # rows (s a) of M²_{s,ab} then M¹_t; rows (s c) of M³_{s,cab} then M²_t
        self.rows2 = torch.cat([self.m2.view(n, 3 * r, 3), self.m1], 1)
        self.rows3 = torch.cat([self.m3.view(n, 3 * r, 9), self.m2], 1)
        self.grams = torch.stack(
            [self.rows2 @ self.rows2.mT, self.rows3 @ self.rows3.mT], 1
        )
        left = self.grams.view(n, -1).index_select(1, left_index)
        self.left2 = left[:, : 18 * r * r].view(n, 2 * r * r, 9)
        self.left1 = left[:, 18 * r * r :].view(n, 2 * r * r, 3)

    def flat(self) -> torch.Tensor:
        """All products, (n, r + 32r² + r² + 4r³), in the layout of the tables."""
        n = self.m0.shape[0]
        blocks = [
            self.m0,
            self.grams.view(n, -1),
            (self.m3 @ self.m3.mT).view(n, -1),
            (self.left2 @ self.m2.mT).view(n, -1),
            (self.left1 @ self.m1.mT).view(n, -1),
        ]
        return torch.cat(blocks, 1)


def _contract_block_backward(
    compressed: torch.Tensor,
    selection: torch.Tensor,
    left_index: torch.Tensor,
    grad: torch.Tensor,
) -> torch.Tensor:
    """∂L/∂compressed (n, r, 20) from ∂L/∂features (n, n_features), by hand."""
    n, r, _ = compressed.shape
    p = _Products(compressed, left_index)
    second = 16 * r * r
    sizes = [r, 2 * second, r * r, 2 * r**3, 2 * r**3]
    full = grad.new_zeros(n, sum(sizes)).index_copy(1, selection, grad)
    g0, g_grams, g3, g_with2, g_with1 = full.split(sizes, 1)
    g3, g_with2, g_with1 = (
        g3.view(n, r, r),
        g_with2.view(n, -1, r),
        g_with1.view(n, -1, r),
    )
    g_left = torch.cat([(g_with2 @ p.m2).view(n, -1), (g_with1 @ p.m1).view(n, -1)], 1)
    g_grams = g_grams.index_add(1, left_index, g_left).view(n, 2, 4 * r, 4 * r)
    g_grams = g_grams + g_grams.mT
    g_rows2 = g_grams[:, 0] @ p.rows2
    g_rows3 = g_grams[:, 1] @ p.rows3
    g_m1 = g_with1.mT @ p.left1 + g_rows2[:, 3 * r :]
    g_m2 = g_with2.mT @ p.left2 + g_rows3[:, 3 * r :]
    g_m2 = g_m2 + g_rows2[:, : 3 * r].reshape(n, r, 9)
    g_m3 = (g3 + g3.mT) @ p.m3 + g_rows3[:, : 3 * r].reshape(n, r, 27)
    expand = _TABLES["full"].to(compressed.device)
    result = torch.cat([g0.unsqueeze(-1), g_m1, grad.new_zeros(n, r, 16)], -1)
    result = result.index_add(2, expand[4:13], g_m2)
    return result.index_add(2, expand[13:40], g_m3)


class _Contractions(torch.autograd.Function):
    """GM contractions in blocks of atoms, with the backward written out."""

    @staticmethod
    def forward(
        ctx: Any,
        compressed: torch.Tensor,
        selection: torch.Tensor,
        left_index: torch.Tensor,
    ) -> torch.Tensor:
        ctx.save_for_backward(compressed, selection, left_index)
        step = _ATOM_BUDGET
        features = compressed.new_empty(len(compressed), len(selection))
        for a in range(0, len(compressed), step):
            products = _Products(compressed[a : a + step], left_index).flat()
            torch.index_select(products, 1, selection, out=features[a : a + step])
        return features

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        compressed, selection, left_index = ctx.saved_tensors
        step = _ATOM_BUDGET
        blocks = [
            _contract_block_backward(
                compressed[a : a + step], selection, left_index, grad[a : a + step]
            )
            for a in range(0, len(compressed), step)
        ]
        return (
            (torch.cat(blocks) if blocks else torch.zeros_like(compressed)),
            None,
            None,
        )
