"""Deterministic client order ids: the same intent (day, trade, entry/exit, attempt) always gets the same id.

That is what lets a retry or a restart ask the broker "did this order already arrive?" instead of
sending it twice.
"""

from __future__ import annotations

import re
from datetime import date, datetime

KIND_CODES = {"entry": "o", "exit": "c"}


_CODE_KINDS = {v: k for k, v in KIND_CODES.items()}
_ID = re.compile(r"^(?P<prefix>[A-Za-z0-9]+)-(?P<day>\d{8})-(?P<trade>\d{2,})(?P<kind>[oc])-(?P<attempt>\d{2,})$")


def parse_client_order_id(prefix: str, client_order_id: str) -> tuple[date, int, str, int] | None:
    """(day, trade number, kind, attempt) of one of our ids; None for an id this engine did not make."""
    m = _ID.match(client_order_id)
    if m is None or m["prefix"] != prefix:
        return None
    return datetime.strptime(m["day"], "%Y%m%d").date(), int(m["trade"]), _CODE_KINDS[m["kind"]], int(m["attempt"])


class DeterministicIds:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def client_order_id(self, day: date, trade_no: int, kind: str, attempt: int) -> str:
        return f"{self.prefix}-{day:%Y%m%d}-{trade_no:02d}{KIND_CODES[kind]}-{attempt:02d}"
