"""Hyperparameters of the Gaussian-moment neural network (GM-NN)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..._strict import strict_from_dict

__all__ = ["RADIAL_BASES", "GMHypers"]

RADIAL_BASES = ("bessel", "gaussian")
"""Names accepted by :attr:`GMHypers.radial_basis`."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class GMHypers:
    """Architecture of a :class:`~pointchem.models.gm.GaussianMomentModel`.

    Defaults follow apax's Bessel-basis model (N_b = 16, r_c = 5 Å, N_R = 5,
    hidden layers 256 × 256), which gives 360 descriptor features per atom.
    """

    cutoff: float = 5.0
    """Interaction cutoff r_c in Å, > 0. Radial functions vanish smoothly (cosine
    cutoff) at and beyond it; the radial basis spans [0, r_c]."""

    radial_basis: str = "bessel"
    """Primitive radial basis: "bessel" (Kocer et al., apax default) or "gaussian"
    (equally spaced Gaussians of the original GM-NN)."""

    n_basis: int = 16
    """Number N_b ≥ 1 of primitive radial basis functions Φ_b."""

    n_radial: int = 5
    """Number N_R ≥ 1 of species-pair-contracted radial functions R_s; the descriptor
    has n_gaussian_moment_features(N_R) entries (360 for N_R = 5)."""

    basis_r_min: float = 0.5
    """Centre of the first Gaussian in Å, 0 ≤ basis_r_min < cutoff. Used only by the
    "gaussian" basis."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Widths of the hidden layers of the atomic network, each ≥ 1 (may be empty for
    a linear readout); the output layer has width 1."""

    def __post_init__(self) -> None:
        if not self.cutoff > 0.0:
            raise ValueError(f"cutoff must be > 0 Å, got {self.cutoff!r}")
        if self.radial_basis not in RADIAL_BASES:
            raise ValueError(
                f"radial_basis must be one of {RADIAL_BASES}, got {self.radial_basis!r}"
            )
        for name in ("n_basis", "n_radial"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")
        if not 0.0 <= self.basis_r_min < self.cutoff:
            raise ValueError(
                f"basis_r_min must lie in [0, cutoff={self.cutoff}) Å, "
                f"got {self.basis_r_min!r}"
            )
        sizes = self.hidden_sizes
        if not isinstance(sizes, tuple) or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes
        ):
            raise ValueError(
                f"hidden_sizes must be a tuple of integers ≥ 1, got {sizes!r}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GMHypers:
        """Build hypers from a plain mapping (YAML section or ``dataclasses.asdict``).

        Lists become tuples; missing keys take their defaults.

        Args:
            values: field name → value.

        Returns:
            The validated hypers.

        Raises:
            ValueError: an unknown key (with a "did you mean" hint) or an invalid value.
        """
        return strict_from_dict(cls, values, "GM hyperparameter")
