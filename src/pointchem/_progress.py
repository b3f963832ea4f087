"""A minimal progress line on stderr, for long work (data generation, training).

tqdm is not a dependency; this counter does the one thing we need. On a
terminal it rewrites one line in place; when stderr is redirected to a file it
writes a plain line at most every ``file_interval_s`` seconds, so logs stay short.
It writes nothing at all when disabled, which is how tests and library callers
that want silence use it.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["ProgressLine"]


class ProgressLine:
    """Counts finished work units and shows ``label done/total pct elapsed eta``.

    Args:
        total: Number of work units expected (for example MD steps plus single
            points). Must be positive.
        label: Short text shown before the counter.
        enabled: When False, nothing is ever written.
        stream: Where to write; ``sys.stderr`` when None.
        file_interval_s: Minimum time between lines when ``stream`` is not a
            terminal, in s.
    """

    def __init__(
        self,
        total: int,
        label: str,
        enabled: bool = True,
        stream: TextIO | None = None,
        file_interval_s: float = 30.0,
    ) -> None:
        if total <= 0:
            raise ValueError(f"total must be positive, got {total}")
        self.total = total
        self.label = label
        self.done = 0
        self._enabled = enabled
        self._stream = sys.stderr if stream is None else stream
        self._is_terminal = self._stream.isatty()
        self._min_interval_s = 0.2 if self._is_terminal else file_interval_s
        self._start_s = time.perf_counter()
        self._last_write_s = -float("inf")
        self._written_done = -1
        self._done_before = 0
        self.status = ""
        """Free text appended to the line (running loss, validation errors)."""

    def resume_at(self, done: int) -> None:
        """Start counting at ``done`` units finished earlier (a restarted run)."""
        self.done = self._done_before = min(self.total, done)

    def advance(self, count: int = 1) -> None:
        """Record ``count`` more finished units and redraw if it is time to."""
        self.done = min(self.total, self.done + count)
        now_s = time.perf_counter()
        if (
            self.done == self.total
            or now_s - self._last_write_s >= self._min_interval_s
        ):
            self._write(now_s)

    def close(self) -> None:
        """Draw the final state (unless already drawn) and end the line."""
        if self._written_done != self.done:
            self._write(time.perf_counter())
        if self._enabled and self._is_terminal:
            self._stream.write("\n")
            self._stream.flush()

    def _write(self, now_s: float) -> None:
        if not self._enabled:
            return
        self._last_write_s = now_s
        self._written_done = self.done
        elapsed_s = now_s - self._start_s
        fraction = self.done / self.total
        done_here = self.done - self._done_before
        rate = done_here / elapsed_s if done_here and elapsed_s > 0 else 0.0
        remaining_s = (self.total - self.done) / rate if rate else 0.0
        text = (
            f"{self.label} {self.done}/{self.total} {100.0 * fraction:5.1f}% "
            f"{elapsed_s:7.1f} s elapsed, ~{remaining_s:7.1f} s left"
        )
        if self.status:
            text = f"{text} | {self.status}"
        self._stream.write(f"\r{text}" if self._is_terminal else f"{text}\n")
        self._stream.flush()

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
