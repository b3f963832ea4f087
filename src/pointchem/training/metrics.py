"""Errors of a model on reference data: tables, parity plots, prediction files."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import ase.io
import numpy as np
import torch
from ase.calculators.singlepoint import SinglePointCalculator
from ase.data import chemical_symbols

from ..evaluate import evaluate
from ..graph import atoms_to_graph
from ..models.base import EnergyModel
from .batches import BatchMaker
from .data import Sample

__all__ = [
    "Predictions",
    "dipole_metrics",
    "error_metrics",
    "format_metrics",
    "parity_plot",
    "predict",
    "predict_dipoles",
    "write_predictions",
]


@dataclasses.dataclass(frozen=True)
class Predictions:
    """Model predictions for a list of samples, in sample order.

    Attributes:
        energy: (n_samples,) eV.
        forces: list of (n_atoms_k, 3) arrays, eV/Å.
        stress: list of (3, 3) arrays, eV/Å³, or None for non-periodic samples.
    """

    energy: np.ndarray
    forces: list[np.ndarray]
    stress: list[np.ndarray | None]


def predict(
    model: EnergyModel, samples: Sequence[Sample], batch_size: int = 16
) -> Predictions:
    """Energies, forces and (3-D periodic) stresses of ``samples``.

    The model is used on its own device and dtype.
    """
    device = model.composition_energies.device
    maker = BatchMaker(samples, model.cutoff, model.dtype, device)
    energies: list[np.ndarray] = []
    forces: list[np.ndarray] = []
    stresses: list[np.ndarray | None] = []
    for batch in maker.batches(batch_size):
        periodic = bool(batch.graph.pbc.all())
        prediction = evaluate(model, batch.graph, forces=True, stress=periodic)
        assert prediction.forces is not None
        energies.append(prediction.energy.cpu().numpy())
        split = batch.graph.system_index.cpu().numpy()
        all_forces = prediction.forces.detach().cpu().double().numpy()
        forces += [all_forces[split == k] for k in range(batch.graph.n_systems)]
        if prediction.stress is None:
            stresses += [None] * batch.graph.n_systems
        else:
            stresses += list(prediction.stress.detach().cpu().double().numpy())
    return Predictions(np.concatenate(energies), forces, stresses)


def _mae_rmse(errors: np.ndarray) -> tuple[float, float]:
    return float(np.abs(errors).mean()), float(np.sqrt((errors**2).mean()))


def error_metrics(
    samples: Sequence[Sample], predictions: Predictions
) -> dict[str, float]:
    """Error statistics of predictions against the reference values.

    MAE and RMSE of energies (per atom, meV/atom; per structure, meV), force
    components (meV/Å, all and per element), stress (meV/Å³) where known, and the
    standard deviation of the reference force components (meV/Å).
    """
    counts = np.array([len(s.atoms) for s in samples])
    energy_error = predictions.energy - np.array([s.energy for s in samples])
    metrics = {"n_structures": float(len(samples))}
    for name, errors in (
        ("energy_per_atom", energy_error / counts),
        ("energy", energy_error),
    ):
        mae, rmse = _mae_rmse(errors * 1e3)
        metrics[f"{name}_mae"], metrics[f"{name}_rmse"] = mae, rmse
    if all(s.forces is not None for s in samples):
        reference = np.concatenate([s.forces for s in samples])
        errors = np.concatenate(predictions.forces) - reference
        metrics["forces_mae"], metrics["forces_rmse"] = _mae_rmse(errors * 1e3)
        metrics["forces_std"] = float(reference.std() * 1e3)
        numbers = np.concatenate([s.atoms.numbers for s in samples])
        for z in np.unique(numbers):
            mae, rmse = _mae_rmse(errors[numbers == z] * 1e3)
            metrics[f"forces_{chemical_symbols[z]}_mae"] = mae
            metrics[f"forces_{chemical_symbols[z]}_rmse"] = rmse
    with_stress = [
        (s.stress, p)
        for s, p in zip(samples, predictions.stress, strict=True)
        if s.stress is not None and p is not None
    ]
    if with_stress:
        errors = np.stack([p - s for s, p in with_stress])
        metrics["stress_mae"], metrics["stress_rmse"] = _mae_rmse(errors * 1e3)
    return metrics


def predict_dipoles(model: EnergyModel, samples: Sequence[Sample]) -> np.ndarray:
    """The dipole of each sample by a model with a dipole head, (n, 3) float64 e·Å.

    Raises:
        ValueError: the model predicts no dipole.
    """
    if not getattr(model, "predicts_dipole", False):
        raise ValueError(f"{type(model).__name__} predicts no dipole")
    device = model.composition_energies.device
    predicted = []
    with torch.no_grad():
        for sample in samples:
            graph = atoms_to_graph(sample.atoms, model.cutoff, model.dtype, device)
            dipole = model.dipole_moment(graph)  # type: ignore[operator]
            predicted.append(dipole[0].cpu().to(torch.float64).numpy())
    return np.array(predicted).reshape(len(samples), 3)


def dipole_metrics(
    samples: Sequence[Sample], predicted: np.ndarray
) -> dict[str, float]:
    """Dipole errors in e·Å against the samples' reference dipoles.

    ``dipole_mae``/``dipole_rmse`` are over structures and components x, y, z;
    ``dipole_vector_mae`` is the mean length |Δμ| of the error vector, and
    ``dipole_std`` the standard deviation of the reference components.

    Raises:
        ValueError: a sample has no reference dipole.
    """
    missing = [s.source for s in samples if s.dipole is None]
    if missing:
        raise ValueError(f"no reference dipole for {missing[0]} (data.dipole_key)")
    reference = np.array([s.dipole for s in samples]).reshape(len(samples), 3)
    error = predicted - reference
    mae, rmse = _mae_rmse(error)
    return {
        "dipole_mae": mae,
        "dipole_rmse": rmse,
        "dipole_vector_mae": float(np.linalg.norm(error, axis=1).mean()),
        "dipole_std": float(reference.std()),
    }


_UNITS = {
    "energy_per_atom": "meV/atom",
    "energy": "meV",
    "forces": "meV/Å",
    "stress": "meV/Å³",
    "dipole": "e·Å",
    "dipole_vector": "e·Å",
}


def format_metrics(metrics: dict[str, float]) -> str:
    """A plain-text table of :func:`error_metrics` (one row per quantity)."""
    lines = [f"{'quantity':<22}{'MAE':>12}{'RMSE':>12}  unit", "-" * 56]
    for key in metrics:
        if not key.endswith("_mae"):
            continue
        name = key[: -len("_mae")]
        unit = _UNITS.get(name, "meV/Å")  # per-element rows are forces
        digits = 5 if name.startswith("dipole") else 3  # e·Å errors are ~1e-3
        rmse = metrics.get(f"{name}_rmse")
        rmse_text = "—" if rmse is None else f"{rmse:.{digits}f}"
        lines.append(f"{name:<22}{metrics[key]:>12.{digits}f}{rmse_text:>12}  {unit}")
    if "forces_std" in metrics:
        lines.append(
            f"(reference force std {metrics['forces_std']:.1f} meV/Å, "
            f"{int(metrics['n_structures'])} structures)"
        )
    return "\n".join(lines)


def parity_plot(
    samples: Sequence[Sample],
    predictions: Predictions,
    path: str | Path,
    title: str = "",
) -> None:
    """Save a PNG with energy-per-atom and force-component parity panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array([len(s.atoms) for s in samples])
    reference = np.array([s.energy for s in samples]) / counts
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    _parity_panel(axes[0], reference, predictions.energy / counts, "energy (eV/atom)")
    if all(s.forces is not None for s in samples):
        force_reference = np.concatenate([s.forces for s in samples]).ravel()
        force_predicted = np.concatenate(predictions.forces).ravel()
        _parity_panel(
            axes[1], force_reference, force_predicted, "force component (eV/Å)"
        )
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)


def _parity_panel(
    axis: object, reference: np.ndarray, predicted: np.ndarray, label: str
) -> None:
    low = min(reference.min(), predicted.min())
    high = max(reference.max(), predicted.max())
    axis.plot([low, high], [low, high], color="grey", lw=0.8)  # type: ignore[attr-defined]
    axis.scatter(reference, predicted, s=4, alpha=0.5)  # type: ignore[attr-defined]
    mae = np.abs(predicted - reference).mean()
    unit = label[label.index("(") + 1 : label.index(")")]
    axis.set_title(f"MAE {mae:.4g} {unit}")  # type: ignore[attr-defined]
    axis.set_xlabel(f"reference {label}")  # type: ignore[attr-defined]
    axis.set_ylabel(f"predicted {label}")  # type: ignore[attr-defined]


def write_predictions(
    samples: Sequence[Sample], predictions: Predictions, path: str | Path
) -> None:
    """Write predictions as extxyz frames, with the reference values beside them.

    Predicted energy/forces/stress are the frames' results; reference values are
    stored under ``ref_energy``, ``ref_forces``, ``ref_stress`` (eV, Å).
    """
    frames = []
    for k, sample in enumerate(samples):
        atoms = sample.atoms.copy()
        atoms.info["ref_energy"] = sample.energy
        atoms.info["source"] = sample.source
        if sample.forces is not None:
            atoms.arrays["ref_forces"] = sample.forces
        if sample.stress is not None:
            atoms.info["ref_stress"] = sample.stress.reshape(-1)
        results = {
            "energy": float(predictions.energy[k]),
            "forces": predictions.forces[k],
        }
        if predictions.stress[k] is not None:
            results["stress"] = predictions.stress[k]
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")
