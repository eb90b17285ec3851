"""Why no trade is being taken, said once at INFO each time the reason changes.

Scanning re-decides every poll; a trader reading the console wants to hear "no entry: bid-ask gap ..."
when that becomes the reason, not every minute while it stays so. Numbers inside a reason change from
poll to poll, so two reasons that differ only in their numbers count as the same reason.
"""

from __future__ import annotations

import re

from loguru import logger

_NUMBER = re.compile(r"[-+]?\d[\d.:,]*")


class Declines:
    def __init__(self) -> None:
        self._last: str | None = None

    def note(self, why: str) -> None:
        shape = _NUMBER.sub("#", why)
        if shape != self._last:
            logger.info(f"no entry: {why}")
            self._last = shape
        else:
            logger.debug(f"no entry: {why}")

    def clear(self) -> None:
        """An entry was signalled: the next decline is news again."""
        self._last = None
