"""The Kumagai silicon recipe: labels, keys, split, seeded reproducibility, CLI.

Labels are checked against finite differences of the Kumagai energy (forces) and
against ASE's numerical stress, on frames read back from the written file. A tiny
recipe (8-atom cells, a handful of MD steps) keeps the whole module to seconds.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms, units
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from pointchem.recipes.silicon import (
    CONFIGS,
    STRAIN_KINDS,
    SiliconSamplingRecipe,
    generate_silicon_dataset,
    main,
    make_kumagai_calculator,
    plan_runs,
    random_strain,
    relax_lattice_constant,
)
from pointchem.training.config import DataSettings
from pointchem.training.data import read_samples

# Positions are stored to 1e-8 Å (extxyz "%16.8f"), which moves forces by ~1e-7
# eV/Å and stress by ~1e-9 eV/Å³; central differences with these steps are
# accurate to ~1e-8 eV/Å and ~1e-10 eV/Å³ for Kumagai (measured).
FORCE_TOLERANCE_EV_PER_ANGSTROM = 1e-6
STRESS_TOLERANCE_EV_PER_ANGSTROM3 = 1e-8
FORCE_STEP_ANGSTROM = 1e-4
STRAIN_STEP = 1e-6
# Kumagai et al. fitted their silicon parameters to the experimental 5.429 Å.
KUMAGAI_LATTICE_CONSTANT_ANGSTROM = 5.429

TINY = SiliconSamplingRecipe(
    supercell=1,
    crystal_temperatures_K=(600.0,),
    crystal_runs=2,
    strained_temperatures_K=(300.0,),
    strained_runs=3,
    vacancy_temperatures_K=(900.0,),
    vacancy_runs=2,
    vacancy_counts=(1,),
    liquid_temperatures_K=(1800.0,),
    liquid_runs=2,
    melt_steps=20,
    equilibration_steps=5,
    frames_per_run=2,
    sample_interval=3,
    test_fraction=0.34,
    seed=0,
)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Train and test files of TINY (twice), of seed 1, and train-only of TINY."""
    folder = tmp_path_factory.mktemp("silicon")
    files: dict[str, Path] = {}
    for name, recipe in [
        ("a", TINY),
        ("b", TINY),
        ("seed1", dataclasses.replace(TINY, seed=1)),
    ]:
        train, test = generate_silicon_dataset(
            recipe,
            folder / f"{name}.xyz",
            progress=False,
            test_path=folder / f"{name}-test.xyz",
        )
        assert test is not None
        files[name], files[f"{name}-test"] = train, test
    files["train-only"], _ = generate_silicon_dataset(
        TINY, folder / "train-only.xyz", progress=False
    )
    return files


def read_frames(path: Path) -> list[Atoms]:
    frames = ase.io.read(path, index=":", format="extxyz")
    assert isinstance(frames, list)
    return frames


def test_read_samples_gets_energy_forces_and_stress(
    tiny_files: dict[str, Path],
) -> None:
    settings = DataSettings(train=(str(tiny_files["a"]),), stress_key="stress")
    samples = read_samples([tiny_files["a"], tiny_files["a-test"]], settings)
    assert len(samples) == len(plan_runs(TINY)) * TINY.frames_per_run
    for sample in samples:
        assert sample.forces is not None
        assert sample.forces.shape == (len(sample.atoms), 3)
        assert sample.stress is not None
        np.testing.assert_allclose(sample.stress, sample.stress.T)
        assert -5.0 < sample.energy / len(sample.atoms) < -3.0, sample.source


def test_every_configuration_is_in_train_and_test(tiny_files: dict[str, Path]) -> None:
    for name, expected_runs in [("a", (1, 2, 1, 1)), ("a-test", (1, 1, 1, 1))]:
        frames = read_frames(tiny_files[name])
        counts = Counter(frame.info["config"] for frame in frames)
        runs = dict(zip(CONFIGS, expected_runs, strict=True))
        assert counts == {c: n * TINY.frames_per_run for c, n in runs.items()}, name
        for frame in frames:
            assert frame.info["sampling"] == "md"
            assert frame.info["temperature_K"] > 0


def test_configurations_have_the_asked_for_cells(tiny_files: dict[str, Path]) -> None:
    frames = read_frames(tiny_files["a"]) + read_frames(tiny_files["a-test"])
    for frame in frames:
        config = frame.info["config"]
        expected_atoms = 8 - frame.info.get("n_vacancies", 0)
        assert len(frame) == expected_atoms, config
        if config == "strained":
            assert np.abs(frame.info["strain"]).max() <= TINY.max_strain
        if config == "liquid":
            density = frame.get_masses().sum() / frame.get_volume()
            density_g_per_cm3 = density * units._amu * 1e3 / 1e-24
            np.testing.assert_allclose(density_g_per_cm3, TINY.liquid_density_g_per_cm3)
    kinds = {f.info["strain_kind"] for f in frames if f.info["config"] == "strained"}
    assert kinds == set(STRAIN_KINDS)


def test_stress_and_forces_match_numerical_derivatives(
    tiny_files: dict[str, Path],
) -> None:
    """Stored labels against ASE's numerical stress and forces, on a shear frame."""
    frames = read_frames(tiny_files["a"]) + read_frames(tiny_files["a-test"])
    sheared = [frame for frame in frames if frame.info.get("strain_kind") == "shear"]
    for frame in [sheared[0], frames[-1]]:  # a sheared crystal and a liquid
        stored_stress, stored_forces = frame.get_stress(), frame.get_forces()
        atoms = Atoms(frame.numbers, frame.positions, cell=frame.cell, pbc=True)
        atoms.calc = make_kumagai_calculator()
        np.testing.assert_allclose(
            stored_stress,
            calculate_numerical_stress(atoms, eps=STRAIN_STEP),
            atol=STRESS_TOLERANCE_EV_PER_ANGSTROM3,
            err_msg=f"{frame.info['config']} stress",
        )
        np.testing.assert_allclose(
            stored_forces,
            calculate_numerical_forces(atoms, eps=FORCE_STEP_ANGSTROM),
            atol=FORCE_TOLERANCE_EV_PER_ANGSTROM,
            err_msg=f"{frame.info['config']} forces",
        )


def test_same_seed_gives_identical_files(tiny_files: dict[str, Path]) -> None:
    assert tiny_files["a"].read_bytes() == tiny_files["b"].read_bytes()
    assert tiny_files["a-test"].read_bytes() == tiny_files["b-test"].read_bytes()


def test_train_file_does_not_depend_on_making_the_test_file(
    tiny_files: dict[str, Path],
) -> None:
    assert tiny_files["a"].read_bytes() == tiny_files["train-only"].read_bytes()


def test_other_seed_gives_other_frames(tiny_files: dict[str, Path]) -> None:
    first, second = read_frames(tiny_files["a"]), read_frames(tiny_files["seed1"])
    assert len(first) == len(second)
    for frame_a, frame_b in zip(first, second, strict=True):
        assert not np.allclose(frame_a.positions, frame_b.positions)


def test_relaxed_lattice_constant_is_kumagais() -> None:
    lattice_constant = relax_lattice_constant(make_kumagai_calculator())
    np.testing.assert_allclose(
        lattice_constant, KUMAGAI_LATTICE_CONSTANT_ANGSTROM, atol=1e-4
    )


@pytest.mark.parametrize("kind", STRAIN_KINDS)
def test_random_strain_is_symmetric_and_bounded(kind: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(10):
        strain = random_strain(kind, 0.03, rng)
        np.testing.assert_array_equal(strain, strain.T)
        assert 0 < np.abs(strain).max() <= 0.03
        assert np.count_nonzero(strain) == {"isotropic": 3, "uniaxial": 1}.get(kind, 2)


def test_held_out_runs_are_the_last_of_each_setting() -> None:
    plan = plan_runs(SiliconSamplingRecipe())
    held_out = Counter((run.config, run.temperature_K) for run in plan if run.held_out)
    assert held_out[("crystal", 300.0)] == 1
    assert held_out[("strained", 900.0)] == 3
    assert held_out[("liquid", 2000.0)] == 1
    assert all(
        run.index >= 12 for run in plan if run.held_out and run.config == "strained"
    )
    assert not any(
        run.held_out for run in plan_runs(SiliconSamplingRecipe(test_fraction=0))
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"crystal_temperatures_K": (300.0, -1.0)}, "crystal_temperatures_K"),
        ({"timestep_fs": 0.0}, "timestep_fs"),
        ({"frames_per_run": 0}, "frames_per_run"),
        ({"max_strain": 0.5}, "max_strain"),
        ({"strain_kinds": ("twist",)}, "strain_kinds"),
        ({"vacancy_counts": (3,)}, "vacancy_counts"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"liquid_runs": 1}, "liquid_runs"),
        (
            {c + "_temperatures_K": () for c in CONFIGS},
            "nothing to sample",
        ),
    ],
)
def test_recipe_rejects_bad_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **changes)


def test_test_path_without_test_runs_is_an_error(tmp_path: Path) -> None:
    recipe = dataclasses.replace(TINY, test_fraction=0.0)
    with pytest.raises(ValueError, match="test_fraction is 0"):
        generate_silicon_dataset(recipe, tmp_path / "a.xyz", test_path=tmp_path / "b")


def test_cli_writes_files_and_reports_bad_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--supercell", "1", "--vacancy-counts", "1", "--frames-per-run", "1"]
    arguments += ["--equilibration", "2", "--interval", "2", "--melt-steps", "2"]
    arguments += ["--crystal-runs", "2", "--strained-runs", "2", "--vacancy-runs", "2"]
    arguments += ["--crystal-temperatures", "300", "--strained-temperatures"]
    arguments += ["--liquid-runs", "2", "--test-fraction", "0.5", "--quiet"]
    output, test_output = tmp_path / "train.xyz", tmp_path / "test.xyz"
    paths = ["--output", str(output), "--test-output", str(test_output)]
    assert main([*arguments, *paths]) == 0
    configs = [frame.info["config"] for frame in read_frames(output)]
    assert configs == ["crystal", "vacancy", "vacancy", "liquid", "liquid"]
    assert len(read_frames(test_output)) == 5
    with pytest.raises(SystemExit):
        main(["--timestep", "-1", "--output", str(output)])
    assert "timestep_fs must be > 0" in capsys.readouterr().err
