"""Progress reporting: one small reporter that ``verbose=0`` silences."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _format_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:4.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


class Reporter:
    """Print progress lines on a stream, at most every ``interval`` seconds.

    Parameters
    ----------
    verbose : int
        0 prints nothing; 1 prints phase starts and throttled progress lines;
        2 prints every progress call.
    stream : file-like, optional
        Where the lines go; standard error by default.
    interval : float
        Minimum seconds between two progress lines of one phase at
        ``verbose=1``.
    """

    def __init__(
        self, verbose: int = 1, stream: TextIO | None = None, interval: float = 2.0
    ):
        self.verbose = int(verbose)
        self.stream = stream
        self.interval = interval
        self._phase = ""
        self._phase_start = time.perf_counter()
        self._last_print = 0.0

    def _write(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        print(text, file=stream, flush=True)

    def phase(self, name: str, message: str = "") -> None:
        """Start a named phase and print its first line."""
        self._phase = name
        self._phase_start = time.perf_counter()
        self._last_print = 0.0
        if self.verbose > 0:
            self._write(f"[{name}] {message}".rstrip())

    def progress(self, step: int, total: int, **values: float) -> None:
        """Report ``step`` of ``total`` with named values, elapsed time and ETA."""
        if self.verbose <= 0:
            return
        now = time.perf_counter()
        last = step >= total
        if self.verbose == 1 and not last and now - self._last_print < self.interval:
            return
        self._last_print = now

        elapsed = now - self._phase_start
        eta = elapsed / step * (total - step) if step > 0 else 0.0
        shown = "  ".join(f"{key} {value:.5g}" for key, value in values.items())
        self._write(
            f"[{self._phase}] {step}/{total}  {shown}  "
            f"elapsed {_format_seconds(elapsed)}  eta {_format_seconds(eta)}"
        )

    def info(self, message: str) -> None:
        """Print a free-form line within the current phase."""
        if self.verbose > 0:
            self._write(f"[{self._phase}] {message}")
