"""Train pointchem's PET and metatrain's PET side by side: same data, same budget.

The PET benchmark of ``shared/spec/targets.md`` (ours must be at least as accurate
and at least 2x faster at every size), built like ``train_vs_apax.py`` and reusing
its functions:

1. **Data**: by default (``--split config``) the train/validation split that
   ``--our-config`` makes itself (``data/xtb/ethanol-train.xyz``, 10 % validation,
   seed 0: the split of ethanol-gm and ethanol-pet), so that our run is the shipped
   potential's; ``--split subsets`` takes ``train_vs_apax.py``'s seeded subsets of
   ``--n-train`` (1000) and ``--n-valid`` (100) frames. Written to
   ``benchmarks/out/train_vs_metatrain/`` as extxyz so that both codes read the very
   same files. Held out: ``data/xtb/ethanol-test-300K.xyz`` and
   ``ethanol-test-600K.xyz``.
2. **Training**, one code after the other, never concurrently, each pinned to the
   same core (``--core``) with one thread, each with the wall-clock budget
   ``--budget-s`` on its training loop (both stop after the first epoch that ends
   past it; data loading and model setup come before the loop and are reported
   apart). Both have a cosine learning-rate schedule over a planned number of
   epochs, and both plan it the same way: a short probe run (outside the budget)
   measures the time per epoch, and the schedule is set to end with the budget at
   the fastest probe epoch's pace.

   - pointchem: the config ``--our-config`` (default ``potentials/ethanol-pet.yaml``;
     architecture, model and training settings as written there) with the data
     replaced by the subsets and ``training.epochs`` (from a 4-epoch probe),
     ``training.max_time_s`` = budget, ``training.seed`` = ``--seed``,
     ``training.device`` = cpu and no early stopping, through
     ``pointchem.training.loop.train``. Any architecture works (``--our-config
     potentials/ethanol-gm.yaml`` exercises the driver with GM).
   - metatrain 2026.4.1's PET with its default hyperparameters (2.9 M parameters,
     cutoff 4.5 Å, batch 16, Adam 1e-4, float32) in its own virtual environment
     through ``benchmarks/peers/metatrain_train.sh`` (see
     ``benchmarks/peers/metatrain_train.py``: how the budget is enforced, the probe
     that sets ``num_epochs``, the best-validation model kept and exported).

3. **Accuracy**: both trained models predict the held-out frames through their ASE
   calculators in float32 (metatrain's inside its own environment); the predictions
   are written as extxyz and scored by ``train_vs_apax.score``: energy MAE in
   meV/atom and meV per molecule, force-component MAE in meV/Å (and RMSEs).
4. **Speed**: ms per energy+forces(+stress for the periodic water boxes) call of
   each trained model through its ASE calculator (``PointChemCalculator``, skin 1 Å;
   ``metatomic_ase.MetatomicCalculator``, its defaults, skin 2 Å) on ethanol and
   the 192- and 1536-atom water boxes of ``benchmarks/systems.py``, float32 and
   float64 (our potential cast by the calculator; metatrain's exported again in
   float64, since metatomic runs a model in its exported dtype). Protocol of
   ``time_calculator.py`` / ``metatrain_time.py``: fresh random displacement
   (σ 0.01 Å) before each call, median of ``--calls`` calls after ``--warmup``
   (above ``--large-atoms`` atoms: ``--calls-large`` after one). The two codes take
   turns system by system, so load from other work on the machine hits them alike.

Prints one markdown table (accuracy, training, ms per call, ratio metatrain/ours,
growth from 192 to 1536 atoms) and writes ``benchmarks/out/train_vs_metatrain.json``
(all numbers, settings, per-epoch logs, load averages, git state). Stages not run
keep their results from the previous run.

Run from the repository root with the project's virtual environment active::

    python benchmarks/train_vs_metatrain.py                   # 1200 s budget each
    python benchmarks/train_vs_metatrain.py --budget-s 120    # quick check
    python benchmarks/train_vs_metatrain.py --stages evaluate,time  # trained models
    python benchmarks/train_vs_metatrain.py --table-only      # the last results
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import ase.io
import numpy as np
import torch
from systems import SYSTEM_NAMES, build_system
from time_calculator import (
    PERTURBATION,
    ase_call,
    cpu_name,
    make_plan,
    time_interleaved,
)
from train_vs_apax import (
    PROBE_EPOCHS,
    TEST_SETS,
    check_data,
    epoch_times,
    git_state,
    load_average,
    predict_ours,
    read_log,
    score,
    write_subsets,
)

import pointchem
from pointchem import PointChemCalculator, load_potential
from pointchem.training.config import TrainConfig, load_config
from pointchem.training.data import split_samples
from pointchem.training.loop import train

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
OUT_DIR = BENCHMARKS / "out"
WORK_DIR = OUT_DIR / "train_vs_metatrain"
RESULT_JSON = OUT_DIR / "train_vs_metatrain.json"
PEERS = BENCHMARKS / "peers"
METATRAIN_DIR = WORK_DIR / "metatrain"
STAGES = ("train-ours", "train-metatrain", "evaluate", "time")
DTYPES = ("float32", "float64")
TARGET_SPEEDUP = 2.0
"""targets.md: our PET at least this much faster than metatrain's at every size."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--our-config",
        type=Path,
        default=ROOT / "potentials" / "ethanol-pet.yaml",
        help="pointchem training config (its data section is replaced)",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=1200.0,
        help="wall-clock budget of each code's training loop",
    )
    parser.add_argument(
        "--split",
        choices=["config", "subsets"],
        default="config",
        help="config: the split of --our-config; subsets: --n-train/--n-valid",
    )
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-valid", type=int, default=100)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the subsets and both trainings"
    )
    parser.add_argument(
        "--core", type=int, default=0, help="core both codes are pinned to (-1: none)"
    )
    parser.add_argument(
        "--metatrain-epochs",
        default="auto",
        help="metatrain's num_epochs (schedule length); auto: from a probe",
    )
    parser.add_argument(
        "--metatrain-cutoff",
        type=float,
        default=None,
        help="Å; default: metatrain's default (4.5)",
    )
    parser.add_argument(
        "--sizes",
        default="ethanol,192,1536",
        help=f"systems timed, out of {','.join(SYSTEM_NAMES)}",
    )
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--calls-large", type=int, default=5)
    parser.add_argument("--large-atoms", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times the whole alternation of the two codes is repeated",
    )
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
    for name, allowed in (("sizes", SYSTEM_NAMES), ("dtypes", DTYPES)):
        values = [s.strip() for s in getattr(args, name).split(",") if s.strip()]
        for value in values:
            if value not in allowed:
                parser.error(f"unknown {name} {value!r}; choose from {allowed}")
        setattr(args, name, values)
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    for stage in args.stages:
        if stage not in STAGES:
            parser.error(f"unknown stage {stage!r}; choose from {STAGES}")
    if "train-ours" in args.stages and not args.our_config.is_file():
        parser.error(f"--our-config {args.our_config} does not exist")
    return args


def write_split(args: argparse.Namespace) -> dict[str, Path]:
    """The train/validation files both codes read.

    ``--split config`` (default): the split ``--our-config`` itself makes (its
    training files, ``validation_fraction`` and ``split_seed``, through
    ``pointchem.training.data.split_samples``), so that our run is the shipped
    potential's run and metatrain sees exactly its frames. ``--split subsets``:
    ``train_vs_apax``'s seeded ``--n-train``/``--n-valid`` subsets.
    """
    if args.split == "subsets":
        return write_subsets(args, WORK_DIR)
    data = load_config(args.our_config).data
    frames = [f for path in data.train for f in ase.io.read(path, index=":")]
    fractions = [data.validation_fraction, data.test_fraction]
    train_part, valid_part, _ = split_samples(
        range(len(frames)),  # type: ignore[arg-type]
        fractions,
        data.split_seed,
    )
    args.n_train, args.n_valid = len(train_part), len(valid_part)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, indices in (("train", train_part), ("valid", valid_part)):
        path = WORK_DIR / f"{name}-{len(indices)}.xyz"
        ase.io.write(path, [frames[i] for i in indices], format="extxyz")
        paths[name] = path
    return paths


# --- pointchem -------------------------------------------------------------------


def our_config(
    args: argparse.Namespace, files: dict, epochs: int, budget: float | None
) -> TrainConfig:
    """``--our-config`` on the benchmark's data, with its epochs and budget."""
    overrides = {
        "data.train": [str(files["train"])],
        "data.validation": [str(files["valid"])],
        "data.test": [],
        "data.test_fraction": 0.0,
        "training.seed": args.seed,
        "training.device": "cpu",
        "training.epochs": epochs,
        "training.max_time_s": budget,
        "training.early_stopping_patience": None,
    }
    return load_config(
        args.our_config, [f"{key}={json.dumps(v)}" for key, v in overrides.items()]
    )


def train_ours(args: argparse.Namespace, files: dict) -> dict:
    """Probe the epoch time, then train within the budget; returns a summary."""
    probe_dir = WORK_DIR / "pointchem-probe"
    shutil.rmtree(probe_dir, ignore_errors=True)
    train(our_config(args, files, PROBE_EPOCHS, None), probe_dir, progress=False)
    probe = epoch_times(read_log(probe_dir / "log.csv"))
    epochs = max(1, int(args.budget_s // min(probe[1:])))
    print(f"pointchem probe: {min(probe[1:]):.2f} s/epoch -> {epochs} epochs")
    output = WORK_DIR / "pointchem"
    shutil.rmtree(output, ignore_errors=True)
    config = our_config(args, files, epochs, args.budget_s)
    load_before = load_average()
    cpu_before, start = time.process_time(), time.perf_counter()
    metrics = train(config, output, progress=False)
    total_s = time.perf_counter() - start
    rows = read_log(output / "log.csv")
    loop_s = rows[-1]["wall_time_s"]
    summary = {
        "architecture": config.architecture,
        "budget_s": args.budget_s,
        "probe_epoch_s": probe,
        "epochs_planned": epochs,
        "epochs_completed": int(metrics["epochs_run"]),
        "best_epoch": int(metrics["best_epoch"]),
        "training_loop_s": loop_s,
        "setup_and_finish_s": total_s - loop_s,
        "cpu_per_wall": (time.process_time() - cpu_before) / total_s,
        "median_epoch_s": float(np.median(epoch_times(rows))),
        "batch_size": config.training.batch_size,
        "n_parameters": sum(
            p.numel() for p in load_potential(output / "potential.pt").parameters()
        ),
        "validation": metrics.get("validation"),
        "config": config.to_dict(),
        "potential": str(output / "potential.pt"),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "log": rows,
    }
    print(
        f"pointchem: {summary['epochs_completed']} epochs in {loop_s:.0f} s "
        f"(planned {epochs}), best epoch {summary['best_epoch']}",
        flush=True,
    )
    return summary


def time_ours(potential: Path, name: str, dtype: str, args: argparse.Namespace) -> dict:
    """Time per energy+forces(+stress) call of PointChemCalculator (skin 1 Å), ms."""
    atoms = build_system(name, seed=0)
    options = argparse.Namespace(
        dtype=dtype,
        calls=args.calls,
        calls_large=args.calls_large,
        warmup=args.warmup,
        md_steps=0,
        md_steps_large=0,
        seed=0,
    )
    plan = make_plan(options, torch.device("cpu"), len(atoms))
    if len(atoms) > args.large_atoms:  # as metatrain_time.py
        plan.update(calls=args.calls_large, warmup=1)
    # bare PET against metatrain's (also unsymmetrized) PET; ECSE is timed by ecse.py
    atoms.calc = PointChemCalculator(
        potential, device="cpu", dtype=plan["dtype"], skin=1.0, symmetrize=False
    )
    reference = atoms.positions.copy()
    rng = np.random.default_rng(0)

    def prepare() -> None:
        atoms.positions = reference + rng.normal(0.0, PERTURBATION, reference.shape)

    timing = time_interleaved({"calc": lambda: ase_call(atoms)}, prepare, plan)
    return {"system": name, "n_atoms": len(atoms), "dtype": dtype, **timing["calc"]}


# --- metatrain ---------------------------------------------------------------------


def run_metatrain(script: str, arguments: list[str], core: int) -> float:
    """Run ``benchmarks/peers/<script>`` in metatrain's venv; returns wall seconds.

    Its output (metatrain logs every epoch) is appended to
    ``WORK_DIR/<script>-<subcommand>.log``; the lines it prints for us
    ("metatrain: ...") are echoed.
    """
    environment = dict(os.environ, METATRAIN_TASKSET=str(core) if core >= 0 else "none")
    log_path = WORK_DIR / f"{Path(script).stem}-{arguments[0]}.log"
    start = time.perf_counter()
    with log_path.open("a") as log:
        log.write(f"\n=== {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC: ")
        log.write(" ".join([script, *arguments]) + "\n")
        log.flush()
        offset = log.tell()
        completed = subprocess.run(
            ["bash", str(PEERS / script), *arguments],
            env=environment,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.perf_counter() - start
    with log_path.open() as log:
        log.seek(offset)
        output = log.read().splitlines()
    for line in output:
        if line.startswith(("metatrain:", "metatrain probe:", "creating ")):
            print(line, flush=True)
    if completed.returncode != 0:
        sys.stderr.write("\n".join(output[-40:]) + "\n")
        sys.exit(f"{script} {arguments[0]} failed ({completed.returncode}); {log_path}")
    return elapsed


def train_metatrain(args: argparse.Namespace, files: dict) -> dict:
    load_before = load_average()
    arguments = ["train", "--train", str(files["train"]), "--valid"]
    arguments += [str(files["valid"]), "--workdir", str(METATRAIN_DIR)]
    arguments += ["--budget-s", str(args.budget_s), "--seed", str(args.seed)]
    arguments += ["--epochs", args.metatrain_epochs]
    if args.metatrain_cutoff is not None:
        arguments += ["--cutoff", str(args.metatrain_cutoff)]
    process_s = run_metatrain("metatrain_train.sh", arguments, args.core)
    summary = json.loads((METATRAIN_DIR / "summary.json").read_text())
    summary.update(
        process_s=process_s,
        load_average_before=load_before,
        load_average_after=load_average(),
    )
    return summary


# --- accuracy and speed ------------------------------------------------------------


def evaluate_both(args: argparse.Namespace, potential: Path) -> dict:
    predictions = WORK_DIR / "predictions"
    predictions.mkdir(parents=True, exist_ok=True)
    targets = {
        code: {name: predictions / f"{code}-{name}.xyz" for name in TEST_SETS}
        for code in ("pointchem", "metatrain")
    }
    for name, source in TEST_SETS.items():
        predict_ours(potential, source, targets["pointchem"][name])
    arguments = ["predict", "--model-dir", str(METATRAIN_DIR), "--input"]
    arguments += [*map(str, TEST_SETS.values()), "--output"]
    arguments += [*map(str, targets["metatrain"].values())]
    run_metatrain("metatrain_timing.sh", arguments, args.core)
    return {
        code: {name: score(TEST_SETS[name], path) for name, path in paths.items()}
        for code, paths in targets.items()
    }


def time_both(args: argparse.Namespace, potential: Path) -> dict:
    """Both codes, system by system (ours first), every dtype, ``--rounds`` times.

    Load from other work on the machine drifts over minutes; repeating the
    alternation and taking the median over rounds keeps one slow stretch from
    deciding a ratio. Every round's figures are kept.
    """
    ours: dict[str, dict] = {}
    theirs: dict[str, dict] = {}
    peer_meta: dict = {}
    for index in range(args.rounds):
        for name in args.sizes:
            for dtype in args.dtypes:
                measured = time_ours(potential, name, dtype, args)
                ours.setdefault(name, {}).setdefault(dtype, []).append(measured)
                print(
                    f"pointchem: round {index + 1} {name} {dtype} "
                    f"{measured['median_ms']:.1f} ms/call",
                    flush=True,
                )
            peer = time_metatrain(args, name, index)
            peer_meta = peer["meta"]
            for dtype, measured in peer["results"].get(name, {}).items():
                theirs.setdefault(name, {}).setdefault(dtype, []).append(measured)
    return {
        "pointchem": _over_rounds(ours),
        "metatrain": _over_rounds(theirs),
        "metatrain_meta": peer_meta,
        "rounds": args.rounds,
        "load_average_after": load_average(),
    }


def time_metatrain(args: argparse.Namespace, name: str, index: int) -> dict:
    """One round of metatrain's timing of system ``name``, every dtype."""
    output = WORK_DIR / f"metatrain_time-round{index + 1}.json"
    output.unlink(missing_ok=True)
    arguments = ["time", "--model-dir", str(METATRAIN_DIR), "--sizes", name]
    arguments += ["--dtypes", ",".join(args.dtypes), "--output", str(output)]
    for option in ("calls", "calls_large", "large_atoms", "warmup"):
        arguments += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    run_metatrain("metatrain_timing.sh", arguments, args.core)
    return json.loads(output.read_text())


def _over_rounds(rounds: dict[str, dict[str, list[dict]]]) -> dict:
    """Per system and dtype: the median over rounds of the per-round medians."""
    combined: dict[str, dict] = {}
    for name, by_dtype in rounds.items():
        for dtype, measured in by_dtype.items():
            medians = [m["median_ms"] for m in measured]
            combined.setdefault(name, {})[dtype] = {
                **measured[0],
                "median_ms": statistics.median(medians),
                "round_medians_ms": medians,
            }
    return combined


# --- report ------------------------------------------------------------------------


def _cell(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ratio(theirs: float | None, ours: float | None) -> str:
    if theirs is None or not ours:
        return "—"
    return f"{theirs / ours:.2f}x"


def _row(label: str, ours: float | None, theirs: float | None, digits: int = 2) -> str:
    """A table row; the ratio column only for quantities where lower is better."""
    return f"| {label} | {_cell(ours, digits)} | {_cell(theirs, digits)} |  |"


def training_rows(ours: dict, theirs: dict) -> list[str]:
    rows = []
    for label, key, digits in (
        ("training loop s", "training_loop_s", 0),
        ("s outside the training loop (data, setup, saving)", "setup_and_finish_s", 0),
        ("epochs completed", "epochs_completed", 0),
        ("epochs planned by the LR schedule (probe)", "epochs_planned", 0),
        ("best epoch", "best_epoch", 0),
        ("median s per epoch (with validation)", "median_epoch_s", 2),
        ("batch size", "batch_size", 0),
        ("parameters", "n_parameters", 0),
        ("CPU/wall during training", "cpu_per_wall", 2),
    ):
        rows.append(_row(label, ours.get(key), theirs.get(key), digits))
    return rows


def accuracy_rows(scores: dict) -> tuple[list[str], list[str]]:
    rows, verdicts = [], []
    for name in TEST_SETS:
        ours = scores.get("pointchem", {}).get(name, {})
        theirs = scores.get("metatrain", {}).get(name, {})
        for label, key, digits in (
            ("energy MAE meV/atom", "energy_per_atom_mae", 3),
            ("energy MAE meV/molecule", "energy_mae", 2),
            ("force MAE meV/Å", "forces_mae", 1),
        ):
            a, b = ours.get(key), theirs.get(key)
            rows.append(
                f"| {name} {label} | {_cell(a, digits)} | {_cell(b, digits)} "
                f"| {_ratio(b, a)} |"
            )
            if a is not None and b is not None and key != "energy_mae":
                verdict = "ours ≤ metatrain" if a <= b else "METATRAIN BETTER"
                verdicts.append(f"{name} {key}: {verdict}")
    return rows, verdicts


def speed_rows(timing: dict, sizes: list[str]) -> tuple[list[str], list[str]]:
    rows, verdicts = [], []
    ours, theirs = timing.get("pointchem", {}), timing.get("metatrain", {})

    def ms(results: dict, name: str, dtype: str) -> float | None:
        return results.get(name, {}).get(dtype, {}).get("median_ms")

    dtypes = sorted({d for by_dtype in ours.values() for d in by_dtype})
    for dtype in dtypes:
        for name in sizes:
            a, b = ms(ours, name, dtype), ms(theirs, name, dtype)
            atoms = ours.get(name, {}).get(dtype, {}).get("n_atoms", "")
            rows.append(
                f"| ms per E+F call, {name} ({atoms} atoms), {dtype} "
                f"| {_cell(a, 1)} | {_cell(b, 1)} | {_ratio(b, a)} |"
            )
            if a and b:
                ok = b / a >= TARGET_SPEEDUP
                verdicts.append(
                    f"{name} {dtype}: {b / a:.2f}x {'≥' if ok else 'BELOW'} "
                    f"{TARGET_SPEEDUP:g}x{_round_ratios(ours, theirs, name, dtype)}"
                )
        base = [ms(results, "192", dtype) for results in (ours, theirs)]
        top = [ms(results, "1536", dtype) for results in (ours, theirs)]
        if all(base) and all(top):
            rows.append(
                f"| growth 192 → 1536 atoms (8x the atoms), {dtype} "
                f"| {top[0] / base[0]:.1f}x | {top[1] / base[1]:.1f}x |  |"
            )
    return rows, verdicts


def _round_ratios(ours: dict, theirs: dict, name: str, dtype: str) -> str:
    rounds = [
        results.get(name, {}).get(dtype, {}).get("round_medians_ms")
        for results in (ours, theirs)
    ]
    if not all(rounds):
        return ""
    ratios = ", ".join(f"{b / a:.2f}" for a, b in zip(*rounds, strict=False))
    return f" (rounds: {ratios})"


def print_table(result: dict) -> None:
    meta = result["meta"]
    ours, theirs = result.get("pointchem", {}), result.get("metatrain", {})
    label = f"pointchem {ours.get('architecture', '').upper()}".strip()
    print(
        f"\n### {label} vs metatrain {theirs.get('metatrain', '')} PET: "
        f"{meta['n_train']} training / {meta['n_valid']} validation frames, budget "
        f"{meta['budget_s']:.0f} s each, one thread pinned to core {meta['core']}, "
        f"{meta['cpu']}\n"
    )
    print(f"| quantity | {label} | metatrain PET | metatrain / pointchem |")
    print("|---|---|---|---|")
    accuracy, accuracy_verdicts = accuracy_rows(result.get("scores", {}))
    speed, speed_verdicts = speed_rows(result.get("timing", {}), meta["sizes"])
    for row in [*accuracy, *speed, *training_rows(ours, theirs)]:
        print(row)
    print(
        "\nMAEs on the held-out xTB frames (100 each), scored by one function on both "
        "codes' float32 calculator predictions. ms per call: median of energy+forces"
        "(+stress for the periodic water boxes) calls with fresh positions, the two "
        "codes taking turns system by system, the whole alternation repeated "
        f"{result.get('timing', {}).get('rounds', 1)} time(s) and the median over "
        "rounds reported. metatrain / pointchem > 1x: pointchem "
        "is more accurate or faster. Growth: ms at 1536 atoms / ms at 192. Load "
        f"average at start {meta['load_average_start']}, at end "
        f"{meta.get('load_average_end')}."
    )
    verdicts = accuracy_verdicts + speed_verdicts
    if verdicts:
        print("Verdicts: " + "; ".join(verdicts) + ".")


def run_stages(args: argparse.Namespace, result: dict) -> None:
    files = write_split(args)
    if "train-ours" in args.stages:
        result["pointchem"] = train_ours(args, files)
    if "train-metatrain" in args.stages:
        result["metatrain"] = train_metatrain(args, files)
    potential = WORK_DIR / "pointchem" / "potential.pt"
    if "evaluate" in args.stages:
        result["scores"] = evaluate_both(args, potential)
    if "time" in args.stages:
        result["timing"] = time_both(args, potential)


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
            "our_config": str(args.our_config),
            "budget_s": args.budget_s,
            "split": args.split,
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
            "dtypes": args.dtypes,
            "stages_run": args.stages,
            "load_average_start": load_average(),
        },
    }
    for key in ("pointchem", "metatrain", "scores", "timing"):
        if key in previous:  # stages not run now keep their earlier results
            result[key] = previous[key]
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    run_stages(args, result)
    # write_split sets the frame counts; a run without training keeps the last ones
    # (and the budget they were trained with)
    trained = {"train-ours", "train-metatrain"} & set(args.stages)
    earlier = previous.get("meta", {})
    for key in ("split", "n_train", "n_valid", "budget_s"):
        value = getattr(args, key)
        result["meta"][key] = value if trained else earlier.get(key, value)
    result["meta"]["load_average_end"] = load_average()
    RESULT_JSON.write_text(json.dumps(result, indent=2, default=str))
    print_table(result)
    print(f"\nwritten {RESULT_JSON}")


if __name__ == "__main__":
    main()
