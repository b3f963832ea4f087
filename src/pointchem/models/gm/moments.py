"""Cartesian moments of a neighbourhood and their rotation-invariant contractions.

For atom i, radial functions R_s(d_ij) (s = 0..N_R−1) and unit vectors n̂_ij, the
moments of rank 0..3 are

    M⁰_s = Σ_j R_s,   M¹_{s,a} = Σ_j R_s n̂_a,   M²_{s,ab} = Σ_j R_s n̂_a n̂_b,
    M³_{s,abc} = Σ_j R_s n̂_a n̂_b n̂_c,

and :class:`GaussianMoments` contracts them into the eight families of invariants of
GM-NN. Every moment has the unit of R; a feature built from k moments has unit R^k.

Two routes compute the moments. :func:`cartesian_moments` is the plain definition
(edge by edge, summed with ``scatter_sum``). :func:`dense_moments` is the fast one the
model uses: the edges of each atom sit in K "slots" (K = the largest neighbour count),
only the 20 distinct monomials of n̂ are formed (1 + 3 + 6 + 10), the neighbour sum is
one batched matrix product, and the gradient is written out by hand
(:class:`_DenseMoments`), so autograd keeps only the edge vectors alive instead of
every per-edge intermediate (on CPU, fresh memory is what costs). The hand-written
backward is itself made of differentiable torch operations, so second derivatives
(training on forces) work.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

import torch

from ...nn.scatter import scatter_sum

__all__ = [
    "N_MONOMIALS",
    "GaussianMoments",
    "SlotRadial",
    "cartesian_moments",
    "dense_moments",
    "expand_moments",
    "monomials",
    "n_gaussian_moment_features",
    "neighbor_slots",
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


def neighbor_slots(centre: torch.Tensor, n_atoms: int) -> tuple[torch.Tensor, int]:
    """Place every edge in a slot ``centre · K + rank within its centre``.

    Args:
        centre: (n_edges,) int64 centre atom of each edge, any order.
        n_atoms: number of atoms.

    Returns:
        (n_edges,) int64 slot of each edge in a (n_atoms · K) table, and K ≥ 1, the
        largest number of edges of one atom.
    """
    n_edges = centre.shape[0]
    counts = torch.bincount(centre, minlength=n_atoms)
    width = max(int(counts.max()), 1) if n_edges else 1
    starts = torch.cumsum(counts, 0) - counts
    positions = torch.arange(n_edges, device=centre.device)
    if n_edges < 2 or bool((centre[1:] >= centre[:-1]).all()):
        return centre * width + positions - starts[centre], width
    ordered, order = torch.sort(centre, stable=True)
    rank = torch.empty_like(centre)
    rank[order] = positions - starts[ordered]
    return centre * width + rank, width


class SlotRadial(Protocol):
    """Species-pair radial functions on slots, as :func:`dense_moments` needs them.

    R must be linear in the weights.
    """

    def values(
        self,
        distances: torch.Tensor,
        pairs: torch.Tensor,
        weights: torch.Tensor,
        slopes: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """R (N_R, n), dR/dd (N_R, n) if ``slopes`` else None, and anything
        :meth:`weight_gradient` needs (such as the basis).

        ``distances`` (n,) Å and ``pairs`` (n,) int64 species-pair indices.
        """
        ...

    def weight_gradient(
        self, basis: Any, pairs: torch.Tensor, grad_radial: torch.Tensor
    ) -> torch.Tensor:
        """∂L/∂weights from ∂L/∂R (N_R, n) and the third output of :meth:`values`."""
        ...


def dense_moments(
    vectors: torch.Tensor,
    pairs: torch.Tensor,
    weights: torch.Tensor,
    radial: SlotRadial,
) -> torch.Tensor:
    """Moments of the 20 distinct monomials from edge vectors laid out in slots.

    Args:
        vectors: (3, n_atoms, K) Å, ``vectors[:, i, k]`` the k-th edge vector of atom
            i. Empty slots must hold a vector longer than the cutoff (R = 0 there).
        pairs: (n_atoms, K) int64 species-pair index of every slot.
        weights: learnable tensor R depends on linearly (species-pair coefficients).
        radial: evaluates R and dR/dd from distances, pairs and ``weights``.

    Returns:
        (n_atoms, N_R, 20), Σ_slots R_s · monomial; see :func:`expand_moments`.
    """
    result: torch.Tensor = _DenseMoments.apply(vectors, pairs, weights, radial)
    return result


_SLOT_BUDGET = 16384
"""Slots handled at once by :class:`_DenseMoments`: small enough that temporaries are
reused (and cache-resident) from chunk to chunk instead of freshly allocated."""


def _chunks(n_atoms: int, width: int) -> list[slice]:
    step = max(1, _SLOT_BUDGET // width)
    return [slice(a, min(a + step, n_atoms)) for a in range(0, n_atoms, step)]


def _geometry(vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lengths (n, K) and unit vectors (3, n, K); a zero vector gets length 0, unit 0."""
    squared = (vectors * vectors).sum(0)
    nonzero = squared > 0
    safe = torch.sqrt(torch.where(nonzero, squared, torch.ones_like(squared)))
    return torch.where(nonzero, safe, torch.zeros_like(safe)), vectors / safe


def _chunk_moments(
    vectors: torch.Tensor,
    pairs: torch.Tensor,
    weights: torch.Tensor,
    radial: SlotRadial,
) -> torch.Tensor:
    """Forward of :class:`_DenseMoments` for a block of atoms, (n, N_R, 20)."""
    n_atoms, width = pairs.shape
    distances, unit = _geometry(vectors)
    values = radial.values(distances.view(-1), pairs.view(-1), weights, False)[0]
    powers = monomials(unit.reshape(3, -1)).view(N_MONOMIALS, n_atoms, width)
    by_atom = values.view(-1, n_atoms, width).permute(1, 2, 0)
    return torch.bmm(powers.transpose(0, 1), by_atom).transpose(1, 2)


def _chunk_backward(
    vectors: torch.Tensor,
    pairs: torch.Tensor,
    weights: torch.Tensor,
    radial: SlotRadial,
    grad: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """∂L/∂vectors (3, n, K), ∂L/∂R (N_R, n·K) and the basis, for a block of atoms.

    With G = ∂L/∂M (n, N_R, 20) and monomials A_k(n̂) of each slot:
    ∂L/∂R_s = Σ_k G_sk A_k, ∂L/∂n̂_a = Σ_sk R_s G_sk ∂A_k/∂n̂_a, ∂L/∂d = Σ_s ∂L/∂R_s R'_s,
    and ∂L/∂r = ∂L/∂d n̂ + (1 − n̂n̂ᵀ) ∂L/∂n̂ / d.
    """
    n_atoms, width = pairs.shape
    distances, unit = _geometry(vectors)
    values, slopes, basis = radial.values(
        distances.view(-1), pairs.view(-1), weights, True
    )
    assert slopes is not None  # noqa: S101 - requested above
    n_radial = values.shape[0]
    powers = monomials(unit.reshape(3, -1)).view(N_MONOMIALS, n_atoms, width)
    slope_table = _TABLES["slope"].to(grad)
    stacked = torch.cat([grad, *(grad @ slope_table[a] for a in range(3))], 1)
    # (4, N_R, n, K): ∂L/∂R_s, then Σ_k G_sk ∂A_k/∂n̂_a for a = x, y, z
    per_slot = torch.bmm(stacked, powers.transpose(0, 1)).view(
        n_atoms, 4, n_radial, width
    )
    per_slot = per_slot.permute(1, 2, 0, 3)
    by_slot = values.view(n_radial, n_atoms, width)
    grad_unit = (per_slot[1:] * by_slot).sum(1)
    grad_radial = per_slot[0].reshape(n_radial, -1)
    grad_length = (grad_radial * slopes).sum(0).view(n_atoms, width)
    tangential = grad_unit - (grad_unit * unit).sum(0) * unit
    safe = torch.where(distances > 0, distances, torch.ones_like(distances))
    return grad_length * unit + tangential / safe, grad_radial, basis


class _DenseMoments(torch.autograd.Function):
    """Slot moments with a hand-written (and itself differentiable) backward."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        vectors: torch.Tensor,
        pairs: torch.Tensor,
        weights: torch.Tensor,
        radial: SlotRadial,
    ) -> torch.Tensor:
        ctx.save_for_backward(vectors, pairs, weights)
        ctx.radial = radial
        blocks = _chunks(*pairs.shape)
        return torch.cat(
            [
                _chunk_moments(vectors[:, b], pairs[b], weights, radial)
                for b in blocks
            ]
        )

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, None, torch.Tensor | None, None]:
        vectors, pairs, weights = ctx.saved_tensors
        radial: SlotRadial = ctx.radial
        grad_vectors, grad_weights = [], []
        for block in _chunks(*pairs.shape):
            grad_block, grad_radial, basis = _chunk_backward(
                vectors[:, block], pairs[block], weights, radial, grad[block]
            )
            grad_vectors.append(grad_block)
            if ctx.needs_input_grad[2]:
                grad_weights.append(
                    radial.weight_gradient(basis, pairs[block].view(-1), grad_radial)
                )
        total = torch.stack(grad_weights).sum(0) if grad_weights else None
        return torch.cat(grad_vectors, 1), None, total, None


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

    Input are the moments of the 20 distinct monomials (:func:`cartesian_moments`),
    so M² and M³ are symmetric by construction; the implementation uses that to write
    every contraction as a few batched matrix products, runs them in blocks of atoms
    and has a hand-written (itself differentiable) backward, which keeps memory
    traffic low.

    Args:
        n_radial: N_R ≥ 1.

    Shapes:
        forward: (n_atoms, N_R, 20) → (n_atoms, n_features), n_features =
        :func:`n_gaussian_moment_features` (N_R).
    """

    selection: torch.Tensor

    def __init__(self, n_radial: int):
        super().__init__()
        self.n_radial = n_radial
        self.n_features = n_gaussian_moment_features(n_radial)
        self.register_buffer(
            "selection", _feature_selection(n_radial), persistent=False
        )

    def forward(self, compressed: torch.Tensor) -> torch.Tensor:
        """Invariant features (n_atoms, n_features) from (n_atoms, N_R, 20) moments."""
        result: torch.Tensor = _Contractions.apply(compressed, self.selection)
        return result


_ATOM_BUDGET = 512
"""Atoms contracted at once by :class:`_Contractions` (keeps temporaries reusable)."""


class _Pieces:
    """Moments of one block of atoms and the partial products the features reuse."""

    def __init__(self, compressed: torch.Tensor):
        n, r, _ = compressed.shape
        expand = _TABLES["full"].to(compressed.device)
        self.m1 = compressed[..., 1:4]
        self.m2 = compressed.index_select(2, expand[4:13])
        self.m3 = compressed.index_select(2, expand[13:40])
        self.rows2 = self.m2.view(n, 3 * r, 3)  # (s a), b
        self.rows3 = self.m3.view(n, 3 * r, 9)  # (s c), (a b): M³ is symmetric
        # (M²_s M²_t)_{ac} and Σ_ab M³_{s,abc} M³_{t,abd}, as (s t), (a c)
        self.qt = _pair_major(self.rows2 @ self.rows2.mT, r)
        self.wt = _pair_major(self.rows3 @ self.rows3.mT, r)
        z = self.rows3 @ self.m2.mT  # (s c), t = Σ_ab M³_{s,abc} M²_{t,ab}
        self.zt = z.view(n, r, 3, r).transpose(2, 3).reshape(n, r * r, 3)
        v = self.rows2 @ self.m1.mT  # (u a), t = Σ_b M²_{u,ab} M¹_{t,b}
        self.vt = v.view(n, r, 3, r).permute(0, 2, 3, 1).reshape(n, 3, r * r)

    def products(self, compressed: torch.Tensor) -> list[torch.Tensor]:
        """The eight full product blocks, in the layout of _feature_selection."""
        m1, m2, m3 = self.m1, self.m2, self.m3
        return [
            compressed[..., 0],
            m1 @ m1.mT,
            m2 @ m2.mT,
            m3 @ m3.mT,
            self.qt @ m2.mT,
            m1 @ self.vt,
            self.wt @ m2.mT,
            self.zt @ m1.mT,
        ]


def _pair_major(square: torch.Tensor, r: int) -> torch.Tensor:
    """(n, 3r, 3r) indexed (s a), (t c) → (n, r², 9) indexed (s t), (a c)."""
    n = square.shape[0]
    return square.view(n, r, 3, r, 3).transpose(2, 3).reshape(n, r * r, 9)


def _contract_block(compressed: torch.Tensor, selection: torch.Tensor) -> torch.Tensor:
    n = compressed.shape[0]
    products = _Pieces(compressed).products(compressed)
    return torch.cat([p.reshape(n, -1) for p in products], 1)[:, selection]


def _contract_block_backward(
    compressed: torch.Tensor, selection: torch.Tensor, grad: torch.Tensor
) -> torch.Tensor:
    """∂L/∂compressed (n, r, 20) from ∂L/∂features (n, n_features), by hand."""
    n, r, _ = compressed.shape
    pieces = _Pieces(compressed)
    m1, m2, m3, rows2, rows3 = (
        pieces.m1, pieces.m2, pieces.m3, pieces.rows2, pieces.rows3,
    )  # fmt: skip
    sizes = [r, r * r, r * r, r * r, r**3, r**3, r**3, r**3]
    full = grad.new_zeros(n, sum(sizes)).index_copy(1, selection, grad)
    g0, g1, g2, g3, g4, g5, g6, g7 = full.split(sizes, 1)
    g1, g2, g3 = (g.view(n, r, r) for g in (g1, g2, g3))
    g4, g6, g7 = (g.view(n, r * r, r) for g in (g4, g6, g7))
    g5 = g5.view(n, r, r * r)
    # products with M¹ on the right: m1 @ vt, zt @ m1ᵀ, and v = rows2 @ m1ᵀ
    grad_v = (m1.mT @ g5).view(n, 3, r, r).permute(0, 3, 1, 2).reshape(n, 3 * r, r)
    grad_z = (g7 @ m1).view(n, r, r, 3).transpose(2, 3).reshape(n, 3 * r, r)
    grad_m1 = (g1 + g1.mT) @ m1 + g5 @ pieces.vt.mT + g7.mT @ pieces.zt
    grad_m1 = grad_m1 + grad_v.mT @ rows2
    # products with M² on the right: qt, wt, z = rows3 @ m2ᵀ, and M²·M²
    grad_m2 = (g2 + g2.mT) @ m2 + g4.mT @ pieces.qt + g6.mT @ pieces.wt
    grad_m2 = grad_m2 + grad_z.mT @ rows3
    grad_q = _unpair(g4 @ m2, r)
    grad_w = _unpair(g6 @ m2, r)
    grad_rows2 = grad_v @ m1 + (grad_q + grad_q.mT) @ rows2
    grad_rows3 = grad_z @ m2 + (grad_w + grad_w.mT) @ rows3
    grad_m2 = grad_m2 + grad_rows2.view(n, r, 9)
    grad_m3 = (g3 + g3.mT) @ m3 + grad_rows3.view(n, r, 27)
    expand = _TABLES["full"].to(compressed.device)
    result = torch.cat([g0.unsqueeze(-1), grad_m1, grad.new_zeros(n, r, 16)], -1)
    result = result.index_add(2, expand[4:13], grad_m2)
    return result.index_add(2, expand[13:40], grad_m3)


def _unpair(pair_major: torch.Tensor, r: int) -> torch.Tensor:
    """Inverse layout of :func:`_pair_major`: (n, r², 9) → (n, 3r, 3r)."""
    n = pair_major.shape[0]
    return pair_major.view(n, r, r, 3, 3).transpose(2, 3).reshape(n, 3 * r, 3 * r)


class _Contractions(torch.autograd.Function):
    """GM contractions in blocks of atoms, with the backward written out."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, compressed: torch.Tensor, selection: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(compressed, selection)
        step = _ATOM_BUDGET
        blocks = [compressed[a : a + step] for a in range(0, len(compressed), step)]
        if not blocks:
            return compressed.new_zeros(0, len(selection))
        return torch.cat([_contract_block(b, selection) for b in blocks])

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        compressed, selection = ctx.saved_tensors
        step = _ATOM_BUDGET
        if len(compressed) == 0:
            return torch.zeros_like(compressed), None
        return torch.cat(
            [
                _contract_block_backward(
                    compressed[a : a + step], selection, grad[a : a + step]
                )
                for a in range(0, len(compressed), step)
            ]
        ), None


def _feature_selection(n_radial: int) -> torch.Tensor:
    """Columns of the concatenated full products that make up the features.

    The products are laid out as [M⁰ (N), three (N, N) blocks indexed [s, t], four
    (N, N, N) blocks indexed [s, t, u]], N = N_R, each flattened row-major; the
    M¹M²M¹ block is stored as [s, (t, u)] with u the M² channel.
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
