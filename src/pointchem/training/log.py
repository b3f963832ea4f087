"""Training log: a CSV row per epoch, a progress line, and the learning-curve PNG."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from .._progress import ProgressLine

__all__ = ["TrainingLog"]


class TrainingLog:
    """Records one row of numbers per epoch.

    Args:
        path: CSV file, rewritten after every epoch (so it is complete at any stop).
        epochs: planned number of epochs (for the progress line).
        progress: show a progress line on stderr with the running loss and the
            validation MAEs.
    """

    def __init__(self, path: Path, epochs: int, progress: bool = True):
        self.path = path
        self.rows: list[dict[str, float]] = []
        self._start = time.perf_counter()
        self._elapsed_before = 0.0
        self._progress = ProgressLine(epochs, "training", enabled=progress)

    @property
    def elapsed_s(self) -> float:
        """Wall time spent training, including time before a restart, in s."""
        return self._elapsed_before + time.perf_counter() - self._start

    def resume(self, epoch: int) -> None:
        """Keep the rows of an earlier run up to ``epoch`` (restart)."""
        if self.path.exists():
            with self.path.open() as handle:
                rows = [
                    {k: float(v) for k, v in r.items() if v != ""}
                    for r in csv.DictReader(handle)
                ]
            self.rows = [row for row in rows if row["epoch"] <= epoch]
            if self.rows:
                self._elapsed_before = self.rows[-1].get("wall_time_s", 0.0)
        self._progress.resume_at(epoch)

    def record(self, epoch: int, values: dict[str, float]) -> None:
        """Add the row of ``epoch``, rewrite the CSV and update the progress line."""
        row = {"epoch": float(epoch), "wall_time_s": self.elapsed_s, **values}
        self.rows.append(row)
        columns = list(dict.fromkeys(key for r in self.rows for key in r))
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        self._progress.status = self._status(row)
        self._progress.advance()

    def _status(self, row: dict[str, float]) -> str:
        parts = [f"loss {row.get('train_loss', float('nan')):.4g}"]
        validated = [
            r
            for r in self.rows
            if "validation_forces_mae" in r or "validation_energy_per_atom_mae" in r
        ]
        if validated:
            last = validated[-1]
            energy = last.get("validation_energy_per_atom_mae", float("nan"))
            parts.append(f"val E {energy:.3g} meV/atom")
            if "validation_forces_mae" in last:
                parts.append(f"F {last['validation_forces_mae']:.3g} meV/Å")
        return ", ".join(parts)

    def close(self) -> None:
        """End the progress line."""
        self._progress.close()

    def plot(self, path: Path) -> None:
        """Save training loss and validation MAEs against epoch (log scale) as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        epochs = [r["epoch"] for r in self.rows]
        left.semilogy(epochs, [r.get("train_loss", float("nan")) for r in self.rows])
        left.set_xlabel("epoch")
        left.set_ylabel("training loss")
        for key, label in (
            ("validation_energy_per_atom_mae", "energy (meV/atom)"),
            ("validation_forces_mae", "forces (meV/Å)"),
        ):
            points = [(r["epoch"], r[key]) for r in self.rows if key in r]
            if points:
                right.semilogy(*zip(*points, strict=True), label=label)
        right.set_xlabel("epoch")
        right.set_ylabel("validation MAE")
        right.legend()
        figure.tight_layout()
        figure.savefig(path, dpi=120)
        plt.close(figure)
