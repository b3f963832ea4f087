"""The sparse Wigner-kernel model as an :class:`EnergyModel`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from ...graph import AtomicGraph, edge_vectors
from ..base import EnergyModel
from .hypers import WKHypers
from .sparse import (
    Environments,
    body_order_kernels,
    graph_environments,
    same_centre_pairs,
)

__all__ = ["WignerKernelModel"]

_SUPPORT_BUFFERS = (
    "support_vectors",
    "support_species",
    "support_centres",
    "weights",
)


class WignerKernelModel(EnergyModel):
    r"""Sparse kernel regression on body-ordered Wigner kernels (methods.md §1.7).

    **Kernel.** Between two atomic environments A_i and X_m with the same centre
    species, K(A_i, X_m) = Σ_{ν=0}^{ν_max} c_ν k^(ν)(A_i, X_m): k^(0) = 1; k^(1) is the
    rotation-integrated overlap of species-resolved Gaussian neighbour densities in
    closed form (:mod:`~pointchem.models.wk.density_kernel`, Å⁻³); k^(ν) for ν ≥ 2
    comes from the Wigner iteration (:mod:`~pointchem.models.wk.iteration`, Å^(−3ν))
    with the normalisation named in ``hypers.normalisation``. The weights c_ν
    (units Å^(3ν), so each term is dimensionless) come from ``hypers.weights()``.
    Environments of different centre species have kernel 0.

    **Energy.** With M support environments X_m (stored as neighbour geometries) and
    weights w_m (eV),

        E_i = Σ_{m: Z(X_m) = Z_i} K(A_i, X_m) w_m      (eV),

    the composition baseline being added by :func:`pointchem.evaluate`. Every term
    is built from the graph's edge vectors with plain torch operations, so forces,
    stress and Hessians are exact autograd derivatives; each neighbour enters
    through its cutoff switch f_c (value and slope vanish at r_c), so energies and
    forces are continuous when an atom crosses the cutoff.

    An unfitted model has no support environments and predicts 0 for every atom;
    :func:`~pointchem.models.wk.fit.fit_wigner_kernel` fills them.

    Args:
        hypers: kernel, mixture and fit settings.
        atomic_numbers: elements the model knows.

    Attributes:
        support_vectors: (M, n_max, 3) buffer, Å; neighbour vectors of each support
            environment, zero padding.
        support_species: (M, n_max) int64 buffer; neighbour atomic numbers, −1 pads.
        support_centres: (M,) int64 buffer; centre atomic number of each support.
        weights: (M,) buffer, eV; regression weights w_m.
    """

    supported_dtypes: ClassVar[tuple[torch.dtype, ...]] = (torch.float64,)
    support_vectors: torch.Tensor
    support_species: torch.Tensor
    support_centres: torch.Tensor
    weights: torch.Tensor

    def __init__(self, hypers: WKHypers, atomic_numbers: Sequence[int]):
        super().__init__(hypers, atomic_numbers, hypers.cutoff)
        self.hypers: WKHypers = hypers
        float64 = torch.float64
        self.register_buffer("support_vectors", torch.zeros(0, 1, 3, dtype=float64))
        self.register_buffer("support_species", torch.zeros(0, 1, dtype=torch.int64))
        self.register_buffer("support_centres", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("weights", torch.zeros(0, dtype=float64))

    @property
    def dtype(self) -> torch.dtype:
        """Float dtype of the support geometries and weights."""
        return self.weights.dtype

    @property
    def n_support(self) -> int:
        """Number M of support environments (all species)."""
        return int(self.weights.shape[0])

    def support(self) -> Environments:
        """The support environments X_m as padded neighbour tables."""
        return Environments(
            self.support_vectors, self.support_species, self.support_centres
        )

    def set_support(self, support: Environments, weights: torch.Tensor) -> None:
        """Replace the support environments and their weights (eV), (M,).

        Raises:
            ValueError: shapes disagree, or a centre species the model does not know.
        """
        m = len(support)
        if tuple(weights.shape) != (m,) or support.vectors.shape[:1] != (m,):
            raise ValueError(
                f"{m} support environments need (M,) weights and (M, n_max, 3) vectors,"
                f" got {tuple(weights.shape)} and {tuple(support.vectors.shape)}"
            )
        unknown = set(support.centres.tolist()) - set(self.atomic_numbers)
        if unknown:
            raise ValueError(f"support centres {sorted(unknown)} are unknown elements")
        like = self.weights
        self.support_vectors = support.vectors.detach().to(like).clone()
        self.support_species = support.species.detach().to(like.device).clone()
        self.support_centres = support.centres.detach().to(like.device).clone()
        self.weights = weights.detach().to(like).clone()

    def mixture(self) -> torch.Tensor:
        """Body-order weights c_ν, (ν_max + 1,), on the model's device and dtype."""
        return torch.tensor(
            self.hypers.weights(), dtype=self.dtype, device=self.weights.device
        )

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies without the composition baseline, (n_atoms,), eV.

        Raises:
            ValueError: the graph contains an element the model does not know.
        """
        self.checked_species(graph)
        environments = graph_environments(graph, edge_vectors(graph), self.cutoff)
        support = self.support()
        pairs = same_centre_pairs(environments.centres, support.centres)
        kernels = body_order_kernels(environments, support, pairs, self.hypers)
        contributions = (self.mixture() @ kernels) * self.weights[pairs[:, 1]]
        energies = graph.positions.new_zeros(graph.n_atoms)
        return energies.index_add(0, pairs[:, 0], contributions)

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Resize the support buffers to the stored shapes (their M and n_max vary)."""
        for name in _SUPPORT_BUFFERS:
            stored = state_dict.get(prefix + name)
            if isinstance(stored, torch.Tensor):
                current = getattr(self, name)
                setattr(self, name, current.new_zeros(stored.shape))
        super()._load_from_state_dict(
            state_dict,
            prefix,
            local_metadata,
            strict,
            missing_keys,
            unexpected_keys,
            error_msgs,
        )
