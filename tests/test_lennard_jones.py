"""The whole pipeline with an analytic model must reproduce ASE's LennardJones."""

from __future__ import annotations

import ase
import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.lj import LennardJones

from pointchem import PointChemCalculator

from .analytic import LennardJonesModel, LJHypers

RELATIVE = 1e-10
"""Relative agreement with ASE, as max |ours − ase| / max |ase| per property."""

PARAMETERS = {"sigma": 2.1, "epsilon": 0.012, "cutoff": 5.0}


def _cluster() -> ase.Atoms:
    atoms = bulk("Ar", "fcc", a=3.2, cubic=True).repeat((2, 2, 1))
    atoms.pbc = False
    atoms.rattle(0.1, seed=4)
    return atoms


def _crystal() -> ase.Atoms:
    atoms = bulk("Ar", "fcc", a=3.2, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.1, seed=5)
    atoms.set_cell(atoms.cell.array + np.array([[0, 0.2, 0], [0.1, 0, 0], [0, 0, 0.3]]))
    return atoms


def _tiny_cell() -> ase.Atoms:
    """Two atoms in a cell much smaller than the cutoff: many images of each."""
    atoms = bulk("Ar", "hcp", a=3.0, c=4.9)
    atoms.rattle(0.1, seed=6)
    return atoms


@pytest.mark.parametrize("smooth", [False, True])
@pytest.mark.parametrize("builder", [_cluster, _crystal, _tiny_cell])
def test_matches_ase_lennard_jones(smooth: bool, builder: object, device: str) -> None:
    atoms = builder()  # type: ignore[operator]
    reference = atoms.copy()
    reference.calc = LennardJones(
        sigma=PARAMETERS["sigma"],
        epsilon=PARAMETERS["epsilon"],
        rc=PARAMETERS["cutoff"],
        smooth=smooth,
    )
    model = LennardJonesModel(LJHypers(**PARAMETERS, smooth=smooth), [18])
    atoms.calc = PointChemCalculator(model, device=device, dtype=torch.float64)
    properties = ["energy", "energies", "forces"]
    if atoms.pbc.all():
        properties.append("stress")
    for name in properties:
        ours = np.atleast_1d(atoms.calc.get_property(name, atoms))
        theirs = np.atleast_1d(reference.calc.get_property(name, reference))
        scale = np.abs(theirs).max()
        assert scale > 0
        assert np.abs(ours - theirs).max() <= RELATIVE * scale, name
