"""Vacancy migration in diamond silicon by harmonic TST: silicon-pet against Kumagai.

A 2×2×2 supercell of conventional diamond cells (64 sites) is built at the lattice
constant each potential relaxes to, and one atom is removed. The product is the same
cell with a nearest neighbour of the vacancy moved into the vacant site (atoms in the
same order): the vacancy has hopped by one bond.

The hop does not cross one saddle. The straight hop keeps the threefold symmetry of
the bond, and a band started on it stays in that symmetric subspace, whose top is a
higher-order saddle (Kumagai: third order). The interior images of the starting band
are therefore displaced randomly (``band_noise``, 0.01 Å, seeded), and
:func:`pointchem.workflows.reaction_pathway` relaxes the band (no climbing image),
relaxes its images to find intermediate minima (the split vacancy, with the hopping
atom half way, and off-axis metastable states), and on each band between
consecutive minima finds the saddle by the dimer method, starting from the band's
highest image. Each saddle is checked by its single imaginary mode and by relaxing
down both sides into the two minima it joins; each intermediate by its real modes.
The effective rate of the whole hop combines the steps' forward and backward Vineyard
rates (classical harmonic TST for a solid)::

    k_i(T) = Π_{j=1}^{3N−3} ν_j^(i) / Π_{j=1}^{3N−4} ν_j^‡ · exp(−(E‡ − E_i) / k_B T)

into the inverse mean first-passage time from the vacancy to the hopped vacancy. A
periodic cell has three free motions (``zero_modes="translations"``), so minima keep
3N − 3 real modes and saddles 3N − 4.

The rigid translations are free in the NEB too: each band's image forces have their
mean removed, so the images cannot slide along them. A climbing image, as in
``reaction_rates``, ran up ridges to several eV on parts of this path with every
optimizer tried (BFGS, FIRE, ASE's ODE ``NEBOptimizer``); the dimer converged in
about 20 steps. The bands are optimized with the ODE optimizer
(``neb_optimizer="ODE"``).

The same is run with ``potentials/silicon-pet.pt`` (bare PET, float64) and with the
Kumagai potential it was trained on (matscipy). Prints, per potential: the lattice
constant, each step (energies of its minima and saddle, imaginary frequency, dimer
convergence), the energy profile, the highest saddle, the effective k(T) from 300 to
1500 K and its Arrhenius slope and prefactor at the two lowest temperatures; then
model − Kumagai.
Saves ``vacancy_migration_silicon.png`` (energy profiles along the chained bands,
Arrhenius plot). k is the rate of one given neighbour hopping into the vacancy along
the path found; the vacancy has four neighbours and each hop several equivalent
paths, which the rate does not count. If a check fails, the message says why and
that potential is left out; the script exits with status 1 only if both fail.

Run: ``python examples/md/09_vacancy_migration.py``. With ``--smoke`` (or
``POINTCHEM_SMOKE=1``) the PET part uses one conventional cell (7 atoms after the
vacancy, each vacancy next to its periodic images), five images and a single search
for intermediates: every kind of step runs and the numbers mean nothing. The
Kumagai part runs in full (about 30 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.geometry import find_mic

from pointchem import PointChemCalculator
from pointchem.recipes.silicon import make_kumagai_calculator, relax_lattice_constant
from pointchem.workflows import (
    PathwayResult,
    RateSettings,
    SaddlePointError,
    reaction_pathway,
)

POTENTIAL = Path(__file__).resolve().parents[2] / "potentials" / "silicon-pet.pt"
PLOT = "vacancy_migration_silicon.png"


@dataclasses.dataclass(frozen=True)
class Settings:
    """How large and how tight the calculation is.

    Attributes:
        repeat: conventional 8-atom cells per direction of the supercell.
        rates: relaxation, NEB and mode settings of ``reaction_pathway``.
        max_depth: levels of the search for intermediate minima.
        temperatures: K.
    """

    repeat: int
    rates: RateSettings
    max_depth: int
    temperatures: np.ndarray


FULL = Settings(
    repeat=2,
    rates=RateSettings(
        n_images=7,
        fmax=1e-3,
        neb_fmax=1e-3,
        max_steps=1000,
        optimizer="FIRE",
        neb_optimizer="ODE",
        zero_modes="translations",
        band_noise=0.01,
    ),
    max_depth=8,
    temperatures=np.array([300.0, 400.0, 500.0, 600.0, 800.0, 1000.0, 1250.0, 1500.0]),
)
SMOKE_PET = dataclasses.replace(
    FULL,
    repeat=1,
    rates=dataclasses.replace(
        FULL.rates, n_images=5, neb_fmax=0.01, max_steps=300, band_noise=0.05
    ),
    max_depth=1,
)
"""The smoke run's PET settings: 7 atoms, where a vacancy is next to its images and
the checks may fail (reported, as in the full run); Kumagai runs ``FULL`` in both."""


def vacancy_hop(lattice_constant: float, repeat: int) -> tuple[Atoms, Atoms]:
    """Reactant and product of one vacancy hop in diamond silicon.

    Args:
        lattice_constant: cubic lattice constant, Å.
        repeat: conventional cells per direction (8 repeat³ sites).

    Returns:
        (reactant, product), 8 repeat³ − 1 atoms each, same order: the vacancy at the
        site of atom 0 of the perfect crystal, and the same cell with its nearest
        neighbour (atom 0 of both) moved onto that site.
    """
    crystal = bulk("Si", "diamond", a=lattice_constant, cubic=True).repeat(repeat)
    distances = crystal.get_distances(0, range(len(crystal)), mic=True)
    hopping = int(np.argsort(distances)[1])  # a nearest neighbour of the vacancy
    order = [hopping] + [i for i in range(1, len(crystal)) if i != hopping]
    reactant = crystal[order]
    product = reactant.copy()
    product.positions[0] = crystal.positions[0]
    return reactant, product


def arrhenius_fit(temperatures: np.ndarray, rates: np.ndarray) -> tuple[float, float]:
    """Ln k = ln ν − E_a / k_B T through the two lowest temperatures: (E_a eV, ν 1/s).

    Through intermediates the effective rate is not Arrhenius (its slope falls as
    the intermediates fill at high T); the lowest temperatures give the activation
    energy that tends to the highest saddle as T → 0.
    """
    order = np.argsort(temperatures)[:2]
    beta = 1.0 / (units.kB * temperatures[order])
    slope = (np.log(rates[order[1]]) - np.log(rates[order[0]])) / (beta[1] - beta[0])
    prefactor = rates[order[0]] * np.exp(-slope * beta[0])
    return float(-slope), float(prefactor)


def band_profile(result: PathwayResult) -> tuple[np.ndarray, np.ndarray]:
    """Distance along the chained bands (Å, all atoms) and energy (eV), from 0."""
    distances, energies = [0.0], [0.0]
    reference = result.steps[0].path.energies[0]
    for step in result.steps:
        images = step.path.images
        for before, after, energy in zip(
            images[:-1], images[1:], step.path.energies[1:], strict=True
        ):
            _, lengths = find_mic(after.positions - before.positions, after.cell)
            distances.append(distances[-1] + float(np.sqrt((lengths**2).sum())))
            energies.append(float(energy - reference))
    return np.array(distances), np.array(energies)


def migration(name: str, calculator: Calculator, settings: Settings) -> PathwayResult:
    """Relax the lattice, run ``reaction_pathway`` for one vacancy hop, print it.

    Raises:
        SaddlePointError: a minimum or saddle of some step fails its check.
    """
    lattice_constant = relax_lattice_constant(calculator)
    reactant, product = vacancy_hop(lattice_constant, settings.repeat)
    print(f"--- {name}: a = {lattice_constant:.4f} Å, {len(reactant)} atoms")
    result = reaction_pathway(
        reactant,
        product,
        calculator,
        settings.temperatures,
        settings.rates,
        max_depth=settings.max_depth,
    )
    report(result)
    return result


def report(result: PathwayResult) -> None:
    """Print the steps, the profile, the effective k(T) and its Arrhenius fit."""
    minima, saddles = result.minimum_energies, result.saddle_energies
    for i, step in enumerate(result.steps):
        calls = step.path.n_model_calls
        print(
            f"  step {i}: minimum {minima[i]:.4f} eV → saddle {saddles[i]:.4f} eV "
            f"({step.imaginary_wavenumber:.1f}i cm⁻¹) → minimum {minima[i + 1]:.4f} "
            f"eV; dimer converged {step.path.converged}"
            + (f", batched model calls of its band {calls}" if calls else "")
        )
    print(
        f"  {len(result.steps) - 1} intermediate minima; highest saddle "
        f"{result.barrier:.4f} eV above the vacancy"
    )
    activation, prefactor = arrhenius_fit(result.temperatures, result.vineyard)
    print(
        f"  effective rate, Arrhenius through the two lowest T: "
        f"E_a = {activation:.4f} eV, ν = {prefactor:.3e} 1/s"
    )
    print("  T (K)   k_eff (1/s)   k of step 0 alone (1/s)")
    rows = zip(
        result.temperatures, result.vineyard, result.steps[0].vineyard, strict=True
    )
    for temperature, rate, first in rows:
        print(f"  {temperature:5.0f}   {rate:11.4e}   {first:11.4e}")


def compare(model: PathwayResult, reference: PathwayResult) -> None:
    """Print model − reference for the highest saddle and the Arrhenius fit."""
    model_fit = arrhenius_fit(model.temperatures, model.vineyard)
    reference_fit = arrhenius_fit(reference.temperatures, reference.vineyard)
    barrier = model.barrier - reference.barrier
    print("--- silicon-pet.pt − Kumagai")
    print(
        f"  highest saddle {model.barrier:.4f} vs {reference.barrier:.4f} eV: "
        f"{barrier * 1e3:+.1f} meV; intermediates {len(model.steps) - 1} vs "
        f"{len(reference.steps) - 1}"
    )
    print(
        f"  E_a {model_fit[0]:.4f} vs {reference_fit[0]:.4f} eV: "
        f"{(model_fit[0] - reference_fit[0]) * 1e3:+.1f} meV; prefactor ratio "
        f"{model_fit[1] / reference_fit[1]:.3f}"
    )
    ratio = model.vineyard / reference.vineyard
    print(
        "  k model / Kumagai: "
        + ", ".join(
            f"{t:.0f} K {r:.3g}" for t, r in zip(model.temperatures, ratio, strict=True)
        )
    )


def plot(results: dict[str, PathwayResult]) -> None:
    """Energy profiles and Arrhenius lines of every potential that succeeded."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6))
    profile_axis, rate_axis = figure.subplots(1, 2)
    for name, result in results.items():
        distance, energy = band_profile(result)
        profile_axis.plot(distance, energy, marker=".", label=name)
        inverse_temperature = 1000.0 / result.temperatures
        rate_axis.plot(
            inverse_temperature, np.log10(result.vineyard), marker="o", label=name
        )
    profile_axis.set_xlabel("distance along the bands (Å)")
    profile_axis.set_ylabel("E − E(vacancy) (eV)")
    profile_axis.set_title("one vacancy hop")
    rate_axis.set_xlabel("1000 / T (1/K)")
    rate_axis.set_ylabel("log₁₀(k / s⁻¹)")
    rate_axis.set_title("effective Vineyard rate")
    if results:
        profile_axis.legend()
        rate_axis.legend()
    figure.tight_layout()
    figure.savefig(PLOT, dpi=120)
    print(f"saved {PLOT}")


def main() -> None:
    """Compute, print and plot the vacancy hop rate of both potentials."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a quick, loose run")
    smoke = parser.parse_args().smoke or bool(os.environ.get("POINTCHEM_SMOKE"))
    settings = {"silicon-pet.pt": SMOKE_PET if smoke else FULL, "Kumagai": FULL}
    logging.basicConfig(level=logging.INFO, format="  %(message)s")  # progress
    calculators = {
        "silicon-pet.pt": PointChemCalculator(POTENTIAL, dtype="float64"),
        "Kumagai": make_kumagai_calculator(),
    }
    results: dict[str, PathwayResult] = {}
    for name, calculator in calculators.items():
        try:
            results[name] = migration(name, calculator, settings[name])
        except SaddlePointError as error:
            print(f"  {name}: check failed: {error}")
    if len(results) == len(calculators):
        compare(results["silicon-pet.pt"], results["Kumagai"])
    plot(results)
    if not results:
        sys.exit(1)


if __name__ == "__main__":
    main()
