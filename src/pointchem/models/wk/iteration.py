"""Wigner iteration: equivariant kernels of body order ν + 1 from ν (methods.md §1.3).

A kernel of body order ν between environments A and B is stored per (λ, σ) block,
k^(ν)_{λσ} of shape (n_pairs, 2λ+1, 2λ+1), rows indexed by μ of A, columns by μ′ of
B. With the ν = 1 blocks of :func:`~pointchem.models.wk.nu1_kernel` (all σ = +1),

    k^(ν+1)_{λσ; μμ′} = Σ_{l1 σ1, l2} [σ = σ1 (−1)^{l1+l2+λ}] w(l1, l2, λ)
        Σ_{m1 m2 m1′ m2′} C^{λμ}_{l1m1 l2m2} C^{λμ′}_{l1m1′ l2m2′}
                           k^(ν)_{l1σ1; m1m1′} k^(1)_{l2; m2m2′},

|l1 − l2| ≤ λ ≤ min(l1 + l2, λ_max), real Clebsch–Gordan tensors C of
:func:`~pointchem.models.wk.real_clebsch_gordan`. Two normalisations w:

- ``"haar"``: w = (2l1+1)(2l2+1) / (8π² (2λ+1)). Then, up to the truncation
  l ≤ l_max, λ ≤ λ_max, k^(ν)_{λσ} = ∫dR D^λ(R) ½[f^ν(R) + σ(−1)^λ f̄^ν(R)] with
  f(R) = ⟨ρ_A, R̂ρ_B⟩, f̄(R) = ⟨ρ_A, R̂Îρ_B⟩ (B inverted), ∫dR = 8π²; the invariant
  k^(ν)_{0+} is ∫dR ⟨ρ_A, R̂ρ_B⟩^ν for ν ≤ 2, averaged with inverted B beyond. The
  spec's factor is right as it stands because our ν = 1 blocks already carry
  8π²/(2l+1) (they are ∫dR D^l f): with f = Σ_l (2l+1)/8π² tr(k_lᵀ D^l) and
  ∫dR D^λ_{μμ′} D^{l1}_{m1m1′} D^{l2}_{m2m2′} = 8π²/(2λ+1) C^{λμ}_{..} C^{λμ′}_{..}.
  Checked against Monte-Carlo Haar averages (``tests/models/test_wk_iteration.py``;
  e.g. ν = 2: 0.052608 at l_max = 6 vs 0.05257 ± 0.00022 from 2·10⁵ rotations).
- ``"plain"``: w = 1, the CG coupling of the reference code (lab-cosmo/wigner_kernels);
  it weights channels differently (for ν = 2, λ = 0 the l channel differs from
  ``"haar"`` by 8π²/(2l+1)²) and is still a positive semi-definite kernel.

Parity: σ labels how a block responds to inverting one environment,
k_{λσ}(A, −B) = σ (−1)^λ k_{λσ}(A, B); σ = +1, λ = 1 is a proper vector (dipoles),
σ = −1, λ = 1 a pseudovector. Every coupling is symmetric in A ↔ B, so
k(B, A) = k(A, B)ᵀ block by block, and equivariant:
k(RA, B) = D^λ(R) k(A, B), k(A, RB) = k(A, B) D^λ(R)ᵀ.

Reduced mode: full blocks only up to ν_h = ⌈ν_max/2⌉, and for ν > ν_h the invariant
alone, by contracting k^(ν_h) with k^(ν−ν_h) (:func:`invariant_product`). For
λ_max ≥ l_max it equals the full iteration exactly (both are ⟨P(f^a), P(f^b)⟩ with
P the projection on λ ≤ λ_max, which leaves the band-limited f unchanged); for
λ_max < l_max the two differ from ν = 4 on and are each a valid kernel.

The ν = 0 kernel is 1 (not ∫dR 1 = 8π²) in both normalisations; its weight is a
regression hyper-parameter anyway. Everything is plain torch on the inputs' device
and dtype, so autograd reaches the neighbour vectors behind k^(1) (forces).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import torch

from .clebsch_gordan import real_clebsch_gordan

__all__ = [
    "HAAR_VOLUME",
    "KernelBlocks",
    "Mode",
    "Normalisation",
    "couple",
    "coupling_weight",
    "equivariant_kernels",
    "invariant_kernels",
    "invariant_product",
    "wigner_step",
]

Normalisation = Literal["haar", "plain"]
"""Per-step weight of the CG coupling; see the module docstring."""

Mode = Literal["reduced", "full"]
"""How invariants beyond ⌈ν_max/2⌉ are obtained; see the module docstring."""

HAAR_VOLUME = 8.0 * math.pi**2
"""∫dR over SO(3) with the Haar measure used throughout (dimensionless)."""

BlockKey = tuple[int, int]
"""(λ, σ): angular degree λ ≥ 0 and parity label σ = ±1."""


@dataclasses.dataclass(frozen=True, eq=False)
class KernelBlocks:
    """Equivariant kernel of one body order for a batch of environment pairs.

    Attributes:
        body_order: ν ≥ 0.
        blocks: (λ, σ) → (n_pairs, 2λ+1, 2λ+1) tensor in Å^(−3ν), rows μ of A,
            columns μ′ of B. Keys that no coupling path reaches are absent (their
            block is zero).
    """

    body_order: int
    blocks: Mapping[BlockKey, torch.Tensor]

    def __post_init__(self) -> None:
        if self.body_order < 0:
            raise ValueError(f"body_order must be ≥ 0, got {self.body_order}")
        if (0, 1) not in self.blocks:
            raise ValueError("blocks must contain the invariant block (λ, σ) = (0, 1)")
        n_pairs = self.blocks[(0, 1)].shape[0]
        for (lam, sigma), block in self.blocks.items():
            expected = (n_pairs, 2 * lam + 1, 2 * lam + 1)
            if lam < 0 or sigma not in (-1, 1) or tuple(block.shape) != expected:
                raise ValueError(
                    f"block (λ, σ) = ({lam}, {sigma}) must have λ ≥ 0, σ = ±1 and "
                    f"shape {expected}, got {tuple(block.shape)}"
                )

    @classmethod
    def from_nu1(cls, k_1: Sequence[torch.Tensor]) -> KernelBlocks:
        """Wrap the ν = 1 blocks of ``nu1_kernel`` (entry l: (n_pairs, 2l+1, 2l+1))."""
        return cls(1, {(ell, 1): block for ell, block in enumerate(k_1)})

    @classmethod
    def unit(cls, like: torch.Tensor) -> KernelBlocks:
        """The ν = 0 kernel: (0, +1) block of ones, (n_pairs, 1, 1), like ``like``.

        ``like`` is any tensor whose first dimension is n_pairs (dtype, device).
        """
        return cls(0, {(0, 1): like.new_ones((like.shape[0], 1, 1))})

    @property
    def n_pairs(self) -> int:
        """Number of environment pairs."""
        return int(self.blocks[(0, 1)].shape[0])

    @property
    def invariant(self) -> torch.Tensor:
        """The λ = 0, σ = +1 kernel, (n_pairs,)."""
        return self.blocks[(0, 1)][:, 0, 0]

    def by_degree(self) -> dict[int, tuple[tuple[int, ...], torch.Tensor]]:
        """λ → (parities σ present, σ = +1 first; their blocks (S, n_pairs, d, d))."""
        grouped: dict[int, list[tuple[int, torch.Tensor]]] = {}
        for (lam, sigma), block in sorted(self.blocks.items(), key=_key_order):
            grouped.setdefault(lam, []).append((sigma, block))
        return {
            lam: (tuple(s for s, _ in parts), torch.stack([b for _, b in parts]))
            for lam, parts in grouped.items()
        }


def _key_order(item: tuple[BlockKey, torch.Tensor]) -> tuple[int, int]:
    """Sort key: λ ascending, then σ = +1 before σ = −1."""
    (lam, sigma), _ = item
    return lam, -sigma


def coupling_weight(l1: int, l2: int, lam: int, normalisation: Normalisation) -> float:
    """w(l1, l2, λ) of one coupling step: (2l1+1)(2l2+1)/(8π²(2λ+1)) or 1."""
    if normalisation == "haar":
        return (2 * l1 + 1) * (2 * l2 + 1) / (HAAR_VOLUME * (2 * lam + 1))
    if normalisation == "plain":
        return 1.0
    raise ValueError(f"normalisation must be 'haar' or 'plain', got {normalisation!r}")


@functools.lru_cache(maxsize=1024)
def _coupling_tensor(
    l1: int,
    l2: int,
    lambda_max: int,
    normalisation: Normalisation,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, tuple[tuple[int, slice], ...]]:
    """√w-weighted real CG tensors of all allowed λ, stacked on the last axis.

    Returns:
        ((2l1+1, 2l2+1, Σ_λ (2λ+1)) tensor, ((λ, slice of the last axis), ...)), for
        |l1 − l2| ≤ λ ≤ min(l1 + l2, λ_max); an empty tuple if no λ is allowed.
    """
    lambdas = range(abs(l1 - l2), min(l1 + l2, lambda_max) + 1)
    with torch.inference_mode(False):  # cached: must stay usable by autograd
        parts = [
            real_clebsch_gordan(l1, l2, lam, dtype=torch.float64)
            * math.sqrt(coupling_weight(l1, l2, lam, normalisation))
            for lam in lambdas
        ]
        if not parts:
            return torch.zeros(0, dtype=dtype, device=device), ()
        stacked = torch.cat(parts, dim=2).to(dtype=dtype, device=device)
    offsets = [0]
    for lam in lambdas:
        offsets.append(offsets[-1] + 2 * lam + 1)
    slices = tuple(
        (lam, slice(start, stop))
        for lam, start, stop in zip(lambdas, offsets, offsets[1:], strict=False)
    )
    return stacked, slices


def _check_compatible(k_a: KernelBlocks, k_b: KernelBlocks) -> None:
    """Raise ValueError unless both kernels cover the same environment pairs."""
    if k_a.n_pairs != k_b.n_pairs:
        raise ValueError(
            f"kernels of {k_a.n_pairs} and {k_b.n_pairs} environment pairs differ"
        )


def _couple_degrees(
    stack_a: torch.Tensor,
    stack_b: torch.Tensor,
    cg: torch.Tensor,
    lambdas: tuple[tuple[int, slice], ...],
) -> list[torch.Tensor]:
    """Σ C C k_a k_b for stacked parities, one tensor per allowed λ.

    Three matrix products: a GEMM with C over the rows of k_a, a batched product
    with k_b over pairs, a GEMM with C over the (a′, b′) columns; the λ ≠ λ′
    off-diagonal part of the last one is computed and dropped (fewer, larger
    products are faster than one per λ for l ≤ 3).

    Args:
        stack_a: (S1, P, a, a) blocks of degree l1 (a = 2l1+1), one per parity.
        stack_b: (S2, P, b, b) blocks of degree l2 (b = 2l2+1), one per parity.
        cg: (a, b, L) stacked weighted CG tensors; ``lambdas`` gives their columns.
        lambdas: ((λ, slice of the last axis of ``cg``), ...).

    Returns:
        Per λ, (S1, S2, P, 2λ+1, 2λ+1). Cost O(P a b L (a + b + L)).
    """
    s1, p, a, _ = stack_a.shape
    b, width = cg.shape[1], cg.shape[2]
    # left[s, p, a′, j, μ] = Σ_i k_a[s, p, i, a′] C[i, j, μ]
    left = stack_a.transpose(-1, -2).reshape(-1, a) @ cg.reshape(a, b * width)
    left = left.view(s1, p, a, b, width).permute(1, 0, 4, 2, 3)
    rows = left.reshape(p, s1 * width * a, b)  # (P, S1 μ a′, j)
    flat_cg = cg.reshape(a * b, width)
    per_parity = [
        (torch.bmm(rows, block_b).view(-1, a * b) @ flat_cg).view(p, s1, width, width)
        for block_b in stack_b
    ]
    coupled = torch.stack(per_parity, dim=2)  # (P, S1, S2, L, L)
    return [coupled[..., cols, cols].permute(1, 2, 0, 3, 4) for _, cols in lambdas]


def _same_blocks(k_a: KernelBlocks, k_b: KernelBlocks) -> bool:
    """Whether both kernels hold the very same block tensors (k ⊗ k, e.g. ν = 1 → 2).

    Then the (l1, l2) and (l2, l1) terms of :func:`couple` are equal: the real CG
    obey C^{λμ}_{l2m2 l1m1} = ±C^{λμ}_{l1m1 l2m2} with one sign per (l1, l2, λ),
    which cancels in C C, and the parity label is symmetric in l1, l2. Each
    l1 < l2 term is therefore computed once and doubled (same value up to rounding).
    """
    if k_a.blocks.keys() != k_b.blocks.keys():
        return False
    return all(k_a.blocks[key] is k_b.blocks[key] for key in k_a.blocks)


def _accumulate(
    out: dict[BlockKey, torch.Tensor], key: BlockKey, block: torch.Tensor
) -> None:
    """out[key] += block (out-of-place, so autograd sees every term)."""
    previous = out.get(key)
    out[key] = block if previous is None else previous + block


def couple(
    k_a: KernelBlocks,
    k_b: KernelBlocks,
    lambda_max: int,
    normalisation: Normalisation,
) -> KernelBlocks:
    """CG product of two equivariant kernels, body order ν_a + ν_b.

    k_{λσ} = Σ [σ = σ1 σ2 (−1)^{l1+l2+λ}] w(l1, l2, λ) Σ C C k_a{l1σ1} k_b{l2σ2}
    over |l1 − l2| ≤ λ ≤ min(l1 + l2, λ_max). With ``k_b`` a ν = 1 kernel this is
    one Wigner step (:func:`wigner_step`).

    Args:
        k_a: kernel of body order ν_a, blocks (n_pairs, 2l1+1, 2l1+1).
        k_b: kernel of body order ν_b for the same pairs, same dtype and device.
        lambda_max: largest λ kept, ≥ 0.
        normalisation: ``"haar"`` or ``"plain"`` (module docstring).

    Returns:
        Kernel of body order ν_a + ν_b with blocks for λ ≤ λ_max.
    """
    _check_compatible(k_a, k_b)
    if lambda_max < 0:
        raise ValueError(f"lambda_max must be ≥ 0, got {lambda_max}")
    reference = k_a.blocks[(0, 1)]
    out: dict[BlockKey, torch.Tensor] = {}
    degrees_b = k_b.by_degree()
    symmetric = _same_blocks(k_a, k_b)
    for l1, (sigmas_1, stack_a) in k_a.by_degree().items():
        for l2, (sigmas_2, stack_b) in degrees_b.items():
            if symmetric and l2 < l1:
                continue  # counted twice at (l2, l1), see _same_blocks
            cg, lambdas = _coupling_tensor(
                l1, l2, lambda_max, normalisation, reference.dtype, reference.device
            )
            if not lambdas:
                continue
            per_degree = _couple_degrees(stack_a, stack_b, cg, lambdas)
            if symmetric and l1 != l2:
                per_degree = [2.0 * coupled for coupled in per_degree]
            for (lam, _), coupled in zip(lambdas, per_degree, strict=True):
                for i, sigma_1 in enumerate(sigmas_1):
                    for j, sigma_2 in enumerate(sigmas_2):
                        sigma = sigma_1 * sigma_2 * (-1) ** (l1 + l2 + lam)
                        _accumulate(out, (lam, sigma), coupled[i, j])
    return KernelBlocks(k_a.body_order + k_b.body_order, out)


def wigner_step(
    k_nu: KernelBlocks,
    k_1: Sequence[torch.Tensor],
    lambda_max: int,
    normalisation: Normalisation,
) -> KernelBlocks:
    """One Wigner iteration: body order ν + 1 from ν and the ν = 1 kernel.

    Args:
        k_nu: kernel of body order ν, blocks (n_pairs, 2λ+1, 2λ+1).
        k_1: ν = 1 blocks of ``nu1_kernel``, entry l (n_pairs, 2l+1, 2l+1), Å⁻³.
        lambda_max: largest λ kept, ≥ 0.
        normalisation: ``"haar"`` or ``"plain"`` (module docstring).

    Returns:
        Kernel of body order ν + 1, blocks for λ ≤ λ_max and both parities.
    """
    return couple(k_nu, KernelBlocks.from_nu1(k_1), lambda_max, normalisation)


def invariant_product(
    k_a: KernelBlocks, k_b: KernelBlocks, normalisation: Normalisation
) -> torch.Tensor:
    """The λ = 0, σ = +1 block of :func:`couple` alone, (n_pairs,).

    Σ over (l, σ) present in both kernels of w(l, l, 0) Σ C C k_a{lσ} k_b{lσ}; with
    the CG of (l, l, 0) ∝ δ_{mm′}/√(2l+1) this is Σ w/(2l+1) Σ_{mm′} k_a k_b,
    w/(2l+1) = (2l+1)/8π² (``"haar"``) or 1/(2l+1) (``"plain"``). Cost O(P l_max³).
    """
    _check_compatible(k_a, k_b)
    reference = k_a.blocks[(0, 1)]
    total = reference.new_zeros(reference.shape[0])
    for (ell, sigma), block_a in k_a.blocks.items():
        block_b = k_b.blocks.get((ell, sigma))
        if block_b is None:
            continue
        cg, _ = _coupling_tensor(
            ell, ell, 0, normalisation, reference.dtype, reference.device
        )
        c = cg[:, :, 0]
        total = total + torch.einsum("ij,pik,kl,pjl->p", c, block_a, c, block_b)
    return total


def equivariant_kernels(
    k_1: Sequence[torch.Tensor],
    nu_max: int,
    lambda_max: int,
    normalisation: Normalisation,
) -> list[KernelBlocks]:
    """All blocks of every body order ν = 0..ν_max by repeated Wigner steps.

    Args:
        k_1: ν = 1 blocks of ``nu1_kernel``, entry l (n_pairs, 2l+1, 2l+1), Å⁻³.
        nu_max: highest body order, ≥ 0.
        lambda_max: largest λ of the blocks of order ≥ 2 (order 1 keeps l ≤ l_max).
        normalisation: ``"haar"`` or ``"plain"`` (module docstring).

    Returns:
        List of ν_max + 1 kernels; entry ν has body order ν (entry 0: ones).
    """
    if nu_max < 0 or lambda_max < 0 or len(k_1) == 0:
        raise ValueError(
            f"need nu_max ({nu_max}) ≥ 0, lambda_max ({lambda_max}) ≥ 0, k_1 non-empty"
        )
    kernels = [KernelBlocks.unit(k_1[0])]
    if nu_max >= 1:
        kernels.append(KernelBlocks.from_nu1(k_1))
    for _ in range(2, nu_max + 1):
        kernels.append(wigner_step(kernels[-1], k_1, lambda_max, normalisation))
    return kernels


def invariant_kernels(
    k_1: Sequence[torch.Tensor],
    nu_max: int,
    lambda_max: int,
    *,
    mode: Mode = "reduced",
    normalisation: Normalisation,
) -> torch.Tensor:
    """Invariant (λ = 0, σ = +1) kernels of body orders ν = 0..ν_max.

    Args:
        k_1: ν = 1 blocks of ``nu1_kernel``, entry l (n_pairs, 2l+1, 2l+1), Å⁻³.
        nu_max: highest body order, ≥ 0.
        lambda_max: largest λ of the intermediate equivariant blocks.
        mode: ``"reduced"`` (blocks up to ⌈ν_max/2⌉, then invariant contractions)
            or ``"full"`` (blocks of every order); equal for λ_max ≥ l_max.
        normalisation: ``"haar"`` or ``"plain"`` (module docstring).

    Returns:
        (ν_max + 1, n_pairs); row 0 is ones, row ν in Å^(−3ν).
    """
    if mode == "full":
        kernels = equivariant_kernels(k_1, nu_max, lambda_max, normalisation)
        return torch.stack([kernel.invariant for kernel in kernels])
    if mode != "reduced":
        raise ValueError(f"mode must be 'reduced' or 'full', got {mode!r}")
    coupling_weight(0, 0, 0, normalisation)  # validates the name
    half = (nu_max + 1) // 2
    kernels = equivariant_kernels(k_1, half, lambda_max, normalisation)
    rows = [kernel.invariant for kernel in kernels]
    for nu in range(half + 1, nu_max + 1):
        rows.append(invariant_product(kernels[half], kernels[nu - half], normalisation))
    return torch.stack(rows)
