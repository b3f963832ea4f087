r"""ECSE: PET made exactly O(3)-invariant, symmetrized locally per atom and layer.

**Design (local symmetrization).** The reference ECSE evaluates the *whole structure*
in every frame of every atom, which costs (atoms × frames × whole model): quadratic.
Here each atom's transformer runs in that atom's own frames instead. For atom i with
frames f (:func:`pointchem.nn.frames.local_frames`), every message-passing layer

1. expresses i's edge vectors in frame f, x_ij·Q_f (the inputs that are not vectors:
   lengths, species, incoming messages, are the same in every frame),
2. runs i's transformer once per frame, all frames of all atoms batched as token
   sets of one transformer call,
3. averages the frames' energies and output tokens with the normalized weights

       ŷ_i = [Σ_f w_f y_i(f) + w_aux y_i(aux)] / [Σ_f w_f + w_aux],

   and passes the averaged (now invariant) output tokens on as messages.

Local coordinates are invariant under rotations of the structure (frames rotate with
it) and the frame set is permutation-covariant, so every averaged token, message and
energy is invariant; forces, stress and Hessians stay exact autograd derivatives.
The cost is (frame sets) / (atoms) times bare PET's transformer work, independent of
system size.

**Inversion (O(3)).** Frames are right-handed, so they cover only rotations. Every
frame is used twice, as Q_f and as Q_f·M with M = diag(1, −1, 1) (each with weight
w_f/2): inverting the structure maps Q_f to −Q_f·M, which swaps the two local
copies, so the average is also inversion-invariant.

**Auxiliary set.** An atom without a usable frame (no or one neighbour, all
neighbours collinear) gets weight w_aux on a set whose edge vectors are all zero:
the same network seeing only distances, species and messages, invariant by
construction. It takes over smoothly as the frames' weights vanish.

**Extra rotation.** As in the reference (``N_ADDITIONAL_AUG``), every frame is
composed with one fixed random rotation A (stored in the potential file), so that
local axes do not coincide with the neighbour directions the frames are built from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from ...graph import AtomicGraph
from ...nn.frames import FrameEnsemble, FrameHypers, local_frames
from ..base import EnergyModel
from .model import EdgeLayout, PointEdgeTransformer, TokenSets

__all__ = [
    "METHOD",
    "Symmetrization",
    "SymmetrizedPET",
    "default_extra_rotation",
    "frame_sets",
    "frames_per_atom",
    "symmetrize",
]

METHOD = "ecse-local"
"""Name of the symmetrization recorded in potential files."""


def default_extra_rotation(seed: int = 2024) -> tuple[float, ...]:
    """A fixed random proper rotation (row-major 9-tuple) from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.randn(3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(matrix)
    q = q * torch.sign(torch.diagonal(r))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return tuple(float(x) for x in q.flatten())


@dataclasses.dataclass(frozen=True)
class Symmetrization:
    """Everything a potential file records about its symmetrization.

    Attributes:
        frames: how frames and their weights are built.
        extra_rotation: row-major 3×3 proper rotation composed with every frame.
    """

    frames: FrameHypers = dataclasses.field(default_factory=FrameHypers)
    extra_rotation: tuple[float, ...] = dataclasses.field(
        default_factory=default_extra_rotation
    )

    def __post_init__(self) -> None:
        matrix = torch.tensor(self.extra_rotation, dtype=torch.float64)
        if matrix.numel() != 9:
            raise ValueError("extra_rotation must have 9 entries (a 3×3 matrix)")
        matrix = matrix.view(3, 3)
        orthogonal = torch.allclose(
            matrix @ matrix.T, torch.eye(3, dtype=torch.float64), atol=1e-12
        )
        if not orthogonal or float(torch.linalg.det(matrix)) < 0:
            raise ValueError("extra_rotation must be a proper rotation matrix")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a potential file."""
        return {
            "method": METHOD,
            "frames": self.frames.to_dict(),
            "extra_rotation": list(self.extra_rotation),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Symmetrization:
        """Inverse of :meth:`to_dict`; unknown methods or keys raise ValueError."""
        if record.get("method") != METHOD:
            raise ValueError(
                f"unknown symmetrization method {record.get('method')!r}; "
                f"this pointchem knows {METHOD!r}"
            )
        unknown = sorted(set(record) - {"method", "frames", "extra_rotation"})
        if unknown:
            raise ValueError(f"unknown symmetrization entries {unknown}")
        return cls(
            frames=FrameHypers.from_dict(record["frames"]),
            extra_rotation=tuple(float(x) for x in record["extra_rotation"]),
        )


_MIRROR = (1.0, -1.0, 1.0)


def _set_rotations(
    ensemble: FrameEnsemble, extra: torch.Tensor, n_aux: int
) -> torch.Tensor:
    """(2 n_frames + n_aux, 3, 3): Q_f A, Q_f M A, then zeros for aux sets."""
    proper = ensemble.rotations @ extra
    mirror = extra.new_tensor(_MIRROR).unsqueeze(1)
    improper = ensemble.rotations @ (mirror * extra)
    zeros = proper.new_zeros(n_aux, 3, 3)
    return torch.cat([proper, improper, zeros])


def _set_edges(
    centre: torch.Tensor, set_atom: torch.Tensor, n_atoms: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every edge of each set's atom: (owner set, edge) of all set edges."""
    order = torch.argsort(centre, stable=True)
    counts = torch.bincount(centre, minlength=n_atoms)
    starts = torch.cumsum(counts, 0) - counts
    per_set = counts[set_atom]
    n_sets = set_atom.shape[0]
    owner = torch.repeat_interleave(torch.arange(n_sets, device=centre.device), per_set)
    first = torch.cumsum(per_set, 0) - per_set
    position = torch.arange(owner.shape[0], device=centre.device) - first[owner]
    return owner, order[starts[set_atom][owner] + position]


def frame_sets(
    layout: EdgeLayout,
    species: torch.Tensor,
    ensemble: FrameEnsemble,
    extra_rotation: torch.Tensor,
    weight_floor: float,
) -> TokenSets:
    """The token sets of a symmetrized pass: two per frame, one per aux atom.

    Args:
        layout: the edges inside the cutoff.
        species: (n_atoms,) species index.
        ensemble: frames and weights of every atom.
        extra_rotation: (3, 3) fixed rotation A.
        weight_floor: auxiliary sets with a weight at or below this are dropped.

    Returns:
        Token sets with their atom, normalized weight and edges.
    """
    n_atoms = species.shape[0]
    with torch.no_grad():
        aux_atoms = torch.nonzero(ensemble.aux_weights > weight_floor).squeeze(1)
    half = 0.5 * ensemble.weights
    raw = torch.cat([half, half, ensemble.aux_weights[aux_atoms]])
    atom = torch.cat([ensemble.atom, ensemble.atom, aux_atoms])
    total = raw.new_zeros(n_atoms).index_add(0, atom, raw)
    rotations = _set_rotations(ensemble, extra_rotation, aux_atoms.shape[0])
    owner, edge = _set_edges(layout.centre, atom, n_atoms)
    local = torch.einsum("ei,eij->ej", layout.vectors[edge], rotations[owner])
    return TokenSets(
        central_species=species[atom],
        owner=owner,
        rank=layout.rank[edge],
        width=layout.width,
        log_key_weights=layout.log_key_weights[atom],
        geometry=torch.cat([local, layout.radial[edge]], 1),
        edge=edge,
        atom=atom,
        weight=raw / total[atom],
    )


class SymmetrizedPET(EnergyModel):
    """A PET wrapped by local ECSE: exactly invariant under rotations and inversion.

    The wrapper keeps the :class:`EnergyModel` interface (per-atom energies from a
    graph), so forces, stress and Hessians come from :func:`pointchem.evaluate` as
    for any model. It shares the wrapped model's parameters and composition
    baseline; ``model.base`` is the bare PET.

    Args:
        base: the PET to symmetrize.
        symmetrization: frame settings and the fixed extra rotation.

    Attributes:
        base: the wrapped :class:`PointEdgeTransformer`.
        symmetrization: the settings, as recorded in potential files.
        extra_rotation: (3, 3) buffer, the rotation A in the model's dtype.
    """

    supported_dtypes: ClassVar[tuple[torch.dtype, ...]] = (
        PointEdgeTransformer.supported_dtypes
    )
    extra_rotation: torch.Tensor

    def __init__(
        self,
        base: PointEdgeTransformer,
        symmetrization: Symmetrization | None = None,
    ):
        super().__init__(base.hypers, base.atomic_numbers, base.cutoff)
        self.base = base
        self.symmetrization = symmetrization or Symmetrization()
        self.composition_energies = base.composition_energies
        rotation = torch.tensor(self.symmetrization.extra_rotation).view(3, 3)
        self.register_buffer("extra_rotation", rotation.to(base.dtype))

    def frames(self, graph: AtomicGraph) -> FrameEnsemble:
        """The frames and weights of every atom of ``graph`` (diagnostics)."""
        layout = EdgeLayout(graph, self.base)
        return self._frames(layout, graph.n_atoms)

    def _frames(self, layout: EdgeLayout, n_atoms: int) -> FrameEnsemble:
        return local_frames(
            layout.vectors,
            layout.centre,
            n_atoms,
            self.cutoff,
            self.symmetrization.frames,
        )

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies without the composition baseline, (n_atoms,), eV."""
        species = self.base.checked_species(graph)
        layout = EdgeLayout(graph, self.base)
        ensemble = self._frames(layout, graph.n_atoms)
        sets = frame_sets(
            layout,
            species,
            ensemble,
            self.extra_rotation,
            self.symmetrization.frames.weight_floor,
        )
        return self.base.energies_of_sets(species, layout, sets)

    def _apply(self, fn: Any, recurse: bool = True) -> SymmetrizedPET:
        super()._apply(fn, recurse)
        # keep one baseline tensor: training refits it in place through either name
        self.composition_energies = self.base.composition_energies
        return self


def frames_per_atom(model: SymmetrizedPET, graph: AtomicGraph) -> Sequence[float]:
    """(mean, max) number of transformer sets per atom: 2 per frame, plus aux."""
    ensemble = model.frames(graph)
    floor = model.symmetrization.frames.weight_floor
    counts = 2 * ensemble.counts(graph.n_atoms) + (ensemble.aux_weights > floor)
    counts = counts.to(torch.float64)
    return float(counts.mean()), float(counts.max())


def symmetrize(
    model: PointEdgeTransformer, record: Mapping[str, Any] | None
) -> SymmetrizedPET:
    """Wrap ``model`` as a potential file's symmetrization ``record`` says.

    None gives the default :class:`Symmetrization` (what training records).
    """
    settings = Symmetrization() if record is None else Symmetrization.from_dict(record)
    return SymmetrizedPET(model, settings)
