"""The one interface every model family implements: per-atom energies from a graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch

from ..graph import AtomicGraph

__all__ = ["MAX_ATOMIC_NUMBER", "EnergyModel"]

MAX_ATOMIC_NUMBER = 118
"""Largest atomic number a model may know (oganesson)."""


class EnergyModel(torch.nn.Module):
    """Base class of all models: ``forward(graph)`` returns per-atom energies in eV.

    Subclasses set the class attribute ``supported_dtypes`` and call
    ``super().__init__(hypers, atomic_numbers, cutoff)`` first. The model never takes
    derivatives, never chooses a device or dtype, and never sees ase or numpy: forces
    and stress are derived by :func:`pointchem.evaluate`.

    The base class also owns the *composition baseline*: one reference energy per known
    element (eV), fitted by least squares during training and added by ``evaluate``
    in float64. It is kept in float64 even when the model is cast to float32.

    Attributes:
        supported_dtypes: float dtypes the family can run in.
        hypers: the family's frozen hyperparameter dataclass.
        atomic_numbers: sorted tuple of the elements the model knows.
        cutoff: interaction cutoff in Å; edges at or beyond it contribute exactly 0.
        composition_energies: (n_species,) float64 buffer, eV per atom of each element,
            in the order of ``atomic_numbers``.
        species_of_atomic_number: (119,) int64 buffer mapping an atomic number to its
            position in ``atomic_numbers`` (−1 for elements the model does not know).
    """

    supported_dtypes: ClassVar[tuple[torch.dtype, ...]] = ()
    composition_energies: torch.Tensor
    species_of_atomic_number: torch.Tensor

    def __init__(self, hypers: Any, atomic_numbers: Sequence[int], cutoff: float):
        super().__init__()
        name = type(self).__name__
        if not type(self).supported_dtypes:
            raise TypeError(f"{name} must declare the class attribute supported_dtypes")
        numbers = tuple(sorted({int(z) for z in atomic_numbers}))
        if not numbers:
            raise ValueError(f"{name} needs at least one atomic number")
        if numbers[0] < 1 or numbers[-1] > MAX_ATOMIC_NUMBER:
            raise ValueError(
                f"{name}: atomic numbers must lie in 1..118, got {numbers}"
            )
        if not cutoff > 0.0:
            raise ValueError(f"{name}: cutoff must be positive, got {cutoff} Å")
        self.hypers = hypers
        self.atomic_numbers = numbers
        self.cutoff = float(cutoff)
        lookup = torch.full((MAX_ATOMIC_NUMBER + 1,), -1, dtype=torch.int64)
        lookup[list(numbers)] = torch.arange(len(numbers))
        self.register_buffer("species_of_atomic_number", lookup)
        self.register_buffer(
            "composition_energies", torch.zeros(len(numbers), dtype=torch.float64)
        )

    @property
    def n_species(self) -> int:
        """Number of elements the model knows."""
        return len(self.atomic_numbers)

    @property
    def dtype(self) -> torch.dtype:
        """Float dtype of the parameters (float64 for a model without parameters)."""
        for parameter in self.parameters():
            return parameter.dtype
        return torch.float64

    def species(self, graph: AtomicGraph) -> torch.Tensor:
        """Species index (position in ``atomic_numbers``) of every atom, (n_atoms,)."""
        return self.species_of_atomic_number[graph.atomic_numbers]

    def checked_species(self, graph: AtomicGraph) -> torch.Tensor:
        """Like :meth:`species`, but elements the model does not know raise.

        Raises:
            ValueError: names the unknown atomic numbers and the known ones.
        """
        species = self.species(graph)
        if bool((species < 0).any()):
            unknown = sorted(set(graph.atomic_numbers[species < 0].tolist()))
            raise ValueError(
                f"atomic numbers {unknown} are unknown to this {type(self).__name__}, "
                f"which knows {list(self.atomic_numbers)}"
            )
        return species

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies without the composition baseline, (n_atoms,), eV."""
        raise NotImplementedError

    def _apply(self, fn: Callable[..., Any], recurse: bool = True) -> EnergyModel:
        # Module.to(dtype) casts every floating buffer; the composition baseline is
        # summed in float64 by evaluate (house rule), so only its device may change.
        baseline = self.composition_energies
        super()._apply(fn, recurse)
        moved = self.composition_energies
        self.composition_energies = baseline.to(device=moved.device)
        return self
