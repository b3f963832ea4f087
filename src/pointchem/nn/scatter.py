"""Sums over index groups (edges → atoms, atoms → systems)."""

from __future__ import annotations

import torch

__all__ = ["scatter_sum"]


def scatter_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum rows of ``values`` into ``size`` groups given by ``index``.

    Args:
        values: (n, ...) tensor.
        index: (n,) int64, group of each row, in [0, size).
        size: number of groups.

    Returns:
        (size, ...) tensor of group sums, same dtype and device as ``values``.
    """
    out = values.new_zeros((size, *values.shape[1:]))
    return out.index_add_(0, index, values)
