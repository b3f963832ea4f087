"""Clebsch–Gordan coefficients for the real spherical harmonics of ``spherical.py``.

Complex coefficients ⟨l1 m1 l2 m2 | λ μ⟩ (Condon–Shortley convention) come from the
Racah formula in exact rational arithmetic with a single final square root. They are
turned into real coefficients with the unitary U^l that maps complex to real
harmonics, Y^real_l = U^l Y^complex_l (rows: real m = −l..l, columns: complex m):

    U_{m,m} = (−1)^m/√2,  U_{m,−m} = 1/√2                (m > 0)
    U_{0,0} = 1
    U_{−m,−m} = i/√2,     U_{−m,m} = −i (−1)^m/√2        (m > 0)

    C[m1, m2, μ] = (−i)^{(l1+l2+λ) mod 2} Σ U^λ_{μ μ'} ⟨l1 m1' l2 m2' | λ μ'⟩
                                             × conj(U^l1_{m1 m1'}) conj(U^l2_{m2 m2'}).

Reality convention: the sum alone is real when l1 + l2 + λ is even and purely
imaginary when it is odd; the factor −i makes the odd ones real (any global phase
keeps equivariance; −i is ours). With this,

    Σ_{m1 m2} C[m1, m2, μ] a_{m1} b_{m2}

transforms like Y_λμ whenever a and b transform like Y_l1 and Y_l2 (real Wigner
matrices D^l with Y_l(R r̂) = D^l(R) Y_l(r̂)), and for even l1 + l2 + λ

    Σ_{m1 m2} C[m1, m2, μ] Y_l1m1 Y_l2m2 = √((2l1+1)(2l2+1)/(4π(2λ+1)))
                                           ⟨l1 0 l2 0 | λ 0⟩ Y_λμ.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import torch

__all__ = ["complex_clebsch_gordan", "complex_to_real_matrix", "real_clebsch_gordan"]


def _check_triangle(l1: int, l2: int, lam: int) -> None:
    """Raise ValueError unless l1, l2, λ ≥ 0 and |l1 − l2| ≤ λ ≤ l1 + l2."""
    if min(l1, l2, lam) < 0 or not abs(l1 - l2) <= lam <= l1 + l2:
        raise ValueError(
            f"(l1, l2, λ) = ({l1}, {l2}, {lam}) violates |l1 − l2| ≤ λ ≤ l1 + l2"
        )


def _racah_sum(l1: int, m1: int, l2: int, m2: int, lam: int) -> Fraction:
    """The alternating sum of Racah's formula (exact).

    Σ_k (−1)^k / [k! (l1+l2−λ−k)! (l1−m1−k)! (l2+m2−k)! (λ−l2+m1+k)! (λ−l1−m2+k)!].
    """
    f = math.factorial
    k_min = max(0, l2 - lam - m1, l1 - lam + m2)
    k_max = min(l1 + l2 - lam, l1 - m1, l2 + m2)
    total = Fraction(0)
    for k in range(k_min, k_max + 1):
        denominator = (
            f(k)
            * f(l1 + l2 - lam - k)
            * f(l1 - m1 - k)
            * f(l2 + m2 - k)
            * f(lam - l2 + m1 + k)
            * f(lam - l1 - m2 + k)
        )
        total += Fraction((-1) ** k, denominator)
    return total


@functools.cache
def complex_clebsch_gordan(
    l1: int, m1: int, l2: int, m2: int, lam: int, mu: int
) -> float:
    """⟨l1 m1 l2 m2 | λ μ⟩ for complex spherical harmonics (Condon–Shortley phase).

    Racah's formula: δ_{μ, m1+m2} √[(2λ+1)(λ+l1−l2)!(λ−l1+l2)!(l1+l2−λ)!/(l1+l2+λ+1)!]
    × √[(λ+μ)!(λ−μ)!(l1−m1)!(l1+m1)!(l2−m2)!(l2+m2)!] × (the alternating sum of
    :func:`_racah_sum`), evaluated exactly as ±√(rational) and rounded once.

    Args:
        l1: degree of the first factor, ≥ 0.
        m1: its projection, |m1| ≤ l1.
        l2: degree of the second factor, ≥ 0.
        m2: its projection, |m2| ≤ l2.
        lam: coupled degree λ, |l1 − l2| ≤ λ ≤ l1 + l2.
        mu: coupled projection μ, |μ| ≤ λ.

    Returns:
        The coefficient (dimensionless, float64 accuracy).
    """
    _check_triangle(l1, l2, lam)
    if abs(m1) > l1 or abs(m2) > l2 or abs(mu) > lam:
        raise ValueError(f"|m| > l in ({l1}, {m1}, {l2}, {m2}, {lam}, {mu})")
    if mu != m1 + m2:
        return 0.0
    f = math.factorial
    prefactor = Fraction(
        (2 * lam + 1) * f(lam + l1 - l2) * f(lam - l1 + l2) * f(l1 + l2 - lam),
        f(l1 + l2 + lam + 1),
    )
    prefactor *= (
        f(lam + mu) * f(lam - mu) * f(l1 - m1) * f(l1 + m1) * f(l2 - m2) * f(l2 + m2)
    )
    total = _racah_sum(l1, m1, l2, m2, lam)
    magnitude = math.sqrt(prefactor * total * total)
    return math.copysign(magnitude, total) if total != 0 else 0.0


@functools.cache
def _unitary(ell: int) -> np.ndarray:
    """U^l (complex128, (2l+1, 2l+1)), read-only; see the module docstring."""
    matrix = np.zeros((2 * ell + 1, 2 * ell + 1), dtype=np.complex128)
    matrix[ell, ell] = 1.0
    for m in range(1, ell + 1):
        matrix[ell + m, ell + m] = (-1) ** m / math.sqrt(2.0)
        matrix[ell + m, ell - m] = 1.0 / math.sqrt(2.0)
        matrix[ell - m, ell - m] = 1j / math.sqrt(2.0)
        matrix[ell - m, ell + m] = -1j * (-1) ** m / math.sqrt(2.0)
    matrix.setflags(write=False)
    return matrix


def complex_to_real_matrix(ell: int) -> torch.Tensor:
    """U^l with Y^real_l = U^l Y^complex_l, complex128 of shape (2l+1, 2l+1), unitary.

    Rows are real m = −l..l (order of :func:`spherical_harmonics`), columns complex m.
    """
    return torch.from_numpy(_unitary(ell).copy())


@functools.cache
def _complex_block(l1: int, l2: int, lam: int) -> np.ndarray:
    """⟨l1 m1 l2 m2 | λ μ⟩ as a (2l1+1, 2l2+1, 2λ+1) float64 array."""
    block = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * lam + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            if abs(m1 + m2) <= lam:
                block[l1 + m1, l2 + m2, lam + m1 + m2] = complex_clebsch_gordan(
                    l1, m1, l2, m2, lam, m1 + m2
                )
    return block


@functools.cache
def _real_block(l1: int, l2: int, lam: int) -> np.ndarray:
    """Real CG tensor (read-only float64 array); see :func:`real_clebsch_gordan`."""
    _check_triangle(l1, l2, lam)
    transformed = np.einsum(
        "ab,ji,lk,ikb->jla",
        _unitary(lam),
        _unitary(l1).conj(),
        _unitary(l2).conj(),
        _complex_block(l1, l2, lam),
    )
    if (l1 + l2 + lam) % 2 == 1:
        transformed = -1j * transformed
    scale = max(1.0, float(np.abs(transformed).max()))
    if np.abs(transformed.imag).max() > 1e-12 * scale:
        raise ArithmeticError(f"real CG ({l1}, {l2}, {lam}) is not real")
    block = np.ascontiguousarray(transformed.real)
    block.setflags(write=False)
    return block


def real_clebsch_gordan(
    l1: int,
    l2: int,
    lam: int,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Real Clebsch–Gordan tensor C[m1, m2, μ] coupling Y_l1 ⊗ Y_l2 → Y_λ.

    Convention (including the −i for odd l1 + l2 + λ) in the module docstring. The
    tensor is built once per (l1, l2, λ) in float64 and cached; every call returns a
    fresh copy, so callers may modify it.

    Args:
        l1: degree of the first factor, ≥ 0.
        l2: degree of the second factor, ≥ 0.
        lam: coupled degree λ, |l1 − l2| ≤ λ ≤ l1 + l2.
        dtype: floating dtype of the result.
        device: device of the result (CPU if None).

    Returns:
        (2l1+1, 2l2+1, 2λ+1) dimensionless tensor, m indices ordered −l..l.
    """
    block = torch.from_numpy(_real_block(l1, l2, lam).copy())
    return block.to(dtype=dtype, device=device)
