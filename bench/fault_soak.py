"""Fault soak: consecutive simulated sessions over loopback with a share of the broker's answers failing.

    python bench/fault_soak.py [--days 20] [--fault-rate 0.05] [--seed 1] [--logs-dir DIR] [-v]
        [--config examples/loopback.yaml] [--date D] [--timeout 0.5] [--slow-seconds S]
        [--fault-kinds k1,k2] [--clock http|direct] [--loss-tolerance 50]

One SimServer (Alpaca's REST API over a SimVenue, `engine.sim.transport`) serves on 127.0.0.1 in a thread of
this process for the whole soak, and one engine, built in-process with `engine.app.build` and broker
`alpaca` pointed at it (url overrides; keys set in os.environ for the run only), trades the N sessions in a
row, as `run.py --days N` would against `run.py serve-sim`. The client timeout is small (`alpaca.timeout_s`
0.5 s) and the server's slow answers take just longer (0.6 s), so a slow fault is a timeout. The server
fails `--fault-rate` of the API requests (never /sim/*), of every kind it knows (rate_limit, server_error,
unavailable, slow, drop, and on orders and cancels also server_error_after and drop_after, where the
exchange did the work and the answer is lost), seeded by `--seed` (the draws are seeded; which request
gets which draw can still shift a little between runs, because a slow answer races its retry). Should the
engine crash (an exception escaping `Runner.run`, or an exit code other than 0), the crash is counted and a
new engine is started on the same server where its clock is (the same session if it has not closed), for
the sessions left, as a supervisor would restart it; it reconciles with the broker as after any restart.
By default (`--clock http`) the engine moves the server's clock itself with POST /sim/advance, as it does
against serve-sim; `--clock direct` moves it in-process instead (the short test in tests/reliability uses
that, with a 0.1 s timeout).
With `--logs-dir` the journals, logs and the server's request log (server-requests.jsonl) are kept.

The figures, and what each one counts. Truth comes from the exchange behind the server (its orders, fills,
positions, account and its expiry-day liquidations/settlements), the server's request log, and the
engine's own audit journals:

- engine crashes: exceptions escaping `Runner.run`, runs ending with an exit code != 0, and runs stuck
  (many ticks at one market time). Target 0.
- duplicate orders (target 0 for each):
    * ids at the exchange more than once: client order ids carried by more than one exchange order, or
      accepted (HTTP 200) more than once by the server;
    * trades opened more than once: per day and trade number, more than one entry attempt with a fill
      (or, with partial fills configured, more contracts filled than the strategy's size);
    * fills the engine never booked: exchange orders whose filled quantity is more than the engine's
      journal ever recorded for that id (a fill the engine lost track of is an unmanaged position).
  Informational: ids re-sent after an earlier send had already reached the exchange (the exchange refuses
  them as "client_order_id must be unique", and the engine adopts the first; no order is doubled).
- intended orders placed. Intended: the distinct client order ids the engine tried to send, i.e. every
  `broker.submit_order` call recorded in its journals (answered, failed or left in doubt), together with
  the ids of its `submit`/`adopt` order records and of every order POST the server saw. Placed: those
  the exchange holds. Refused: those the exchange never held because it refused them on their merits
  (a 4xx answer with no fault, e.g. the 15:30 cut-off); they reached the broker and got a definite no,
  so they are not counted as lost. Share placed = placed / (intended - refused). Target >= 95 %.
- risk-limit breaches (target 0 for each):
    * day loss: the exchange's close-to-close equity change of a session below
      -(risk.max_daily_loss + tolerance); the tolerance (--loss-tolerance, default $50) stands for one
      poll's move of an open condor between the loss check and the fill of the flattening order;
    * trades over the limit: distinct trade numbers with a filled entry at the exchange in one session
      above risk.max_daily_trades;
    * open after the hard exit: positions or working orders at the exchange when the engine ends the
      session (session_end, at or after the hard exit), and any expiry-day liquidation or settlement by
      the exchange (something was still held at 15:45 ET or at the close);
    * condor missing a leg: at any engine tick, the exchange positions are not whole condors (as many
      long puts as short puts as short calls as long calls);
    * over max_open_spreads: more condors held at once than risk.max_open_spreads.
- plus: API requests made (and /sim calls), faults injected by kind, the engine's retries (its
  RetryPolicy), halts by reason and resumes (from the journals' transitions), and days flat (ended with
  no position and no working order at the exchange, and nothing liquidated or settled). Informational,
  not a target: order attempts left working at the exchange longer than orders.entry_timeout_s +
  risk.broker_outage_tolerance_s (an attempt is normally cancelled within a walk interval, or at the
  entry timeout; one open much longer means its cancel or walk was lost).

The exit code is 1 when any target is missed, else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.app import SIM_START, Adapters, build  # noqa: E402
from engine.brokers.alpaca import alpaca_adapters  # noqa: E402
from engine.calendar import ET, ExchangeCalendar  # noqa: E402
from engine.clock import SimClock  # noqa: E402
from engine.config import Config, load_config, load_secrets, parse_config  # noqa: E402
from engine.ids import parse_client_order_id  # noqa: E402
from engine.journal.recording import recorded_calls  # noqa: E402
from engine.logs import close_day_files  # noqa: E402
from engine.models import OrderStatus, Right  # noqa: E402
from engine.occ import parse_occ  # noqa: E402
from engine.sim.transport import AFTER_FAULTS, FAULT_KINDS, SimServer  # noqa: E402
from engine.sim.venue import SimVenue  # noqa: E402

DEFAULT_CONFIG = ROOT / "examples" / "loopback.yaml"
SOAK_KEY, SOAK_SECRET = "zdte-soak-key", "zdte-soak-secret"
PLACED_TARGET = 0.95
STUCK_TICKS = 2000
"""Ticks at one market time before a run counts as stuck (the runner sleeps whenever it does not move)."""
_PRE_FAULTS = frozenset(FAULT_KINDS) - AFTER_FAULTS - {"slow"}
"""Faults answered before the request reaches the exchange: such a request did nothing there."""


_engine_ctx: Any = None
"""The running engine's context: its market time goes on the log lines (see main)."""


def _engine_now() -> datetime | None:
    return getattr(_engine_ctx, "now", None)


class Stuck(Exception):
    """The engine kept ticking without its market time moving."""


# -- results -----------------------------------------------------------------------------------------


@dataclass
class DayFigures:
    day: date
    trades: int = 0
    engine_pnl: float | None = None
    requests: int = 0
    faults: int = 0
    halts: int = 0
    flat: bool = False
    open_at_end: list[str] = field(default_factory=list)


@dataclass
class SoakResult:
    days: int
    fault_rate: float
    seed: int
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    wall_seconds: float = 0.0
    sessions: list[DayFigures] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    halts: Counter[str] = field(default_factory=Counter)
    resumes: int = 0
    # orders
    intended: set[str] = field(default_factory=set)
    placed: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    lost: list[str] = field(default_factory=list)
    dup_ids: list[str] = field(default_factory=list)
    dup_trades: list[str] = field(default_factory=list)
    unbooked_fills: list[str] = field(default_factory=list)
    resent_after_arrival: list[str] = field(default_factory=list)
    stuck_orders: list[str] = field(default_factory=list)
    # risk
    loss_breaches: list[str] = field(default_factory=list)
    trade_breaches: list[str] = field(default_factory=list)
    open_after_exit: list[str] = field(default_factory=list)
    missing_legs: list[str] = field(default_factory=list)
    over_open_spreads: list[str] = field(default_factory=list)
    day_pnl: dict[date, float] = field(default_factory=dict)
    worst_intraday: dict[date, float] = field(default_factory=dict)
    logs_dir: Path | None = None

    @property
    def placed_share(self) -> float:
        denominator = len(self.intended - self.refused)
        return len(self.placed) / denominator if denominator else 1.0

    @property
    def days_flat(self) -> int:
        return sum(1 for d in self.sessions if d.flat)

    def misses(self) -> list[str]:
        """Every target missed, in words; empty when the soak passed."""
        out = []
        if self.crashes:
            out.append(f"engine crashes: {len(self.crashes)} (target 0)")
        if len(self.sessions) < self.days:
            out.append(f"sessions completed: {len(self.sessions)} of {self.days}")
        for name, items in (
            ("client order ids at the exchange more than once", self.dup_ids),
            ("trades opened more than once", self.dup_trades),
            ("fills the engine never booked", self.unbooked_fills),
            ("days with a loss beyond max_daily_loss", self.loss_breaches),
            ("days with more trades than max_daily_trades", self.trade_breaches),
            ("open after the hard exit", self.open_after_exit),
            ("condors missing a leg", self.missing_legs),
            ("more condors open than max_open_spreads", self.over_open_spreads),
        ):
            if items:
                out.append(f"{name}: {len(items)} (target 0)")
        if self.placed_share < PLACED_TARGET:
            out.append(f"intended orders placed: {self.placed_share:.1%} (target >= {PLACED_TARGET:.0%})")
        return out


# -- set-up --------------------------------------------------------------------------------------------


def engine_config(
    base: Config, url: str, logs: Path, first: date, days: int, timeout_s: float, source: str = "poll"
) -> Config:
    raw = base.model_dump()
    raw["data"]["source"] = source
    raw["broker"] = "alpaca"
    raw["logs_dir"] = logs
    raw["session"].update(date=first, days=days)
    raw["risk"]["kill_file"] = logs.parent / "KILL"
    raw["alpaca"].update(trading_url=url, data_url=url, timeout_s=timeout_s)
    raw["report"]["html"] = False  # the soak measures the trading, not the pages
    return parse_config(raw, "fault soak")


@contextlib.contextmanager
def soak_keys() -> Iterator[None]:
    """The simulator's keys in os.environ for the run only; whatever was there before is put back."""
    saved = {k: os.environ.get(k) for k in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")}
    os.environ["ALPACA_API_KEY"], os.environ["ALPACA_SECRET_KEY"] = SOAK_KEY, SOAK_SECRET
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ServerClock:
    """The Clock port on the server's own SimClock, moved in-process (under the server's lock)."""

    def __init__(self, server: SimServer) -> None:
        self._server = server

    def now(self) -> datetime:
        with self._server._lock:
            return self._server.clock.now()

    def sleep(self, seconds: float) -> None:
        with self._server._lock:
            self._server.clock.sleep(seconds)


# -- watching the exchange while the engine runs ---------------------------------------------------------


class Watch:
    """Looks at the exchange after every engine tick (under the server's lock, at the server's time)."""

    def __init__(self, server: SimServer, cfg: Config) -> None:
        self.server = server
        self.venue: SimVenue = server.venue
        self.cfg = cfg
        self.start_equity: dict[date, float] = {}
        self.end_equity: dict[date, float] = {}
        self.worst: dict[date, float] = {}
        self.missing_legs: list[str] = []
        self.over_open: list[str] = []
        self._broken = False
        self._over = False
        self._last_day: date | None = None

    def sample(self) -> None:
        with self.server._lock:
            now = self.server.clock.now()
            mk = self.venue.market()
            positions = self.venue.positions()
            account = self.venue.account()
        if mk is None:
            return
        day = mk.session.day
        if day != self._last_day:
            if self._last_day is not None:
                self.end_equity[self._last_day] = account.last_equity
            self.start_equity[day] = account.last_equity
            self._last_day = day
        pnl = account.equity - account.last_equity
        self.worst[day] = min(self.worst.get(day, 0.0), pnl)
        legs = Counter()
        for p in positions:
            c = parse_occ(p.symbol)
            legs[(c.right, p.qty > 0)] += abs(p.qty)
        counts = {
            legs[(Right.PUT, True)],
            legs[(Right.PUT, False)],
            legs[(Right.CALL, True)],
            legs[(Right.CALL, False)],
        }
        shown = " ".join(f"{p.symbol}x{p.qty}" for p in positions)
        broken = len(counts) > 1
        if broken and not self._broken:
            self.missing_legs.append(f"{now:%Y-%m-%d %H:%M:%S} positions {shown}")
        self._broken = broken
        over = legs[(Right.PUT, False)] > self.cfg.risk.max_open_spreads * self.cfg.strategy.contracts
        if over and not self._over:
            self.over_open.append(f"{now:%Y-%m-%d %H:%M:%S} positions {shown}")
        self._over = over

    def finish(self) -> None:
        """Play the last session out to its close so its settlement (if any) and final equity are known."""
        with self.server._lock:
            mk = self.venue.market()
            if mk is not None:
                self.server.clock.set(mk.session.close + timedelta(minutes=1))
            account = self.venue.account()
        if self._last_day is not None:
            self.end_equity[self._last_day] = account.equity

    def at_session_end(self) -> tuple[list[str], list[str]]:
        with self.server._lock:
            positions = self.venue.positions()
            working = self.venue.open_orders()
        return [f"{p.symbol}x{p.qty}" for p in positions], [o.client_order_id for o in working]


# -- the soak ------------------------------------------------------------------------------------------


def soak(
    days: int = 20,
    fault_rate: float = 0.05,
    seed: int = 1,
    *,
    config: Path | str = DEFAULT_CONFIG,
    first: date | None = None,
    timeout_s: float = 0.5,
    slow_seconds: float = 0.6,
    loss_tolerance: float = 50.0,
    fault_kinds: Sequence[str] = FAULT_KINDS,
    clock: str = "http",
    logs_dir: Path | None = None,
    progress: Callable[[str], None] | None = print,
    source: str = "poll",
) -> SoakResult:
    """Run the soak and gather its figures; `logs_dir` None means a temporary folder, removed afterwards.

    `clock` "http": the engine finds serve-sim's clock itself and moves it with POST /sim/advance, as
    `run.py` does against `run.py serve-sim`; "direct": the engine's clock moves the server's SimClock in
    this process (no /sim calls, so a tiny client timeout cannot hit the clock; used by the short test).
    `source` "stream": serve-sim's streams on, and the engine on them (only with the http clock, whose moves
    the streams follow); "poll": REST only.
    """
    if source not in ("stream", "poll") or (source == "stream" and clock != "http"):
        raise ValueError(f"source must be 'poll', or 'stream' with the http clock, got {source!r} ({clock})")
    if clock not in ("http", "direct"):
        raise ValueError(f"clock must be 'http' or 'direct', got {clock!r}")
    base = load_config(config)
    dates = ExchangeCalendar().sessions_from(first or base.session.date or date(2025, 7, 1), days)
    result = SoakResult(days=days, fault_rate=fault_rate, seed=seed, fault_kinds=tuple(fault_kinds))
    tmp = None
    if logs_dir is None:
        tmp = tempfile.mkdtemp(prefix="zdte-soak-")
        logs = Path(tmp) / "logs"
    else:
        logs = Path(logs_dir)
        if logs.exists():
            shutil.rmtree(logs)
        result.logs_dir = logs
    sim_clock = SimClock(datetime.combine(dates[0], SIM_START, tzinfo=ET))
    venue = SimVenue(base.sim, base.underlying, sim_clock, ExchangeCalendar())
    server = SimServer(
        venue,
        sim_clock,
        api_key=SOAK_KEY,
        secret_key=SOAK_SECRET,
        fault_rate=fault_rate,
        seed=seed,
        slow_seconds=slow_seconds,
        fault_kinds=fault_kinds,
        streams=source == "stream",
    )
    t0 = time.perf_counter()
    try:
        with soak_keys(), server:
            cfg = engine_config(base, server.url, logs, dates[0], days, timeout_s, source)
            watch = Watch(server, cfg)
            Sessions(result, server, watch, base, logs, dates, timeout_s, progress, clock, source).run()
            watch.finish()
            result.wall_seconds = time.perf_counter() - t0
            _analyse(result, server, watch, cfg, logs, loss_tolerance)
            if logs_dir is not None:
                with (logs / "server-requests.jsonl").open("w", encoding="utf-8") as fh:
                    for entry in server.request_log:
                        fh.write(json.dumps(entry) + "\n")
    finally:
        close_day_files()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


class Sessions:
    """Runs the engine over the sessions, restarting it after a crash, and notes each session as it ends."""

    def __init__(
        self,
        result: SoakResult,
        server: SimServer,
        watch: Watch,
        base: Config,
        logs: Path,
        dates: list[date],
        timeout_s: float,
        progress: Callable[[str], None] | None,
        clock: str = "http",
        source: str = "poll",
    ) -> None:
        self.clock = clock
        self.source = source
        self.result = result
        self.server = server
        self.watch = watch
        self.base = base
        self.logs = logs
        self.dates = dates
        self.timeout_s = timeout_s
        self.progress = progress
        self.by_day: dict[date, DayFigures] = {}
        self._log_seen = 0
        self._runner: Any = None
        self._reports_seen = 0
        self._tick: Callable[[], Any] = lambda: None
        self._same_at: datetime | None = None
        self._same_n = 0

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    def run(self) -> None:
        """Engines until every planned session is done; after a crash the next one starts where the server's
        clock is (today if its session has not closed yet, else the next session), as a supervisor would."""
        start, restarts = self.dates[0], 0
        while True:
            left = [d for d in self.dates if d >= start]
            if not left:
                break
            code = self._run_engine(start, len(left))
            if code == 0:
                if len(self.by_day) < len(self.dates):
                    self.result.crashes.append(
                        f"engine finished after {len(self.by_day)} of {len(self.dates)} sessions (exit code 0)"
                    )
                break
            restarts += 1
            if restarts > 3 * len(self.dates):
                break
            start = self._restart_day()
        self.result.sessions = [self.by_day[d] for d in sorted(self.by_day)]

    def _restart_day(self) -> date:
        with self.server._lock:
            now = self.server.clock.now()
            day = now.astimezone(ET).date()
            session = self.server.venue.session(day)
            if session is not None and now < session.close:
                return day
            return self.server.venue.next_session(day).day

    def _run_engine(self, start: date, days: int) -> int | None:
        """One engine from `start` for `days` sessions; its exit code, None when it (or its start) raised."""
        cfg = engine_config(self.base, self.server.url, self.logs, start, days, self.timeout_s, self.source)
        code = runner = None
        try:
            runner = self._build(cfg)
            code = runner.run()
        except Exception as exc:  # noqa: BLE001 - a crash is a figure; the soak goes on with a new engine
            self.result.crashes.append(
                f"{type(exc).__name__}: {exc} (engine started {start})\n{traceback.format_exc()}"
            )
            self._say(f"ENGINE CRASH: {type(exc).__name__}: {exc}")
        finally:
            close_day_files()
            if runner is not None:
                self.result.retries += getattr(getattr(runner.ctx.broker, "_retry", None), "retries", 0)
        if code is not None:
            self.result.exit_codes.append(code)
            if code != 0:
                self.result.crashes.append(f"exit code {code} (engine started {start})")
                self._say(f"ENGINE EXIT CODE {code}")
        return code

    def _build(self, cfg: Config) -> Any:
        """The engine, as `run.py` builds it (or on the in-process clock), watched after every tick."""
        global _engine_ctx
        if self.clock == "direct":
            keys = load_secrets(env_file=None)
            clock = ServerClock(self.server)
            broker, market_data = alpaca_adapters(cfg.alpaca, keys, clock, cfg.sim.seed)
            runner = build(cfg, Adapters(clock, broker, market_data))
        else:
            runner = build(cfg)
        self._runner, self._reports_seen = runner, 0
        _engine_ctx = runner.ctx
        self._tick, runner.tick = runner.tick, self._watched_tick  # type: ignore[method-assign]
        return runner

    def _watched_tick(self) -> Any:
        out = self._tick()
        if len(self._runner.reports) > self._reports_seen:
            self._reports_seen = len(self._runner.reports)
            self._day_end(self._runner)
        self.watch.sample()
        now = self._runner.clock.now()
        self._same_n = self._same_n + 1 if now == self._same_at else 0
        self._same_at = now
        if self._same_n > STUCK_TICKS:
            raise Stuck(f"{STUCK_TICKS} ticks at {now} in {self._runner.state}")
        return out

    def _day_end(self, runner: Any) -> None:
        """The engine closed a session's books (session_end or shutdown) in the tick just run: note what the
        exchange holds."""
        day = runner.days.day
        positions, working = self.watch.at_session_end()
        log = self.server.request_log
        today = [e for e in log[self._log_seen :] if not e["path"].startswith("/sim/")]
        self._log_seen = len(log)
        report = runner.reports[-1][1]
        figures = DayFigures(
            day=day,
            trades=report.get("trade_count", 0),
            engine_pnl=report.get("total_pnl"),
            requests=len(today),
            faults=sum(1 for e in today if e["fault"]),
            flat=not positions and not working,
            open_at_end=positions + [f"working {cid}" for cid in working],
        )
        figures.halts = _count_halts_in(runner.audit.opened[-1])  # the whole day's journal, restarts included
        earlier = self.by_day.get(day)
        if earlier is not None:  # the same session again, after a restart: its report covers the whole day
            figures.requests += earlier.requests
            figures.faults += earlier.faults
        self.by_day[day] = figures
        pnl = "?" if figures.engine_pnl is None else f"{figures.engine_pnl:+8.2f}"
        state = "flat" if figures.flat else "NOT FLAT: " + ", ".join(figures.open_at_end)
        self._say(
            f"day {len(self.by_day):>3}/{len(self.dates)} {day}  trades {figures.trades}  P&L {pnl}  "
            f"requests {figures.requests:>5}  faults {figures.faults:>4}  halts {figures.halts}  {state}"
            + ("  (again, after a restart)" if earlier is not None else "")
        )


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _journals(logs: Path) -> list[list[dict[str, Any]]]:
    out = []
    for path in sorted(logs.glob("audit-*.jsonl")):
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                rows.append(json.loads(line))
        out.append(rows)
    return out


def _count_halts_in(path: Path) -> int:
    n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if '"trigger":"halt"' in line and '"kind":"transition"' in line:
            n += 1
    return n


def halt_kind(reason: str) -> str:
    """A halt reason without what led up to it, its numbers and its details, so like halts count together."""
    head = reason.split("; ")[-1].split(": HTTP")[0]
    head = re.sub(r" \([^)]*\)", "", head)
    return _NUMBER.sub("N", head)[:100]


def _analyse(result: SoakResult, server: SimServer, watch: Watch, cfg: Config, logs: Path, tolerance: float) -> None:
    log = server.request_log
    prefix = cfg.orders.client_order_id_prefix
    for e in log:
        result.requests[f"{e['method']} {e['path']}"] += 1
        if e["fault"]:
            result.faults[e["fault"]] += 1

    # what the engine meant to send, booked and did, from its journals
    booked: dict[str, int] = defaultdict(int)
    for records in _journals(logs):
        for _, _, call in recorded_calls(records):
            if call["method"] == "submit_order":
                result.intended.add(call["args"][0]["v"][0])
        for r in records:
            kind = r.get("kind")
            if kind == "order":
                cid = r.get("client_order_id")
                if r.get("event") in ("submit", "adopt") and cid:
                    result.intended.add(cid)
                if r.get("event") == "fill" and cid:
                    booked[cid] = max(booked[cid], int(r.get("filled_qty") or 0))
            elif kind == "transition":
                if r.get("trigger") == "halt":
                    result.halts[halt_kind(r.get("reason", ""))] += 1
                elif r.get("trigger") == "resume":
                    result.resumes += 1

    posts = [e for e in log if e["method"] == "POST" and e["path"] == "/v2/orders" and e["client_order_id"]]
    for e in posts:
        result.intended.add(e["client_order_id"])
    with server._lock:
        orders = server.venue.all_orders()
        events = list(server.venue.exchange.events)
    by_cid: dict[str, list[Any]] = defaultdict(list)
    for o in orders:
        by_cid[o.client_order_id].append(o)
    result.placed = {cid for cid in result.intended if cid in by_cid}

    # duplicates
    accepted = Counter(e["client_order_id"] for e in posts if e["status"] == 200)
    reached = Counter(e["client_order_id"] for e in posts if e["fault"] not in _PRE_FAULTS)
    result.dup_ids = sorted(
        {cid for cid, found in by_cid.items() if len(found) > 1} | {cid for cid, n in accepted.items() if n > 1}
    )
    result.resent_after_arrival = sorted(cid for cid, n in reached.items() if n > 1)
    refusing = {e["client_order_id"] for e in posts if e["fault"] in (None, "slow") and 400 <= (e["status"] or 0) < 500}
    result.refused = {cid for cid in result.intended - result.placed if cid in refusing}
    result.lost = sorted(result.intended - result.placed - result.refused)
    entries: dict[tuple[date, int], list[Any]] = defaultdict(list)
    for o in orders:
        parsed = parse_client_order_id(prefix, o.client_order_id)
        if parsed is None:
            continue
        day, trade_no, kind, _attempt = parsed
        if kind == "entry" and o.filled_qty > 0:
            entries[(day, trade_no)].append(o)
        if o.filled_qty > booked.get(o.client_order_id, 0):
            result.unbooked_fills.append(
                f"{o.client_order_id}: {o.filled_qty} filled at the exchange, {booked.get(o.client_order_id, 0)} "
                f"booked by the engine"
            )
    # attempts left working far longer than the walk and the entry timeout allow (a lost cancel)
    stuck_after = cfg.orders.entry_timeout_s + cfg.risk.broker_outage_tolerance_s
    with server._lock:
        canceled_at = {o.id: server.api.trading.canceled_at(o.id) for o in orders}
        closes = {o.id: server.api.trading.close_of(o.submitted_at) for o in orders}
    for o in orders:
        if parse_client_order_id(prefix, o.client_order_id) is None:
            continue
        end = {
            OrderStatus.FILLED: o.filled_at,
            OrderStatus.CANCELED: canceled_at.get(o.id),
            OrderStatus.EXPIRED: closes.get(o.id),
        }.get(o.status)
        if end is None:
            continue
        live = (end - o.submitted_at).total_seconds()
        if live > stuck_after:
            result.stuck_orders.append(
                f"{o.client_order_id} at {o.limit_price:+.2f} open {live:.0f}s "
                f"({o.submitted_at.astimezone(ET):%H:%M:%S} to {o.status.value} at {end.astimezone(ET):%H:%M:%S})"
            )
    size = cfg.strategy.contracts
    for (day, trade_no), found in sorted(entries.items()):
        filled = sum(o.filled_qty for o in found)
        if filled > size or (cfg.sim.partial_fill_prob == 0 and len(found) > 1):
            ids = ", ".join(f"{o.client_order_id} ({o.filled_qty} filled)" for o in found)
            result.dup_trades.append(f"{day} trade {trade_no}: {ids}")

    # risk limits
    limit = cfg.risk.max_daily_loss + tolerance
    for day, start in watch.start_equity.items():
        end = watch.end_equity.get(day)
        if end is None:
            continue
        pnl = end - start
        result.day_pnl[day] = pnl
        result.worst_intraday[day] = watch.worst.get(day, 0.0)
        if pnl < -limit:
            result.loss_breaches.append(f"{day}: P&L {pnl:.2f} < -{limit:.2f}")
    trades_per_day = Counter(day for day, _ in entries)
    for day, n in sorted(trades_per_day.items()):
        if n > cfg.risk.max_daily_trades:
            result.trade_breaches.append(f"{day}: {n} trades > {cfg.risk.max_daily_trades}")
    for d in result.sessions:
        if d.open_at_end:
            result.open_after_exit.append(f"{d.day} at session_end: {', '.join(d.open_at_end)}")
    by_day: dict[date, list[dict]] = defaultdict(list)
    for ev in events:
        by_day[ev["time"].astimezone(ET).date()].append(ev)
    for day, evs in sorted(by_day.items()):
        shown = ", ".join(f"{ev['kind']} {ev['symbol']}x{ev['qty']}@{ev['price']:.2f}" for ev in evs)
        result.open_after_exit.append(f"{day} exchange {shown}")
        for d in result.sessions:
            if d.day == day:
                d.flat = False
    result.missing_legs = list(watch.missing_legs)
    result.over_open_spreads = list(watch.over_open)


# -- output --------------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "ok  " if ok else "MISS"


def format_figures(r: SoakResult, detail: int = 10) -> str:
    api = {k: n for k, n in r.requests.items() if " /sim/" not in k}
    sim_calls = sum(n for k, n in r.requests.items() if " /sim/" in k)
    lines = [
        f"fault soak: {len(r.sessions)}/{r.days} sessions, fault rate {r.fault_rate:.0%}"
        + ("" if set(r.fault_kinds) == set(FAULT_KINDS) else f" ({', '.join(r.fault_kinds)} only)")
        + f", seed {r.seed}, "
        f"{r.wall_seconds:.1f} s wall",
        "",
        "targets",
        f"  {_mark(not r.crashes)} engine crashes                        {len(r.crashes)}",
        f"  {_mark(not r.dup_ids)} client order ids doubled at exchange  {len(r.dup_ids)}",
        f"  {_mark(not r.dup_trades)} trades opened more than once          {len(r.dup_trades)}",
        f"  {_mark(not r.unbooked_fills)} fills the engine never booked         {len(r.unbooked_fills)}",
        f"  {_mark(r.placed_share >= PLACED_TARGET)} intended orders placed                "
        f"{r.placed_share:.1%} ({len(r.placed)} of {len(r.intended)} intended, {len(r.refused)} refused "
        f"by the exchange, {len(r.lost)} lost)",
        f"  {_mark(not r.loss_breaches)} days beyond max_daily_loss            {len(r.loss_breaches)}",
        f"  {_mark(not r.trade_breaches)} days beyond max_daily_trades          {len(r.trade_breaches)}",
        f"  {_mark(not r.open_after_exit)} open after the hard exit              {len(r.open_after_exit)}",
        f"  {_mark(not r.missing_legs)} condors missing a leg                 {len(r.missing_legs)}",
        f"  {_mark(not r.over_open_spreads)} over max_open_spreads                 {len(r.over_open_spreads)}",
        "",
        "figures",
        f"  API requests made        {sum(api.values())} (plus {sim_calls} /sim calls: the clock)",
        f"  faults injected          {sum(r.faults.values())}: "
        + (", ".join(f"{k} {r.faults[k]}" for k in FAULT_KINDS if r.faults[k]) or "none"),
        f"  retries (RetryPolicy)    {r.retries}",
        f"  halts                    {sum(r.halts.values())}"
        + "".join(f"\n      {n:>4}  {reason}" for reason, n in r.halts.most_common()),
        f"  resumes                  {r.resumes}",
        f"  days flat                {r.days_flat} of {len(r.sessions)}",
        f"  trades                   {sum(d.trades for d in r.sessions)}",
        f"  ids re-sent after they had reached the exchange (refused as duplicates): {len(r.resent_after_arrival)}",
        f"  order attempts left working past entry_timeout_s + broker_outage_tolerance_s: {len(r.stuck_orders)}",
    ]
    if r.day_pnl:
        worst_day = min(r.day_pnl.items(), key=lambda kv: kv[1])
        worst_mark = min(r.worst_intraday.items(), key=lambda kv: kv[1])
        lines.append(
            f"  day P&L at the exchange  total {sum(r.day_pnl.values()):+.2f}; worst day {worst_day[0]} "
            f"{worst_day[1]:+.2f}; worst intraday mark {worst_mark[0]} {worst_mark[1]:+.2f}"
        )
    lines.append("  top requests             " + ", ".join(f"{k} {n}" for k, n in Counter(api).most_common(6)))
    problems = [
        ("crashes", r.crashes),
        ("ids doubled", r.dup_ids),
        ("trades opened more than once", r.dup_trades),
        ("fills never booked", r.unbooked_fills),
        ("lost orders (intended, never at the exchange)", r.lost),
        ("attempts left working too long (a cancel or walk lost)", r.stuck_orders),
        ("loss breaches", r.loss_breaches),
        ("trade-count breaches", r.trade_breaches),
        ("open after the hard exit", r.open_after_exit),
        ("missing legs", r.missing_legs),
        ("over max_open_spreads", r.over_open_spreads),
    ]
    for name, items in problems:
        if items:
            lines.append(f"\n{name}:")
            lines += [f"  {item}" for item in items[:detail]]
            if len(items) > detail:
                lines.append(f"  ... and {len(items) - detail} more")
    misses = r.misses()
    lines.append("")
    lines.append("RESULT: " + ("all targets met" if not misses else "MISSED: " + "; ".join(misses)))
    if r.logs_dir is not None:
        lines.append(f"journals and logs in {r.logs_dir}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=20, help="consecutive sessions (default 20)")
    ap.add_argument("--fault-rate", type=float, default=0.05, help="share of API requests failing (default 0.05)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the injected faults (default 1)")
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="engine config (default examples/loopback.yaml)")
    ap.add_argument("--date", type=date.fromisoformat, default=None, help="first session (default: the config's)")
    ap.add_argument("--timeout", type=float, default=0.5, help="alpaca.timeout_s of the engine (default 0.5)")
    ap.add_argument("--slow-seconds", type=float, default=None, help="a slow answer's delay (default timeout+0.1)")
    ap.add_argument("--loss-tolerance", type=float, default=50.0, help="$ allowed past max_daily_loss (default 50)")
    ap.add_argument(
        "--fault-kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma list of the kinds to inject (default all: {','.join(FAULT_KINDS)})",
    )
    ap.add_argument(
        "--clock",
        choices=("http", "direct"),
        default="http",
        help="http: the engine moves serve-sim's clock with POST /sim/advance (default); direct: in-process",
    )
    ap.add_argument("--logs-dir", type=Path, default=None, help="keep the journals and logs here (emptied first)")
    ap.add_argument(
        "--source", choices=("stream", "poll"), default="stream",
        help="stream: serve-sim's streams on and the engine on them, REST when they fail (default); poll: REST only",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="the engine's warnings on the console")
    args = ap.parse_args(argv)
    if args.days < 1 or not 0.0 <= args.fault_rate <= 1.0:
        ap.error("--days must be >= 1 and --fault-rate between 0 and 1")
    kinds = [k.strip() for k in args.fault_kinds.split(",") if k.strip()]
    if not kinds or any(k not in FAULT_KINDS for k in kinds):
        ap.error(f"--fault-kinds: a comma list of {', '.join(FAULT_KINDS)}")
    from loguru import logger

    from engine.logs import setup_logging

    setup_logging(-1, market_now=_engine_now)
    if not args.verbose:
        logger.remove()
    result = soak(
        args.days,
        args.fault_rate,
        args.seed,
        config=args.config,
        first=args.date,
        timeout_s=args.timeout,
        slow_seconds=args.slow_seconds if args.slow_seconds is not None else args.timeout + 0.1,
        loss_tolerance=args.loss_tolerance,
        fault_kinds=kinds,
        clock=args.clock,
        logs_dir=args.logs_dir,
        progress=lambda line: print(line, flush=True),
        source=args.source if args.clock == "http" else "poll",
    )
    print()
    print(format_figures(result))
    return 1 if result.misses() else 0


if __name__ == "__main__":
    raise SystemExit(main())
