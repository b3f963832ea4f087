"""Potential files: round trips, stored versions, and every way a file can be bad."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from ase.build import molecule

from pointchem import (
    PointChemCalculator,
    PotentialFileError,
    load_potential,
    save_potential,
)
from pointchem.models.pet.symmetrized import SymmetrizedPET
from pointchem.serialization import FORMAT_VERSION, read_potential_file

from .conftest import DATA
from .models.test_gm import tiny_model
from .models.test_pet_ecse import tiny_symmetrized


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_is_exact(tmp_path: Path, dtype: torch.dtype) -> None:
    model = tiny_model().to(dtype)
    path = tmp_path / "model.pt"
    save_potential(model, path, metadata={"training_config": {"seed": 3}})
    loaded = load_potential(path)
    assert loaded.atomic_numbers == model.atomic_numbers
    assert loaded.hypers == model.hypers
    for (name, original), (_, restored) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert restored.dtype == original.dtype, name
        assert torch.equal(restored, original), name
    assert loaded.composition_energies.dtype == torch.float64
    assert not loaded.training


def test_file_is_plain_data_with_metadata(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_potential(tiny_model(), path, metadata={"training_data_sha256": "abc"})
    content = read_potential_file(path)
    assert content["format"] == "pointchem-potential"
    assert content["format_version"] == FORMAT_VERSION
    assert content["architecture"] == "gm"
    assert content["dtype"] == "float64"
    metadata = content["metadata"]
    assert metadata["units"] == {"energy": "eV", "length": "Å"}
    assert metadata["training_data_sha256"] == "abc"
    assert {"pointchem_version", "torch_version", "created"} <= set(metadata)


# Per-atom energies (eV) of molecule("CH3CH2OH") from each stored potential file;
# `python -m tests.data.make_potential_fixture` writes the current version's file and
# prints its energies (see there). Every stored version must keep giving them.
PINNED_ENERGIES = {
    "potential-v1-gm.pt": [
        -1029.823936000146,
        -1029.884167048227,
        -2039.8989402958014,
        -13.623593374032133,
        -13.562399125041443,
        -13.562399125041443,
        -13.561111617872795,
        -13.555572249403637,
        -13.555572249403637,
    ],
    "potential-v2-pet-ecse.pt": [
        -1035.2532477108066,
        -1035.2089810676748,
        -2046.2225646995412,
        -16.284530618759305,
        -17.43559125342586,
        -17.43559125342586,
        -16.72949624036844,
        -17.138168366712495,
        -17.138168366712495,
    ],
}


@pytest.mark.parametrize(
    "path", sorted(DATA.glob("potential-v*.pt")), ids=lambda p: p.name
)
def test_every_stored_format_version_loads(path: Path) -> None:
    model = load_potential(path)
    atoms = molecule("CH3CH2OH")
    atoms.calc = PointChemCalculator(model, device="cpu")
    energies = atoms.get_potential_energies()
    assert energies.tolist() == pytest.approx(PINNED_ENERGIES[path.name], abs=1e-10)


def test_stored_versions_exist() -> None:
    assert sorted(PINNED_ENERGIES) == sorted(p.name for p in DATA.glob("potential-v*"))
    assert isinstance(load_potential(DATA / "potential-v2-pet-ecse.pt"), SymmetrizedPET)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_potential(tiny_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PotentialFileError, match="corrupted or truncated"):
        load_potential(path)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"this is not a potential" * 10)
    with pytest.raises(PotentialFileError, match=r"corrupted or truncated|refused"):
        load_potential(path)


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("code ran while loading",))


def test_foreign_pickle_is_refused_without_running_code(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"format": "pointchem-potential", "payload": _Payload()}, path)
    with pytest.raises(PotentialFileError, match="would execute code"):
        load_potential(path)


def test_plain_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(PotentialFileError):
        load_potential(path)


def test_torch_file_that_is_not_a_potential(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(PotentialFileError, match="not a pointchem potential"):
        load_potential(path)


def _rewrite(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "model.pt"
    save_potential(tiny_model(), path)
    content = torch.load(path, weights_only=True)
    content.update(changes)
    torch.save(content, path)
    return path


def test_unknown_architecture(tmp_path: Path) -> None:
    path = _rewrite(tmp_path, architecture="gmm")
    with pytest.raises(
        PotentialFileError, match=r"unknown architecture 'gmm'.*Did you mean 'gm'"
    ):
        load_potential(path)


def test_newer_format_version(tmp_path: Path) -> None:
    path = _rewrite(tmp_path, format_version=FORMAT_VERSION + 1)
    with pytest.raises(
        PotentialFileError, match=r"newer than this pointchem.*upgrade pointchem"
    ):
        load_potential(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_potential(tmp_path / "nope.pt")


def test_symmetrization_records_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "gm.pt"
    save_potential(tiny_model(), path)
    content = torch.load(path, weights_only=True)
    content["symmetrization"] = {"method": "ecse-local", "frames": {}}
    torch.save(content, path)
    with pytest.raises(PotentialFileError, match="architecture 'gm', which has none"):
        load_potential(path)
    assert load_potential(path, symmetrize=False) is not None
    pet = tmp_path / "pet.pt"
    save_potential(tiny_symmetrized(), pet)
    content = torch.load(pet, weights_only=True)
    content["symmetrization"]["method"] = "global"
    torch.save(content, pet)
    with pytest.raises(PotentialFileError, match="unknown symmetrization method"):
        load_potential(pet)
