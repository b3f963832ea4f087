"""evaluate() and hessian(): stress needs 3-D periodicity; chunking changes nothing."""

from __future__ import annotations

import ase
import pytest
import torch
from ase.build import molecule

from pointchem import atoms_to_graph, evaluate, hessian

from .models.test_gm import tiny_model

ROUNDING_ULPS = 16
"""Units in the last place of the largest entry that summation order may change."""


def test_hessian_does_not_depend_on_the_chunk_size() -> None:
    model = tiny_model()
    graph = atoms_to_graph(molecule("CH3CH2OH"), model.cutoff)
    full = hessian(model, graph, chunk_size=64)
    assert full.shape == (27, 27)
    chunked = hessian(model, graph, chunk_size=5)
    # Equal up to rounding: batched matrix products of 5 and of 27 rows may sum in a
    # different order (bit-equal on the Xeon of earlier sessions, up to 4 ulp of the
    # largest entry on an AMD EPYC); a misplaced or missing row would differ by O(1).
    rounding = ROUNDING_ULPS * torch.finfo(full.dtype).eps * full.abs().max()
    assert (chunked - full).abs().max() <= rounding


def test_stress_of_a_non_periodic_graph_is_refused() -> None:
    model = tiny_model()
    graph = atoms_to_graph(molecule("H2O"), model.cutoff)
    with pytest.raises(ValueError, match="periodic in all three directions"):
        evaluate(model, graph, stress=True)


def test_energy_only_keeps_no_autograd_graph() -> None:
    model = tiny_model()
    graph = atoms_to_graph(ase.Atoms("CO", positions=[[0, 0, 0], [1.2, 0, 0]]), 4.0)
    prediction = evaluate(model, graph, forces=False)
    assert prediction.forces is None
    assert not prediction.energy.requires_grad
