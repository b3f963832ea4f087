"""Every example script runs in smoke mode (POINTCHEM_SMOKE=1) and saves a plot.

Each smoke run takes seconds to about a minute on one core, so they run by default
(CI runs them all); the full runs are documented in ``examples/md/README.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE_DIRECTORY = Path(__file__).resolve().parents[1] / "examples" / "md"
EXAMPLES = sorted(EXAMPLE_DIRECTORY.glob("[0-9]*.py"))


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_is_documented(script: Path) -> None:
    readme = (EXAMPLE_DIRECTORY / "README.md").read_text(encoding="utf-8")
    assert script.name in readme, f"examples/md/README.md does not list {script.name}"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    environment = {**os.environ, "POINTCHEM_SMOKE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), "the example should print what it computed"
    assert list(tmp_path.glob("*.png")), "the example should save a plot"
