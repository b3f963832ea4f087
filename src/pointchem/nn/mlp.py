"""Multilayer perceptron with the variance-preserving swish activation."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

__all__ = ["MLP", "SWISH_GAIN", "scaled_swish"]

SWISH_GAIN = 1.6765324703310907
"""Gain c making c·x·sigmoid(x) preserve unit variance for x ~ N(0, 1) (apax, GM-NN)."""


def scaled_swish(x: torch.Tensor) -> torch.Tensor:
    """Variance-preserving swish, c·x·sigmoid(x) with c = :data:`SWISH_GAIN`.

    Args:
        x: any shape.

    Returns:
        Same shape and dtype as ``x``.
    """
    return SWISH_GAIN * torch.nn.functional.silu(x)


class MLP(torch.nn.Module):
    """Dense network ``sizes[0] → sizes[1] → … → sizes[-1]``.

    Every hidden layer is followed by :func:`scaled_swish`; the output layer is linear.
    Weights start LeCun-normal, W ~ N(0, 1/fan_in), so that unit-variance inputs give
    unit-variance pre-activations; biases start at zero.

    Args:
        sizes: layer widths including input and output, at least two entries, each
            ≥ 1.

    Shapes:
        forward: (..., sizes[0]) → (..., sizes[-1]).
    """

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        sizes = [int(size) for size in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP sizes need ≥ 2 positive widths, got {sizes}")
        self.sizes = tuple(sizes)
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw LeCun-normal weights and zero the biases."""
        for layer in self.layers:
            assert isinstance(layer, torch.nn.Linear)
            torch.nn.init.normal_(layer.weight, std=1.0 / math.sqrt(layer.in_features))
            torch.nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the network to the last axis of ``x``."""
        *hidden, last = self.layers
        for layer in hidden:
            x = scaled_swish(layer(x))
        return last(x)
