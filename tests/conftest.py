"""Shared fixtures: seeds, devices, and a guard that fails any test that prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ase
import numpy as np
import pytest
import torch

try:  # ase >= 3.29 deprecates MaxwellBoltzmannDistribution in favour of this name
    from ase.md.velocitydistribution import thermalize_momenta as _thermalize
except ImportError:  # older ase
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as _thermalize

DATA = Path(__file__).parent / "data"

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True)
def _seed_and_quiet(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    torch.manual_seed(0)
    yield
    captured = capsys.readouterr()
    if captured.out or captured.err:
        pytest.fail(f"test printed output:\n{captured.out}{captured.err}")


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def thermalize(atoms: ase.Atoms, temperature_k: float, seed: int) -> None:
    """Maxwell–Boltzmann momenta at ``temperature_k`` (seeded)."""
    _thermalize(atoms, temperature_K=temperature_k, rng=np.random.default_rng(seed))
