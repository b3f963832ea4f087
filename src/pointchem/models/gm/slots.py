"""The fast route to the moments: each atom's edges laid out in K neighbour "slots".

Edge vectors are placed in a (3, n_atoms, K) table (K = the largest neighbour count;
empty slots hold a vector beyond the cutoff). On each slot only the 20 distinct
monomials of n̂ are formed, and the neighbour sum is one batched matrix product per
block of atoms. The gradient is written out by hand (:class:`_DenseMoments`) so that
autograd keeps only the edge vectors alive instead of every per-edge intermediate: on
CPU, touching fresh memory is what costs. That backward is itself made of
differentiable torch operations, so second derivatives (training on forces) work.
Results equal :func:`~pointchem.models.gm.moments.cartesian_moments`.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from .moments import MONOMIAL_SLOPES, N_MONOMIALS, monomials

__all__ = ["SlotRadial", "dense_moments"]


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
        """R (N_R, n), dR/dd (N_R, n) if ``slopes``, and what weight_gradient needs.

        ``distances`` (n,) Å and ``pairs`` (n,) int64 species-pair indices; the second
        output is None without ``slopes``, the third may be the basis.
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
    """Lengths (n, K) and unit vectors (3, n, K); zero vectors get length 0, unit 0."""
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
    assert slopes is not None  # requested above
    n_radial = values.shape[0]
    powers = monomials(unit.reshape(3, -1)).view(N_MONOMIALS, n_atoms, width)
    slope_table = MONOMIAL_SLOPES.to(grad)
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
    def forward(
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
            [_chunk_moments(vectors[:, b], pairs[b], weights, radial) for b in blocks]
        )

    @staticmethod
    def backward(
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
