"""Start-up reconciliation: what the broker already holds from this engine is adopted, not repeated.

After a crash or restart the broker is the truth. Today's orders carrying our client-order-id prefix
tell which trades were opened and closed; positions tell what is still held. An open condor is
adopted into the book (and managed from Monitoring), a working order is tracked again, a condor that
lost a leg is reported and closed as one combo order, and positions this engine did not open are
reported and left alone. The attempt counters move past every id already used, so no id is reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.book import ClosedTrade, CondorPlan, Spread
from engine.calendar import ET
from engine.ids import parse_client_order_id
from engine.journal.order_history import OrderHistory
from engine.models import CONTRACT_MULTIPLIER, Leg, Order, Position, Right, Side
from engine.occ import parse_occ
from engine.orders import OrderKind, Working


@dataclass
class TradeHistory:
    trade_no: int
    legs: tuple[Leg, ...] = ()
    entry_qty: int = 0
    entry_cost: float = 0.0
    exit_qty: int = 0
    exit_cost: float = 0.0
    entry_client_order_id: str = ""
    first_fill: datetime | None = None
    last_exit: datetime | None = None

    @property
    def open_qty(self) -> int:
        return self.entry_qty - self.exit_qty

    @property
    def entry_price(self) -> float:
        return self.entry_cost / self.entry_qty if self.entry_qty else 0.0

    @property
    def exit_price(self) -> float:
        return self.exit_cost / self.exit_qty if self.exit_qty else 0.0


@dataclass
class Reconciliation:
    adopted: list[Spread] = field(default_factory=list)
    broken: list[Spread] = field(default_factory=list)
    closed: list[ClosedTrade] = field(default_factory=list)
    working: Working | None = None
    working_plan: CondorPlan | None = None
    extra_working: list[Order] = field(default_factory=list)
    foreign: list[Position] = field(default_factory=list)
    trades_today: int = 0
    attempts: dict[tuple[int, str], int] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {
            "adopted": [s.to_dict() for s in self.adopted],
            "closed_earlier": [t.to_dict() for t in self.closed],
            "broken_flattened": [s.to_dict() for s in self.broken],
            "working_order": self.working.to_dict() if self.working else None,
            "extra_working_cancelled": [o.client_order_id for o in self.extra_working],
            "foreign_positions_left_alone": [{"symbol": p.symbol, "qty": p.qty} for p in self.foreign],
            "trades_today": self.trades_today,
        }

    @property
    def summary(self) -> str:
        parts = [f"{len(self.adopted)} open condor(s) adopted"] if self.adopted else []
        if self.working:
            parts.append(f"working {self.working.kind} order {self.working.order.client_order_id} tracked")
        if self.broken:
            parts.append(f"{len(self.broken)} condor(s) missing a leg, to be closed")
        if self.foreign:
            parts.append(f"{len(self.foreign)} position(s) not ours left alone")
        return "; ".join(parts) or "nothing at the broker to take over"


def plan_from_legs(legs: tuple[Leg, ...], qty: int, limit: float, multiplier: int = CONTRACT_MULTIPLIER) -> CondorPlan:
    """The plan an adopted entry order was sent for, rebuilt from its legs (strikes come from the symbols)."""
    parsed = {leg.symbol: parse_occ(leg.symbol) for leg in legs}
    def side(right: Right) -> list[Leg]:
        return sorted((leg for leg in legs if parsed[leg.symbol].right is right), key=lambda x: parsed[x.symbol].strike)

    puts, calls = side(Right.PUT), side(Right.CALL)
    ordered = tuple(puts + calls)
    strikes = tuple(parsed[leg.symbol].strike for leg in ordered)
    direction = "short" if puts and puts[-1].side is Side.SELL else "long"
    wing = strikes[1] - strikes[0] if len(strikes) == 4 else 0.0
    return CondorPlan(direction, ordered, strikes, wing, qty, limit, limit, multiplier)  # type: ignore[arg-type]


def reconcile(
    day,
    prefix: str,
    orders: list[Order],
    positions: list[Position],
    now: datetime,
    multiplier: int = CONTRACT_MULTIPLIER,
    earlier: OrderHistory | None = None,
) -> Reconciliation:
    """Decide, from today's orders and the positions held, what the engine takes back into its care; `earlier`
    (the day's journal before this run) says where an adopted order's walk was and why trades closed."""
    earlier = earlier or OrderHistory()
    out = Reconciliation()
    parsed = [(o, parse_client_order_id(prefix, o.client_order_id)) for o in orders]
    ours = [(o, p) for o, p in parsed if p is not None and p[0] == day]
    trades: dict[int, TradeHistory] = {}
    working: list[tuple[Order, tuple]] = []
    for o, (_, trade_no, kind, attempt) in sorted(ours, key=lambda x: x[0].submitted_at):
        key = (trade_no, kind)
        out.attempts[key] = max(out.attempts.get(key, 0), attempt + 1)
        t = trades.setdefault(trade_no, TradeHistory(trade_no))
        if kind == "entry":
            if not t.entry_qty:
                t.legs = o.legs  # the attempt that filled, or the latest one: a re-planned entry changes strikes
            if o.filled_qty:
                t.entry_qty += o.filled_qty
                t.entry_cost += (o.filled_avg_price or 0.0) * o.filled_qty
                t.entry_client_order_id = t.entry_client_order_id or o.client_order_id
                t.first_fill = t.first_fill or _et(o.filled_at or o.submitted_at)
        elif o.filled_qty:
            t.exit_qty += o.filled_qty
            t.exit_cost += (o.filled_avg_price or 0.0) * o.filled_qty
            t.last_exit = _et(o.filled_at or o.submitted_at)
        if o.status.is_open:
            working.append((o, (trade_no, kind, attempt)))
    out.trades_today = sum(1 for t in trades.values() if t.entry_qty)
    held = {p.symbol: p for p in positions}
    claimed: set[str] = set()
    for t in sorted(trades.values(), key=lambda t: t.trade_no):
        if t.entry_qty == 0:
            continue
        plan = plan_from_legs(t.legs, t.entry_qty, t.entry_price, multiplier)
        if t.exit_qty:
            done = _spread(t, plan, plan.legs, t.exit_qty, now)
            why = earlier.closed.get(t.trade_no, "closed before a restart")
            out.closed.append(ClosedTrade(done, round(t.exit_price, 4), t.last_exit or now, why))
        if t.open_qty <= 0:
            continue
        legs_held = tuple(leg for leg in plan.legs if _holds(held.get(leg.symbol), leg, t.open_qty))
        claimed.update(leg.symbol for leg in plan.legs)
        spread = _spread(t, plan, legs_held, t.open_qty, now)
        if len(legs_held) == len(plan.legs):
            out.adopted.append(spread)
        elif legs_held:
            spread.force_exit = f"reconciled with {len(plan.legs) - len(legs_held)} leg(s) missing at the broker"
            out.broken.append(spread)
    out.foreign = [p for s, p in held.items() if s not in claimed]
    if working:
        (order, (trade_no, kind, attempt)), *extra = working
        out.extra_working = [o for o, _ in extra]
        went = earlier.resumed(order.client_order_id, trade_no, kind)
        out.working = Working(
            OrderKind(kind), trade_no, day, order.legs, order.qty, False,
            order.submitted_at if went is None else went.started_at, order, order.submitted_at,
            step=0 if went is None else went.step, attempt=attempt,
            why=(went.why if went is not None and went.why else "adopted at start-up"),
        )
        if kind == "entry":
            out.working_plan = plan_from_legs(order.legs, order.qty, order.limit_price, multiplier)
    return out


def _spread(t: TradeHistory, plan: CondorPlan, legs: tuple[Leg, ...], qty: int, now: datetime) -> Spread:
    return Spread(
        trade_no=t.trade_no,
        direction=plan.direction,
        legs=legs,
        strikes=plan.strikes,
        wing_width=plan.wing_width,
        qty=qty,
        entry_price=round(t.entry_price, 4),
        entry_time=t.first_fill or now,
        entry_client_order_id=t.entry_client_order_id,
        multiplier=plan.multiplier,
    )


def _et(t: datetime) -> datetime:
    return t.astimezone(ET)


def _holds(position: Position | None, leg: Leg, qty: int) -> bool:
    if position is None:
        return False
    want = qty * leg.ratio_qty * (1 if leg.side is Side.BUY else -1)
    return (position.qty > 0) == (want > 0) and abs(position.qty) >= abs(want)


def day_start(day) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ET)
