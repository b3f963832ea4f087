"""Helpers for physics tests of potentials, public so that new families reuse them.

Finite differences come from ASE (forces, stress) and matscipy (Hessian); this module
only adds named tolerances, random symmetry operations and small structure builders.
"""

from __future__ import annotations

import dataclasses

import ase
import numpy as np

__all__ = [
    "FLOAT64_TOLERANCES",
    "PhysicsTolerances",
    "random_rotation",
    "rattled_copy",
]


@dataclasses.dataclass(frozen=True)
class PhysicsTolerances:
    """Named tolerances of the physics suite (all absolute unless said otherwise).

    Attributes:
        forces_vs_finite_differences: eV/Å, max |F − F_fd| over components.
        stress_vs_finite_strain: eV/Å³, max |σ − σ_fd| over components.
        hessian_vs_finite_differences: eV/Å², max |H − H_fd| over entries.
        hessian_symmetry: eV/Å², max |H − Hᵀ|.
        invariance_relative: |E(gx) − E(x)| / max(1, |E(x)|) under a symmetry g.
        equivariance: eV/Å, max |F(gx) − g F(x)|.
        batch_vs_single: eV (energies) and eV/Å (forces), batched vs one-by-one.
        locality: eV per atom, per-atom energies of a cell vs its supercell.
    """

    forces_vs_finite_differences: float
    stress_vs_finite_strain: float
    hessian_vs_finite_differences: float
    hessian_symmetry: float
    invariance_relative: float
    equivariance: float
    batch_vs_single: float
    locality: float


FLOAT64_TOLERANCES = PhysicsTolerances(
    forces_vs_finite_differences=1e-6,
    stress_vs_finite_strain=1e-7,
    hessian_vs_finite_differences=1e-5,
    hessian_symmetry=1e-10,
    invariance_relative=1e-10,
    equivariance=1e-9,
    batch_vs_single=1e-10,
    locality=1e-10,
)
"""Tolerances for float64 models (the acceptance criteria of the core issue)."""

FINITE_DIFFERENCE_STEP = 1e-4
"""Å. Central-difference step for forces and Hessians: truncation error ~1e-9 relative
to the third derivative, rounding error ~1e-12 eV/Å for energies of ~100 eV."""

FINITE_STRAIN_STEP = 1e-6
"""Dimensionless strain step for numerical stress."""


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random proper rotation matrix (3, 3) with determinant +1."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def rattled_copy(atoms: ase.Atoms, amplitude: float, seed: int) -> ase.Atoms:
    """Copy of ``atoms`` with Gaussian displacements of std ``amplitude`` Å."""
    copy = atoms.copy()
    copy.rattle(stdev=amplitude, seed=seed)
    return copy
