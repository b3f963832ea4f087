"""How PET parameters are prepared for gradient training (the loop is shared)."""

from __future__ import annotations

import torch

from .model import MessagePassingLayer, PointEdgeTransformer

__all__ = ["READOUT_START_GAIN", "initialize_from_data"]

READOUT_START_GAIN = 0.01
"""Factor on the initial output weights of every energy head. A random PET sums
O(1) head outputs over two layers and ~10–40 bonds per atom, which put the first
validation energies of ethanol 0.8 eV/atom off; starting near the composition
baseline lets the first epochs fit forces instead of undoing that offset."""


def initialize_from_data(model: PointEdgeTransformer, force_rms: float) -> None:
    """Scale the summed readouts to the data before training.

    Sets every species' ``scale`` to the RMS of the reference force components (eV/Å),
    so that O(1) head outputs give energy variations of the size the forces imply,
    ``shift`` to 0 (the composition baseline carries the mean energy), and shrinks
    the heads' output layers by :data:`READOUT_START_GAIN`.

    Args:
        model: a freshly built model.
        force_rms: RMS of the training force components, eV/Å (> 0).
    """
    if not force_rms > 0:
        raise ValueError(f"force_rms must be > 0 eV/Å, got {force_rms}")
    with torch.no_grad():
        model.scale.fill_(force_rms)
        model.shift.zero_()
        for layer in model.layers:
            assert isinstance(layer, MessagePassingLayer)
            last = layer.energy_head.layers[-1]
            assert isinstance(last, torch.nn.Linear)
            last.weight.mul_(READOUT_START_GAIN)
            last.bias.zero_()
