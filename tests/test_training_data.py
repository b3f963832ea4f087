"""Reading reference data: unit conversion and errors that name file and frame."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator

from pointchem.training.config import DataSettings
from pointchem.training.data import DataError, read_samples

from .conftest import DATA

KCAL_PER_MOL = 0.0433641
"""eV, the value quoted with the rMD17 data (checked against ase.units below)."""


def test_kcal_per_mol_is_converted_on_read() -> None:
    path = DATA / "ethanol_reduced_100.xyz"
    settings = DataSettings(train=(str(path),), energy_unit="kcal/mol")
    samples = read_samples([path], settings)
    raw = ase.io.read(path, index=0)
    assert len(samples) == 100
    assert samples[0].energy == pytest.approx(
        raw.get_potential_energy() * KCAL_PER_MOL, rel=1e-6
    )
    np.testing.assert_allclose(
        samples[0].forces, raw.get_forces() * units.kcal / units.mol
    )


def test_bohr_and_hartree(tmp_path: Path) -> None:
    atoms = molecule("H2O")
    atoms.calc = SinglePointCalculator(atoms, energy=-76.0, forces=np.ones((3, 3)))
    path = tmp_path / "water.xyz"
    ase.io.write(path, atoms)
    settings = DataSettings(
        train=(str(path),), energy_unit="Hartree", length_unit="bohr"
    )
    (sample,) = read_samples([path], settings)
    assert sample.energy == pytest.approx(-76.0 * units.Hartree)
    np.testing.assert_allclose(sample.forces, units.Hartree / units.Bohr)
    np.testing.assert_allclose(sample.atoms.positions, atoms.positions * units.Bohr)


def test_virial_becomes_stress() -> None:
    path = DATA / "carbon_reduced_100.xyz"
    settings = DataSettings(train=(str(path),), forces_key="force", virial_key="virial")
    sample = read_samples([path], settings)[0]
    raw = ase.io.read(path, index=0)
    virial = np.reshape(raw.info["virial"], (3, 3))
    np.testing.assert_allclose(sample.stress, -virial / raw.get_volume())


def _write_frames(tmp_path: Path, bad_frame: ase.Atoms) -> Path:
    good = molecule("H2O")
    good.calc = SinglePointCalculator(good, energy=-1.0, forces=np.zeros((3, 3)))
    path = tmp_path / "data.xyz"
    ase.io.write(path, [good, bad_frame])
    return path


def test_missing_energy_names_file_and_frame(tmp_path: Path) -> None:
    bad = molecule("H2O")
    bad.arrays["forces"] = np.zeros((3, 3))
    path = _write_frames(tmp_path, bad)
    with pytest.raises(
        DataError, match=r"data.xyz:frame 1: no energy under key 'energy'"
    ):
        read_samples([path], DataSettings(train=(str(path),)))


def test_nan_forces_name_file_and_frame(tmp_path: Path) -> None:
    bad = molecule("H2O")
    bad.calc = SinglePointCalculator(bad, energy=-1.0, forces=np.full((3, 3), np.nan))
    path = _write_frames(tmp_path, bad)
    with pytest.raises(DataError, match=r"data.xyz:frame 1: forces contains NaN"):
        read_samples([path], DataSettings(train=(str(path),)))


def test_wrong_force_shape_names_file_and_frame(tmp_path: Path) -> None:
    bad = molecule("H2O")
    bad.info["energy"] = -1.0
    bad.arrays["my_forces"] = np.zeros((3, 2))
    good = molecule("H2O")
    good.info["energy"] = -1.0
    good.arrays["my_forces"] = np.zeros((3, 2))
    path = tmp_path / "data.xyz"
    ase.io.write(path, [bad])
    settings = DataSettings(train=(str(path),), forces_key="my_forces")
    with pytest.raises(
        DataError,
        match=r"data.xyz:frame 0: forces has shape \(3, 2\), expected \(3, 3\)",
    ):
        read_samples([path], settings)


def test_unknown_unit_names_the_file(tmp_path: Path) -> None:
    path = DATA / "ethanol_reduced_100.xyz"
    settings = DataSettings(train=(str(path),), energy_unit="kcal")
    with pytest.raises(
        DataError, match=r"ethanol_reduced_100.xyz: unknown energy unit 'kcal'"
    ):
        read_samples([path], settings)


def test_dipoles_are_read_in_e_angstrom(tmp_path: Path) -> None:
    atoms = molecule("H2O")
    atoms.info["energy"] = -1.0
    atoms.info["mu"] = np.array([0.0, 0.0, 1.0])
    path = tmp_path / "water.xyz"
    ase.io.write(path, atoms)
    settings = DataSettings(train=(str(path),), dipole_key="mu", length_unit="bohr")
    (sample,) = read_samples([path], settings)
    np.testing.assert_allclose(sample.dipole, [0.0, 0.0, units.Bohr])
