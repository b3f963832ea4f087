"""Cost of the Wigner-kernel invariants versus the highest body order ν_max.

Fixed environment pairs from rattled ethanol (``benchmarks/systems.py``): every atom
of ``--frames`` copies (Gaussian displacements, σ = 0.05 Å) is a centre with its 8
neighbours (cutoff 5 Å); ``--pairs`` random pairs with equal centre species, A from
the first half of the frames, B from the second. For ν_max = 1..``--nu-max`` and both
modes of :func:`pointchem.models.wk.iteration.invariant_kernels` (``reduced``: full
blocks up to ⌈ν_max/2⌉ then invariant contractions; ``full``: blocks of every order),
with l_max = λ_max = 3 and "haar" normalisation by default, two timings of the whole
path from neighbour vectors (ν = 1 kernel + iterations), in float64 on the CPU:

- **forward**: ``nu1_kernel`` + ``invariant_kernels`` under ``torch.no_grad``;
- **forward+backward**: the same with ``vectors_a.requires_grad``, then
  ``backward`` of the sum of all invariants (gradient w.r.t. A's neighbour vectors,
  as needed for forces).

Each cell is the median over ``--repeats`` rounds after ``--warmup`` rounds; a round
times every (ν_max, mode, kind) once, so load drift hits all alike. The table shows
process CPU time (one thread: robust to other processes sharing the core); the JSON
also has wall time. The ν = 1 kernel
alone is timed the same way and printed above the table; "ms/ν" divides by ν_max.
Writes a markdown table to stdout and ``benchmarks/out/wk_kernel_cost.json``.

Run from the repository root on one core, with the project's environment active::

    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/wk_kernel_cost.py
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from ase.neighborlist import neighbor_list
from systems import ethanol

from pointchem.models.wk import DensitySettings, nu1_kernel
from pointchem.models.wk.iteration import Mode, invariant_kernels

OUT_DIR = Path(__file__).resolve().parent / "out"
MODES: tuple[Mode, ...] = ("reduced", "full")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--nu-max", type=int, default=6)
    parser.add_argument("--l-max", type=int, default=3)
    parser.add_argument("--lambda-max", type=int, default=3)
    parser.add_argument("--normalisation", default="haar", choices=["haar", "plain"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def environments(
    frames: int, cutoff: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Neighbour tables of all atoms of rattled ethanol copies.

    Returns:
        vectors (n_env, n_max, 3) Å float64, neighbour species (n_env, n_max) with
        −1 padding, centre species (n_env,), frame index (n_env,).
    """
    rng = np.random.default_rng(seed)
    tables, centres, frame_of = [], [], []
    for frame in range(frames):
        atoms = ethanol()
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        i, j, d = neighbor_list("ijD", atoms, cutoff)
        numbers = atoms.numbers
        for centre in range(len(atoms)):
            mask = i == centre
            tables.append((d[mask], numbers[j[mask]]))
            centres.append(numbers[centre])
            frame_of.append(frame)
    n_max = max(len(z) for _, z in tables)
    vectors = torch.zeros(len(tables), n_max, 3, dtype=torch.float64)
    species = torch.full((len(tables), n_max), -1, dtype=torch.int64)
    for row, (v, z) in enumerate(tables):
        vectors[row, : len(z)] = torch.from_numpy(v)
        species[row, : len(z)] = torch.from_numpy(z)
    return vectors, species, np.array(centres), np.array(frame_of)


def random_pairs(
    centres: np.ndarray, frame_of: np.ndarray, n_pairs: int, seed: int
) -> torch.Tensor:
    """(n_pairs, 2) pairs (A from the first half of frames, B from the second)."""
    rng = np.random.default_rng(seed + 1)
    half = frame_of.max() // 2
    first = np.flatnonzero(frame_of <= half)
    second = np.flatnonzero(frame_of > half)
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n_pairs:
        a = rng.choice(first)
        same = second[centres[second] == centres[a]]
        pairs.append((int(a), int(rng.choice(same))))
    return torch.tensor(pairs, dtype=torch.int64)


def make_cases(
    args: argparse.Namespace,
    vectors: torch.Tensor,
    species: torch.Tensor,
    pairs: torch.Tensor,
    settings: DensitySettings,
) -> dict[tuple[str, int, str], Callable[[], None]]:
    """Name → zero-argument callable that runs one timed item."""

    def nu1(backward: bool) -> Callable[[], None]:
        def run() -> None:
            va = vectors.detach().requires_grad_(backward)
            with torch.set_grad_enabled(backward):
                k_1 = nu1_kernel(va, species, vectors, species, pairs, settings)
                if backward:
                    torch.stack([k.sum() for k in k_1]).sum().backward()

        return run

    def invariants(nu_max: int, mode: Mode, backward: bool) -> Callable[[], None]:
        def run() -> None:
            va = vectors.detach().requires_grad_(backward)
            with torch.set_grad_enabled(backward):
                k_1 = nu1_kernel(va, species, vectors, species, pairs, settings)
                k = invariant_kernels(
                    k_1,
                    nu_max,
                    args.lambda_max,
                    mode=mode,
                    normalisation=args.normalisation,
                )
                if backward:
                    k.sum().backward()

        return run

    cases = {("nu1", 1, kind): nu1(kind == "fwd+bwd") for kind in ("fwd", "fwd+bwd")}
    for nu_max in range(1, args.nu_max + 1):
        for mode in MODES:
            for kind in ("fwd", "fwd+bwd"):
                cases[(mode, nu_max, kind)] = invariants(
                    nu_max, mode, kind == "fwd+bwd"
                )
    return cases


def time_rounds(
    cases: dict[tuple[str, int, str], Callable[[], None]], repeats: int, warmup: int
) -> dict[str, dict[tuple[str, int, str], float]]:
    """Median wall and CPU time in ms of each case over interleaved rounds."""
    wall: dict[tuple[str, int, str], list[float]] = {key: [] for key in cases}
    cpu: dict[tuple[str, int, str], list[float]] = {key: [] for key in cases}
    for round_index in range(warmup + repeats):
        for key, run in cases.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            elapsed, elapsed_cpu = (
                time.perf_counter() - start,
                time.process_time() - start_cpu,
            )
            if round_index >= warmup:
                wall[key].append(1e3 * elapsed)
                cpu[key].append(1e3 * elapsed_cpu)
    return {
        "wall": {key: statistics.median(values) for key, values in wall.items()},
        "cpu": {key: statistics.median(values) for key, values in cpu.items()},
    }


def table(medians: dict[tuple[str, int, str], float], nu_max: int) -> str:
    """Markdown table: per ν_max, ms and ms/ν for both modes and kinds."""
    lines = [
        "| ν_max | reduced fwd ms | reduced fwd+bwd ms | full fwd ms | "
        "full fwd+bwd ms | reduced fwd ms/ν | reduced fwd+bwd ms/ν |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for nu in range(1, nu_max + 1):
        red_f, red_b = (
            medians[("reduced", nu, "fwd")],
            medians[("reduced", nu, "fwd+bwd")],
        )
        full_f, full_b = medians[("full", nu, "fwd")], medians[("full", nu, "fwd+bwd")]
        lines.append(
            f"| {nu} | {red_f:.2f} | {red_b:.2f} | {full_f:.2f} | {full_b:.2f} | "
            f"{red_f / nu:.2f} | {red_b / nu:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    settings = DensitySettings(l_max=args.l_max, cutoff=5.0)
    vectors, species, centres, frame_of = environments(
        args.frames, settings.cutoff, args.seed
    )
    pairs = random_pairs(centres, frame_of, args.pairs, args.seed)
    cases = make_cases(args, vectors, species, pairs, settings)
    timings = time_rounds(cases, args.repeats, args.warmup)
    medians = timings["cpu"]
    header = (
        f"{args.pairs} ethanol environment pairs ({vectors.shape[1]} neighbours each), "
        f"l_max={args.l_max}, λ_max={args.lambda_max}, {args.normalisation}, "
        f"float64, CPU, {args.threads} thread(s); median of {args.repeats} rounds, "
        "process CPU time (wall time in the JSON).\n"
        f"ν = 1 kernel alone: fwd {medians[('nu1', 1, 'fwd')]:.2f} ms, "
        f"fwd+bwd {medians[('nu1', 1, 'fwd+bwd')]:.2f} ms."
    )
    print(header + "\n\n" + table(medians, args.nu_max))
    OUT_DIR.mkdir(exist_ok=True)
    payload = {
        "meta": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
            "args": vars(args),
            "settings": dataclasses.asdict(settings),
            "n_neighbours": int(vectors.shape[1]),
        },
        "median_ms": [
            {
                "mode": mode,
                "nu_max": nu,
                "kind": kind,
                "cpu_ms": ms,
                "wall_ms": timings["wall"][(mode, nu, kind)],
            }
            for (mode, nu, kind), ms in medians.items()
        ],
    }
    path = OUT_DIR / "wk_kernel_cost.json"
    path.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
