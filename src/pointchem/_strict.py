"""Strict construction of frozen dataclasses from plain mappings (YAML, files)."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["strict_from_dict"]

T = TypeVar("T")


def strict_from_dict(cls: type[T], values: Mapping[str, Any], what: str) -> T:
    """Build the dataclass ``cls`` from ``values``, rejecting unknown keys.

    Lists become tuples (YAML and ``dataclasses.asdict`` round trips); missing keys
    take their defaults.

    Args:
        cls: a dataclass type.
        values: field name → value.
        what: how to name the section in error messages, e.g. "GM hyperparameter".

    Raises:
        ValueError: an unknown key, with a "did you mean" hint, or a value the
            dataclass's own validation rejects.
    """
    if not isinstance(values, Mapping):
        raise ValueError(
            f"{what}s must be a mapping of names to values, got {values!r}"
        )
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown {what} {key!r}{hint} (known: {', '.join(names)})"
            )
    converted = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in values.items()
    }
    return cls(**converted)
