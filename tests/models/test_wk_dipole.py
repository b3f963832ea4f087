"""The λ = 1 dipole head of the Wigner-kernel model: symmetry, fit, files, calculator.

A dipole is a polar vector: μ(RA + t) = R μ(A) for a rotation R and translation t,
and μ(−A) = −μ(A) under inversion. The Cartesian ν = 1 kernel is compared with its
closed form written with scipy's Bessel function, the parity of the λ = 1 blocks with
the rule that σ = +1 is odd and σ = −1 even under inversion, and the fit with a
synthetic target made by a known dipole model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import ase
import ase.io
import numpy as np
import pytest
import scipy.special
import torch
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError

from pointchem import PointChemCalculator, atoms_to_graph, cli, evaluate, load_potential
from pointchem.graph import edge_vectors
from pointchem.models.wk import (
    WignerKernelModel,
    WKHypers,
    equivariant_kernels,
    nu1_kernel,
)
from pointchem.models.wk.dipole import to_cartesian, vector_kernels
from pointchem.models.wk.dipole_fit import dipole_rows, fit_dipole
from pointchem.models.wk.fit import fit_wigner_kernel
from pointchem.models.wk.sparse import graph_environments
from pointchem.serialization import save_potential
from pointchem.testing import random_rotation, rattled_copy
from pointchem.training import loop
from pointchem.training.config import DataSettings, TrainConfig
from pointchem.training.data import read_samples
from pointchem.training.metrics import dipole_metrics, predict_dipoles

from .test_wk_model import TINY, support_of
from .wk_helpers import EQUIVARIANCE, EXACT, SETTINGS, kernel, random_environment

DIPOLE = dataclasses.replace(TINY, dipole=True)
"""The tiny kernel of the WK model tests with a dipole head."""

EXTXYZ = 1e-7
"""e·Å: extxyz keeps positions to 8 decimals (in bohr here), so Σ q r agrees to this."""

RECOVERY = 1e-6
"""Relative error allowed when a noise-free target is refitted with σ_μ → 0."""


def ethanols(n: int, seed: int, amplitude: float = 0.15) -> list[ase.Atoms]:
    """``n`` rattled ethanol molecules (seeded)."""
    return [rattled_copy(molecule("CH3CH2OH"), amplitude, seed + k) for k in range(n)]


def dipole_model(hypers: WKHypers = DIPOLE, seed: int = 0) -> WignerKernelModel:
    """Support: every atom of one rattled ethanol; random energy and dipole weights."""
    model = WignerKernelModel(hypers, [1, 6, 8])
    support = support_of(ethanols(1, 500 + seed, 0.2), hypers.cutoff)
    generator = torch.Generator().manual_seed(seed)
    m = len(support)
    model.set_support(support, torch.randn(m, generator=generator, dtype=torch.float64))
    if hypers.dipole:
        weights = torch.randn(m, 3, generator=generator, dtype=torch.float64)
        model.set_dipole_weights(weights)
    return model


def dipole_of(model: WignerKernelModel, atoms: ase.Atoms) -> torch.Tensor:
    """The model's dipole of one structure, (3,) e·Å."""
    return model.dipole_moment(atoms_to_graph(atoms, model.cutoff, torch.float64))[0]


# ---------------------------------------------------------------- symmetry


@pytest.mark.parametrize("mode", ["reduced", "full"])
def test_dipole_rotates_with_the_molecule(mode: str, rng: np.random.Generator) -> None:
    model = dipole_model(dataclasses.replace(DIPOLE, mode=mode))
    atoms = ethanols(1, 7)[0]
    mu = dipole_of(model, atoms)
    assert float(mu.norm()) > 1e-2, "dipole too small for the test to have power"
    for _ in range(3):
        rotation = random_rotation(rng)
        moved = atoms.copy()
        moved.positions = atoms.positions @ rotation.T + rng.normal(size=3)
        expected = torch.as_tensor(rotation) @ mu
        error = (dipole_of(model, moved) - expected).abs().max()
        assert float(error) < EQUIVARIANCE


def test_dipole_is_odd_under_inversion_and_ignores_atom_order() -> None:
    model = dipole_model()
    atoms = ethanols(1, 8)[0]
    mu = dipole_of(model, atoms)
    inverted = atoms.copy()
    inverted.positions = -atoms.positions
    assert float((dipole_of(model, inverted) + mu).abs().max()) < EQUIVARIANCE
    order = np.random.default_rng(1).permutation(len(atoms))
    assert float((dipole_of(model, atoms[order]) - mu).abs().max()) < EQUIVARIANCE


def test_lambda_one_parity_labels() -> None:
    """σ = +1 blocks flip sign when A is inverted (polar), σ = −1 blocks do not."""
    atoms = ethanols(1, 9)[0]
    inverted = atoms.copy()
    inverted.positions = -atoms.positions
    original, flipped = (
        graph_environments(graph, edge_vectors(graph), TINY.cutoff)
        for graph in (
            atoms_to_graph(a, TINY.cutoff, torch.float64) for a in (atoms, inverted)
        )
    )
    pairs = torch.tensor([[0, 1], [3, 4], [2, 2]])  # C–C, H–H, O–O (ethanol: CCOH6)
    blocks = []
    for a in (original, flipped):
        k_1 = nu1_kernel(
            a.vectors,
            a.species,
            original.vectors,
            original.species,
            pairs,
            TINY.density(),
        )
        blocks.append(equivariant_kernels(k_1, 2, 2, "haar")[2].blocks)
    for sigma in (1, -1):
        before, after = blocks[0][(1, sigma)], blocks[1][(1, sigma)]
        assert float(before.abs().max()) > 1e-8, f"σ = {sigma} block vanishes"
        assert float((after + sigma * before).abs().max()) < EQUIVARIANCE


def test_cartesian_nu1_kernel_matches_its_closed_form() -> None:
    """K^(1)_cart = Σ_jj′ R_1(r, r′) (3/4π) r̂ r̂′ᵀ: Y_1 ∝ (y, z, x) mapped to x, y, z."""
    rng = np.random.default_rng(2)
    a, species_a = random_environment(rng, 4, [1, 1, 6, 8])
    b, species_b = random_environment(rng, 3, [1, 6, 6])
    blocks = [block[None] for block in kernel(a, species_a, b, species_b)]
    cartesian = vector_kernels(blocks, 1, 1, mode="full", normalisation="haar")[1, 0]
    expected = np.zeros((3, 3))
    for va, za in zip(a, species_a, strict=True):
        for vb, zb in zip(b, species_b, strict=True):
            if za == zb:
                expected += _radial_l1(va, vb) * np.outer(va, vb)
    assert np.abs(expected).max() > 1e-6
    np.testing.assert_allclose(cartesian.numpy(), expected, rtol=EXACT, atol=0.0)


def _radial_l1(va: np.ndarray, vb: np.ndarray) -> float:
    """R_1(r, r′) (3/4π) / (r r′) with ĩ_1 from scipy (density of SETTINGS)."""
    ra, rb = np.linalg.norm(va), np.linalg.norm(vb)
    width = [
        SETTINGS.width_scale * math.exp(r / SETTINGS.width_length) for r in (ra, rb)
    ]
    precision = 1.0 / (width[0] ** 2 + width[1] ** 2)
    x = precision * ra * rb
    bessel = scipy.special.spherical_in(1, x) * math.exp(-x)
    switch = 1.0
    for r in (ra, rb):
        s = min(
            max(
                (r - SETTINGS.cutoff + SETTINGS.cutoff_width) / SETTINGS.cutoff_width,
                0.0,
            ),
            1.0,
        )
        switch *= 0.5 * (1.0 + math.cos(math.pi * s))
    radial = (
        32.0
        * math.pi**3
        / 3.0
        * (precision / (2.0 * math.pi)) ** 1.5
        * math.exp(-0.5 * precision * (ra - rb) ** 2)
        * bessel
        * switch
    )
    return radial * 3.0 / (4.0 * math.pi) / (ra * rb)


def test_cartesian_blocks_rotate_on_both_sides(rng: np.random.Generator) -> None:
    """K(RA, B) = R K(A, B) and K(A, RB) = K(A, B) Rᵀ for every body order."""
    a, species_a = random_environment(rng, 4, [1, 1, 6, 8])
    b, species_b = random_environment(rng, 4, [1, 6, 6, 8])
    rotation = random_rotation(rng)
    settings = dict(mode="reduced", normalisation="haar")

    def blocks(x: np.ndarray, y: np.ndarray) -> torch.Tensor:
        k_1 = [block[None] for block in kernel(x, species_a, y, species_b)]
        return vector_kernels(k_1, 3, 2, **settings)[:, 0]  # type: ignore[arg-type]

    reference = blocks(a, b)
    r = torch.as_tensor(rotation)
    assert float(reference[1:].abs().amax(dim=(1, 2)).min()) > 1e-8
    assert float((blocks(a @ rotation.T, b) - r @ reference).abs().max()) < EQUIVARIANCE
    assert (
        float((blocks(a, b @ rotation.T) - reference @ r.T).abs().max()) < EQUIVARIANCE
    )
    assert bool((reference[0] == 0).all()), "ν = 0 has no λ = 1 part"


def test_to_cartesian_is_the_permutation_to_x_y_z() -> None:
    spherical = torch.arange(9.0).view(3, 3)  # rows/columns (y, z, x)
    cartesian = to_cartesian(spherical)
    assert cartesian[0, 0] == spherical[2, 2]  # xx
    assert cartesian[0, 1] == spherical[2, 0]  # xy
    assert cartesian[2, 1] == spherical[1, 0]  # zy


# ---------------------------------------------------------------- fit


def _references(model: WignerKernelModel, frames: list[ase.Atoms]):
    """(graphs, dipoles) of ``frames`` as predicted by ``model``."""
    graphs = [atoms_to_graph(a, model.cutoff, torch.float64) for a in frames]
    with torch.no_grad():
        dipoles = [model.dipole_moment(g)[0] for g in graphs]
    return graphs, dipoles


def test_fit_recovers_a_known_dipole_model() -> None:
    """Noise-free data from a dipole model on the same support: weights come back."""
    target = dipole_model()
    hypers = dataclasses.replace(
        DIPOLE, dipole_regulariser=1e-8, dipole_regulariser_factors=(1e4, 1.0)
    )
    start = WignerKernelModel(hypers, [1, 6, 8])
    start.set_support(target.support(), target.weights)
    train = _references(target, ethanols(15, 10))  # 45 rows, 27 unknowns
    validation = _references(target, ethanols(4, 90))
    fitted, report = fit_dipole(start, train, validation)
    scale = float(target.dipole_weights.abs().max())
    error = (fitted.dipole_weights - target.dipole_weights).abs().max()
    assert float(error) < RECOVERY * scale
    assert report["dipole_regulariser"] == pytest.approx(1e-8)  # the smaller σ_μ
    typical = float(torch.stack(validation[1]).abs().mean())
    assert report["validation_dipole_mae"] < RECOVERY * typical
    assert fitted.hypers.dipole_regulariser == pytest.approx(1e-8)


def test_dipole_rows_reproduce_the_model() -> None:
    target = dipole_model()
    graphs, dipoles = _references(target, ethanols(3, 20))
    rows = dipole_rows(target, graphs, dipoles)
    mixed = torch.tensordot(target.mixture(), rows.rows, dims=1)
    predicted = mixed @ target.dipole_weights.reshape(-1)
    scale = float(rows.targets.abs().max())
    assert float((predicted - rows.targets).abs().max()) < 1e-12 * scale


def test_energy_and_dipole_fit_together() -> None:
    """fit_wigner_kernel fits the dipole head on the support the energy fit chose."""
    target = dipole_model(seed=1)
    frames = ethanols(5, 40)
    train = []
    for atoms in frames:
        graph = atoms_to_graph(atoms, target.cutoff, torch.float64)
        prediction = evaluate(target, graph, forces=True)
        train.append((graph, float(prediction.energy[0]), prediction.forces))
    validation = train[:2]
    dipoles = _references(target, frames)[1]
    hypers = dataclasses.replace(DIPOLE, n_support=3, alpha_factors=(1.0,))
    start = WignerKernelModel(hypers, [1, 6, 8])
    with pytest.raises(ValueError, match="train_dipoles"):
        fit_wigner_kernel(start, train, validation, progress=False)
    fitted, report = fit_wigner_kernel(
        start,
        train,
        validation,
        progress=False,
        train_dipoles=dipoles,
        validation_dipoles=dipoles[:2],
    )
    assert fitted.n_support == 3 + 3 + 3
    assert fitted.dipole_weights.shape == (9, 3)
    assert {"validation_dipole_mae", "dipole_regulariser"} <= report.keys()
    reference = torch.stack(dipoles[:2])
    predicted = torch.cat([fitted.dipole_moment(g) for g, _, _ in validation])
    assert float((predicted - reference).abs().mean()) < float(reference.abs().mean())


# ---------------------------------------------------------------- files, calculator


def test_dipole_round_trips_through_files_and_the_calculator(tmp_path: Path) -> None:
    model = dipole_model()
    path = tmp_path / "wk-dipole.pt"
    save_potential(model, path)
    loaded = load_potential(path)
    assert isinstance(loaded, WignerKernelModel)
    assert torch.equal(loaded.dipole_weights, model.dipole_weights)
    atoms = ethanols(1, 61)[0]
    expected = dipole_of(model, atoms).numpy()
    atoms.calc = PointChemCalculator(path, device="cpu")
    assert "dipole" in atoms.calc.implemented_properties
    energy = atoms.get_potential_energy()
    dipole = atoms.get_dipole_moment()
    assert dipole.shape == (3,)
    assert dipole.dtype == np.float64
    np.testing.assert_array_equal(dipole, expected)
    assert atoms.calc.results["energy"] == energy  # kept, not recomputed away
    atoms.positions[0, 0] += 0.05
    assert not np.array_equal(atoms.get_dipole_moment(), expected)


def test_dipole_after_energy_does_not_recompute_the_energy() -> None:
    atoms = ethanols(1, 63)[0]
    calc = PointChemCalculator(dipole_model(), device="cpu")
    atoms.calc = calc
    calls = []
    calc.model.register_forward_hook(lambda *args: calls.append(1))
    energy = atoms.get_potential_energy()
    dipole = atoms.get_dipole_moment()
    atoms.get_forces()
    assert len(calls) == 1
    assert atoms.get_potential_energy() == energy
    np.testing.assert_array_equal(atoms.get_dipole_moment(), dipole)


def test_dipole_alone_takes_no_energy_or_forces() -> None:
    atoms = ethanols(1, 64)[0]
    calc = PointChemCalculator(dipole_model(), device="cpu")
    atoms.calc = calc
    calls = []
    calc.model.register_forward_hook(lambda *args: calls.append(1))
    dipole = atoms.get_dipole_moment()
    assert calls == []
    assert set(calc.results) == {"dipole"}
    forces = atoms.get_forces()  # the same structure: the dipole stays
    assert len(calls) == 1
    np.testing.assert_array_equal(calc.results["dipole"], dipole)
    np.testing.assert_array_equal(atoms.get_dipole_moment(), dipole)
    atoms.positions[1] += 0.03  # a new structure: both are recomputed
    assert not np.array_equal(atoms.get_forces(), forces)
    assert not np.array_equal(atoms.get_dipole_moment(), dipole)
    assert len(calls) == 2


def test_potential_without_dipole_does_not_claim_one(tmp_path: Path) -> None:
    model = dipole_model(hypers=TINY)
    assert "dipole_weights" not in model.state_dict()
    with pytest.raises(ValueError, match="no dipole head"):
        model.dipole_moment(atoms_to_graph(ethanols(1, 3)[0], 3.0, torch.float64))
    path = tmp_path / "wk.pt"
    save_potential(model, path)
    atoms = ethanols(1, 62)[0]
    atoms.calc = PointChemCalculator(path, device="cpu")
    assert "dipole" not in atoms.calc.implemented_properties
    assert "dipole" not in PointChemCalculator.implemented_properties
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_dipole_moment()
    assert "dipole" not in atoms.calc.results


def test_new_support_resets_the_dipole_head() -> None:
    model = dipole_model()
    model.set_support(model.support(), model.weights)
    assert model.dipole_weights.shape == (0, 3)
    assert bool((dipole_of(model, ethanols(1, 4)[0]) == 0).all())
    with pytest.raises(ValueError, match=r"\(M, 3\)"):
        model.set_dipole_weights(torch.zeros(2, 3, dtype=torch.float64))


def test_strict_dipole_hypers() -> None:
    with pytest.raises(ValueError, match="'dipol'; did you mean 'dipole'"):
        WKHypers.from_dict({"dipol": True})
    with pytest.raises(ValueError, match="l_max must be ≥ 1 with dipole"):
        WKHypers(dipole=True, l_max=0)
    with pytest.raises(ValueError, match="lambda_max must be ≥ 1 with dipole"):
        WKHypers(dipole=True, lambda_max=0)
    with pytest.raises(ValueError, match="dipole_regulariser must be > 0"):
        WKHypers(dipole_regulariser=0.0)
    with pytest.raises(ValueError, match="dipole must be true or false"):
        WKHypers(dipole="yes")  # type: ignore[arg-type]


# ---------------------------------------------------------------- data and training


def _charged_molecules() -> list[ase.Atoms]:
    """Three molecules with point charges (e) that sum to zero, dipole Σ q r (e·Å)."""
    molecules = []
    for name, charges in (
        ("H2O", [-0.8, 0.4, 0.4]),
        ("CO2", [0.5, -0.2, -0.3]),
        ("NH3", [-0.9, 0.3, 0.3, 0.3]),
    ):
        atoms = molecule(name)
        atoms.positions += 0.3  # off the origin: a neutral dipole ignores it
        atoms.set_initial_charges(charges)
        molecules.append(atoms)
    return molecules


def test_dipoles_convert_like_positions_on_read(tmp_path: Path) -> None:
    """Files in bohr and e·bohr read back as Å and e·Å: μ = Σ q r on both sides."""
    molecules = _charged_molecules()
    frames = []
    for atoms in molecules:
        in_bohr = ase.Atoms(atoms.numbers, atoms.positions / ase.units.Bohr)
        in_bohr.info["energy"] = 0.0
        dipole = atoms.get_initial_charges() @ atoms.positions  # e·Å
        in_bohr.info["dipole"] = dipole / ase.units.Bohr
        frames.append(in_bohr)
    path = tmp_path / "bohr.xyz"
    ase.io.write(path, frames)
    settings = DataSettings(train=(str(path),), dipole_key="dipole", length_unit="bohr")
    samples = read_samples([path], settings)
    for sample, atoms in zip(samples, molecules, strict=True):
        charges = atoms.get_initial_charges()
        assert sample.dipole is not None
        expected = charges @ atoms.positions  # e·Å, from the original molecule
        np.testing.assert_allclose(sample.dipole, expected, rtol=0, atol=EXTXYZ)
        from_read = charges @ sample.atoms.positions
        np.testing.assert_allclose(sample.dipole, from_read, rtol=0, atol=EXTXYZ)
        assert np.linalg.norm(sample.dipole) > 0.05


def _config(path: Path, dipole: bool, dipole_key: str | None) -> TrainConfig:
    model = {
        **{k: v for k, v in dataclasses.asdict(DIPOLE).items() if k != "mixture_alpha"},
        "dipole": dipole,
        "n_support": 4,
        "alpha_factors": [1.0],
        "regulariser_factors": [1.0],
        "dipole_regulariser_factors": [0.1, 1.0],
    }
    data = {"train": [str(path)], "validation_fraction": 0.25, "test_fraction": 0.25}
    if dipole_key is not None:
        data["dipole_key"] = dipole_key
    return TrainConfig.from_dict(
        {
            "architecture": "wk",
            "model": model,
            "training": {"dtype": "float64"},
            "data": data,
        }
    )


def _synthetic_file(path: Path) -> None:
    """12 ethanols labelled by a known WK model with a dipole head."""
    target = dipole_model(seed=2)
    frames = []
    for atoms in ethanols(12, 300):
        graph = atoms_to_graph(atoms, target.cutoff, torch.float64)
        prediction = evaluate(target, graph, forces=True)
        assert prediction.forces is not None
        labelled = atoms.copy()
        labelled.info["energy"] = float(prediction.energy[0])
        labelled.info["mu"] = target.dipole_moment(graph)[0].detach().numpy()
        labelled.arrays["forces"] = prediction.forces.detach().numpy()
        frames.append(labelled)
    ase.io.write(path, frames)


def test_pointchem_train_fits_and_scores_the_dipole(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "ethanol-dipole.xyz"
    _synthetic_file(data)
    # The plots take 80 % of the run and are tested with the other families.
    monkeypatch.setattr(loop, "parity_plot", lambda *args, **kwargs: None)
    monkeypatch.setattr(loop.TrainingLog, "plot", lambda *args, **kwargs: None)
    metrics = loop.train(_config(data, True, "mu"), tmp_path / "run", progress=False)
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["test"]["dipole_mae"] == pytest.approx(metrics["test"]["dipole_mae"])
    samples = read_samples([data], DataSettings(train=(str(data),), dipole_key="mu"))
    typical = float(np.mean([np.abs(s.dipole).mean() for s in samples]))  # type: ignore[arg-type]
    assert metrics["test"]["dipole_mae"] < 0.1 * typical
    model = load_potential(tmp_path / "run" / "potential.pt")
    assert isinstance(model, WignerKernelModel)
    assert model.predicts_dipole
    assert model.hypers.dipole_regulariser in (
        DIPOLE.dipole_regulariser * 0.1,
        DIPOLE.dipole_regulariser,
    )
    # `pointchem eval --dipole-key` scores the dipole head on a file
    potential = str(tmp_path / "run" / "potential.pt")
    assert cli.main(["eval", potential, str(data), "--dipole-key", "mu"]) == 0
    rows = [r.split() for r in capsys.readouterr().out.splitlines()]
    (dipole_row,) = [r for r in rows if r and r[0] == "dipole"]
    expected = dipole_metrics(samples, predict_dipoles(model, samples))
    assert float(dipole_row[1]) == pytest.approx(expected["dipole_mae"], abs=1e-3)
    (vector_row,) = [r for r in rows if r and r[0] == "dipole_vector"]
    assert dipole_row[-1] == vector_row[-1] == "e·Å"


def test_training_config_must_agree_on_dipoles(tmp_path: Path) -> None:
    data = tmp_path / "ethanol-dipole.xyz"
    ase.io.write(data, ethanols(1, 0))
    with pytest.raises(ValueError, match=r"set data\.dipole_key"):
        loop.load_splits(_config(data, True, None))
    with pytest.raises(ValueError, match="predicts no dipole"):
        loop.load_splits(_config(data, False, "mu"))
