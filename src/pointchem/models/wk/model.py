"""The sparse Wigner-kernel model as an :class:`EnergyModel`."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch

from ...graph import AtomicGraph, edge_vectors
from ..base import EnergyModel
from .dipole import vector_kernels
from .hypers import WKHypers
from .iteration import invariant_kernels
from .ragged import NeighbourTerms, ragged_nu1_kernel, table_terms
from .sparse import Environments, graph_terms, same_centre_pairs

__all__ = ["WignerKernelModel"]


class _SupportCache:
    """One value computed from some buffers, rebuilt when any of them changes.

    Holds weak references and version counters of the buffers: ``to()``,
    ``load_state_dict`` and ``set_support`` install new tensors, in-place edits bump
    the version, and both trigger a rebuild. Pickles and deep-copies as empty.
    """

    def __init__(self) -> None:
        self._key: tuple[tuple[weakref.ref[torch.Tensor], int], ...] | None = None
        self._value: Any = None

    def get(self, buffers: Sequence[torch.Tensor], compute: Callable[[], Any]) -> Any:
        """The cached value for ``buffers``, or ``compute()`` (then cached)."""
        key = self._key
        if (
            key is not None
            and len(key) == len(buffers)
            and all(
                ref() is t and version == t._version
                for (ref, version), t in zip(key, buffers, strict=True)
            )
        ):
            return self._value
        value = compute()
        self._key = tuple((weakref.ref(t), t._version) for t in buffers)
        self._value = value
        return value

    def __getstate__(self) -> dict[str, Any]:
        return {"_key": None, "_value": None}

    def __deepcopy__(self, memo: dict[int, Any]) -> _SupportCache:
        return _SupportCache()


_SUPPORT_BUFFERS = (
    "support_vectors",
    "support_species",
    "support_centres",
    "weights",
    "dipole_weights",
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

    **Dipole** (only with ``hypers.dipole``). With a weight vector w^μ_m (e·Å) per
    support environment and the Cartesian λ = 1, σ = +1 kernels K^(ν)_cart of
    :mod:`~pointchem.models.wk.dipole` (same c_ν, ν ≥ 1),

        μ_i = Σ_{m: Z(X_m) = Z_i} Σ_ν c_ν K^(ν)_cart(A_i, X_m) w^μ_m,   μ = Σ_i μ_i
        (e·Å),

    exactly rotation-equivariant and odd under inversion (a polar vector).

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
        dipole_weights: (M, 3) buffer, e·Å; dipole weights w^μ_m (x, y, z), present
            only with ``hypers.dipole`` ((0, 3) until fitted).
    """

    supported_dtypes: ClassVar[tuple[torch.dtype, ...]] = (torch.float64,)
    support_vectors: torch.Tensor
    support_species: torch.Tensor
    support_centres: torch.Tensor
    weights: torch.Tensor
    dipole_weights: torch.Tensor

    def __init__(self, hypers: WKHypers, atomic_numbers: Sequence[int]):
        super().__init__(hypers, atomic_numbers, hypers.cutoff)
        self.hypers: WKHypers = hypers
        float64 = torch.float64
        self.register_buffer("support_vectors", torch.zeros(0, 1, 3, dtype=float64))
        self.register_buffer("support_species", torch.zeros(0, 1, dtype=torch.int64))
        self.register_buffer("support_centres", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("weights", torch.zeros(0, dtype=float64))
        if hypers.dipole:
            self.register_buffer("dipole_weights", torch.zeros(0, 3, dtype=float64))
        self._support_cache = _SupportCache()

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

        A dipole head is reset to unfitted ((0, 3) weights, μ = 0).

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
        if self.predicts_dipole:  # dipole weights belong to the old support
            self.dipole_weights = like.new_zeros(0, 3)

    @property
    def predicts_dipole(self) -> bool:
        """Whether the model has a dipole head (``hypers.dipole``)."""
        return self.hypers.dipole

    def set_dipole_weights(self, weights: torch.Tensor) -> None:
        """Replace the dipole weights w^μ_m, (M, 3) e·Å, one row per support.

        Raises:
            ValueError: the model has no dipole head, or the shape is not (M, 3).
        """
        if not self.predicts_dipole:
            raise ValueError("this WK model has no dipole head (hypers.dipole false)")
        if tuple(weights.shape) != (self.n_support, 3):
            raise ValueError(
                f"dipole weights must be (M, 3) = ({self.n_support}, 3), "
                f"got {tuple(weights.shape)}"
            )
        self.dipole_weights = weights.detach().to(self.weights).clone()

    def mixture(self) -> torch.Tensor:
        """Body-order weights c_ν, (ν_max + 1,), on the model's device and dtype."""
        return torch.tensor(
            self.hypers.weights(), dtype=self.dtype, device=self.weights.device
        )

    def support_terms(self) -> NeighbourTerms:
        """Per-neighbour terms of the support environments (r, σ², f_c, Y_lm).

        They depend on the support buffers alone, so they are computed once and
        cached; a new or modified buffer (``to()``, loading, ``set_support``, an
        in-place edit) rebuilds them. Built outside inference mode and without
        autograd history, so the same terms serve every later call.
        """
        buffers = (
            self.support_vectors,
            self.support_species,
            self.species_of_atomic_number,
        )

        def compute() -> NeighbourTerms:
            with torch.inference_mode(False), torch.no_grad():
                return table_terms(
                    self.support_vectors.clone(),
                    self.support_species.clone(),
                    self.species_of_atomic_number.clone(),
                    self.n_species,
                    self.hypers.density(),
                )

        terms: NeighbourTerms = self._support_cache.get(buffers, compute)
        return terms

    def _nu1_blocks(
        self, graph: AtomicGraph
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """ν = 1 blocks of every (atom, same-species support) pair, and the pairs.

        Returns:
            (blocks: entry l (P, 2l+1, 2l+1) Å⁻³, pairs: (P, 2) int64 (atom, m)).

        Raises:
            ValueError: the graph contains an element the model does not know.
        """
        self.checked_species(graph)
        settings = self.hypers.density()
        atoms = graph_terms(
            graph,
            edge_vectors(graph),
            self.species_of_atomic_number,
            self.n_species,
            settings,
        )
        pairs = same_centre_pairs(graph.atomic_numbers, self.support_centres)
        k_1 = ragged_nu1_kernel(atoms, self.support_terms(), pairs, settings.l_max)
        return k_1, pairs

    def atomic_dipoles(self, graph: AtomicGraph) -> torch.Tensor:
        """Atomic dipole contributions μ_i, (n_atoms, 3) e·Å (class docstring).

        Raises:
            ValueError: no dipole head, or an element the model does not know.
        """
        if not self.predicts_dipole:
            raise ValueError("this WK model has no dipole head (hypers.dipole false)")
        hypers = self.hypers
        k_1, pairs = self._nu1_blocks(graph)
        kernels = vector_kernels(
            k_1,
            hypers.nu_max,
            hypers.lambda_max,
            **hypers.iteration_options(),
        )
        mixed = torch.tensordot(self.mixture(), kernels, dims=1)  # (P, 3, 3)
        weights = self.dipole_weights
        if weights.shape[0] == 0:  # unfitted head: μ = 0
            weights = weights.new_zeros(self.n_support, 3)
        elif tuple(weights.shape) != (self.n_support, 3):
            raise ValueError(
                f"dipole_weights {tuple(weights.shape)} do not match the "
                f"{self.n_support} support environments"
            )
        contributions = (mixed @ weights[pairs[:, 1], :, None])[..., 0]
        dipoles = graph.positions.new_zeros(graph.n_atoms, 3)
        return dipoles.index_add(0, pairs[:, 0], contributions)

    def dipole_moment(self, graph: AtomicGraph) -> torch.Tensor:
        """Dipole moment of each structure, μ = Σ_i μ_i, (n_systems, 3) e·Å."""
        atomic = self.atomic_dipoles(graph)
        total = atomic.new_zeros(graph.n_systems, 3)
        return total.index_add(0, graph.system_index, atomic)

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies without the composition baseline, (n_atoms,), eV.

        The ν = 1 kernel runs on ragged neighbour lists
        (:func:`~pointchem.models.wk.ragged.ragged_nu1_kernel`): only same-species
        neighbour pairs are visited, and the support side comes from the cache of
        :meth:`support_terms`.

        Raises:
            ValueError: the graph contains an element the model does not know.
        """
        hypers = self.hypers
        k_1, pairs = self._nu1_blocks(graph)
        kernels = invariant_kernels(
            k_1,
            hypers.nu_max,
            hypers.lambda_max,
            **hypers.iteration_options(),
        )
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
            if isinstance(stored, torch.Tensor) and name in self._buffers:
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
