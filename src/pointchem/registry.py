"""The explicit list of model families a potential file may name.

There is no plugin discovery: each family is one entry in :data:`ARCHITECTURES`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

from .models.base import EnergyModel
from .models.gm import GaussianMomentModel, GMHypers
from .models.gm.train import initialize_from_data
from .models.pet import PETHypers, PointEdgeTransformer
from .models.pet.symmetrized import SymmetrizedPET
from .models.pet.symmetrized import symmetrize as symmetrize_pet
from .models.pet.train import initialize_from_data as initialize_pet
from .models.wk import WignerKernelModel, WKHypers
from .models.wk.fit import fit_wigner_kernel

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "architecture_of",
    "get_architecture",
    "unwrap_symmetrized",
]


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One model family.

    Attributes:
        name: short name stored in potential files ("gm", "pet", "wk").
        hypers: the family's frozen hyperparameter dataclass; must provide
            ``from_dict`` (strict, unknown keys rejected).
        model: the :class:`EnergyModel` subclass, built as ``model(hypers, numbers)``.
        fit: how the family's parameters are obtained from data when that is not
            the shared gradient loop of ``pointchem.training`` (WK's linear solve);
            None for gradient-trained families. Called as ``fit(model, train,
            validation, progress=...)`` with a model whose composition baseline is
            fitted and lists of (graph, energy eV, forces eV/Å or None); returns
            the fitted model and a dict of numbers for the training log.
        initialize: family-specific preparation before gradient training, called
            as ``initialize(model, samples)`` with the training samples (see
            :mod:`pointchem.models.statistics`); None when nothing is needed.
        rotational_augmentation: whether gradient training rotates (and inverts)
            every structure at random by default, for families that are not
            rotation-invariant by construction (PET).
        symmetrize: for families that are not invariant by construction, how a
            model is wrapped by the symmetrization a potential file records,
            called as ``symmetrize(model, record)`` (record None: the default
            settings, as training records them); None when not applicable.
    """

    name: str
    hypers: Any
    model: type[EnergyModel]
    fit: Callable[..., Any] | None = None
    initialize: Callable[[Any, Any], None] | None = None
    rotational_augmentation: bool = False
    symmetrize: Callable[[Any, dict[str, Any] | None], EnergyModel] | None = None

    def build(self, hypers: dict[str, Any], atomic_numbers: list[int]) -> EnergyModel:
        """Instantiate the model from plain-dict hypers (as stored in files)."""
        return self.model(self.hypers.from_dict(hypers), atomic_numbers)  # type: ignore[call-arg]


ARCHITECTURES: dict[str, Architecture] = {
    "gm": Architecture(
        name="gm",
        hypers=GMHypers,
        model=GaussianMomentModel,
        initialize=initialize_from_data,
    ),
    "pet": Architecture(
        name="pet",
        hypers=PETHypers,
        model=PointEdgeTransformer,
        initialize=initialize_pet,
        rotational_augmentation=True,
        symmetrize=symmetrize_pet,
    ),
    "wk": Architecture(
        name="wk",
        hypers=WKHypers,
        model=WignerKernelModel,
        fit=fit_wigner_kernel,
    ),
}


def get_architecture(name: str) -> Architecture:
    """Look up a family by name; unknown names raise a ValueError with suggestions."""
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    known = ", ".join(sorted(ARCHITECTURES))
    close = difflib.get_close_matches(name, list(ARCHITECTURES), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown architecture {name!r}; known: {known}.{hint}")


def unwrap_symmetrized(model: EnergyModel) -> tuple[EnergyModel, dict[str, Any] | None]:
    """The bare model and its symmetrization record (None when not symmetrized)."""
    if isinstance(model, SymmetrizedPET):
        return model.base, model.symmetrization.to_dict()
    return model, None


def architecture_of(model: EnergyModel) -> Architecture:
    """The registry entry whose model class ``model`` (or its bare model) is."""
    model, _ = unwrap_symmetrized(model)
    for architecture in ARCHITECTURES.values():
        if type(model) is architecture.model:
            return architecture
    raise ValueError(
        f"{type(model).__name__} is not a registered architecture "
        f"({', '.join(sorted(ARCHITECTURES))}); only registered families can be saved"
    )
