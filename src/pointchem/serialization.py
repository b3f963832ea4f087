"""Potential files: a plain dictionary of data, never code.

A file is written by :func:`torch.save` and read with ``weights_only=True``, so loading
cannot execute anything stored in it. Its keys:

- ``format`` (``"pointchem-potential"``) and ``format_version`` (int)
- ``architecture`` (registry name), ``hypers`` (plain dict), ``atomic_numbers`` (list)
- ``dtype`` (``"float32"`` or ``"float64"``), ``state_dict`` (tensors only)
- ``symmetrization`` (version 2): None, or how the model is made exactly
  rotation-invariant when loaded (PET's ECSE: ``method``, frame settings and the fixed
  extra rotation, see :class:`pointchem.models.pet.symmetrized.Symmetrization`)
- ``metadata``: versions, creation time (UTC, ISO 8601), units, and, when the potential
  was trained, the training config and a SHA-256 of the training data.

Older format versions are brought up to date by a chain of pure functions, one per
step (version 1 → 2 adds ``symmetrization: None``).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pickle
from collections.abc import Callable
from typing import Any

import torch

from . import __version__
from .models.base import EnergyModel
from .registry import architecture_of, get_architecture, unwrap_symmetrized

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "PotentialFileError",
    "load_potential",
    "read_potential_file",
    "save_potential",
]

FORMAT_NAME = "pointchem-potential"
FORMAT_VERSION = 2
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_REQUIRED_KEYS = (
    *("architecture", "hypers", "atomic_numbers", "dtype", "state_dict"),
    "symmetrization",
)


def _upgrade_v1_to_v2(content: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no symmetrization: its models are used as stored."""
    return {**content, "symmetrization": None, "format_version": 2}


# One pure function per format step, keyed by the version it upgrades from.
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _upgrade_v1_to_v2
}


class PotentialFileError(ValueError):
    """A potential file that cannot be used: unreadable, foreign, or too new."""


def save_potential(
    model: EnergyModel,
    path: str | os.PathLike[str],
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` to ``path`` as a potential file.

    Args:
        model: a model of a registered family, or its symmetrized wrapper (the file
            then stores the bare model and the symmetrization record).
        path: destination, conventionally ``*.pt``.
        metadata: extra plain-data entries (training config, data hash, ...) merged
            over the automatic ones (versions, date, units).
    """
    architecture = architecture_of(model)
    model, symmetrization = unwrap_symmetrized(model)
    dtype_name = {v: k for k, v in _DTYPES.items()}[model.dtype]
    content = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": architecture.name,
        "hypers": dataclasses.asdict(model.hypers),
        "atomic_numbers": list(model.atomic_numbers),
        "dtype": dtype_name,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "symmetrization": symmetrization,
        "metadata": {
            "pointchem_version": __version__,
            "torch_version": str(torch.__version__),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "units": {"energy": "eV", "length": "Å"},
            **(metadata or {}),
        },
    }
    torch.save(content, os.fspath(path))


def _torch_load(path: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as error:
        details = _weights_only_reason(error)
        if "Unsupported global" not in details:
            raise PotentialFileError(
                f"{path} could not be read as a potential file; it is corrupted or "
                f"truncated ({details})"
            ) from error
        raise PotentialFileError(
            f"{path} is not a pointchem potential: it holds Python objects other than "
            f"plain data, and loading it would execute code (refused). {details}"
        ) from error
    except Exception as error:  # torch raises many types for damaged files
        raise PotentialFileError(
            f"{path} could not be read as a potential file; it is corrupted or "
            f"truncated ({type(error).__name__}: {str(error).splitlines()[0]})"
        ) from error


def _weights_only_reason(error: Exception) -> str:
    """The one informative line of torch's long weights-only error message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            reason = line.split("WeightsUnpickler error:", 1)[1].strip()
            if not reason and index + 1 < len(lines):
                reason = lines[index + 1]
            return reason.split(". Please use")[0]
    return lines[0] if lines else type(error).__name__


def _upgrade(content: dict[str, Any], path: str) -> dict[str, Any]:
    version = content.get("format_version")
    if not isinstance(version, int):
        raise PotentialFileError(f"{path}: format_version is missing or not an integer")
    if version > FORMAT_VERSION:
        written_by = content.get("metadata", {}).get("pointchem_version", "unknown")
        raise PotentialFileError(
            f"{path} uses potential format version {version}, newer than this "
            f"pointchem {__version__} reads (up to {FORMAT_VERSION}); it was written "
            f"by pointchem {written_by}: upgrade pointchem"
        )
    while version < FORMAT_VERSION:
        content = _UPGRADES[version](content)
        version = content["format_version"]
    return content


def read_potential_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read, check and upgrade a potential file's dictionary without building a model.

    Raises:
        FileNotFoundError: no such file.
        PotentialFileError: corrupted, truncated, foreign or too new.
    """
    path = os.fspath(path)
    content = _torch_load(path)
    if not isinstance(content, dict) or content.get("format") != FORMAT_NAME:
        raise PotentialFileError(
            f"{path} is a torch file but not a pointchem potential "
            f"(expected format {FORMAT_NAME!r})"
        )
    content = _upgrade(content, path)
    missing = [key for key in _REQUIRED_KEYS if key not in content]
    if missing:
        raise PotentialFileError(f"{path} lacks the entries {missing}")
    if content["dtype"] not in _DTYPES:
        raise PotentialFileError(f"{path}: unknown dtype {content['dtype']!r}")
    return content


def load_potential(
    path: str | os.PathLike[str],
    device: torch.device | str = "cpu",
    symmetrize: bool = True,
) -> EnergyModel:
    """Build the model stored in a potential file, in eval mode and its stored dtype.

    Args:
        path: the ``.pt`` file.
        device: where to put the model.
        symmetrize: apply the symmetrization the file records (PET's ECSE), so the
            model is exactly rotation- and inversion-invariant. False returns the
            bare model: faster, but its energy depends slightly on orientation.

    Raises:
        FileNotFoundError: no such file.
        PotentialFileError: corrupted, truncated, foreign or too-new file, or an
            architecture or symmetrization this pointchem does not know.
    """
    content = read_potential_file(path)
    try:
        architecture = get_architecture(content["architecture"])
    except ValueError as error:
        raise PotentialFileError(f"{os.fspath(path)}: {error}") from error
    model = architecture.build(content["hypers"], content["atomic_numbers"])
    # Cast before loading: loading float64 tensors into float32 parameters would
    # round them.
    model = model.to(dtype=_DTYPES[content["dtype"]])
    model.load_state_dict(content["state_dict"], strict=True)
    record = content["symmetrization"]
    if symmetrize and record is not None:
        model = _symmetrized(architecture, model, record, os.fspath(path))
    return model.to(device=device).eval()


def _symmetrized(
    architecture: Any, model: EnergyModel, record: Any, path: str
) -> EnergyModel:
    if architecture.symmetrize is None or not isinstance(record, dict):
        raise PotentialFileError(
            f"{path}: a symmetrization record {record!r} for architecture "
            f"{architecture.name!r}, which has none"
        )
    try:
        symmetrized: EnergyModel = architecture.symmetrize(model, record)
    except ValueError as error:
        raise PotentialFileError(f"{path}: {error}") from error
    return symmetrized
