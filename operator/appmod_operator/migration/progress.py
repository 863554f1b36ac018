"""Progress on a terminal: one line per table, rewritten in place (rows, percent, rate). Quiet when
the stream is not a terminal, so logs and pipes get only the final summary.

Called by cli.py, which hands `update` to run.migrate as its progress callback.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO


class TerminalProgress:
    def __init__(self, stream: TextIO, interval: float = 0.2):
        self.stream, self.interval = stream, interval
        self.enabled = stream.isatty()
        self._lock = threading.Lock()
        self._tables: dict[str, list] = {}  # name -> [done, total, started]
        self._last_draw = 0.0

    def update(self, table: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            state = self._tables.setdefault(table, [0, total, time.monotonic()])
            state[0] = done
            now = time.monotonic()
            if now - self._last_draw >= self.interval or done >= total:
                self._last_draw = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        parts = []
        for name, (done, total, started) in self._tables.items():
            rate = done / max(now - started, 1e-6)
            percent = 100 * done / total if total else 100
            parts.append(f"{name} {done:,}/{total:,} ({percent:.0f}%, {rate:,.0f} rows/s)")
        self.stream.write("\r\033[K" + "  ".join(parts[-3:]))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._tables:
            self.stream.write("\n")
            self.stream.flush()
