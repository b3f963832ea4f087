"""How GM parameters are prepared for gradient training (the loop is shared)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..statistics import force_rms
from .model import GaussianMomentModel

__all__ = ["initialize_from_data"]


def initialize_from_data(model: GaussianMomentModel, samples: Sequence[Any]) -> None:
    """Scale the network output to the data before training.

    Sets every species' ``scale`` to the RMS of the reference force components (eV/Å;
    apax uses a per-element variant), so that an O(1) network output gives energy
    variations of the size the forces imply, and leaves ``shift`` at 0 (the
    composition baseline carries the mean energy).

    Args:
        model: a freshly built model.
        samples: the training samples (:class:`pointchem.training.data.Sample`).
    """
    rms = force_rms(samples)
    if not rms > 0:
        raise ValueError(f"the training forces are all zero (RMS {rms} eV/Å)")
    with torch.no_grad():
        model.scale.fill_(rms)
        model.shift.zero_()
