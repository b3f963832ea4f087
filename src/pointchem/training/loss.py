"""Loss terms of gradient training: per-atom energy, force and stress MSE."""

from __future__ import annotations

import torch

from ..evaluate import Prediction
from .batches import Batch
from .config import TrainingSettings

__all__ = ["loss_terms", "weighted_loss"]


def loss_terms(prediction: Prediction, batch: Batch) -> dict[str, torch.Tensor]:
    """Mean squared errors of one batch.

    Returns:
        ``energy`` (eV²/atom², error of E/N), ``forces`` (eV²/Å², per component) when
        the data has forces, ``stress`` (eV²/Å⁶, per component) when some system in
        the batch has a reference stress and the prediction has stress.
    """
    energy_error = (prediction.energy - batch.energy) / batch.atoms_per_system
    terms = {"energy": energy_error.pow(2).mean()}
    if batch.forces is not None and prediction.forces is not None:
        terms["forces"] = (prediction.forces - batch.forces).pow(2).mean()
    if prediction.stress is not None and bool(batch.has_stress.any()):
        difference = (prediction.stress - batch.stress)[batch.has_stress]
        terms["stress"] = difference.pow(2).mean()
    return terms


def weighted_loss(
    terms: dict[str, torch.Tensor], settings: TrainingSettings
) -> torch.Tensor:
    """Σ weight · term with the weights of ``settings``."""
    weights = {
        "energy": settings.energy_weight,
        "forces": settings.forces_weight,
        "stress": settings.stress_weight,
    }
    names = iter(terms)
    first = next(names)
    total = weights[first] * terms[first]
    for name in names:
        total = total + weights[name] * terms[name]
    return total
