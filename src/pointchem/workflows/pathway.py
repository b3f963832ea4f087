"""Reactions through intermediate minima: elementary steps and one effective rate.

A band between two minima may cross other minima on the way (a vacancy in silicon
stops in metastable off-axis states on its hop). A climbing image finds only the
highest saddle, and the rate of reactant → highest saddle ignores the way back from
the intermediates. :func:`reaction_pathway` therefore

1. relaxes the end points and a NEB band between them without climbing
   (:func:`~pointchem.workflows.relaxed_band`);
2. relaxes the interior images (:func:`intermediate_minima`): images that fall
   into minima other than the end points reveal intermediates, kept in band order,
   and 1–2 are repeated on each pair of consecutive minima (to ``max_depth``
   levels);
3. on a band without intermediates, finds the saddle from its highest image by the
   dimer method (:func:`dimer_saddle`) and relaxes from it down both sides of its
   mode: if they reach the band's two ends, this is one elementary step with its
   :class:`~pointchem.workflows.RateResult`; if they reach other minima, these are
   intermediates and the band is split there;
4. combines the forward rates k⁺_i (minimum i → i + 1) and backward rates k⁻_i
   (i + 1 → i, from the same saddle with the Hessian of minimum i + 1) into the
   rate of first arrival at the product, 1/τ, by :func:`first_passage_rate`.

The dimer replaces the climbing image of :func:`~pointchem.workflows.reaction_rates`
here: on rough paths a climbing image can run up a ridge far above the band, and the
check down both sides proves which minima each saddle connects. With no intermediate
the result is one step, whose effective rate equals that step's rate.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Sequence

import ase
import numpy as np
from ase.calculators.calculator import Calculator
from ase.geometry import find_mic
from ase.mep import DimerControl, MinModeAtoms, MinModeTranslate

from ._modes import SaddlePointError, resolve_zero_modes
from ._path import NEBPath, _without_calculator, relax, relaxed_band
from ._settings import RateSettings
from .rates import (
    RateResult,
    _check_pair,
    _temperatures,
    eyring_rate,
    log_partition_ratio,
    rates_on_path,
    vineyard_rate,
)

logger = logging.getLogger(__name__)

__all__ = [
    "PathwayResult",
    "dimer_saddle",
    "first_passage_rate",
    "intermediate_minima",
    "reaction_pathway",
    "same_minimum",
]


def first_passage_rate(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Inverse mean first-passage time from minimum 0 to minimum n of a linear chain.

    Minima 0 … n in a row, hops only between neighbours, n absorbing. The expected
    time to first reach i + 1 from i obeys T_i = 1/k⁺_i + (k⁻_{i−1}/k⁺_i) T_{i−1},
    T_0 = 1/k⁺_0 (a sum of positive terms, stable for rates many decades apart);
    the mean first-passage time is τ = Σ_i T_i.

    Args:
        forward: (n, n_T) k⁺_i, rate i → i + 1, 1/s.
        backward: (n, n_T) k⁻_i, rate i + 1 → i, 1/s; the last row (out of the
            absorbing product) is not used.

    Returns:
        (n_T,) 1/τ in 1/s. For n = 1 it is k⁺_0.
    """
    forward = np.atleast_2d(np.asarray(forward, dtype=np.float64))
    backward = np.atleast_2d(np.asarray(backward, dtype=np.float64))
    if forward.shape != backward.shape or len(forward) == 0:
        raise ValueError(
            f"forward and backward rates need the same (n_steps, n_T) shape, got "
            f"{forward.shape} and {backward.shape}"
        )
    if not (forward > 0).all() or not (backward[:-1] > 0).all():
        raise ValueError("rates must be positive")
    step_time = 1.0 / forward[0]
    total = step_time.copy()
    for i in range(1, len(forward)):
        step_time = (1.0 + backward[i - 1] * step_time) / forward[i]
        total += step_time
    return 1.0 / total


def same_minimum(first: ase.Atoms, second: ase.Atoms, distance: float) -> bool:
    """Whether every atom of ``first`` lies within ``distance`` Å of its twin.

    Atoms are compared in order; periodic directions use the minimum image.
    """
    _displacement, lengths = find_mic(
        second.positions - first.positions, first.cell, first.pbc
    )
    return bool(lengths.max() < distance)


def intermediate_minima(
    band: NEBPath, calculator: Calculator, settings: RateSettings
) -> list[ase.Atoms]:
    """Relaxed minima, other than the end points, that the band's images fall into.

    Every interior image is relaxed (``settings.fmax``), starting a tenth of the way
    towards its lower neighbour: an image on a symmetric hump (exactly on a saddle
    of the path) would otherwise stay there. Minima are told apart by
    :func:`same_minimum` with ``settings.same_minimum_distance``; each new one is
    kept once, in band order. Whether a kept structure is a true minimum is checked
    later, by the Hessian of the step that starts from it.

    Returns:
        Relaxed structures (with ``calculator`` attached), possibly none.
    """
    known = [band.images[0], band.images[-1]]
    found: list[ase.Atoms] = []
    for index in range(1, len(band.images) - 1):
        minimum = relax(
            _towards_lower_neighbour(band, index),
            calculator,
            settings,
            f"band image {index}",
        )
        distance = settings.same_minimum_distance
        if not any(same_minimum(minimum, other, distance) for other in known):
            known.append(minimum)
            found.append(minimum)
    return found


def _towards_lower_neighbour(band: NEBPath, index: int) -> ase.Atoms:
    lower = (
        index - 1 if band.energies[index - 1] < band.energies[index + 1] else index + 1
    )
    image = band.images[index].copy()
    step = band.images[lower].positions - image.positions
    image.set_positions(image.positions + 0.1 * step, apply_constraint=True)
    return image


@dataclasses.dataclass(frozen=True)
class PathwayResult:
    """What :func:`reaction_pathway` returns.

    Attributes:
        steps: the elementary steps in order, minimum i → minimum i + 1.
        temperatures: (n_T,) K.
        vineyard: (n_T,) effective Vineyard rate of reactant → product, 1/s.
        eyring: (n_T,) effective Eyring rate, 1/s.
        backward_vineyard: (n_steps, n_T) k⁻_i of each step (minimum i + 1 → i);
            the last row is zero (the product absorbs).
    """

    steps: list[RateResult]
    temperatures: np.ndarray
    vineyard: np.ndarray
    eyring: np.ndarray
    backward_vineyard: np.ndarray

    @property
    def minimum_energies(self) -> np.ndarray:
        """(n_steps + 1,) energies of the minima relative to the reactant, eV."""
        energies = [step.path.energies[0] for step in self.steps]
        energies.append(self.steps[-1].path.energies[-1])
        return np.asarray(energies) - energies[0]

    @property
    def saddle_energies(self) -> np.ndarray:
        """(n_steps,) energies of the saddles relative to the reactant, eV."""
        reactant = self.steps[0].path.energies[0]
        return np.array([s.path.energies[s.path.saddle_index] for s in self.steps]) - (
            reactant
        )

    @property
    def barrier(self) -> float:
        """Highest saddle − reactant, eV."""
        return float(self.saddle_energies.max())


def _backward_rates(
    steps: Sequence[RateResult], settings: RateSettings
) -> tuple[np.ndarray, np.ndarray]:
    """(n_steps, n_T) Vineyard and Eyring k⁻_i; the last rows are zero."""
    temperatures = steps[0].temperatures
    vineyard = np.zeros((len(steps), len(temperatures)))
    eyring = np.zeros_like(vineyard)
    for i, (step, following) in enumerate(itertools.pairwise(steps)):
        barrier = float(step.path.energies[step.path.saddle_index])
        barrier -= float(following.path.energies[0])
        vineyard[i] = vineyard_rate(
            following.reactant_frequencies,
            step.saddle_frequencies,
            barrier,
            temperatures,
        )
        reverse = dataclasses.replace(
            step,
            reactant=following.reactant,
            reactant_frequencies=following.reactant_frequencies,
        )
        eyring[i] = eyring_rate(
            barrier, temperatures, log_partition_ratio(reverse, settings)
        )
    return vineyard, eyring


def dimer_saddle(
    band: NEBPath,
    calculator: Calculator,
    settings: RateSettings,
    index: int | None = None,
) -> tuple[ase.Atoms, np.ndarray, bool]:
    """A saddle point near an interior image of a band, by the dimer method.

    ASE's dimer (``MinModeTranslate``) starts at image ``index`` (default: the
    highest) with the band's local direction there (next image − previous image,
    mean removed unless ``zero_modes`` is "none") as its first guess of the lowest
    mode, and moves uphill along that mode and downhill along all others, in steps
    of at most 0.1 Å, until every force is below ``settings.neb_fmax``. Unlike a
    climbing image, it does not follow the band's tangent, so a kinked band cannot
    send it up a ridge.

    Returns:
        The saddle (``calculator`` attached), its lowest mode as a unit
        (n_atoms, 3) vector, and whether the dimer converged.
    """
    top = band.saddle_index if index is None else index
    saddle = band.images[top].copy()
    saddle.calc = calculator
    direction = band.images[top + 1].positions - band.images[top - 1].positions
    if resolve_zero_modes(saddle, settings.zero_modes) != "none":
        direction -= direction.mean(axis=0)  # no rigid shift in the first guess
    with DimerControl(
        initial_eigenmode_method="displacement",
        displacement_method="vector",
        logfile=None,
    ) as control:
        dimer = MinModeAtoms(saddle, control)
        dimer.displace(
            displacement_vector=1e-3 * direction / np.linalg.norm(direction),
            mask=[True] * len(saddle),
        )
        with MinModeTranslate(dimer, logfile=None, trajectory=None) as optimizer:
            run = optimizer.run(fmax=settings.neb_fmax, steps=settings.max_steps)
        converged = bool(run)
    if not converged:
        logger.warning(
            "dimer not converged to fmax=%g eV/Å in %d steps",
            settings.neb_fmax,
            settings.max_steps,
        )
    mode = np.asarray(dimer.get_eigenmode()).reshape(-1, 3)
    return saddle, mode / np.linalg.norm(mode), converged


def _sides(
    saddle: ase.Atoms, mode: np.ndarray, calculator: Calculator, settings: RateSettings
) -> list[ase.Atoms]:
    """The minima reached by relaxing from the saddle displaced by ±0.05 Å · mode."""
    sides = []
    for sign in (-1.0, 1.0):
        start = saddle.copy()
        shift = sign * _SIDE_STEP * mode / np.linalg.norm(mode, axis=1).max()
        start.set_positions(start.positions + shift, apply_constraint=True)
        sides.append(relax(start, calculator, settings, "side of the saddle"))
    return sides


_SIDE_STEP = 0.05
"""Å. Largest atomic displacement from a saddle along its mode before relaxing."""


def _step_or_intermediates(
    band: NEBPath,
    calculator: Calculator,
    temperatures: np.ndarray,
    settings: RateSettings,
) -> RateResult | list[ase.Atoms]:
    """The band's elementary step, or new minima that saddles near it lead to.

    The dimer starts from each interior image in turn, highest first, until it
    finds a saddle whose two sides relax into the band's two ends: that is the
    step. A saddle that leads elsewhere is no proof that its minima lie between the
    ends, so new minima are used only when no image gives a connecting saddle: those
    of the attempt whose highest new minimum is lowest. Returns an empty list when
    no attempt found any.
    """
    distance = settings.same_minimum_distance
    ends = (band.images[0], band.images[-1])
    leads_to: list[list[ase.Atoms]] = []
    for index in 1 + np.argsort(-band.energies[1:-1]):
        saddle, mode, converged = dimer_saddle(band, calculator, settings, int(index))
        sides = _sides(saddle, mode, calculator, settings)
        if same_minimum(sides[0], ends[1], distance) or same_minimum(
            sides[1], ends[0], distance
        ):
            sides.reverse()  # the side towards the start first
        connects = [
            same_minimum(side, end, distance)
            for side, end in zip(sides, ends, strict=True)
        ]
        logger.info(
            "dimer saddle from image %d at %.4f eV (converged: %s) reaches start: "
            "%s, end: %s",
            index,
            saddle.get_potential_energy() - band.energies[0],
            converged,
            *connects,
        )
        if all(connects):
            return rates_on_path(
                _path_over(band, int(index), saddle, converged),
                calculator,
                temperatures,
                settings,
            )
        new = [
            side
            for side in sides
            if not any(same_minimum(side, end, distance) for end in ends)
        ]
        if new:
            leads_to.append(new)
    if not leads_to:
        return []
    return min(leads_to, key=lambda new: max(m.get_potential_energy() for m in new))


def _path_over(
    band: NEBPath, index: int, saddle: ase.Atoms, converged: bool
) -> NEBPath:
    """The band with image ``index`` replaced by the saddle.

    Just the two ends and the saddle if another image is higher: the saddle must be
    the path's top.
    """
    energy = saddle.get_potential_energy()
    images = [_without_calculator(image) for image in band.images]
    energies = band.energies.copy()
    images[index], energies[index] = _without_calculator(saddle), energy
    if energies[1:-1].max() > energy:
        images = [images[0], images[index], images[-1]]
        energies = energies[[0, index, -1]]
    return dataclasses.replace(
        band, images=images, energies=energies, converged=converged
    )


def _elementary_steps(
    reactant: ase.Atoms,
    product: ase.Atoms,
    calculator: Calculator,
    temperatures: np.ndarray,
    settings: RateSettings,
    depth: int,
    budget: list[int],
) -> list[RateResult]:
    """Elementary steps from reactant to product, splitting at new minima.

    ``budget[0]`` is how many more intermediate minima the whole search may find.
    """
    band = relaxed_band(reactant, product, calculator, settings)
    intermediates = intermediate_minima(band, calculator, settings) if depth else []
    logger.info(
        "band from E = %.4f to %.4f eV, highest image %.4f eV: %d new minima",
        band.energies[0],
        band.energies[-1],
        band.energies.max(),
        len(intermediates),
    )
    if not intermediates:
        found = _step_or_intermediates(band, calculator, temperatures, settings)
        if isinstance(found, RateResult):
            return [found]
        if not found:
            raise SaddlePointError(
                "no saddle point found from the band's images connects its two "
                "ends, and no new minimum was found to split the band at"
            )
        if depth == 0:
            raise SaddlePointError(
                "a saddle point found from the band leads to a new minimum, but "
                "max_depth allows no further split: raise max_depth"
            )
        intermediates = found
    budget[0] -= len(intermediates)
    if budget[0] < 0:
        raise SaddlePointError(
            "more intermediate minima than max_minima allows: the landscape between "
            "reactant and product is rougher than this search can map (raise "
            "max_minima, or check the potential there)"
        )
    minima = [reactant, *intermediates, product]
    steps: list[RateResult] = []
    for start, end in itertools.pairwise(minima):
        steps += _elementary_steps(
            start, end, calculator, temperatures, settings, depth - 1, budget
        )
    return steps


def reaction_pathway(
    reactant: ase.Atoms,
    product: ase.Atoms,
    calculator: Calculator,
    temperatures: Sequence[float] | np.ndarray,
    settings: RateSettings | None = None,
    max_depth: int = 2,
    max_minima: int = 12,
) -> PathwayResult:
    """Harmonic-TST rate of reactant → product through any intermediate minima.

    See the module docstring for the steps.

    Args:
        reactant: initial structure (relaxed here; not modified).
        product: final structure, same atoms in the same order (relaxed here).
        calculator: any ASE calculator; a ``PointChemCalculator`` batches the images.
        temperatures: (n_T,) K.
        settings: a :class:`RateSettings` for every band, relaxation and check.
        max_depth: how many times a band between two minima is searched for
            intermediates; with 0 the saddle found from the first band must
            connect reactant and product.
        max_minima: how many intermediate minima the whole search may find before
            it gives up.

    Returns:
        A :class:`PathwayResult`.

    Raises:
        SaddlePointError: a minimum or a saddle of some step fails its check.
        ValueError: reactant and product differ in atoms, cell or periodicity.
    """
    settings = settings or RateSettings()
    temperatures = _temperatures(temperatures)
    _check_pair(reactant, product)
    if max_depth < 0:
        raise ValueError(f"max_depth must be ≥ 0, got {max_depth}")
    start = relax(reactant, calculator, settings, "reactant")
    end = relax(product, calculator, settings, "product")
    budget = [max_minima]
    steps = _elementary_steps(
        start, end, calculator, temperatures, settings, max_depth, budget
    )
    backward_vineyard, backward_eyring = _backward_rates(steps, settings)
    forward_vineyard = np.array([step.vineyard for step in steps])
    forward_eyring = np.array([step.eyring for step in steps])
    return PathwayResult(
        steps=steps,
        temperatures=temperatures,
        vineyard=first_passage_rate(forward_vineyard, backward_vineyard),
        eyring=first_passage_rate(forward_eyring, backward_eyring),
        backward_vineyard=backward_vineyard,
    )
