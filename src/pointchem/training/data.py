"""Reference data: extxyz → structures with targets in eV, Å, eV/Å and eV/Å³.

Units are converted on read from the units the user declares (``DataSettings``);
nothing downstream sees anything but eV and Å. Every problem found in a file is
reported with the file name and the frame index.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ase
import ase.io
import numpy as np
from ase import units
from ase.stress import voigt_6_to_full_3x3_stress

from .config import DataSettings

__all__ = [
    "ENERGY_UNITS",
    "LENGTH_UNITS",
    "DataError",
    "Sample",
    "file_sha256",
    "read_samples",
    "split_samples",
]

ENERGY_UNITS = {
    "eV": 1.0,
    "meV": 1e-3,
    "kcal/mol": units.kcal / units.mol,
    "kJ/mol": units.kJ / units.mol,
    "Hartree": units.Hartree,
    "Ha": units.Hartree,
}
"""eV per unit of each accepted energy unit (ase.units constants)."""

LENGTH_UNITS = {
    "Å": 1.0,
    "Angstrom": 1.0,
    "A": 1.0,
    "bohr": units.Bohr,
    "Bohr": units.Bohr,
}
"""Å per unit of each accepted length unit."""


class DataError(ValueError):
    """Bad reference data; the message names the file and frame."""


@dataclasses.dataclass(frozen=True)
class Sample:
    """One structure with its reference values, in eV and Å.

    Attributes:
        atoms: the structure (positions in Å, no calculator attached).
        energy: total energy, eV.
        forces: (n_atoms, 3) eV/Å, or None.
        stress: (3, 3) eV/Å³, or None.
        dipole: (3,) e·Å, or None (read when ``dipole_key`` is set).
        source: "file:frame", for error messages and predictions.
    """

    atoms: ase.Atoms
    energy: float
    forces: np.ndarray | None
    stress: np.ndarray | None
    source: str
    dipole: np.ndarray | None = None


def _lookup(atoms: ase.Atoms, key: str, per_atom: bool) -> Any:
    table = atoms.arrays if per_atom else atoms.info
    if key in table:
        return table[key]
    results = atoms.calc.results if atoms.calc is not None else {}
    return results.get(key)


def _unit_factor(table: dict[str, float], unit: str, kind: str, path: Path) -> float:
    if unit not in table:
        raise DataError(
            f"{path}: unknown {kind} unit {unit!r}; known: {', '.join(table)}"
        )
    return table[unit]


def _float_array(
    value: Any, shape: tuple[int, ...], what: str, where: str
) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise DataError(f"{where}: {what} has shape {array.shape}, expected {shape}")
    if not np.isfinite(array).all():
        raise DataError(f"{where}: {what} contains NaN or infinite values")
    return array


def _stress(atoms: ase.Atoms, settings: DataSettings, where: str) -> np.ndarray | None:
    if settings.stress_key is not None:
        value = _lookup(atoms, settings.stress_key, per_atom=False)
        if value is None:
            raise DataError(f"{where}: no stress under key {settings.stress_key!r}")
        flat = np.asarray(value, dtype=np.float64).reshape(-1)
        if flat.shape == (6,):
            flat = voigt_6_to_full_3x3_stress(flat).reshape(-1)
        return _float_array(flat, (9,), "stress", where).reshape(3, 3)
    if settings.virial_key is not None:
        value = _lookup(atoms, settings.virial_key, per_atom=False)
        if value is None:
            raise DataError(f"{where}: no virial under key {settings.virial_key!r}")
        virial = _float_array(np.reshape(value, -1), (9,), "virial", where).reshape(
            3, 3
        )
        return -virial / atoms.get_volume()
    return None


def _sample(
    atoms: ase.Atoms, settings: DataSettings, where: str, factors: tuple[float, float]
) -> Sample:
    energy_factor, length_factor = factors
    energy = _lookup(atoms, settings.energy_key, per_atom=False)
    if energy is None:
        raise DataError(f"{where}: no energy under key {settings.energy_key!r}")
    energy = float(_float_array(energy, (), "energy", where))
    forces = _lookup(atoms, settings.forces_key, per_atom=True)
    if forces is not None:
        forces = _float_array(forces, (len(atoms), 3), "forces", where)
    stress = _stress(atoms, settings, where)
    clean = ase.Atoms(
        numbers=atoms.numbers,
        positions=atoms.positions * length_factor,
        cell=atoms.cell.array * length_factor,
        pbc=atoms.pbc,
    )
    if stress is not None:  # volume was in file units: recompute in Å³
        stress = stress * energy_factor / length_factor**3
    dipole = None
    if settings.dipole_key is not None:
        value = _lookup(atoms, settings.dipole_key, per_atom=False)
        if value is None:
            raise DataError(f"{where}: no dipole under key {settings.dipole_key!r}")
        dipole = _float_array(value, (3,), "dipole", where) * length_factor
    return Sample(
        atoms=clean,
        energy=energy * energy_factor,
        forces=None if forces is None else forces * energy_factor / length_factor,
        stress=stress,
        source=where,
        dipole=dipole,
    )


def read_samples(paths: Sequence[str | Path], settings: DataSettings) -> list[Sample]:
    """Read every frame of the extxyz files and convert to eV and Å.

    Raises:
        DataError: missing file, key or value, NaN/inf, wrong shape, unknown unit;
            the message names the file and the frame index.
    """
    samples = []
    for path in map(Path, paths):
        factors = (
            _unit_factor(ENERGY_UNITS, settings.energy_unit, "energy", path),
            _unit_factor(LENGTH_UNITS, settings.length_unit, "length", path),
        )
        if not path.exists():
            raise DataError(f"{path}: no such data file")
        frames = ase.io.read(path, index=":")
        if not isinstance(frames, list):
            frames = [frames]
        for index, atoms in enumerate(frames):
            samples.append(_sample(atoms, settings, f"{path}:frame {index}", factors))
    if not samples:
        raise DataError(f"no structures in {[str(p) for p in paths]}")
    return samples


def split_samples(
    samples: Sequence[Sample], fractions: Sequence[float], seed: int
) -> list[list[Sample]]:
    """Seeded random split: returns [rest, part_1, part_2, ...] for each fraction."""
    order = np.random.default_rng(seed).permutation(len(samples))
    parts, start = [], 0
    sizes = [round(f * len(samples)) for f in fractions]
    for size in sizes:
        parts.append([samples[i] for i in order[start : start + size]])
        start += size
    return [[samples[i] for i in order[start:]], *parts]


def file_sha256(paths: Sequence[str | Path]) -> str:
    """SHA-256 over the bytes of the given files, in order (the training-data hash)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()
