"""The shared gradient loop: outputs, bit-for-bit restart, and accuracy on real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pointchem import load_potential
from pointchem.training import loop
from pointchem.training.config import TrainConfig
from pointchem.training.metrics import predict

from .conftest import DATA

ETHANOL = str(DATA / "ethanol_reduced_100.xyz")


def _config(**training: object) -> TrainConfig:
    return TrainConfig.from_dict(
        {
            "architecture": "gm",
            "model": {"cutoff": 4.0, "n_basis": 4, "n_radial": 2, "hidden_sizes": [8]},
            "training": {
                "epochs": 4,
                "batch_size": 4,
                "dtype": "float64",
                "warmup_epochs": 1,
                "checkpoint_interval": 2,
                **training,
            },
            "data": {
                "train": [ETHANOL],
                "energy_unit": "kcal/mol",
                "validation_fraction": 0.8,
                "test_fraction": 0.1,
            },
        }
    )


def test_outputs_of_a_short_run(tmp_path: Path) -> None:
    metrics = loop.train(_config(epochs=2), tmp_path, progress=False)
    for name in (
        "potential.pt",
        "config.yaml",
        "metrics.json",
        "log.csv",
        "learning_curve.png",
        "parity_test.png",
        "checkpoint.pt",
    ):
        assert (tmp_path / name).exists(), name
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test"]["forces_mae"] == pytest.approx(metrics["test"]["forces_mae"])
    assert written["test"]["n_structures"] == 10
    model = load_potential(tmp_path / "potential.pt")
    assert model.atomic_numbers == (1, 6, 8)
    assert float(model.composition_energies.abs().max()) > 0


class _Interrupt(Exception):
    pass


def test_restart_resumes_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop.train(_config(), tmp_path / "straight", progress=False)

    original = loop._train_epoch

    def interrupted(*args: object) -> dict[str, float]:
        if args[3] == 3:  # epoch index 3: after the checkpoint written at epoch 2
            raise _Interrupt
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "_train_epoch", interrupted)
    with pytest.raises(_Interrupt):
        loop.train(_config(), tmp_path / "resumed", progress=False)
    monkeypatch.setattr(loop, "_train_epoch", original)
    loop.train(_config(), tmp_path / "resumed", restart=True, progress=False)

    straight = load_potential(tmp_path / "straight" / "potential.pt").state_dict()
    resumed = load_potential(tmp_path / "resumed" / "potential.pt").state_dict()
    for name, tensor in straight.items():
        assert torch.equal(tensor, resumed[name]), name


def test_restart_without_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        loop.train(_config(), tmp_path, restart=True, progress=False)


@pytest.mark.slow
def test_ethanol_rmd17_reaches_30_percent_of_force_std(tmp_path: Path) -> None:
    """rMD17 ethanol: test force MAE below 30 % of the test force std.

    Energies in kcal/mol are converted on read; 80 frames for training (72 fit +
    8 validation) and 20 held out.
    """
    config = TrainConfig.from_dict(
        {
            "architecture": "gm",
            "model": {
                "cutoff": 5.0,
                "n_basis": 16,
                "n_radial": 5,
                "hidden_sizes": [64, 64],
            },
            "training": {
                "epochs": 150,
                "batch_size": 4,
                "dtype": "float32",
                "learning_rate": 3e-3,
                "warmup_epochs": 5,
                "seed": 0,
            },
            "data": {
                "train": [ETHANOL],
                "energy_unit": "kcal/mol",
                "validation_fraction": 0.08,
                "test_fraction": 0.2,
                "split_seed": 0,
            },
        }
    )
    metrics = loop.train(config, tmp_path, progress=False)["test"]
    assert metrics["n_structures"] == 20
    assert metrics["forces_mae"] < 0.3 * metrics["forces_std"], metrics


def test_baseline_refit_removes_composition_offsets_and_keeps_forces() -> None:
    config = _config()
    splits = loop.load_splits(config)
    model = loop.build_model(config, splits.train)
    loop.fit_composition_baseline(model, splits.train)
    samples = splits.train[:12]
    before = predict(model, samples)
    with torch.no_grad():
        offsets = torch.tensor([0.3, -0.2, 0.05], dtype=torch.float64)
        model.composition_energies += offsets
    loop.refit_composition_baseline(model, samples, batch_size=4)
    after = predict(model, samples)
    reference = np.array([s.energy for s in samples])
    assert abs(np.mean(reference - after.energy)) < 1e-9
    expected = before.energy + np.mean(reference - before.energy)
    np.testing.assert_allclose(after.energy, expected, rtol=0, atol=1e-9)
    for forces_before, forces_after in zip(before.forces, after.forces, strict=True):
        np.testing.assert_array_equal(forces_before, forces_after)
