"""How GM parameters are prepared for gradient training (the loop is shared)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..statistics import scale_output_to_forces
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
    scale_output_to_forces(model, samples)
