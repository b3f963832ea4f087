"""Harmonic transition-state theory: rate constants from two minima and a saddle.

:func:`reaction_rates` relaxes reactant and product, finds the saddle point between
them with a climbing-image NEB, checks it by its single imaginary mode, and evaluates
two harmonic-TST rate constants over a range of temperatures:

**Eyring** (gas-phase molecules, or any system with partition functions)::

    k(T) = (k_B T / h) · (Q‡ / Q_R) · exp(−ΔE / k_B T)

ΔE is the classical barrier E‡ − E_R (no zero-point energy); Q‡ omits the imaginary
mode (the reaction coordinate). Each Q is a product of

- vibrational partition functions of the real modes, measured from the bottom of the
  well: quantum-harmonic q = exp(−x/2) / (1 − exp(−x)), x = hν / k_B T (so zero-point
  energies enter), or classical q = 1/x;
- rotational partition functions (rigid rotor, high-temperature limit), only when
  rotations are free (molecules in vacuum): q = (√π/σ) Π_i (8π² I_i k_B T / h²)^½ for
  a non-linear, q = 8π² I k_B T / (σ h²) for a linear structure, 1 for an atom. The
  symmetry numbers σ_R and σ‡ are user input (default 1, the rate through the one path
  found); σ_R/σ‡ is the reaction-path degeneracy;
- translational partition functions, which cancel: reactant and saddle have the same
  mass (unimolecular step), so they are not computed.

**Vineyard** (classical harmonic TST, solids; no rotations)::

    k(T) = (Π_{i=1}^{n} ν_i^R / Π_{i=1}^{n−1} ν_i^‡) · exp(−ΔE / k_B T)

over the n = 3N (minus free motions) real modes of the reactant and the n − 1 real
modes of the saddle. It equals the classical Eyring rate without rotations.

All constants come from :mod:`ase.units`. Frequencies are cycles per second (Hz),
energies eV, temperatures K, rates 1/s.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import ase
import numpy as np
from ase import units
from ase.calculators.calculator import Calculator

from ._modes import (
    check_minimum,
    check_saddle,
    free_motion_vectors,
    normal_mode_frequencies,
    resolve_zero_modes,
    wavenumber,
)
from ._path import NEBPath, climbing_image_neb, relax, structure_hessian
from ._settings import RateSettings

__all__ = [
    "RateResult",
    "eyring_rate",
    "log_partition_ratio",
    "plot_arrhenius",
    "rates_on_path",
    "reaction_rates",
    "rotational_log_partition",
    "vibrational_log_partition",
    "vineyard_rate",
]

_ZERO_MOMENT = 1e-8
"""amu·Å². Principal moments of inertia below this are zero (atoms, linear axes)."""


def _temperatures(temperatures: Sequence[float] | np.ndarray | float) -> np.ndarray:
    values = np.atleast_1d(np.asarray(temperatures, dtype=np.float64))
    if values.ndim != 1 or not (values > 0).all():
        raise ValueError(f"temperatures must be positive kelvin, got {values}")
    return values


def vibrational_log_partition(
    frequencies: np.ndarray,
    temperatures: Sequence[float] | np.ndarray | float,
    *,
    quantum: bool = True,
) -> np.ndarray:
    """Log of the harmonic vibrational partition function, Σ_i ln q_i, per temperature.

    Args:
        frequencies: (n_modes,) real frequencies ν_i in Hz (all > 0).
        temperatures: (n_T,) K.
        quantum: q = exp(−x/2) / (1 − exp(−x)) with x = hν/k_B T (energy zero at the
            bottom of the well, zero-point energy included); False: q = 1/x.

    Returns:
        (n_T,) float64, dimensionless.
    """
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if not (frequencies > 0).all():
        raise ValueError("vibrational frequencies must all be real and positive")
    temperatures = _temperatures(temperatures)
    x = units._hplanck * frequencies[None, :] / (units._k * temperatures[:, None])
    if quantum:
        return np.sum(-0.5 * x - np.log(-np.expm1(-x)), axis=1)
    return np.sum(-np.log(x), axis=1)


def rotational_log_partition(
    moments_of_inertia: np.ndarray,
    temperatures: Sequence[float] | np.ndarray | float,
    symmetry_number: int = 1,
) -> np.ndarray:
    """Log of the classical rigid-rotor partition function, per temperature.

    Args:
        moments_of_inertia: (3,) principal moments in amu·Å² (ASE's
            ``atoms.get_moments_of_inertia()``); moments below 1e-8 amu·Å² are zero.
        temperatures: (n_T,) K.
        symmetry_number: rotational symmetry number σ (≥ 1).

    Returns:
        (n_T,) float64: ln[(√π/σ) Π_i (T/Θ_i)^½] for three non-zero moments,
        ln[T/(σ Θ)] for a linear structure (two equal non-zero moments), 0 for an
        atom; Θ_i = h² / (8π² I_i k_B) is the rotational temperature.
    """
    temperatures = _temperatures(temperatures)
    moments = np.asarray(moments_of_inertia, dtype=np.float64)
    moments = moments[moments > _ZERO_MOMENT] * units._amu * 1e-20  # kg·m²
    ratios = 8 * np.pi**2 * moments[None, :] * units._k * temperatures[:, None]
    log_ratios = np.log(ratios / units._hplanck**2)
    if len(moments) == 0:
        return np.zeros_like(temperatures)
    if len(moments) == 2:  # linear: two equal moments, one rotational degree pair
        return log_ratios[:, 0] - np.log(symmetry_number)
    return 0.5 * np.log(np.pi) + 0.5 * log_ratios.sum(axis=1) - np.log(symmetry_number)


def eyring_rate(
    barrier: float,
    temperatures: Sequence[float] | np.ndarray | float,
    log_partition_ratio: np.ndarray | float,
) -> np.ndarray:
    """Eyring rate k = (k_B T/h) · (Q‡/Q_R) · exp(−ΔE/k_B T).

    Args:
        barrier: ΔE = E‡ − E_R in eV (classical, without zero-point energy).
        temperatures: (n_T,) K.
        log_partition_ratio: ln(Q‡/Q_R), scalar or (n_T,); Q‡ without the reaction
            coordinate, both measured from their own potential-energy minimum.

    Returns:
        (n_T,) rate constants in 1/s.
    """
    temperatures = _temperatures(temperatures)
    attempt = units._k * temperatures / units._hplanck  # 1/s
    return attempt * np.exp(log_partition_ratio - barrier / (units.kB * temperatures))


def vineyard_rate(
    reactant_frequencies: np.ndarray,
    saddle_frequencies: np.ndarray,
    barrier: float,
    temperatures: Sequence[float] | np.ndarray | float,
) -> np.ndarray:
    """Vineyard rate k = (Π ν_i^R / Π ν_i^‡) · exp(−ΔE/k_B T).

    Args:
        reactant_frequencies: (n,) real frequencies of the minimum, Hz.
        saddle_frequencies: (n − 1,) real frequencies of the saddle, Hz (the
            imaginary mode left out).
        barrier: ΔE = E‡ − E_R in eV.
        temperatures: (n_T,) K.

    Returns:
        (n_T,) rate constants in 1/s.
    """
    reactant = np.asarray(reactant_frequencies, dtype=np.float64)
    saddle = np.asarray(saddle_frequencies, dtype=np.float64)
    if len(saddle) != len(reactant) - 1:
        raise ValueError(
            f"the saddle needs one real mode fewer than the reactant; got "
            f"{len(saddle)} and {len(reactant)}"
        )
    if not ((reactant > 0).all() and (saddle > 0).all()):
        raise ValueError("real frequencies must all be positive")
    temperatures = _temperatures(temperatures)
    log_prefactor = np.log(reactant).sum() - np.log(saddle).sum()
    return np.exp(log_prefactor - barrier / (units.kB * temperatures))


@dataclasses.dataclass(frozen=True)
class RateResult:
    """What :func:`reaction_rates` returns.

    Attributes:
        barrier: ΔE = E‡ − E_R, eV (classical, no zero-point energy).
        imaginary_frequency: |ν‡| of the saddle's imaginary mode, Hz.
        reactant: relaxed reactant (no calculator).
        product: relaxed product (no calculator).
        saddle: the climbing image (no calculator).
        reactant_frequencies: (n,) real frequencies of the reactant, Hz.
        saddle_frequencies: (n − 1,) real frequencies of the saddle, Hz.
        temperatures: (n_T,) K.
        eyring: (n_T,) Eyring rate constants, 1/s (quantum or classical vibrations
            as set; rotations when free).
        vineyard: (n_T,) Vineyard (classical harmonic) rate constants, 1/s.
        path: the NEB band (images and energies).
    """

    barrier: float
    imaginary_frequency: float
    reactant: ase.Atoms
    product: ase.Atoms
    saddle: ase.Atoms
    reactant_frequencies: np.ndarray
    saddle_frequencies: np.ndarray
    temperatures: np.ndarray
    eyring: np.ndarray
    vineyard: np.ndarray
    path: NEBPath

    @property
    def imaginary_wavenumber(self) -> float:
        """|ν̃‡| of the imaginary mode, cm⁻¹."""
        return float(wavenumber(self.imaginary_frequency))


def _check_pair(reactant: ase.Atoms, product: ase.Atoms) -> None:
    same = (
        len(reactant) == len(product)
        and (reactant.numbers == product.numbers).all()
        and (reactant.pbc == product.pbc).all()
        and np.allclose(reactant.cell.array, product.cell.array)
    )
    if not same:
        raise ValueError(
            "reactant and product must have the same atoms in the same order, the "
            "same cell and the same periodicity"
        )


def _frequencies(
    atoms: ase.Atoms, calculator: Calculator, settings: RateSettings
) -> np.ndarray:
    hessian = structure_hessian(atoms, calculator)
    free = free_motion_vectors(atoms, settings.zero_modes)
    return normal_mode_frequencies(hessian, atoms.get_masses(), free)


def log_partition_ratio(result: RateResult, settings: RateSettings) -> np.ndarray:
    """ln(Q‡/Q_R) per temperature of ``result``'s saddle and reactant.

    Vibrations of ``result.saddle_frequencies`` and ``result.reactant_frequencies``
    (quantum or classical as ``settings.quantum``); rotations of ``result.saddle``
    and ``result.reactant`` when they are free. Returns (n_T,).
    """
    quantum = settings.quantum
    temperatures = result.temperatures
    ratio = vibrational_log_partition(
        result.saddle_frequencies, temperatures, quantum=quantum
    ) - vibrational_log_partition(
        result.reactant_frequencies, temperatures, quantum=quantum
    )
    if resolve_zero_modes(result.reactant, settings.zero_modes) == (
        "translations+rotations"
    ):
        ratio += rotational_log_partition(
            result.saddle.get_moments_of_inertia(),
            temperatures,
            settings.symmetry_number_saddle,
        ) - rotational_log_partition(
            result.reactant.get_moments_of_inertia(),
            temperatures,
            settings.symmetry_number_reactant,
        )
    return ratio


def reaction_rates(
    reactant: ase.Atoms,
    product: ase.Atoms,
    calculator: Calculator,
    temperatures: Sequence[float] | np.ndarray,
    settings: RateSettings | None = None,
) -> RateResult:
    """Harmonic-TST rate constants of reactant → product (see the module docstring).

    Steps: relax reactant and product (``settings.fmax``); climbing-image NEB between
    them (``settings.n_images`` images, all evaluated in one batched call per step
    for a ``PointChemCalculator``; the band is relaxed without climbing to
    ``settings.climb_after_fmax`` first); Hessians of reactant and climbing image
    (analytic when the calculator has ``get_hessian``); frequencies with the free
    motions projected out; check that the reactant is a minimum and the climbing
    image a first-order saddle; Eyring and Vineyard rates.

    Args:
        reactant: initial structure (relaxed here; not modified).
        product: final structure, same atoms in the same order (relaxed here).
        calculator: any ASE calculator; a ``PointChemCalculator`` enables batching.
        temperatures: (n_T,) K.
        settings: a :class:`RateSettings`; None takes the defaults.

    Returns:
        A :class:`RateResult`.

    Raises:
        SaddlePointError: the reactant is not a minimum, the climbing image has not
            exactly one imaginary mode, or a mode is softer than
            ``settings.soft_mode_threshold``.
        ValueError: reactant and product differ in atoms, cell or periodicity.
    """
    settings = settings or RateSettings()
    temperatures = _temperatures(temperatures)
    _check_pair(reactant, product)
    relaxed = relax(reactant, calculator, settings, "reactant")
    relaxed_product = relax(product, calculator, settings, "product")
    path = climbing_image_neb(relaxed, relaxed_product, calculator, settings)
    return rates_on_path(path, calculator, temperatures, settings)


def rates_on_path(
    path: NEBPath,
    calculator: Calculator,
    temperatures: Sequence[float] | np.ndarray,
    settings: RateSettings,
) -> RateResult:
    """Harmonic-TST rates of a band whose highest interior image is the saddle.

    The last steps of :func:`reaction_rates` and of each step of a pathway: Hessians
    of image 0 (the reactant) and of the highest interior image, the minimum and
    saddle checks, Eyring and Vineyard rates.

    Raises:
        SaddlePointError: as :func:`reaction_rates`.
    """
    temperatures = _temperatures(temperatures)
    reactant, saddle = path.images[0], path.images[path.saddle_index]
    threshold = settings.soft_mode_threshold
    reactant_frequencies = check_minimum(
        _frequencies(reactant, calculator, settings), threshold
    )
    imaginary, saddle_frequencies = check_saddle(
        _frequencies(saddle, calculator, settings), threshold
    )
    barrier = float(path.energies[path.saddle_index] - path.energies[0])
    result = RateResult(
        barrier=barrier,
        imaginary_frequency=imaginary,
        reactant=reactant,
        product=path.images[-1],
        saddle=saddle,
        reactant_frequencies=reactant_frequencies,
        saddle_frequencies=saddle_frequencies,
        temperatures=temperatures,
        eyring=np.empty(0),
        vineyard=vineyard_rate(
            reactant_frequencies, saddle_frequencies, barrier, temperatures
        ),
        path=path,
    )
    log_ratio = log_partition_ratio(result, settings)
    return dataclasses.replace(
        result, eyring=eyring_rate(barrier, temperatures, log_ratio)
    )


def plot_arrhenius(
    temperatures: Sequence[float] | np.ndarray,
    rates: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
) -> Path:
    """Save an Arrhenius plot, ln k against 1000/T, as a PNG.

    Args:
        temperatures: (n_T,) K.
        rates: label → (n_T,) rate constants in 1/s (e.g. ``{"Eyring": ...,
            "Vineyard": ...}``); one line each.
        path: output file (PNG).

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure  # plotting is optional at import time

    temperatures = _temperatures(temperatures)
    figure = Figure(figsize=(5, 3.5))
    axis = figure.add_subplot()
    for label, values in rates.items():
        axis.plot(1000.0 / temperatures, np.log(values), marker="o", label=label)
    axis.set_xlabel("1000 / T (1/K)")
    axis.set_ylabel("ln(k / s⁻¹)")
    if rates:
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return Path(path)
