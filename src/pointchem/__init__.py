"""pointchem: machine-learned interatomic potentials behind one ASE calculator.

>>> from pointchem import PointChemCalculator  # doctest: +SKIP
>>> atoms.calc = PointChemCalculator("potentials/ethanol-gm.pt")  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .calculator import PointChemCalculator  # noqa: E402
from .evaluate import Prediction, evaluate, hessian  # noqa: E402
from .graph import AtomicGraph, atoms_to_graph, batch_graphs  # noqa: E402
from .models.base import EnergyModel  # noqa: E402
from .serialization import (  # noqa: E402
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
