"""Workflows on top of an ASE calculator: harmonic-TST rates, vibrations and phonons.

>>> from pointchem.workflows import RateSettings, reaction_rates  # doctest: +SKIP
>>> result = reaction_rates(reactant, product, calc, [300, 400])  # doctest: +SKIP
>>> result.barrier, result.eyring  # doctest: +SKIP
>>> from pointchem.workflows import phonons_from_hessian, phonon_frequencies
>>> phonon = phonons_from_hessian(silicon, calc, supercell=3)  # doctest: +SKIP
>>> phonon_frequencies(phonon, [0.5, 0.0, 0.5])  # THz at X  # doctest: +SKIP
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
from ._path import (
    BatchedImages,
    ImageCalculator,
    NEBPath,
    climbing_image_neb,
    relaxed_band,
    structure_hessian,
)
from ._settings import RateSettings
from .pathway import (
    PathwayResult,
    first_passage_rate,
    intermediate_minima,
    reaction_pathway,
    same_minimum,
)
from .phonons import (
    PHONON_DISPLACEMENT,
    force_constants_from_hessian,
    harmonic_vibrations,
    phonon_frequencies,
    phonons_from_displacements,
    phonons_from_hessian,
    plot_phonons,
    supercell_forces,
)
from .rates import (
    RateResult,
    eyring_rate,
    plot_arrhenius,
    rates_on_path,
    reaction_rates,
    rotational_log_partition,
    vibrational_log_partition,
    vineyard_rate,
)

__all__ = [
    "PHONON_DISPLACEMENT",
    "BatchedImages",
    "ImageCalculator",
    "NEBPath",
    "PathwayResult",
    "RateResult",
    "RateSettings",
    "SaddlePointError",
    "ZeroModes",
    "check_minimum",
    "check_saddle",
    "climbing_image_neb",
    "eyring_rate",
    "first_passage_rate",
    "force_constants_from_hessian",
    "free_motion_vectors",
    "harmonic_vibrations",
    "intermediate_minima",
    "normal_mode_frequencies",
    "phonon_frequencies",
    "phonons_from_displacements",
    "phonons_from_hessian",
    "plot_arrhenius",
    "plot_phonons",
    "rates_on_path",
    "reaction_pathway",
    "reaction_rates",
    "relaxed_band",
    "rotational_log_partition",
    "same_minimum",
    "structure_hessian",
    "supercell_forces",
    "vibrational_log_partition",
    "vineyard_rate",
    "wavenumber",
]
