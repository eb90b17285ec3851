"""Progress of long work (many sessions, journals or cells): a tqdm bar on a terminal; plain lines otherwise.

Plain lines come every 5% of the work (every item when there are at most 20), so a log file gets a
readable line each, not a bar's carriage returns. Nothing here reads a clock: progress is counted in items.
"""

from __future__ import annotations

import sys
from typing import IO, Any


class Progress:
    def __init__(self, total: int, unit: str, stream: IO[str] | None = None, bar: bool | None = None) -> None:
        self.total, self.unit, self.done = total, unit, 0
        self._stream = stream or sys.stderr
        self._every = 1 if total <= 20 else max(1, total // 20)
        self._bar: Any = None
        if bar if bar is not None else self._stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=f" {unit}", file=self._stream, dynamic_ncols=True, leave=True)

    def step(self, label: str = "") -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.update(1)
        elif self.done % self._every == 0 or self.done == self.total:
            pct = 100 * self.done / self.total if self.total else 100.0
            self._stream.write(f"{self.done}/{self.total} {self.unit} ({pct:.0f}%){'  ' + label if label else ''}\n")
            self._stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
