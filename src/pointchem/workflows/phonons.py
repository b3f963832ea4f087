"""Harmonic vibrations of molecules and phonons of crystals, through ASE and phonopy.

:func:`harmonic_vibrations` wraps the Hessian of a structure (analytic with a
:class:`~pointchem.PointChemCalculator`) in ASE's
:class:`~ase.vibrations.VibrationsData`, so frequencies, modes, zero-point energy and
mode animations come from ASE.

For a periodic structure there are two routes to the same phonopy force constants
Φ_{ia,jb} = ∂²E/∂u_ia ∂u_jb (eV/Å²; i, j atoms of the supercell, a, b Cartesian axes):

- :func:`phonons_from_displacements`: phonopy displaces atoms by ±``displacement``
  (central differences, truncation error O(displacement²)) and fits Φ to the forces.
  All displaced supercells, and the undisplaced one whose residual forces are
  subtracted (phonopy's ``--fz``), are evaluated in **one batched model call**
  (:func:`supercell_forces`).
- :func:`phonons_from_hessian`: the Hessian of the supercell *is* Φ; it is reshaped
  from (3N, 3N), atom-major, to phonopy's (N, N, 3, 3) by
  :func:`force_constants_from_hessian`.

Both return a :class:`phonopy.Phonopy` with its force constants set; band structures,
densities of states and frequencies at q-points are phonopy's (:func:`plot_phonons`,
:func:`phonon_frequencies`). The unit cell given is phonopy's primitive cell
(``primitive_matrix=None``), so q-points are in the basis of *its* reciprocal lattice,
the convention of ASE's ``atoms.cell.bandpath()`` too.

Displacements use only the lattice translations of the supercell by default
(``symmetry=False``: every atom of the unit cell is moved along ±x, ±y, ±z, 6 × n_unit
supercells). Every pointchem potential is exactly invariant under translations and
permutations, so the fitted Φ is its exact Hessian up to the finite-difference error.
With ``symmetry=True`` phonopy uses the space group of the crystal (diamond: 2
supercells), which is only right for a potential that obeys it: a bare (not
symmetrized) PET model is not exactly rotation-invariant, and its force constants
symmetrized by phonopy then differ from its Hessian.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import ase
import numpy as np
from ase.calculators.calculator import Calculator
from ase.dft.kpoints import parse_path_string
from ase.vibrations import VibrationsData
from phonopy import Phonopy
from phonopy.phonon.band_structure import (
    BandStructure,
    get_band_qpoints_and_path_connections,
)
from phonopy.structure.atoms import PhonopyAtoms

from ..calculator import PointChemCalculator
from ._path import BatchedImages, structure_hessian

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "PHONON_DISPLACEMENT",
    "force_constants_from_hessian",
    "harmonic_vibrations",
    "phonon_frequencies",
    "phonons_from_displacements",
    "phonons_from_hessian",
    "plot_phonons",
    "supercell_forces",
]

PHONON_DISPLACEMENT = 0.005
"""Å. Default amplitude of phonopy's ± displacements (central differences). The
truncation error of the frequencies grows as d²: for ``silicon-pet.pt`` (float64,
2×2×2 supercell) the largest difference from the Hessian route at Γ, X, L is 6.1e-3,
1.5e-3, 3.8e-4 and 1.5e-5 THz at d = 0.02, 0.01, 0.005 and 0.001 Å, so 0.005 Å stays
26× below the 0.01 THz the two routes must agree to. Float64 round-off of the forces
(~1e-13 eV/Å / d) is negligible; in float32 (~1e-6 eV/Å / d) take 0.01–0.03 Å, or the
Hessian route."""

SupercellMatrix = int | Sequence[int] | Sequence[Sequence[int]] | np.ndarray
"""Supercell of the unit cell: n (n×n×n), (n1, n2, n3) (diagonal), or a 3×3 matrix."""


def harmonic_vibrations(atoms: ase.Atoms, calculator: Calculator) -> VibrationsData:
    """ASE vibrational data of ``atoms`` from the Hessian of ``calculator``.

    Args:
        atoms: the structure, normally a minimum (positions Å, masses amu).
        calculator: a :class:`~pointchem.PointChemCalculator` (analytic Hessian) or
            any ASE calculator (central differences of forces, 1e-3 Å).

    Returns:
        :class:`~ase.vibrations.VibrationsData` of all atoms: ``get_frequencies()``
        (cm⁻¹, complex for imaginary modes), ``get_energies()`` (eV),
        ``get_zero_point_energy()`` (eV), ``get_modes()``, ... The free translations
        and rotations are *not* projected out: they appear as near-zero modes, as in
        ASE's :class:`~ase.vibrations.Vibrations`.
    """
    structure = atoms.copy()
    structure.calc = None
    return VibrationsData.from_2d(structure, structure_hessian(atoms, calculator))


def force_constants_from_hessian(hessian: np.ndarray) -> np.ndarray:
    """Phonopy force constants from a Cartesian Hessian.

    Args:
        hessian: (3N, 3N) ∂²E/∂r_ia∂r_jb in eV/Å², atom-major (row 3i + a).

    Returns:
        (N, N, 3, 3) float64, ``fc[i, j, a, b] = hessian[3i + a, 3j + b]`` (eV/Å²,
        same sign: phonopy's force constants are ∂²E/∂u_ia∂u_jb = −∂F_jb/∂u_ia),
        symmetrized as (H + Hᵀ)/2 to remove round-off.
    """
    hessian = np.asarray(hessian, dtype=np.float64)
    size = hessian.shape[0]
    if hessian.shape != (size, size) or size % 3:
        raise ValueError(f"expected a (3N, 3N) Hessian, got shape {hessian.shape}")
    symmetric = 0.5 * (hessian + hessian.T)
    n_atoms = size // 3
    return symmetric.reshape(n_atoms, 3, n_atoms, 3).transpose(0, 2, 1, 3).copy()


def _supercell_matrix(supercell: SupercellMatrix) -> np.ndarray:
    matrix = np.asarray(supercell, dtype=int)
    if matrix.ndim == 0:
        return np.eye(3, dtype=int) * int(matrix)
    if matrix.shape == (3,):
        return np.diag(matrix)
    if matrix.shape != (3, 3):
        raise ValueError(f"supercell must be n, (n1, n2, n3) or 3×3, got {supercell}")
    return matrix


def _phonopy(
    unitcell: ase.Atoms, supercell: SupercellMatrix, symmetry: bool
) -> Phonopy:
    if not unitcell.pbc.all():
        raise ValueError(
            f"phonons need a structure periodic in 3-D, got pbc={unitcell.pbc.tolist()}"
        )
    cell = PhonopyAtoms(
        numbers=unitcell.numbers,
        cell=unitcell.cell.array,
        scaled_positions=unitcell.get_scaled_positions(),
        masses=unitcell.get_masses(),
    )
    return Phonopy(
        cell,
        supercell_matrix=_supercell_matrix(supercell),
        primitive_matrix=None,
        is_symmetry=symmetry,
    )


def _to_ase(cell: PhonopyAtoms) -> ase.Atoms:
    return ase.Atoms(
        numbers=cell.numbers,
        cell=cell.cell,
        scaled_positions=cell.scaled_positions,
        pbc=True,
    )


def supercell_forces(
    structures: Sequence[ase.Atoms], calculator: Calculator
) -> np.ndarray:
    """Forces of several structures with the same number of atoms.

    With a :class:`~pointchem.PointChemCalculator` all structures go through the model
    in one batched call (one graph of every structure); any other calculator is
    called structure by structure.

    Args:
        structures: n structures of N atoms each (not modified).
        calculator: the calculator.

    Returns:
        (n, N, 3) float64 forces in eV/Å.
    """
    copies = [structure.copy() for structure in structures]
    if isinstance(calculator, PointChemCalculator):
        batch = BatchedImages(calculator, copies)
        return np.stack([batch.results(i)["forces"] for i in range(len(copies))])
    forces = []
    for structure in copies:
        structure.calc = calculator
        forces.append(structure.get_forces())
    return np.stack(forces)


def phonons_from_displacements(
    unitcell: ase.Atoms,
    calculator: Calculator,
    supercell: SupercellMatrix = 2,
    displacement: float = PHONON_DISPLACEMENT,
    symmetry: bool = False,
) -> Phonopy:
    """Phonopy force constants from finite displacements, evaluated in one batch.

    Args:
        unitcell: the (primitive) unit cell, periodic in 3-D; positions Å.
        calculator: gives the forces (batched if a ``PointChemCalculator``).
        supercell: n, (n1, n2, n3) or a 3×3 integer matrix of the unit cell. Force
            constants reach at most half the supercell: make it larger than twice the
            potential's range (cutoff × message-passing layers) for converged
            dispersions; the comparison with :func:`phonons_from_hessian` holds for
            any size.
        displacement: Å, amplitude of the ± displacements (see
            :data:`PHONON_DISPLACEMENT`).
        symmetry: use the crystal's space group to reduce the displacements (only
            for potentials that obey it exactly; see the module docstring).

    Returns:
        :class:`phonopy.Phonopy` with ``forces`` and ``force_constants`` (eV/Å²) set.
    """
    phonon = _phonopy(unitcell, supercell, symmetry)
    phonon.generate_displacements(distance=displacement, is_plusminus=True)
    displaced = phonon.supercells_with_displacements or []
    structures = [_to_ase(cell) for cell in [phonon.supercell, *displaced]]
    forces = supercell_forces(structures, calculator)
    phonon.forces = forces[1:] - forces[0]
    phonon.produce_force_constants(show_drift=False)
    return phonon


def phonons_from_hessian(
    unitcell: ase.Atoms, calculator: Calculator, supercell: SupercellMatrix = 2
) -> Phonopy:
    """Phonopy force constants from the Hessian of the supercell.

    Args:
        unitcell: the (primitive) unit cell, periodic in 3-D; positions Å.
        calculator: gives the Hessian (analytic with a ``PointChemCalculator``,
            central differences of forces otherwise).
        supercell: n, (n1, n2, n3) or a 3×3 integer matrix of the unit cell.

    Returns:
        :class:`phonopy.Phonopy` with ``force_constants`` (N, N, 3, 3) eV/Å² set,
        N the number of atoms of the supercell in phonopy's order.
    """
    phonon = _phonopy(unitcell, supercell, symmetry=False)
    hessian = structure_hessian(_to_ase(phonon.supercell), calculator)
    phonon.force_constants = force_constants_from_hessian(hessian)
    return phonon


def phonon_frequencies(phonon: Phonopy, q_points: np.ndarray) -> np.ndarray:
    """Phonon frequencies at q-points (phonopy's ``run_qpoints``).

    Args:
        phonon: a phonopy object with force constants.
        q_points: (n_q, 3) or (3,), in units of the reciprocal lattice vectors of the
            unit cell.

    Returns:
        (n_q, 3 n_unit) float64 THz, ascending per q; imaginary modes negative.
    """
    q_points = np.reshape(np.asarray(q_points, dtype=np.float64), (-1, 3))
    return np.asarray(phonon.run_qpoints(q_points).frequencies)


def _band_segments(
    unitcell: ase.Atoms, band_path: str | None
) -> tuple[list[list[np.ndarray]], list[list[str]]]:
    """Special-point coordinates and labels of each continuous piece of the path."""
    path = unitcell.cell.bandpath(band_path, npoints=0)
    pieces = parse_path_string(path.path)
    points = [[np.asarray(path.special_points[name]) for name in p] for p in pieces]
    return points, pieces


def _tick_labels(pieces: list[list[str]]) -> list[str]:
    """Labels at the ends of every segment: 'U|K' where the path jumps."""
    labels: list[str] = []
    for piece in pieces:
        names = [{"G": "Γ"}.get(name, name) for name in piece]
        if labels:
            labels[-1] = f"{labels[-1]}|{names.pop(0)}"
        labels += names
    return labels


def _band_axis(
    axis: Axes, band: BandStructure, color: str, style: str, label: str
) -> list[float]:
    """Draw one band structure; returns the x of the segment ends (ticks)."""
    ticks = [float(band.distances[0][0])]
    for number, (x, frequencies) in enumerate(
        zip(band.distances, band.frequencies, strict=True)
    ):
        lines = axis.plot(x, frequencies, color=color, ls=style, lw=1.0)
        if number == 0:
            lines[0].set_label(label)  # one legend entry per band structure
        ticks.append(float(x[-1]))
    return ticks


def plot_phonons(
    phonons: Mapping[str, Phonopy],
    unitcell: ase.Atoms,
    path: str | os.PathLike[str],
    band_path: str | None = None,
    npoints: int = 51,
    mesh: Sequence[int] = (16, 16, 16),
) -> Path:
    """Save band structures and densities of states of several phonopy objects.

    Args:
        phonons: label → phonopy object with force constants (same unit cell); drawn
            on top of each other, solid, dashed, dotted, ...
        unitcell: the unit cell they were made from (for the special points).
        path: output file (PNG).
        band_path: special points in ASE's notation (``"GXU,KGL"``: Γ–X–U, jump,
            K–Γ–L); None takes ASE's default path for the Bravais lattice.
        npoints: q-points per segment.
        mesh: q-point mesh of the density of states (tetrahedron method).

    Returns:
        The path written. Frequencies in THz; DOS in states/THz per unit cell.
    """
    from matplotlib.figure import Figure  # plotting is optional at import time

    points, pieces = _band_segments(unitcell, band_path)
    figure = Figure(figsize=(8, 4.5))
    band_axis, dos_axis = figure.subplots(
        1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1]}
    )
    styles = ["-", "--", ":", "-."]
    colors = ["k", "tab:red", "tab:blue", "tab:green"]
    ticks: list[float] = []
    for number, (label, phonon) in enumerate(phonons.items()):
        color, style = colors[number % 4], styles[number % 4]
        q_points, connections = get_band_qpoints_and_path_connections(points, npoints)
        band = phonon.run_band_structure(q_points, path_connections=connections)
        ticks = _band_axis(band_axis, band, color, style, label)
        phonon.run_mesh(list(mesh))
        dos = phonon.run_total_dos()
        dos_axis.plot(dos.dos, dos.frequency_points, color=color, ls=style)
    unique_ticks = sorted(set(ticks))
    band_axis.set_xticks(unique_ticks, _tick_labels(pieces))
    for tick in unique_ticks:
        band_axis.axvline(tick, color="grey", lw=0.5)
    band_axis.set_xlim(unique_ticks[0], unique_ticks[-1])
    band_axis.axhline(0.0, color="grey", lw=0.5)
    band_axis.set_ylabel("frequency (THz)")
    bottom, top = band_axis.get_ylim()
    band_axis.set_ylim(bottom, top + 0.15 * (top - bottom))  # room for the legend
    band_axis.legend(loc="upper center", ncol=len(phonons), frameon=False)
    dos_axis.set_xlabel("DOS (1/THz)")
    dos_axis.set_xlim(left=0.0)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return Path(path)
