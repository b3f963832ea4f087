"""Shared helpers of the Wigner-kernel tests: references, rotations, environments.

Real Y_lm from scipy, Wigner matrices fitted from them, Haar-random rotations,
random environments with exact Gaussian density overlaps ⟨ρ_A, R̂ρ_B⟩ for
Monte-Carlo Haar averages, and the ν = 1 kernel of one environment pair.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import torch

from pointchem.models.wk import DensitySettings, nu1_kernel

EXACT = 1e-13
"""Absolute/relative tolerance for closed-form quantities compared in float64."""
EQUIVARIANCE = 1e-10
"""Absolute tolerance of the equivariance relations (float64)."""
MC_STANDARD_ERRORS = 4.0
"""Monte-Carlo estimates must agree within this many standard errors."""

SETTINGS = DensitySettings(
    l_max=2, cutoff=3.0, cutoff_width=1.0, width_scale=0.3, width_length=2.0
)
"""Broad Gaussians (σ ≈ 0.5–1.2 Å) keep the Monte-Carlo variance small; neighbours
between 1 and 2.8 Å sample the switching region [2, 3] Å of the cutoff."""


# ---------------------------------------------------------------- references


def scipy_real_harmonics(vectors: np.ndarray, ell: int) -> np.ndarray:
    """Real Y_lm (n, 2l+1) from scipy's complex Y_l^m (Condon–Shortley phase)."""
    r = np.linalg.norm(vectors, axis=1)
    polar = np.arccos(vectors[:, 2] / r)
    azimuth = np.arctan2(vectors[:, 1], vectors[:, 0])
    columns = []
    for m in range(-ell, ell + 1):
        complex_y = scipy.special.sph_harm_y(ell, abs(m), polar, azimuth)
        if m > 0:
            columns.append(math.sqrt(2) * (-1) ** m * complex_y.real)
        elif m == 0:
            columns.append(complex_y.real)
        else:
            columns.append(math.sqrt(2) * (-1) ** m * complex_y.imag)
    return np.stack(columns, axis=1)


def fitted_wigner_d(rotation: np.ndarray, ell: int) -> np.ndarray:
    """D^l with Y_l(R r̂) = D^l Y_l(r̂), by least squares on the scipy harmonics."""
    points = np.random.default_rng(7).normal(size=(200, 3))
    before = scipy_real_harmonics(points, ell)
    after = scipy_real_harmonics(points @ rotation.T, ell)
    transposed, *_ = np.linalg.lstsq(before, after, rcond=None)
    return transposed.T


def haar_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 3) Haar-random rotations from uniformly random unit quaternions."""
    q = rng.normal(size=(n, 4))
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=1)


def random_environment(
    rng: np.random.Generator, n: int, species: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Make n neighbour vectors, 1 ≤ r ≤ 2.8 Å, random directions, given species."""
    directions = rng.normal(size=(n, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions * rng.uniform(1.0, 2.8, size=(n, 1)), np.array(species)


def overlaps(a, species_a, b, species_b, rotations) -> np.ndarray:
    """Exact ⟨ρ_A, R̂ρ_B⟩ for each rotation (product-of-Gaussians integral), Å⁻³."""

    def switch(r: float) -> float:
        s = (r - SETTINGS.cutoff + SETTINGS.cutoff_width) / SETTINGS.cutoff_width
        s = min(max(s, 0.0), 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * s))

    def width(r: float) -> float:
        return SETTINGS.width_scale * math.exp(r / SETTINGS.width_length)

    total = np.zeros(len(rotations))
    for va, za in zip(a, species_a, strict=True):
        for vb, zb in zip(b, species_b, strict=True):
            if za != zb:
                continue
            ra, rb = np.linalg.norm(va), np.linalg.norm(vb)
            variance = width(ra) ** 2 + width(rb) ** 2
            gap = va[None, :] - rotations @ vb
            gauss = np.exp(-(gap * gap).sum(1) / (2 * variance))
            total += switch(ra) * switch(rb) * gauss / (2 * math.pi * variance) ** 1.5
    return total


def kernel(a, species_a, b, species_b, settings=SETTINGS) -> list[torch.Tensor]:
    """k_l(A, B) for one pair of unpadded environments, blocks (2l+1, 2l+1)."""
    a = torch.as_tensor(a)
    blocks = nu1_kernel(
        a[None],
        torch.as_tensor(species_a)[None],
        torch.as_tensor(b)[None],
        torch.as_tensor(species_b)[None],
        torch.zeros(1, 2, dtype=torch.int64, device=a.device),
        settings,
    )
    return [block[0] for block in blocks]
