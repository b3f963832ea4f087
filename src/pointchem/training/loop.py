"""Gradient training shared by the neural families, as a few named steps.

``train(config, output_dir)`` reads the data, builds the model, fits the composition
baseline, optimises with AdamW (warm-up, decay, clipping, EMA of weights), validates,
stops early, writes restart checkpoints, and finally saves the potential, the
resolved config, test metrics, a CSV log and a learning-curve PNG.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..devices import resolve_device
from ..evaluate import evaluate
from ..graph import AtomicGraph, atoms_to_graph
from ..models.base import EnergyModel
from ..registry import architecture_of, get_architecture, unwrap_symmetrized
from ..serialization import load_potential, save_potential
from .batches import BatchMaker, random_orthogonal
from .config import TrainConfig, TrainingSettings
from .data import Sample, file_sha256, read_samples, split_samples
from .log import TrainingLog
from .loss import loss_terms, weighted_loss
from .metrics import (
    dipole_metrics,
    error_metrics,
    format_metrics,
    parity_plot,
    predict,
    predict_dipoles,
)

__all__ = ["DataSplits", "TrainingState", "load_splits", "train"]

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
POTENTIAL = "potential.pt"
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_LOGGED = ("energy_per_atom_mae", "energy_per_atom_rmse", "forces_mae", "forces_rmse")


@dataclasses.dataclass
class DataSplits:
    """Training, validation and test samples (eV, Å)."""

    train: list[Sample]
    validation: list[Sample]
    test: list[Sample]


@dataclasses.dataclass
class TrainingState:
    """Everything besides model and optimizer that a restart must restore."""

    epoch: int = 0
    best_metric: float = math.inf
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    best_state: dict[str, torch.Tensor] | None = None


def load_splits(config: TrainConfig) -> DataSplits:
    """Read the files of ``config.data`` and split off validation/test as configured."""
    data = config.data
    wants_dipole = _wants_dipole(config)
    if data.dipole_key is not None and not wants_dipole:
        raise ValueError(
            f"data.dipole_key is set, but the {config.architecture!r} model predicts "
            "no dipole; dipole targets are for WK with model.dipole: true"
        )
    if wants_dipole and data.dipole_key is None:
        raise ValueError(
            "model.dipole is true: set data.dipole_key to the info key of the "
            "reference dipoles (e·length_unit)"
        )
    train = read_samples(data.train, data)
    fractions = [
        0.0 if data.validation else data.validation_fraction,
        0.0 if data.test else data.test_fraction,
    ]
    train, validation, test = split_samples(train, fractions, data.split_seed)
    if data.validation:
        validation = read_samples(data.validation, data)
    if data.test:
        test = read_samples(data.test, data)
    if not validation:
        raise ValueError("no validation structures: give data.validation or a fraction")
    return DataSplits(train, validation, test)


def _wants_dipole(config: TrainConfig) -> bool:
    """Whether the configured model has a dipole head (WK's ``model.dipole``)."""
    return bool(getattr(config.model, "dipole", False))


def build_model(config: TrainConfig, samples: list[Sample]) -> EnergyModel:
    """Instantiate the configured family for the elements present in ``samples``."""
    numbers = sorted({int(z) for s in samples for z in s.atoms.numbers})
    architecture = get_architecture(config.architecture)
    torch.manual_seed(config.training.seed)
    model = architecture.model(config.model, numbers)  # type: ignore[call-arg]
    return model.to(dtype=_DTYPES[config.training.dtype])


def _composition_counts(model: EnergyModel, samples: list[Sample]) -> np.ndarray:
    """(n_samples, n_species) number of atoms of each element the model knows."""
    counts = np.zeros((len(samples), model.n_species))
    for row, sample in enumerate(samples):
        species = model.species_of_atomic_number[torch.as_tensor(sample.atoms.numbers)]
        np.add.at(counts[row], species.numpy(), 1.0)
    return counts


def fit_composition_baseline(model: EnergyModel, samples: list[Sample]) -> None:
    """Least-squares energy per element: E ≈ Σ_Z n_Z e_Z (minimum-norm solution)."""
    counts = _composition_counts(model, samples)
    energies = np.array([s.energy for s in samples])
    solution, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    with torch.no_grad():
        model.composition_energies.copy_(torch.as_tensor(solution))


def refit_composition_baseline(
    model: EnergyModel, samples: list[Sample], batch_size: int
) -> float:
    """Absorb the trained model's mean energy residual per element into the baseline.

    Solves Σ_Z n_Z δ_Z ≈ E_ref − E_model over ``samples`` (least squares, minimum
    norm) and adds δ to ``composition_energies``: forces do not change, energies
    lose the part of their error that is linear in the composition. When forces
    dominate the loss, a trained model can keep such an offset (ethanol PET: 22 meV
    per molecule on validation and test alike).

    Returns:
        The RMS of δ·n over the samples, eV per structure (the correction applied).
    """
    counts = _composition_counts(model, samples)
    predicted = predict(model, samples, batch_size).energy
    residual = np.array([s.energy for s in samples]) - predicted
    correction, *_ = np.linalg.lstsq(counts, residual, rcond=None)
    with torch.no_grad():
        model.composition_energies.add_(
            torch.as_tensor(correction, device=model.composition_energies.device)
        )
    return float(np.sqrt(np.mean((counts @ correction) ** 2)))


class _Optimisation:
    """AdamW with warm-up and decay per step, gradient clipping and an EMA copy."""

    def __init__(
        self, model: EnergyModel, settings: TrainingSettings, steps_per_epoch: int
    ):
        self.model = model
        self.settings = settings
        self.optimizer = torch.optim.AdamW(
            model.parameters(),
            lr=settings.learning_rate,
            weight_decay=settings.weight_decay,
        )
        self.warmup_steps = settings.warmup_epochs * steps_per_epoch
        self.total_steps = settings.epochs * steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._factor)
        self.ema = None
        if settings.ema_decay is not None:
            average = get_ema_multi_avg_fn(settings.ema_decay)
            self.ema = AveragedModel(model, multi_avg_fn=average, use_buffers=True)

    def _factor(self, step: int) -> float:
        settings = self.settings
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(
            1, self.total_steps - self.warmup_steps
        )
        progress = min(1.0, progress)
        floor = settings.min_learning_rate / settings.learning_rate
        if settings.schedule == "constant":
            return 1.0
        if settings.schedule == "linear":
            return 1.0 - (1.0 - floor) * progress
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.settings.gradient_clip is not None:
            torch.nn.utils.clip_grad_norm_(
                self.model.parameters(), self.settings.gradient_clip
            )
        self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    @property
    def evaluation_model(self) -> EnergyModel:
        """The EMA model when there is one, else the trained model."""
        return self.ema.module if self.ema is not None else self.model  # type: ignore[return-value]

    def state_dict(self) -> dict[str, Any]:
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])


def _train_epoch(
    model: EnergyModel,
    maker: BatchMaker,
    optimisation: _Optimisation,
    epoch: int,
    augment: bool,
) -> dict[str, float]:
    settings = optimisation.settings
    generator = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
    model.train()
    sums: dict[str, float] = {}
    n_batches = 0
    for batch in maker.batches(settings.batch_size, generator):
        if augment:
            batch = batch.rotated(random_orthogonal(batch.graph.n_systems, generator))
        periodic = bool(batch.has_stress.all()) and settings.stress_weight > 0
        prediction = evaluate(
            model, batch.graph, forces=maker.has_forces, stress=periodic, training=True
        )
        terms = loss_terms(prediction, batch)
        loss = weighted_loss(terms, settings)
        optimisation.step(loss)
        for name, value in {"loss": loss, **terms}.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach())
        n_batches += 1
    return {f"train_{name}": value / n_batches for name, value in sums.items()}


def _validation_metric(metrics: dict[str, float], settings: TrainingSettings) -> float:
    """Weighted sum of energy-per-atom and force MAEs (eV units) used for selection.

    MAEs rather than RMSEs: with rattled or high-temperature frames in the validation
    set, RMSEs are dominated by a few frames and stopped training that was still
    improving (seen on the ethanol GFN2-xTB data).
    """
    metric = settings.energy_weight * metrics["energy_per_atom_mae"] * 1e-3
    if "forces_mae" in metrics:
        metric += settings.forces_weight * metrics["forces_mae"] * 1e-3
    return metric


def _validate(
    model: EnergyModel, samples: list[Sample], batch_size: int
) -> dict[str, float]:
    model.eval()
    return error_metrics(samples, predict(model, samples, batch_size))


def _save_checkpoint(
    path: Path, model: EnergyModel, optimisation: _Optimisation, state: TrainingState
) -> None:
    content = {
        "model": model.state_dict(),
        "optimisation": optimisation.state_dict(),
        "state": dataclasses.asdict(state),
    }
    temporary = path.with_suffix(".tmp")
    torch.save(content, temporary)
    temporary.replace(path)


def _load_checkpoint(
    path: Path, model: EnergyModel, optimisation: _Optimisation
) -> TrainingState:
    if not path.exists():
        raise FileNotFoundError(f"--restart: no checkpoint at {path}")
    content = torch.load(
        path, map_location=model.composition_energies.device, weights_only=True
    )
    model.load_state_dict(content["model"])
    optimisation.load_state_dict(content["optimisation"])
    return TrainingState(**content["state"])


def _update_best(
    state: TrainingState, metric: float, model: EnergyModel, epoch: int
) -> None:
    if metric < state.best_metric:
        state.best_metric, state.best_epoch = metric, epoch
        state.epochs_without_improvement = 0
        state.best_state = {
            k: v.detach().clone() for k, v in model.state_dict().items()
        }
    else:
        state.epochs_without_improvement += 1


def _should_stop(state: TrainingState, settings: TrainingSettings, start: float) -> str:
    patience = settings.early_stopping_patience
    if patience is not None and state.epochs_without_improvement >= patience:
        return f"no validation improvement for {patience} validations"
    if (
        settings.max_time_s is not None
        and time.perf_counter() - start > settings.max_time_s
    ):
        return f"time budget of {settings.max_time_s} s reached"
    return ""


def _prepare(
    config: TrainConfig, splits: DataSplits, device: torch.device
) -> EnergyModel:
    if config.training.initial_potential is not None:
        model = _initial_model(config, splits.train)
    else:
        model = build_model(config, splits.train)
        fit_composition_baseline(model, splits.train)
        initialize = get_architecture(config.architecture).initialize
        if initialize is not None:
            initialize(model, splits.train)
    if config.training.train_symmetrized:
        model = _symmetrized(config, model, wanted=True)
    return model.to(device=device)


def _initial_model(config: TrainConfig, samples: list[Sample]) -> EnergyModel:
    """The bare model of ``training.initial_potential``, checked against the config."""
    path = config.training.initial_potential
    assert path is not None
    model = load_potential(path, symmetrize=False)
    name = get_architecture(config.architecture).name
    stored = architecture_of(model).name
    if stored != name or model.hypers != config.model:
        raise ValueError(
            f"initial_potential {path} is {stored} with {model.hypers}, but the "
            f"config asks for {name} with {config.model}"
        )
    numbers = {int(z) for s in samples for z in s.atoms.numbers}
    missing = sorted(numbers - set(model.atomic_numbers))
    if missing:
        raise ValueError(f"initial_potential {path} does not know elements {missing}")
    return model.to(dtype=_DTYPES[config.training.dtype])


def _finish(
    config: TrainConfig,
    output: Path,
    model: EnergyModel,
    splits: DataSplits,
    state: TrainingState,
    log: TrainingLog,
) -> dict[str, Any]:
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    model.eval()
    shift = refit_composition_baseline(model, splits.train, config.training.batch_size)
    logger.info("composition baseline refitted: %.3g meV per structure", shift * 1e3)
    model = _symmetrized(config, model)
    resolved = config.to_dict()
    (output / "config.yaml").write_text(
        yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
    )
    metadata = {
        "training_config": resolved,
        "training_data_sha256": file_sha256(config.data.train),
        "best_epoch": state.best_epoch,
        "training_wall_time_s": log.elapsed_s,
        "training_device": str(model.composition_energies.device),
    }
    save_potential(model, output / POTENTIAL, metadata=metadata)
    summary: dict[str, Any] = {
        "best_epoch": state.best_epoch,
        "epochs_run": state.epoch,
        "training_wall_time_s": log.elapsed_s,
    }
    for name, samples in (("validation", splits.validation), ("test", splits.test)):
        if samples:
            predictions = predict(model, samples, config.training.batch_size)
            summary[name] = error_metrics(samples, predictions)
            parity_plot(samples, predictions, output / f"parity_{name}.png", title=name)
            logger.info("%s errors:\n%s", name, format_metrics(summary[name]))
    (output / "metrics.json").write_text(json.dumps(summary, indent=2))
    log.plot(output / "learning_curve.png")
    return summary


def _symmetrized(
    config: TrainConfig, model: EnergyModel, wanted: bool | None = None
) -> EnergyModel:
    """The model wrapped in its family's symmetrization, if wanted and not yet.

    ``wanted`` None: ``training.symmetrize`` (None there: yes where the family has
    a symmetrization).
    """
    architecture = get_architecture(config.architecture)
    if wanted is None:
        wanted = config.training.symmetrize
    if wanted is None:
        wanted = architecture.symmetrize is not None
    bare, record = unwrap_symmetrized(model)
    if not wanted:
        return bare
    if record is not None:
        return model
    if architecture.symmetrize is None:
        raise ValueError(
            f"training.symmetrize is true, but architecture {architecture.name!r} "
            "has no symmetrization (it is invariant by construction)"
        )
    logger.info("the potential is saved and scored with its symmetrization (ECSE)")
    return architecture.symmetrize(model, None)


def _references(
    samples: list[Sample], model: EnergyModel, device: torch.device
) -> list[tuple[AtomicGraph, float, torch.Tensor | None]]:
    """(graph, energy eV, forces eV/Å or None) of each sample, in the model's dtype."""
    return [
        (
            atoms_to_graph(s.atoms, model.cutoff, model.dtype, device),
            s.energy,
            None if s.forces is None else torch.as_tensor(s.forces).to(model.dtype),
        )
        for s in samples
    ]


def _fit_directly(
    config: TrainConfig,
    output: Path,
    splits: DataSplits,
    device: torch.device,
    progress: bool,
) -> dict[str, Any]:
    """Families fitted without gradient steps (WK): baseline, one ``fit`` call."""
    architecture = get_architecture(config.architecture)
    assert architecture.fit is not None
    model = build_model(config, splits.train)
    if model.dtype not in model.supported_dtypes:
        raise ValueError(
            f"architecture {architecture.name!r} supports {model.supported_dtypes}, "
            f"not training.dtype {config.training.dtype!r}"
        )
    fit_composition_baseline(model, splits.train)
    model = model.to(device=device)
    log = TrainingLog(output / "log.csv", 1, progress=progress)
    dipoles: dict[str, list[torch.Tensor]] = {}
    if _wants_dipole(config):
        dipoles = {
            "train_dipoles": _dipoles(splits.train, model, device),
            "validation_dipoles": _dipoles(splits.validation, model, device),
        }
    model, report = architecture.fit(
        model,
        _references(splits.train, model, device),
        _references(splits.validation, model, device),
        progress=progress,
        **dipoles,
    )
    log.record(1, report)
    log.close()
    state = TrainingState(epoch=1, best_epoch=1)
    summary = _finish(config, output, model, splits, state, log)
    if dipoles:
        _add_dipole_metrics(summary, model, splits, output)
    return summary


def _dipoles(
    samples: list[Sample], model: EnergyModel, device: torch.device
) -> list[torch.Tensor]:
    """Reference dipole (3,) e·Å of each sample, in the model's dtype."""
    missing = [s.source for s in samples if s.dipole is None]
    if missing:
        raise ValueError(f"no reference dipole for {missing[0]} (data.dipole_key)")
    return [
        torch.as_tensor(s.dipole, dtype=model.dtype, device=device) for s in samples
    ]


def _add_dipole_metrics(
    summary: dict[str, Any], model: EnergyModel, splits: DataSplits, output: Path
) -> None:
    """Dipole errors (e·Å) of validation and test into ``summary`` and metrics.json.

    The errors are those of :func:`~pointchem.training.metrics.dipole_metrics`.
    """
    for name, samples in (("validation", splits.validation), ("test", splits.test)):
        if not samples:
            continue
        metrics = dipole_metrics(samples, predict_dipoles(model, samples))
        summary.setdefault(name, {}).update(metrics)
        logger.info(
            "%s dipole MAE: %.4g e·Å per component, %.4g e·Å |Δμ|",
            name,
            metrics["dipole_mae"],
            metrics["dipole_vector_mae"],
        )
    (output / "metrics.json").write_text(json.dumps(summary, indent=2))


def train(
    config: TrainConfig,
    output_dir: str | Path,
    *,
    restart: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a potential; returns the metrics written to ``metrics.json``.

    Args:
        config: the resolved configuration.
        output_dir: where the potential, config, log, plots and checkpoints go.
        restart: resume from ``output_dir/checkpoint.pt`` (bit-for-bit in float64 on
            CPU: same weights as an uninterrupted run).
        progress: show a progress line on stderr.
    """
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    settings = config.training
    device = resolve_device(settings.device)
    splits = load_splits(config)
    if get_architecture(config.architecture).fit is not None:
        return _fit_directly(config, output, splits, device, progress)
    model = _prepare(config, splits, device)
    dtype = _DTYPES[settings.dtype]
    train_maker = BatchMaker(splits.train, model.cutoff, dtype, device)
    steps_per_epoch = math.ceil(len(train_maker) / settings.batch_size)
    optimisation = _Optimisation(model, settings, steps_per_epoch)
    augment = settings.rotational_augmentation
    if augment is None:
        augment = get_architecture(config.architecture).rotational_augmentation
    augment = augment and not settings.train_symmetrized
    state = TrainingState()
    if restart:
        state = _load_checkpoint(output / CHECKPOINT, model, optimisation)
    log = TrainingLog(output / "log.csv", settings.epochs, progress=progress)
    if restart:
        log.resume(state.epoch)
    start = time.perf_counter()
    while state.epoch < settings.epochs:
        row = _train_epoch(model, train_maker, optimisation, state.epoch, augment)
        state.epoch += 1
        if (
            state.epoch % settings.validation_interval == 0
            or state.epoch == settings.epochs
        ):
            metrics = _validate(
                optimisation.evaluation_model, splits.validation, settings.batch_size
            )
            row.update({f"validation_{k}": metrics[k] for k in _LOGGED if k in metrics})
            metric = _validation_metric(metrics, settings)
            _update_best(state, metric, optimisation.evaluation_model, state.epoch)
        row["learning_rate"] = float(optimisation.scheduler.get_last_lr()[0])
        log.record(state.epoch, row)
        reason = _should_stop(state, settings, start)
        if (
            state.epoch % settings.checkpoint_interval == 0
            or reason
            or state.epoch == settings.epochs
        ):
            _save_checkpoint(output / CHECKPOINT, model, optimisation, state)
        if reason:
            logger.info("stopping after epoch %d: %s", state.epoch, reason)
            break
    log.close()
    return _finish(config, output, optimisation.evaluation_model, splits, state, log)
