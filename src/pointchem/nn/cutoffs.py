"""Smooth cutoff functions: 1 well inside, exactly 0 at and beyond the cutoff."""

from __future__ import annotations

import math

import torch

__all__ = ["cosine_cutoff"]


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
