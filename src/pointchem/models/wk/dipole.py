r"""λ = 1 Wigner kernels in Cartesian form: the kernel of a polar-vector target.

A molecular dipole μ (e·Å) is a polar vector: it rotates with the molecule,
μ(RA) = R μ(A), and changes sign under inversion, μ(−A) = −μ(A). The Wigner
iteration (:mod:`~pointchem.models.wk.iteration`) gives, for every body order ν,
blocks k^(ν)_{λσ}(A, B) with k(RA, B) = D^λ(R) k(A, B) and
k(−A, B) = σ (−1)^λ k(A, B) (from its parity rule and k(B, A) = k(A, B)ᵀ). For
λ = 1 the block with **σ = +1** therefore flips sign under inversion, like μ; the
σ = −1 block is unchanged under inversion and would describe a pseudovector
(angular momentum, magnetic moment). The ν = 1 blocks have σ = +1, and the ν = 0
kernel has no λ = 1 part.

The real harmonics of degree 1 are Y_1 = √(3/4π) (y, z, x)/r
(:mod:`~pointchem.models.wk.spherical`), so with the permutation Q, Q(x, y, z) =
(y, z, x), the Wigner matrix of degree 1 is D^1(R) = Q R Qᵀ. The Cartesian block

    K_cart(A, B) = Qᵀ k_{1,+}(A, B) Q        (3 × 3, rows x, y, z of A)

then obeys K_cart(RA, B) = R K_cart(A, B) and K_cart(A, RB) = K_cart(A, B) Rᵀ,
and the dipole model of :class:`~pointchem.models.wk.WignerKernelModel`,

    μ_i = Σ_{m: Z(X_m) = Z_i} Σ_ν c_ν K^(ν)_cart(A_i, X_m) w_m,   μ = Σ_i μ_i,

with a weight vector w_m ∈ R³ (e·Å) per support environment, is exactly
equivariant: μ(RA) = R μ(A), μ(−A) = −μ(A), whatever the weights. It is
translation invariant, which is right for neutral molecules (their dipole does
not depend on the origin); for charged structures it models the dipole about an
origin that moves with the molecule.

Body orders follow the energy kernel's mode: ``"full"`` takes the (1, +1) block
of every order of the iteration; ``"reduced"`` keeps full blocks up to
ν_h = ⌈ν_max/2⌉ and obtains order ν > ν_h as the λ = 1, σ = +1 block of the CG
product of k^(ν_h) and k^(ν−ν_h), the same split as the invariants of the energy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .iteration import (
    KernelBlocks,
    Mode,
    Normalisation,
    couple,
    equivariant_kernels,
)

__all__ = ["CARTESIAN_ORDER", "to_cartesian", "vector_kernels"]

CARTESIAN_ORDER = (2, 0, 1)
"""Index m + 1 of the real Y_1m holding x, y and z: Y_1 ∝ (y, z, x)."""

_POLAR: tuple[int, int] = (1, 1)
"""(λ, σ) of a polar vector."""


def to_cartesian(blocks: torch.Tensor) -> torch.Tensor:
    """Qᵀ k Q: λ = 1 blocks from the real-harmonic basis (m = −1, 0, 1) to x, y, z.

    Args:
        blocks: (..., 3, 3) blocks, rows and columns ordered m = −1, 0, 1.

    Returns:
        (..., 3, 3) blocks with rows and columns ordered x, y, z.
    """
    order = torch.tensor(CARTESIAN_ORDER, device=blocks.device)
    return blocks.index_select(-2, order).index_select(-1, order)


def _polar_block(kernel: KernelBlocks) -> torch.Tensor:
    """The (1, +1) block of ``kernel``, (P, 3, 3); zeros when no path reaches it."""
    block = kernel.blocks.get(_POLAR)
    if block is not None:
        return block
    return kernel.blocks[(0, 1)].new_zeros(kernel.n_pairs, 3, 3)


def vector_kernels(
    k_1: Sequence[torch.Tensor],
    nu_max: int,
    lambda_max: int,
    *,
    mode: Mode,
    normalisation: Normalisation,
) -> torch.Tensor:
    """Cartesian λ = 1, σ = +1 kernels of body orders ν = 0..ν_max.

    Args:
        k_1: ν = 1 blocks of ``nu1_kernel``, entry l (n_pairs, 2l+1, 2l+1), Å⁻³;
            needs l_max ≥ 1.
        nu_max: highest body order, ≥ 1.
        lambda_max: largest λ of the intermediate blocks of order ≥ 2, ≥ 1.
        mode: ``"reduced"`` or ``"full"`` (module docstring).
        normalisation: ``"haar"`` or ``"plain"``, as for the invariants.

    Returns:
        (ν_max + 1, n_pairs, 3, 3), row ν in Å^(−3ν), rows x, y, z of environment
        A, columns x, y, z of B. Row 0 is zero (the ν = 0 kernel is invariant).
    """
    if len(k_1) < 2 or nu_max < 1 or lambda_max < 1:
        raise ValueError(
            "a λ = 1 kernel needs l_max ≥ 1, nu_max ≥ 1 and lambda_max ≥ 1; got "
            f"l_max = {len(k_1) - 1}, nu_max = {nu_max}, lambda_max = {lambda_max}"
        )
    if mode == "full":
        kernels = equivariant_kernels(k_1, nu_max, lambda_max, normalisation)
        blocks = [_polar_block(kernel) for kernel in kernels]
    elif mode == "reduced":
        half = (nu_max + 1) // 2
        kernels = equivariant_kernels(k_1, half, lambda_max, normalisation)
        blocks = [_polar_block(kernel) for kernel in kernels]
        for nu in range(half + 1, nu_max + 1):
            product = couple(kernels[half], kernels[nu - half], 1, normalisation)
            blocks.append(_polar_block(product))
    else:
        raise ValueError(f"mode must be 'reduced' or 'full', got {mode!r}")
    return to_cartesian(torch.stack(blocks))
