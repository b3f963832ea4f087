"""Training configs: strict keys with suggestions, overrides, path resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from pointchem.training.config import TrainConfig, load_config

from .conftest import DATA

MINIMAL = {
    "architecture": "gm",
    "data": {
        "train": [str(DATA / "ethanol_reduced_100.xyz")],
        "energy_unit": "kcal/mol",
    },
}


def test_defaults_are_filled_in() -> None:
    config = TrainConfig.from_dict(MINIMAL)
    resolved = config.to_dict()
    assert resolved["model"]["n_radial"] == 5
    assert resolved["training"]["batch_size"] == config.training.batch_size
    assert resolved["data"]["energy_unit"] == "kcal/mol"


@pytest.mark.parametrize(
    ("section", "key", "suggestion"),
    [
        ("training", "learning_rte", "learning_rate"),
        ("model", "n_radials", "n_radial"),
        ("data", "energy_units", "energy_unit"),
    ],
)
def test_unknown_keys_are_rejected_with_a_suggestion(
    section: str, key: str, suggestion: str
) -> None:
    values = {**MINIMAL, section: {**MINIMAL.get(section, {}), key: 1}}  # type: ignore[dict-item]
    with pytest.raises(
        ValueError, match=f"unknown .*'{key}'; did you mean '{suggestion}'"
    ):
        TrainConfig.from_dict(values)


def test_unknown_section_and_architecture() -> None:
    with pytest.raises(
        ValueError, match="unknown config section 'trainig'; did you mean 'training'"
    ):
        TrainConfig.from_dict({**MINIMAL, "trainig": {}})
    with pytest.raises(ValueError, match="Did you mean 'gm'"):
        TrainConfig.from_dict({**MINIMAL, "architecture": "gmm"})


def test_invalid_values_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"training\.batch_size must be ≥ 1, got 0"):
        TrainConfig.from_dict({**MINIMAL, "training": {"batch_size": 0}})


def test_overrides_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "data.xyz").write_bytes((DATA / "ethanol_reduced_100.xyz").read_bytes())
    path = tmp_path / "config.yaml"
    path.write_text(
        "architecture: gm\ndata:\n  train: data.xyz\n  energy_unit: kcal/mol\n"
    )
    config = load_config(path, ["training.epochs=7", "model.hidden_sizes=[8, 8]"])
    assert config.training.epochs == 7
    assert config.model.hidden_sizes == (8, 8)
    assert config.data.train == (str(tmp_path / "data.xyz"),)
