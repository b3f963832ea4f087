"""Statistics of training data that families use to prepare a model for training.

Samples are :class:`pointchem.training.data.Sample` objects (read through their
``atoms`` and ``forces`` attributes, so that models need not import the training
package).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..graph import atoms_to_graph

__all__ = ["force_rms", "mean_neighbor_count", "scale_output_to_forces"]


def force_rms(samples: Sequence[Any]) -> float:
    """RMS of all reference force components, eV/Å (1.0 when there are no forces)."""
    forces = [s.forces for s in samples if s.forces is not None]
    if not forces:
        return 1.0
    return float(np.sqrt(np.mean(np.concatenate(forces) ** 2)))


def scale_output_to_forces(model: Any, samples: Sequence[Any]) -> None:
    """Set a model's per-species ``scale`` to the force RMS (eV/Å), ``shift`` to 0.

    For families whose atomic energy is ``scale · network + shift``: an O(1) network
    output then gives energy variations of the size the forces imply, and the
    composition baseline carries the mean energy.

    Raises:
        ValueError: the training forces are all zero.
    """
    rms = force_rms(samples)
    if not rms > 0:
        raise ValueError(f"the training forces are all zero (RMS {rms} eV/Å)")
    with torch.no_grad():
        model.scale.fill_(rms)
        model.shift.zero_()


def mean_neighbor_count(samples: Sequence[Any], cutoff: float) -> float:
    """Mean number of neighbours within ``cutoff`` (Å) per atom over all samples.

    Periodic images count (the full neighbour list of :func:`atoms_to_graph`).
    Returns at least 1.0, so that it can divide.
    """
    pairs = 0
    atoms_total = 0
    for sample in samples:
        graph = atoms_to_graph(sample.atoms, cutoff, torch.float64, "cpu")
        pairs += graph.n_edges
        atoms_total += graph.n_atoms
    return max(1.0, pairs / max(1, atoms_total))
