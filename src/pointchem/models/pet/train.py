"""How PET parameters are prepared for gradient training (the loop is shared)."""

from __future__ import annotations

import torch

from .model import PointEdgeTransformer

__all__ = ["initialize_from_data"]


def initialize_from_data(model: PointEdgeTransformer, force_rms: float) -> None:
    """Scale the summed readouts to the data before training.

    Sets every species' ``scale`` to the RMS of the reference force components (eV/Å),
    so that O(1) head outputs give energy variations of the size the forces imply,
    and ``shift`` to 0 (the composition baseline carries the mean energy).

    Args:
        model: a freshly built model.
        force_rms: RMS of the training force components, eV/Å (> 0).
    """
    if not force_rms > 0:
        raise ValueError(f"force_rms must be > 0 eV/Å, got {force_rms}")
    with torch.no_grad():
        model.scale.fill_(force_rms)
        model.shift.zero_()
