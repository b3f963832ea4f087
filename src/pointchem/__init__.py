"""pointchem: machine-learned interatomic potentials behind one ASE calculator.

>>> from pointchem import PointChemCalculator  # doctest: +SKIP
>>> atoms.calc = PointChemCalculator("potentials/ethanol-gm.pt")  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .calculator import PointChemCalculator
from .evaluate import Prediction, evaluate, hessian
from .graph import AtomicGraph, atoms_to_graph, batch_graphs
from .models.base import EnergyModel
from .serialization import (
    PotentialFileError,
    load_potential,
    save_potential,
)

__all__ = [
    "AtomicGraph",
    "EnergyModel",
    "PointChemCalculator",
    "PotentialFileError",
    "Prediction",
    "__version__",
    "atoms_to_graph",
    "batch_graphs",
    "evaluate",
    "hessian",
    "load_potential",
    "save_potential",
]
