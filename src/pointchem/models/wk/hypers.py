"""Hyperparameters of the Wigner-kernel (WK) model and of its sparse fit."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from ..._strict import strict_from_dict
from .density_kernel import DensitySettings

__all__ = ["MIXTURES", "WKHypers"]

MIXTURES = ("kernel_exp", "explicit")
"""Names accepted by :attr:`WKHypers.mixture`."""

_MODES = ("reduced", "full")
_NORMALISATIONS = ("haar", "plain")


@dataclasses.dataclass(frozen=True, kw_only=True)
class WKHypers:
    """Kernel, body-order mixture and sparse regression of a Wigner-kernel model.

    The model is K(A_i, B_k) = Σ_ν c_ν k^(ν)(A_i, B_k) between atomic environments of
    equal centre species (methods.md §1.1–1.4); energies are Σ_i Σ_m K(A_i, X_m) w_m
    over support environments X_m (§1.7). The fit (:mod:`.fit`) selects
    ``mixture_alpha`` and the two regularisers on the validation set (with
    ``dipole``, then σ_μ of the dipole head) and records the chosen values here, so
    a saved potential states exactly what it evaluates.
    """

    cutoff: float = 5.0
    """Interaction cutoff r_c in Å, > 0; neighbours at r ≥ r_c do not contribute."""

    cutoff_width: float = 0.5
    """Width w of the cosine switch f_c in Å, 0 < w ≤ cutoff (f_c = 1 below r_c − w)."""

    width_scale: float = 0.1
    """C in Å, > 0: Gaussian width of a neighbour's density σ(r) = C exp(r / L_R)."""

    width_length: float = 1.0
    """L_R in Å, > 0: growth length of the density width (math.inf: constant C)."""

    l_max: int = 3
    """Largest angular degree of the ν = 1 kernel blocks, 0 ≤ l_max ≤ 12."""

    nu_max: int = 4
    """Highest body order ν of the kernel mixture, ≥ 1 (ν + 1 atoms per term)."""

    lambda_max: int = 3
    """Largest λ of the intermediate equivariant blocks of the Wigner iteration, ≥ 0."""

    mode: str = "reduced"
    """Wigner iteration: "reduced" (cost linear in ν_max) or "full"; see
    :mod:`pointchem.models.wk.iteration`."""

    normalisation: str = "haar"
    """Coupling weight of each Wigner step: "haar" (k^(ν)_0 = ∫dR ⟨ρ_A, R̂ρ_B⟩^ν up to
    the l, λ truncation) or "plain" (the reference code's plain CG coupling)."""

    mixture: str = "kernel_exp"
    """How the body-order weights c_ν are given: "kernel_exp" (c_0 = 10^log10_c0,
    c_ν = 10^log10_scale α^ν / ν! for ν ≥ 1) or "explicit" (body_order_weights)."""

    mixture_alpha: float | None = None
    """α of "kernel_exp" in Å³ (k^(1) is in Å⁻³), > 0. None: set by the fit to
    1 / (mean ν = 1 self-kernel of the support environments) times the best of
    ``alpha_factors``; a model needs a number to be evaluated."""

    mixture_log10_scale: float = 0.0
    """log10 of the overall weight of the ν ≥ 1 terms of "kernel_exp" (dimensionless;
    only its ratio to the regularisers matters)."""

    mixture_log10_c0: float = 0.0
    """log10 c_0, the weight of the ν = 0 kernel (1 for equal centre species), which
    adds a per-species constant on top of the composition baseline."""

    body_order_weights: tuple[float, ...] = ()
    """c_0..c_νmax (ν_max + 1 values ≥ 0) when mixture is "explicit"; else empty."""

    n_support: int = 100
    """Support environments per centre species chosen by farthest-point sampling,
    ≥ 1 (capped at the number of training environments of that species)."""

    fps_body_order: int = 2
    """Body order ν ∈ {1, 2} of the normalised kernel whose distance
    d² = 2 − 2 k(a, b)/√(k(a, a) k(b, b)) drives farthest-point sampling."""

    energy_regulariser: float = 0.01
    """σ_E in eV per atom, > 0: expected energy error; a structure of n atoms gets
    σ_E √n."""

    force_regulariser: float = 0.05
    """σ_F in eV/Å, > 0: expected error of one force component."""

    jitter: float = 1e-10
    """Relative diagonal shift of K_MM (times its mean diagonal) before Cholesky,
    ≥ 0; multiplied by 10 until the factorisation succeeds."""

    alpha_factors: tuple[float, ...] = (0.5, 1.0, 2.0)
    """Candidate multiples (> 0) of the base α tried by the fit (non-empty)."""

    regulariser_factors: tuple[float, ...] = (0.3, 1.0, 3.0)
    """Candidate multiples (> 0) of σ_E and of σ_F (each independently) tried by
    the fit (non-empty)."""

    dipole: bool = False
    """Whether the model also predicts the dipole moment μ = Σ_i μ_i in e·Å, from
    the λ = 1, σ = +1 kernels of :mod:`pointchem.models.wk.dipole` on the same
    support environments and body-order weights c_ν (ν ≥ 1) as the energy. Needs
    l_max ≥ 1, lambda_max ≥ 1 and reference dipoles (``data.dipole_key``)."""

    dipole_regulariser: float = 0.003
    """σ_μ in e·Å per √atom, > 0: expected error of one Cartesian component of a
    structure's dipole; a structure of n atoms gets σ_μ √n. Only with ``dipole``."""

    dipole_regulariser_factors: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0)
    """Candidate multiples (> 0) of σ_μ tried by the dipole fit (non-empty)."""

    def __post_init__(self) -> None:
        self.density()  # validates cutoff, widths and l_max
        _require(self.nu_max >= 1, "nu_max", self.nu_max, "≥ 1")
        _require(self.lambda_max >= 0, "lambda_max", self.lambda_max, "≥ 0")
        _require(self.mode in _MODES, "mode", self.mode, f"one of {_MODES}")
        _require(
            self.normalisation in _NORMALISATIONS,
            "normalisation",
            self.normalisation,
            f"one of {_NORMALISATIONS}",
        )
        _require(self.mixture in MIXTURES, "mixture", self.mixture, f"in {MIXTURES}")
        if self.mixture == "explicit":
            weights = self.body_order_weights
            _require(
                len(weights) == self.nu_max + 1 and all(c >= 0 for c in weights),
                "body_order_weights",
                weights,
                f"{self.nu_max + 1} values ≥ 0 with mixture 'explicit'",
            )
        alpha = self.mixture_alpha
        _require(alpha is None or alpha > 0, "mixture_alpha", alpha, "> 0 or None")
        _require(self.n_support >= 1, "n_support", self.n_support, "≥ 1")
        _require(
            self.fps_body_order in (1, 2), "fps_body_order", self.fps_body_order, "1|2"
        )
        for name in ("energy_regulariser", "force_regulariser"):
            _require(getattr(self, name) > 0, name, getattr(self, name), "> 0")
        _require(self.jitter >= 0, "jitter", self.jitter, "≥ 0")
        self._check_dipole()
        for name in (
            "alpha_factors",
            "regulariser_factors",
            "dipole_regulariser_factors",
        ):
            factors = getattr(self, name)
            _require(
                len(factors) > 0 and all(f > 0 for f in factors),
                name,
                factors,
                "a non-empty list of values > 0",
            )

    def _check_dipole(self) -> None:
        """Validate the dipole fields (the λ = 1 kernel needs l, λ ≥ 1)."""
        _require(isinstance(self.dipole, bool), "dipole", self.dipole, "true or false")
        _require(
            self.dipole_regulariser > 0,
            "dipole_regulariser",
            self.dipole_regulariser,
            "> 0",
        )
        if self.dipole:
            for name in ("l_max", "lambda_max"):
                value = getattr(self, name)
                _require(value >= 1, name, value, "≥ 1 with dipole: true")

    def iteration_options(self) -> dict[str, Any]:
        """Keyword arguments ``mode`` and ``normalisation`` of the Wigner iteration.

        For ``invariant_kernels`` and ``vector_kernels``.
        """
        return {"mode": self.mode, "normalisation": self.normalisation}

    def density(self) -> DensitySettings:
        """The neighbour-density settings of the ν = 1 kernel."""
        return DensitySettings(
            l_max=self.l_max,
            cutoff=self.cutoff,
            cutoff_width=self.cutoff_width,
            width_scale=self.width_scale,
            width_length=self.width_length,
        )

    def weights(self) -> tuple[float, ...]:
        """The body-order weights c_0..c_νmax (dimensionless, ≥ 0).

        Raises:
            ValueError: "kernel_exp" with ``mixture_alpha`` still None (unfitted).
        """
        if self.mixture == "explicit":
            return self.body_order_weights
        if self.mixture_alpha is None:
            raise ValueError(
                "mixture_alpha is None: it is chosen by the WK fit; set it to "
                "evaluate an unfitted model"
            )
        scale = 10.0**self.mixture_log10_scale
        higher = [
            scale * self.mixture_alpha**nu / math.factorial(nu)
            for nu in range(1, self.nu_max + 1)
        ]
        return (10.0**self.mixture_log10_c0, *higher)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> WKHypers:
        """Build hypers from a plain mapping (YAML section or ``dataclasses.asdict``).

        Lists become tuples; missing keys take their defaults.

        Raises:
            ValueError: an unknown key (with a "did you mean" hint) or an invalid value.
        """
        return strict_from_dict(cls, values, "WK hyperparameter")


def _require(condition: bool, name: str, value: object, expected: str) -> None:
    """Raise ValueError naming the field unless ``condition`` holds."""
    if not condition:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
