"""Write the stored potential file of the current format and its pinned energies.

Run from the repository root only when the potential format changes on purpose:

    python -m tests.data.make_potential_fixture

It writes ``tests/data/potential-v{FORMAT_VERSION}-pet-ecse.pt`` (a tiny PET with its
ECSE symmetrization record, which version 2 introduced; never overwrite an older
version's file: those must keep loading) and prints the per-atom energies of
``ase.build.molecule("CH3CH2OH")`` to pin in ``tests/test_serialization.py``.
"""

from __future__ import annotations

import torch
from ase.build import molecule

from pointchem import PointChemCalculator, save_potential
from pointchem.serialization import FORMAT_VERSION

from ..conftest import DATA
from ..models.test_pet_ecse import tiny_symmetrized


def main() -> None:
    """Save the fixture and print the energies to pin."""
    torch.manual_seed(7)
    path = DATA / f"potential-v{FORMAT_VERSION}-pet-ecse.pt"
    model = tiny_symmetrized()
    save_potential(model, path, metadata={"purpose": "format-version fixture"})
    atoms = molecule("CH3CH2OH")
    atoms.calc = PointChemCalculator(path, device="cpu")
    print(repr(atoms.get_potential_energies().tolist()))


if __name__ == "__main__":
    main()
