r"""Train metatrain's PET within a wall-clock budget (peer side of train_vs_metatrain).

Runs inside metatrain's own virtual environment (``benchmarks/out/.venv-metatrain``),
started through ``benchmarks/peers/metatrain_train.sh``, which creates that
environment, sets one thread, pins the process to one core with taskset and puts
``benchmarks/`` on ``PYTHONPATH``. ``train_vs_metatrain.py`` calls it; by hand::

    bash benchmarks/peers/metatrain_train.sh train --train T.xyz --valid V.xyz \\
        --workdir benchmarks/out/train_vs_metatrain/metatrain --budget-s 1200
    bash benchmarks/peers/metatrain_train.sh quick --workdir benchmarks/out/metatrain

Subcommands:

- ``train``: metatrain's PET with its default hyperparameters (``mtt train`` with an
  options file naming only the data sets: ``energy`` in eV from ``atoms.info`` /
  the calculator, ``forces`` in eV/Å; lengths in Å; float32, metatrain's default)
  on the given training and validation files. What is set besides the data:
  ``seed``, ``device: cpu``, ``architecture.model.cutoff`` only if ``--cutoff`` is
  given (metatrain's default is 4.5 Å), and the stopping criteria:

  * ``training.num_epochs``: metatrain's cosine learning-rate schedule (with 1 %
    warm-up) spans ``num_epochs``. With ``--epochs auto`` (default) a short probe run
    (``--probe-epochs``, outside the budget) measures the time per epoch and
    ``num_epochs`` = budget / fastest probe epoch after the first, so that the
    schedule would end with the budget, as for pointchem in ``train_vs_apax.py``
    (metatrain's default, 1000 epochs, would keep the learning rate near its peak
    for the whole budget). ``--epochs N`` sets it explicitly.
  * a wall-clock budget, which metatrain does not have: :class:`BudgetTrainer`
    (a subclass of metatrain's PET ``Trainer``; nothing of metatrain is patched)
    ends training after the first epoch that ends past ``--budget-s``, counted
    from the start of metatrain's epoch loop (after data loading, composition and
    scaler fits and data-loader setup, which are reported separately). It uses
    metatrain's own per-epoch hook: with ``training.checkpoint_interval: 1`` the
    trainer calls ``save_checkpoint`` at the end of every epoch, after validation
    and after it has kept the best model so far. The subclass does not write those
    per-epoch files (the default interval, 100 epochs, writes none in budgets like
    ours); it raises :class:`BudgetReached` there, which the caller catches.

  The model kept is metatrain's best-validation model (its default selection metric,
  the product of the energy and force MAEs). It is written like ``mtt train`` does:
  ``model.ckpt`` (checkpoint with the best state), ``model-float32.pt`` (TorchScript
  model exported by ``mtt export``'s ``export_model``) and ``model-float64.pt`` (the
  same weights cast to float64 and exported, for float64 timings: metatomic's ASE
  calculator runs a model in the dtype it was exported with). Also written:
  ``options.yaml`` (the expanded options, metatrain's defaults included),
  ``summary.json`` (epochs, times, per-epoch validation metrics, best epoch), and
  metatrain's own logs next to the work directory, ``WORKDIR-train.log`` and
  ``WORKDIR-train.csv`` (the probe run's epochs first).
- ``quick``: a model for timing only (speed does not depend on training): one epoch
  on 20 rattled ethanol frames labelled with ASE's EMT, same defaults and export.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import resource
import shutil
import statistics
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import ase.io
import metatensor.torch
import metatomic.torch
import metatrain
import numpy as np
import torch
from ase.calculators.emt import EMT
from metatrain.cli.export import export_model
from metatrain.pet import PET, Trainer
from metatrain.utils.architectures import (
    check_architecture_options,
    get_default_hypers,
)
from metatrain.utils.data import DatasetInfo, get_atomic_types, get_dataset
from metatrain.utils.io import load_model
from metatrain.utils.logging import ROOT_LOGGER, setup_logging
from metatrain.utils.omegaconf import (
    BASE_OPTIONS,
    expand_dataset_config,
    expand_loss_config,
)
from metatrain.utils.pydantic import validate_base_options
from omegaconf import OmegaConf
from systems import ethanol

LOOP_START_MESSAGE = "Starting training"
"""What metatrain's trainer logs right before its epoch loop."""

CHECKPOINT = "model.ckpt"
EXPORTED = {"float32": "model-float32.pt", "float64": "model-float64.pt"}
"""Exported model files in a work directory, by dtype."""

N_QUICK = (20, 4)
"""Training and validation frames of the ``quick`` model."""


class Datasets(NamedTuple):
    """metatrain data sets (one each) and its description of their targets."""

    train: list
    valid: list
    info: DatasetInfo


class BudgetReached(Exception):
    """Raised by :class:`BudgetTrainer` after the epoch that ends past the budget."""


class EpochRecorder(logging.Handler):
    """Notes when metatrain's epoch loop starts and keeps its per-epoch metrics.

    On the root logger it sees metatrain's "Starting training" record; on metatrain's
    logger it receives the metrics of every epoch through ``emit_data``, the interface
    that metatrain's ``CustomLogger.data`` offers handlers (its CSV log uses the same),
    with values in the units metatrain prints (meV, meV/Å).
    """

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.loop_start: float | None = None
        self.rows: list[dict[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the time of the first loop-start record."""
        if self.loop_start is None and record.getMessage() == LOOP_START_MESSAGE:
            self.loop_start = time.perf_counter()

    def emit_data(self, keys: list[str], values: list[str], units: list[str]) -> None:
        """One epoch's metrics, as metatrain's logger hands them out."""
        row = {}
        for key, value, unit in zip(keys, values, units, strict=True):
            if key == "Epoch":  # 0-based; the trainer's rows count from 1
                continue
            name = "_".join(key.lower().replace("(", "").replace(")", "").split())
            suffix = unit.replace("/", "_per_")
            row[f"{name}_{suffix}" if unit else name] = float(value)
        self.rows.append(row)

    @contextlib.contextmanager
    def attached(self) -> Iterator[EpochRecorder]:
        """Listen to the root and metatrain loggers within the ``with`` block."""
        loggers = (logging.getLogger(), ROOT_LOGGER)
        for logger in loggers:
            logger.addHandler(self)
        try:
            yield self
        finally:
            for logger in loggers:
                logger.removeHandler(self)


class BudgetTrainer(Trainer):
    """metatrain's PET trainer, ended by a wall-clock budget on its epoch loop.

    Needs ``checkpoint_interval: 1`` in the training hypers: metatrain then calls
    :meth:`save_checkpoint` at the end of every epoch, with the epoch's validation
    done and the best model kept. That call records the epoch and raises
    :class:`BudgetReached` once the loop has run longer than ``budget_s``; it writes
    no file. :meth:`write_checkpoint` writes a real checkpoint (metatrain's).
    """

    def __init__(self, hypers: dict, budget_s: float | None) -> None:
        super().__init__(hypers)
        self.budget_s = budget_s
        self.recorder = EpochRecorder()
        self.train_called: float | None = None
        self.epochs: list[dict[str, Any]] = []

    def train(self, *args: Any, **kwargs: Any) -> None:
        """Run metatrain's ``train``, listened to, with the time of the call noted."""
        self.train_called = time.perf_counter()
        with self.recorder.attached():
            super().train(*args, **kwargs)

    def elapsed(self) -> float:
        """Seconds since the epoch loop began (since ``train`` if that was not seen)."""
        start = self.recorder.loop_start or self.train_called
        return 0.0 if start is None else time.perf_counter() - start

    def save_checkpoint(self, model: Any, path: str | Path) -> None:
        """At metatrain's end-of-epoch call: record the epoch, stop past the budget."""
        elapsed = self.elapsed()
        previous = self.epochs[-1]["elapsed_s"] if self.epochs else 0.0
        row: dict[str, Any] = {
            "epoch": self.epoch + 1,
            "elapsed_s": elapsed,
            "epoch_s": elapsed - previous,
            "best_epoch": self.best_epoch + 1,
        }
        if self.recorder.rows:
            row.update(self.recorder.rows[-1])
        self.epochs.append(row)
        if self.budget_s is not None and elapsed > self.budget_s:
            raise BudgetReached(f"budget of {self.budget_s} s reached")

    def write_checkpoint(self, model: Any, path: str | Path) -> None:
        """Write metatrain's checkpoint (last and best state) to ``path``."""
        super().save_checkpoint(model, path)


def dataset_options(path: Path) -> dict:
    """A metatrain data set: energies (eV) and forces (eV/Å) of an extxyz file."""
    return {
        "systems": {"read_from": str(path), "length_unit": "angstrom"},
        "targets": {
            "energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}
        },
    }


def resolve_options(args: argparse.Namespace, num_epochs: int) -> Any:
    """What ``mtt train`` makes of our options file: metatrain's defaults filled in."""
    architecture: dict[str, Any] = {
        "name": "pet",
        "training": {"num_epochs": num_epochs, "checkpoint_interval": 1},
    }
    if args.cutoff is not None:
        architecture["model"] = {"cutoff": args.cutoff}
    options = {
        "seed": args.seed,
        "device": "cpu",
        "base_precision": 32,
        "architecture": architecture,
        "training_set": dataset_options(args.train),
        "validation_set": dataset_options(args.valid),
        "test_set": 0.0,
    }
    options = OmegaConf.create(validate_base_options(options))
    options = OmegaConf.merge(
        BASE_OPTIONS, {"architecture": get_default_hypers("pet")}, options
    )
    check_architecture_options(
        name="pet", options=OmegaConf.to_container(options["architecture"])
    )
    for name in ("training_set", "validation_set"):
        options[name] = expand_dataset_config(options[name])
    return expand_loss_config(options)


def load_datasets(options: Any) -> Datasets:
    """Training and validation data sets and metatrain's description of them."""
    train, targets, _ = get_dataset(options["training_set"][0])
    valid, _, _ = get_dataset(options["validation_set"][0])
    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=get_atomic_types([train, valid]),
        targets=targets,
    )
    return Datasets([train], [valid], info)


def run_trainer(
    options: Any, data: Datasets, budget_s: float | None, workdir: Path
) -> tuple[BudgetTrainer, PET]:
    """Seed like ``mtt train``, build PET and train it until done or out of budget."""
    seed = options["seed"]
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (what mtt train seeds; PET may use it)
    random.seed(seed)
    hypers = OmegaConf.to_container(options["architecture"], resolve=True)
    model = PET(hypers["model"], data.info)
    trainer = BudgetTrainer(hypers["training"], budget_s)
    try:
        trainer.train(
            model=model,
            dtype=torch.float32,
            devices=[torch.device("cpu")],
            train_datasets=data.train,
            val_datasets=data.valid,
            checkpoint_dir=str(workdir),
        )
    except BudgetReached as stop:
        logging.info("metatrain stopped: %s", stop)
    return trainer, model


def planned_epochs(args: argparse.Namespace, data: Datasets) -> dict[str, Any]:
    """``num_epochs`` from ``--epochs``, or from a probe run (``--epochs auto``)."""
    if args.epochs != "auto":
        return {"epochs_planned": int(args.epochs)}
    probe_dir = args.workdir / "probe"
    probe_dir.mkdir()
    options = resolve_options(args, args.probe_epochs)
    trainer, _ = run_trainer(options, data, None, probe_dir)
    probe = [row["epoch_s"] for row in trainer.epochs]
    seconds = min(probe[1:] or probe)  # the first epoch has one-off costs
    epochs = max(1, int(args.budget_s // seconds))
    print(f"metatrain probe: {seconds:.2f} s/epoch -> {epochs} epochs", flush=True)
    return {
        "epochs_planned": epochs,
        "probe_s_per_epoch": seconds,
        "probe_epoch_s": probe,
    }


def export_both(workdir: Path) -> dict[str, str]:
    """``mtt export`` of the checkpoint (float32), and a float64 copy of it."""
    checkpoint = workdir / CHECKPOINT
    paths = {dtype: workdir / name for dtype, name in EXPORTED.items()}
    export_model(checkpoint, paths["float32"])
    model = load_model(checkpoint).to(torch.float64)
    model.export().save(str(paths["float64"]))
    return {dtype: str(path) for dtype, path in paths.items()}


def versions() -> dict[str, Any]:
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metatrain": metatrain.__version__,
        "metatomic_torch": metatomic.torch.__version__,
        "metatensor_torch": metatensor.torch.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "pinned_core": os.environ.get("METATRAIN_PINNED_CORE"),
    }


def summarize(
    args: argparse.Namespace, trainer: BudgetTrainer, run: dict[str, Any]
) -> dict[str, Any]:
    """Times, epochs and the best epoch's validation metrics of a training run."""
    epochs = trainer.epochs
    if not epochs:
        raise SystemExit("metatrain completed no epoch")
    loop_s = epochs[-1]["elapsed_s"]
    best = next(row for row in epochs if row["epoch"] == trainer.best_epoch + 1)
    batch_size = trainer.hypers["batch_size"]
    return {
        **versions(),
        "budget_s": args.budget_s,
        **run,
        "epochs_completed": epochs[-1]["epoch"],
        "best_epoch": best["epoch"],
        "validation": {k: v for k, v in best.items() if k.startswith("validation")},
        "training_loop_s": loop_s,
        "setup_and_finish_s": run["total_s"] - loop_s,
        "first_epoch_s": epochs[0]["epoch_s"],
        "median_epoch_s": statistics.median(row["epoch_s"] for row in epochs),
        "steps_per_epoch": -(-args.n_train // batch_size),
        "batch_size": batch_size,
        "final_learning_rate": epochs[-1].get("learning_rate"),
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "log": epochs,
    }


def train_and_export(args: argparse.Namespace) -> dict[str, Any]:
    """Probe (if asked), train within the budget, write checkpoint and models."""
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True)
    options = resolve_options(args, 1)
    data = load_datasets(options)
    args.n_train = len(data.train[0])
    plan = planned_epochs(args, data)
    options = resolve_options(args, plan["epochs_planned"])
    OmegaConf.save(options, args.workdir / "options.yaml", resolve=True)
    cpu_before, start = time.process_time(), time.perf_counter()
    trainer, model = run_trainer(options, data, args.budget_s, args.workdir)
    trainer.write_checkpoint(model, args.workdir / CHECKPOINT)
    models = export_both(args.workdir)
    total_s = time.perf_counter() - start
    run = {
        **plan,
        "total_s": total_s,
        "cpu_per_wall": (time.process_time() - cpu_before) / total_s,
        "stopped_by_budget": trainer.epoch + 1 < plan["epochs_planned"],
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "options": OmegaConf.to_container(options, resolve=True),
        "models": models,
    }
    summary = summarize(args, trainer, run)
    (args.workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        f"metatrain: {summary['epochs_completed']} epochs in "
        f"{summary['training_loop_s']:.0f} s (planned {plan['epochs_planned']}, "
        f"+{summary['setup_and_finish_s']:.0f} s setup and export), best epoch "
        f"{summary['best_epoch']}, median epoch {summary['median_epoch_s']:.2f} s",
        flush=True,
    )
    return summary


def write_quick_data(workdir: Path, seed: int) -> tuple[Path, Path]:
    """Rattled ethanol frames labelled by ASE's EMT (labels do not matter for speed)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(sum(N_QUICK)):
        atoms = ethanol()
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.calc = EMT()
        atoms.get_forces()
        frames.append(atoms)
    paths = workdir / "quick-train.xyz", workdir / "quick-valid.xyz"
    ase.io.write(paths[0], frames[: N_QUICK[0]], format="extxyz")
    ase.io.write(paths[1], frames[N_QUICK[0] :], format="extxyz")
    return paths


def quick_model(workdir: Path, seed: int = 0) -> Path:
    """Directory of a one-epoch metatrain PET (default hypers), made if missing."""
    if not (workdir / EXPORTED["float64"]).is_file():
        data_dir = workdir.parent / f"{workdir.name}-data"
        data_dir.mkdir(parents=True, exist_ok=True)
        train, valid = write_quick_data(data_dir, seed)
        args = argparse.Namespace(
            train=train,
            valid=valid,
            workdir=workdir,
            budget_s=None,
            epochs="1",
            seed=seed,
            cutoff=None,
        )
        train_and_export(args)
    return workdir


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train within a wall-clock budget")
    train.add_argument("--train", type=Path, required=True)
    train.add_argument("--valid", type=Path, required=True)
    train.add_argument("--workdir", type=Path, required=True)
    train.add_argument("--budget-s", type=float, default=1200.0)
    train.add_argument(
        "--epochs",
        default="auto",
        help="num_epochs of metatrain's schedule; auto: budget / probed epoch time",
    )
    train.add_argument("--probe-epochs", type=int, default=3)
    train.add_argument(
        "--cutoff", type=float, default=None, help="Å; default: metatrain's (4.5)"
    )
    train.add_argument("--seed", type=int, default=0)
    quick = commands.add_parser("quick", help="one-epoch model for timings")
    quick.add_argument("--workdir", type=Path, required=True)
    quick.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in ("train", "valid", "workdir"):
        if getattr(args, name, None) is not None:
            setattr(args, name, getattr(args, name).resolve())
    if args.command == "train" and args.epochs != "auto" and not args.epochs.isdigit():
        parser.error(f"--epochs must be auto or a number, not {args.epochs!r}")
    return args


def one_thread() -> None:
    """One torch thread (intra- and inter-op), as for pointchem (targets.md)."""
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)


def main() -> None:
    args = parse_args()
    one_thread()
    args.workdir.parent.mkdir(parents=True, exist_ok=True)
    log_file = args.workdir.parent / f"{args.workdir.name}-train.log"
    with setup_logging(ROOT_LOGGER, log_file=log_file, level=logging.INFO):
        if args.command == "train":
            train_and_export(args)
        else:
            if (args.workdir / EXPORTED["float64"]).is_file():
                shutil.rmtree(args.workdir)
            quick_model(args.workdir, args.seed)


if __name__ == "__main__":
    main()
