"""Train pointchem's GM model and apax side by side: same data, same wall-clock budget.

What it measures (the training benchmark of ``shared/spec/targets.md``):

1. **Data**: a seeded subset of exactly ``--n-train`` (1000) training and
   ``--n-valid`` (100) validation frames of ``data/xtb/ethanol-train.xyz`` (GFN2-xTB
   ethanol; MD at 300-800 K and rattled frames), written to
   ``benchmarks/out/train_vs_apax/`` as extxyz, so that both codes read the very same
   files. Held out: ``data/xtb/ethanol-test-300K.xyz`` and ``ethanol-test-600K.xyz``.
2. **Training**, one code after the other, never concurrently, each pinned to the same
   core (``--core``) with one thread, each with the same wall-clock budget
   ``--budget-s`` for its training loop (both stop after the first epoch that ends
   past the budget; data loading and model setup come before the loop and are
   reported separately):

   - pointchem GM (Bessel 16, cutoff 5 Å, 5 radial functions, MLP 256-256, float32;
     ``--batch-size``, ``--learning-rate``; AdamW, cosine decay, EMA of the weights,
     best validation epoch kept) through ``pointchem.training.loop.train`` with
     ``training.max_time_s`` = budget and one torch thread. The cosine schedule needs
     a number of epochs: a 4-epoch probe run (outside the budget) measures the time
     per epoch, and ``epochs`` is set so that the schedule would end with the budget
     at the fastest probe epoch's pace (load from other work during the probe would
     otherwise leave budget unused; load during the run instead cuts the schedule's
     tail, which the summary shows as epochs completed < planned and the final LR).
     The loss weights (``--energy-weight``, ``--forces-weight``, on the MSE of E/N
     and of force components) default to apax's template weighting converted to
     our normalisation (see ``APAX_EQUIVALENT_WEIGHTS``).
   - apax 0.14 with its GM-NN template configuration (same architecture, apax's
     defaults for everything else) in its own virtual environment through
     ``benchmarks/peers/apax_train.sh`` (which creates the environment if needed,
     sets one XLA/TF thread and pins apax to the core with taskset); a callback ends
     its training at the budget (see ``benchmarks/peers/apax_train.py``).

3. **Accuracy**: both trained models predict the held-out frames through their ASE
   calculators (apax's inside its own environment); the predictions are written as
   extxyz and scored by one function, :func:`score`: energy MAE in meV/atom and meV
   per molecule, force-component MAE in meV/Å (and RMSEs), 300 K and 600 K apart.
4. **Speed**: ms per energy+forces(+stress) calculator call of each trained model on
   ethanol and the water boxes of ``benchmarks/systems.py`` (192 and 1536 atoms by
   default), with the protocol of ``time_calculator.py`` / ``apax_time.py`` (fresh
   random displacement σ 0.01 Å before each call, median after warm-up; pointchem
   float32 with neighbor-list skin 1 Å, apax with its calculator's defaults).

Prints one markdown table and writes ``benchmarks/out/train_vs_apax.json`` (all
numbers, settings, per-epoch logs, load averages, git state). The machine may be
shared: load averages and CPU/wall (process CPU time / wall time; about 1 when the
code had its core to itself) are recorded for every phase.

Run from the repository root with the project's virtual environment active::

    python benchmarks/train_vs_apax.py                   # 1200 s budget each
    python benchmarks/train_vs_apax.py --budget-s 120    # quick check
    python benchmarks/train_vs_apax.py --stages evaluate,time  # reuse trained models
    python benchmarks/train_vs_apax.py --table-only     # print the last results

The data files are git-ignored; when missing the script prints the commands that
make them.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import ase
import ase.io
import numpy as np
import torch
from ase.calculators.singlepoint import SinglePointCalculator
from systems import SYSTEM_NAMES, build_system
from time_calculator import (
    PERTURBATION,
    ase_call,
    attach_calculator,
    cpu_name,
    make_plan,
    time_interleaved,
)

import pointchem
from pointchem import PointChemCalculator, load_potential
from pointchem.training.config import TrainConfig
from pointchem.training.loop import train

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
OUT_DIR = BENCHMARKS / "out"
WORK_DIR = OUT_DIR / "train_vs_apax"
RESULT_JSON = OUT_DIR / "train_vs_apax.json"
APAX_SCRIPT = BENCHMARKS / "peers" / "apax_train.sh"
DATA_DIR = ROOT / "data" / "xtb"
TRAIN_SOURCE = DATA_DIR / "ethanol-train.xyz"
TEST_SETS = {
    "300K": DATA_DIR / "ethanol-test-300K.xyz",
    "600K": DATA_DIR / "ethanol-test-600K.xyz",
}
STAGES = ("train-ours", "train-apax", "evaluate", "time")

REGENERATE = """\
python -m pointchem.recipes.xtb --molecule CH3CH2OH --temperatures 300 450 600 800 \\
    --steps 12000 --equilibration 1000 --interval 40 --rattled 150 \\
    --rattle-amplitude 0.05 --seed 0 --output data/xtb/ethanol-train.xyz
python -m pointchem.recipes.xtb --molecule CH3CH2OH --temperatures 300 \\
    --steps 5000 --equilibration 1000 --interval 50 --seed 1 \\
    --output data/xtb/ethanol-test-300K.xyz
python -m pointchem.recipes.xtb --molecule CH3CH2OH --temperatures 600 \\
    --steps 5000 --equilibration 1000 --interval 50 --seed 2 \\
    --output data/xtb/ethanol-test-600K.xyz"""

MODEL = {
    "cutoff": 5.0,
    "radial_basis": "bessel",
    "n_basis": 16,
    "n_radial": 5,
    "hidden_sizes": [256, 256],
}
"""pointchem GM hypers: apax's GM-NN template architecture."""

APAX_EQUIVALENT_WEIGHTS = (1.0, 4.0 / 3.0)
"""(energy, forces) weights on our MSE of E/N and of force components that match
apax's template loss, 1·(ΔE)²/N + 4·Σ_components(ΔF)²/N per structure: for ethanol
(N = 9) that is 9·MSE(E/N) + 12·MSE(F component), i.e. the ratio 1 : 4/3."""

PROBE_EPOCHS = 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget-s",
        type=float,
        default=1200.0,
        help="wall-clock budget of each code's training loop",
    )
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-valid", type=int, default=100)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the frame subset and of both trainings",
    )
    parser.add_argument(
        "--core",
        type=int,
        default=0,
        help="CPU core both codes are pinned to (-1: no pinning)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="pointchem")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="pointchem")
    parser.add_argument(
        "--energy-weight",
        type=float,
        default=APAX_EQUIVALENT_WEIGHTS[0],
        help="pointchem",
    )
    parser.add_argument(
        "--forces-weight",
        type=float,
        default=APAX_EQUIVALENT_WEIGHTS[1],
        help="pointchem",
    )
    parser.add_argument(
        "--apax-batch-size", type=int, default=4, help="apax (4 in its template)"
    )
    parser.add_argument(
        "--sizes",
        default="ethanol,192,1536",
        help=f"systems timed, out of {','.join(SYSTEM_NAMES)}",
    )
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--calls-large", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="comma-separated subset of " + ",".join(STAGES),
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help=f"print the table of {RESULT_JSON.name}",
    )
    args = parser.parse_args()
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for name in args.sizes:
        if name not in SYSTEM_NAMES:
            parser.error(f"unknown system {name!r}; choose from {SYSTEM_NAMES}")
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    for stage in args.stages:
        if stage not in STAGES:
            parser.error(f"unknown stage {stage!r}; choose from {STAGES}")
    return args


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def check_data() -> None:
    missing = [p for p in (TRAIN_SOURCE, *TEST_SETS.values()) if not p.is_file()]
    if missing:
        names = ", ".join(str(p.relative_to(ROOT)) for p in missing)
        sys.exit(
            f"missing data: {names}\nmake it from the repository root with:\n"
            f"{REGENERATE}"
        )


def write_subsets(
    args: argparse.Namespace, directory: Path | None = None
) -> dict[str, Path]:
    """Seeded disjoint train/validation subsets of the training file, as extxyz.

    Written into ``directory`` (default: this benchmark's ``WORK_DIR``).
    """
    directory = WORK_DIR if directory is None else directory
    frames = ase.io.read(TRAIN_SOURCE, index=":")
    needed = args.n_train + args.n_valid
    if len(frames) < needed:
        sys.exit(f"{TRAIN_SOURCE} has {len(frames)} frames, fewer than {needed}")
    order = np.random.default_rng(args.seed).permutation(len(frames))
    chosen = {"train": order[: args.n_train], "valid": order[args.n_train : needed]}
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, indices in chosen.items():
        path = directory / f"{name}-{len(indices)}.xyz"
        ase.io.write(path, [frames[i] for i in indices], format="extxyz")
        paths[name] = path
    return paths


# --- pointchem -------------------------------------------------------------------


def our_config(
    args: argparse.Namespace, files: dict, epochs: int, budget: float | None
) -> TrainConfig:
    return TrainConfig.from_dict(
        {
            "architecture": "gm",
            "model": MODEL,
            "training": {
                "seed": args.seed,
                "dtype": "float32",
                "device": "cpu",
                "epochs": epochs,
                "max_time_s": budget,
                "batch_size": args.batch_size,
                "learning_rate": args.learning_rate,
                "energy_weight": args.energy_weight,
                "forces_weight": args.forces_weight,
                "early_stopping_patience": None,
            },
            "data": {
                "train": [str(files["train"])],
                "validation": [str(files["valid"])],
            },
        }
    )


def read_log(path: Path) -> list[dict[str, float]]:
    with path.open() as handle:
        return [
            {k: float(v) for k, v in row.items() if v != ""}
            for row in csv.DictReader(handle)
        ]


def epoch_times(rows: list[dict[str, float]]) -> list[float]:
    times = [row["wall_time_s"] for row in rows]
    return [b - a for a, b in zip([0.0, *times[:-1]], times, strict=True)]


def train_ours(args: argparse.Namespace, files: dict) -> dict:
    """Probe the epoch time, then train within the budget; returns a summary."""
    probe_dir = WORK_DIR / "pointchem-probe"
    shutil.rmtree(probe_dir, ignore_errors=True)
    train(our_config(args, files, PROBE_EPOCHS, None), probe_dir, progress=False)
    probe = epoch_times(read_log(probe_dir / "log.csv"))
    seconds_per_epoch = min(probe[1:])  # the first epoch has one-off costs
    epochs = max(1, math.floor(args.budget_s / seconds_per_epoch))
    print(
        f"pointchem probe: {seconds_per_epoch:.2f} s/epoch -> {epochs} epochs",
        flush=True,
    )

    output = WORK_DIR / "pointchem"
    shutil.rmtree(output, ignore_errors=True)
    config = our_config(args, files, epochs, args.budget_s)
    load_before = load_average()
    cpu_before, start = time.process_time(), time.perf_counter()
    metrics = train(config, output, progress=False)
    total_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_before
    rows = read_log(output / "log.csv")
    times = epoch_times(rows)
    loop_s = rows[-1]["wall_time_s"]
    summary = {
        "budget_s": args.budget_s,
        "probe_s_per_epoch": seconds_per_epoch,
        "probe_epoch_s": probe,
        "epochs_planned": epochs,
        "epochs_completed": int(metrics["epochs_run"]),
        "best_epoch": int(metrics["best_epoch"]),
        "training_loop_s": loop_s,
        "total_s": total_s,
        "setup_and_finish_s": total_s - loop_s,
        "cpu_per_wall": cpu_s / total_s,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "first_epoch_s": times[0],
        "median_epoch_s": statistics.median(times),
        "steps_per_epoch": math.ceil(args.n_train / args.batch_size),
        "final_learning_rate": rows[-1].get("learning_rate"),
        "validation": metrics.get("validation"),
        "config": config.to_dict(),
        "potential": str(output / "potential.pt"),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "log": rows,
    }
    print(
        f"pointchem: {summary['epochs_completed']} epochs in {loop_s:.0f} s "
        f"(planned {epochs}), best epoch {summary['best_epoch']}, median epoch "
        f"{summary['median_epoch_s']:.2f} s",
        flush=True,
    )
    return summary


def predict_ours(
    potential: Path, source: Path, target: Path, symmetrize: bool = True
) -> None:
    calculator = PointChemCalculator(
        potential, device="cpu", dtype=torch.float32, symmetrize=symmetrize
    )
    predicted = []
    for atoms in ase.io.read(source, index=":"):
        atoms = atoms.copy()
        atoms.calc = calculator
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        predicted.append(atoms)
    ase.io.write(target, predicted, format="extxyz")


def time_ours(potential: Path, args: argparse.Namespace) -> dict:
    """Milliseconds per energy+forces(+stress) call (time_calculator.py protocol)."""
    model = load_potential(potential)
    options = argparse.Namespace(
        dtype="float32",
        calls=args.calls,
        calls_large=args.calls_large,
        warmup=args.warmup,
        md_steps=0,
        md_steps_large=0,
        seed=0,
    )
    results = {}
    for name in args.sizes:
        atoms = build_system(name, seed=0)
        plan = make_plan(options, torch.device("cpu"), len(atoms))
        probe = attach_calculator(atoms, model, 1.0, plan)
        reference = probe.positions.copy()
        rng = np.random.default_rng(0)

        def prepare(probe=probe, reference=reference, rng=rng) -> None:
            probe.positions = reference + rng.normal(0.0, PERTURBATION, reference.shape)

        timing = time_interleaved({"calc": lambda p=probe: ase_call(p)}, prepare, plan)
        results[name] = {"system": name, "n_atoms": len(atoms), **timing["calc"]}
        print(f"pointchem: {name} {results[name]['median_ms']:.2f} ms/call", flush=True)
    return results


# --- apax --------------------------------------------------------------------------


def run_apax(arguments: list[str], core: int) -> float:
    """Run apax_train.sh with ``arguments``; returns the child's CPU seconds."""
    environment = dict(os.environ, APAX_TASKSET=str(core) if core >= 0 else "none")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        ["bash", str(APAX_SCRIPT), *arguments],
        env=environment,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr[-5000:])
        sys.exit(f"apax_train.sh {arguments[0]} failed ({completed.returncode})")
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def train_apax(args: argparse.Namespace, files: dict) -> dict:
    workdir = WORK_DIR / "apax"
    load_before = load_average()
    start = time.perf_counter()
    cpu_s = run_apax(
        [
            "train",
            "--train",
            str(files["train"]),
            "--valid",
            str(files["valid"]),
            "--workdir",
            str(workdir),
            "--budget-s",
            str(args.budget_s),
            "--batch-size",
            str(args.apax_batch_size),
            "--seed",
            str(args.seed),
        ],
        args.core,
    )
    process_s = time.perf_counter() - start
    summary = json.loads((workdir / "summary.json").read_text())
    summary.update(
        {
            "process_s": process_s,
            "process_cpu_per_wall": cpu_s / process_s,
            "load_average_before": load_before,
            "load_average_after": load_average(),
        }
    )
    return summary


def apax_model_dir() -> Path:
    return WORK_DIR / "apax" / "models" / "gmnn"


# --- scoring and report ------------------------------------------------------------


def score(reference_path: Path, predicted_path: Path) -> dict[str, float]:
    """Errors of predicted energies and forces against the reference frames.

    Returns MAE and RMSE of the energy per atom (meV/atom), of the energy per
    structure (meV; one ethanol molecule per structure) and of the force components
    (meV/Å), and the number of frames.
    """
    reference = ase.io.read(reference_path, index=":")
    predicted = ase.io.read(predicted_path, index=":")
    if len(reference) != len(predicted):
        raise ValueError(
            f"{predicted_path}: {len(predicted)} frames, expected {len(reference)}"
        )
    for ref, pred in zip(reference, predicted, strict=True):
        if not (
            np.array_equal(ref.numbers, pred.numbers)
            and np.allclose(ref.positions, pred.positions, atol=1e-6)
        ):
            raise ValueError(f"{predicted_path}: frames differ from {reference_path}")
    counts = np.array([len(a) for a in reference])
    energy_error = 1e3 * np.array(
        [
            p.get_potential_energy() - r.get_potential_energy()
            for r, p in zip(reference, predicted, strict=True)
        ]
    )
    force_error = 1e3 * np.concatenate(
        [
            p.get_forces() - r.get_forces()
            for r, p in zip(reference, predicted, strict=True)
        ]
    )
    result = {"n_frames": len(reference)}
    for name, errors in (
        ("energy_per_atom", energy_error / counts),
        ("energy", energy_error),
        ("forces", force_error),
    ):
        result[f"{name}_mae"] = float(np.abs(errors).mean())
        result[f"{name}_rmse"] = float(np.sqrt((errors**2).mean()))
    return result


def evaluate_both(args: argparse.Namespace, potential: Path) -> dict:
    predictions = WORK_DIR / "predictions"
    predictions.mkdir(parents=True, exist_ok=True)
    targets = {
        code: {name: predictions / f"{code}-{name}.xyz" for name in TEST_SETS}
        for code in ("pointchem", "apax")
    }
    for name, source in TEST_SETS.items():
        predict_ours(potential, source, targets["pointchem"][name])
    run_apax(
        [
            "predict",
            "--model-dir",
            str(apax_model_dir()),
            "--input",
            *map(str, TEST_SETS.values()),
            "--output",
            *map(str, targets["apax"].values()),
        ],
        args.core,
    )
    return {
        code: {name: score(TEST_SETS[name], path) for name, path in paths.items()}
        for code, paths in targets.items()
    }


def time_both(args: argparse.Namespace, potential: Path) -> dict:
    ours = time_ours(potential, args)
    output = WORK_DIR / "apax_time.json"
    run_apax(
        [
            "time",
            "--model-dir",
            str(apax_model_dir()),
            "--sizes",
            ",".join(args.sizes),
            "--calls",
            str(args.calls),
            "--calls-large",
            str(args.calls_large),
            "--warmup",
            str(args.warmup),
            "--output",
            str(output),
        ],
        args.core,
    )
    apax_results = json.loads(output.read_text())["results"]
    return {
        "pointchem": ours,
        "apax": apax_results,
        "load_average_after": load_average(),
    }


def git_state() -> dict:
    def git(*command: str) -> str:
        completed = subprocess.run(
            ["git", *command], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return completed.stdout.strip()

    changed = git("status", "--porcelain", "--", "src").splitlines()
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_src_files": [line.split(maxsplit=1)[-1] for line in changed],
    }


def _cell(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ratio(apax_value: float | None, ours: float | None) -> str:
    if apax_value is None or ours is None or ours == 0:
        return "—"
    return f"{apax_value / ours:.2f}x"


def print_table(result: dict) -> None:
    ours, apax_ = result.get("pointchem", {}), result.get("apax", {})
    scores, timing = result.get("scores", {}), result.get("timing", {})
    meta = result["meta"]
    print(
        f"\n### pointchem GM vs apax {apax_.get('apax', '0.14')}: "
        f"{meta['n_train']} training / {meta['n_valid']} validation frames, "
        f"budget {ours.get('budget_s', meta['budget_s']):.0f} s each, "
        "one thread pinned to core "
        f"{meta['core']}, {meta['cpu']}\n"
    )
    print("| quantity | pointchem GM | apax | apax / pointchem |")
    print("|---|---|---|---|")

    def row(
        label: str,
        a: float | None,
        b: float | None,
        digits: int = 2,
        ratio: bool = True,
    ) -> None:
        print(
            f"| {label} | {_cell(a, digits)} | {_cell(b, digits)} | "
            f"{_ratio(b, a) if ratio else ''} |"
        )

    row(
        "training loop s",
        ours.get("training_loop_s"),
        apax_.get("training_loop_s"),
        0,
        False,
    )
    row(
        "s outside the training loop (data, model setup; ours: + final report)",
        ours.get("setup_and_finish_s"),
        apax_.get("setup_s"),
        0,
        False,
    )
    row(
        "epochs completed",
        ours.get("epochs_completed"),
        apax_.get("epochs_completed"),
        0,
    )
    row("best epoch", ours.get("best_epoch"), apax_.get("best_epoch"), 0, False)
    row(
        "epochs planned by the LR schedule (apax: cyclic, none)",
        ours.get("epochs_planned"),
        None,
        0,
        False,
    )
    row(
        "median s per epoch (with validation)",
        ours.get("median_epoch_s"),
        apax_.get("median_epoch_s"),
    )
    row(
        "batch size",
        ours.get("config", {}).get("training", {}).get("batch_size"),
        apax_.get("config", {}).get("data", {}).get("batch_size"),
        0,
        False,
    )
    row(
        "CPU/wall during training",
        ours.get("cpu_per_wall"),
        apax_.get("cpu_per_wall"),
        2,
        False,
    )
    for name in TEST_SETS:
        a, b = (
            scores.get("pointchem", {}).get(name, {}),
            scores.get("apax", {}).get(name, {}),
        )
        row(
            f"{name} energy MAE meV/atom",
            a.get("energy_per_atom_mae"),
            b.get("energy_per_atom_mae"),
            3,
        )
        row(
            f"{name} energy MAE meV/molecule",
            a.get("energy_mae"),
            b.get("energy_mae"),
            2,
        )
        row(f"{name} force MAE meV/Å", a.get("forces_mae"), b.get("forces_mae"), 1)
    for name in meta["sizes"]:
        a = timing.get("pointchem", {}).get(name, {}).get("median_ms")
        b = timing.get("apax", {}).get(name, {}).get("median_ms")
        atoms = timing.get("pointchem", {}).get(name, {}).get("n_atoms", "")
        row(f"ms per E+F call, {name} ({atoms} atoms)", a, b)
    print(
        "\nMAEs on the held-out xTB frames (100 each), scored by one function on "
        "both codes' calculator predictions. ms per call: median of energy+forces"
        "(+stress for the periodic water boxes) calls with fresh positions; apax / "
        "pointchem > 1x means pointchem is faster (or, for MAEs, more accurate). "
        f"Load average at start {meta['load_average_start']}, at end "
        f"{meta.get('load_average_end')}."
    )
    verdicts = []
    for name in TEST_SETS:
        a, b = scores.get("pointchem", {}).get(name), scores.get("apax", {}).get(name)
        if a and b:
            for key in ("energy_per_atom_mae", "forces_mae"):
                verdicts.append(
                    f"{name} {key}: "
                    f"{'ours ≤ apax' if a[key] <= b[key] else 'APAX BETTER'}"
                )
    for name in meta["sizes"]:
        a = timing.get("pointchem", {}).get(name, {}).get("median_ms")
        b = timing.get("apax", {}).get(name, {}).get("median_ms")
        if a and b:
            verdicts.append(f"{name} call: {'ours faster' if a < b else 'APAX FASTER'}")
    if verdicts:
        print("Verdicts: " + "; ".join(verdicts) + ".")


def main() -> None:
    args = parse_args()
    if args.table_only:
        print_table(json.loads(RESULT_JSON.read_text()))
        return
    check_data()
    if args.core >= 0:
        os.sched_setaffinity(0, {args.core})
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    previous = json.loads(RESULT_JSON.read_text()) if RESULT_JSON.is_file() else {}
    result: dict = {
        "meta": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "budget_s": args.budget_s,
            "n_train": args.n_train,
            "n_valid": args.n_valid,
            "seed": args.seed,
            "core": args.core,
            "cpu": cpu_name(),
            "n_cpus": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "pointchem": pointchem.__version__,
            "git": git_state(),
            "sizes": args.sizes,
            "stages_run": args.stages,
            "load_average_start": load_average(),
        },
    }
    # Stages not run now keep their results from the previous run.
    for key in ("pointchem", "apax", "scores", "timing"):
        if key in previous:
            result[key] = previous[key]
    files = write_subsets(args)
    if "train-ours" in args.stages:
        result["pointchem"] = train_ours(args, files)
    if "train-apax" in args.stages:
        result["apax"] = train_apax(args, files)
    potential = WORK_DIR / "pointchem" / "potential.pt"
    if "evaluate" in args.stages:
        result["scores"] = evaluate_both(args, potential)
    if "time" in args.stages:
        result["timing"] = time_both(args, potential)
    result["meta"]["load_average_end"] = load_average()
    OUT_DIR.mkdir(exist_ok=True)
    RESULT_JSON.write_text(json.dumps(result, indent=2, default=str))
    print_table(result)
    print(f"\nwritten {RESULT_JSON}")


if __name__ == "__main__":
    main()
