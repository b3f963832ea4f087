"""Data recipes: reproducible, seeded generation of reference data sets.

``pointchem.recipes.xtb`` makes GFN2-xTB data with tblite (the optional extra
``pip install "pointchem[xtb]"``); everything imports without tblite. Command line::

    OMP_NUM_THREADS=1 python -m pointchem.recipes.xtb --molecule CH3CH2OH
        --temperatures 300 500 800 --steps 2000 --output data/ethanol-xtb.xyz --seed 0

(one line in the shell).

``pointchem.recipes.silicon`` makes silicon data labelled with matscipy's Kumagai
potential (crystal, strained cells, vacancies, liquid; energies, forces, stress)::

    OMP_NUM_THREADS=1 python -m pointchem.recipes.silicon
        --output data/kumagai/silicon-train.xyz
        --test-output data/kumagai/silicon-test.xyz

The names below are loaded on first use rather than at import, so that
``python -m pointchem.recipes.xtb`` runs a module not yet imported (runpy warns
otherwise).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .xtb import XTBSamplingRecipe, generate_xtb_dataset, split_by_temperature

__all__ = ["XTBSamplingRecipe", "generate_xtb_dataset", "split_by_temperature"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".xtb", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
