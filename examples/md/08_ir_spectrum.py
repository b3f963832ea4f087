"""IR spectrum of ethanol from the dipole autocorrelation of NVE runs (WK dipole model).

The shipped Wigner-kernel potential ``potentials/ethanol-wk.pt`` predicts the energy,
the forces and the molecular dipole μ (e·Å) of ethanol, all fitted to GFN2-xTB. This
example computes its infrared spectrum two ways and compares them:

* **Harmonic**: ethanol relaxed by BFGS (fmax 1e-3 eV/Å), then ASE's ``Infrared``
  (central finite differences of forces and dipole, 0.01 Å): wavenumbers and
  intensities (km/mol) of the 21 vibrations. With tblite installed the same is done
  with GFN2-xTB at its own minimum, so the model's harmonic wavenumbers and
  intensities are compared with those of the reference method.
* **From dynamics**: ``--runs`` independent trajectories, each thermalized at 300 K by
  ASE's ``Langevin`` for ``--equilibration-ps`` and then run in NVE (velocity Verlet,
  0.5 fs) for ``--picoseconds``, with μ(t) sampled every 2 fs (4 steps: the Nyquist
  limit is 8300 cm⁻¹, twice the fastest vibration). In classical linear response the
  absorption is

      α(ω) n(ω) ∝ ω² ∫ ⟨δμ(0)·δμ(t)⟩ e^{−iωt} dt ∝ ω² ⟨|δμ̃(ω)|²⟩,

  so the spectrum is ω² times the periodogram of the dipole fluctuation (Hann window,
  zero padding), averaged over runs. Peaks of this spectrum are then matched to the
  harmonic modes: at 300 K, anharmonicity shifts them, most for the C–H and O–H
  stretches (to lower wavenumbers).

The dynamics run on ``ethanol-gm.pt`` by default (4 ms per step; the more accurate
fit of the same GFN2-xTB data) and on ``ethanol-wk.pt`` with ``--dynamics wk`` (about
90 ms per step); the dipole always comes from the WK model (55 ms per sample), and
the harmonic wavenumbers are those of the potential that drives the dynamics (the
intensities those of the WK dipole), so peak shifts compare like with like.

Run: ``python examples/md/08_ir_spectrum.py`` (4 runs of 5 ps; about 12 minutes on one
core, most of it the dipoles). ``POINTCHEM_SMOKE=1`` (or
``--smoke``) runs 2 runs of 0.1 ps, whose spectrum is too coarse to mean anything.
Prints the harmonic table, the matched peaks and the xTB comparison; saves
``ir_ethanol.png`` (spectrum with harmonic sticks) and ``ir_ethanol.npz`` (dipole
series, spectrum and harmonic modes) in the working directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import matplotlib

matplotlib.use("Agg")
import ase
import matplotlib.pyplot as plt
import numpy as np
from _md_tools import POTENTIALS, relaxed_ethanol, thermalize_momenta
from ase import units
from ase.calculators.calculator import Calculator, all_changes
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS
from ase.vibrations import Infrared
from scipy.signal import find_peaks

from pointchem import PointChemCalculator

SMOKE = bool(os.environ.get("POINTCHEM_SMOKE"))
DIPOLE_POTENTIAL = POTENTIALS / "ethanol-wk.pt"
DYNAMICS_POTENTIALS = {"wk": "ethanol-wk.pt", "gm": "ethanol-gm.pt"}
SAMPLE_INTERVAL = 4
"""MD steps between dipole samples (2 fs)."""
TEMPERATURE_K = 300.0
TIMESTEP_FS = 0.5
LANGEVIN_FRICTION_PER_FS = 0.01
WAVENUMBER_PER_FS = 1e15 / units._c / 100
"""cm⁻¹ of 1 fs⁻¹ (frequency ν in fs⁻¹ times this gives ν̃ = ν / c in cm⁻¹)."""
IR_ACTIVE_KM_PER_MOL = 1.0
"""Harmonic modes weaker than this are not matched to peaks."""
MATCH_WINDOW_CM = 150.0
"""A harmonic mode is matched to the nearest spectral peak within this window."""
PEAK_PROMINENCE = 0.01
"""Smallest prominence of a spectral peak (the spectrum's maximum is 1): below it,
maxima are noise of the finite runs."""
PLOT_RANGE_CM = (200.0, 4000.0)


@dataclasses.dataclass(frozen=True)
class HarmonicIR:
    """Harmonic vibrations of a relaxed molecule.

    Attributes:
        wavenumbers: (n_vibrations,) cm⁻¹, ascending (translations and rotations
            removed).
        intensities: (n_vibrations,) km/mol.
    """

    wavenumbers: np.ndarray
    intensities: np.ndarray


class ForcesAndDipole(Calculator):
    """Energy and forces of one calculator, the dipole of another (for ``Infrared``).

    Args:
        forces: calculator of energy and forces (the potential of the dynamics).
        dipole: calculator of the dipole (the WK potential).
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "forces", "dipole"]

    def __init__(self, forces: Calculator, dipole: Calculator):
        super().__init__()
        self.parts = {"energy": forces, "forces": forces, "dipole": dipole}

    def calculate(
        self,
        atoms: ase.Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        """Each asked-for property from the calculator that provides it."""
        super().calculate(atoms, properties, system_changes)
        for name in properties:
            self.results[name] = self.parts[name].get_property(name, self.atoms)


def harmonic_ir(atoms: ase.Atoms, calculator: Calculator) -> HarmonicIR:
    """Harmonic wavenumbers and IR intensities by ASE's ``Infrared`` (0.01 Å).

    ``atoms`` must be relaxed; the displacement cache lives in a temporary folder.
    """
    atoms = atoms.copy()
    atoms.calc = calculator
    folder = Path(tempfile.mkdtemp(prefix="pointchem-ir-"))
    try:
        infrared = Infrared(atoms, name=str(folder / "ir"), delta=0.01)
        infrared.run()
        infrared.read()
        energies = np.asarray(infrared.get_energies())
        intensities = infrared.intensities * infrared.intensity_prefactor("km/mol")[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    keep = np.argsort(np.abs(energies))[6:]  # 3 translations + 3 rotations
    keep = keep[np.argsort(energies[keep].real)]
    wavenumbers = energies[keep].real / units.invcm
    return HarmonicIR(wavenumbers, np.asarray(intensities[keep]).real)


def dipole_trajectory(
    atoms: ase.Atoms,
    dipole_calculator: PointChemCalculator,
    equilibration_ps: float,
    picoseconds: float,
    seed: int,
) -> np.ndarray:
    """μ(t) (n_samples, 3) e·Å of one NVE run after Langevin thermalization.

    ``atoms`` carries the calculator of the dynamics; the dipole is evaluated by
    ``dipole_calculator`` on a copy every ``SAMPLE_INTERVAL`` steps.
    """
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=TEMPERATURE_K, rng=rng)
    thermostat = Langevin(
        atoms,
        TIMESTEP_FS * units.fs,
        temperature_K=TEMPERATURE_K,
        friction=LANGEVIN_FRICTION_PER_FS / units.fs,
        fixcm=False,
        rng=rng,
    )
    thermostat.run(round(equilibration_ps * 1000 / TIMESTEP_FS))
    Stationary(atoms)  # the thermostat's kicks leave a small drift; rotation stays
    probe = atoms.copy()
    probe.calc = dipole_calculator
    dipoles = []

    def sample() -> None:
        probe.positions = atoms.positions
        dipoles.append(probe.get_dipole_moment())

    dynamics = VelocityVerlet(atoms, TIMESTEP_FS * units.fs)
    dynamics.attach(sample, interval=SAMPLE_INTERVAL)
    dynamics.run(round(picoseconds * 1000 / TIMESTEP_FS))
    return np.array(dipoles)


def absorption_spectrum(
    runs: list[np.ndarray], timestep_fs: float
) -> tuple[np.ndarray, np.ndarray]:
    """ω² times the periodogram of δμ(t), averaged over runs and x, y, z.

    Args:
        runs: dipole series (n_samples, 3) e·Å, all of one length and spacing.
        timestep_fs: sample spacing, fs.

    Returns:
        wavenumbers (cm⁻¹) and the spectrum normalised to a maximum of 1 above
        ``PLOT_RANGE_CM[0]``.
    """
    n_samples = len(runs[0])
    window = np.hanning(n_samples)[:, None]
    n_fft = 4 * n_samples  # zero padding: a finer grid, not a finer resolution
    power = np.zeros(n_fft // 2 + 1)
    for dipole in runs:
        fluctuation = (dipole - dipole.mean(axis=0)) * window
        power += (np.abs(np.fft.rfft(fluctuation, n=n_fft, axis=0)) ** 2).sum(axis=1)
    wavenumbers = np.fft.rfftfreq(n_fft, d=timestep_fs) * WAVENUMBER_PER_FS
    spectrum = wavenumbers**2 * power
    visible = wavenumbers >= PLOT_RANGE_CM[0]
    return wavenumbers, spectrum / spectrum[visible].max()


def match_peaks(
    harmonic: HarmonicIR, wavenumbers: np.ndarray, spectrum: np.ndarray
) -> list[tuple[float, float, float]]:
    """(harmonic ν̃, intensity, nearest MD peak ν̃) for IR-active modes.

    The MD peak is the nearest peak of prominence ≥ ``PEAK_PROMINENCE`` within
    ``MATCH_WINDOW_CM`` of the harmonic wavenumber (NaN when there is none). Modes
    closer together than the peaks' width share a peak.
    """
    peaks, _ = find_peaks(spectrum, prominence=PEAK_PROMINENCE)
    matches = []
    for wavenumber, intensity in zip(
        harmonic.wavenumbers, harmonic.intensities, strict=True
    ):
        if intensity < IR_ACTIVE_KM_PER_MOL:
            continue
        near = peaks[np.abs(wavenumbers[peaks] - wavenumber) <= MATCH_WINDOW_CM]
        nearest = (
            near[np.argmin(np.abs(wavenumbers[near] - wavenumber))]
            if near.size
            else None
        )
        peak = np.nan if nearest is None else float(wavenumbers[nearest])
        matches.append((float(wavenumber), float(intensity), peak))
    return matches


def xtb_harmonic() -> HarmonicIR | None:
    """GFN2-xTB harmonic IR at the xTB minimum, or None without tblite."""
    try:
        from tblite.ase import TBLite
    except ImportError:
        print("tblite not installed: no GFN2-xTB comparison (pip install tblite)")
        return None
    atoms = relaxed_ethanol(PointChemCalculator(DIPOLE_POTENTIAL))  # a close start
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    if not BFGS(atoms, logfile=None).run(fmax=1e-3, steps=500):
        raise RuntimeError("the GFN2-xTB relaxation did not converge")
    return harmonic_ir(atoms, TBLite(method="GFN2-xTB", verbosity=0))


def print_harmonic(model: HarmonicIR, reference: HarmonicIR | None) -> None:
    """Table of the model's harmonic modes, with GFN2-xTB's beside them."""
    print("\nHarmonic vibrations (ASE Infrared, 0.01 Å central differences)")
    header = f"{'mode':>4} {'model cm-1':>11} {'km/mol':>9}"
    if reference is not None:
        header += f" {'xTB cm-1':>10} {'km/mol':>9} {'Δ cm-1':>8}"
    print(header)
    for k, (nu, inten) in enumerate(
        zip(model.wavenumbers, model.intensities, strict=True)
    ):
        line = f"{k + 1:>4} {nu:>11.1f} {inten:>9.2f}"
        if reference is not None:
            ref_nu, ref_int = reference.wavenumbers[k], reference.intensities[k]
            line += f" {ref_nu:>10.1f} {ref_int:>9.2f} {nu - ref_nu:>+8.1f}"
        print(line)
    if reference is not None:
        difference = model.wavenumbers - reference.wavenumbers
        print(
            f"model − GFN2-xTB wavenumbers: mean |Δ| {np.abs(difference).mean():.1f}"
            f" cm⁻¹, largest |Δ| {np.abs(difference).max():.1f} cm⁻¹"
        )


def print_matches(matches: list[tuple[float, float, float]]) -> None:
    """Table of IR-active harmonic modes against the peaks of the MD spectrum."""
    print(f"\nIR-active modes (≥ {IR_ACTIVE_KM_PER_MOL} km/mol) against MD peaks")
    print(f"{'harmonic cm-1':>14} {'km/mol':>9} {'MD peak cm-1':>13} {'shift':>8}")
    for wavenumber, intensity, peak in matches:
        print(
            f"{wavenumber:>14.1f} {intensity:>9.2f} {peak:>13.1f} "
            f"{peak - wavenumber:>+8.1f}"
        )


def plot(
    wavenumbers: np.ndarray,
    spectrum: np.ndarray,
    model: HarmonicIR,
    reference: HarmonicIR | None,
    title: str,
) -> None:
    """Spectrum from dynamics with the harmonic intensities as sticks."""
    figure, axis = plt.subplots(figsize=(9, 4.5))
    visible = (wavenumbers >= PLOT_RANGE_CM[0]) & (wavenumbers <= PLOT_RANGE_CM[1])
    axis.plot(wavenumbers[visible], spectrum[visible], color="k", lw=1, label="MD")
    scale = max(model.intensities.max(), 1e-12)
    axis.vlines(
        model.wavenumbers,
        0,
        -0.5 * model.intensities / scale,
        color="tab:blue",
        label="harmonic, model (down)",
    )
    if reference is not None:
        axis.vlines(
            reference.wavenumbers,
            0,
            -0.5 * reference.intensities / scale,
            color="tab:orange",
            alpha=0.6,
            linestyles="dashed",
            label="harmonic, GFN2-xTB",
        )
    axis.axhline(0, color="grey", lw=0.5)
    axis.set_xlim(*PLOT_RANGE_CM)
    axis.set_xlabel("wavenumber (cm⁻¹)")
    axis.set_ylabel("absorption (arb. units); harmonic km/mol (scaled)")
    axis.set_title(title)
    axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig("ir_ethanol.png", dpi=120)
    plt.close(figure)


def main() -> None:
    """Harmonic and dynamical IR spectra of ethanol; print, compare and plot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a very short run")
    parser.add_argument("--dynamics", choices=sorted(DYNAMICS_POTENTIALS), default="gm")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--picoseconds", type=float, default=None)
    parser.add_argument("--equilibration-ps", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    smoke = arguments.smoke or SMOKE
    runs = arguments.runs or (2 if smoke else 4)
    picoseconds = arguments.picoseconds or (0.1 if smoke else 5.0)
    equilibration_ps = arguments.equilibration_ps or (0.05 if smoke else 0.5)

    dynamics_calculator = PointChemCalculator(
        POTENTIALS / DYNAMICS_POTENTIALS[arguments.dynamics]
    )
    dipole_calculator = PointChemCalculator(DIPOLE_POTENTIAL)
    minimum = relaxed_ethanol(dynamics_calculator)
    model = harmonic_ir(
        minimum, ForcesAndDipole(dynamics_calculator, dipole_calculator)
    )
    reference = xtb_harmonic()
    print_harmonic(model, reference)

    series = []
    for run in range(runs):
        atoms = minimum.copy()
        atoms.calc = dynamics_calculator
        series.append(
            dipole_trajectory(
                atoms,
                dipole_calculator,
                equilibration_ps,
                picoseconds,
                seed=arguments.seed + run,
            )
        )
        print(f"run {run + 1}/{runs}: {len(series[-1])} dipole samples")
    wavenumbers, spectrum = absorption_spectrum(series, SAMPLE_INTERVAL * TIMESTEP_FS)
    np.savez(
        "ir_ethanol.npz",
        dipoles_e_angstrom=np.array(series),
        sample_interval_fs=SAMPLE_INTERVAL * TIMESTEP_FS,
        wavenumbers_cm=wavenumbers,
        spectrum=spectrum,
        harmonic_cm=model.wavenumbers,
        harmonic_km_per_mol=model.intensities,
    )
    resolution = WAVENUMBER_PER_FS / (picoseconds * 1000)
    print(f"\nspectral resolution 1/T = {resolution:.1f} cm⁻¹ (T = {picoseconds} ps)")
    print_matches(match_peaks(model, wavenumbers, spectrum))
    plot(
        wavenumbers,
        spectrum,
        model,
        reference,
        f"ethanol IR at {TEMPERATURE_K:.0f} K: {runs} × {picoseconds} ps NVE "
        f"({arguments.dynamics.upper()} dynamics, WK dipole)",
    )
    print("saved ir_ethanol.png")


if __name__ == "__main__":
    main()
