"""Strict construction of frozen dataclasses from plain mappings (YAML, files)."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["check_known_keys", "strict_from_dict"]

T = TypeVar("T")


def check_known_keys(values: Mapping[str, Any], names: list[str], what: str) -> None:
    """Raise a ValueError naming the first key of ``values`` that is not in ``names``.

    The message suggests the closest known name (difflib) and lists all of them.
    """
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown {what} {key!r}{hint} (known: {', '.join(names)})"
            )


def strict_from_dict(cls: type[T], values: Mapping[str, Any], what: str) -> T:
    """Build the dataclass ``cls`` from ``values``, rejecting unknown keys.

    Lists become tuples (YAML and ``dataclasses.asdict`` round trips); missing keys
    take their defaults.

    Args:
        cls: a dataclass type.
        values: field name → value.
        what: how to name an entry in error messages, e.g. "GM hyperparameter".

    Raises:
        ValueError: an unknown key, with a "did you mean" hint, or a value the
            dataclass's own validation rejects.
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"{what}s must be a mapping of names to values: {values!r}")
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    check_known_keys(values, names, what)
    converted = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in values.items()
    }
    return cls(**converted)
