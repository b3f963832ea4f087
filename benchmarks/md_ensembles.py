"""Acceptance runs of the MD ensembles: NVE drift, NVT temperature, NPT of silicon.

Runs the functions of the examples in ``examples/md/`` at the lengths of the
acceptance tests, so the numbers come from exactly the code a user runs:

* ``nve``: ethanol with ``ethanol-gm.pt`` in float64, velocity Verlet, 0.5 fs, 20 ps
  (``01_nve_energy_conservation.run_nve``). Passes if |drift| < 1 meV/atom/ns.
* ``nvt``: the gas of 8 ethanol molecules (``02_nvt_langevin.run_nvt``), 1 ps of
  equilibration then 50 ps at 300 K, once with ``Langevin`` and once with ``Bussi``.
  Passes if the mean temperature is within 2 % of the target.
* ``npt``: 64-atom diamond silicon with ``silicon-pet.pt`` at 300 K and 0 GPa
  (``07_npt_silicon.run_npt``, LangevinBAOAB), 1 ps of equilibration then 10 ps:
  pressure, lattice constant and temperature against the targets (no pass/fail).

Each finished part is merged into ``benchmarks/out/md_ensembles.json`` at once (an
interrupted run keeps what it finished); trajectories, logs and PNGs go to
``benchmarks/out/md_ensembles/``. A markdown summary of the JSON is printed at the
end (``--summary-only`` prints it without running anything).

Run (one thread; about 2 hours of CPU time on one core for all parts)::

    OMP_NUM_THREADS=1 python benchmarks/md_ensembles.py
    OMP_NUM_THREADS=1 python benchmarks/md_ensembles.py --parts nvt --nvt-ps 10
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import platform
import sys
import time
from pathlib import Path
from types import ModuleType

import ase
import torch

import pointchem

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
RESULTS = OUT / "md_ensembles.json"
FILES = OUT / "md_ensembles"
PARTS = ("nve", "nvt", "npt")
DRIFT_LIMIT_MEV_PER_ATOM_PER_NS = 1.0


def example(name: str) -> ModuleType:
    """Import an example script of ``examples/md`` by its file name (no ``.py``)."""
    folder = str(ROOT / "examples" / "md")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


EXAMPLES = {
    "nve": "01_nve_energy_conservation",
    "nvt": "02_nvt_langevin",
    "npt": "07_npt_silicon",
}
"""The example each part runs."""


def run_part(part: str, arguments: argparse.Namespace) -> dict:
    """Run one part and return its JSON record (the summaries of its runs)."""
    FILES.mkdir(parents=True, exist_ok=True)
    if part == "nve":
        nve = example(EXAMPLES["nve"])
        summary, series = nve.run_nve(arguments.nve_ps, stem=FILES / "nve")
        nve.plot_nve(series, summary, FILES / "nve.png")
        summary["passes"] = bool(
            abs(summary["drift_meV_per_atom_per_ns"]) < DRIFT_LIMIT_MEV_PER_ATOM_PER_NS
        )
        return {"nve": summary}
    if part == "nvt":
        nvt = example(EXAMPLES["nvt"])
        runs = {
            name: nvt.run_nvt(
                name, arguments.nvt_ps, arguments.equilibration_ps, stem=FILES / "nvt"
            )
            for name in nvt.THERMOSTATS
        }
        nvt.plot_nvt(runs, FILES / "nvt.png")
        return {f"nvt_{name}": summary for name, (summary, _) in runs.items()}
    if part == "npt":
        npt = example(EXAMPLES["npt"])
        summary, series = npt.run_npt(
            arguments.npt_ps,
            equilibration_ps=arguments.equilibration_ps,
            stem=FILES / "npt",
        )
        npt.plot_npt(series, summary, FILES / "npt.png")
        return {"npt": summary}
    raise ValueError(f"unknown part {part!r}; choose from {PARTS}")


def merge(records: dict) -> dict:
    """Merge ``records`` into the JSON file (created if absent) and return it all."""
    OUT.mkdir(exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(records)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


def environment(command: str) -> dict:
    """Where and how a part was run."""
    return {
        "command": command,
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "pointchem": pointchem.__version__,
        "torch": torch.__version__,
        "ase": ase.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
    }


def markdown(results: dict) -> str:
    """A markdown summary of the JSON results."""
    lines = []
    if "nve" in results:
        nve = results["nve"]
        lines += [
            "| NVE (ethanol-gm.pt, float64) | value |",
            "|---|---|",
            f"| length | {nve['picoseconds']} ps, {nve['steps']} steps of "
            f"{nve['timestep_fs']} fs |",
            f"| drift | {nve['drift_meV_per_atom_per_ns']:+.3f} meV/atom/ns "
            f"(limit ±{DRIFT_LIMIT_MEV_PER_ATOM_PER_NS}; "
            f"{'passes' if nve['passes'] else 'FAILS'}) |",
            f"| fluctuation about the fit | {nve['fluctuation_meV_per_atom']:.4f} "
            "meV/atom |",
            f"| largest excursion | {nve['max_excursion_meV_per_atom']:.4f} meV/atom |",
            f"| mean temperature | {nve['mean_temperature_K']:.1f} K |",
            f"| neighbor-list rebuilds | "
            f"{100 * nve['neighbor_list_rebuild_fraction']:.2f} % of steps |",
            f"| time | {nve['ms_per_step']:.1f} ms/step wall, "
            f"{nve['cpu_ms_per_step']:.1f} ms/step CPU |",
            "",
        ]
    lines += _nvt_table(results)
    if "npt" in results:
        lines += _npt_table(results["npt"])
    for part, record in results.items():
        if "environment" in record:
            lines.append(f"- {part}: `{record['environment']['command']}`")
    return "\n".join(lines)


def _nvt_table(results: dict) -> list[str]:
    names = [key for key in results if key.startswith("nvt_")]
    if not names:
        return []
    lines = [
        "| NVT (8 ethanol, 300 K) | production | ⟨T⟩ ± s.e. (K) | deviation "
        "| within 2 % | K spread / canonical | KS distance | closest approach "
        "| rebuilds | ms/step (CPU) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in names:
        run = results[key]
        lines.append(
            f"| {run['thermostat']} | {run['production_ps']} ps "
            f"| {run['mean_temperature_K']:.2f} ± {run['standard_error_K']:.2f} "
            f"| {100 * run['relative_deviation']:+.2f} % "
            f"| {'yes' if run['within_2_percent'] else 'NO'} "
            f"| {100 * run['kinetic_relative_std']:.2f} % / "
            f"{100 * run['canonical_relative_std']:.2f} % "
            f"| {run['kolmogorov_smirnov_distance']:.3f} "
            f"| {run['min_intermolecular_A']:.2f} Å "
            f"| {100 * run['neighbor_list_rebuild_fraction']:.2f} % "
            f"| {run['ms_per_step']:.1f} ({run['cpu_ms_per_step']:.1f}) |"
        )
    return [*lines, ""]


def _npt_table(npt: dict) -> list[str]:
    rows = [
        ("pressure", "pressure_GPa", "GPa", npt["target_pressure_GPa"]),
        ("temperature", "temperature_K", "K", npt["target_temperature_K"]),
        ("lattice constant", "lattice_constant_A", "Å", npt["lattice_constant_0K_A"]),
        ("volume", "volume_A3", "Å³", None),
    ]
    lines = [
        f"| NPT ({npt['integrator']}, {npt['system']}, {npt['production_ps']} ps) "
        "| mean ± s.e. | std | target (lattice: 0 K) |",
        "|---|---|---|---|",
    ]
    for label, name, unit, target in rows:
        lines.append(
            f"| {label} | {npt[f'{name}_mean']:.4f} ± "
            f"{npt[f'{name}_standard_error']:.4f} {unit} "
            f"| {npt[f'{name}_std']:.4f} "
            f"| {'' if target is None else f'{target:.4f}'} |"
        )
    lines.append(
        f"| rebuilds, time | {100 * npt['neighbor_list_rebuild_fraction']:.0f} % "
        f"of steps | {npt['ms_per_step']:.1f} ms/step "
        f"({npt['cpu_ms_per_step']:.1f} CPU) | |"
    )
    return [*lines, ""]


def main() -> None:
    """Parse the arguments, run the parts one after the other, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--nve-ps", type=float, default=20.0)
    parser.add_argument("--nvt-ps", type=float, default=50.0)
    parser.add_argument("--npt-ps", type=float, default=10.0)
    parser.add_argument(
        "--equilibration-ps", type=float, default=1.0, help="NVT and NPT"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summary-only", action="store_true")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    command = "python " + " ".join(sys.argv)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not arguments.summary_only:
        for part in arguments.parts:  # import all first: a long run fails early
            example(EXAMPLES[part])
        for part in arguments.parts:
            start = time.perf_counter()
            records = run_part(part, arguments)
            for record in records.values():
                record["environment"] = environment(command)
                record["environment"]["part_wall_s"] = time.perf_counter() - start
            results = merge(records)
            print(f"finished {part} in {time.perf_counter() - start:.0f} s", flush=True)
    print(markdown(results))


if __name__ == "__main__":
    main()
