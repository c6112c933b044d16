"""Progress bars on stderr for long commands (ingest, transcribe, export)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


class BarLine:
    """A one-line progress bar on stderr: redrawn in place on a terminal, else a plain line
    every 5 s (a log stays readable); the final count is always written, once."""

    def __init__(self, label: str, stream=None, width: int = 28):
        # sys.stderr looked up now, not at import: it may have been replaced since (tests).
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.tty = self.stream.isatty()
        self.start, self.last_draw, self.last_final = time.monotonic(), 0.0, -1

    def draw(self, done: int, total: int, detail: Callable[[float], str]) -> None:
        """Draw `done` of `total`, `detail(elapsed_s)` after the bar, unless drawn too lately."""
        now = time.monotonic()
        final = done >= total
        if final and done == self.last_final:
            return
        if not final and now - self.last_draw < (0.1 if self.tty else 5.0):
            return
        self.last_draw = now
        if final:
            self.last_final = done
        elapsed = max(now - self.start, 1e-9)
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"{self.label} [{bar}] {detail(elapsed)}, {elapsed:.0f} s"
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


class FilesLine(BarLine):
    """`ingest calls [####------] 12/40 files, 96.0 s audio, 8.1x real time, 12 s`."""

    def __call__(self, done: int, total: int, seconds_audio: float = 0.0) -> None:
        self.draw(done, total, lambda elapsed: (
            f"{done}/{total} files, {seconds_audio:.1f} s audio, "
            f"{seconds_audio / elapsed:.1f}x real time"))  # fmt: skip


class RowsLine(BarLine):
    """`clips [#####-----] 650,000/1,300,000 rows, 120,000 rows/s, 5 s`."""

    def __call__(self, done: int, total: int) -> None:
        self.draw(
            done, total, lambda elapsed: f"{done:,}/{total:,} rows, {done / elapsed:,.0f} rows/s"
        )
