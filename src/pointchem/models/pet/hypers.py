"""Hyperparameters of the Point Edge Transformer (PET)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..._strict import strict_from_dict

__all__ = ["PETHypers"]


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class PETHypers:
    """Architecture of a :class:`~pointchem.models.pet.PointEdgeTransformer`.

    Defaults follow metatrain's current PET (cutoff 4.5 Å, width 128, feed-forward
    256, two message-passing layers) with 4 heads as in the PET paper, but one
    attention layer per message-passing layer instead of two (paper: three): on a
    192-atom water box that cut the CPU time of an energy + forces + stress call from
    532 to 309 ms (one thread), which is what lets PET train for enough epochs on a
    CPU budget. The receptive field is ``n_layers × cutoff`` (9 Å).
    """

    cutoff: float = 4.5
    """Interaction cutoff r_c in Å, > 0. Neighbours enter attention and bond energies
    with the weight f_c(r), 1 below r_c − cutoff_width, 0 at and beyond r_c."""

    cutoff_width: float = 0.5
    """Width Δ of the switch f_c on [r_c − Δ, r_c], Å, 0 < Δ ≤ r_c: the C² quintic
    :func:`~pointchem.nn.cutoffs.polynomial_switch` (a cosine switch, as in the PET
    paper, is only C¹ and let forces jump by 2e-4 eV/Å for an atom 1e-5 Å inside)."""

    n_radial_basis: int = 8
    """Number of Bessel functions of |x_ij| (:func:`~pointchem.nn.radial.bessel_basis`)
    appended to the raw edge input [x_ij, |x_ij|] before the edge embedding; 0 for
    the raw input alone, as in the PET paper. Measured on one 64-atom silicon frame
    (fitting its forces, Adam 1e-3, 60 steps): the raw input alone left the force
    MSE at 0.27 eV²/Å² (GM: 0.008); radial functions give the transformer sharp
    distance features it otherwise has to grow slowly."""

    d_model: int = 128
    """Width of every token (central atom and edges)."""

    n_heads: int = 4
    """Attention heads; must divide d_model."""

    d_feedforward: int = 256
    """Hidden width of the transformer's feed-forward blocks."""

    n_layers: int = 2
    """Message-passing layers: each has its own transformer and energy heads; the
    input message of edge i→j in layer k+1 is built from the output of j→i in k."""

    n_attention_layers: int = 1
    """Transformer layers (attention + feed-forward, pre-LayerNorm) per
    message-passing layer."""

    head_hidden_sizes: tuple[int, ...] = (128, 128)
    """Hidden widths of the atomic- and bond-energy heads (SiLU), then a linear
    output of width 1."""

    def __post_init__(self) -> None:
        if not self.cutoff > 0.0:
            raise ValueError(f"cutoff must be > 0 Å, got {self.cutoff!r}")
        if not 0.0 < self.cutoff_width <= self.cutoff:
            raise ValueError(
                f"cutoff_width must lie in (0, cutoff={self.cutoff}] Å, "
                f"got {self.cutoff_width!r}"
            )
        if not (
            isinstance(self.n_radial_basis, int)
            and not isinstance(self.n_radial_basis, bool)
            and self.n_radial_basis >= 0
        ):
            raise ValueError(
                f"n_radial_basis must be an integer ≥ 0, got {self.n_radial_basis!r}"
            )
        for name in (
            "d_model",
            "n_heads",
            "d_feedforward",
            "n_layers",
            "n_attention_layers",
        ):
            value = getattr(self, name)
            if not _positive_int(value):
                raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"n_heads={self.n_heads} must divide d_model={self.d_model}"
            )
        sizes = self.head_hidden_sizes
        if not isinstance(sizes, tuple) or not all(map(_positive_int, sizes)):
            raise ValueError(
                f"head_hidden_sizes must be a tuple of integers ≥ 1, got {sizes!r}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PETHypers:
        """Build hypers from a plain mapping (YAML section or ``dataclasses.asdict``).

        Lists become tuples; missing keys take their defaults.

        Raises:
            ValueError: an unknown key (with a "did you mean" hint) or an invalid value.
        """
        return strict_from_dict(cls, values, "PET hyperparameter")
