"""The ``pointchem`` command line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import ase.io
import pytest

from pointchem import save_potential
from pointchem.cli import main

from .models.test_gm import tiny_model


def test_info_prints_the_model_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.pt"
    save_potential(tiny_model(), path, metadata={"training_data_sha256": "0f1e"})
    assert main(["info", str(path)]) == 0
    card = capsys.readouterr().out
    for expected in (
        "architecture:    gm",
        "elements:        H C O",
        "cutoff:          4.0 Å",
        "n_radial: 2",
        "training_data_sha256: 0f1e",
        "dtype:           float64",
    ):
        assert expected in card


def test_info_reports_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(b"\x00" * 100)
    assert main(["info", str(path)]) == 1
    assert "corrupted or truncated" in capsys.readouterr().err


def test_console_script_is_installed(tmp_path: Path) -> None:
    executable = shutil.which("pointchem")
    assert executable is not None, (
        "pip install the package to get the pointchem command"
    )
    result = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip()


def test_eval_prints_errors_and_writes_predictions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    potential = tmp_path / "model.pt"
    save_potential(tiny_model(), potential)
    data = Path(__file__).parent / "data" / "ethanol_reduced_100.xyz"
    output, plot = tmp_path / "predictions.xyz", tmp_path / "parity.png"
    arguments = [
        "eval",
        str(potential),
        str(data),
        "--energy-unit",
        "kcal/mol",
        "--output",
        str(output),
        "--plot",
        str(plot),
    ]
    assert main(arguments) == 0
    table = capsys.readouterr().out
    for row in ("energy_per_atom", "forces_H", "forces_O", "reference force std"):
        assert row in table
    frames = ase.io.read(output, index=":")
    assert len(frames) == 100
    assert "ref_energy" in frames[0].info
    assert plot.stat().st_size > 0
