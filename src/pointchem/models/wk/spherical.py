"""Real spherical harmonics and the scaled modified spherical Bessel functions ĩ_l.

Both are the angular and radial halves of the plane-wave-like expansion used by the
ν = 1 Wigner kernel (:mod:`pointchem.models.wk.density_kernel`),

    exp(x r̂·r̂′) = 4π Σ_l i_l(x) Σ_m Y_lm(r̂) Y_lm(r̂′).

Real spherical harmonics (convention of Wikipedia, sphericart and e3nn's "component"
order; no Condon–Shortley phase left over): with the complex Y_l^m of quantum
mechanics (Condon–Shortley phase included),

    Y_l,m  = √2 (−1)^m Re Y_l^m     (m > 0),
    Y_l,0  = Y_l^0,
    Y_l,−m = √2 (−1)^m Im Y_l^m     (m > 0),

so that Y_1 = √(3/4π) (y, z, x)/r: every Y_lm is a positive multiple of
Re or Im (x + iy)^|m| times a polynomial in z/r. Components are ordered m = −l..l.

Scaled modified spherical Bessel functions of the first kind ĩ_l(x) = e^{−x} i_l(x),
i_l(x) = √(π/2x) I_{l+½}(x), are bounded by 1 for x ≥ 0 and decay as 1/(2x).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

__all__ = ["scaled_spherical_bessel_i", "spherical_harmonics"]


def _legendre_derivative_coefficients(l_max: int) -> dict[tuple[int, int], float]:
    """Normalisation √2·N_lm (N_l0 for m = 0) of q_l^m(z) = d^m P_l(z) / dz^m."""
    factors = {}
    for ell in range(l_max + 1):
        for m in range(ell + 1):
            norm = (2 * ell + 1) / (4 * math.pi)
            norm *= math.factorial(ell - m) / math.factorial(ell + m)
            factors[(ell, m)] = math.sqrt(norm * (2.0 if m > 0 else 1.0))
    return factors


def _legendre_derivatives(
    z: torch.Tensor, l_max: int
) -> dict[tuple[int, int], torch.Tensor]:
    """q_l^m(z) = d^m P_l / dz^m for 0 ≤ m ≤ l ≤ l_max, by the stable recursion in l.

    q_m^m = (2m−1)!!, q_{m+1}^m = (2m+1) z q_m^m and, for l ≥ m+2,
    (l−m) q_l^m = (2l−1) z q_{l−1}^m − (l+m−1) q_{l−2}^m.
    """
    q: dict[tuple[int, int], torch.Tensor] = {}
    double_factorial = 1.0
    for m in range(l_max + 1):
        if m > 0:
            double_factorial *= 2 * m - 1
        q[(m, m)] = torch.full_like(z, double_factorial)
        if m + 1 <= l_max:
            q[(m + 1, m)] = (2 * m + 1) * z * q[(m, m)]
        for ell in range(m + 2, l_max + 1):
            q[(ell, m)] = (
                (2 * ell - 1) * z * q[(ell - 1, m)] - (ell + m - 1) * q[(ell - 2, m)]
            ) / (ell - m)
    return q


def _azimuthal_parts(
    x: torch.Tensor, y: torch.Tensor, l_max: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Re and Im of (x + iy)^m for m = 0..l_max (unnormalised, polynomial in x, y)."""
    cosines = [torch.ones_like(x)]
    sines = [torch.zeros_like(x)]
    for m in range(1, l_max + 1):
        cosines.append(x * cosines[m - 1] - y * sines[m - 1])
        sines.append(x * sines[m - 1] + y * cosines[m - 1])
    return cosines, sines


def spherical_harmonics(vectors: torch.Tensor, l_max: int) -> list[torch.Tensor]:
    """Real spherical harmonics Y_lm(r̂) of the directions of ``vectors``, l ≤ l_max.

    Orthonormal on the unit sphere (∫ Y_lm Y_l'm' dΩ = δ_ll' δ_mm'), sign and order
    convention in the module docstring. Computed as polynomials of the unit vector
    (associated-Legendre recursion in l for the z part, (x + iy)^m for the azimuthal
    part), so autograd gives exact derivatives of any order, on any device and dtype.

    A zero vector has no direction; it gets Y_00 = 1/√(4π), every l ≥ 1 component 0
    and zero gradients (no NaN). Callers should not rely on this: in pointchem an
    atom is never its own neighbour, and padding entries are masked by the caller.

    Args:
        vectors: (n, 3) Cartesian vectors in any length unit (only directions matter).
        l_max: largest degree, ≥ 0.

    Returns:
        List of l_max + 1 tensors; entry l has shape (n, 2l + 1), dimensionless
        (sr^−½), components ordered m = −l..l, same dtype and device as ``vectors``.
    """
    if l_max < 0:
        raise ValueError(f"l_max must be >= 0, got {l_max}")
    squared = (vectors * vectors).sum(dim=-1)
    nonzero = squared > 0
    inverse_norm = torch.rsqrt(torch.where(nonzero, squared, torch.ones_like(squared)))
    unit = (
        vectors * torch.where(nonzero, inverse_norm, torch.zeros_like(squared))[:, None]
    )
    x, y, z = unit[:, 0], unit[:, 1], unit[:, 2]
    q = _legendre_derivatives(z, l_max)
    cosines, sines = _azimuthal_parts(x, y, l_max)
    norms = _legendre_derivative_coefficients(l_max)
    harmonics = []
    for ell in range(l_max + 1):
        negative = [norms[(ell, m)] * q[(ell, m)] * sines[m] for m in range(ell, 0, -1)]
        positive = [
            norms[(ell, m)] * q[(ell, m)] * cosines[m] for m in range(1, ell + 1)
        ]
        block = torch.stack(
            [*negative, norms[(ell, 0)] * q[(ell, 0)], *positive], dim=-1
        )
        if ell > 0:
            block = torch.where(nonzero[:, None], block, torch.zeros_like(block))
        harmonics.append(block)
    return harmonics


_SERIES_THRESHOLD = 4.0
"""Below max(this, 1.5·l_max), ĩ_l comes from the power series; above, from the finite
closed form, which then loses at most ~3 digits to cancellation (l ≤ 12; none for
l ≤ 4). The series (all terms positive) needs 18 terms for l_max ≤ 3."""


@functools.cache
def _series_coefficients(l_max: int, threshold: float) -> tuple[tuple[float, ...], ...]:
    """a[l][k] with i_l(x) = x^l/(2l+1)!! Σ_k a[l][k] (x²/2)^k for x ≤ threshold.

    a[l][k] = 1 / (k! (2l+3)(2l+5)···(2l+2k+1)); the number of terms is chosen so that
    the last one is below 1e−18 of the first at x = threshold for l = 0 (slowest).
    """
    y = threshold * threshold / 2.0
    n_terms, term = 1, 1.0
    while term > 1e-18 or n_terms < 4:
        term *= y / (n_terms * (2 * n_terms + 1))
        n_terms += 1
    table = []
    for ell in range(l_max + 1):
        row, coefficient = [1.0], 1.0
        for k in range(1, n_terms):
            coefficient /= k * (2 * ell + 2 * k + 1)
            row.append(coefficient)
        table.append(tuple(row))
    return tuple(table)


@functools.cache
def _closed_form_coefficients(l_max: int) -> tuple[tuple[float, ...], ...]:
    """c[l][k] = (l+k)! / (k! (l−k)!) for k ≤ l, zero-padded to l_max + 1 columns."""
    return tuple(
        tuple(
            math.factorial(ell + k) / (math.factorial(k) * math.factorial(ell - k))
            if k <= ell
            else 0.0
            for k in range(l_max + 1)
        )
        for ell in range(l_max + 1)
    )


def _scaled_bessel_series(
    x: torch.Tensor, l_max: int, threshold: float
) -> torch.Tensor:
    """ĩ_l(x) for 0 ≤ x ≤ threshold from the power series; x: (n,) → (n, l_max + 1).

    Horner's scheme in place on an (l_max + 1, n) layout (no autograd here).
    """
    table = _series_coefficients(l_max, threshold)
    coefficients = torch.tensor(table, dtype=x.dtype, device=x.device).T[:, :, None]
    y = 0.5 * x * x
    total = coefficients[-1].repeat(1, x.shape[0])
    for k in range(coefficients.shape[0] - 2, -1, -1):
        total.mul_(y).add_(coefficients[k])
    double_factorials = [
        math.prod(range(1, 2 * ell + 2, 2)) for ell in range(l_max + 1)
    ]
    scale = torch.exp(-x)
    for ell in range(l_max + 1):
        total[ell].mul_(scale / double_factorials[ell])
        scale = scale * x
    return total.T


def _scaled_bessel_closed_form(x: torch.Tensor, l_max: int) -> torch.Tensor:
    """ĩ_l(x) for x > 0 from the exact finite sum (accurate for x ≳ 1.5 l).

    ĩ_l(x) = [Σ_k (−1)^k c_lk u^k + (−1)^{l+1} e^{−2x} Σ_k c_lk u^k] / (2x), u = 1/(2x).
    """
    coefficients = torch.tensor(
        _closed_form_coefficients(l_max), dtype=x.dtype, device=x.device
    )
    degrees = torch.arange(l_max + 1, dtype=x.dtype, device=x.device)
    powers = torch.pow((0.5 / x)[:, None], degrees)
    signs = torch.pow(-1.0, degrees)
    alternating = (powers * signs) @ coefficients.T
    plain = powers @ coefficients.T
    decaying = torch.exp(-2.0 * x)[:, None] * plain * (-signs)
    return (alternating + decaying) * (0.5 / x)[:, None]


def _scaled_bessel_values(x: torch.Tensor, l_max: int) -> torch.Tensor:
    """ĩ_l(x), l = 0..l_max, for a flat x ≥ 0 of shape (n,), no autograd."""
    threshold = max(_SERIES_THRESHOLD, 1.5 * l_max)
    small = x < threshold
    if bool(small.all()):
        return _scaled_bessel_series(x, l_max, threshold)
    values = torch.empty(x.shape[0], l_max + 1, dtype=x.dtype, device=x.device)
    values[small] = _scaled_bessel_series(x[small], l_max, threshold)
    values[~small] = _scaled_bessel_closed_form(x[~small], l_max)
    return values


class _ScaledBessel(torch.autograd.Function):
    """ĩ_0..ĩ_L of x with the derivative from the recurrence (any order by recursion).

    dĩ_l/dx = [l ĩ_{l−1} + (l+1) ĩ_{l+1}] / (2l+1) − ĩ_l; the backward pass calls this
    function again with L + 1, so double backward works and only x is stored.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, l_max: int) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.l_max = l_max
        flat = x.reshape(-1)
        return _scaled_bessel_values(flat, l_max).reshape(*x.shape, l_max + 1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        l_max: int = ctx.l_max
        values = _ScaledBessel.apply(x, l_max + 1)
        degrees = torch.arange(l_max + 1, dtype=x.dtype, device=x.device)
        lower = torch.cat([torch.zeros_like(values[..., :1]), values[..., :l_max]], -1)
        upper = values[..., 1:]
        slopes = (degrees * lower + (degrees + 1) * upper) / (2 * degrees + 1)
        slopes = slopes - values[..., : l_max + 1]
        return (grad * slopes).sum(dim=-1), None


def scaled_spherical_bessel_i(x: torch.Tensor, l_max: int) -> torch.Tensor:
    """ĩ_l(x) = e^{−x} i_l(x) for l = 0..l_max, stable for 0 ≤ x ≲ 1e300.

    For x < max(4, 1.5·l_max): the power series of i_l (all terms positive, no
    cancellation, a fixed number of terms); otherwise the exact finite closed form
    i_l(x) = [e^x Σ_k (−1)^k c_lk/(2x)^k − (−1)^l e^{−x} Σ_k c_lk/(2x)^k] / (2x).
    No upward recursion is used. Relative accuracy in float64: ≲ 1e−14 for l ≤ 8,
    ≲ 2e−13 for l ≤ 12.
    Differentiable to any order (custom autograd function, derivatives from the
    recurrence dĩ_l/dx = [l ĩ_{l−1} + (l+1) ĩ_{l+1}]/(2l+1) − ĩ_l).

    Args:
        x: any shape, dimensionless, x ≥ 0 (negative x is not supported).
        l_max: largest order, ≥ 0.

    Returns:
        Shape ``(*x.shape, l_max + 1)``, dimensionless; ĩ_0(0) = 1 and ĩ_l(0) = 0
        for l ≥ 1.
    """
    if l_max < 0:
        raise ValueError(f"l_max must be >= 0, got {l_max}")
    result: torch.Tensor = _ScaledBessel.apply(x, l_max)
    return result
