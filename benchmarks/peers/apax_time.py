"""Re-measure apax 0.14 (GM-NN) on the benchmark systems, side by side with pointchem.

Runs inside apax's own virtual environment (``benchmarks/out/.venv-apax``), never in
pointchem's; start it through ``benchmarks/peers/apax_timing.sh``, which creates that
environment, sets one XLA thread and puts ``benchmarks/`` on ``PYTHONPATH`` for
``systems.py``::

    bash benchmarks/peers/apax_timing.sh                  # ethanol,192,1536
    bash benchmarks/peers/apax_timing.sh --sizes 12288 --calls-large 3

What it does:

1. Makes 24 ethanol frames (``ase.build.molecule("CH3CH2OH")`` rattled by 0.05 Å),
   labelled with ase's Lennard-Jones calculator (σ 1 Å, ε 0.1 eV; speed does not
   depend on the labels), and trains apax for one epoch (20 train, 4 validation
   frames) with the model of targets.md: GM-NN, Bessel basis with 16 functions,
   r_max 5 Å, 5 radial functions, 8 contractions, MLP 256-256, apax's default dtypes
   (descriptor and readout fp32, scale/shift fp64). A copy of the trained model
   directory with ``calc_stress: true`` serves the periodic boxes.
2. For each system, times ``apax.md.ASECalculator(model_dir)`` exactly like
   ``benchmarks/time_calculator.py`` times pointchem: one energy + forces (+ stress for
   the boxes) call with a fresh random displacement (σ 0.01 Å from the reference
   structure) before each call, median of ``--calls`` calls after warm-up (the first
   call, which includes jit compilation, is reported separately). apax's calculator
   keeps its defaults (jax-md neighbor list with 0.5 Å skin where the cell allows it,
   vesin otherwise).

Writes ``benchmarks/out/apax_time.json`` (read by ``time_calculator.py`` for the
side-by-side column) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import apax
import ase
import ase.build
import ase.io
import jax
import numpy as np
import yaml
from apax.md import ASECalculator
from apax.train.run import run as apax_train
from ase.calculators.lj import LennardJones
from ase.calculators.singlepoint import SinglePointCalculator
from systems import PUBLISHED_MS, SYSTEM_NAMES, build_system

OUT_DIR = Path(__file__).resolve().parents[1] / "out"
WORK_DIR = OUT_DIR / "apax"
PERTURBATION = 0.01
"""Å, standard deviation of the fresh random displacement before each call."""

LARGE = 5000
"""Systems with more atoms than this use ``--calls-large``."""

N_TRAIN, N_VALID = 20, 4

MODEL = {
    "name": "gmnn",
    "basis": {"name": "bessel", "n_basis": 16, "r_max": 5.0},
    "n_radial": 5,
    "n_contr": 8,
    "nn": [256, 256],
    "calc_stress": False,
}
"""The GM-NN model of targets.md; everything not named keeps apax's default."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="ethanol,192,1536")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--calls-large", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--retrain", action="store_true", help="train again even if a model exists"
    )
    args = parser.parse_args()
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for name in args.sizes:
        if name not in SYSTEM_NAMES:
            parser.error(f"unknown system {name!r}; choose from {SYSTEM_NAMES}")
    return args


def make_training_data(path: Path, seed: int) -> None:
    """Rattled ethanol frames labelled with Lennard-Jones energies and forces."""
    rng = np.random.default_rng(seed)
    reference = ase.build.molecule("CH3CH2OH")
    frames = []
    for _ in range(N_TRAIN + N_VALID):
        atoms = reference.copy()
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.calc = LennardJones(sigma=1.0, epsilon=0.1, rc=5.0)
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")


def train(seed: int) -> Path:
    """Train apax for one epoch; returns the model directory (config.yaml + params)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    data_path = WORK_DIR / "ethanol_lj.extxyz"
    make_training_data(data_path, seed)
    config = {
        "n_epochs": 1,
        "seed": seed,
        "data": {
            "directory": str(WORK_DIR / "models"),
            "experiment": "gmnn",
            "data_path": str(data_path),
            "n_train": N_TRAIN,
            "n_valid": N_VALID,
            "batch_size": 4,
            "valid_batch_size": N_VALID,
        },
        "model": MODEL,
        "loss": [{"name": "energy"}, {"name": "forces", "weight": 4.0}],
        "metrics": [
            {"name": "energy", "reductions": ["mae"]},
            {"name": "forces", "reductions": ["mae"]},
        ],
        "progress_bar": {"disable_epoch_pbar": True, "disable_batch_pbar": True},
    }
    (WORK_DIR / "train_config.yaml").write_text(yaml.safe_dump(config))
    apax_train(config, log_level="error")
    return WORK_DIR / "models" / "gmnn"


def with_stress(model_dir: Path) -> Path:
    """Copy of the model directory whose config asks for stress (periodic boxes)."""
    stress_dir = model_dir.with_name(model_dir.name + "_stress")
    if stress_dir.exists():
        shutil.rmtree(stress_dir)
    shutil.copytree(model_dir, stress_dir)
    config_path = stress_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["model"]["calc_stress"] = True
    config_path.write_text(yaml.safe_dump(config))
    return stress_dir


def time_system(name: str, model_dirs: dict, args: argparse.Namespace) -> dict:
    """Median ms of one energy+forces(+stress) call of apax's ASE calculator."""
    atoms = build_system(name, seed=args.seed)
    periodic = bool(atoms.pbc.all())
    atoms.calc = ASECalculator(model_dirs["stress" if periodic else "plain"])
    reference = atoms.positions.copy()
    rng = np.random.default_rng(args.seed)
    large = len(atoms) > LARGE
    n_calls = args.calls_large if large else args.calls
    n_warmup = 1 if large else args.warmup
    times, cpu = [], []
    for index in range(n_warmup + n_calls):
        atoms.positions = reference + rng.normal(0.0, PERTURBATION, reference.shape)
        start, start_cpu = time.perf_counter(), time.process_time()
        atoms.get_potential_energy()
        atoms.get_forces()
        if periodic:
            atoms.get_stress()
        elapsed = 1e3 * (time.perf_counter() - start)
        if index == 0:
            first_ms = elapsed
        if index >= n_warmup:
            times.append(elapsed)
            cpu.append(1e3 * (time.process_time() - start_cpu))
    quartiles = np.percentile(times, [25, 75])
    return {
        "system": name,
        "n_atoms": len(atoms),
        "median_ms": statistics.median(times),
        "p25_ms": float(quartiles[0]),
        "p75_ms": float(quartiles[1]),
        "min_ms": min(times),
        "n": n_calls,
        "first_call_ms": first_ms,
        "cpu_per_wall": sum(cpu) / sum(times),
        "neighbor_list": "jax-md" if atoms.calc.neigbor_from_jax else "vesin",
    }


def print_table(results: list[dict], meta: dict) -> None:
    print(
        f"\n### apax {meta['apax']} (jax {meta['jax']}, {meta['backend']}), "
        f"XLA_FLAGS={meta['xla_flags']!r}, pinned to core {meta['pinned_core']}, "
        f"load average {meta['load_average']}\n"
    )
    print(
        "| system | atoms | apax ms (here) | p25–p75 ms | first call ms (jit) "
        "| CPU/wall | neighbor list | apax ms (targets) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        published = PUBLISHED_MS["apax"].get(r["system"])
        print(
            f"| {r['system']} | {r['n_atoms']} | {r['median_ms']:.2f} "
            f"| {r['p25_ms']:.2f}–{r['p75_ms']:.2f} | {r['first_call_ms']:.0f} "
            f"| {r['cpu_per_wall']:.2f} | {r['neighbor_list']} | {published} |"
        )


def main() -> None:
    args = parse_args()
    plain_dir = WORK_DIR / "models" / "gmnn"
    if args.retrain or not (plain_dir / "config.yaml").is_file():
        start = time.perf_counter()
        plain_dir = train(args.seed)
        print(f"trained apax for 1 epoch in {time.perf_counter() - start:.0f} s")
    model_dirs = {"plain": plain_dir, "stress": with_stress(plain_dir)}
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "apax": apax.__version__,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "pinned_core": os.environ.get("APAX_TIMING_PINNED_CORE"),
        "model": MODEL,
        "perturbation_angstrom": PERTURBATION,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if meta["backend"] != "cpu":
        raise SystemExit(f"jax runs on {meta['backend']}, not cpu; see apax_timing.sh")
    results = {}
    for name in args.sizes:
        results[name] = time_system(name, model_dirs, args)
        results[name]["date"] = meta["date"]
        print(f"done {name}", flush=True)
    meta["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print_table(list(results.values()), meta)
    path = OUT_DIR / "apax_time.json"
    previous = json.loads(path.read_text()) if path.is_file() else {}
    merged = {**previous.get("results", {}), **results}
    path.write_text(json.dumps({"meta": meta, "results": merged}, indent=2))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
