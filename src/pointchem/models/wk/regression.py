"""The regression step of the WK fit: stacked least squares and scoring of a grid.

Kernel rows (:class:`KernelRows`) are kept per body order ν, so a grid point
(mixture weights c_ν, σ_E, σ_F) costs one mixing and one solve, not new kernels.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import torch

from .hypers import WKHypers

__all__ = [
    "Candidate",
    "KernelRows",
    "candidates",
    "chosen_hypers",
    "mix",
    "score",
    "solve_weights",
]


@dataclasses.dataclass(frozen=True)
class KernelRows:
    """Kernel rows of a set of structures against M support environments, per ν.

    Attributes:
        energy: (ν_max + 1, n_structures, M), row ν in Å^(−3ν).
        forces: (ν_max + 1, 3 n_atoms, M), −∂(energy row)/∂r_{a,x} in Å^(−3ν−1),
            rows ordered (atom, x); None when the structures have no forces.
        energy_targets: (n_structures,) eV, reference minus composition baseline.
        force_targets: (3 n_atoms,) eV/Å, or None.
        n_atoms: (n_structures,) float, atoms per structure.
    """

    energy: torch.Tensor
    forces: torch.Tensor | None
    energy_targets: torch.Tensor
    force_targets: torch.Tensor | None
    n_atoms: torch.Tensor


def _cholesky(matrix: torch.Tensor, jitter: float) -> torch.Tensor:
    """Lower Cholesky factor of matrix + εI, grown ×10 until it succeeds.

    ε starts at max(jitter, 1e−15) times the mean diagonal.
    """
    scale = float(torch.diagonal(matrix).mean().clamp(min=1e-300))
    shift = max(jitter, 1e-15) * scale
    identity = torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
    for _ in range(20):
        factor, info = torch.linalg.cholesky_ex(matrix + shift * identity)
        if int(info) == 0:
            return factor
        shift *= 10.0
    raise ValueError("K_MM is not positive definite even with a large jitter")


def solve_weights(
    k_mm: torch.Tensor, design: torch.Tensor, targets: torch.Tensor, jitter: float
) -> torch.Tensor:
    """Projected-process weights w from scaled rows, by stacked least squares.

    Minimises |design·w − targets|² + wᵀ K_MM w, i.e. solves
    (K_MM + designᵀ design) w = designᵀ targets.

    Args:
        k_mm: (M, M) mixed support kernel, symmetric positive semi-definite.
        design: (N, M) kernel rows already divided by their σ.
        targets: (N,) targets already divided by their σ.
        jitter: relative diagonal shift of K_MM (see :func:`_cholesky`).

    Returns:
        (M,) weights, on the device of ``k_mm``.
    """
    factor = _cholesky(k_mm, jitter)
    stacked = torch.cat([design, factor.T]).cpu()
    right = torch.cat([targets, targets.new_zeros(k_mm.shape[0])]).cpu()
    solution = torch.linalg.lstsq(stacked, right[:, None], driver="gelsd").solution
    return solution[:, 0].to(k_mm.device)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One point of the hyperparameter grid and, once scored, its results.

    Attributes:
        alpha: α of the "kernel_exp" mixture in Å³, None for explicit weights.
        energy_regulariser: σ_E, eV per atom.
        force_regulariser: σ_F, eV/Å.
        energy_mae: validation energy MAE per atom, eV (inf until scored).
        force_mae: validation force-component MAE, eV/Å (NaN without forces).
        weights: (M,) fitted weights in eV, None until scored.
    """

    alpha: float | None
    energy_regulariser: float
    force_regulariser: float
    energy_mae: float = math.inf
    force_mae: float = math.nan
    weights: torch.Tensor | None = None

    @property
    def metric(self) -> float:
        """Energy MAE per atom (eV) plus force MAE (eV/Å; 0 without forces)."""
        force = 0.0 if math.isnan(self.force_mae) else self.force_mae
        return self.energy_mae + force


def mix(weights: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Σ_ν c_ν rows[ν]: (ν_max + 1,) with (ν_max + 1, ...) → (...)."""
    return torch.tensordot(weights, rows, dims=1)


def score(
    candidate: Candidate,
    mixture: torch.Tensor,
    k_mm: torch.Tensor,
    train: KernelRows,
    validation: KernelRows,
    jitter: float,
) -> Candidate:
    """Solve for the weights of one grid point and score them on validation.

    Energy rows are divided by σ_E √n_atoms, force rows by σ_F (Λ^(−½) of the module
    docstring of :mod:`pointchem.models.wk.fit`).

    Args:
        candidate: the grid point (its σ_E in eV/atom, σ_F in eV/Å).
        mixture: (ν_max + 1,) body-order weights c_ν of the candidate's α.
        k_mm: (ν_max + 1, M, M) support kernel per body order.
        train: kernel rows and targets the weights are fitted to.
        validation: kernel rows and targets the weights are scored on.
        jitter: relative diagonal shift of K_MM.

    Returns:
        The candidate with its weights (M,) eV and validation MAEs (eV/atom, eV/Å).
    """
    energy_scale = candidate.energy_regulariser * torch.sqrt(train.n_atoms)
    design = [mix(mixture, train.energy) / energy_scale[:, None]]
    targets = [train.energy_targets / energy_scale]
    if train.forces is not None and train.force_targets is not None:
        design.append(mix(mixture, train.forces) / candidate.force_regulariser)
        targets.append(train.force_targets / candidate.force_regulariser)
    weights = solve_weights(
        mix(mixture, k_mm), torch.cat(design), torch.cat(targets), jitter
    )
    energy = mix(mixture, validation.energy) @ weights
    errors = (energy - validation.energy_targets).abs() / validation.n_atoms
    force_mae = math.nan
    if validation.forces is not None and validation.force_targets is not None:
        forces = mix(mixture, validation.forces) @ weights
        force_mae = float((forces - validation.force_targets).abs().mean())
    return dataclasses.replace(
        candidate,
        energy_mae=float(errors.mean()),
        force_mae=force_mae,
        weights=weights,
    )


def candidates(hypers: WKHypers, k_mm: torch.Tensor) -> list[Candidate]:
    """The candidates: α factors (kernel_exp only) × σ_E factors × σ_F factors.

    The base α is ``hypers.mixture_alpha`` or, when None, 1/κ with κ the mean ν = 1
    self-kernel of the support environments (Å⁻³), so that α k^(1) is O(1).

    Args:
        hypers: base values and the factors to try.
        k_mm: (ν_max + 1, M, M) support kernel per body order.
    """
    alphas: list[float | None] = [None]
    if hypers.mixture == "kernel_exp":
        base = hypers.mixture_alpha
        if base is None:
            base = 1.0 / float(torch.diagonal(k_mm[1]).mean())
        alphas = [base * factor for factor in hypers.alpha_factors]
    factors = hypers.regulariser_factors
    return [
        Candidate(
            alpha, hypers.energy_regulariser * f_e, hypers.force_regulariser * f_f
        )
        for alpha, f_e, f_f in itertools.product(alphas, factors, factors)
    ]


def chosen_hypers(hypers: WKHypers, candidate: Candidate) -> WKHypers:
    """``hypers`` with the α (if any) and the regularisers of ``candidate``."""
    alpha = hypers.mixture_alpha if candidate.alpha is None else candidate.alpha
    return dataclasses.replace(
        hypers,
        energy_regulariser=candidate.energy_regulariser,
        force_regulariser=candidate.force_regulariser,
        mixture_alpha=alpha,
    )
