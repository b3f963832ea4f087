r"""apax 0.14 (GM-NN) side of benchmarks/train_vs_apax.py: train, predict, time.

Runs inside apax's own virtual environment (``benchmarks/out/.venv-apax``), started
through ``benchmarks/peers/apax_train.sh``, which sets one XLA/TF thread, pins the
process to one core with taskset and puts ``benchmarks/`` on ``PYTHONPATH``.
``train_vs_apax.py`` calls it; by hand::

    bash benchmarks/peers/apax_train.sh train --train T.xyz --valid V.xyz \\
        --workdir benchmarks/out/train_vs_apax/apax --budget-s 1200
    bash benchmarks/peers/apax_train.sh predict --model-dir DIR \\
        --input test.xyz --output predicted.xyz
    bash benchmarks/peers/apax_train.sh time --model-dir DIR --output apax_time.json

Subcommands:

- ``train``: apax's own GM-NN configuration (the values of apax's
  ``train_config_full.yaml`` template: Bessel basis with 16 functions, r_max 5 Å,
  5 radial functions, 8 contractions, MLP 256-256, fp32 descriptor and readout,
  batch size 4, Adam with per-group learning rates 1e-3/1e-3/1e-4/3e-3, cyclic cosine
  schedule with period 40 epochs and decay 0.93, loss energy weight 1 and forces
  weight 4) on the given training and validation files. apax has no wall-clock
  option, so a callback added to apax's callback list ends training (apax's own
  ``EarlyStop``) after the first epoch that ends past ``--budget-s``, counted from
  the start of the training loop (after data loading and model setup, like
  pointchem's ``training.max_time_s``; the first epoch includes jit compilation).
  The cyclic schedule does not depend on ``n_epochs``, which is only an upper
  bound here. The model kept is apax's "best" checkpoint (lowest validation loss).
  Writes ``WORKDIR/summary.json`` (epochs, times, best epoch, validation log).
- ``predict``: energies and forces of every frame of ``--input`` with apax's
  ``ASECalculator``, written as extxyz (``energy`` and ``forces``) for scoring by
  ``train_vs_apax.py``.
- ``time``: time per energy+forces(+stress) call on the benchmark systems with the
  protocol of ``apax_time.py`` (its ``time_system``), using the trained model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import apax
import apax.train.run as apax_run
import ase.io
import jax
import numpy as np
from apax.md import ASECalculator
from apax.train.trainer import EarlyStop
from apax_time import MODEL
from ase.calculators.singlepoint import SinglePointCalculator

EXPERIMENT = "gmnn"
UNBOUNDED_EPOCHS = 100_000
"""apax needs ``n_epochs``; the wall-clock budget ends training long before."""


def template_config(args: argparse.Namespace) -> dict:
    """The GM-NN template configuration of apax, with our files, seed, epoch bound."""
    return {
        "n_epochs": UNBOUNDED_EPOCHS,
        "seed": args.seed,
        "ckpt_interval": 500,
        "patience": None,
        "weight_average": None,
        "data": {
            "directory": str(args.workdir / "models"),
            "experiment": EXPERIMENT,
            "train_data_path": str(args.train),
            "val_data_path": str(args.valid),
            "dataset": {"processing": "cached", "shuffle_buffer_size": 1000},
            "batch_size": args.batch_size,
            "valid_batch_size": 100,
            "shift_method": "per_element_regression_shift",
            "shift_options": {"energy_regularisation": 1.0},
            "scale_method": "per_element_force_rms_scale",
            "scale_options": {},
            "pos_unit": "Ang",
            "energy_unit": "eV",
        },
        "model": {
            **MODEL,  # the GM-NN of targets.md, shared with apax_time.py
            "w_init": "lecun",
            "b_init": "zeros",
            "descriptor_dtype": "fp32",
            "readout_dtype": "fp32",
            "scale_shift_dtype": "fp64",
            "emb_init": "uniform",
            "use_ntk": False,
        },
        "loss": [
            {"name": "energy", "loss_type": "mse", "weight": 1.0},
            {"name": "forces", "loss_type": "mse", "weight": 4.0},
        ],
        "metrics": [
            {"name": "energy", "reductions": ["mae"]},
            {"name": "forces", "reductions": ["mae", "mse"]},
        ],
        "optimizer": {
            "name": "adam",
            "emb_lr": 0.001,
            "nn_lr": 0.001,
            "scale_lr": 0.0001,
            "shift_lr": 0.003,
            "zbl_lr": 0.0001,
            "schedule": {"name": "cyclic_cosine", "period": 40, "decay_factor": 0.93},
        },
        "callbacks": [{"name": "csv"}],
        "progress_bar": {"disable_epoch_pbar": True, "disable_batch_pbar": True},
    }


class WallClockBudget:
    """apax callback: raise apax's EarlyStop after the epoch that ends past the budget.

    apax calls ``on_epoch_end`` after it has saved the epoch's checkpoints, and
    catches ``EarlyStop`` around its epoch loop, so training ends cleanly.
    """

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        self.start: float | None = None
        self.stop: float | None = None
        self.epochs: list[dict] = []

    def elapsed(self) -> float:
        """Seconds since the training loop began (0 before)."""
        return 0.0 if self.start is None else time.perf_counter() - self.start

    def on_train_begin(self, logs=None) -> None:
        """Callback hook (keras-style signature)."""
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Callback hook (keras-style signature)."""
        pass

    def on_train_batch_begin(self, batch, logs=None) -> None:
        """Callback hook (keras-style signature)."""
        pass

    def on_train_batch_end(self, batch, logs=None) -> None:
        """Callback hook (keras-style signature)."""
        pass

    def on_test_batch_end(self, batch, logs=None) -> None:
        """Callback hook (keras-style signature)."""
        pass

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Callback hook (keras-style signature)."""
        row = {key: float(value) for key, value in (logs or {}).items()}
        row["epoch"] = epoch + 1
        row["elapsed_s"] = self.elapsed()
        self.epochs.append(row)
        if self.elapsed() > self.budget_s:
            self.stop = time.perf_counter()
            raise EarlyStop()

    def on_train_end(self, logs=None) -> None:
        """Callback hook (keras-style signature)."""
        if self.stop is None:
            self.stop = time.perf_counter()


def add_callback(callback: WallClockBudget) -> None:
    """Make apax's training run append ``callback`` to the callbacks of its config."""
    original = apax_run.initialize_callbacks

    def initialize(config, model_version_path):
        collection = original(config, model_version_path)
        collection.callbacks.append(callback)
        return collection

    apax_run.initialize_callbacks = initialize


def command_train(args: argparse.Namespace) -> None:
    if args.workdir.exists():  # apax would resume from checkpoints found there
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True)
    config = template_config(args)
    budget = WallClockBudget(args.budget_s)
    add_callback(budget)
    cpu_before = time.process_time()
    start = time.perf_counter()
    apax_run.run(config, log_level="error")
    total_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_before
    epochs = budget.epochs
    if not epochs:
        raise SystemExit("apax completed no epoch")
    best = min(epochs, key=lambda row: row.get("val_loss", np.inf))
    epoch_times = [row["epoch_time"] for row in epochs if "epoch_time" in row]
    loop_s = budget.stop - budget.start
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "apax": apax.__version__,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "pinned_core": os.environ.get("APAX_PINNED_CORE"),
        "budget_s": args.budget_s,
        "epochs_completed": epochs[-1]["epoch"],
        "best_epoch": best["epoch"],
        "best_val_loss": best.get("val_loss"),
        "training_loop_s": loop_s,
        "total_s": total_s,
        "setup_s": total_s - loop_s,
        "cpu_per_wall": cpu_s / total_s,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "first_epoch_s": epoch_times[0] if epoch_times else None,
        "median_epoch_s": statistics.median(epoch_times) if epoch_times else None,
        "steps_per_epoch": 1000 // args.batch_size,
        "config": config,
        "model_dir": str(args.workdir / "models" / EXPERIMENT),
        "log": epochs,
    }
    (args.workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        f"apax: {summary['epochs_completed']} epochs in {loop_s:.0f} s "
        f"(+{summary['setup_s']:.0f} s setup), best epoch {best['epoch']}, "
        f"median epoch {summary['median_epoch_s']:.2f} s"
    )


def command_predict(args: argparse.Namespace) -> None:
    calculator = ASECalculator(args.model_dir)
    for source, target in zip(args.input, args.output, strict=True):
        frames = ase.io.read(source, index=":")
        predicted = []
        start = time.perf_counter()
        for atoms in frames:
            atoms = atoms.copy()
            atoms.calc = calculator
            energy = atoms.get_potential_energy()
            forces = atoms.get_forces()
            atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
            predicted.append(atoms)
        elapsed = time.perf_counter() - start
        ase.io.write(target, predicted, format="extxyz")
        print(f"apax: predicted {len(frames)} frames of {source} in {elapsed:.1f} s")


def command_time(args: argparse.Namespace) -> None:
    # apax_time.py lives next to this file; it brings the timing protocol.
    from apax_time import time_system, with_stress

    model_dirs = {"plain": args.model_dir, "stress": with_stress(args.model_dir)}
    results = {}
    for name in args.sizes:
        results[name] = time_system(name, model_dirs, args)
        print(f"apax: {name} {results[name]['median_ms']:.2f} ms/call", flush=True)
    payload = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "apax": apax.__version__,
        "jax": jax.__version__,
        "pinned_core": os.environ.get("APAX_PINNED_CORE"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    args.output.write_text(json.dumps(payload, indent=2))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train within a wall-clock budget")
    train.add_argument("--train", type=Path, required=True)
    train.add_argument("--valid", type=Path, required=True)
    train.add_argument("--workdir", type=Path, required=True)
    train.add_argument("--budget-s", type=float, default=1200.0)
    train.add_argument("--batch-size", type=int, default=4)
    train.add_argument("--seed", type=int, default=1)
    predict = commands.add_parser("predict", help="energies and forces to extxyz")
    predict.add_argument("--model-dir", type=Path, required=True)
    predict.add_argument("--input", type=Path, nargs="+", required=True)
    predict.add_argument("--output", type=Path, nargs="+", required=True)
    timing = commands.add_parser("time", help="ms per energy+forces call")
    timing.add_argument("--model-dir", type=Path, required=True)
    timing.add_argument("--sizes", default="ethanol,192,1536")
    timing.add_argument("--calls", type=int, default=20)
    timing.add_argument("--calls-large", type=int, default=5)
    timing.add_argument("--warmup", type=int, default=3)
    timing.add_argument("--seed", type=int, default=0)
    timing.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "predict" and len(args.input) != len(args.output):
        parser.error("give as many --output files as --input files")
    if args.command == "time":
        args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for name in ("train", "valid", "workdir", "model_dir"):
        if getattr(args, name, None) is not None:
            setattr(args, name, getattr(args, name).resolve())
    return args


def main() -> None:
    args = parse_args()
    if jax.default_backend() != "cpu":
        raise SystemExit(f"jax runs on {jax.default_backend()}, not cpu")
    {"train": command_train, "predict": command_predict, "time": command_time}[
        args.command
    ](args)


if __name__ == "__main__":
    main()
