"""Speed of a potential through PointChemCalculator, and where a call's time goes.

For every benchmark system of ``shared/spec/targets.md`` (see ``benchmarks/systems.py``)
and every device, with an untrained model of the family chosen by ``--family``
(speed does not depend on training): ``gm``, a GaussianMomentModel of the apax-like
size (Bessel 16, 5 radial functions, MLP 256-256, cutoff 5 Å), or ``pet``, a
PointEdgeTransformer with its default hyperparameters (``PETHypers()``):

- **calculator call**: median wall time of one energy + forces (+ stress for the
  periodic boxes) call of ``PointChemCalculator``, with neighbor-list skin 1.0 Å (the
  default: the list is reused) and 0 (the list is rebuilt every call). Before each call
  the positions get a fresh random displacement (σ = 0.01 Å from the reference
  structure), so ASE's result cache never hits. A forward hook counts model calls, to
  check that one ASE call costs one model evaluation.
- **neighbor list**: ``atoms_to_graph`` (vesin + conversion to tensors) and the bare
  vesin ``NeighborList.compute(quantities="ijS")`` on numpy arrays.
- **model**: ``evaluate(model, graph, forces=True, stress=periodic)`` on a prebuilt
  graph (forward and backward).
- **share outside the model** = 1 − model / calculator call.
- **MD step**: ase ``VelocityVerlet`` (0.5 fs, started at 300 K) with skin 1.0 and 0,
  the two runs stepping in alternation; mean ms per step (rebuilds amortized); the
  JSON also has the median and counts neighbor-list builds.

The single-point items are timed in interleaved rounds (each round: new positions,
then one of each item), so load from other work on the machine hits them alike. The
untrained model's energy scale is shrunk 100x so that the short MD runs stay physical
(same amount of computation). Medians over ``--calls`` rounds after ``--warmup``.

The table also lists the peer timings of targets.md (GM: apax and TorchANI; PET:
metatrain's PET), the ratio peer / ours for the default calculator (skin 1.0), and,
for GM, when
``benchmarks/out/apax_time.json`` exists (written by
``benchmarks/peers/apax_timing.sh``), apax re-measured on this machine. Results go
to stdout (markdown) and to
``benchmarks/out/time_calculator-<family>-<device>-<dtype>-<threads>t.json`` (results of
systems not measured in a run are kept from earlier runs; each has its date).

Run from the repository root, with the project's virtual environment active::

    python benchmarks/time_calculator.py                      # ethanol,192,1536
    python benchmarks/time_calculator.py --sizes 12288 --calls-large 3
    python benchmarks/time_calculator.py --dtype float64 --threads 2 --device cpu
    python benchmarks/time_calculator.py --family pet --sizes ethanol,192,1536

Timings use one torch thread by default (``--threads``): on a 2-core machine shared
with other work, two threads made timings erratic (targets.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import ase
import numpy as np
import torch
import vesin
from ase import units
from ase.md.verlet import VelocityVerlet
from systems import PUBLISHED_MS, SYSTEM_NAMES, build_system

import pointchem
from pointchem import PointChemCalculator, evaluate
from pointchem.graph import atoms_to_graph
from pointchem.models.base import EnergyModel
from pointchem.models.gm import GaussianMomentModel, GMHypers
from pointchem.models.pet import PETHypers, PointEdgeTransformer

OUT_DIR = Path(__file__).resolve().parent / "out"
APAX_JSON = OUT_DIR / "apax_time.json"
FAMILIES = {
    "gm": (
        GaussianMomentModel,
        GMHypers(
            cutoff=5.0,
            radial_basis="bessel",
            n_basis=16,
            n_radial=5,
            hidden_sizes=(256, 256),
        ),
    ),
    "pet": (PointEdgeTransformer, PETHypers()),
}
"""Family name → (model class, hyperparameters of the timed model)."""
PEERS = {"gm": ("apax", "TorchANI"), "pet": ("metatrain PET",)}
"""Peers of targets.md each family is compared with."""
ATOMIC_NUMBERS = (1, 6, 8)
PERTURBATION = 0.01
"""Å, standard deviation of the fresh random displacement before each call."""

ENERGY_SCALE = 0.01
"""Factor on the untrained model's per-species energy scale (see :func:`make_model`)."""

LARGE = 5000
"""Systems with more atoms than this use ``--calls-large`` and ``--md-steps-large``."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="ethanol,192,1536",
        help=f"comma-separated systems out of {','.join(SYSTEM_NAMES)}",
    )
    parser.add_argument("--family", default="gm", choices=sorted(FAMILIES))
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--device",
        default="auto",
        help="cpu, cuda, or auto (cpu, plus cuda when available); comma-separated",
    )
    parser.add_argument("--calls", type=int, default=20, help="timed calls per item")
    parser.add_argument("--calls-large", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--md-steps", type=int, default=20)
    parser.add_argument("--md-steps-large", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--apax-json", type=Path, default=APAX_JSON, help="apax re-measurement"
    )
    args = parser.parse_args()
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for name in args.sizes:
        if name not in SYSTEM_NAMES:
            parser.error(f"unknown system {name!r}; choose from {SYSTEM_NAMES}")
    return args


def resolve_devices(spec: str) -> list[torch.device]:
    if spec == "auto":
        names = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        names = [s.strip() for s in spec.split(",")]
    return [torch.device(name) for name in names]


def synchronizer(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def summary(times: list[float], cpu_times: list[float]) -> dict[str, float]:
    """Median and spread of wall times (ms), and process CPU time / wall time.

    CPU/wall is about 1 with one busy thread, below 1 when other work took the core,
    above 1 when more threads ran.
    """
    quartiles = np.percentile(times, [25, 75])
    return {
        "median_ms": statistics.median(times),
        "p25_ms": float(quartiles[0]),
        "p75_ms": float(quartiles[1]),
        "min_ms": min(times),
        "n": len(times),
        "cpu_per_wall": sum(cpu_times) / sum(times),
    }


def time_interleaved(
    tasks: dict[str, Callable[[], object]],
    prepare: Callable[[], None],
    plan: dict,
) -> dict[str, dict[str, float]]:
    """Time every task once per round, after an untimed ``prepare()`` per round.

    Interleaving the tasks round by round exposes them alike to load from other work
    on the machine, so their ratios (the share outside the model) stay meaningful.
    """
    wall: dict[str, list[float]] = {name: [] for name in tasks}
    cpu: dict[str, list[float]] = {name: [] for name in tasks}
    sync = plan["sync"]
    for index in range(plan["warmup"] + plan["calls"]):
        prepare()
        for name, call in tasks.items():
            sync()
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            sync()
            if index >= plan["warmup"]:
                wall[name].append(1e3 * (time.perf_counter() - start))
                cpu[name].append(1e3 * (time.process_time() - start_cpu))
    return {name: summary(wall[name], cpu[name]) for name in tasks}


def attach_calculator(
    atoms: ase.Atoms, model: EnergyModel, skin: float, plan: dict
) -> ase.Atoms:
    atoms = atoms.copy()
    atoms.calc = PointChemCalculator(
        model, device=plan["device"], dtype=plan["dtype"], skin=skin
    )
    return atoms


def ase_call(atoms: ase.Atoms) -> None:
    """What a user asks for: energy, forces and (periodic) stress."""
    atoms.get_potential_energy()
    atoms.get_forces()
    if atoms.pbc.all():
        atoms.get_stress()


def time_single_points(
    atoms: ase.Atoms, model: EnergyModel, plan: dict
) -> dict[str, dict]:
    """Calculator calls (skin 1 and 0), model alone, and neighbor lists alone.

    Before each round every copy of the structure gets the same fresh random
    displacement from the reference positions, so ASE's cache never hits; with skin 1
    the neighbor list stays valid (displacements << skin/2), with skin 0 it is rebuilt.
    """
    device, dtype, cutoff = plan["device"], plan["dtype"], model.cutoff
    periodic = bool(atoms.pbc.all())
    copies = {skin: attach_calculator(atoms, model, skin, plan) for skin in (1.0, 0.0)}
    reference = atoms.positions.copy()
    rng = np.random.default_rng(plan["seed"])
    graph = atoms_to_graph(atoms, cutoff, dtype, device)
    box = atoms.cell.array if periodic else np.zeros((3, 3))
    vesin_list = vesin.NeighborList(cutoff=cutoff, full_list=True)
    probe = copies[1.0]
    # The calculator runs its own copy of the model (cast, parameters frozen): time
    # exactly that one alone.
    calc_model = probe.calc.model

    def prepare() -> None:
        positions = reference + rng.normal(0.0, PERTURBATION, reference.shape)
        for copy in copies.values():
            copy.positions = positions

    tasks = {
        "calculator_skin_1": lambda: ase_call(copies[1.0]),
        "calculator_skin_0": lambda: ase_call(copies[0.0]),
        "model": lambda: evaluate(calc_model, graph, forces=True, stress=periodic),
        "atoms_to_graph": lambda: atoms_to_graph(probe, cutoff, dtype, device),
        "vesin": lambda: vesin_list.compute(
            probe.positions, box, periodic=periodic, quantities="ijS"
        ),
    }
    calls = [0]
    hook = copies[0.0].calc.model.register_forward_hook(
        lambda *_: calls.__setitem__(0, calls[0] + 1)
    )
    try:
        results = time_interleaved(tasks, prepare, plan)
    finally:
        hook.remove()
    results["model_calls_per_ase_call"] = calls[0] / (plan["warmup"] + plan["calls"])
    results["n_edges"] = graph.n_edges
    return results


def set_temperature(atoms: ase.Atoms, kelvin: float, rng: np.random.Generator) -> None:
    """Maxwell-Boltzmann momenta at ``kelvin``, total momentum removed."""
    masses = atoms.get_masses()[:, None]
    momenta = rng.normal(size=(len(atoms), 3)) * np.sqrt(masses * units.kB * kelvin)
    momenta -= masses * momenta.sum(axis=0) / masses.sum()
    atoms.set_momenta(momenta)


def _md_cell(result: dict) -> str:
    if "md_skin_1" not in result:
        return "not run"
    return (
        f"{_fmt(result['md_skin_1']['ms_per_step'])} / "
        f"{_fmt(result['md_skin_0']['ms_per_step'])}"
    )


def time_md(atoms: ase.Atoms, model: EnergyModel, plan: dict) -> dict:
    """Time per VelocityVerlet step (0.5 fs, from 300 K), skin 1 and 0 interleaved.

    Both runs start from the same velocities and take their steps in alternation, so
    load from other work hits them alike. The mean includes the amortized cost of
    neighbor-list rebuilds; the median is a step without a rebuild (skin 1).
    """
    runs = {}
    for skin in (1.0, 0.0):
        copy = attach_calculator(atoms, model, skin, plan)
        set_temperature(copy, 300.0, np.random.default_rng(plan["seed"]))
        runs[skin] = VelocityVerlet(copy, timestep=0.5 * units.fs)
    for _ in range(min(plan["warmup"], 2)):
        for dynamics in runs.values():
            dynamics.step()
    builds = {skin: _builds(dynamics) for skin, dynamics in runs.items()}
    times: dict[float, list[float]] = {skin: [] for skin in runs}
    for _ in range(plan["md_steps"]):
        for skin, dynamics in runs.items():
            plan["sync"]()
            start = time.perf_counter()
            dynamics.step()
            plan["sync"]()
            times[skin].append(1e3 * (time.perf_counter() - start))
    results = {}
    for skin, dynamics in runs.items():
        after = _builds(dynamics)
        results[f"md_skin_{skin:g}"] = {
            "ms_per_step": statistics.mean(times[skin]),
            "median_ms": statistics.median(times[skin]),
            "steps": plan["md_steps"],
            "neighbor_list_builds": None if after is None else after - builds[skin],
        }
    return results


def _builds(dynamics: VelocityVerlet) -> int | None:
    """Neighbor-list builds so far of the calculator driving ``dynamics``, if known."""
    neighbors = getattr(dynamics.atoms.calc, "neighbors", None)
    return getattr(neighbors, "n_builds", None)


def make_plan(args: argparse.Namespace, device: torch.device, n_atoms: int) -> dict:
    large = n_atoms > LARGE
    return {
        "device": device,
        "dtype": getattr(torch, args.dtype),
        "sync": synchronizer(device),
        "calls": args.calls_large if large else args.calls,
        "warmup": 1 if large else args.warmup,
        "md_steps": args.md_steps_large if large else args.md_steps,
        "seed": args.seed,
    }


def make_model(
    family: str, seed: int, device: torch.device, dtype: torch.dtype
) -> EnergyModel:
    """Untrained model of ``family``, its energy scale shrunk by ENERGY_SCALE.

    With random weights the forces in the water boxes are ~5 eV/Å (rms), enough to
    make hydrogens collide within a few MD steps; scaled down they are ~0.05 eV/Å.
    The factor does not change the amount of computation.
    """
    torch.manual_seed(seed)
    model_class, hypers = FAMILIES[family]
    model = model_class(hypers, atomic_numbers=ATOMIC_NUMBERS)
    with torch.no_grad():
        model.scale.mul_(ENERGY_SCALE)  # type: ignore[operator]
    return model.to(device=device, dtype=dtype).eval()


def measure_system(name: str, args: argparse.Namespace, device: torch.device) -> dict:
    atoms = build_system(name, seed=args.seed)
    plan = make_plan(args, device, len(atoms))
    model = make_model(args.family, args.seed, device, plan["dtype"])
    result: dict = {"system": name, "n_atoms": len(atoms)}
    result.update(time_single_points(atoms, model, plan))
    if plan["md_steps"] > 0:
        result.update(time_md(atoms, model, plan))
    model_ms = result["model"]["median_ms"]
    for skin in (1.0, 0.0):
        key = f"skin_{skin:g}"
        calc_ms = result[f"calculator_{key}"]["median_ms"]
        result[f"outside_model_share_{key}"] = 1.0 - model_ms / calc_ms
    return result


def load_apax(path: Path) -> dict | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(peer: float | None, ours: float) -> str:
    return "—" if peer is None else f"{peer / ours:.2f}x"


TABLE_HEADER = (
    "| system | atoms | edges | calc ms (skin 1) | calc ms (skin 0) | model ms "
    "| atoms_to_graph ms | vesin ms | outside model (skin 1 / 0) "
    "| MD ms/step (skin 1 / 0) | CPU/wall |"
)


def table_header(family: str) -> str:
    """The markdown header: our columns, then (ms, ratio) per peer of ``family``."""
    peers = "".join(f" {peer} ms (targets) | {peer}/ours |" for peer in PEERS[family])
    apax = " apax ms (here) | apax here/ours |" if family == "gm" else ""
    return TABLE_HEADER + peers + apax


def table_row(result: dict, apax: dict | None, family: str = "gm") -> str:
    name = result["system"]
    ours = result["calculator_skin_1"]["median_ms"]
    cells = [
        name,
        str(result["n_atoms"]),
        str(result["n_edges"]),
        _fmt(ours),
        _fmt(result["calculator_skin_0"]["median_ms"]),
        _fmt(result["model"]["median_ms"]),
        _fmt(result["atoms_to_graph"]["median_ms"]),
        _fmt(result["vesin"]["median_ms"]),
        f"{100 * result['outside_model_share_skin_1']:.0f} % / "
        f"{100 * result['outside_model_share_skin_0']:.0f} %",
        _md_cell(result),
        f"{result['calculator_skin_1']['cpu_per_wall']:.2f}",
    ]
    for peer in PEERS[family]:
        published = PUBLISHED_MS[peer].get(name)
        cells += [_fmt(published), _ratio(published, ours)]
    if family == "gm":
        apax_here = None
        if apax is not None and name in apax.get("results", {}):
            apax_here = apax["results"][name]["median_ms"]
        cells += [_fmt(apax_here), _ratio(apax_here, ours)]
    return "| " + " | ".join(cells) + " |"


def print_table(
    results: list[dict], meta: dict, apax: dict | None, device: torch.device
) -> None:
    print(
        f"\n### pointchem {meta['family'].upper()} on {device} ({meta['cpu']}), "
        f"{meta['dtype']}, "
        f"{meta['threads']} torch thread(s), load average {meta['load_average']}\n"
    )
    header = table_header(meta["family"])
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for result in results:
        print(table_row(result, apax, meta["family"]))
    print(
        "\nMedians. calc = one energy+forces(+stress) PointChemCalculator call with "
        f"fresh positions (σ {PERTURBATION} Å); skin 1 reuses the neighbor list, "
        "skin 0 rebuilds it. model = evaluate() on a prebuilt graph. outside model = "
        "1 − model/calc. Ratios peer/ours use calc (skin 1); > 1x means we are faster. "
        "CPU/wall = process CPU time / wall time during the calc (skin 1) calls: about "
        "1 for one busy thread, lower when other work took the core."
    )
    if apax is not None:
        print(
            f"apax (here): {apax['meta'].get('date')}, "
            f"apax {apax['meta'].get('apax')}, jax {apax['meta'].get('jax')}, "
            f"load average {apax['meta'].get('load_average')}."
        )
    if meta["dtype"] != "float32" or meta["threads"] != 1:
        print(
            "NOTE: the peer columns are float32 with one thread; this run is "
            f"{meta['dtype']} with {meta['threads']} thread(s)."
        )
    calls = {r["model_calls_per_ase_call"] for r in results}
    if calls != {1.0}:
        print(f"WARNING: model calls per ASE call: {sorted(calls)} (expected 1)")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_meta(args: argparse.Namespace, device: torch.device) -> dict:
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": str(device),
        "cpu": cpu_name(),
        "gpu": gpu,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "pointchem": pointchem.__version__,
        "family": args.family,
        "hypers": {**FAMILIES[args.family][1].__dict__},
        "perturbation_angstrom": PERTURBATION,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_json(path: Path, meta: dict, results: list[dict]) -> None:
    """Write the results, keeping earlier results of systems not measured this time."""
    previous = json.loads(path.read_text()) if path.is_file() else {}
    merged = previous.get("results", {})
    merged.update({result["system"]: result for result in results})
    ordered = {name: merged[name] for name in SYSTEM_NAMES if name in merged}
    payload = {"meta": meta, "published_ms": PUBLISHED_MS, "results": ordered}
    path.write_text(json.dumps(payload, indent=2, default=str))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):  # already set once in this process
        torch.set_num_interop_threads(1)
    apax = load_apax(args.apax_json)
    OUT_DIR.mkdir(exist_ok=True)
    for device in resolve_devices(args.device):
        meta = run_meta(args, device)
        results = []
        for name in args.sizes:
            result = measure_system(name, args, device)
            result["date"] = meta["date"]
            result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            results.append(result)
            print(f"done {name} on {device}", flush=True)
        print_table(results, meta, apax, device)
        name = (
            f"time_calculator-{args.family}-{device.type}-{args.dtype}-"
            f"{args.threads}t.json"
        )
        write_json(OUT_DIR / name, meta, results)
        print(f"\nwritten {OUT_DIR / name}")


if __name__ == "__main__":
    main()
