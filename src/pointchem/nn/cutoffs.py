"""Smooth cutoff functions: 1 well inside, exactly 0 at and beyond the cutoff."""

from __future__ import annotations

import math

import torch

__all__ = ["cosine_cutoff", "cosine_switch", "polynomial_switch"]


def cosine_cutoff(distances: torch.Tensor, cutoff: float) -> torch.Tensor:
    """f(r) = ½[cos(π r / r_c) + 1] for r < r_c, else 0 (value and slope vanish at r_c).

    Args:
        distances: any shape, Å.
        cutoff: r_c in Å.

    Returns:
        Same shape as ``distances``, dimensionless, in [0, 1].
    """
    clipped = torch.clamp(distances, max=cutoff)
    return 0.5 * (torch.cos(clipped * (math.pi / cutoff)) + 1.0)


def polynomial_switch(
    distances: torch.Tensor, cutoff: float, width: float
) -> torch.Tensor:
    """Switch from 1 to 0 over [r_c − Δ, r_c] with the quintic "smootherstep".

    f = 1 − s³(6s² − 15s + 10), s = (r − r_c + Δ)/Δ clipped to [0, 1]: 1 below
    r_c − Δ, 0 at and beyond r_c, with value, slope and curvature continuous (C²).
    Near r_c, f ∝ (r_c − r)³, so an atom crossing the cutoff changes forces only
    quadratically in its distance to it (a cosine switch changes them linearly).

    Args:
        distances: any shape, Å.
        cutoff: r_c in Å.
        width: Δ in Å, 0 < Δ ≤ r_c.

    Returns:
        Same shape as ``distances``, dimensionless, in [0, 1].
    """
    s = torch.clamp((distances - (cutoff - width)) / width, min=0.0, max=1.0)
    return 1.0 - s * s * s * (s * (6.0 * s - 15.0) + 10.0)


def cosine_switch(distances: torch.Tensor, cutoff: float, width: float) -> torch.Tensor:
    """f_c(r): 1 below r_c − w, ½[1 + cos(π (r − r_c + w)/w)] up to r_c, 0 beyond.

    Value and slope are continuous (C¹); the slope is exactly 0 outside [r_c − w, r_c].

    Args:
        distances: any shape, Å.
        cutoff: r_c in Å.
        width: w in Å, 0 < w ≤ r_c.

    Returns:
        Same shape as ``distances``, dimensionless, in [0, 1].
    """
    s = torch.clamp((distances - (cutoff - width)) / width, min=0.0, max=1.0)
    return 0.5 * (1.0 + torch.cos(math.pi * s))
