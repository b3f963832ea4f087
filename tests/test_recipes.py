"""The xTB data recipe: keys, units, seeded reproducibility, split, CLI, progress.

Units are checked against tblite's own atomic units and against finite
differences. Tests that run xTB skip when tblite is not installed.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms, units
from ase.build import molecule
from ase.calculators.fd import calculate_numerical_forces

from pointchem._progress import ProgressLine
from pointchem.recipes import (
    XTBSamplingRecipe,
    generate_xtb_dataset,
    split_by_temperature,
)
from pointchem.recipes.__main__ import main
from pointchem.recipes.xtb import make_xtb_calculator, one_openmp_thread

# Labels hold forces to 1e-8 eV/Å and positions to 1e-8 Å (extxyz "%16.8f").
FILE_ROUNDING_EV_PER_ANGSTROM = 1e-5
# tblite's SCF convergence at accuracy 1 makes its forces differ from central
# differences of its energy by ~1e-4 eV/Å on ethanol; the request is 1e-3.
FINITE_DIFFERENCE_FORCE_TOLERANCE_EV_PER_ANGSTROM = 1e-3
FINITE_DIFFERENCE_STEP_ANGSTROM = 1e-3

TINY = XTBSamplingRecipe(
    structure="CH3CH2OH",
    temperatures_K=(300.0, 600.0),
    steps=20,
    equilibration_steps=10,
    sample_interval=10,
    n_rattled=2,
    seed=0,
)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three tiny ethanol data sets: seed 0 twice, seed 1 once."""
    pytest.importorskip("tblite")
    folder = tmp_path_factory.mktemp("xtb")
    return {
        "seed0": generate_xtb_dataset(TINY, folder / "a.xyz", progress=False),
        "seed0-again": generate_xtb_dataset(TINY, folder / "b.xyz", progress=False),
        "seed1": generate_xtb_dataset(
            dataclasses.replace(TINY, seed=1), folder / "c.xyz", progress=False
        ),
    }


def read_frames(path: Path) -> list[Atoms]:
    frames = ase.io.read(path, index=":", format="extxyz")
    assert isinstance(frames, list)
    return frames


def test_file_has_the_documented_keys(tiny_files: dict[str, Path]) -> None:
    text = tiny_files["seed0"].read_text()
    headers = text.splitlines()[1::11]  # ethanol: 9 atoms + 2 header lines
    assert len(headers) == 2 * 2 + 2, "2 temperatures x 2 frames + 2 rattled"
    for header in headers:
        assert "forces:R:3" in header
        for key in ("energy=", "dipole=", "temperature_K=", "sampling=", "md_step="):
            assert key in header, f"{key} missing from {header!r}"
    frames = read_frames(tiny_files["seed0"])
    sampling = [frame.info["sampling"] for frame in frames]
    assert sampling == ["md"] * 4 + ["rattled"] * 2
    temperatures = [frame.info["temperature_K"] for frame in frames[:4]]
    assert temperatures == [300.0, 300.0, 600.0, 600.0]


def test_labels_match_tblite_atomic_units(tiny_files: dict[str, Path]) -> None:
    """Energy Eh→eV, gradient Eh/Bohr→eV/Å, dipole e·Bohr→e·Å, straight from tblite."""
    from tblite.interface import Calculator

    for frame in read_frames(tiny_files["seed0"])[::3]:
        reference = Calculator(TINY.method, frame.numbers, frame.positions / units.Bohr)
        reference.set("verbosity", 0)
        reference.set(
            "temperature", TINY.electronic_temperature_K * units.kB / units.Hartree
        )
        with one_openmp_thread():
            result = reference.singlepoint()
        np.testing.assert_allclose(
            frame.get_potential_energy(),
            result.get("energy") * units.Hartree,
            atol=FILE_ROUNDING_EV_PER_ANGSTROM,
        )
        np.testing.assert_allclose(
            frame.get_forces(),
            -result.get("gradient") * units.Hartree / units.Bohr,
            atol=FILE_ROUNDING_EV_PER_ANGSTROM,
        )
        np.testing.assert_allclose(
            frame.get_dipole_moment(), result.get("dipole") * units.Bohr, atol=1e-6
        )


def test_forces_match_finite_differences(tiny_files: dict[str, Path]) -> None:
    for frame in read_frames(tiny_files["seed0"])[3::2]:  # one MD, one rattled
        stored_forces = frame.get_forces()
        atoms = Atoms(frame.numbers, frame.positions)
        atoms.calc = make_xtb_calculator(TINY)
        with one_openmp_thread():  # many threads on a busy machine: 20x slower
            numerical_forces = calculate_numerical_forces(
                atoms, eps=FINITE_DIFFERENCE_STEP_ANGSTROM
            )
        np.testing.assert_allclose(
            stored_forces,
            numerical_forces,
            atol=FINITE_DIFFERENCE_FORCE_TOLERANCE_EV_PER_ANGSTROM,
            err_msg=f"{frame.info['sampling']} frame",
        )


def test_same_seed_gives_identical_file(tiny_files: dict[str, Path]) -> None:
    assert tiny_files["seed0"].read_bytes() == tiny_files["seed0-again"].read_bytes()


def test_other_seed_gives_other_frames(tiny_files: dict[str, Path]) -> None:
    first = read_frames(tiny_files["seed0"])
    second = read_frames(tiny_files["seed1"])
    assert len(first) == len(second)
    for frame_a, frame_b in zip(first, second, strict=True):
        assert not np.allclose(frame_a.positions, frame_b.positions)


def test_cli_writes_a_water_data_set(tmp_path: Path) -> None:
    pytest.importorskip("tblite")
    output = tmp_path / "water.xyz"
    arguments = ["--molecule", "H2O", "--temperatures", "400", "--steps", "10"]
    arguments += ["--equilibration", "0", "--interval", "5", "--rattled", "1"]
    status = main([*arguments, "--output", str(output), "--quiet"])
    assert status == 0
    frames = read_frames(output)
    assert [frame.info["sampling"] for frame in frames] == ["md", "md", "rattled"]
    assert all(len(frame) == 3 for frame in frames)


def test_split_by_temperature_holds_out_whole_temperatures() -> None:
    frames = []
    for temperature_K, sampling in [(300.0, "md"), (450.0, "md"), (600.0, "rattled")]:
        frame = molecule("H2O")
        frame.info.update(temperature_K=temperature_K, sampling=sampling)
        frames.append(frame)
    kept, held_out = split_by_temperature(frames, [300, 600])
    assert [frame.info["temperature_K"] for frame in kept] == [450.0]
    assert [frame.info["temperature_K"] for frame in held_out] == [300.0, 600.0]
    with pytest.raises(KeyError, match="temperature_K"):
        split_by_temperature([molecule("H2O")], [300])


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 5), ("timestep_fs", 0.0), ("temperatures_K", ()), ("n_rattled", -1)],
)
def test_recipe_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(TINY, **{field: value})


def test_missing_tblite_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tblite.ase", None)
    with pytest.raises(ImportError, match=r'pip install "pointchem\[xtb\]"'):
        make_xtb_calculator(TINY)


def test_progress_line_writes_only_when_enabled() -> None:
    stream = io.StringIO()
    with ProgressLine(4, "work:", stream=stream, file_interval_s=0.0) as line:
        line.advance(4)
    assert "work: 4/4 100.0%" in stream.getvalue()
    silent = io.StringIO()
    with ProgressLine(4, "work:", enabled=False, stream=silent) as line:
        line.advance(4)
    assert silent.getvalue() == ""
