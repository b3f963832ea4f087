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

__all__ = ["force_rms", "mean_neighbor_count"]


def force_rms(samples: Sequence[Any]) -> float:
    """RMS of all reference force components, eV/Å (1.0 when there are no forces)."""
    forces = [s.forces for s in samples if s.forces is not None]
    if not forces:
        return 1.0
    return float(np.sqrt(np.mean(np.concatenate(forces) ** 2)))


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
