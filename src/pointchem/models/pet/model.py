"""The Point Edge Transformer (PET) as an :class:`EnergyModel`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch

from ...graph import AtomicGraph, edge_vectors
from ...nn.cutoffs import polynomial_switch
from ...nn.mlp import MLP
from ...nn.neighbors import TopologyCache, neighbor_slots, reverse_edges
from ...nn.radial import bessel_basis
from ..base import EnergyModel
from .hypers import PETHypers
from .transformer import CutoffTransformer, log_key_weights

__all__ = ["EdgeLayout", "MessagePassingLayer", "PointEdgeTransformer"]


class EdgeLayout:
    """Where each edge inside the cutoff sits among its centre's tokens.

    Attributes:
        centre: (n_edges,) int64 centre atom i of each edge i→j.
        neighbor: (n_edges,) int64 neighbour atom j.
        reverse: (n_edges,) int64 position of the edge j→i (opposite shift).
        width: the largest number of neighbours of one atom (≥ 1).
        token_slots: (n_atoms + n_edges,) int64 position of every token (central
            tokens first, then edges) in an (n_atoms · (1 + width)) token table
            where atom a's central token is row a · (1 + width).
        switch: (n_edges,) cutoff weight f_c(r_ij), differentiable.
        log_key_weights: (n_atoms, 1 + width) log attention weights of the tokens:
            0 for the central token, log f_c for edges, −inf for padding.
        geometry: (n_edges, 4 + n_radial_basis) edge inputs [x_ij, y_ij, z_ij, r_ij]
            (Å) and the Bessel functions of r_ij.
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
        vectors = vectors[edges]
        lengths = torch.linalg.vector_norm(vectors, dim=1)
        hypers = model.hypers
        self.switch = polynomial_switch(lengths, hypers.cutoff, hypers.cutoff_width)
        n_atoms = graph.n_atoms
        slots, self.width = neighbor_slots(self.centre, n_atoms)
        stride = self.width + 1
        central = torch.arange(n_atoms, device=slots.device) * stride
        self.token_slots = torch.cat([central, slots + self.centre + 1])
        weights = self.switch.new_zeros(n_atoms * stride)
        weights = weights.index_copy(
            0, self.token_slots, torch.cat([self.switch.new_ones(n_atoms), self.switch])
        )
        self.log_key_weights = log_key_weights(weights.view(n_atoms, stride))
        inputs = [vectors, lengths.unsqueeze(1)]
        if hypers.n_radial_basis:
            inputs.append(bessel_basis(lengths, hypers.n_radial_basis, hypers.cutoff))
        self.geometry = torch.cat(inputs, 1)


def _reverse_of(graph: AtomicGraph) -> torch.Tensor:
    return reverse_edges(graph.edge_index, graph.cell_shifts, graph.n_atoms)


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
        self,
        species: torch.Tensor,
        layout: EdgeLayout,
        messages: torch.Tensor,
        bond_normalization: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-atom energy contribution (n_atoms,) and edge output tokens (n_edges, d).

        Args:
            species: (n_atoms,) int64 species index.
            layout: the edges and their token slots.
            messages: (n_edges, d) input message of every edge.
            bond_normalization: () factor on every bond energy.
        """
        n_atoms, stride = species.shape[0], layout.width + 1
        geometry = self.geometry_embedding(layout.geometry)
        edge_tokens = self.compress(torch.cat([geometry, messages], 1))
        d_model = edge_tokens.shape[1]
        every = torch.cat([self.central_embedding(species), edge_tokens])
        table = every.new_zeros(n_atoms * stride, d_model)
        table = table.index_copy(0, layout.token_slots, every)
        outputs = self.transformer(
            table.view(n_atoms, stride, d_model), layout.log_key_weights
        )
        every = outputs.view(n_atoms * stride, d_model)[layout.token_slots]
        readout = self.energy_head(every)
        bonds = readout[n_atoms:, 1] * (layout.switch * bond_normalization)
        energies = readout[:n_atoms, 0].index_add(0, layout.centre, bonds)
        return energies, every[n_atoms:]


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
        messages = self.neighbor_embedding(species[layout.neighbor])
        total = layout.switch.new_zeros(graph.n_atoms)
        for layer in self.layers:
            energies, outputs = layer(
                species, layout, messages, self.bond_normalization
            )
            total = total + energies
            messages = 0.5 * (messages + outputs[layout.reverse])
        return self.scale[species] * total + self.shift[species]
