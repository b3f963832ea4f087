"""Primitive radial basis functions Φ_b(d) of an interatomic distance.

Both bases map distances of shape (n_edges,) in Å to (n_edges, n_basis) values. The
Gaussians are normalised in one dimension (∫ Φ_b² dd = 1, unit Å^(−1/2)), the Bessel
functions carry the prefactor of radial functions in three dimensions (unit Å^(−3/2)).
Neither includes a cutoff function: multiply by
:func:`pointchem.nn.cutoffs.cosine_cutoff` to make contributions vanish at the cutoff.
"""

from __future__ import annotations

import math

import torch

__all__ = ["bessel_basis", "gaussian_basis"]


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
    gamma = n_basis**2 / r_max**2
    step = (r_max - r_min) / n_basis
    shifts = r_min + step * torch.arange(
        n_basis, dtype=distances.dtype, device=distances.device
    )
    norm = (2.0 * gamma / math.pi) ** 0.25
    return norm * torch.exp(-gamma * (distances.unsqueeze(-1) - shifts) ** 2)


def bessel_basis(distances: torch.Tensor, n_basis: int, r_max: float) -> torch.Tensor:
    """Smooth spherical-Bessel-like basis of Kocer et al. (the apax default).

    For n = 0..N_b−1, with sinc(x) = sin(πx)/(πx),

        Φ_n(d) = (−1)^n (√2 π / r_max^{3/2}) κ_n
                 [sinc((n+1) d / r_max) + sinc((n+2) d / r_max)],
        κ_n = (n+1)(n+2) / √((n+1)² + (n+2)²).

    Every Φ_n vanishes at d = r_max (each sinc is zero there); the value and first
    derivative are finite at d = 0, where the slope is zero.

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
    like = {"dtype": distances.dtype, "device": distances.device}
    orders = torch.arange(1, n_basis + 2, **like)
    # sinc((n+1) d / r_max) for n+1 = 1..N_b+1: shared by neighbouring columns.
    sincs = torch.sinc(distances.unsqueeze(-1) * (orders / r_max))
    first, second = orders[:-1], orders[1:]
    kappa = first * second / torch.sqrt(first**2 + second**2)
    signs = 1.0 - 2.0 * (torch.arange(n_basis, **like) % 2)
    prefactor = signs * kappa * (math.sqrt(2.0) * math.pi / r_max**1.5)
    return prefactor * (sincs[:, :-1] + sincs[:, 1:])
