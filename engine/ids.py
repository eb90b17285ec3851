"""Deterministic client order ids: the same intent (day, trade, entry/exit, attempt) always gets the same id.

That is what lets a retry or a restart ask the broker "did this order already arrive?" instead of
sending it twice.
"""

from __future__ import annotations

from datetime import date

KIND_CODES = {"entry": "o", "exit": "c"}


class DeterministicIds:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def client_order_id(self, day: date, trade_no: int, kind: str, attempt: int) -> str:
        return f"{self.prefix}-{day:%Y%m%d}-{trade_no:02d}{KIND_CODES[kind]}-{attempt:02d}"

    def owns(self, client_order_id: str) -> bool:
        return client_order_id.startswith(self.prefix + "-")
