"""Choosing the torch device at the boundary (calculator, trainer)."""

from __future__ import annotations

import torch

__all__ = ["resolve_device", "resolve_dtype"]


def resolve_device(device: torch.device | str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else as torch reads it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


_DTYPE_NAMES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    """``"float32"``/``"float64"`` → the torch dtype; dtypes and None pass through.

    Raises:
        ValueError: a string that names neither.
    """
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in _DTYPE_NAMES:
        raise ValueError(f"dtype {dtype!r} is not one of {sorted(_DTYPE_NAMES)}")
    return _DTYPE_NAMES[dtype]
