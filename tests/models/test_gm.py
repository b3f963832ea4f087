"""Gaussian-moment model: the physics suite, and runs in ASE optimizers and MD."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
import torch
from ase import units
from ase.build import molecule
from ase.filters import FrechetCellFilter
from ase.md.langevin import Langevin
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

from pointchem import PointChemCalculator
from pointchem.models.base import EnergyModel
from pointchem.models.gm import GaussianMomentModel, GMHypers

from ..conftest import DATA, thermalize
from ..physics_suite import PhysicsSuite

TINY = GMHypers(cutoff=4.0, n_basis=4, n_radial=2, hidden_sizes=(4,))


def tiny_model(radial_basis: str = "bessel") -> GaussianMomentModel:
    hypers = GMHypers(
        cutoff=4.0, radial_basis=radial_basis, n_basis=4, n_radial=2, hidden_sizes=(4,)
    )
    model = GaussianMomentModel(hypers, [1, 6, 8]).double()
    with torch.no_grad():
        model.composition_energies.copy_(torch.tensor([-13.6, -1030.0, -2040.0]))
    return model


class TestGaussianMomentBessel(PhysicsSuite):
    @pytest.fixture
    def model(self) -> EnergyModel:
        return tiny_model("bessel")


class TestGaussianMomentGaussian(PhysicsSuite):
    @pytest.fixture
    def model(self) -> EnergyModel:
        return tiny_model("gaussian")


def _max_force(atoms: ase.Atoms) -> float:
    return float(np.linalg.norm(atoms.get_forces(), axis=1).max())


def test_bfgs_lowers_energy_and_forces_of_a_molecule() -> None:
    atoms = molecule("CH3CH2OH")
    atoms.calc = PointChemCalculator(tiny_model(), device="cpu")
    start_energy, start_force = atoms.get_potential_energy(), _max_force(atoms)
    optimizer = BFGS(atoms, logfile=None, maxstep=0.05)
    optimizer.run(fmax=1e-3, steps=30)
    assert optimizer.nsteps > 0
    assert atoms.get_potential_energy() < start_energy
    assert _max_force(atoms) < start_force


def test_cell_relaxation_with_frechet_filter() -> None:
    atoms = ase.io.read(DATA / "carbon_reduced_100.xyz", index=0)
    atoms.calc = PointChemCalculator(tiny_model(), device="cpu")
    start = atoms.get_potential_energy()
    cell_before = atoms.cell.array.copy()
    optimizer = BFGS(FrechetCellFilter(atoms), logfile=None, maxstep=0.05)
    optimizer.run(fmax=1e-3, steps=20)
    assert optimizer.nsteps > 0
    assert atoms.get_potential_energy() < start
    assert not np.allclose(atoms.cell.array, cell_before), "the cell did not move"


def test_velocity_verlet_conserves_energy() -> None:
    atoms = molecule("CH3CH2OH")
    atoms.calc = PointChemCalculator(tiny_model(), device="cpu", skin=0.5)
    thermalize(atoms, temperature_k=300, seed=0)
    start = atoms.get_total_energy()
    VelocityVerlet(atoms, timestep=0.25 * units.fs).run(100)
    drift = abs(atoms.get_total_energy() - start) / len(atoms)
    assert drift < 1e-3, f"{drift:.2e} eV/atom after 100 steps"


def test_langevin_runs_with_neighbor_list_reuse() -> None:
    atoms = ase.io.read(DATA / "carbon_reduced_100.xyz", index=0).repeat((2, 2, 1))
    calculator = PointChemCalculator(tiny_model(), device="cpu", skin=1.0)
    atoms.calc = calculator
    thermalize(atoms, temperature_k=300, seed=1)
    dynamics = Langevin(
        atoms,
        timestep=0.5 * units.fs,
        temperature_K=300,
        friction=0.01,
        rng=np.random.default_rng(2),
        fixcm=False,
    )
    dynamics.run(40)
    assert np.isfinite(atoms.get_potential_energy())
    assert calculator.neighbors.n_builds < 40, "the skin should spare most rebuilds"
