"""Index helpers over a full neighbor list: per-centre slots and reversed edges."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["TopologyCache", "neighbor_slots", "reverse_edges"]


class TopologyCache:
    """Remembers one value computed from an ``edge_index`` tensor.

    A neighbour list with a skin hands the same ``edge_index`` tensor to the model for
    many MD steps while only positions change; index work that depends on the
    topology alone (sorting, reverse edges) is then done once. The cache holds a weak
    reference and the tensor's version counter, so a new or modified tensor is
    recomputed; it pickles (and deep-copies) as empty.
    """

    def __init__(self) -> None:
        self._entry: tuple[weakref.ref[torch.Tensor], int, Any] | None = None

    def get(self, edge_index: torch.Tensor, compute: Callable[[], Any]) -> Any:
        """The cached value for ``edge_index``, or ``compute()`` (then cached)."""
        entry = self._entry
        if (
            entry is not None
            and entry[0]() is edge_index
            and entry[1] == edge_index._version
        ):
            return entry[2]
        value = compute()
        self._entry = (weakref.ref(edge_index), edge_index._version, value)
        return value

    def __getstate__(self) -> dict[str, Any]:
        return {"_entry": None}  # a weak reference cannot be pickled


def neighbor_slots(centre: torch.Tensor, n_atoms: int) -> tuple[torch.Tensor, int]:
    """Place every edge in a slot ``centre · K + rank within its centre``.

    Args:
        centre: (n_edges,) int64 centre atom of each edge, any order.
        n_atoms: number of atoms.

    Returns:
        (n_edges,) int64 slot of each edge in a (n_atoms · K) table, and K ≥ 1, the
        largest number of edges of one atom.
    """
    n_edges = centre.shape[0]
    counts = torch.bincount(centre, minlength=n_atoms)
    width = max(int(counts.max()), 1) if n_edges else 1
    starts = torch.cumsum(counts, 0) - counts
    positions = torch.arange(n_edges, device=centre.device)
    if n_edges < 2 or bool((centre[1:] >= centre[:-1]).all()):
        return centre * width + positions - starts[centre], width
    ordered, order = torch.sort(centre, stable=True)
    rank = torch.empty_like(centre)
    rank[order] = positions - starts[ordered]
    return centre * width + rank, width


def reverse_edges(
    edge_index: torch.Tensor, cell_shifts: torch.Tensor, n_atoms: int
) -> torch.Tensor:
    """Position of the reversed edge j→i (shift −S) of every edge i→j (shift S).

    In a full neighbor list every edge has exactly one reverse, also between an atom
    and its own periodic images (i→i with S and −S) in cells smaller than the cutoff.

    Args:
        edge_index: (2, n_edges) int64 centre and neighbor atoms.
        cell_shifts: (n_edges, 3) int64 integer cell shifts.
        n_atoms: number of atoms the indices refer to.

    Returns:
        (n_edges,) int64, ``reverse[e]`` is the edge with centre and neighbor of ``e``
        swapped and the opposite shift.

    Raises:
        ValueError: some edge has no reverse (a half list, or a list cut at different
            distances for the two directions).
    """
    n_edges = edge_index.shape[1]
    if n_edges == 0:
        return torch.zeros(0, dtype=torch.int64, device=edge_index.device)
    reach = int(cell_shifts.abs().max())
    base = 2 * reach + 1

    def keys(
        first: torch.Tensor, second: torch.Tensor, shifts: torch.Tensor
    ) -> torch.Tensor:
        code = (shifts[:, 0] + reach) * base * base
        code = code + (shifts[:, 1] + reach) * base + shifts[:, 2] + reach
        return (first * n_atoms + second) * base**3 + code

    centre, neighbor = edge_index
    forward = keys(centre, neighbor, cell_shifts)
    backward = keys(neighbor, centre, -cell_shifts)
    ordered, order = torch.sort(forward)
    found = torch.searchsorted(ordered, backward).clamp(max=n_edges - 1)
    if not bool((ordered[found] == backward).all()):
        raise ValueError(
            "the neighbor list is not a full list: some edge i→j has no j→i partner "
            "with the opposite cell shift"
        )
    return order[found]
