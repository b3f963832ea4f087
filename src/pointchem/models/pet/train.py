"""How PET parameters are prepared for gradient training (the loop is shared)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..statistics import mean_neighbor_count, scale_output_to_forces
from .model import MessagePassingLayer, PointEdgeTransformer

__all__ = ["READOUT_START_GAIN", "initialize_from_data"]

READOUT_START_GAIN = 0.01
"""Factor on the initial output weights of every energy head. A random PET sums
O(1) head outputs over two layers and ~10–40 bonds per atom, which put the first
validation energies of ethanol 0.8 eV/atom off; starting near the composition
baseline lets the first epochs fit forces instead of undoing that offset."""


def initialize_from_data(model: PointEdgeTransformer, samples: Sequence[Any]) -> None:
    """Scale the readouts to the data before training.

    Sets every species' ``scale`` to the RMS of the reference force components (eV/Å),
    so that O(1) head outputs give energy variations of the size the forces imply;
    ``shift`` to 0 (the composition baseline carries the mean energy); the bond
    normalisation to 1 / (mean neighbour count within the cutoff), so that bond
    energies sum to O(1) per atom whether an atom has 8 neighbours (ethanol) or 30
    (silicon); and shrinks the heads' output layers by :data:`READOUT_START_GAIN`.
    Without the bond normalisation, silicon (~25 neighbours) did not learn forces at
    all: every step moved all bond energies of an atom together.

    Args:
        model: a freshly built model.
        samples: the training samples (:class:`pointchem.training.data.Sample`).
    """
    scale_output_to_forces(model, samples)
    neighbors = mean_neighbor_count(samples, model.cutoff)
    with torch.no_grad():
        model.bond_normalization.fill_(1.0 / neighbors)
        for layer in model.layers:
            assert isinstance(layer, MessagePassingLayer)
            last = layer.energy_head.layers[-1]
            assert isinstance(last, torch.nn.Linear)
            last.weight.mul_(READOUT_START_GAIN)
            last.bias.zero_()
