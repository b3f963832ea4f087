"""How GM parameters are prepared for gradient training (the loop is shared)."""

from __future__ import annotations

import torch

from .model import GaussianMomentModel

__all__ = ["initialize_from_data"]


def initialize_from_data(model: GaussianMomentModel, force_rms: float) -> None:
    """Scale the network output to the data before training.

    Sets every species' ``scale`` to the RMS of the reference force components (eV/Å;
    apax uses a per-element variant), so that an O(1) network output gives energy
    variations of the size the forces imply, and leaves ``shift`` at 0 (the
    composition baseline carries the mean energy).

    Args:
        model: a freshly built model.
        force_rms: RMS of the training force components, eV/Å (> 0).
    """
    if not force_rms > 0:
        raise ValueError(f"force_rms must be > 0 eV/Å, got {force_rms}")
    with torch.no_grad():
        model.scale.fill_(force_rms)
        model.shift.zero_()
