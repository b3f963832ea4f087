"""Harmonic transition-state theory: the trans → gauche OH rotation of ethanol.

Starts from trans ethanol (dihedral C–C–O–H = 180°) and a gauche guess (60°), lets
:func:`pointchem.workflows.reaction_rates` relax both with the shipped PET potential,
find the saddle point of the OH torsion with a climbing-image NEB (all images in one
batched model call per step), check that the saddle has exactly one imaginary mode,
and evaluate harmonic-TST rate constants: Eyring (quantum vibrations, rigid-rotor
rotations; translations cancel) and Vineyard (classical, no rotations). Prints the
barrier, the imaginary frequency and k(T), and saves an Arrhenius plot
``rates_ethanol.png`` in the working directory.

The reference is GFN2-xTB (tblite, ``pip install -e ".[xtb]"``), the method that
labelled the training data, in two ways: its energies along the model's own NEB path
(the barrier "for the same path"), and the whole workflow run again with xTB as the
calculator (its own minima, path, saddle and frequencies). Without tblite the
comparison is skipped with a message.

The rate is for one path, to one of the two mirror-image gauche minima (rotational
symmetry numbers 1: trans ethanol is Cs, gauche and the saddle C1); the total
trans → gauche rate is twice as large. A torsional barrier of a few tens of meV is
far from the harmonic regime, so the numbers show the workflow, not converged
chemistry (hindered-rotor corrections are not made).

Run: ``python examples/md/05_rate_constants.py`` (``--potential gm`` or ``wk`` runs
another shipped ethanol potential). With ``--smoke`` (or
``POINTCHEM_SMOKE=1``) it uses the bare PET model (``symmetrize=False``: several times
faster, slightly orientation-dependent), three images and loose force tolerances,
which is enough to check that everything runs but not for accurate numbers.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from ase.build import molecule

from pointchem import PointChemCalculator
from pointchem.workflows import RateResult, RateSettings, plot_arrhenius, reaction_rates

POTENTIALS = Path(__file__).resolve().parents[2] / "potentials"
MODELS = {"pet": "ethanol-pet.pt", "gm": "ethanol-gm.pt", "wk": "ethanol-wk.pt"}
DIHEDRAL = (0, 1, 2, 3)  # C, C, O, H(O) in ase.build.molecule("CH3CH2OH")
FULL = RateSettings(n_images=7, fmax=1e-3, neb_fmax=1e-3, max_steps=1000)
SMOKE = RateSettings(n_images=3, fmax=0.02, neb_fmax=0.05, max_steps=60)


def print_result(name: str, result: RateResult, temperatures: np.ndarray) -> None:
    """Stationary points, barrier, imaginary frequency and k(T) of one calculator."""
    print(f"--- {name}")
    print(
        f"dihedral C-C-O-H: trans {result.reactant.get_dihedral(*DIHEDRAL):.1f}°, "
        f"saddle {result.saddle.get_dihedral(*DIHEDRAL):.1f}°, "
        f"gauche {result.product.get_dihedral(*DIHEDRAL):.1f}°"
    )
    print(
        f"NEB converged: {result.path.converged}; "
        f"batched model calls: {result.path.n_model_calls}"
    )
    print(
        f"barrier {result.barrier * 1e3:.2f} meV, "
        f"imaginary frequency {result.imaginary_wavenumber:.1f}i cm⁻¹"
    )
    print("T (K)   k_Eyring (1/s)   k_Vineyard (1/s)")
    for row in zip(temperatures, result.eyring, result.vineyard, strict=True):
        print(f"{row[0]:6.0f}  {row[1]:14.4e}  {row[2]:14.4e}")


def xtb_reference(
    model: RateResult, temperatures: np.ndarray, settings: RateSettings
) -> RateResult | None:
    """GFN2-xTB on the model's path, then xTB's own rates; None without tblite."""
    try:
        from tblite.ase import TBLite
    except ImportError:
        print("tblite not installed: no GFN2-xTB comparison (pip install tblite)")
        return None
    calculator = TBLite(method="GFN2-xTB", verbosity=0)
    on_path = []
    for image in model.path.images:
        atoms = image.copy()
        atoms.calc = calculator
        on_path.append(atoms.get_potential_energy())
    path_barrier = max(on_path[1:-1]) - on_path[0]
    reference = reaction_rates(
        model.reactant, model.product, calculator, temperatures, settings
    )
    print_result(
        "GFN2-xTB (its own relaxations, NEB and frequencies)", reference, temperatures
    )
    print("--- model − GFN2-xTB")
    print(
        f"barrier: model {model.barrier * 1e3:.2f} meV, xTB on the model's path "
        f"{path_barrier * 1e3:.2f} meV, xTB's own path {reference.barrier * 1e3:.2f} "
        f"meV: model − xTB {1e3 * (model.barrier - reference.barrier):+.2f} meV"
    )
    print(
        f"imaginary frequency: model {model.imaginary_wavenumber:.1f}i, "
        f"xTB {reference.imaginary_wavenumber:.1f}i cm⁻¹"
    )
    ratio = model.eyring / reference.eyring
    print(
        "k_Eyring model / xTB: "
        + ", ".join(
            f"{T:.0f} K {r:.3f}" for T, r in zip(temperatures, ratio, strict=True)
        )
    )
    return reference


def main() -> None:
    """Compute the trans → gauche rate constants, print them and plot them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a quick, loose run")
    parser.add_argument(
        "--potential", choices=sorted(MODELS), default="pet", help="shipped potential"
    )
    arguments = parser.parse_args()
    smoke = arguments.smoke or bool(os.environ.get("POINTCHEM_SMOKE"))
    potential = POTENTIALS / MODELS[arguments.potential]
    settings = SMOKE if smoke else FULL
    temperatures = np.linspace(200.0, 600.0, 3 if smoke else 9)

    # the smoke run evaluates PET bare (symmetrize=False), which is several times faster
    calculator = PointChemCalculator(potential, dtype="float64", symmetrize=not smoke)
    trans = molecule("CH3CH2OH")
    gauche = trans.copy()
    gauche.set_dihedral(*DIHEDRAL, 60.0, indices=[DIHEDRAL[-1]])

    result = reaction_rates(trans, gauche, calculator, temperatures, settings)
    print_result(potential.name, result, temperatures)
    reference = xtb_reference(result, temperatures, settings)
    rates = {
        "Eyring (quantum), model": result.eyring,
        "Vineyard (classical), model": result.vineyard,
    }
    if reference is not None:
        rates["Eyring (quantum), GFN2-xTB"] = reference.eyring
    plot_arrhenius(temperatures, rates, "rates_ethanol.png")


if __name__ == "__main__":
    main()
