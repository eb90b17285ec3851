"""The shared world of the state tests: a config in tmp_path, a SimClock, and Broker/MarketData ports mocked with
pytest-mock (autospec of the real Protocols) that answer with real engine.models objects.

The fake market is deliberately small and explicit:
- SPY sits at 600.0; the 0DTE chain lists puts and calls 580..620 (OCC symbols like SPY250701P00590000);
- an out-of-the-money option is worth 3.0 * exp(-distance / 3) * `price_scale` (+ intrinsic), quoted +-0.02,
  with |delta| = 0.5 * exp(-distance / 4), so a 0.15-delta short condor is 590/595/605/610;
- every quote is `quote_age_s` old (0: quoted now);
- orders fill at once at their limit (`fill = "fill"`), rest as `new` (`"rest"`) or are rejected (`"reject"`).
- cancels take effect at once, or (`cancel_pends = True`) leave the order `pending_cancel` until `confirm_cancels`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from engine.app import Adapters, build
from engine.book import CondorPlan, Spread
from engine.calendar import et
from engine.clock import SimClock
from engine.combo import natural, net_mid
from engine.config import Config, parse_config
from engine.errors import OrderRejected
from engine.journal.audit import journal_path, read_journal
from engine.machine import State
from engine.models import (
    Account,
    Bars,
    Intent,
    Leg,
    OptionContract,
    OptionQuote,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    Right,
    Session,
    Side,
)
from engine.occ import occ_symbol, parse_occ
from engine.runner import Runner

DAY = date(2025, 7, 1)
NEXT_DAY = date(2025, 7, 2)
HOLIDAY = date(2025, 7, 4)
SPOT = 600.0
STRIKES = range(580, 621)

SNAPSHOT_KEYS = {
    "underlying_price",
    "open_spreads",
    "working_orders",
    "realized_pnl",
    "unrealized_pnl",
    "daily_pnl",
    "counters",
}


def occ(right: str, strike: float, day: date = DAY) -> str:
    return occ_symbol("SPY", day, right, strike)


P590, P595, C605, C610 = occ("P", 590), occ("P", 595), occ("C", 605), occ("C", 610)

ENTRY_LEGS = (
    Leg(P590, Side.BUY, Intent.BUY_TO_OPEN),
    Leg(P595, Side.SELL, Intent.SELL_TO_OPEN),
    Leg(C605, Side.SELL, Intent.SELL_TO_OPEN),
    Leg(C610, Side.BUY, Intent.BUY_TO_OPEN),
)
EXIT_LEGS = (
    Leg(P590, Side.SELL, Intent.SELL_TO_CLOSE),
    Leg(P595, Side.BUY, Intent.BUY_TO_CLOSE),
    Leg(C605, Side.BUY, Intent.BUY_TO_CLOSE),
    Leg(C610, Side.SELL, Intent.SELL_TO_CLOSE),
)


def session_of(day: date) -> Session | None:
    if day.weekday() >= 5 or day == HOLIDAY:
        return None
    return Session(day, et(day, 9, 30), et(day, 16))


def next_session_of(after: date) -> Session:
    day = after + timedelta(days=1)
    while (s := session_of(day)) is None:
        day += timedelta(days=1)
    return s


def paper_account(**changes: Any) -> Account:
    fields = {
        "account_id": "PA-TEST-1",
        "equity": 100_000.0,
        "last_equity": 100_000.0,
        "cash": 100_000.0,
        "options_buying_power": 50_000.0,
        "options_level": 3,
        "paper": True,
        "status": "ACTIVE",
    }
    return Account(**{**fields, **changes})


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class World:
    tmp: Path
    broker: Any
    market_data: Any
    raw: dict[str, Any]
    cfg: Config = field(init=False)
    clock: SimClock = field(init=False)
    account: Account = field(default_factory=paper_account)
    spot: float = SPOT
    price_scale: float = 1.0
    fill: str = "fill"
    cancel_pends: bool = False
    bars_until: datetime | None = None
    quote_age_s: float = 0.0
    held: list[Position] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    _runners: list[Runner] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cfg = parse_config(self.raw, "test")
        self.clock = SimClock(et(DAY, 10, 30))

    # --- set-up -------------------------------------------------------------------------------
    def configure(self, overrides: dict[str, Any]) -> Config:
        self.raw = _merge(self.raw, overrides)
        self.cfg = parse_config(self.raw, "test")
        return self.cfg

    def at(self, hh: int, mm: int = 0, ss: int = 0, day: date = DAY) -> datetime:
        """Put the clock at hh:mm:ss ET (a fresh clock, so it may also go back before a runner is built)."""
        self.clock = SimClock(et(day, hh, mm) + timedelta(seconds=ss))
        return self.clock.now()

    def runner(self, initial: State, *, session: bool = True, market_step_s: float | None = None) -> Runner:
        """A runner in `initial` with its journal open and, unless told otherwise, today's session loaded;
        `market_step_s` makes the fake market one that moves in steps, as the embedded simulator's does."""
        adapters = Adapters(self.clock, self.broker, self.market_data, market_step_s=market_step_s)
        r = build(self.cfg, adapters, initial=initial)
        self._runners.append(r)
        r.start()
        if session:
            today = replace(r.days.point(str(initial), None), session=session_of(r.days.day), session_loaded=True)
            r.days.restore(today)
        return r

    def kill(self) -> Path:
        self.cfg.kill_file.parent.mkdir(parents=True, exist_ok=True)
        self.cfg.kill_file.write_text("stop\n")
        return self.cfg.risk.kill_file

    def plan(self, qty: int = 1) -> CondorPlan:
        quotes = self.quote_map([leg.symbol for leg in ENTRY_LEGS])
        return CondorPlan("short", ENTRY_LEGS, (590.0, 595.0, 605.0, 610.0), 5.0, qty,
                          net_mid(ENTRY_LEGS, quotes), natural(ENTRY_LEGS, quotes))

    def open_condor(self, runner: Runner, entry_price: float = -0.92, qty: int = 1) -> Spread:
        """An open short condor in the book, as Entering leaves it after a fill, and its legs at the broker."""
        ctx = runner.ctx
        spread = Spread(1, "short", ENTRY_LEGS, (590.0, 595.0, 605.0, 610.0), 5.0, qty, entry_price,
                        et(DAY, 10, 5), "zdte-20250701-01o-00")
        ctx.book.open.append(spread)
        ctx.book.trades_today += 1
        ctx.record("opened", **spread.to_dict(), strikes=list(spread.strikes), wing_width=5.0, multiplier=100,
                   spot=self.spot)
        self.held = [Position(leg.symbol, qty if leg.side is Side.BUY else -qty, 0.5) for leg in ENTRY_LEGS]
        return spread

    # --- the fake market ------------------------------------------------------------------------
    def _price(self, right: Right, strike: float) -> tuple[float, float, float]:
        dist = abs(strike - self.spot)
        itm = (right is Right.CALL and strike < self.spot) or (right is Right.PUT and strike > self.spot)
        value = (dist if itm else 0.0) + self.price_scale * 3.0 * math.exp(-dist / 3.0)
        otm_delta = 0.5 * math.exp(-dist / 4.0)
        delta = (1.0 - otm_delta) if itm else otm_delta
        return max(round(value - 0.02, 2), 0.0), round(value + 0.02, 2), delta if right is Right.CALL else -delta

    def quote(self, symbol: str) -> OptionQuote:
        contract = parse_occ(symbol)
        bid, ask, delta = self._price(contract.right, contract.strike)
        quoted_at = self.clock.now() - timedelta(seconds=self.quote_age_s)
        return OptionQuote(symbol, bid, ask, quoted_at, iv=0.16, delta=delta)

    def contracts(self, underlying: str, expiry: date, lo: float, hi: float) -> list[OptionContract]:
        if underlying != "SPY" or expiry != DAY:
            return []
        return [
            OptionContract(occ(r, k), "SPY", DAY, float(k), Right(r))
            for k in STRIKES
            if lo <= k <= hi
            for r in ("P", "C")
        ]

    def chain(self, underlying: str, expiry: date, lo: float, hi: float) -> list[OptionQuote]:
        return [self.quote(c.symbol) for c in self.contracts(underlying, expiry, lo, hi)]

    def quote_map(self, symbols: list[str]) -> dict[str, OptionQuote]:
        return {s: self.quote(s) for s in symbols}

    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        """Completed minute bars starting in [start, end), none completed after `bars_until`; last close = spot."""
        last_end = min(end, self.bars_until) if self.bars_until else end
        first = math.ceil(start.timestamp() / 60) * 60
        ts = np.arange(first, int(last_end.timestamp()) - 59, 60, dtype=np.int64)
        n = len(ts)
        close = self.spot + 0.05 * ((n - 1 - np.arange(n)) % 2)
        opens = np.concatenate(([self.spot], close[:-1])) if n else close
        return Bars(symbol, ts, opens, np.maximum(opens, close) + 0.02, np.minimum(opens, close) - 0.02, close,
                    np.full(n, 1000.0))

    # --- the fake exchange ----------------------------------------------------------------------
    def submit(self, request: OrderRequest) -> Order:
        if self.fill == "reject":
            raise OrderRejected(f"order {request.client_order_id} rejected: options trading halted for SPY")
        filled = self.fill == "fill"
        order = Order(
            id=f"ord-{len(self.orders) + 1}",
            client_order_id=request.client_order_id,
            status=OrderStatus.FILLED if filled else OrderStatus.NEW,
            legs=request.legs,
            qty=request.qty,
            filled_qty=request.qty if filled else 0,
            limit_price=request.limit_price,
            filled_avg_price=request.limit_price if filled else None,
            submitted_at=self.clock.now(),
            filled_at=self.clock.now() if filled else None,
        )
        self.orders[order.id] = order
        return order

    def fill_resting(self, qty: int | None = None) -> None:
        """Fill every resting order at its limit (`qty`: only that many contracts, leaving it partially filled)."""
        for oid, o in self.orders.items():
            if o.status.is_open:
                q = o.qty if qty is None else qty
                status = OrderStatus.FILLED if q == o.qty else OrderStatus.PARTIALLY_FILLED
                self.orders[oid] = _replace(o, status=status, filled_qty=q, filled_avg_price=o.limit_price)

    def cancel(self, order_id: str) -> None:
        o = self.orders[order_id]
        if o.status.is_open:
            status = OrderStatus.PENDING_CANCEL if self.cancel_pends else OrderStatus.CANCELED
            self.orders[order_id] = _replace(o, status=status)

    def confirm_cancels(self) -> None:
        """Every pending cancel takes effect (an order that filled meanwhile stays filled)."""
        for oid, o in self.orders.items():
            if o.status is OrderStatus.PENDING_CANCEL:
                self.orders[oid] = _replace(o, status=OrderStatus.CANCELED)

    def by_client_id(self, cid: str) -> Order | None:
        return next((o for o in self.orders.values() if o.client_order_id == cid), None)

    # --- what happened ----------------------------------------------------------------------------
    def submitted(self) -> list[OrderRequest]:
        return [c.args[0] for c in self.broker.submit_order.call_args_list]

    def records(self, day: date = DAY) -> list[dict[str, Any]]:
        """The day's audit journal, after checking that its hash chain and seq numbers verify. A simulated journal
        groups its writes, so the runners' journals are flushed first, as the day's report does."""
        for r in self._runners:
            r.audit.flush()
        records, problems = read_journal(journal_path(self.cfg.logs_dir, day))
        assert problems == []
        return records

    def last_transition(self, day: date = DAY) -> dict[str, Any]:
        return [r for r in self.records(day) if r["kind"] == "transition"][-1]

    def assert_moved(self, trigger: str, source: State, dest: State, *words: str, day: date = DAY) -> dict[str, Any]:
        """The last transition record is trigger/source -> dest, its reason holds `words`, it has a snapshot."""
        rec = self.last_transition(day)
        assert (rec["trigger"], rec["source"], rec["dest"]) == (trigger, str(source), str(dest))
        for word in words:
            assert word in rec["reason"], f"{word!r} not in reason {rec['reason']!r}"
        assert rec["snapshot"].keys() >= SNAPSHOT_KEYS
        return rec

    def assert_refused(self, runner: Runner, trigger: str) -> dict[str, Any]:
        """Fire `trigger` out of turn: it is refused, the state is unchanged, and a `refused` record continues the
        chain (after, at most, the port calls made before it)."""
        state, before = runner.state, self.records()[-1]["seq"]
        outcome = runner.fire(trigger, "fired out of turn by the test")
        assert not outcome.moved
        assert runner.state is state
        after = [r for r in self.records() if r["seq"] > before]
        rec = after[-1]
        assert rec["kind"] == "refused"
        assert [r["kind"] for r in after[:-1]] in ([], ["input"])
        assert (rec["trigger"], rec["source"], rec["dest"]) == (trigger, str(state), str(state))
        assert rec["reason"].startswith("refused") and "fired out of turn by the test" in rec["reason"]
        assert rec["snapshot"].keys() >= SNAPSHOT_KEYS
        return rec

    def report_file(self, day: date = DAY) -> Path:
        return Path(self.cfg.logs_dir) / f"report-{day:%Y%m%d}.json"


def _replace(order: Order, **changes: Any) -> Order:
    fields = {f: getattr(order, f) for f in Order.__slots__}
    return Order(**{**fields, **changes})
