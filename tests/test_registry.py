"""The explicit architecture registry."""

from __future__ import annotations

import pytest

from pointchem.registry import ARCHITECTURES, get_architecture


def test_every_entry_is_consistent() -> None:
    for name, architecture in ARCHITECTURES.items():
        assert architecture.name == name
        assert hasattr(architecture.hypers, "from_dict")


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ValueError, match=r"unknown architecture 'pett'.*known: gm"):
        get_architecture("pett")
    with pytest.raises(ValueError, match="Did you mean 'gm'"):
        get_architecture("gmm")
