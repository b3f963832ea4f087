"""Shipped potentials: they load, carry their config, and conserve energy in NVE."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import ase
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from pointchem import PointChemCalculator
from pointchem.serialization import read_potential_file
from pointchem.training.config import load_config

POTENTIALS = Path(__file__).resolve().parents[1] / "potentials"
SHIPPED = sorted(POTENTIALS.glob("*.pt"))
DRIFT_LIMIT = 1.0
"""meV/atom/ns: largest acceptable NVE energy drift (0.5 fs, 10 ps, float64)."""


def test_potentials_are_shipped() -> None:
    for name in ("ethanol-gm.pt", "ethanol-pet.pt", "ethanol-wk.pt", "silicon-pet.pt"):
        assert (POTENTIALS / name).exists(), name


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_potential_loads_and_predicts(path: Path) -> None:
    assert path.stat().st_size < 20_000_000
    content = read_potential_file(path)
    assert "training_config" in content["metadata"]
    assert len(content["metadata"]["training_data_sha256"]) == 64
    config = load_config(path.with_suffix(".yaml"))
    assert config.to_dict()["model"] == content["metadata"]["training_config"]["model"]
    calculator = PointChemCalculator(path, device="cpu")
    atoms = _structure_for(calculator.model.atomic_numbers)
    atoms.calc = calculator
    assert np.isfinite(atoms.get_forces()).all()
    if atoms.pbc.all():
        assert np.isfinite(atoms.get_stress()).all()
    if calculator.predicts_dipole:
        assert np.isfinite(atoms.get_dipole_moment()).all()


def test_ethanol_wk_predicts_the_dipole() -> None:
    calculator = PointChemCalculator(POTENTIALS / "ethanol-wk.pt", device="cpu")
    assert "dipole" in calculator.implemented_properties
    atoms = molecule("CH3CH2OH")
    atoms.calc = calculator
    # GFN2-xTB's dipole of ethanol is about 0.3 e·Å; an unfitted head gives 0
    assert 0.1 < np.linalg.norm(atoms.get_dipole_moment()) < 1.0


def _structure_for(atomic_numbers: tuple[int, ...]) -> ase.Atoms:
    if {1, 6, 8} <= set(atomic_numbers):
        return molecule("CH3CH2OH")
    assert atomic_numbers == (14,), atomic_numbers
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.05, seed=0)
    return atoms


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_nve_energy_drift_below_limit(path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "nve_drift.py"
    spec = importlib.util.spec_from_file_location("nve_drift", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.set_num_threads(1)
    result = module.run_nve(str(path), timestep_fs=0.5, picoseconds=10.0, seed=0)
    assert abs(result["drift_meV_per_atom_per_ns"]) < DRIFT_LIMIT, result
