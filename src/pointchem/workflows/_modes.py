"""Harmonic normal modes from a Hessian, with the free (zero-frequency) modes removed.

The Hessian H (3N, 3N, eV/Å²) is mass-weighted, H_m = M^{-1/2} H M^{-1/2} with M the
atomic masses in amu, and its eigenvalues λ are the squared angular frequencies in
ASE units (eV/(Å²·amu)). Free motions (rigid translations, and rotations of a molecule
in vacuum) cost no energy; they are removed *exactly* by diagonalizing H_m in the
orthogonal complement of their mass-weighted displacement vectors, so the number of
modes returned is 3N minus the number of free motions, and no numerically small
eigenvalue has to be guessed away.

Which motions are free is a property of the potential, not only of the structure:

- ``"translations+rotations"``: an isolated molecule (the potential is invariant under
  rigid translations and rotations): 3N − 6 modes, 3N − 5 if linear, 0 for one atom.
- ``"translations"``: a crystal or slab (periodic potentials are translation- but not
  rotation-invariant once the cell is fixed): 3N − 3 modes.
- ``"none"``: particles in an external potential (e.g. a model that depends on the
  absolute positions, as the double well of the tests): all 3N modes are vibrations.
- ``"auto"``: ``"translations+rotations"`` when the structure has no periodic direction,
  else ``"translations"``.

Frequencies are returned *signed*, in Hz (cycles per second): an imaginary frequency
i|ν| (λ < 0) is returned as −|ν|.
"""

from __future__ import annotations

from typing import Literal

import ase
import numpy as np
from ase import units

__all__ = [
    "SaddlePointError",
    "ZeroModes",
    "check_minimum",
    "check_saddle",
    "free_motion_vectors",
    "normal_mode_frequencies",
    "resolve_zero_modes",
    "wavenumber",
]

ZeroModes = Literal["auto", "translations+rotations", "translations", "none"]
"""Which rigid motions are free (zero-frequency) and removed before counting modes."""

_RANK_TOLERANCE = 1e-8
"""Relative singular value below which a free-motion vector is dependent (an atom's
rotations, the rotation about the axis of a linear molecule)."""


def wavenumber(frequency: np.ndarray | float) -> np.ndarray:
    """Convert a frequency in Hz to a wavenumber in cm⁻¹ (sign kept)."""
    return np.asarray(frequency) / (100.0 * units._c)


def resolve_zero_modes(atoms: ase.Atoms, zero_modes: ZeroModes) -> ZeroModes:
    """Replace ``"auto"`` by the free motions the periodicity of ``atoms`` implies."""
    if zero_modes != "auto":
        return zero_modes
    return "translations" if atoms.pbc.any() else "translations+rotations"


def free_motion_vectors(atoms: ase.Atoms, zero_modes: ZeroModes) -> np.ndarray:
    """Orthonormal mass-weighted displacement vectors of the free rigid motions.

    Args:
        atoms: the structure (positions in Å, masses in amu).
        zero_modes: which motions are free (see the module docstring).

    Returns:
        (3N, n_free) float64 with orthonormal columns; n_free is 0 for ``"none"``,
        3 for ``"translations"``, and 3 + (0, 2 or 3 independent rotations) for
        ``"translations+rotations"``.
    """
    zero_modes = resolve_zero_modes(atoms, zero_modes)
    if zero_modes == "none":
        return np.zeros((3 * len(atoms), 0))
    root_mass = np.sqrt(atoms.get_masses())[:, None]
    vectors = [np.broadcast_to(root_mass * axis, (len(atoms), 3)) for axis in np.eye(3)]
    if zero_modes == "translations+rotations":
        relative = atoms.positions - atoms.get_center_of_mass()
        vectors += [root_mass * np.cross(axis, relative) for axis in np.eye(3)]
    matrix = np.stack([v.reshape(-1) for v in vectors], axis=1)
    left, singular, _ = np.linalg.svd(matrix, full_matrices=False)
    return left[:, singular > _RANK_TOLERANCE * singular.max()]


def normal_mode_frequencies(
    hessian: np.ndarray, masses: np.ndarray, free_vectors: np.ndarray
) -> np.ndarray:
    """Signed harmonic frequencies with the free motions projected out exactly.

    Args:
        hessian: (3N, 3N) eV/Å², atom-major order (atom 0 x, y, z, atom 1 x, ...).
        masses: (N,) amu.
        free_vectors: (3N, n_free) orthonormal mass-weighted free motions, from
            :func:`free_motion_vectors`.

    Returns:
        (3N − n_free,) float64 in Hz, ascending; imaginary modes are negative.
    """
    inverse_root_mass = np.repeat(1.0 / np.sqrt(masses), 3)
    symmetric = 0.5 * (hessian + hessian.T)
    weighted = symmetric * np.outer(inverse_root_mass, inverse_root_mass)
    projector = np.eye(len(weighted)) - free_vectors @ free_vectors.T
    _, eigenvectors = np.linalg.eigh(projector)
    basis = eigenvectors[:, free_vectors.shape[1] :]  # eigenvalue 1: the complement
    eigenvalues = np.linalg.eigvalsh(basis.T @ weighted @ basis)
    return np.sign(eigenvalues) * np.sqrt(np.abs(eigenvalues)) * units.s / (2 * np.pi)


class SaddlePointError(RuntimeError):
    """A structure is not the stationary point harmonic TST needs.

    Raised when the top of the path does not have exactly one imaginary mode, when the
    reactant has any, or when a mode is too soft to be treated as harmonic.

    Attributes:
        n_imaginary: how many imaginary modes the top of the path has, when that was
            the failed check (0: the climbing image stopped in a minimum); else None.
    """

    def __init__(self, message: str, n_imaginary: int | None = None):
        super().__init__(message)
        self.n_imaginary = n_imaginary


def _check_soft_modes(frequencies: np.ndarray, threshold: float, what: str) -> None:
    soft = np.abs(wavenumber(frequencies)) < threshold
    if soft.any():
        values = ", ".join(f"{w:.3g}" for w in wavenumber(frequencies[soft]))
        raise SaddlePointError(
            f"the {what} has {int(soft.sum())} mode(s) softer than {threshold} cm⁻¹ "
            f"({values} cm⁻¹; negative = imaginary): a free motion that was not "
            "projected out (check zero_modes), an unconverged relaxation, or a mode "
            "too anharmonic for harmonic TST"
        )


def check_minimum(frequencies: np.ndarray, threshold: float) -> np.ndarray:
    """Check that a structure is a minimum: every mode real and not soft.

    Args:
        frequencies: (n_modes,) signed frequencies in Hz (negative = imaginary).
        threshold: cm⁻¹; modes with |ν̃| below it are soft.

    Returns:
        The frequencies (all positive), Hz.

    Raises:
        SaddlePointError: an imaginary or a soft mode.
    """
    _check_soft_modes(frequencies, threshold, "reactant")
    imaginary = frequencies < 0
    if imaginary.any():
        values = ", ".join(f"{w:.4g}i" for w in -wavenumber(frequencies[imaginary]))
        raise SaddlePointError(
            f"the reactant is not a minimum: {int(imaginary.sum())} imaginary "
            f"mode(s) ({values} cm⁻¹)"
        )
    return frequencies


def check_saddle(frequencies: np.ndarray, threshold: float) -> tuple[float, np.ndarray]:
    """Check that a structure is a first-order saddle: exactly one imaginary mode.

    Args:
        frequencies: (n_modes,) signed frequencies in Hz, ascending (negative =
            imaginary).
        threshold: cm⁻¹; modes with |ν̃| below it are soft and make the check fail.

    Returns:
        The magnitude |ν‡| of the imaginary frequency (Hz) and the (n_modes − 1,)
        real frequencies (Hz).

    Raises:
        SaddlePointError: zero or several imaginary modes, or a soft mode.
    """
    _check_soft_modes(frequencies, threshold, "saddle point")
    n_imaginary = int((frequencies < 0).sum())
    if n_imaginary != 1:
        values = ", ".join(f"{w:.4g}i" for w in -wavenumber(frequencies[:n_imaginary]))
        detail = f" ({values} cm⁻¹)" if n_imaginary else ""
        raise SaddlePointError(
            f"the highest image is not a first-order saddle point: it has "
            f"{n_imaginary} imaginary modes{detail}, not 1. With 0 the path has no "
            "barrier top between the images (add images or converge the NEB further); "
            "with 2 or more the path crosses a higher-order saddle (the true path goes "
            "around it: start from a different interpolation)",
            n_imaginary=n_imaginary,
        )
    return float(-frequencies[0]), frequencies[1:]
