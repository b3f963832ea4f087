"""Benchmark systems of shared/spec/targets.md and the peer timings published there.

Systems (names as accepted by ``--sizes`` of the timing scripts):

- ``ethanol``: 9 atoms, ``ase.build.molecule("CH3CH2OH")``, no cell, not periodic.
- ``192``, ``1536``, ``12288``: periodic water boxes. The 192-atom box holds 64 rigid
  water molecules (O–H 0.9572 Å, H–O–H 104.52°) at 1 g/cm³ in a cubic cell, one
  molecule per site of a 4x4x4 grid, each turned by a random rotation (seeded RNG)
  and re-drawn until no atom is closer than 1.5 Å to an atom of another molecule
  (minimum image). The larger boxes are that box repeated 2 and 4 times per axis.

This module needs only numpy and ase, so the apax timing script can import it from its
own virtual environment. Print a summary of the systems with::

    python benchmarks/systems.py
"""

from __future__ import annotations

import ase
import ase.build
import numpy as np
from ase.data import atomic_masses
from ase.units import _Nav

__all__ = [
    "PUBLISHED_MS",
    "SYSTEM_NAMES",
    "build_system",
    "ethanol",
    "water_box",
]

SYSTEM_NAMES = ("ethanol", "192", "1536", "12288")
"""Names of the benchmark systems, smallest first."""

PUBLISHED_MS = {
    "apax": {"ethanol": 0.8, "192": 91.0, "1536": 738.0, "12288": 7601.0},
    "TorchANI": {"ethanol": 10.7, "192": 44.0, "1536": 331.0, "12288": 3510.0},
    "metatrain PET": {"ethanol": 13.9, "192": 776.0, "1536": 16081.0},
}
"""Peer timings from targets.md, ms per energy+forces(+stress) call, float32, 1 thread.

apax 0.14: GM-NN, Bessel 16, 5 radial, 8 contractions, MLP 256-256, JAX jit.
TorchANI 2.9: ANI-2x architecture, 8-model ensemble. metatrain 2026.4 PET: defaults
(2.9 M parameters), metatomic-ase calculator, skin 2 Å. Measured on a 2-core machine
of the kind we develop on, partly loaded: read as ±30 %.
"""

O_H_BOND = 0.9572
"""Å, O–H bond length of the rigid water model (TIP3P geometry)."""

H_O_H_ANGLE = 104.52
"""Degrees, H–O–H angle of the rigid water model."""

WATER_DENSITY = 1.0
"""g/cm³."""

MIN_INTERMOLECULAR_DISTANCE = 1.5
"""Å, smallest distance allowed between atoms of different molecules."""

GRID = 4
"""Molecules per axis in the 64-molecule box."""


def ethanol() -> ase.Atoms:
    """Ethanol (9 atoms) from ASE's G2 set, no cell, not periodic."""
    return ase.build.molecule("CH3CH2OH")


def _water_molecule() -> np.ndarray:
    """(3, 3) positions of O, H, H in Å, with the centre of mass at the origin."""
    half_angle = np.radians(H_O_H_ANGLE) / 2.0
    positions = np.array(
        [
            [0.0, 0.0, 0.0],
            [O_H_BOND * np.sin(half_angle), 0.0, O_H_BOND * np.cos(half_angle)],
            [-O_H_BOND * np.sin(half_angle), 0.0, O_H_BOND * np.cos(half_angle)],
        ]
    )
    masses = atomic_masses[[8, 1, 1]]
    centre = masses @ positions / masses.sum()
    return positions - centre


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed 3x3 rotation matrix (QR of a Gaussian matrix)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0.0:
        q[:, 0] = -q[:, 0]
    return q


def _box_length(n_molecules: int) -> float:
    """Edge in Å of the cubic cell holding ``n_molecules`` waters at WATER_DENSITY."""
    grams = n_molecules * atomic_masses[[8, 1, 1]].sum() / _Nav
    return float((grams / WATER_DENSITY * 1e24) ** (1.0 / 3.0))


def _closest_distance(new: np.ndarray, placed: np.ndarray, length: float) -> float:
    """Smallest minimum-image distance between two sets of points in a cubic cell."""
    if len(placed) == 0:
        return np.inf
    delta = new[:, None, :] - placed[None, :, :]
    delta -= length * np.round(delta / length)
    return float(np.sqrt((delta**2).sum(axis=-1)).min())


def _water_64(seed: int) -> ase.Atoms:
    """64 randomly oriented waters on a 4x4x4 grid of a cubic cell at 1 g/cm³."""
    rng = np.random.default_rng(seed)
    n_molecules = GRID**3
    length = _box_length(n_molecules)
    spacing = length / GRID
    template = _water_molecule()
    placed = np.zeros((0, 3))
    for site in np.ndindex(GRID, GRID, GRID):
        centre = (np.array(site) + 0.5) * spacing
        for _attempt in range(1000):
            molecule = template @ _random_rotation(rng).T + centre
            distance = _closest_distance(molecule, placed, length)
            if distance >= MIN_INTERMOLECULAR_DISTANCE:
                break
        else:
            raise RuntimeError(f"could not place a water molecule at grid site {site}")
        placed = np.concatenate([placed, molecule])
    return ase.Atoms(
        "OH2" * n_molecules,
        positions=placed,
        cell=np.eye(3) * length,
        pbc=True,
    )


def water_box(repeat: int = 1, seed: int = 0) -> ase.Atoms:
    """Periodic water box of 192 · repeat³ atoms (64 waters repeated per axis).

    Args:
        repeat: how many times the 64-molecule box is repeated along each axis.
        seed: seed of the random molecule orientations.

    Returns:
        The box, cubic, periodic in all directions, positions wrapped into the cell.
    """
    atoms = _water_64(seed).repeat((repeat, repeat, repeat))
    atoms.wrap()
    return atoms


def build_system(name: str, seed: int = 0) -> ase.Atoms:
    """The benchmark system called ``name`` (one of :data:`SYSTEM_NAMES`)."""
    if name == "ethanol":
        return ethanol()
    repeats = {"192": 1, "1536": 2, "12288": 4}
    if name not in repeats:
        raise ValueError(f"unknown system {name!r}; choose from {SYSTEM_NAMES}")
    return water_box(repeats[name], seed=seed)


def _summary() -> None:
    from ase.neighborlist import neighbor_list

    for name in SYSTEM_NAMES:
        atoms = build_system(name)
        i, j, d = neighbor_list("ijd", atoms, 5.0)
        line = f"{name:>8}: {len(atoms):6d} atoms, {len(i):8d} edges within 5 Å"
        if atoms.pbc.all():
            other = (i // 3) != (j // 3)
            grams = atoms.get_masses().sum() / _Nav
            density = grams / (atoms.get_volume() * 1e-24)
            line += (
                f", closest intermolecular pair {d[other].min():.3f} Å"
                f", cell {atoms.cell.lengths()[0]:.4f} Å, {density:.4f} g/cm³"
            )
        print(line)


if __name__ == "__main__":
    _summary()
