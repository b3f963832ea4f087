"""The Point Edge Transformer (PET) as an :class:`EnergyModel`."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch.utils.checkpoint import checkpoint

from ...graph import AtomicGraph, edge_vectors
from ...nn.cutoffs import polynomial_switch
from ...nn.mlp import MLP
from ...nn.neighbors import TopologyCache, neighbor_slots, reverse_edges
from ...nn.radial import bessel_basis
from ..base import EnergyModel
from .hypers import PETHypers
from .transformer import CutoffTransformer, log_key_weights

__all__ = [
    "LAYER_TOKENS_KEPT",
    "LAYER_TOKENS_PER_CHUNK",
    "EdgeLayout",
    "MessagePassingLayer",
    "PointEdgeTransformer",
    "TokenSets",
]


LAYER_TOKENS_PER_CHUNK = 1 << 14
"""Edge tokens per chunk in float32 (half as many in float64): larger inputs run each
layer chunk by chunk of sets. Every tensor then stays below glibc's 32 MB mmap
threshold, so its memory is reused from call to call instead of being mapped and
page-faulted afresh: on the 1536-atom water box (one thread, float32) a symmetrized
call fell from 32–40 s (16–38 s of it in the kernel) to 20–24 s after the first."""
LAYER_TOKENS_KEPT = 1 << 20
"""Above this many edge tokens in all (~30 GB of activations in float32), chunks are
recomputed in the backward pass (checkpointing) instead of kept: slower (+50 % on
the bare 1536-atom box), but memory stays bounded."""


class EdgeLayout:
    """The edges inside the cutoff and their place among their centre's tokens.

    Attributes:
        centre: (n_edges,) int64 centre atom i of each edge i→j.
        neighbor: (n_edges,) int64 neighbour atom j.
        reverse: (n_edges,) int64 position of the edge j→i (opposite shift).
        width: the largest number of neighbours of one atom (≥ 1).
        rank: (n_edges,) int64 position of each edge among its centre's edges.
        vectors: (n_edges, 3) x_ij in Å, differentiable.
        switch: (n_edges,) cutoff weight f_c(r_ij), differentiable.
        log_key_weights: (n_atoms, 1 + width) log attention weights of an atom's
            tokens: 0 for the central token, log f_c for edges, −inf for padding.
        radial: (n_edges, 1 + n_radial_basis) r_ij (Å) and its Bessel functions.
    """

    def __init__(self, graph: AtomicGraph, model: PointEdgeTransformer):
        vectors = edge_vectors(graph)
        reverse_all = model.topology.get(graph.edge_index, lambda: _reverse_of(graph))
        with torch.no_grad():
            # symmetric by construction (|x_ji| = |x_ij| exactly); the "or" guards it
            is_inside = (vectors * vectors).sum(1) < model.cutoff**2
            is_inside = is_inside | is_inside[reverse_all]
        edges = torch.nonzero(is_inside).squeeze(1)
        position = torch.cumsum(is_inside, 0) - 1
        self.reverse = position[reverse_all[edges]]
        self.centre, self.neighbor = graph.edge_index[:, edges]
        self.vectors = vectors[edges]
        lengths = torch.linalg.vector_norm(self.vectors, dim=1)
        hypers = model.hypers
        self.switch = polynomial_switch(lengths, hypers.cutoff, hypers.cutoff_width)
        self.n_atoms = graph.n_atoms
        slots, self.width = neighbor_slots(self.centre, self.n_atoms)
        self.rank = slots - self.centre * self.width
        edge_weights = self.switch.new_zeros(self.n_atoms * self.width)
        edge_weights = edge_weights.index_copy(0, slots, self.switch)
        weights = torch.cat(
            [
                self.switch.new_ones(self.n_atoms, 1),
                edge_weights.view(self.n_atoms, self.width),
            ],
            1,
        )
        self.log_key_weights = log_key_weights(weights)
        radial = [lengths.unsqueeze(1)]
        if hypers.n_radial_basis:
            radial.append(bessel_basis(lengths, hypers.n_radial_basis, hypers.cutoff))
        self.radial = torch.cat(radial, 1)

    def atom_sets(self, species: torch.Tensor) -> TokenSets:
        """One token set per atom, edges in the global Cartesian frame (bare PET)."""
        return TokenSets(
            central_species=species,
            owner=self.centre,
            rank=self.rank,
            width=self.width,
            log_key_weights=self.log_key_weights,
            geometry=torch.cat([self.vectors, self.radial], 1),
        )


def _reverse_of(graph: AtomicGraph) -> torch.Tensor:
    return reverse_edges(graph.edge_index, graph.cell_shifts, graph.n_atoms)


@dataclasses.dataclass
class TokenSets:
    """The token sets one transformer pass runs over, and how they map to atoms.

    Bare PET has one set per atom. A symmetrized PET has one set per (atom, frame)
    instance, in which the atom's edges are expressed in that frame; its results are
    averaged back to atoms and edges with the frame weights.

    Attributes:
        central_species: (n_sets,) int64 species of each set's central atom.
        owner: (n_set_edges,) int64 set of each edge token.
        rank: (n_set_edges,) int64 position of the edge token in its set.
        width: the largest number of edge tokens of a set.
        log_key_weights: (n_sets, 1 + width) attention log weights of the tokens.
        geometry: (n_set_edges, 4 + n_radial_basis) [x, y, z, r, Φ(r)] of each edge
            token, x, y, z in the set's frame (Å).
        edge: (n_set_edges,) int64 edge of each edge token, None when the set edges
            are the edges themselves.
        atom: (n_sets,) int64 atom of each set, None when sets are atoms.
        weight: (n_sets,) normalized frame weight of each set (summing to 1 per
            atom), None when sets are atoms.
    """

    central_species: torch.Tensor
    owner: torch.Tensor
    rank: torch.Tensor
    width: int
    log_key_weights: torch.Tensor
    geometry: torch.Tensor
    edge: torch.Tensor | None = None
    atom: torch.Tensor | None = None
    weight: torch.Tensor | None = None

    def __post_init__(self) -> None:
        stride = self.width + 1
        n_sets = self.central_species.shape[0]
        centres = torch.arange(n_sets, device=self.owner.device) * stride
        self.token_slots = torch.cat([centres, self.owner * stride + 1 + self.rank])
        """(n_sets + n_set_edges,) row of every token (central tokens first) in the
        (n_sets · (1 + width)) token table."""

    def chunks(self, max_tokens: int) -> list[TokenSets]:
        """Consecutive groups of sets of about ``max_tokens`` edge tokens each.

        Every chunk names its atoms, weights and edges explicitly, so its
        :meth:`to_atoms` and :meth:`to_edges` add into the full atom and edge arrays.
        Differentiable per-token and per-set data are cut with one gather and one
        ``split``, whose backward is a single concatenation: slicing or indexing
        chunk by chunk would make each chunk's backward fill a gradient of the full
        size, a cost quadratic in the system size.
        """
        n_sets = self.central_species.shape[0]
        order = torch.argsort(self.owner, stable=True)
        counts = torch.bincount(self.owner, minlength=n_sets)
        ends = torch.cumsum(counts, 0)
        marks = torch.arange(max_tokens, int(ends[-1]), max_tokens, device=ends.device)
        bounds = [0, *torch.searchsorted(ends, marks, right=True).tolist(), n_sets]
        starts = [0, *ends.tolist()]
        set_sizes = [last - first for first, last in itertools.pairwise(bounds)]
        token_sizes = [
            starts[last] - starts[first] for first, last in itertools.pairwise(bounds)
        ]
        weight = self.geometry.new_ones(n_sets) if self.weight is None else self.weight
        pieces = zip(
            itertools.pairwise(bounds),
            order.split(token_sizes),
            self.geometry[order].split(token_sizes),
            self.log_key_weights.split(set_sizes),
            weight.split(set_sizes),
            strict=True,
        )
        return [
            self._chunk(first, last, tokens, geometry, log_weights, set_weights)
            for (first, last), tokens, geometry, log_weights, set_weights in pieces
            if last > first
        ]

    def _chunk(
        self,
        first: int,
        last: int,
        tokens: torch.Tensor,
        geometry: torch.Tensor,
        log_key_weights: torch.Tensor,
        weight: torch.Tensor,
    ) -> TokenSets:
        atoms = slice(first, last)
        return TokenSets(
            central_species=self.central_species[atoms],
            owner=self.owner[tokens] - first,
            rank=self.rank[tokens],
            width=self.width,
            log_key_weights=log_key_weights,
            geometry=geometry,
            edge=tokens if self.edge is None else self.edge[tokens],
            atom=torch.arange(first, last, device=self.owner.device)
            if self.atom is None
            else self.atom[atoms],
            weight=weight,
        )

    def per_edge_token(self, values: torch.Tensor) -> torch.Tensor:
        """Values of the edges, (n_edges, ...), gathered for every edge token."""
        return values if self.edge is None else values[self.edge]

    def to_atoms(self, values: torch.Tensor, n_atoms: int) -> torch.Tensor:
        """Weighted sum over each atom's sets of per-set values (n_sets, ...)."""
        if self.atom is None or self.weight is None:
            return values
        weighted = values * _broadcast(self.weight, values)
        return weighted.new_zeros((n_atoms, *values.shape[1:])).index_add(
            0, self.atom, weighted
        )

    def to_edges(
        self, values: torch.Tensor, n_edges: int, total: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Weighted sum over each edge's tokens of values (n_set_edges, ...).

        With ``total`` (the sum of earlier chunks), it is added to in place rather
        than a new (n_edges, ...) array made per chunk: for many chunks of a large
        system those arrays would cost time quadratic in its size.
        """
        if self.edge is None or self.weight is None:
            return values
        weighted = values * _broadcast(self.weight[self.owner], values)
        if total is None:
            total = weighted.new_zeros((n_edges, *values.shape[1:]))
        return total.index_add_(0, self.edge, weighted)


def _broadcast(weights: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return weights.view(-1, *([1] * (like.dim() - 1)))


class MessagePassingLayer(torch.nn.Module):
    """One PET layer: edge tokens from geometry and messages, a transformer per atom.

    Args:
        hypers: the architecture.
        n_species: number of elements.

    Attributes:
        geometry_embedding: Linear(4 + n_radial_basis → d) of [x_ij, r_ij, Φ(r_ij)].
        compress: MLP(2d → d → d) of [geometry embedding; input message].
        central_embedding: species → central token (d).
        transformer: the :class:`CutoffTransformer`.
        energy_head: MLP(d → head_hidden_sizes → 2) on every output token: the
            first output of a central token is its atomic energy, the second output
            of an edge token its bond energy (weighted by f_c). One shared network
            halves the operations of two separate heads.
    """

    def __init__(self, hypers: PETHypers, n_species: int):
        super().__init__()
        d_model = hypers.d_model
        self.geometry_embedding = torch.nn.Linear(4 + hypers.n_radial_basis, d_model)
        self.compress = torch.nn.Sequential(
            torch.nn.Linear(2 * d_model, d_model),
            torch.nn.SiLU(),
            torch.nn.Linear(d_model, d_model),
        )
        self.central_embedding = torch.nn.Embedding(n_species, d_model)
        self.transformer = CutoffTransformer(
            d_model, hypers.n_heads, hypers.d_feedforward, hypers.n_attention_layers
        )
        self.energy_head = MLP([d_model, *hypers.head_hidden_sizes, 2])

    def forward(
        self, sets: TokenSets, messages: torch.Tensor, bond_weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Energy contribution of every set (n_sets,) and edge output tokens.

        Args:
            sets: the token sets and their geometry.
            messages: (n_set_edges, d) input message of every edge token.
            bond_weights: (n_set_edges,) f_c(r_ij) / n̄ of every edge token.

        Returns:
            (n_sets,) energies and (n_set_edges, d) output edge tokens.
        """
        n_sets, stride = sets.central_species.shape[0], sets.width + 1
        geometry = self.geometry_embedding(sets.geometry)
        edge_tokens = self.compress(torch.cat([geometry, messages], 1))
        d_model = edge_tokens.shape[1]
        every = torch.cat([self.central_embedding(sets.central_species), edge_tokens])
        slots = sets.token_slots
        table = every.new_zeros(n_sets * stride, d_model).index_copy(0, slots, every)
        outputs = self.transformer(
            table.view(n_sets, stride, d_model), sets.log_key_weights
        )
        every = outputs.view(n_sets * stride, d_model)[slots]
        readout = self.energy_head(every)
        bonds = readout[n_sets:, 1] * bond_weights
        energies = readout[:n_sets, 0].index_add(0, sets.owner, bonds)
        return energies, every[n_sets:]


class PointEdgeTransformer(EnergyModel):
    r"""Point Edge Transformer: a transformer over each atom's neighbour edges.

    **Tokens.** For every atom i, layer k forms one central token c_i = E_c^(k)(Z_i)
    and one token per neighbour j within r_c,

        t_ij = MLP_c^(k)([L^(k)(x_ij, r_ij, Φ(r_ij)); m^(k)_ij]),

    from the raw edge vector x_ij (Å), its length and Bessel functions Φ of the
    length (``n_radial_basis``; 0 gives the paper's input), and the input message:
    m^(1)_ij = E_n(Z_j) (neighbour species) and m^(k+1)_ij = ½(m^(k)_ij + o^(k)_ji),
    where o^(k)_ji is the output token of the *reversed* edge j→i in atom j's
    transformer (matched with the opposite cell shift, so self-images in small
    periodic cells pair correctly). This is how information passes between atoms.

    **Transformer.** Per atom, pre-LayerNorm layers with cutoff-weighted attention
    (:class:`~pointchem.models.pet.transformer.CutoffAttention`): neighbour tokens
    carry weight f_c(r_ij) (:func:`~pointchem.nn.cutoffs.polynomial_switch`), so atoms
    enter and leave the cutoff sphere smoothly; padding has weight 0.

    **Energy.** Every layer reads out an atomic and a bond energy with one network
    H^(k) of two outputs (a, b):

        E_i = scale_{Z_i} Σ_k [H_a^(k)(o^(k)_i) + n̄⁻¹ Σ_j f_c(r_ij) H_b^(k)(o^(k)_ij)]
              + shift_{Z_i}   (eV),

    where n̄ is the mean neighbour count of the training data (the buffer
    ``bond_normalization`` = 1/n̄, 1 until training sets it).

    The edge inputs are Cartesian, so the model is translation- and
    permutation-invariant but **not** rotation-invariant: it is trained with random
    rotations and inversions, and made exactly invariant by symmetrization.

    Args:
        hypers: the architecture.
        atomic_numbers: elements the model knows.

    Attributes:
        neighbor_embedding: species → first-layer input message (d).
        layers: the message-passing layers.
        scale: (n_species,) parameter multiplying the summed readouts.
        shift: (n_species,) parameter, eV per atom.
        bond_normalization: () buffer, 1/n̄.
        topology: cache of the reverse-edge index for a reused neighbour list.
    """

    supported_dtypes: ClassVar[tuple[torch.dtype, ...]] = (
        torch.float32,
        torch.float64,
    )
    bond_normalization: torch.Tensor

    def __init__(self, hypers: PETHypers, atomic_numbers: Sequence[int]):
        super().__init__(hypers, atomic_numbers, hypers.cutoff)
        self.hypers: PETHypers = hypers
        self.neighbor_embedding = torch.nn.Embedding(self.n_species, hypers.d_model)
        self.layers = torch.nn.ModuleList(
            MessagePassingLayer(hypers, self.n_species) for _ in range(hypers.n_layers)
        )
        self.scale = torch.nn.Parameter(torch.ones(self.n_species))
        self.shift = torch.nn.Parameter(torch.zeros(self.n_species))
        self.register_buffer("bond_normalization", torch.ones(()))
        self.topology = TopologyCache()

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies without the composition baseline, (n_atoms,), eV.

        Raises:
            ValueError: the graph contains an element the model does not know, or
                its neighbour list is not a full list.
        """
        species = self.checked_species(graph)
        layout = EdgeLayout(graph, self)
        return self.energies_of_sets(species, layout, layout.atom_sets(species))

    def energies_of_sets(
        self, species: torch.Tensor, layout: EdgeLayout, sets: TokenSets
    ) -> torch.Tensor:
        """Per-atom energies (n_atoms,) from message passing over ``sets``.

        Every layer runs the transformer on every set, then averages the sets'
        energies and output tokens back to atoms and edges (with the frame weights
        of a symmetrized model; identity for bare PET), so the messages passed on
        are those of the averaged outputs.
        """
        n_atoms, n_edges = species.shape[0], layout.centre.shape[0]
        messages = self.neighbor_embedding(species[layout.neighbor])
        bond_weights = layout.switch * self.bond_normalization
        n_tokens = sets.owner.shape[0]
        per_chunk = LAYER_TOKENS_PER_CHUNK * 4 // messages.element_size()
        chunked = n_tokens > per_chunk
        pieces = sets.chunks(per_chunk) if chunked else [sets]
        recompute = n_tokens > LAYER_TOKENS_KEPT
        gather = _PerTokenGather(pieces)
        piece_bond_weights = gather(bond_weights)
        total = layout.switch.new_zeros(n_atoms)
        for layer in self.layers:
            outputs = None
            piece_messages = gather(messages)
            for piece, piece_inputs in zip(
                pieces,
                zip(piece_messages, piece_bond_weights, strict=True),
                strict=True,
            ):
                energies, tokens = _run_layer(layer, piece, *piece_inputs, recompute)
                total = total + piece.to_atoms(energies, n_atoms)
                outputs = piece.to_edges(tokens, n_edges, outputs)
            assert outputs is not None
            messages = 0.5 * (messages + outputs[layout.reverse])
        return self.scale[species] * total + self.shift[species]


class _PerTokenGather:
    """Gathers per-edge values for the edge tokens of every piece at once.

    One index and one ``split`` for all pieces: indexing piece by piece would make
    every piece's backward fill a gradient of all edges (quadratic cost).
    """

    def __init__(self, pieces: Sequence[TokenSets]):
        self.pieces = pieces
        self.sizes = [piece.owner.shape[0] for piece in pieces]
        if len(pieces) > 1:
            self.edges = torch.cat([_edges_of(piece) for piece in pieces])

    def __call__(self, values: torch.Tensor) -> Sequence[torch.Tensor]:
        """(n_edges, ...) values → per piece (n_piece_tokens, ...) values."""
        if len(self.pieces) == 1:
            return [self.pieces[0].per_edge_token(values)]
        return values[self.edges].split(self.sizes)


def _edges_of(sets: TokenSets) -> torch.Tensor:
    if sets.edge is not None:
        return sets.edge
    return torch.arange(sets.owner.shape[0], device=sets.owner.device)


def _run_layer(
    layer: torch.nn.Module,
    sets: TokenSets,
    messages: torch.Tensor,
    bond_weights: torch.Tensor,
    recompute: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``layer`` on ``sets`` given the messages and bond weights of its edge tokens.

    With ``recompute`` (chunks of a very large input) the layer is checkpointed: its
    activations are recomputed in the backward pass rather than kept.
    """
    if not (recompute and torch.is_grad_enabled()):
        return layer(sets, messages, bond_weights)
    return checkpoint(layer, sets, messages, bond_weights, use_reentrant=False)
