"""Workflows on top of an ASE calculator: harmonic transition-state-theory rates.

>>> from pointchem.workflows import RateSettings, reaction_rates  # doctest: +SKIP
>>> result = reaction_rates(reactant, product, calc, [300, 400])  # doctest: +SKIP
>>> result.barrier, result.eyring  # doctest: +SKIP
"""

from ._modes import (
    SaddlePointError,
    ZeroModes,
    check_minimum,
    check_saddle,
    free_motion_vectors,
    normal_mode_frequencies,
    wavenumber,
)
from ._path import BatchedImages, ImageCalculator, NEBPath, structure_hessian
from ._settings import RateSettings
from .rates import (
    RateResult,
    eyring_rate,
    plot_arrhenius,
    reaction_rates,
    rotational_log_partition,
    vibrational_log_partition,
    vineyard_rate,
)

__all__ = [
    "BatchedImages",
    "ImageCalculator",
    "NEBPath",
    "RateResult",
    "RateSettings",
    "SaddlePointError",
    "ZeroModes",
    "check_minimum",
    "check_saddle",
    "eyring_rate",
    "free_motion_vectors",
    "normal_mode_frequencies",
    "plot_arrhenius",
    "reaction_rates",
    "rotational_log_partition",
    "structure_hessian",
    "vibrational_log_partition",
    "vineyard_rate",
    "wavenumber",
]
