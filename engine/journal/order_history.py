"""What the day's journal knew of this engine's orders before a restart, which the broker cannot say.

The broker holds every order and fill, so reconciliation rests on it; but it knows nothing of the walk:
which price step an attempt was, when its chain of attempts began (the entry timeout runs from there), why
an exit was sent, and why a trade closed. The journal does. A restart reads it once, before it writes its
own header, and the header carries it (in its resume point), so replay re-drives a restart on exactly
what the run knew.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Attempt:
    client_order_id: str
    trade_no: int
    purpose: str
    step: int
    at: datetime
    why: str = ""


@dataclass(frozen=True)
class Resumed:
    """How to go on working an adopted order: its walk step, when its chain began, why it was sent."""

    step: int
    started_at: datetime
    why: str


@dataclass(frozen=True)
class OrderHistory:
    attempts: tuple[Attempt, ...] = ()
    closed: dict[int, str] = field(default_factory=dict)
    """Each trade's exit reason as its `closed` record gave it."""

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> OrderHistory:
        attempts = []
        closed: dict[int, str] = {}
        for r in records:
            if r.get("kind") == "order" and r.get("event") == "submit":
                attempts.append(Attempt(r["client_order_id"], int(r["trade_no"]), r["purpose"], int(r["step"]),
                                        datetime.fromisoformat(r["ts"]), r.get("why", "")))
            elif r.get("kind") == "closed":
                closed[int(r["trade_no"])] = r["exit_reason"]
        return cls(tuple(attempts), closed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempts": [[a.client_order_id, a.trade_no, a.purpose, a.step, a.at.isoformat(), a.why]
                         for a in self.attempts],
            "closed": {str(k): v for k, v in self.closed.items()},
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> OrderHistory:
        if not raw:
            return cls()
        attempts = tuple(Attempt(c, int(t), p, int(s), datetime.fromisoformat(at), w)
                         for c, t, p, s, at, w in raw.get("attempts", ()))
        return cls(attempts, {int(k): v for k, v in raw.get("closed", {}).items()})

    def resumed(self, client_order_id: str, trade_no: int, purpose: str) -> Resumed | None:
        """The adopted attempt's place in its walk. Its own submit record may be missing (a crash between the
        send and the record): then it is the step after the last attempt recorded for that trade and purpose."""
        chain = [a for a in self.attempts if (a.trade_no, a.purpose) == (trade_no, purpose)]
        at = next((i for i, a in enumerate(chain) if a.client_order_id == client_order_id), None)
        if at is None and not chain:
            return None
        step = chain[-1].step + 1 if at is None else chain[at].step
        i = len(chain) - 1 if at is None else at
        while i > 0 and chain[i - 1].step == chain[i].step - 1:
            i -= 1
        why = next((a.why for a in chain[i:] if a.why), "")
        return Resumed(step, chain[i].at, why)
