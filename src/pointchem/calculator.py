"""The ASE calculator: load a potential once, then graph → evaluate → results."""

from __future__ import annotations

import copy
import os
from typing import ClassVar

import ase
import numpy as np
import torch
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)
from ase.data import chemical_symbols
from ase.stress import full_3x3_to_voigt_6_stress

from .devices import resolve_device, resolve_dtype
from .evaluate import Prediction, evaluate, hessian
from .graph import AtomicGraph, SkinNeighborList
from .models.base import EnergyModel
from .registry import unwrap_symmetrized
from .serialization import load_potential

__all__ = ["MIN_DISTANCE", "PointChemCalculator"]

MIN_DISTANCE = 0.1
"""Å. Two atoms closer than this are treated as an input error, not a configuration."""


class PointChemCalculator(Calculator):
    """ASE calculator for any pointchem potential.

    One model call gives the energy, per-atom energies, forces and (for structures
    periodic in all three directions) the stress together; results are float64 numpy
    arrays in eV, eV/Å and eV/Å³. Nothing is recomputed while positions, atomic
    numbers, cell and pbc stay the same.

    Potentials with a dipole head (WK with ``dipole: true``) also give
    ``results["dipole"]``, (3,) float64 in e·Å, so ``atoms.get_dipole_moment()``
    works; it is computed only when asked for, and then added to the results of the
    same structure. Other potentials do not list ``"dipole"`` in
    ``implemented_properties``, so ASE raises ``PropertyNotImplementedError``.

    Args:
        potential: path of a potential file (``.pt``) or an :class:`EnergyModel`
            (copied: the calculator's own model is ``calc.model``).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``,
            ``"cuda:1"``, ...
        dtype: float dtype to run the model in (``torch.float32``/``torch.float64``
            or ``"float32"``/``"float64"``); None keeps the potential's own.
        skin: neighbor-list skin in Å. The list is built at cutoff + skin and reused
            until an atom has moved more than skin/2 (or cell, pbc or numbers
            changed). 0 rebuilds at every call.
        symmetrize: use the symmetrization the potential records (PET potentials:
            ECSE, exactly rotation- and inversion-invariant; see
            :mod:`pointchem.models.pet.symmetrized`). ``False`` is the explicit
            opt-out: the bare model, several times faster, but its energy and forces
            depend slightly on the orientation of the structure. No effect on
            potentials that are invariant by construction (GM, WK).
        **kwargs: passed to :class:`ase.calculators.calculator.Calculator`.

    Example:
        >>> calc = PointChemCalculator("potentials/ethanol-gm.pt")  # doctest: +SKIP
        >>> atoms.calc = calc  # doctest: +SKIP
        >>> atoms.get_forces()  # doctest: +SKIP
    """

    implemented_properties: ClassVar[list[str]] = [  # type: ignore[misc]
        "energy",
        "free_energy",
        "energies",
        "forces",
        "stress",
    ]

    def __init__(
        self,
        potential: str | os.PathLike[str] | EnergyModel,
        device: torch.device | str = "auto",
        dtype: torch.dtype | str | None = None,
        skin: float = 1.0,
        symmetrize: bool = True,
        **kwargs: object,
    ):
        super().__init__(**kwargs)
        self.device = resolve_device(device)
        if isinstance(potential, EnergyModel):
            # A copy: casting and moving must not change the caller's model.
            model = copy.deepcopy(potential)
            if not symmetrize:
                model, _ = unwrap_symmetrized(model)
        else:
            model = load_potential(potential, symmetrize=symmetrize)
        self.dtype = resolve_dtype(dtype) or model.dtype
        if self.dtype not in model.supported_dtypes:
            raise ValueError(
                f"{type(model).__name__} supports {model.supported_dtypes}, "
                f"not {self.dtype}"
            )
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.neighbors = SkinNeighborList(model.cutoff, skin, self.dtype, self.device)
        self.predicts_dipole = bool(getattr(self.model, "predicts_dipole", False))
        if self.predicts_dipole:
            # An instance attribute on purpose: ASE reads implemented_properties
            # from the instance, and the class list must stay without "dipole".
            self.implemented_properties = [  # type: ignore[misc]
                *type(self).implemented_properties,
                "dipole",
            ]

    def _check_atoms(self, atoms: ase.Atoms) -> None:
        if len(atoms) == 0:
            raise ValueError("the structure has no atoms")
        unknown = sorted(set(atoms.numbers.tolist()) - set(self.model.atomic_numbers))
        if unknown:
            symbols = [chemical_symbols[z] for z in unknown]
            known = [chemical_symbols[z] for z in self.model.atomic_numbers]
            raise ValueError(
                f"the potential does not know the element(s) {', '.join(symbols)}; "
                f"it was made for {', '.join(known)}"
            )

    def _graph(self, atoms: ase.Atoms) -> AtomicGraph:
        self._check_atoms(atoms)
        graph, lengths = self.neighbors.graph(atoms)
        if graph.n_edges:
            shortest = int(torch.argmin(lengths))
            distance = float(lengths[shortest])
            if distance < MIN_DISTANCE:
                i, j = graph.edge_index[:, shortest].tolist()
                raise ValueError(
                    f"atoms {i} and {j} are {distance:.3g} Å apart, closer than "
                    f"{MIN_DISTANCE} Å: the structure is unphysical"
                )
        return graph

    @staticmethod
    def _check_finite(prediction: Prediction) -> None:
        for name in ("energies", "forces", "stress"):
            value = getattr(prediction, name)
            if value is not None and not bool(torch.isfinite(value).all()):
                raise FloatingPointError(
                    f"the model returned non-finite {name} (NaN or inf); the "
                    "structure is probably far outside the potential's training data"
                )

    def calculate(
        self,
        atoms: ase.Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Compute energy, per-atom energies, forces and (3-D periodic) stress.

        Also the dipole (e·Å) when it is asked for and the potential has one. A call
        for the dipole alone (``atoms.get_dipole_moment()``) computes only the
        dipole, with no derivatives; energy, forces and dipole of one structure are
        each computed once, whatever order they are asked for in.
        """
        properties = properties or ["energy"]
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        if system_changes:  # ASE's getters have emptied them; direct callers may not
            self.results = {}
        periodic = bool(self.atoms.pbc.all())
        if "stress" in properties and not periodic:
            raise PropertyNotImplementedError(
                "stress is defined only for structures periodic in all three "
                f"directions; this one has pbc={self.atoms.pbc.tolist()}"
            )
        graph = self._graph(self.atoms)
        dipole_only = set(properties) == {"dipole"} and self.predicts_dipole
        if not dipole_only and "energy" not in self.results:
            self._energy_results(graph, periodic)
        if (
            "dipole" in properties
            and self.predicts_dipole
            and "dipole" not in self.results
        ):
            with torch.no_grad():
                dipole = self.model.dipole_moment(graph)  # type: ignore[operator]
            if not bool(torch.isfinite(dipole).all()):
                raise FloatingPointError("the model returned a non-finite dipole")
            self.results["dipole"] = _to_numpy(dipole)[0]

    def _energy_results(self, graph: AtomicGraph, periodic: bool) -> None:
        """Add energy, per-atom energies, forces (and stress) to the results.

        ASE empties the results whenever the structure changes, so what is there
        belongs to this structure.
        """
        prediction = evaluate(self.model, graph, forces=True, stress=periodic)
        self._check_finite(prediction)
        energy = float(prediction.energy[0])
        self.results.update(
            energy=energy,
            free_energy=energy,
            energies=prediction.energies.detach().cpu().numpy(),
            forces=_to_numpy(prediction.forces),
        )
        if prediction.stress is not None:
            stress = _to_numpy(prediction.stress)[0]
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)

    def get_hessian(self, atoms: ase.Atoms | None = None) -> np.ndarray:
        """Hessian ∂²E/∂r_a∂r_b, (3N, 3N) float64 numpy, eV/Å², atom-major order."""
        atoms = atoms if atoms is not None else self.atoms
        if atoms is None:
            raise ValueError("no structure given and none attached to the calculator")
        graph = self._graph(atoms)
        return _to_numpy(hessian(self.model, graph))


def _to_numpy(tensor: torch.Tensor | None) -> np.ndarray:
    assert tensor is not None
    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy()
