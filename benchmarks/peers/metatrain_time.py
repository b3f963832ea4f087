r"""Time metatrain's PET through metatomic's ASE calculator; predict held-out frames.

Runs inside metatrain's own virtual environment (``benchmarks/out/.venv-metatrain``),
started through ``benchmarks/peers/metatrain_timing.sh``, which creates that
environment, sets one thread, pins the process to one core with taskset and puts
``benchmarks/`` on ``PYTHONPATH`` for ``systems.py``::

    bash benchmarks/peers/metatrain_timing.sh                 # ethanol,192,1536
    bash benchmarks/peers/metatrain_timing.sh time --sizes ethanol,192 --dtypes float32
    bash benchmarks/peers/metatrain_timing.sh time --model-dir DIR --output t.json
    bash benchmarks/peers/metatrain_timing.sh predict --model-dir DIR \\
        --input test.xyz --output predicted.xyz

Subcommands:

- ``time`` (the default): for each system of ``benchmarks/systems.py`` and each
  dtype, the time of one energy + forces (+ stress for the periodic water boxes)
  call of ``metatomic_ase.MetatomicCalculator`` with its defaults (neighbor lists
  with a 2 Å skin, forces and stress from the same model call as the energy), with
  the protocol of ``apax_time.py`` and ``time_calculator.py``: a fresh random
  displacement (σ 0.01 Å from the reference structure) before each call, median of
  ``--calls`` calls after ``--warmup`` (systems of more than ``--large-atoms`` atoms:
  ``--calls-large`` calls after one). The first call is reported separately.
  metatomic runs a model in the dtype it was exported with, so float32 and float64
  use ``model-float32.pt`` and ``model-float64.pt`` of ``--model-dir`` (written by
  ``metatrain_train.py``). Without ``--model-dir``, a one-epoch model for timing
  (speed does not depend on training) is made in ``benchmarks/out/metatrain/quick``
  if it is not there yet. Writes ``--output`` (default
  ``benchmarks/out/metatrain_time.json``; results of systems not timed in a run are
  kept) and prints a markdown table.
- ``predict``: energies and forces of every frame of ``--input`` with the float32
  model through the same calculator, written as extxyz (``energy``, ``forces``) for
  scoring by ``train_vs_metatrain.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import ase
import ase.io
import metatomic.torch
import metatrain
import numpy as np
import torch
from ase.calculators.singlepoint import SinglePointCalculator
from metatomic_ase import MetatomicCalculator
from metatrain_train import EXPORTED, one_thread, quick_model
from systems import SYSTEM_NAMES, build_system

OUT_DIR = Path(__file__).resolve().parents[1] / "out"
QUICK_DIR = OUT_DIR / "metatrain" / "quick"
PERTURBATION = 0.01
"""Å, standard deviation of the fresh random displacement before each call."""

PUBLISHED_MS = {"ethanol": 13.9, "192": 776.0, "1536": 16081.0}
"""metatrain 2026.4 PET (defaults) in targets.md: ms per call, float32, 1 thread."""


def calculator(model_dir: Path, dtype: str) -> MetatomicCalculator:
    """Return metatomic's ASE calculator for the model exported in ``dtype`` (CPU)."""
    return MetatomicCalculator(model_dir / EXPORTED[dtype], device="cpu")


def time_system(name: str, dtype: str, args: argparse.Namespace) -> dict:
    """Median ms of one energy+forces(+stress) call (apax_time.py's protocol)."""
    atoms = build_system(name, seed=args.seed)
    periodic = bool(atoms.pbc.all())
    atoms.calc = calculator(args.model_dir, dtype)
    reference = atoms.positions.copy()
    rng = np.random.default_rng(args.seed)
    large = len(atoms) > args.large_atoms
    n_calls = args.calls_large if large else args.calls
    n_warmup = 1 if large else args.warmup
    times, cpu, first_ms = [], [], None
    for index in range(n_warmup + n_calls):
        atoms.positions = reference + rng.normal(0.0, PERTURBATION, reference.shape)
        start, start_cpu = time.perf_counter(), time.process_time()
        atoms.get_potential_energy()
        atoms.get_forces()
        if periodic:
            atoms.get_stress()
        elapsed = 1e3 * (time.perf_counter() - start)
        first_ms = elapsed if first_ms is None else first_ms
        if index >= n_warmup:
            times.append(elapsed)
            cpu.append(1e3 * (time.process_time() - start_cpu))
    quartiles = np.percentile(times, [25, 75])
    return {
        "system": name,
        "n_atoms": len(atoms),
        "dtype": dtype,
        "median_ms": statistics.median(times),
        "p25_ms": float(quartiles[0]),
        "p75_ms": float(quartiles[1]),
        "min_ms": min(times),
        "n": n_calls,
        "first_call_ms": first_ms,
        "cpu_per_wall": sum(cpu) / sum(times),
    }


def meta(args: argparse.Namespace) -> dict:
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metatrain": metatrain.__version__,
        "metatomic_torch": metatomic.torch.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "pinned_core": os.environ.get("METATRAIN_TIMING_PINNED_CORE"),
        "model_dir": str(args.model_dir),
        "calculator": "metatomic_ase.MetatomicCalculator (defaults: skin 2 Å)",
        "perturbation_angstrom": PERTURBATION,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(results: dict, info: dict) -> None:
    print(
        f"\n### metatrain {info['metatrain']} PET (metatomic-torch "
        f"{info['metatomic_torch']}, torch {info['torch']}, "
        f"{info['torch_threads']} thread), pinned to core {info['pinned_core']}, "
        f"load average {info['load_average']}\n"
    )
    print(
        "| system | atoms | dtype | ms (here) | p25–p75 ms | first call ms "
        "| CPU/wall | ms (targets.md, float32) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for by_dtype in results.values():
        for r in by_dtype.values():
            print(
                f"| {r['system']} | {r['n_atoms']} | {r['dtype']} "
                f"| {r['median_ms']:.1f} | {r['p25_ms']:.1f}–{r['p75_ms']:.1f} "
                f"| {r['first_call_ms']:.0f} | {r['cpu_per_wall']:.2f} "
                f"| {PUBLISHED_MS.get(r['system'], '—')} |"
            )


def command_time(args: argparse.Namespace) -> None:
    if args.model_dir is None:
        args.model_dir = quick_model(QUICK_DIR)  # made only when missing
    info = meta(args)
    results: dict[str, dict] = {}
    for name in args.sizes:
        results[name] = {}
        for dtype in args.dtypes:
            result = time_system(name, dtype, args)
            results[name][dtype] = {**result, "date": info["date"]}
            print(f"metatrain: {name} {dtype} {result['median_ms']:.1f} ms/call")
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print_table(results, info)
    previous = json.loads(args.output.read_text()) if args.output.is_file() else {}
    merged = previous.get("results", {})
    for name, by_dtype in results.items():
        merged.setdefault(name, {}).update(by_dtype)
    ordered = {name: merged[name] for name in SYSTEM_NAMES if name in merged}
    payload = {"meta": info, "published_ms": PUBLISHED_MS, "results": ordered}
    args.output.write_text(json.dumps(payload, indent=2))
    print(f"\nwritten {args.output}")


def command_predict(args: argparse.Namespace) -> None:
    calc = calculator(args.model_dir, "float32")
    for source, target in zip(args.input, args.output, strict=True):
        frames = ase.io.read(source, index=":")
        predicted = []
        start = time.perf_counter()
        for frame in frames:
            atoms: ase.Atoms = frame.copy()
            atoms.calc = calc
            energy, forces = atoms.get_potential_energy(), atoms.get_forces()
            atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
            predicted.append(atoms)
        elapsed = time.perf_counter() - start
        ase.io.write(target, predicted, format="extxyz")
        print(
            f"metatrain: predicted {len(frames)} frames of {source} in {elapsed:.1f} s"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    timing = commands.add_parser("time", help="ms per energy+forces(+stress) call")
    timing.add_argument("--model-dir", type=Path, default=None)
    timing.add_argument("--sizes", default="ethanol,192,1536")
    timing.add_argument("--dtypes", default="float32,float64")
    timing.add_argument("--calls", type=int, default=20)
    timing.add_argument("--calls-large", type=int, default=5)
    timing.add_argument("--large-atoms", type=int, default=1000)
    timing.add_argument("--warmup", type=int, default=3)
    timing.add_argument("--seed", type=int, default=0)
    timing.add_argument("--output", type=Path, default=OUT_DIR / "metatrain_time.json")
    predict = commands.add_parser("predict", help="energies and forces to extxyz")
    predict.add_argument("--model-dir", type=Path, required=True)
    predict.add_argument("--input", type=Path, nargs="+", required=True)
    predict.add_argument("--output", type=Path, nargs="+", required=True)
    args = parser.parse_args()
    if args.command == "predict" and len(args.input) != len(args.output):
        parser.error("give as many --output files as --input files")
    if args.command == "time":
        args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
        args.dtypes = [s.strip() for s in args.dtypes.split(",") if s.strip()]
        for name in args.sizes:
            if name not in SYSTEM_NAMES:
                parser.error(f"unknown system {name!r}; choose from {SYSTEM_NAMES}")
        for dtype in args.dtypes:
            if dtype not in EXPORTED:
                parser.error(f"unknown dtype {dtype!r}; choose from {list(EXPORTED)}")
    return args


def main() -> None:
    args = parse_args()
    one_thread()
    {"time": command_time, "predict": command_predict}[args.command](args)


if __name__ == "__main__":
    main()
