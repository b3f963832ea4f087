"""ECSE local coordinate frames and their smooth weights (methods.md §4.1–4.4).

Every ordered pair (j, j′), j ≠ j′, of neighbours of atom i gives a right-handed frame
e1 = r̂_j, e2 = normalise(r̂_j × r̂_j′), e3 = e1 × e2, of C∞ weight

    w_jj′ = f(r_j; R_in) f(r_j′; R_in) q(s²; W − Δ_W, Δ_W) (s² − W + Δ_W)/Δ_W,

s² = |r̂_j × r̂_j′|², f the tanh switch of width Δ_R, q its mirror image. R_in is a
smooth minimum over the pairs inside R_out (§4.3), so only the nearest non-collinear
shell makes frames; weak ones are pruned and w_aux weighs an invariant fallback (§4.4).

Two additions to the reference: (1) the frame weight also carries the outer switch
f(r; R_out) of both neighbours, exactly 1 when R_in ≤ R_out − Δ_R (the usual case);
without it an atom whose pairs are all nearly collinear (R_in ≈ R_out + Δ_R) would keep
full weight on neighbours up to the model cutoff, and jump when one leaves the list.
(2) Frames of weight ≤ ``weight_floor`` are dropped: Σ w of an atom jumps by at most
``weight_floor`` and W_max by about as much (1e-12, below float64 noise).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

from pointchem.nn.neighbors import neighbor_slots

__all__ = [
    "FrameEnsemble",
    "FrameHypers",
    "local_frames",
    "mirror_switch",
    "tanh_switch",
]

PAIR_BUDGET = 2**21
"""Pair slots (atoms × K², K the most neighbours inside R_out) per chunk of atoms."""
PAIR_MEMORY = 2**23
"""Above this many pair slots in all (~100 bytes each in float64 with autograd state:
~1 GB), each chunk is recomputed in the backward pass (checkpointing), not kept."""


def _lambert_w(x: float) -> float:
    """Principal branch W(x) of the Lambert function for x ≥ 0 (Newton iteration)."""
    w = math.log1p(x)
    for _ in range(50):  # quadratic convergence: far more steps than needed
        w -= (w * math.exp(w) - x) / (math.exp(w) * (w + 1.0))
    return w


LAMBERT_W_INV_E = _lambert_w(math.exp(-1.0))
"""W(1/e) ≈ 0.27846: β·(max(a, b) − smoothmax_β(a, b)) ≤ W(1/e) for any a, b."""


def tanh_switch(
    x: torch.Tensor, cutoff: float | torch.Tensor, width: float | torch.Tensor
) -> torch.Tensor:
    """C∞ switch from 1 (x ≤ R − Δ) to 0 (x ≥ R), ½ at x = R − Δ/2.

    With g = 2(x − R + Δ/2)/Δ: f = ½ + ½ tanh(1/(g + 1) + 1/(g − 1)) for |g| < 1. All
    derivatives vanish at both ends. The tanh is evaluated only for |g| < 1 (outside,
    the argument is replaced by 0), so gradients of any order are finite everywhere.

    Args:
        x: any shape, in the unit of ``cutoff`` (Å for distances).
        cutoff: R, where the switch reaches 0; float or tensor broadcasting with ``x``.
        width: Δ > 0, same unit; float or tensor broadcasting with ``x``.

    Returns:
        Broadcast shape of the inputs, dimensionless, in [0, 1].
    """
    g = (x - (cutoff - 0.5 * width)) * (2.0 / width)
    inside = g.abs() < 1.0
    safe = torch.where(inside, g, 0.0)
    value = torch.sigmoid(4.0 * safe / (safe * safe - 1.0))  # = ½ + ½ tanh(z)
    return torch.where(inside, value, (g < 0.0).to(g.dtype))


def mirror_switch(
    x: torch.Tensor, start: float | torch.Tensor, width: float | torch.Tensor
) -> torch.Tensor:
    """Mirror image of :func:`tanh_switch`: 0 for x ≤ start, 1 for x ≥ start + width.

    Args:
        x: any shape.
        start: where the switch leaves 0; float or tensor broadcasting with ``x``.
        width: Δ > 0; float or tensor broadcasting with ``x``.

    Returns:
        Broadcast shape of the inputs, dimensionless, in [0, 1].
    """
    return tanh_switch(-x, -start, width)


_POSITIVE_FIELDS = (
    *("outer_cutoff_upper_bound", "beta", "beta_weights", "delta_r", "delta_w"),
    *("aux_threshold_delta", "pruning_threshold_delta", "pruning_turn_on_delta"),
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrameHypers:
    """Settings of the frame construction; defaults are those of the ECSE reference."""

    outer_cutoff_upper_bound: float = 10.0
    """Å, > 0. R_out = min(model cutoff, this): pairs inside R_out set R_in."""
    beta: float = 5.0
    """1/Å, > 0. Sharpness of the smooth max/min that give R_in."""
    beta_weights: float = 1.0
    """> 0, dimensionless. Sharpness of the smooth max W_max of the frame weights."""
    delta_r: float = 0.15
    """Å, > 0. Width of the radial switches at R_out and R_in."""
    w: float = 0.2
    """sin² where the R_in pair switch starts (it reaches 1 at w + delta_w)."""
    delta_w: float = 0.15
    """0 < delta_w ≤ w. Frame weights switch on sin² from w − delta_w to w."""
    aux_threshold: float = 0.5
    """w_aux = tanh_switch(W_max, aux_threshold, aux_threshold_delta)."""
    aux_threshold_delta: float = 0.5
    """0 < this ≤ aux_threshold, so that w_aux = 1 at W_max = 0."""
    pruning_threshold: float = 0.9
    """Frames with w ≤ pruning_threshold · W_max are pruned away."""
    pruning_threshold_delta: float = 0.1
    """> 0. Kept in full above (pruning_threshold + this) · W_max."""
    n_prunings: int = 0
    """≥ 0. How many times the pruning factor is applied (W_max recomputed each).

    The reference applies it 4 times. We default to 0: each pruning makes weights
    change steeply with geometry (up to 270/Å with 4), and those slopes multiply
    whatever the wrapped model's frames disagree on. Symmetrized as is, the
    augmentation-trained ethanol-pet gave force errors up to 6.5 eV/Å on ~1 % of
    training structures with 4 prunings, 0.66 eV/Å with 2, and none above 0.23 eV/Å
    (bare: 0.19) with 0, for 2.6× the frames on ethanol and 1.5× on water."""
    pruning_turn_on: float = 0.5
    """Pruning acts fully for W_max ≥ this, not at all for W_max ≤ this − delta."""
    pruning_turn_on_delta: float = 0.25
    """> 0. Width of the pruning turn-on switch."""
    weight_floor: float = 1e-12
    """≥ 0. Frames with weight ≤ this are dropped (Σ w jumps by at most this)."""

    def __post_init__(self) -> None:
        h = self
        valid = {name: getattr(h, name) > 0.0 for name in _POSITIVE_FIELDS}
        valid["delta_w"] &= h.delta_w <= h.w
        valid["aux_threshold_delta"] &= h.aux_threshold_delta <= h.aux_threshold
        valid["n_prunings"] = h.n_prunings >= 0
        valid["weight_floor"] = h.weight_floor >= 0.0
        bad = [f"{name}={getattr(h, name)!r}" for name, ok in valid.items() if not ok]
        if bad:
            raise ValueError(f"FrameHypers out of range (see its fields): {bad}")

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dictionary."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FrameHypers:
        """Build from a dictionary; unknown keys raise a ValueError naming them."""
        names = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            hints = [difflib.get_close_matches(key, names, n=1) for key in unknown]
            described = [
                f"{key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                for key, hint in zip(unknown, hints, strict=True)
            ]
            raise ValueError(f"unknown FrameHypers keys: {', '.join(described)}")
        return cls(**d)


@dataclasses.dataclass
class FrameEnsemble:
    """The frames of all atoms of a structure, with their weights.

    Attributes:
        atom: (n_frames,) int64, centre atom of each frame, sorted ascending.
        rotations: (n_frames, 3, 3) columns e1, e2, e3 (proper rotations); the local
            coordinates of a vector v (Å) in frame f are ``v @ rotations[f]``.
        weights: (n_frames,) pruned frame weights, not normalised, > weight_floor.
        aux_weights: (n_atoms,) w_aux in [0, 1], weight of the auxiliary model.
        inner_cutoff: (n_atoms,) R_in in Å (diagnostics).
    """

    atom: torch.Tensor
    rotations: torch.Tensor
    weights: torch.Tensor
    aux_weights: torch.Tensor
    inner_cutoff: torch.Tensor

    def counts(self, n_atoms: int) -> torch.Tensor:
        """(n_atoms,) int64 number of frames of each atom."""
        return torch.bincount(self.atom, minlength=n_atoms)


def _slot_table(
    edges: torch.Tensor, centre: torch.Tensor, n_atoms: int, pad: int
) -> torch.Tensor:
    """(n_atoms, K) ``edges`` grouped by centre, in input order, padded with ``pad``."""
    slots, width = neighbor_slots(centre[edges], n_atoms)
    table = torch.full((n_atoms * width,), pad, dtype=torch.int64, device=centre.device)
    table[slots] = edges
    return table.view(n_atoms, width)


def _row_chunks(n_rows: int, cost_per_row: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of rows with at most PAIR_BUDGET cost each (≥ 1 row)."""
    size = max(1, PAIR_BUDGET // max(cost_per_row, 1))
    starts = range(0, max(n_rows, 1), size)
    return [(start, min(start + size, n_rows)) for start in starts]


def _smooth_min_with_ceiling(
    values: torch.Tensor, weights: torch.Tensor, ceiling: float, beta: float
) -> torch.Tensor:
    """Σ w v e^{−βv} / Σ w e^{−βv} over the last axis plus an entry (ceiling, weight 1).

    The exponentials are taken relative to the ceiling entry, so the denominator is
    ≥ 1; they stay below e^{β·ceiling} (finite, checked by :func:`local_frames`).
    """
    scale = weights * torch.exp(beta * (ceiling - values))
    return (ceiling + (scale * values).sum(-1)) / (1.0 + scale.sum(-1))


def _inner_cutoff_rows(
    r_ext: torch.Tensor,
    unit_ext: torch.Tensor,
    switch_ext: torch.Tensor,
    rows: torch.Tensor,
    r_out: float,
    hypers: FrameHypers,
) -> torch.Tensor:
    """R_in (§4.3) of the atoms whose edges inside R_out are ``rows`` (C, K)."""
    k = rows.shape[1]
    first, second = torch.triu_indices(k, k, offset=1, device=rows.device)
    unit = unit_ext[rows]
    cosine = torch.bmm(unit, unit.transpose(1, 2)).flatten(1)[:, first * k + second]
    r, switch = r_ext[rows], switch_ext[rows]
    weights = switch[:, first] * switch[:, second]
    weights = weights * mirror_switch(1.0 - cosine * cosine, hypers.w, hypers.delta_w)
    difference = r[:, first] - r[:, second]
    smooth_max = r[:, second] + difference * torch.sigmoid(hypers.beta * difference)
    values = smooth_max + LAMBERT_W_INV_E / hypers.beta
    smooth_min = _smooth_min_with_ceiling(values, weights, r_out, hypers.beta)
    return smooth_min + hypers.delta_r


def _inner_cutoff(
    r: torch.Tensor,
    unit: torch.Tensor,
    outer_switch: torch.Tensor,
    table: torch.Tensor,
    r_out: float,
    hypers: FrameHypers,
) -> torch.Tensor:
    """(n_atoms,) R_in in Å from the (n_atoms, K) table of edges inside R_out.

    Chunks of C atoms make (C, K, K) pair tables; above PAIR_MEMORY pair slots in all,
    each chunk is recomputed in the backward pass rather than kept.
    """
    r_ext = torch.cat([r, r.new_full((1,), r_out)])
    unit_ext = torch.cat([unit, unit.new_zeros((1, 3))])
    switch_ext = torch.cat([outer_switch, outer_switch.new_zeros(1)])
    chunks = _row_chunks(table.shape[0], table.shape[1] ** 2)
    total = table.shape[0] * table.shape[1] ** 2
    remember = total > PAIR_MEMORY and torch.is_grad_enabled() and r.requires_grad
    parts = []
    for start, stop in chunks:
        args = (r_ext, unit_ext, switch_ext, table[start:stop], r_out, hypers)
        if remember:
            parts.append(checkpoint(_inner_cutoff_rows, *args, use_reentrant=False))
        else:
            parts.append(_inner_cutoff_rows(*args))
    return torch.cat(parts)


@torch.no_grad()
def _frame_pairs(
    unit: torch.Tensor, table: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(atom, first edge, second edge) of pairs in ``table`` with sin² > ``threshold``.

    ``unit`` (n_edges, 3) holds unit vectors, ``table`` (n_atoms, K) the edges inside
    R_in by centre, padded with n_edges (a zero vector, so sin² = 0, like j = j′).
    Returns three (n_pairs,) int64 tensors, sorted by atom.
    """
    unit_ext = torch.cat([unit, unit.new_zeros((1, 3))])
    found = []
    for start, stop in _row_chunks(table.shape[0], table.shape[1] ** 2):
        rows = table[start:stop]
        vectors = unit_ext[rows]
        cross = torch.linalg.cross(vectors[:, :, None], vectors[:, None, :])
        atom, first, second = torch.nonzero(
            (cross * cross).sum(-1) > threshold, as_tuple=True
        )
        found.append(torch.stack([atom + start, rows[atom, first], rows[atom, second]]))
    atom, first, second = torch.cat(found, dim=1)
    return atom, first, second


def _smooth_max_per_atom(
    weights: torch.Tensor, atom: torch.Tensor, n_atoms: int, beta: float
) -> torch.Tensor:
    """(n_atoms,) W_max = Σ w² e^{βw} / Σ w e^{βw} over an atom's frames; 0 if none."""
    zeros = weights.new_zeros(n_atoms)
    with torch.no_grad():
        top = zeros.scatter_reduce(0, atom, weights, "amax", include_self=True)
    scale = weights * torch.exp(beta * (weights - top[atom]))
    numerator = zeros.index_add(0, atom, scale * weights)
    denominator = zeros.index_add(0, atom, scale)
    has = denominator > 0.0
    return torch.where(has, numerator / torch.where(has, denominator, 1.0), 0.0)


def _prune(
    weights: torch.Tensor, atom: torch.Tensor, n_atoms: int, hypers: FrameHypers
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pruned weights (n_frames,) and w_aux (n_atoms,) as in §4.4.

    w_aux and the pruning turn-on τ come from W_max before pruning (as in the
    reference); W_max of the pruning factor p is recomputed before each pruning.
    Weights ≤ weight_floor are set to 0 before and after each pruning.
    """
    h = hypers
    weights = torch.where(weights > h.weight_floor, weights, 0.0)
    w_max = _smooth_max_per_atom(weights, atom, n_atoms, h.beta_weights)
    aux = tanh_switch(w_max, h.aux_threshold, h.aux_threshold_delta)
    turn_on = tanh_switch(w_max, h.pruning_turn_on, h.pruning_turn_on_delta)[atom]
    for index in range(h.n_prunings):
        if index > 0:
            w_max = _smooth_max_per_atom(weights, atom, n_atoms, h.beta_weights)
        scale = torch.where(w_max > 0.0, w_max, 1.0)[atom]
        kept = mirror_switch(
            weights, h.pruning_threshold * scale, h.pruning_threshold_delta * scale
        )
        weights = weights * (kept * (1.0 - turn_on) + turn_on)
        weights = torch.where(weights > h.weight_floor, weights, 0.0)
    return weights, aux


def _rotations(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """(n, 3, 3) frames with columns e1 = first, e2 ∝ first × second, e3 = e1 × e2."""
    cross = torch.linalg.cross(first, second)
    e2 = cross * torch.rsqrt((cross * cross).sum(-1, keepdim=True))
    return torch.stack([first, e2, torch.linalg.cross(first, e2)], dim=-1)


def local_frames(
    vectors: torch.Tensor,
    centre: torch.Tensor,
    n_atoms: int,
    cutoff: float,
    hypers: FrameHypers = FrameHypers(),
) -> FrameEnsemble:
    """ECSE frames and weights of every atom from its neighbour vectors.

    Args:
        vectors: (n_edges, 3) x_ij = r_j − r_i in Å, non-zero, of a full neighbour list,
            any edge order; float32 or float64 on any device (outputs follow).
            Edges at or beyond ``cutoff`` are ignored (their switch is exactly 0).
        centre: (n_edges,) int64 centre atom i of each edge.
        n_atoms: number of atoms.
        cutoff: the model cutoff in Å; R_out = min(cutoff, outer_cutoff_upper_bound).
        hypers: frame settings.

    Returns:
        The frames, sorted by atom; every output is differentiable (to any order) with
        respect to ``vectors``. Atoms with fewer than two neighbours or only collinear
        ones have no frame and w_aux = 1.

    Raises:
        ValueError: β · R_out is too large for the dtype (exponentials would overflow).
    """
    r_out = min(cutoff, hypers.outer_cutoff_upper_bound)
    if hypers.beta * r_out > math.log(torch.finfo(vectors.dtype).max) - 20.0:
        raise ValueError(f"beta·R_out = {hypers.beta * r_out:.3g} is too large")
    n_edges = vectors.shape[0]
    r = torch.linalg.vector_norm(vectors, dim=-1)
    unit = vectors / r[:, None]
    outer_switch = tanh_switch(r, r_out, hypers.delta_r)
    inside = (r < r_out).detach()
    table = _slot_table(inside.nonzero().squeeze(1), centre, n_atoms, n_edges)
    inner_cutoff = _inner_cutoff(r, unit, outer_switch, table, r_out, hypers)
    inner = inside & (r < inner_cutoff[centre]).detach()
    table = _slot_table(inner.nonzero().squeeze(1), centre, n_atoms, n_edges)
    start = hypers.w - hypers.delta_w
    atom, first, second = _frame_pairs(unit.detach(), table, start)
    radial = outer_switch[first] * outer_switch[second]
    for edge in (first, second):
        radial = radial * tanh_switch(r[edge], inner_cutoff[atom], hypers.delta_r)
    cross = torch.linalg.cross(unit[first], unit[second])
    sin2 = (cross * cross).sum(-1)
    angular = mirror_switch(sin2, start, hypers.delta_w) * (sin2 - start)
    weights, aux = _prune(radial * angular / hypers.delta_w, atom, n_atoms, hypers)
    keep = (weights > hypers.weight_floor).detach()
    return FrameEnsemble(
        atom=atom[keep],
        rotations=_rotations(unit[first[keep]], unit[second[keep]]),
        weights=weights[keep],
        aux_weights=aux,
        inner_cutoff=inner_cutoff,
    )
