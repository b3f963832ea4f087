"""The settings of :func:`pointchem.workflows.reaction_rates`, in one frozen record."""

from __future__ import annotations

import dataclasses
from typing import Literal

from ._modes import ZeroModes

__all__ = ["RateSettings"]

_OPTIMIZERS = ("BFGS", "FIRE")
_INTERPOLATIONS = ("idpp", "linear")
_ZERO_MODES = ("auto", "translations+rotations", "translations", "none")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RateSettings:
    """How reactant, product and saddle are found and how the rate is evaluated."""

    n_images: int = 7
    """Number of intermediate NEB images (the two end points come on top); ≥ 1."""

    fmax: float = 1e-3
    """eV/Å. Largest force on any atom at which reactant and product count as
    relaxed. The frequencies need well-converged minima; 1e-3 suits molecules."""

    neb_fmax: float = 1e-3
    """eV/Å. Largest NEB force (spring-projected; the true force on the climbing
    image) at which the band counts as converged. The climbing image becomes the
    saddle, whose Hessian is taken, so it should be as tight as ``fmax``."""

    climb_after_fmax: float = 0.05
    """eV/Å. The band is first relaxed without climbing until its largest NEB force
    is below this (or ``neb_fmax`` if that is larger); only then does the highest
    image climb. A climbing image started on a band far from the path can run up a
    ridge instead of finding the saddle."""

    band_noise: float = 0.0
    """Å. Standard deviation of random displacements (seeded by ``seed``) added to
    every coordinate of the interior images of the interpolated band. A band that
    starts in a symmetric subspace (a straight hop along a symmetry axis of a
    crystal) stays there, and the saddle it finds may be of higher order; noise lets
    it leave. 0 keeps the interpolation as it is. Fixed atoms are not moved."""

    seed: int = 0
    """Seed of the ``band_noise`` displacements."""

    same_minimum_distance: float = 0.05
    """Å. Two relaxed structures whose atoms all lie within this distance of each
    other (minimum image in periodic directions) are the same minimum; used by
    :func:`~pointchem.workflows.reaction_pathway` to tell intermediates apart."""

    max_steps: int = 1000
    """Optimizer step limit for each relaxation and for the NEB; > 0."""

    optimizer: Literal["BFGS", "FIRE"] = "BFGS"
    """ASE optimizer for the relaxations and the NEB."""

    neb_optimizer: Literal["BFGS", "FIRE", "ODE"] | None = None
    """Optimizer of the NEB bands; None uses ``optimizer``. "ODE" is ASE's
    ``NEBOptimizer`` (adaptive ODE integration, Makri, Ortner and Kermode 2019). On
    one step of silicon's vacancy hop it converged the climbing image where BFGS and
    FIRE let it run up a ridge; on another band of the same hop it ran away too."""

    spring: float = 0.1
    """eV/Å². NEB spring constant between neighbouring images; > 0."""

    interpolation: Literal["idpp", "linear"] = "idpp"
    """Initial path: image-dependent pair potential (Smidstrup et al. 2014) or
    straight-line interpolation. For a single atom idpp has no pair distances to
    interpolate and equals linear."""

    zero_modes: ZeroModes = "auto"
    """Which rigid motions are free and projected out of the Hessians ("auto":
    translations and rotations for structures without periodic direction, else
    translations; "none" for a particle in an external potential). With free
    rotations, the NEB images are also aligned (NEB-TR) and the Eyring rate gets
    rotational partition functions."""

    quantum: bool = True
    """Eyring rate with quantum-harmonic vibrational partition functions (zero-point
    energy included); False gives classical ones (k_B T / hν per mode)."""

    symmetry_number_reactant: int = 1
    """Rotational symmetry number σ_R of the reactant; ≥ 1."""

    symmetry_number_saddle: int = 1
    """Rotational symmetry number σ‡ of the saddle point; ≥ 1. The rate carries
    σ_R/σ‡ (the reaction-path degeneracy): with both 1 it is the rate through the
    one path the NEB found."""

    soft_mode_threshold: float = 10.0
    """cm⁻¹. A vibration with |ν̃| below this is treated as a non-converged or free
    motion and the rate is refused; imaginary modes above it are counted."""

    def __post_init__(self) -> None:
        _check(self.n_images >= 1, "n_images", self.n_images, "≥ 1")
        for name in ("fmax", "neb_fmax", "climb_after_fmax", "spring"):
            _check(getattr(self, name) > 0, name, getattr(self, name), "> 0")
        _check(self.max_steps > 0, "max_steps", self.max_steps, "> 0")
        _check(self.band_noise >= 0, "band_noise", self.band_noise, "≥ 0")
        _check(
            self.same_minimum_distance > 0,
            "same_minimum_distance",
            self.same_minimum_distance,
            "> 0",
        )
        _check(
            self.soft_mode_threshold >= 0,
            "soft_mode_threshold",
            self.soft_mode_threshold,
            "≥ 0",
        )
        for name in ("symmetry_number_reactant", "symmetry_number_saddle"):
            _check(getattr(self, name) >= 1, name, getattr(self, name), "≥ 1")
        _check(
            self.optimizer in _OPTIMIZERS,
            "optimizer",
            self.optimizer,
            f"one of {_OPTIMIZERS}",
        )
        _check(
            self.neb_optimizer in (None, *_OPTIMIZERS, "ODE"),
            "neb_optimizer",
            self.neb_optimizer,
            f"None, 'ODE' or one of {_OPTIMIZERS}",
        )
        _check(
            self.interpolation in _INTERPOLATIONS,
            "interpolation",
            self.interpolation,
            f"one of {_INTERPOLATIONS}",
        )
        _check(
            self.zero_modes in _ZERO_MODES,
            "zero_modes",
            self.zero_modes,
            f"one of {_ZERO_MODES}",
        )


def _check(valid: bool, name: str, value: object, requirement: str) -> None:
    if not valid:
        raise ValueError(f"RateSettings.{name} must be {requirement}, got {value!r}")
