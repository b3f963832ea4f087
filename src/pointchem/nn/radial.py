"""Primitive radial basis functions Φ_b(d) of an interatomic distance.

:func:`gaussian_basis` and :func:`bessel_basis` map distances of shape (n_edges,) in Å
to (n_edges, n_basis) values. The Gaussians are normalised in one dimension
(∫ Φ_b² dd = 1, unit Å^(−1/2)); the Bessel functions carry the prefactor of radial
functions in three dimensions (unit Å^(−3/2)). Neither includes a cutoff function:
multiply by :func:`pointchem.nn.cutoffs.cosine_cutoff` to make contributions vanish
at the cutoff. Everything is smooth and finite for every d ≥ 0, derivatives included.

For speed, :func:`gaussian_factors` and :func:`bessel_factors` return the same bases
as :class:`RadialFactors`: a few shared rows X(d) and constant matrices such that

    Φᵀ = (C₀ X) ⊙ a(d),        dΦᵀ/dd = (C₁ X) ⊙ b₁(d) + (C₀ X) ⊙ b₀(d),

(⊙ scales every column, i.e. every distance). A model that contracts Φ with learnable
weights w then gets both R = wΦ and dR/dd from two small matrix products with the
same rows, with no separate derivative evaluation.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import torch

__all__ = [
    "RadialFactors",
    "bessel_basis",
    "bessel_factors",
    "gaussian_basis",
    "gaussian_factors",
]

_SMALL_ANGLE = 1e-2
"""Below this angle θ (rad), sin θ / θ and its slope come from their Taylor series
(exact to rounding there, and free of 0/0)."""


@dataclasses.dataclass(frozen=True)
class RadialFactors:
    """A radial basis and its d-derivative in factored form (see the module docstring).

    Attributes:
        rows: (m, n) shared rows X, one column per distance.
        value_map: (N_b, m) constant C₀.
        slope_map: (N_b, m) constant C₁.
        value_scale: (n,) a(d).
        slope_scale: (n,) b₁(d), Å⁻¹ × the unit of a.
        value_slope_scale: (n,) b₀(d), Å⁻¹ × the unit of a.
    """

    rows: torch.Tensor
    value_map: torch.Tensor
    slope_map: torch.Tensor
    value_scale: torch.Tensor
    slope_scale: torch.Tensor
    value_slope_scale: torch.Tensor

    def values(self) -> torch.Tensor:
        """Φᵀ, shape (N_b, n)."""
        return (self.value_map @ self.rows) * self.value_scale

    def slopes(self) -> torch.Tensor:
        """dΦᵀ/dd, shape (N_b, n)."""
        return (self.slope_map @ self.rows) * self.slope_scale + (
            self.value_map @ self.rows
        ) * self.value_slope_scale

    def times(self, envelope: torch.Tensor, slope: torch.Tensor) -> RadialFactors:
        """The factors of Φ(d)·f(d), given f (n,) and df/dd (n,)."""
        return dataclasses.replace(
            self,
            value_scale=self.value_scale * envelope,
            slope_scale=self.slope_scale * envelope,
            value_slope_scale=self.value_slope_scale * envelope
            + self.value_scale * slope,
        )


def gaussian_basis(
    distances: torch.Tensor, n_basis: int, r_min: float, r_max: float
) -> torch.Tensor:
    """Equally spaced normalised Gaussians (the original GM-NN radial basis).

    With the width parameter γ = N_b² / r_max² (Å⁻²) and centres
    s_b = r_min + b (r_max − r_min) / N_b for b = 0..N_b−1 (Å),

        Φ_b(d) = (2γ/π)^{1/4} exp(−γ (d − s_b)²).

    The last centre lies one spacing short of ``r_max``, as in GM-NN and apax.

    Args:
        distances: (n_edges,) Å, any d ≥ 0.
        n_basis: N_b ≥ 1, number of Gaussians.
        r_min: s_0 in Å, centre of the first Gaussian.
        r_max: Å, the range the centres span (normally the cutoff).

    Returns:
        (n_edges, n_basis), Å^(−1/2), same dtype and device as ``distances``.
    """
    return gaussian_factors(distances, n_basis, r_min, r_max).values().T


def gaussian_factors(
    distances: torch.Tensor, n_basis: int, r_min: float, r_max: float
) -> RadialFactors:
    """:func:`gaussian_basis` in factored form.

    Rows X_b = exp(−γ (d − s_b)²), C₀ = (2γ/π)^{1/4} 𝟙, a = 1, and from
    dΦ_b/dd = −2γ (d − s_b) Φ_b: C₁ = C₀ diag(2γ s_b), b₁ = 1, b₀ = −2γ d.

    Args:
        distances: (n,) Å.
        n_basis: N_b ≥ 1.
        r_min: Å, centre of the first Gaussian.
        r_max: Å, range of the centres.

    Returns:
        The factors, with m = N_b rows.
    """
    gamma = n_basis**2 / r_max**2
    shifts, value_map, slope_map = _gaussian_maps(
        n_basis, r_min, r_max, distances.dtype, distances.device
    )
    rows = torch.exp(-gamma * (distances - shifts) ** 2)
    ones = torch.ones_like(distances)
    return RadialFactors(
        rows=rows,
        value_map=value_map,
        slope_map=slope_map,
        value_scale=ones,
        slope_scale=ones,
        value_slope_scale=(-2.0 * gamma) * distances,
    )


@functools.lru_cache(maxsize=16)
def _gaussian_maps(
    n_basis: int, r_min: float, r_max: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centres (N_b, 1) Å, C₀ and C₁ (N_b, N_b) of :func:`gaussian_factors`."""
    with torch.inference_mode(False):  # cached: must stay usable by autograd
        return _gaussian_maps_uncached(n_basis, r_min, r_max, dtype, device)


def _gaussian_maps_uncached(
    n_basis: int, r_min: float, r_max: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gamma = n_basis**2 / r_max**2
    steps = torch.arange(n_basis, dtype=dtype, device=device)
    shifts = r_min + (r_max - r_min) / n_basis * steps
    norm = (2.0 * gamma / math.pi) ** 0.25
    return (
        shifts.unsqueeze(-1),
        norm * torch.eye(n_basis, dtype=dtype, device=device),
        torch.diag(norm * 2.0 * gamma * shifts),
    )


def bessel_basis(distances: torch.Tensor, n_basis: int, r_max: float) -> torch.Tensor:
    """Smooth spherical-Bessel-like basis of Kocer et al. (the apax default).

    For n = 0..N_b−1, with sinc(x) = sin(πx)/(πx),

        Φ_n(d) = (−1)^n (√2 π / r_max^{3/2}) κ_n
                 [sinc((n+1) d / r_max) + sinc((n+2) d / r_max)],
        κ_n = (n+1)(n+2) / √((n+1)² + (n+2)²).

    Every Φ_n vanishes at d = r_max (each sinc is zero there) and has zero slope at
    d = 0.

    Note:
        apax writes κ_n = (n+1)(n+2)/√((n+1)²(n+2)²), which is identically 1, while
        Kocer et al. intend the form above. This function uses the intended κ_n; to
        reproduce apax numbers, divide column n by κ_n (or rescale the species-pair
        coefficients that multiply it).

    Args:
        distances: (n_edges,) Å, any d ≥ 0.
        n_basis: N_b ≥ 1, number of basis functions.
        r_max: Å, where all functions vanish (normally the cutoff).

    Returns:
        (n_edges, n_basis), Å^(−3/2), same dtype and device as ``distances``.
    """
    return bessel_factors(distances, n_basis, r_max).values().T


def bessel_factors(
    distances: torch.Tensor, n_basis: int, r_max: float
) -> RadialFactors:
    """:func:`bessel_basis` in factored form, through Chebyshev polynomials.

    With θ = π d / r_max, c = cos θ and e(θ) = sin θ / θ, every term is
    sinc(k d / r_max) = e(θ) U_{k−1}(c) / k, U the Chebyshev polynomials of the
    second kind. So X = [U_0(c) … U_{N_b}(c)], C₀ maps them to Φ_n / e, a = e; and as
    dU_n/dc = Σ_{k<n, n−k odd} 2(k+1) U_k is again a U series (matrix D),
    C₁ = C₀ D, b₁ = −(π/r_max) sin θ · e, b₀ = (π/r_max) de/dθ.

    Args:
        distances: (n,) Å, d ≥ 0.
        n_basis: N_b ≥ 1.
        r_max: Å.

    Returns:
        The factors, with m = N_b + 1 rows.
    """
    theta = distances * (math.pi / r_max)
    cosine = torch.cos(theta)
    small = theta < _SMALL_ANGLE
    safe = torch.where(small, torch.ones_like(theta), theta)
    squared = theta * theta
    envelope = torch.where(
        small, 1.0 + squared * (squared / 120.0 - 1.0 / 6.0), torch.sin(safe) / safe
    )
    envelope_slope = torch.where(
        small, theta * (squared / 30.0 - 1.0 / 3.0), (cosine - envelope) / safe
    )
    mixing, slope_map = _bessel_maps(n_basis, r_max, distances.dtype, distances.device)
    scale = math.pi / r_max
    return RadialFactors(
        rows=_chebyshev_u(cosine, n_basis),
        value_map=mixing,
        slope_map=slope_map,
        value_scale=envelope,
        slope_scale=(-scale) * torch.sin(theta) * envelope,
        value_slope_scale=scale * envelope_slope,
    )


def _chebyshev_u(cosine: torch.Tensor, degree: int) -> torch.Tensor:
    """U_0..U_degree of the second kind at c, shape (degree + 1, n)."""
    twice = 2.0 * cosine
    values = [torch.ones_like(cosine), twice]
    for _ in range(degree - 1):
        values.append(twice * values[-1] - values[-2])
    return torch.stack(values[: degree + 1])


@functools.lru_cache(maxsize=16)
def _bessel_maps(
    n_basis: int, r_max: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Constant maps C₀ (N_b, N_b + 1) and C₁ = C₀ D of :func:`bessel_factors`.

    C₀ takes U_0..U_{N_b} to Φ_n / e(θ); D holds dU_n/dc = Σ_k D[n, k] U_k with
    D[n, k] = 2(k+1) for k < n and n − k odd. Cached: they depend on hypers only.
    """
    with torch.inference_mode(False):  # cached: must stay usable by autograd
        return _bessel_maps_uncached(n_basis, r_max, dtype, device)


def _bessel_maps_uncached(
    n_basis: int, r_max: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    orders = torch.arange(1, n_basis + 2, dtype=torch.float64)
    first, second = orders[:-1], orders[1:]
    kappa = first * second / torch.sqrt(first**2 + second**2)
    signs = 1.0 - 2.0 * (torch.arange(n_basis) % 2)
    prefactor = signs * kappa * (math.sqrt(2.0) * math.pi / r_max**1.5)
    mixing = torch.nn.functional.pad(torch.diag(prefactor / first), (0, 1))
    mixing += torch.nn.functional.pad(torch.diag(prefactor / second), (1, 0))
    n = torch.arange(n_basis + 1).unsqueeze(1)
    k = n.T
    odd = (k < n) & ((n - k) % 2 == 1)
    derivative = torch.where(odd, 2.0 * (k + 1), 0.0).to(torch.float64)
    slope_map = mixing @ derivative
    return mixing.to(dtype=dtype, device=device), slope_map.to(
        dtype=dtype, device=device
    )
