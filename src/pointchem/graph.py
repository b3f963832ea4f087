"""Atomic graphs: ``ase.Atoms`` → neighbor list (vesin) → tensors a model reads.

The neighbor list returns integers only (centre, neighbor, integer cell shift).
Geometry is recomputed in torch by :func:`edge_vectors`, so autograd reaches both the
positions and the cell and forces and stress come from one backward pass.

Cells follow ASE's row-vector convention: ``cell[k]`` is the k-th lattice vector, and
the image of atom ``j`` shifted by the integer triple ``S`` sits at
``positions[j] + S @ cell``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import ase
import numpy as np
import torch
import vesin.torch

__all__ = [
    "AtomicGraph",
    "atoms_to_graph",
    "batch_graphs",
    "edge_lengths",
    "edge_vectors",
    "select_edges",
    "within_cutoff",
]


@dataclasses.dataclass(frozen=True)
class AtomicGraph:
    """One or several atomic structures with their neighbor lists, as tensors.

    Several structures ("systems") are concatenated along the atom axis;
    ``system_index`` says which system each atom belongs to. Edges are directed (a
    full neighbor list): every pair within the cutoff appears as i→j and j→i.

    Attributes:
        positions: (n_atoms, 3) float, Å. Cartesian positions.
        atomic_numbers: (n_atoms,) int64. Chemical element of every atom.
        cell: (n_systems, 3, 3) float, Å. Rows are lattice vectors (ASE convention);
            rows of non-periodic directions are ignored by the geometry.
        pbc: (n_systems, 3) bool. Periodicity along each lattice vector.
        system_index: (n_atoms,) int64. Index of the system each atom belongs to,
            non-decreasing.
        edge_index: (2, n_edges) int64. Row 0 is the centre atom i, row 1 the neighbor
            j; both index into the concatenated atoms.
        cell_shifts: (n_edges, 3) int64. Integer lattice translation of j's image:
            r_ij = r_j − r_i + cell_shifts · cell[system of i].
    """

    positions: torch.Tensor
    atomic_numbers: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    system_index: torch.Tensor
    edge_index: torch.Tensor
    cell_shifts: torch.Tensor

    @property
    def n_atoms(self) -> int:
        """Total number of atoms over all systems."""
        return int(self.positions.shape[0])

    @property
    def n_systems(self) -> int:
        """Number of systems in the graph."""
        return int(self.cell.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.edge_index.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point dtype of positions and cell."""
        return self.positions.dtype

    @property
    def device(self) -> torch.device:
        """Device all tensors live on."""
        return self.positions.device

    def replace(self, **changes: torch.Tensor) -> AtomicGraph:
        """Return a copy with some fields replaced (the graph itself is frozen)."""
        return dataclasses.replace(self, **changes)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> AtomicGraph:
        """Move to ``device`` and cast positions and cell to the float ``dtype``."""
        return AtomicGraph(
            positions=self.positions.to(device=device, dtype=dtype),
            atomic_numbers=self.atomic_numbers.to(device=device),
            cell=self.cell.to(device=device, dtype=dtype),
            pbc=self.pbc.to(device=device),
            system_index=self.system_index.to(device=device),
            edge_index=self.edge_index.to(device=device),
            cell_shifts=self.cell_shifts.to(device=device),
        )


def edge_vectors(graph: AtomicGraph) -> torch.Tensor:
    """Differentiable edge vectors r_ij = r_j − r_i + S_ij · cell, (n_edges, 3), Å.

    Computed from ``graph.positions`` and ``graph.cell`` in torch, so gradients reach
    both (forces and the strain derivative for stress).
    """
    centre, neighbor = graph.edge_index
    vectors = graph.positions[neighbor] - graph.positions[centre]
    if graph.n_edges == 0:
        return vectors
    shifts = graph.cell_shifts.to(graph.dtype)
    if graph.n_systems == 1:
        return vectors + shifts @ graph.cell[0]
    edge_cells = graph.cell[graph.system_index[centre]]
    return vectors + torch.einsum("ek,ekl->el", shifts, edge_cells)


def select_edges(graph: AtomicGraph, keep: torch.Tensor) -> AtomicGraph:
    """Return the graph with only the edges where the boolean mask ``keep`` is true."""
    return graph.replace(
        edge_index=graph.edge_index[:, keep], cell_shifts=graph.cell_shifts[keep]
    )


def _validate_cell(atoms: ase.Atoms) -> None:
    for axis in range(3):
        if atoms.pbc[axis] and np.linalg.norm(atoms.cell.array[axis]) == 0.0:
            raise ValueError(
                f"the structure is periodic along lattice vector {axis} "
                f"(pbc={atoms.pbc.tolist()}) but that cell vector is zero; "
                "set a cell with atoms.set_cell(...) or switch periodicity off"
            )
    if atoms.pbc.all() and abs(atoms.cell.volume) < 1e-12:
        raise ValueError("the periodic cell has zero volume (its vectors are coplanar)")


def _neighbor_list_box(atoms: ase.Atoms) -> np.ndarray:
    """The cell vesin sees: non-periodic zero rows replaced by a harmless unit box."""
    box = atoms.cell.array.copy()
    if not atoms.pbc.any():
        return np.zeros((3, 3))
    if atoms.pbc.all():
        return box
    # Mixed periodicity: vesin needs an invertible box; rows along non-periodic
    # directions do not affect the result, only their span must be complete.
    for axis in np.flatnonzero(~atoms.pbc):
        if np.linalg.norm(box[axis]) == 0.0:
            others = [box[a] for a in range(3) if a != axis]
            normal = np.cross(others[0], others[1])
            if np.linalg.norm(normal) == 0.0:
                normal = np.eye(3)[axis]
            box[axis] = normal / np.linalg.norm(normal)
    return box


def _single_graph(
    atoms: ase.Atoms, cutoff: float, dtype: torch.dtype, device: torch.device
) -> AtomicGraph:
    if len(atoms) == 0:
        raise ValueError("the structure has no atoms")
    _validate_cell(atoms)
    positions = torch.as_tensor(atoms.positions, dtype=torch.float64, device=device)
    if not torch.isfinite(positions).all():
        raise ValueError("atomic positions contain NaN or infinite values")
    box = torch.as_tensor(_neighbor_list_box(atoms), dtype=torch.float64, device=device)
    periodic = torch.as_tensor(atoms.pbc, device=device)
    calculator = vesin.torch.NeighborList(cutoff=cutoff, full_list=True)
    centre, neighbor, shifts = calculator.compute(
        positions, box, periodic, quantities="ijS"
    )
    n_atoms = len(atoms)
    return AtomicGraph(
        positions=positions.to(dtype),
        atomic_numbers=torch.as_tensor(atoms.numbers, dtype=torch.int64, device=device),
        cell=torch.as_tensor(atoms.cell.array, dtype=dtype, device=device).reshape(
            1, 3, 3
        ),
        pbc=periodic.reshape(1, 3),
        system_index=torch.zeros(n_atoms, dtype=torch.int64, device=device),
        edge_index=torch.stack([centre, neighbor]).to(torch.int64),
        cell_shifts=shifts.to(torch.int64),
    )


def atoms_to_graph(
    atoms: ase.Atoms | Sequence[ase.Atoms],
    cutoff: float,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> AtomicGraph:
    """Build the graph of one structure, or the batched graph of several.

    Args:
        atoms: one structure or a sequence of structures (any mix of molecules, slabs
            and bulk; periodic directions follow ``atoms.pbc``).
        cutoff: neighbor cutoff in Å; every pair with distance < cutoff is an edge,
            including periodic images of an atom itself in cells smaller than the
            cutoff.
        dtype: float dtype of positions and cell in the result.
        device: where the neighbor list runs and the tensors live.

    Returns:
        The :class:`AtomicGraph`.

    Raises:
        ValueError: empty structure, non-finite positions, or a periodic direction
            with a zero cell vector.
    """
    device = torch.device(device)
    if isinstance(atoms, ase.Atoms):
        return _single_graph(atoms, cutoff, dtype, device)
    if len(atoms) == 0:
        raise ValueError("no structures given")
    return batch_graphs([_single_graph(a, cutoff, dtype, device) for a in atoms])


def batch_graphs(graphs: Sequence[AtomicGraph]) -> AtomicGraph:
    """Concatenate graphs into one batch, offsetting atom and system indices."""
    if len(graphs) == 1:
        return graphs[0]
    atom_counts = torch.tensor([g.n_atoms for g in graphs])
    atom_offsets = torch.cumsum(atom_counts, 0) - atom_counts
    system_counts = torch.tensor([g.n_systems for g in graphs])
    system_offsets = torch.cumsum(system_counts, 0) - system_counts
    return AtomicGraph(
        positions=torch.cat([g.positions for g in graphs]),
        atomic_numbers=torch.cat([g.atomic_numbers for g in graphs]),
        cell=torch.cat([g.cell for g in graphs]),
        pbc=torch.cat([g.pbc for g in graphs]),
        system_index=torch.cat(
            [
                g.system_index + int(o)
                for g, o in zip(graphs, system_offsets, strict=True)
            ]
        ),
        edge_index=torch.cat(
            [g.edge_index + int(o) for g, o in zip(graphs, atom_offsets, strict=True)],
            dim=1,
        ),
        cell_shifts=torch.cat([g.cell_shifts for g in graphs]),
    )


def edge_lengths(graph: AtomicGraph) -> torch.Tensor:
    """Edge lengths |r_ij| without gradient, shape (n_edges,), Å."""
    with torch.no_grad():
        return torch.linalg.vector_norm(edge_vectors(graph), dim=1)


def within_cutoff(
    graph: AtomicGraph, cutoff: float
) -> tuple[AtomicGraph, torch.Tensor]:
    """Drop the edges whose current length is ≥ ``cutoff`` (no gradient involved).

    Returns:
        The reduced graph and the lengths of its edges, (n_kept,) Å.
    """
    lengths = edge_lengths(graph)
    keep = lengths < cutoff
    return select_edges(graph, keep), lengths[keep]


class SkinNeighborList:
    """A neighbor list built at ``cutoff + skin`` and reused while it stays valid.

    The list built at cutoff + skin holds every pair that can come within the cutoff
    as long as no atom has moved more than skin/2 since it was built. A rebuild
    happens when an atom moved farther, or the cell, pbc, atomic numbers or the number
    of atoms changed. Each call returns a graph at the *current* positions restricted
    to the edges shorter than ``cutoff``, identical to a fresh list at ``cutoff``.

    Args:
        cutoff: model cutoff, Å.
        skin: extra distance, Å; 0 rebuilds at every call.
        dtype: float dtype of the graphs.
        device: where lists are built and graphs live.
    """

    def __init__(
        self, cutoff: float, skin: float, dtype: torch.dtype, device: torch.device
    ):
        if skin < 0.0:
            raise ValueError(f"skin must be ≥ 0 Å, got {skin}")
        self.cutoff = cutoff
        self.skin = skin
        self.dtype = dtype
        self.device = device
        self.n_builds = 0
        self._graph: AtomicGraph | None = None
        self._reference: ase.Atoms | None = None

    def _still_valid(self, atoms: ase.Atoms) -> bool:
        reference = self._reference
        if self.skin == 0.0 or reference is None or len(reference) != len(atoms):
            return False
        if not (
            np.array_equal(reference.numbers, atoms.numbers)
            and np.array_equal(reference.pbc, atoms.pbc)
            and np.array_equal(reference.cell.array, atoms.cell.array)
        ):
            return False
        displacement = np.linalg.norm(atoms.positions - reference.positions, axis=1)
        return bool(displacement.max() <= 0.5 * self.skin)

    def graph(self, atoms: ase.Atoms) -> tuple[AtomicGraph, torch.Tensor]:
        """The graph of ``atoms`` at its current positions (edges < cutoff).

        Returns:
            The graph and its edge lengths, (n_edges,) Å, computed without gradient.
        """
        if self._graph is None or not self._still_valid(atoms):
            self._graph = atoms_to_graph(
                atoms, self.cutoff + self.skin, self.dtype, self.device
            )
            self._reference = atoms.copy()
            self.n_builds += 1
            if self.skin == 0.0:
                return self._graph, edge_lengths(self._graph)
        # NaN positions fail the displacement test above and are caught by the rebuild.
        positions = torch.as_tensor(atoms.positions, device=self.device).to(self.dtype)
        return within_cutoff(self._graph.replace(positions=positions), self.cutoff)
