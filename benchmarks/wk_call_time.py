"""Time of one energy+forces call of a Wigner-kernel model on ethanol.

The model has the hypers of ``potentials/ethanol-wk.yaml`` (r_c = 5 Å, l_max =
λ_max = 3, reduced mode, "haar"), ν_max as given, and M support environments per
element (H, C, O) taken from the first frames of ``data/xtb/ethanol-train.xyz``
(every atom of a frame is one environment; frames are used in order until each
element has M), with random weights: timing does not depend on fitted weights. A
call is ``atoms_to_graph`` + ``pointchem.evaluate(..., forces=True)`` on frame 0
of ``data/xtb/ethanol-test-300K.xyz`` (9 atoms), in float64 on the CPU.

Two tables: ms per call versus M (at ``--nu-max``) and versus ν_max (at
``--fixed-support``). Each cell is the median of ``--repeats`` calls after
``--warmup`` calls, process CPU time (robust to other processes on a shared
core); the JSON also has wall time. Writes a markdown table to stdout and
``benchmarks/out/wk_call_time[-LABEL].json``.

Run from the repository root on one core, with the project's environment active::

    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/wk_call_time.py
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import ase.io
import torch

import pointchem
from pointchem import atoms_to_graph, evaluate
from pointchem.graph import edge_vectors
from pointchem.models.wk import WignerKernelModel, WKHypers
from pointchem.models.wk.sparse import Environments, graph_environments

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "benchmarks" / "out"
ELEMENTS = (1, 6, 8)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--supports", type=int, nargs="+", default=[25, 50, 100, 200, 400]
    )
    parser.add_argument("--nu-values", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--nu-max", type=int, default=4)
    parser.add_argument("--fixed-support", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--label", default="", help="suffix of the JSON file name")
    return parser.parse_args()


def support_pool(n_per_element: int, cutoff: float) -> Environments:
    """At least ``n_per_element`` environments of each element, padded tables."""
    frames = ase.io.iread(ROOT / "data/xtb/ethanol-train.xyz")
    tables: list[Environments] = []
    counts = dict.fromkeys(ELEMENTS, 0)
    for atoms in frames:
        if min(counts.values()) >= n_per_element:
            break
        graph = atoms_to_graph(atoms, cutoff, torch.float64)
        tables.append(graph_environments(graph, edge_vectors(graph), cutoff))
        for z in atoms.numbers:
            counts[int(z)] += 1
    width = max(t.vectors.shape[1] for t in tables)
    pad = torch.nn.functional.pad
    vectors = torch.cat(
        [pad(t.vectors, (0, 0, 0, width - t.vectors.shape[1])) for t in tables]
    )
    species = torch.cat(
        [pad(t.species, (0, width - t.species.shape[1]), value=-1) for t in tables]
    )
    centres = torch.cat([t.centres for t in tables])
    return Environments(vectors.detach(), species, centres)


def build_model(
    pool: Environments, n_per_element: int, nu_max: int
) -> WignerKernelModel:
    """A WK model with the first ``n_per_element`` pool environments per element."""
    hypers = WKHypers(nu_max=nu_max, mixture_alpha=0.1)
    chosen = torch.cat(
        [torch.nonzero(pool.centres == z).squeeze(1)[:n_per_element] for z in ELEMENTS]
    )
    support = Environments(
        pool.vectors[chosen], pool.species[chosen], pool.centres[chosen]
    )
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(len(support), generator=generator, dtype=torch.float64)
    model = WignerKernelModel(hypers, list(ELEMENTS))
    model.set_support(support, weights)
    return model.eval()


def time_calls(
    model: WignerKernelModel, atoms: ase.Atoms, args: argparse.Namespace
) -> dict[str, float]:
    """Median process and wall time (ms) of one graph + energy + forces call."""

    def call() -> None:
        graph = atoms_to_graph(atoms, model.cutoff, torch.float64)
        evaluate(model, graph, forces=True)

    for _ in range(args.warmup):
        call()
    cpu, wall = [], []
    for _ in range(args.repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {
        "cpu_ms": 1e3 * statistics.median(cpu),
        "wall_ms": 1e3 * statistics.median(wall),
    }


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    atoms = ase.io.read(ROOT / "data/xtb/ethanol-test-300K.xyz", 0)
    pool = support_pool(max(*args.supports, args.fixed_support), WKHypers().cutoff)
    by_support = []
    for m in args.supports:
        timing = time_calls(build_model(pool, m, args.nu_max), atoms, args)
        by_support.append({"support_per_element": m, "nu_max": args.nu_max, **timing})
    by_nu = []
    for nu in args.nu_values:
        timing = time_calls(build_model(pool, args.fixed_support, nu), atoms, args)
        by_nu.append(
            {"support_per_element": args.fixed_support, "nu_max": nu, **timing}
        )
    threads = torch.get_num_threads()
    print(
        f"ethanol (9 atoms), energy+forces, float64, {threads} thread(s), "
        f"CPU ms/call (median of {args.repeats})\n"
    )
    print(f"| support per element (ν_max = {args.nu_max}) | ms/call |\n|---|---|")
    for row in by_support:
        print(f"| {row['support_per_element']} | {row['cpu_ms']:.1f} |")
    print(f"\n| ν_max ({args.fixed_support} per element) | ms/call |\n|---|---|")
    for row in by_nu:
        print(f"| {row['nu_max']} | {row['cpu_ms']:.1f} |")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    name = "wk_call_time" + (f"-{args.label}" if args.label else "") + ".json"
    record = {
        "created": datetime.now(timezone.utc).isoformat(),
        "pointchem": pointchem.__version__,
        "pointchem_path": str(Path(pointchem.__file__).parent),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "args": vars(args),
        "by_support": by_support,
        "by_nu_max": by_nu,
    }
    (OUT_DIR / name).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
