"""Learning curves of GM, PET and WK on GFN2-xTB ethanol (issue 6).

For every size N (default 50, 100, 250, 500, 1000) and every family:

1. **Data**: the first N frames of one seeded permutation of
   ``data/xtb/ethanol-train.xyz`` (so the sets are nested: the 50 are among the 100),
   split inside the N into ``1 - --validation-fraction`` for fitting and the rest
   (10 %: 5, 10, 25, 50, 100 frames) for validation (early-stopping epoch of GM/PET,
   grid search of WK). ``train_vs_apax.write_subsets`` writes them as extxyz to
   ``benchmarks/out/learning_curve/n<N>/``; every family reads the very same files.
2. **Training** with ``pointchem.training.loop.train`` from the family's shipped
   config (``potentials/ethanol-<family>.yaml``), data replaced by the subsets, on
   the CPU with one thread:

   - GM and PET (float32, as their configs): a per-size wall-clock budget
     (``--gm-budgets``, ``--pet-budgets``) on the training loop; the cosine schedule
     is planned like ``train_vs_metatrain.py`` does it (a 4-epoch probe outside the
     budget measures the epoch time; ``training.epochs`` = budget / fastest probe
     epoch), no early stopping, the best validation epoch kept. PET is trained
     and scored bare (``training.symmetrize=false``), with the random rotations of
     its config.
   - WK (float64): the linear fit with its validation grid, with
     ``model.regulariser_factors`` extended downwards (``--wk-regulariser-factors``)
     and ``model.n_support`` per size (``--wk-support``; the fit caps it at the
     number of training environments of each element).

3. **Accuracy** on both held-out files (``data/xtb/ethanol-test-300K.xyz``,
   ``-600K.xyz``, 100 frames each, the same for every family), predicted by the
   saved potential (bare) in its stored dtype (``--eval-dtype``) and scored by
   ``pointchem.training.metrics.error_metrics``: energy MAE (meV/atom) and force
   component MAE (meV/Å).

Every finished entry is written at once to ``benchmarks/out/learning_curve.json``
(with its training summary, the chosen WK hyperparameters and the process's peak
RSS); ``--resume`` skips entries already there. Entries run smallest N first, all
families at one N before the next. Prints a markdown table and writes the log-log
plot ``benchmarks/out/learning_curve.png``.

Run from the repository root with the project's environment active, on one core::

    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/learning_curve.py
    python benchmarks/learning_curve.py --families wk --sizes 50,100 --resume
    python benchmarks/learning_curve.py --table-only

Two runs can share the machine (one per core) with separate results files, merged
afterwards into the default one::

    taskset -c 0 python benchmarks/learning_curve.py --sizes 1000 \
        --json benchmarks/out/learning_curve-1000.json
    python benchmarks/learning_curve.py --table-only \
        --merge benchmarks/out/learning_curve-1000.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import resource
import shutil
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import torch
from time_calculator import cpu_name
from train_vs_apax import (
    PROBE_EPOCHS,
    TEST_SETS,
    check_data,
    epoch_times,
    git_state,
    load_average,
    read_log,
    write_subsets,
)

import pointchem
from pointchem import load_potential
from pointchem.models.wk import WKHypers
from pointchem.models.wk.sparse import body_order_kernels
from pointchem.training.config import DataSettings, TrainConfig, load_config
from pointchem.training.data import Sample, read_samples
from pointchem.training.loop import train
from pointchem.training.metrics import error_metrics, predict

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
OUT_DIR = BENCHMARKS / "out"
WORK_DIR = OUT_DIR / "learning_curve"
RESULT_JSON = OUT_DIR / "learning_curve.json"
FAMILIES = ("wk", "gm", "pet")
SIZES = (50, 100, 250, 500, 1000)
SCHEDULES = {
    "gm": ("budgets", "50:120,100:150,250:200,500:250,1000:300", "N:seconds,..."),
    "pet": ("budgets", "50:300,100:400,250:600,500:750,1000:900", "N:seconds,..."),
    "wk": ("support", "50:100,100:100,250:100,500:100,1000:100", "N:per element,..."),
}
"""Per family: option suffix, default per-size setting (GM, PET: training budget in
s; WK: support environments per element), help text."""
WK_GRIDS = {"regulariser_factors": "0.003,0.01,0.03,0.1,0.3,1", "alpha_factors": ""}
"""WK validation grids (multiples of σ_E and σ_F; of the base α); "": the config's."""
PROBE_SECONDS = 5.0
"""Shortest span (s) of the epochs whose CPU time the probe measures."""
QUANTITIES = (("energy_per_atom_mae", "E meV/atom", 3), ("forces_mae", "F meV/Å", 1))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0, help="subsets and trainings")
    for family, (suffix, default, text) in SCHEDULES.items():
        parser.add_argument(f"--{family}-{suffix}", default=default, help=text)
    for name, default in WK_GRIDS.items():
        parser.add_argument(
            f"--wk-{name.replace('_', '-')}",
            default=default,
            help=f"model.{name} of the WK fit's validation grid ('': the config's)",
        )
    parser.add_argument(
        "--eval-dtype",
        choices=["stored", "float64"],
        default="stored",
        help="dtype of the test predictions (stored: the potential's own)",
    )
    parser.add_argument(
        "--budget-clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="GM/PET budgets in process CPU seconds (robust to a shared core) or wall",
    )
    parser.add_argument(
        "--wall-cap", type=float, default=3.0, help="cpu clock: wall limit / budget"
    )
    parser.add_argument("--resume", action="store_true", help="skip finished entries")
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULT_JSON,
        help="results file (another one lets two runs share the machine; the plot "
        "goes beside it)",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="*",
        default=[],
        help="with --table-only: entries of these results files are added",
    )
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    args.families = [f.strip() for f in args.families.split(",") if f.strip()]
    for family in args.families:
        if family not in FAMILIES:
            parser.error(f"unknown family {family!r}; choose from {FAMILIES}")
    args.sizes = sorted(int(n) for n in args.sizes.split(",") if n.strip())
    args.settings = {
        family: parse_schedule(parser, f"{family}_{suffix}", vars(args))
        for family, (suffix, _, _) in SCHEDULES.items()
    }
    for family in args.families:
        missing = [n for n in args.sizes if n not in args.settings[family]]
        if missing:
            parser.error(f"no {family} setting for sizes {missing}")
    args.wk_grids = {
        name: [float(f) for f in getattr(args, f"wk_{name}").split(",")]
        for name in WK_GRIDS
        if getattr(args, f"wk_{name}")
    }
    return args


def parse_schedule(
    parser: argparse.ArgumentParser, option: str, values: dict
) -> dict[int, float]:
    """``values[option]``, e.g. ``"50:120,100:150"``, as {50: 120.0, 100: 150.0}."""
    schedule = {}
    for item in values[option].split(","):
        size, colon, value = item.partition(":")
        if not colon:
            parser.error(f"--{option.replace('_', '-')}: {item!r} is not N:value")
        schedule[int(size)] = float(value)
    return schedule


# --- data ---------------------------------------------------------------------------


def n_validation(n: int, args: argparse.Namespace) -> int:
    """Validation frames among the first ``n`` (at least one)."""
    return max(1, round(args.validation_fraction * n))


def subset_files(n: int, args: argparse.Namespace) -> dict[str, Path]:
    """Train/validation extxyz files of the first ``n`` frames of the permutation."""
    n_valid = n_validation(n, args)
    subsets = argparse.Namespace(n_train=n - n_valid, n_valid=n_valid, seed=args.seed)
    return write_subsets(subsets, WORK_DIR / f"n{n}")


def test_samples() -> dict[str, list[Sample]]:
    """The held-out frames of ``TEST_SETS`` (eV, Å)."""
    return {
        name: read_samples([path], DataSettings(train=(str(path),)))
        for name, path in TEST_SETS.items()
    }


# --- training -----------------------------------------------------------------------


def build_config(
    family: str, files: dict[str, Path], args: argparse.Namespace, extra: dict
) -> TrainConfig:
    """The family's shipped config on the subsets, CPU, seeded, plus ``extra``."""
    overrides = {
        "data.train": [str(files["train"])],
        "data.validation": [str(files["valid"])],
        "data.test": [],
        "data.test_fraction": 0.0,
        "training.seed": args.seed,
        "training.device": "cpu",
        **extra,
    }
    return load_config(
        ROOT / "potentials" / f"ethanol-{family}.yaml",
        [f"{key}={json.dumps(value)}" for key, value in overrides.items()],
    )


def gradient_overrides(family: str, epochs: int, max_time_s: float | None) -> dict:
    """GM/PET settings: the planned epochs, the time cap, no early stopping, bare."""
    overrides = {
        "training.epochs": epochs,
        "training.max_time_s": max_time_s,
        "training.early_stopping_patience": None,
    }
    if family == "pet":
        overrides["training.symmetrize"] = False
    return overrides


def probe(family: str, files: dict, directory: Path, args: argparse.Namespace) -> dict:
    """CPU and wall seconds per epoch, from short runs of 1 and 1 + k epochs.

    The difference of the two runs' process CPU times, divided by k, is the CPU
    time of a steady-state epoch (with validation): data reading, setup and the
    final report cancel, and it does not depend on other work on the core. A first,
    discarded 1-epoch run takes the one-off costs of the process (lazy imports,
    matplotlib's font cache), and k (PROBE_EPOCHS or more) makes the k epochs last
    at least PROBE_SECONDS: with 50 structures an epoch takes 0.06 s, and a
    difference over 4 epochs was smaller than the scatter of the fixed costs
    (it came out negative).

    Raises:
        RuntimeError: the CPU difference is still not positive.
    """
    cpu, runs = [], []
    for run in range(3):
        if run < 2:
            epochs = 1
        else:
            first_epoch = epoch_times(read_log(runs[1] / "log.csv"))[0]
            epochs = 1 + max(PROBE_EPOCHS, math.ceil(PROBE_SECONDS / first_epoch))
        overrides = gradient_overrides(family, epochs, None)
        before = time.process_time()
        runs.append(directory / f"probe-{run}-{epochs}")
        train(build_config(family, files, args, overrides), runs[-1], progress=False)
        cpu.append(time.process_time() - before)
    cpu_s = (cpu[2] - cpu[1]) / (epochs - 1)
    if cpu_s <= 0:
        raise RuntimeError(f"probe of {family}: CPU s per epoch {cpu_s:.3g} <= 0")
    wall = epoch_times(read_log(runs[2] / "log.csv"))
    return {"cpu_s": cpu_s, "wall_s": min(wall[1:]), "probe_epochs": epochs - 1}


def train_budgeted(
    family: str, files: dict, budget: float, directory: Path, args: argparse.Namespace
) -> dict:
    """GM/PET: probe the epoch time, then train with a schedule that fits ``budget``.

    ``--budget-clock cpu``: epochs = budget / CPU s per epoch, wall time capped at
    ``--wall-cap`` x budget; ``wall``: epochs = budget / fastest probe epoch's wall
    time and the budget is the wall-clock limit (as ``train_vs_metatrain.py``).
    """
    per_epoch = probe(family, files, directory, args)
    epochs = max(PROBE_EPOCHS, int(budget // per_epoch[f"{args.budget_clock}_s"]))
    cap = budget if args.budget_clock == "wall" else args.wall_cap * budget
    print(f"  probe {per_epoch} s/epoch -> {epochs} epochs", flush=True)
    config = build_config(family, files, args, gradient_overrides(family, epochs, cap))
    cpu_before = time.process_time()
    metrics = train(config, directory / "run", progress=True)
    rows = read_log(directory / "run" / "log.csv")
    return {
        "budget_s": budget,
        "budget_clock": args.budget_clock,
        "probe_s_per_epoch": per_epoch,
        "epochs_planned": epochs,
        "epochs_completed": int(metrics["epochs_run"]),
        "best_epoch": int(metrics["best_epoch"]),
        "training_loop_s": rows[-1]["wall_time_s"],
        "training_cpu_s": time.process_time() - cpu_before,
        "validation": metrics.get("validation"),
        "config": config.to_dict(),
    }


def fit_wk(
    files: dict, n_support: int, directory: Path, args: argparse.Namespace
) -> dict:
    """WK: the linear fit with the extended validation grids and ``n_support``."""
    extra = {f"model.{name}": grid for name, grid in args.wk_grids.items()}
    extra["model.n_support"] = n_support
    # energies and forces only: the dipole head is not part of the learning curve
    extra["model.dipole"] = False
    extra["data.dipole_key"] = None
    config = build_config("wk", files, args, extra)
    cpu_before = time.process_time()
    metrics = train(config, directory / "run", progress=True)
    cpu_s = time.process_time() - cpu_before
    report = read_log(directory / "run" / "log.csv")[-1]
    fitted = load_potential(directory / "run" / "potential.pt")
    chosen = {
        "alpha_factor": alpha_factor(fitted),
        "mixture_alpha": fitted.hypers.mixture_alpha,
        "energy_regulariser": fitted.hypers.energy_regulariser,
        "force_regulariser": fitted.hypers.force_regulariser,
    }
    edges = grid_edges(config.model, chosen)
    if edges:
        print(f"  WK choice at the edge of its grid: {', '.join(edges)}", flush=True)
    return {
        "n_support_per_element": n_support,
        "n_support_total": int(report["n_support"]),
        "training_loop_s": report["fit_wall_time_s"],
        "training_cpu_s": cpu_s,
        "chosen": chosen,
        "at_grid_edge": edges,
        "validation": metrics.get("validation"),
        "config": config.to_dict(),
    }


def alpha_factor(model: torch.nn.Module) -> float:
    """Chosen α over the fit's base α, 1 / (mean ν = 1 self-kernel of the support)."""
    support = model.support()  # type: ignore[operator]
    index = torch.arange(len(support))
    with torch.no_grad():
        pairs = torch.stack([index, index], dim=1)
        diagonal = body_order_kernels(support, support, pairs, model.hypers, nu_max=1)
    return float(model.hypers.mixture_alpha * diagonal[1].mean())  # type: ignore[attr-defined]


def grid_edges(base: WKHypers, chosen: dict[str, float]) -> list[str]:
    """The WK choices whose factor is the smallest or largest of its grid."""
    checks = [
        (name, chosen[name] / getattr(base, name), base.regulariser_factors)
        for name in ("energy_regulariser", "force_regulariser")
    ]
    if base.mixture_alpha is None:
        checks.append(("alpha", chosen["alpha_factor"], base.alpha_factors))
    edges = []
    for name, factor, grid in checks:
        for bound, label in ((min(grid), "smallest"), (max(grid), "largest")):
            if len(grid) > 1 and abs(factor / bound - 1) < 1e-6:
                edges.append(f"{name} at the {label} factor {bound:g}")
    return edges


def evaluate(potential: Path, tests: dict, dtype: str) -> dict[str, dict]:
    """Errors of the bare potential on every test set (meV/atom, meV, meV/Å)."""
    model = load_potential(potential, symmetrize=False)
    if dtype == "float64":
        model = model.to(dtype=torch.float64)
    return {
        name: error_metrics(samples, predict(model, samples, batch_size=16))
        for name, samples in tests.items()
    }


def run_entry(family: str, n: int, args: argparse.Namespace, tests: dict) -> dict:
    """Train/fit one family on the first ``n`` frames and score it on the tests."""
    files = subset_files(n, args)
    directory = WORK_DIR / f"n{n}" / family
    shutil.rmtree(directory, ignore_errors=True)
    setting = args.settings[family][n]
    start, cpu_before = time.perf_counter(), time.process_time()
    if family == "wk":
        summary = fit_wk(files, int(setting), directory, args)
    else:
        summary = train_budgeted(family, files, setting, directory, args)
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_before
    scores = evaluate(directory / "run" / "potential.pt", tests, args.eval_dtype)
    n_valid = n_validation(n, args)
    return {
        "family": family,
        "n": n,
        "n_train": n - n_valid,
        "n_valid": n_valid,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "eval_dtype": args.eval_dtype,
        "test": scores,
        "training": summary,
        "max_rss_mib_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_after": load_average(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


# --- report -------------------------------------------------------------------------


def table_lines(result: dict) -> list[str]:
    """Markdown rows: one per (N, family), the best family per column in bold."""
    entries = {k: v for k, v in result["entries"].items() if "test" in v}
    header = ["N (fit/valid)", "family"]
    header += [f"{t} {label}" for t in TEST_SETS for _, label, _ in QUANTITIES]
    header += ["train/fit s wall (CPU)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for n in sorted({e["n"] for e in entries.values()}):
        at_n = [e for e in entries.values() if e["n"] == n]
        at_n.sort(key=lambda e: FAMILIES.index(e["family"]))
        for entry in at_n:
            cells = [f"{n} ({entry['n_train']}/{entry['n_valid']})", entry["family"]]
            for test in TEST_SETS:
                for key, _, digits in QUANTITIES:
                    value = entry["test"][test][key]
                    best = min(e["test"][test][key] for e in at_n)
                    text = f"{value:.{digits}f}"
                    cells.append(f"**{text}**" if value == best else text)
            summary = entry["training"]
            loop, cpu = summary["training_loop_s"], summary["training_cpu_s"]
            cells.append(f"{loop:.0f} ({cpu:.0f})")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdicts(result: dict, sizes: tuple[int, ...] = (50, 100)) -> list[str]:
    """Whether WK has the lowest test MAEs at the small sizes (issue 6)."""
    lines = []
    for n in sizes:
        at_n = {e["family"]: e for e in result["entries"].values() if e["n"] == n}
        complete = all("test" in e for e in at_n.values())
        if "wk" not in at_n or len(at_n) < 2 or not complete:
            continue
        for test in TEST_SETS:
            for key, label, _ in QUANTITIES:
                values = {f: e["test"][test][key] for f, e in at_n.items()}
                best = min(values, key=values.get)  # type: ignore[arg-type]
                state = "WK best" if best == "wk" else f"{best.upper()} BETTER THAN WK"
                lines.append(f"N={n} {test} {label}: {state}")
    return lines


def plot(result: dict, path: Path) -> None:
    """Log-log learning curves: energy and force MAE vs N, both test sets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    colours = {"wk": "tab:green", "gm": "tab:blue", "pet": "tab:red"}
    for family in FAMILIES:
        done = [e for e in result["entries"].values() if e["family"] == family]
        done = sorted((e for e in done if "test" in e), key=lambda e: e["n"])
        if not done:
            continue
        for test, style in zip(TEST_SETS, ("-", "--"), strict=True):
            for axis, (key, label, _) in zip(axes, QUANTITIES, strict=True):
                axis.plot(
                    [e["n"] for e in done],
                    [e["test"][test][key] for e in done],
                    style,
                    marker="o",
                    color=colours[family],
                    label=f"{family.upper()} {test}",
                )
                axis.set_ylabel(f"test {label.split()[0]} MAE ({label.split()[1]})")
    for axis in axes:
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("structures N (90 % fit, 10 % validation)")
        axis.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    figure.suptitle("GFN2-xTB ethanol: held-out errors vs training-set size")
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)


def report(result: dict) -> None:
    print("\n" + "\n".join(table_lines(result)))
    print(
        "\nTest MAEs on the 100 held-out frames of each file; bold: lowest at that N. "
        "Times: GM/PET the training loop (its budget on the clock of "
        f"--budget-clock, here {result['meta']['args'].get('budget_clock', 'cpu')}); "
        "WK the whole linear fit."
    )
    for line in verdicts(result):
        print(line)
    failed = [k for k, e in result["entries"].items() if "error" in e]
    if failed:
        print(f"failed entries: {', '.join(failed)}")


# --- driver -------------------------------------------------------------------------


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    result["meta"]["load_average_end"] = load_average()
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(result, indent=2, default=str))
    temporary.replace(path)


def meta(args: argparse.Namespace) -> dict:
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "args": vars(args),
        "settings": args.settings,
        "cpu": cpu_name(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "pointchem": pointchem.__version__,
        "git": git_state(),
        "load_average_start": load_average(),
    }


def run_all(args: argparse.Namespace, result: dict) -> None:
    tests = test_samples()
    for n in args.sizes:
        for family in args.families:
            key = f"{family}/{n}"
            if args.resume and "test" in result["entries"].get(key, {}):
                print(f"{key}: done earlier, skipped", flush=True)
                continue
            print(f"{key}: start ({datetime.now():%H:%M:%S})", flush=True)
            try:
                entry = run_entry(family, n, args, tests)
            except Exception as error:  # one failure must not end a long run
                traceback.print_exc()
                entry = {"family": family, "n": n, "error": repr(error)}
            result["entries"][key] = entry
            save(result, args.json)
            if "test" in entry:
                errors = ", ".join(
                    f"{t} {entry['test'][t]['energy_per_atom_mae']:.3f} meV/atom "
                    f"{entry['test'][t]['forces_mae']:.1f} meV/Å"
                    for t in TEST_SETS
                )
                print(f"{key}: {entry['wall_s']:.0f} s; {errors}", flush=True)


def main() -> None:
    args = parse_args()
    if args.table_only:
        result = json.loads(args.json.read_text())
        for other in args.merge:
            result["entries"].update(json.loads(other.read_text())["entries"])
        report(result)
        if args.merge:
            save(result, args.json)
            plot(result, args.json.with_suffix(".png"))
        return
    check_data()
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    previous = json.loads(args.json.read_text()) if args.json.is_file() else {}
    earlier = previous.get("earlier_runs", [])
    if "meta" in previous:
        earlier.append(previous["meta"])
    result = {
        "meta": meta(args),
        "earlier_runs": earlier,
        "entries": previous.get("entries", {}),
    }
    run_all(args, result)
    save(result, args.json)
    plot(result, args.json.with_suffix(".png"))
    report(result)
    print(f"\nwritten {args.json} and {args.json.with_suffix('.png')}")


if __name__ == "__main__":
    main()
