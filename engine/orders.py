"""Working one multi-leg limit order until it fills, walking its price from mid toward the natural price.

Each price step cancels the previous attempt (and confirms it is dead) before sending the next, with
a fresh deterministic client order id, so at most one attempt of a trade's entry or exit is ever live
and a restart can find every attempt by id. Exits close the whole condor as one order, never leg by
leg: a half-closed condor could leave a naked short leg.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from loguru import logger

from engine.combo import natural, net_mid, round_to_tick
from engine.config import OrdersConfig
from engine.errors import BrokerError, DataError, OrderRejected
from engine.models import Leg, Order, OrderRequest, OrderStatus
from engine.ports import Broker, IdGen, MarketData

if TYPE_CHECKING:
    from engine.journal.sink import AuditSink

OrderGate = Callable[[str, tuple[Leg, ...], int], list[str]]
"""Why an order of this kind, legs and size must not go out (empty: it may): engine.risk's order gate."""


class Progress(StrEnum):
    WORKING = "working"
    FILLED = "filled"
    DEAD = "dead"


class OrderKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class Attempt(StrEnum):
    """Where a Working's live attempt stands; the broker's order status (open or final) says the rest."""

    UNSENT = "unsent"
    """Not sent: its price could not be made yet, or it is about to go out."""
    IN_DOUBT = "in_doubt"
    """Sent without an answer: the broker may hold it, so its id is looked up before anything is sent again."""
    SENT = "sent"
    """The broker answered: `order` is what it holds, open or final."""
    CANCELLING = "cancelling"
    """A cancel was asked; `then` is what follows once the broker says the attempt is final."""
    OVER = "over"
    """Refused (by the risk gate or the broker), or never arrived when looked up: nothing is live."""


class Then(StrEnum):
    """What a cancel is asked for: walk one tick on, give the entry up, or stop (the caller cancels)."""

    WALK = "walk"
    GIVE_UP = "give_up"
    STOP = "stop"


ATTEMPT_MOVES: dict[Attempt, frozenset[Attempt]] = {
    Attempt.UNSENT: frozenset({Attempt.UNSENT, Attempt.IN_DOUBT, Attempt.SENT, Attempt.OVER}),
    Attempt.IN_DOUBT: frozenset({Attempt.IN_DOUBT, Attempt.SENT, Attempt.OVER}),
    Attempt.SENT: frozenset({Attempt.CANCELLING, Attempt.UNSENT}),
    Attempt.CANCELLING: frozenset({Attempt.CANCELLING, Attempt.SENT}),
    Attempt.OVER: frozenset(),
}
"""The attempt's table: any other move is a bug, and raises."""


@dataclass
class Working:
    """One trade's entry or exit being worked; `filled_qty` and `fill_cost` add up over attempts."""

    kind: OrderKind
    trade_no: int
    day: date
    legs: tuple[Leg, ...]
    qty: int
    urgent: bool
    started_at: datetime
    order: Order
    placed_at: datetime
    step: int = 0
    attempt: int = 0
    filled_qty: int = 0
    fill_cost: float = 0.0
    dead_reason: str = ""
    seen_qty: int = 0
    seen_cost: float = 0.0
    why: str = ""
    state: Attempt = Attempt.SENT
    then: Then | None = None

    def move(self, to: Attempt, then: Then | None = None) -> None:
        if to not in ATTEMPT_MOVES[self.state]:
            raise RuntimeError(f"order attempt {self.order.client_order_id}: no move from {self.state} to {to}")
        self.state, self.then = to, then

    @property
    def unanswered(self) -> bool:
        """Not answered yet (unsent or in doubt): the next poll sends or looks it up."""
        return self.state in (Attempt.UNSENT, Attempt.IN_DOUBT)

    @property
    def remaining(self) -> int:
        return self.qty - self.filled_qty

    @property
    def avg_price(self) -> float:
        return self.fill_cost / self.filled_qty if self.filled_qty else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "trade_no": self.trade_no,
            "client_order_id": self.order.client_order_id,
            "status": str(self.order.status),
            "limit_price": self.order.limit_price,
            "filled_qty": self.filled_qty,
            "qty": self.qty,
        }


def progress_of(w: Working) -> Progress:
    """Where a just-placed order stands, without asking the broker again."""
    if w.remaining == 0:
        return Progress.FILLED
    if w.unanswered or (w.state is not Attempt.OVER and w.order.status.is_open):
        return Progress.WORKING
    return Progress.FILLED if w.filled_qty else Progress.DEAD


class OrderManager:
    def __init__(
        self,
        broker: Broker,
        market_data: MarketData,
        ids: IdGen,
        cfg: OrdersConfig,
        audit: AuditSink,
        gate: OrderGate,
    ) -> None:
        """Every submit, fill, cancel and adoption is written to `audit` as it happens."""
        self._broker = broker
        self._gate = gate
        self._md = market_data
        self._ids = ids
        self.cfg = cfg
        self._audit = audit
        self._next_attempt_no: dict[tuple[date, int, str], int] = {}

    def restore(self, day: date, next_attempts: dict[tuple[int, str], int]) -> None:
        """After a restart: continue every (trade, kind) past the attempts the broker already has."""
        for (trade_no, kind), nxt in next_attempts.items():
            key = (day, trade_no, kind)
            self._next_attempt_no[key] = max(self._next_attempt_no.get(key, 0), nxt)

    def place(
        self,
        kind: OrderKind,
        trade_no: int,
        day: date,
        legs: tuple[Leg, ...],
        qty: int,
        now: datetime,
        hold: Callable[[Working], None] | None = None,
        urgent: bool = False,
        why: str = "",
    ) -> Working:
        """Start working an order: first at mid, or at the natural price when `urgent` (a forced flatten).
        `why` (an exit's reason) goes into every attempt's submit record, so a restart knows it.

        The Working is handed to `hold` before anything is sent, so the caller keeps it even when the send
        raises: a send that fails leaves it in doubt (Attempt.IN_DOUBT), and the next poll or cancel first
        asks the broker for that client order id, so the order is neither lost nor doubled.
        """
        kind = OrderKind(kind)
        attempt = self._next_attempt_no.get((day, trade_no, kind), 0)
        cid = self._ids.client_order_id(day, trade_no, kind.value, attempt)
        unsent = Order("", cid, OrderStatus.PENDING_NEW, legs, qty, 0, 0.0, None, now)
        w = Working(
            kind, trade_no, day, legs, qty, urgent, now, unsent, now, attempt=attempt, why=why, state=Attempt.UNSENT
        )
        if hold is not None:
            hold(w)
        self._send(w, now)
        return w

    def poll(self, w: Working, now: datetime) -> Progress:
        """Advance the order: record fills, walk the price when due, give up an entry after its timeout.

        A walk step or a give-up first cancels the live attempt and waits until the broker confirms it is
        final (Alpaca cancels asynchronously): never two attempts live, never a fill left uncounted.
        """
        if w.unanswered:
            if not (w.kind is OrderKind.ENTRY and self._timed_out(w, now)):
                return self._send(w, now)
            if not self._find(w, now):
                w.dead_reason = f"not filled within {self.cfg.entry_timeout_s:.0f}s (the last send never arrived)"
                return Progress.FILLED if w.filled_qty else Progress.DEAD
        order = self._refresh(w, now)
        if w.remaining == 0:
            return Progress.FILLED
        if order.status.is_open:
            if w.state is not Attempt.CANCELLING:
                walk_due = (now - w.placed_at).total_seconds() >= self.cfg.walk_interval_s
                entry = w.kind is OrderKind.ENTRY
                if entry and self._timed_out(w, now):
                    self._request_cancel(w, Then.GIVE_UP, f"not filled within {self.cfg.entry_timeout_s:.0f}s", now)
                elif walk_due and not (entry and w.step >= self.cfg.max_walk_ticks):
                    self._request_cancel(w, Then.WALK, "walk", now)
            if w.order.status.is_open:
                return Progress.WORKING
        return self._after_final(w, now)

    def make_urgent(self, w: Working) -> None:
        """A halt that must flatten takes over an exit being walked: its next attempt, due at once, goes at
        the natural price instead of one more tick from mid."""
        w.urgent = True
        w.step = -1
        w.placed_at = datetime.min.replace(tzinfo=w.placed_at.tzinfo)

    def _timed_out(self, w: Working, now: datetime) -> bool:
        return (now - w.started_at).total_seconds() >= self.cfg.entry_timeout_s

    def _after_final(self, w: Working, now: datetime) -> Progress:
        """The live attempt is over (filled, cancelled, expired or rejected): decide what comes next."""
        if w.remaining == 0:
            return Progress.FILLED
        plan = w.then
        if w.state is Attempt.CANCELLING:
            w.move(Attempt.SENT)
        status = w.order.status
        if w.state is Attempt.SENT and (
            plan is Then.WALK or (w.kind is OrderKind.EXIT and status is not OrderStatus.REJECTED)
        ):
            return self._next_attempt(w, now)
        if plan is not Then.GIVE_UP:
            w.dead_reason = f"order {w.order.client_order_id} {status}"
        return Progress.FILLED if w.filled_qty else Progress.DEAD

    def cancel(self, w: Working, why: str, now: datetime) -> bool:
        """Cancel the live attempt; True once it is final (fills read back), False while the cancel is pending.
        An attempt in doubt is looked up first: if the broker has it, it is cancelled like any other."""
        if w.state is Attempt.OVER or (w.unanswered and not self._find(w, now)):
            return True
        if self._refresh(w, now).status.is_open:
            self._request_cancel(w, Then.STOP, why, now)
        return not w.order.status.is_open

    def _find(self, w: Working, now: datetime) -> bool:
        """Resolve an attempt in doubt: True (and adopted) if the broker has it, False if it never arrived."""
        cid = w.order.client_order_id
        found = self._broker.order_by_client_id(cid)
        if found is None:
            w.move(Attempt.OVER)
            return False
        w.move(Attempt.SENT)
        self._check_same(found, w.legs, cid)
        self._next_attempt_no[(w.day, w.trade_no, w.kind)] = w.attempt + 1
        self._event(now, "adopt", {"client_order_id": cid, "order_id": found.id, "status": found.status})
        self._absorb(w, found, now)
        return True

    def _request_cancel(self, w: Working, then: Then, why: str, now: datetime) -> None:
        """Ask for the cancel; only once the broker took the request is the order waiting on it. A cancel that
        failed (raised) leaves the Working as it was, so the next poll asks again."""
        with contextlib.suppress(OrderRejected):
            self._broker.cancel_order(w.order.id)
        w.move(Attempt.CANCELLING, then)
        if then is Then.GIVE_UP:
            w.dead_reason = why
        self._refresh(w, now)
        self._event(now, "cancel", {"client_order_id": w.order.client_order_id, "why": why, "status": w.order.status})

    def _next_attempt(self, w: Working, now: datetime) -> Progress:
        """Send the next attempt, one tick more aggressive, under the next client order id."""
        w.step += 1
        w.attempt = self._next_attempt_no.get((w.day, w.trade_no, w.kind), w.attempt + 1)
        cid = self._ids.client_order_id(w.day, w.trade_no, w.kind.value, w.attempt)
        w.order = Order("", cid, OrderStatus.PENDING_NEW, w.legs, w.remaining, 0, 0.0, None, now)
        w.move(Attempt.UNSENT)
        return self._send(w, now)

    def _send(self, w: Working, now: datetime) -> Progress:
        """Send the attempt `w.attempt` at `w.step`. On a transient failure it stays in doubt (WORKING); a
        rejection ends it (DEAD, or FILLED for what already filled); any other failure (a malformed answer,
        say) is raised with the attempt still in doubt, so whoever handles it can look it up and cancel it."""
        try:
            order = self._submit(w, now)
        except OrderRejected as exc:
            w.move(Attempt.OVER)
            w.order = replace(w.order, status=OrderStatus.REJECTED)
            w.dead_reason = f"rejected: {exc}"
            return Progress.FILLED if w.filled_qty else Progress.DEAD
        except (BrokerError, DataError) as exc:
            if isinstance(exc, BrokerError) and not exc.transient:
                raise
            logger.warning(f"{w.order.client_order_id}: send failed ({exc}); it is looked up before any resend")
            return Progress.WORKING
        w.move(Attempt.SENT)
        w.seen_qty, w.seen_cost, w.placed_at = 0, 0.0, now
        self._absorb(w, order, now)
        return Progress.FILLED if w.remaining == 0 else Progress.WORKING

    @staticmethod
    def _check_same(found: Order, legs: tuple[Leg, ...], cid: str) -> None:
        if found.legs and {leg.symbol for leg in found.legs} != {leg.symbol for leg in legs}:
            raise BrokerError(f"order {cid} at the broker has other legs than this engine sent: refusing to adopt it")

    def _price(self, legs: tuple[Leg, ...], step: int, exit_: bool, urgent: bool) -> tuple[float, float, float]:
        """Mid (rounded to the passive side) or, when urgent, the natural price; plus `step` ticks, capped at
        natural for entries and natural + exit_extra_ticks for exits."""
        quotes = self._md.quotes([leg.symbol for leg in legs])
        mid, nat = net_mid(legs, quotes), natural(legs, quotes)
        tick = self.cfg.tick
        cap = round_to_tick(nat + (self.cfg.exit_extra_ticks * tick if exit_ else 0.0), tick, up=True)
        base = round_to_tick(nat, tick, up=True) if urgent else round_to_tick(mid, tick, up=False)
        return round(min(base + step * tick, cap), 2), mid, nat

    def _submit(self, w: Working, now: datetime) -> Order:
        """Send the attempt `w.attempt` at `w.step`. An attempt in doubt (an earlier send of it failed: the
        broker may have it) is looked up first and adopted if found. The attempt number only moves on once
        the broker has the order."""
        kind, trade_no, day, legs, attempt = w.kind, w.trade_no, w.day, w.legs, w.attempt
        qty, step = w.remaining, w.step
        cid = self._ids.client_order_id(day, trade_no, kind.value, attempt)
        key = (day, trade_no, kind)
        if w.state is Attempt.IN_DOUBT:
            existing = self._broker.order_by_client_id(cid)
            if existing is not None:
                self._check_same(existing, legs, cid)
                self._next_attempt_no[key] = attempt + 1
                self._event(now, "adopt", {"client_order_id": cid, "order_id": existing.id, "status": existing.status})
                return existing
        if refused := self._gate(kind, legs, qty):
            raise OrderRejected(f"risk gate: {'; '.join(refused)} (not sent)")
        limit, mid, nat = self._price(legs, step, kind is OrderKind.EXIT, w.urgent)
        request = OrderRequest(client_order_id=cid, legs=legs, qty=qty, limit_price=limit)
        w.move(Attempt.IN_DOUBT)
        order = self._broker.submit_order(request)
        self._next_attempt_no[key] = attempt + 1
        self._event(
            now,
            "submit",
            {
                "client_order_id": cid,
                "order_id": order.id,
                "purpose": kind.value,
                "trade_no": trade_no,
                "qty": qty,
                "limit_price": limit,
                "mid": round(mid, 4),
                "natural": round(nat, 4),
                "step": step,
                "legs": [f"{leg.side}:{leg.symbol}" for leg in legs],
                "status": str(order.status),
                **({"why": w.why} if w.why else {}),
            },
        )
        return order

    def _refresh(self, w: Working, now: datetime) -> Order:
        order = self._broker.get_order(w.order.id)
        self._absorb(w, order, now)
        return order

    def _event(self, now: datetime, event: str, data: dict[str, Any]) -> None:
        self._audit.record("order", now, event=event, **data)
        logger.bind(trade=True).debug(f"{event} " + " ".join(f"{k}={v}" for k, v in data.items()))

    def _absorb(self, w: Working, order: Order, now: datetime) -> None:
        """Add fills of the live attempt not counted yet to the running totals."""
        w.order = order
        new = order.filled_qty - w.seen_qty
        if new <= 0 or order.filled_avg_price is None:
            return
        cost = order.filled_avg_price * order.filled_qty
        w.fill_cost += cost - w.seen_cost
        w.filled_qty += new
        w.seen_qty, w.seen_cost = order.filled_qty, cost
        self._event(
            now,
            "fill",
            {
                "client_order_id": order.client_order_id,
                "purpose": w.kind.value,
                "trade_no": w.trade_no,
                "filled_qty": order.filled_qty,
                "price": order.filled_avg_price,
                "leg_prices": dict(order.leg_fill_prices),
                "status": str(order.status),
            },
        )
