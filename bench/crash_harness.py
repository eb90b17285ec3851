"""Crash/restart harness: SIGKILL the engine at seeded random moments of simulated days, restart it, check nothing
was lost or doubled.

    python bench/crash_harness.py [--kills 50] [--days 3] [--seed 1] [--first-date 2025-07-01] [--keep]

For each session date, `run.py serve-sim` runs in its own process (a fresh account per day) and the engine runs
against it over loopback (`broker: alpaca`), as `python run.py --config <tmp>/config.yaml --quiet`. Kill moments
are seeded: target times drawn over the trading day (09:55-15:20 ET, clipped to the session's hard exit). The
harness polls the simulated clock (GET /sim/info every few ms) and SIGKILLs the engine once it passes the target;
before that, each change of the newest order at the server (a submit, a fill, a cancel) kills it with a seeded
probability, a few ms later, so kills also land while the engine is between an order and its journal record. A
target that has already passed when the engine restarts kills it during start-up (while it writes its header and
reconciles). Right after each kill the harness snapshots the journal bytes, the positions and the open orders,
then restarts the engine, which must reconcile and carry on. The last run of each day must finish it (exit 0).

Checks (the exit code is 1 when any fails): one order per client order id; per trade at most one entry attempt
filled; never more open condors than risk.max_open_spreads; complete condors in every kill snapshot; the book
flat when the engine finishes each day (so the 15:45 liquidation has nothing to do); every journal verifies
(`run.py journal verify`, a torn last line allowed); every journal starts with the bytes it held at each kill
(a torn tail moved to FILE.torn); exit code 0 and a report listing the day's trades.

The functions are importable: tests/reliability/test_crash_restart.py runs a short version.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
ET = ZoneInfo("America/New_York")
KEY, SECRET = "zdte-sim-key", "zdte-sim-secret"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
PREFIX_DEFAULT = "zdte"
_CID = re.compile(r"^(?P<prefix>[A-Za-z0-9]+)-(?P<day>\d{8})-(?P<trade>\d{2,})(?P<kind>[oc])-(?P<attempt>\d{2,})$")
_OCC = re.compile(r"^(?P<root>[A-Z]+)(?P<expiry>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
_URL = re.compile(r"(http://127\.0\.0\.1:\d+)")
LIQUIDATION_LEAD = timedelta(minutes=15)
"""The exchange liquidates expiring positions from 15 minutes before the close (15:45 ET)."""


# -- options and results --------------------------------------------------------------------------


@dataclass
class Options:
    kills: int = 50
    days: int = 3
    seed: int = 1
    first_date: date = date(2025, 7, 1)
    source: str = "stream"
    """The engine's data.source: serve-sim's streams (REST when they fail), or polling only."""
    window: tuple[dtime, dtime] = (dtime(9, 55), dtime(15, 20))
    """Kill targets are drawn in this ET window, clipped to each session (before its hard exit)."""
    order_event_prob: float = 0.25
    """Before its target, each change of the newest order at the server (submit, fill, cancel) kills with this
    probability (the kill still counts against the day's quota)."""
    startup_delay_s: tuple[float, float] = (0.0, 0.04)
    """A target already passed at restart kills the engine this many wall seconds after it starts writing its
    journal (header, reconciliation, the first moves)."""
    poll_s: float = 0.003
    run_timeout_s: float = 90.0
    python: str = sys.executable
    workdir: Path | None = None
    keep: bool = False


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Kill:
    n: int
    day: date
    mode: str  # time | order-event | startup | timeout
    target: datetime
    sim_at_kill: datetime | None = None
    state: str = "?"
    journal_bytes: int = 0
    records: int = 0
    torn: bool = False
    new_torn: bool = False
    torn_tail: bytes = b""
    positions: list[dict[str, Any]] = field(default_factory=list)
    open_orders: list[str] = field(default_factory=list)
    open_condors: int = 0
    problems: list[str] = field(default_factory=list)
    snapshot: Path | None = None
    wall_after_start: float = 0.0


@dataclass
class Run:
    n: int
    exit_code: int | None
    killed: bool
    wall_s: float
    stdout: Path
    stderr: Path


@dataclass
class DayResult:
    day: date
    kills: list[Kill] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    positions_at_end: list[dict[str, Any]] = field(default_factory=list)
    sim_at_end: datetime | None = None
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    logs_dir: Path | None = None


@dataclass
class Result:
    options: Options
    days: list[DayResult]
    wall_s: float
    workdir: Path

    @property
    def checks(self) -> list[Check]:
        return [c for d in self.days for c in d.checks]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def kills(self) -> list[Kill]:
        return [k for d in self.days for k in d.kills]

    def figures(self) -> list[tuple[str, str, bool]]:
        """(figure, value, ok) rows of the final table."""
        days = self.days
        n = len(days)
        kills = self.kills
        f = [d.facts for d in days]

        def total(key: str) -> int:
            return sum(x.get(key, 0) for x in f)

        def days_ok(name: str) -> int:
            return sum(all(c.ok for c in d.checks if c.name == name) for d in days)

        restarts = sum(len(d.runs) - 1 for d in days)
        snap_total, snap_ok = total("snapshots"), total("snapshots_verified")
        return [
            ("kills done", f"{len(kills)}/{self.options.kills}", True),
            ("restarts", str(restarts), True),
            ("kills during start-up", str(sum(k.mode == "startup" for k in kills)), True),
            ("kills right after an order event", str(sum(k.mode == "order-event" for k in kills)), True),
            ("kills with an open condor", str(sum(k.open_condors > 0 for k in kills)), True),
            ("kills with a working order", str(sum(bool(k.open_orders) for k in kills)), True),
            ("orders", str(total("orders")), True),
            ("trades", str(total("trades")), True),
            ("duplicate client order ids", str(total("duplicate_ids")), total("duplicate_ids") == 0),
            ("ids refused as reused", str(total("reused_ids")), total("reused_ids") == 0),
            ("trades opened twice", str(total("opened_twice")), total("opened_twice") == 0),
            (
                "max open condors (limit)",
                f"{max((x.get('max_open', 0) for x in f), default=0)} ({f[0].get('limit', '?') if f else '?'})",
                days_ok("open condors within the limit") == n,
            ),
            (
                "broken condors seen",
                str(sum(bool(k.problems) for k in kills) + total("broken_at_end")),
                days_ok("complete condors at every kill") == n,
            ),
            ("days flat", f"{days_ok('flat at the end of the day')}/{n}", days_ok("flat at the end of the day") == n),
            ("final runs exit 0", f"{days_ok('final run exit 0')}/{n}", days_ok("final run exit 0") == n),
            (
                "reports list the trades",
                f"{days_ok('report lists the trades')}/{n}",
                days_ok("report lists the trades") == n,
            ),
            ("journals verified", f"{total('journals_verified')}/{n}", total("journals_verified") == n),
            (
                "journals on the simulated clock",
                f"{days_ok('journal on the simulated clock')}/{n}",
                days_ok("journal on the simulated clock") == n,
            ),
            ("kill snapshots verified", f"{snap_ok}/{snap_total}", snap_ok == snap_total),
            (
                "journal prefixes kept",
                f"{total('prefix_kept')}/{total('prefix_checked')}",
                total("prefix_kept") == total("prefix_checked"),
            ),
            (
                "torn tails",
                f"{total('torn')} (moved to .torn: {total('torn_kept')})",
                total("torn_kept") == total("torn"),
            ),
            ("engine hangs", str(total("hangs")), total("hangs") == 0),
            ("wall time", f"{self.wall_s:.1f}s", True),
        ]


# -- small helpers ----------------------------------------------------------------------------------


def parse_cid(cid: str, prefix: str = PREFIX_DEFAULT) -> tuple[date, int, str, int] | None:
    """(day, trade, 'entry'|'exit', attempt) of one of the engine's ids, else None."""
    m = _CID.match(cid or "")
    if m is None or m["prefix"] != prefix:
        return None
    day = datetime.strptime(m["day"], "%Y%m%d").date()
    return day, int(m["trade"]), "entry" if m["kind"] == "o" else "exit", int(m["attempt"])


def parse_occ(symbol: str) -> tuple[str, str, float] | None:
    """(expiry yymmdd, right C|P, strike) of an OCC option symbol."""
    m = _OCC.match(symbol)
    if m is None:
        return None
    return m["expiry"], m["right"], int(m["strike"]) / 1000


def _num(x: Any) -> float:
    return float(x) if x not in (None, "") else 0.0


def _ts(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def session_days(first: date, n: int) -> list[tuple[date, datetime, datetime]]:
    """The first n exchange sessions from `first`: (day, open, close) in ET."""
    sys.path.insert(0, str(REPO))
    from engine.calendar import ExchangeCalendar

    cal = ExchangeCalendar()
    sessions = [cal.session(d) for d in cal.sessions_from(first, n)]
    return [(s.day, s.open, s.close) for s in sessions if s is not None]


def hard_exit_of(day: date, close: datetime, hard_exit: dtime) -> datetime:
    """The engine's rule: the configured hard exit, or as long before an early close as before 16:00."""
    before_close = timedelta(hours=16) - timedelta(hours=hard_exit.hour, minutes=hard_exit.minute)
    return min(datetime.combine(day, hard_exit, tzinfo=ET), close - before_close)


def split_kills(total: int, days: int) -> list[int]:
    base, extra = divmod(total, days)
    return [base + (1 if i < extra else 0) for i in range(days)]


# -- the processes ------------------------------------------------------------------------------


class SimServer:
    """`run.py serve-sim` in its own process, on a free port of 127.0.0.1."""

    def __init__(self, day: date, seed: int, workdir: Path, python: str) -> None:
        self.day, self.seed = day, seed
        self.out = workdir / "serve-sim.out"
        self.err = workdir / "serve-sim.err"
        self._out = open(self.out, "wb")  # noqa: SIM115 - closed in stop()
        self._err = open(self.err, "wb")  # noqa: SIM115
        cmd = [python, "run.py", "serve-sim", "--port", "0", "--date", day.isoformat(), "--seed", str(seed)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self._out, stderr=self._err, env=engine_env())
        self.url = self._wait_url()
        self.http = requests.Session()
        self.http.headers.update(HEADERS)

    def _wait_url(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = _URL.search(self.out.read_text(errors="replace"))
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve-sim exited {self.proc.returncode}: {self.err.read_text(errors='replace')}")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("serve-sim printed no URL")

    def get(self, path: str) -> Any:
        r = self.http.get(self.url + path, timeout=10)
        r.raise_for_status()
        return r.json()

    def now(self) -> datetime:
        return datetime.fromisoformat(self.get("/sim/info")["now"])

    def orders(self) -> list[dict[str, Any]]:
        return self.get("/v2/orders?status=all&limit=500&direction=asc")

    def open_orders(self) -> list[dict[str, Any]]:
        return self.get("/v2/orders?status=open&limit=500")

    def positions(self) -> list[dict[str, Any]]:
        return self.get("/v2/positions")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if hasattr(self, "http"):
            self.http.close()
        self._out.close()
        self._err.close()


def engine_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ALPACA_API_KEY"], env["ALPACA_SECRET_KEY"] = KEY, SECRET
    env["ZDTE_NOTIFY_URLS"] = ""  # fifty restarts are no news for the trader's own alert URLs
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


def write_config(
    path: Path, url: str, day: date, seed: int, logs_dir: Path, kill_file: Path, source: str = "stream"
) -> dict[str, Any]:
    """The loopback example, pointed at this server, this day and the temp dir, on streams or polling."""
    raw = yaml.safe_load((REPO / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    raw.setdefault("data", {})["source"] = source
    raw["logs_dir"] = str(logs_dir)
    raw["broker"] = "alpaca"
    raw["session"].update(date=day, days=1)
    raw["sim"]["seed"] = seed
    raw["risk"]["kill_file"] = str(kill_file)
    raw["alpaca"].update(trading_url=url, data_url=url)
    raw["report"] = {"html": False}  # the harness measures restarts, not the pages
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return raw


# -- journal snapshots --------------------------------------------------------------------------


def journal_state(data: bytes) -> tuple[int, str]:
    """(complete records, the state the engine was in) from a journal's bytes."""
    lines = data.split(b"\n")
    complete = lines[:-1]
    state = "-"
    for raw in reversed(complete):
        if b'"kind":"transition"' not in raw and b'"kind":"reconcile"' not in raw and b'"kind":"header"' not in raw:
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if rec.get("kind") == "transition":
            state = rec.get("dest", "?")
        elif rec.get("kind") == "reconcile":
            state = "Initializing (reconciled)"
        else:
            state = "Initializing"
        break
    return len(complete), state


# -- checks on the server's view ------------------------------------------------------------------


@dataclass
class TradeView:
    """One trade number's orders at the server: which entry attempts filled, with which legs, and what it still
    holds (its fills summed per symbol: entry and exit attempts of one trade may differ in legs after a restart)."""

    trade_no: int
    entry_legs: list[dict[str, Any]] = field(default_factory=list)
    entry_filled: int = 0
    entry_attempts_filled: list[str] = field(default_factory=list)
    exit_filled: int = 0
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    residual: Counter = field(default_factory=Counter)

    @property
    def open_qty(self) -> int:
        return self.entry_filled - self.exit_filled

    @property
    def is_open(self) -> bool:
        return any(self.residual.values())

    def shape_problem(self) -> str | None:
        """None when what the trade holds is nothing or whole condors of its filled entry legs, else why not."""
        held = {s: q for s, q in self.residual.items() if q}
        if not held:
            return None
        want = {leg["symbol"]: _signed_leg(leg, 1) for leg in self.entry_legs}
        k = {s: held.get(s, 0) / w for s, w in want.items() if w}
        if set(held) <= set(want) and len(set(k.values())) == 1 and next(iter(k.values())) > 0:
            return None
        return f"trade {self.trade_no} holds {_fmt_holding(held)}, not whole condors of {_fmt_holding(want)}"


def _signed_leg(leg: dict[str, Any], qty: int) -> int:
    ratio = int(_num(leg.get("ratio_qty")) or 1)
    return ratio * qty * (1 if leg["side"] == "buy" else -1)


def _fmt_holding(held: dict[str, int]) -> str:
    return ", ".join(f"{s} {q:+d}" for s, q in sorted(held.items()))


def trades_from_orders(orders: list[dict[str, Any]], day: date, prefix: str = PREFIX_DEFAULT) -> dict[int, TradeView]:
    trades: dict[int, TradeView] = {}
    for o in sorted(orders, key=lambda o: o.get("submitted_at") or ""):
        parsed = parse_cid(o["client_order_id"], prefix)
        if parsed is None or parsed[0] != day:
            continue
        _, trade_no, kind, _ = parsed
        t = trades.setdefault(trade_no, TradeView(trade_no))
        filled = int(_num(o.get("filled_qty")))
        when = _ts(o.get("filled_at"))
        legs = o.get("legs") or []
        if kind == "entry" and not t.entry_filled:
            t.entry_legs = legs  # the last attempt sent, until one fills
        if not filled:
            continue
        for leg in legs:
            t.residual[leg["symbol"]] += _signed_leg(leg, filled)
        if kind == "entry":
            if not t.entry_filled:
                t.entry_legs = legs
            t.entry_filled += filled
            t.entry_attempts_filled.append(o["client_order_id"])
            if when is not None:
                t.opened_at = min(x for x in (t.opened_at, when) if x is not None)
        else:
            t.exit_filled += filled
            if when is not None:
                t.closed_at = max(x for x in (t.closed_at, when) if x is not None)
    return trades


def max_open_condors(trades: dict[int, TradeView]) -> int:
    """The most trades holding positions at once over the day, from fill times (a close and an open in the same
    second: the close first); a trade still holding something at the end counts as open to the end."""
    events = []
    for t in trades.values():
        if t.entry_filled and t.opened_at is not None:
            events.append((t.opened_at, 1, 1))
            if not t.is_open and t.closed_at is not None:
                events.append((t.closed_at, 0, -1))
    most = cur = 0
    for _, _, d in sorted(events):
        cur += d
        most = max(most, cur)
    return most


def condor_problems(
    positions: list[dict[str, Any]], orders: list[dict[str, Any]], day: date, prefix: str = PREFIX_DEFAULT
) -> tuple[int, list[str]]:
    """(trades holding positions, problems) of what the account holds: per expiry and right as many long as short
    contracts (every short leg has its wing); every trade holds nothing or whole condors of the legs its entry
    filled with; the positions are exactly what the fills of the engine's orders add up to."""
    problems: list[str] = []
    held = {p["symbol"]: int(_num(p["qty"])) for p in positions}
    by_group: dict[tuple[str, str], list[int]] = {}
    for symbol, qty in held.items():
        occ = parse_occ(symbol)
        if occ is None:
            problems.append(f"{symbol}: not an option position")
            continue
        longs_shorts = by_group.setdefault((occ[0], occ[1]), [0, 0])
        longs_shorts[0 if qty > 0 else 1] += abs(qty)
    for (expiry, right), (longs, shorts) in sorted(by_group.items()):
        if longs != shorts:
            problems.append(f"{expiry} {right}: {longs} long vs {shorts} short")
    trades = trades_from_orders(orders, day, prefix)
    expected: Counter[str] = Counter()
    open_trades = 0
    for t in trades.values():
        expected.update(t.residual)
        if t.is_open:
            open_trades += 1
            if why := t.shape_problem():
                problems.append(why)
    for o in orders:  # fills of orders that are not the engine's (none expected) still explain positions
        if parse_cid(o["client_order_id"], prefix) is None and int(_num(o.get("filled_qty"))):
            for leg in o.get("legs") or [{"symbol": o.get("symbol"), "side": o.get("side"), "ratio_qty": 1}]:
                expected[leg["symbol"]] += _signed_leg(leg, int(_num(o.get("filled_qty"))))
    diff = {s: (held.get(s, 0), q) for s in set(held) | set(expected) if held.get(s, 0) != (q := expected.get(s, 0))}
    if diff:
        problems.append(
            "positions differ from the sum of fills: "
            + ", ".join(f"{s} held {h:+d}, fills say {f:+d}" for s, (h, f) in sorted(diff.items()))
        )
    return open_trades, problems


def verify_journals(python: str, files: list[Path]) -> dict[Path, tuple[bool, str]]:
    """`run.py journal verify` on the files: ok (a torn last line allowed) and its output per file."""
    if not files:
        return {}
    cmd = [python, "run.py", "journal", "verify", *map(str, files)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=engine_env(), timeout=120)
    out: dict[Path, tuple[bool, str]] = {}
    lines = proc.stdout.splitlines()
    for f in files:
        mine = [ln for ln in lines if ln.startswith(f"{f}:")]
        verdict = next((ln for ln in mine if ": ok: " in ln or ": BROKEN: " in ln), None)
        ok = verdict is not None and ": ok: " in verdict
        out[f] = (ok, "\n".join(mine) or proc.stdout + proc.stderr)
    return out


# -- one day ----------------------------------------------------------------------------------------


class DayRunner:
    def __init__(
        self,
        opts: Options,
        day: date,
        open_: datetime,
        close: datetime,
        n_kills: int,
        rng: random.Random,
        workdir: Path,
        say: Callable[[str], None],
        kill_no: int,
        last_day: bool = True,
    ) -> None:
        self.opts, self.day, self.open, self.close = opts, day, open_, close
        self.rng, self.say = rng, say
        self.events = random.Random(f"{opts.seed}/{day}")
        """Draws whose number depends on timing (order events, start-up delays, moved targets), apart from `rng`
        (the targets), so a seed always gives the same target times."""
        self.dir = workdir / day.isoformat()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs = self.dir / "logs"
        self.snaps = self.dir / "snapshots"
        self.snaps.mkdir(exist_ok=True)
        self.result = DayResult(day, logs_dir=self.logs)
        self.n_kills = n_kills
        self.last_day = last_day
        self.kill_no = kill_no
        self.journal = self.logs / f"audit-{day:%Y%m%d}.jsonl"

    def targets(self, cfg: dict[str, Any]) -> list[datetime]:
        lo = max(datetime.combine(self.day, self.opts.window[0], tzinfo=ET), self.open + timedelta(minutes=25))
        hard_exit = hard_exit_of(self.day, self.close, dtime.fromisoformat(str(cfg["risk"]["hard_exit"])))
        hi = min(datetime.combine(self.day, self.opts.window[1], tzinfo=ET), hard_exit)
        span = max((hi - lo).total_seconds(), 60.0)
        self.window_end = lo + timedelta(seconds=span)
        out = [lo + timedelta(seconds=self.rng.uniform(0, span)) for _ in range(self.n_kills)]
        return sorted(t.replace(microsecond=0) for t in out)

    def run(self) -> DayResult:
        opts, day = self.opts, self.day
        self.say(f"day {day}: serve-sim --date {day} --seed {opts.seed}")
        server = SimServer(day, opts.seed, self.dir, opts.python)
        try:
            cfg_path = self.dir / "config.yaml"
            cfg = write_config(cfg_path, server.url, day, opts.seed, self.logs, self.dir / "KILL", opts.source)
            self.cfg = cfg
            self.prefix = cfg["orders"]["client_order_id_prefix"]
            targets = self.targets(cfg)
            cmd = [opts.python, "run.py", "--config", str(cfg_path), "--quiet"]
            i = 0
            while i < len(targets):
                target = targets[i]
                now = server.now()
                prev = self.result.kills[-1] if self.result.kills else None
                if now >= target and prev is not None and prev.mode == "startup":
                    # no storm of start-up kills: a second passed target moves to a fresh moment ahead, or to the
                    # next day when this one has no room left (on the last day it stays a start-up kill)
                    left = len(targets) - i
                    room = (self.window_end - now).total_seconds()
                    if room > 60.0:
                        target = now + timedelta(seconds=self.events.uniform(1.0, room / left))
                    elif not self.last_day:
                        self.say(f"  {left} kill(s) left at {now:%H:%M:%S}: moved to the next day")
                        break
                _, kill = self._one_run(server, cmd, target)
                if kill is None:  # the engine finished the day before the target came
                    break
                i += 1
            else:
                self._one_run(server, cmd, None)
            if i < len(targets) and self.result.runs and self.result.runs[-1].killed:
                self._one_run(server, cmd, None)
            self.result.sim_at_end = server.now()
            self.result.positions_at_end = server.positions()
            self.result.orders = server.orders()
            self.result.facts["open_orders_at_end"] = [o["client_order_id"] for o in server.open_orders()]
        finally:
            server.stop()
        self._checks()
        return self.result

    def _one_run(self, server: SimServer, cmd: list[str], target: datetime | None) -> tuple[Run, Kill | None]:
        n = len(self.result.runs) + 1
        out, err = self.dir / f"run-{n:02d}.out", self.dir / f"run-{n:02d}.err"
        start_sim = server.now()
        startup = target is not None and start_sim >= target
        delay = self.events.uniform(*self.opts.startup_delay_s) if startup else 0.0
        mode = "startup" if startup else "time"
        base = self.journal_size()
        t0 = time.monotonic()
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=fo, stderr=fe, env=engine_env())
            try:
                self._last_now = None
                killed_at = self._watch(server, proc, target, mode, delay, base, t0)
            finally:
                if proc.poll() is None and target is None:
                    proc.kill()
                proc.wait()
        wall = time.monotonic() - t0
        run = Run(n, None if killed_at else proc.returncode, killed_at is not None, wall, out, err)
        self.result.runs.append(run)
        if killed_at is None:
            if target is not None:
                self.say(f"  run {n}: finished (exit {proc.returncode}) before the kill target {target:%H:%M:%S}")
            else:
                self.say(f"  run {n}: final run, exit {proc.returncode}, {wall:.1f}s")
            return run, None
        time.sleep(0.02)  # a request the engine sent just before dying is still being answered
        kill = self._snapshot(server, target, self._how, wall)
        return run, kill

    def _watch(
        self,
        server: SimServer,
        proc: subprocess.Popen,
        target: datetime | None,
        mode: str,
        delay: float,
        base: int,
        t0: float,
    ) -> datetime | None:
        """Poll the simulated clock and the newest order; SIGKILL the engine when its moment comes. The sim time of
        the kill (how it fired in self._how), or None when the engine exited by itself.

        time: the first poll at or past the target; before it, each change of the newest order at the server (a
        submit, a fill, a cancel) kills with probability `order_event_prob`, a few random milliseconds later, so
        kills land right after an order moved, before or while the engine writes it down. startup: `delay` wall
        seconds after the engine's first journal write (its header, then reconciliation)."""
        opts = self.opts
        seen: tuple | None = None
        fire_at: float | None = None
        how = mode
        while True:
            if proc.poll() is not None:
                return None
            elapsed = time.monotonic() - t0
            if target is None:
                if elapsed > opts.run_timeout_s:
                    self.say(f"  engine still running after {elapsed:.0f}s: killed (a hang)")
                    self.result.facts["hangs"] = self.result.facts.get("hangs", 0) + 1
                    proc.kill()
                    return None
                time.sleep(0.02)
                continue
            now = None
            if fire_at is None:
                try:
                    now = server.now()
                except requests.RequestException:
                    now = None
            if fire_at is not None:
                pass
            elif elapsed > opts.run_timeout_s:
                self.say(f"  engine still running after {elapsed:.0f}s without reaching {target:%H:%M:%S}: a hang")
                self.result.facts["hangs"] = self.result.facts.get("hangs", 0) + 1
                fire_at, how = 0.0, "timeout"
            elif mode == "startup":
                if self.journal_size() > base:
                    fire_at = time.monotonic() + delay
                elif elapsed > 5.0:
                    fire_at = 0.0
            elif now is not None and now >= target:
                fire_at = 0.0
            elif opts.order_event_prob > 0:
                try:
                    newest = server.get("/v2/orders?status=all&limit=1&direction=desc")
                except requests.RequestException:
                    newest = None
                if newest is not None:
                    sig = tuple((o["client_order_id"], o["status"], o["filled_qty"]) for o in newest)
                    if seen is not None and sig != seen and self.events.random() < opts.order_event_prob:
                        fire_at = time.monotonic() + self.events.uniform(0.0, 0.015)
                        how = "order-event"
                    seen = sig
            if fire_at is not None and time.monotonic() >= fire_at:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                self._how = how
                return now or self._last_now or target
            if now is not None:
                self._last_now = now
            time.sleep(opts.poll_s if fire_at is None else 0.001)

    def journal_size(self) -> int:
        try:
            return self.journal.stat().st_size
        except FileNotFoundError:
            return 0

    def _snapshot(self, server: SimServer, target: datetime, mode: str, wall: float) -> Kill:
        self.kill_no += 1
        k = Kill(self.kill_no, self.day, mode, target, wall_after_start=wall)
        data = self.journal.read_bytes() if self.journal.exists() else b""
        k.sim_at_kill = server.now()
        k.positions = server.positions()
        k.open_orders = [o["client_order_id"] for o in server.open_orders()]
        orders = server.orders()
        k.open_condors, k.problems = condor_problems(k.positions, orders, self.day, self.prefix)
        k.journal_bytes = len(data)
        k.records, k.state = journal_state(data)
        if data and not data.endswith(b"\n"):
            k.torn = True
            k.torn_tail = data[data.rfind(b"\n") + 1 :]
            prev = self.result.kills[-1] if self.result.kills else None
            k.new_torn = not (prev is not None and prev.torn and prev.torn_tail == k.torn_tail)
        if data:
            k.snapshot = self.snaps / f"kill-{k.n:03d}.jsonl"
            k.snapshot.write_bytes(data)
        self.result.kills.append(k)
        flags = []
        if k.open_condors:
            flags.append(f"{k.open_condors} condor open")
        if k.open_orders:
            flags.append("working " + ",".join(k.open_orders))
        if k.torn:
            flags.append("TORN tail" if k.new_torn else "torn tail (same)")
        if k.problems:
            flags.append("BROKEN: " + "; ".join(k.problems))
        self.say(
            f"kill {k.n:3d} {self.day} {mode:<14s} target {target:%H:%M:%S} -> killed at "
            f"{k.sim_at_kill:%H:%M:%S} in {k.state:<12s} after {wall:4.1f}s; journal {k.records} records"
            + (f"; {', '.join(flags)}" if flags else "")
        )
        return k

    # -- the day's checks -----------------------------------------------------------------------

    def _checks(self) -> None:
        r, day, prefix = self.result, self.day, self.prefix
        checks = r.checks
        facts = r.facts
        orders = r.orders
        cids = Counter(o["client_order_id"] for o in orders)
        dups = sorted(c for c, n in cids.items() if n > 1)
        foreign = sorted(c for c in cids if parse_cid(c, prefix) is None)
        trades = trades_from_orders(orders, day, prefix)
        twice = {t.trade_no: t.entry_attempts_filled for t in trades.values() if len(t.entry_attempts_filled) > 1}
        limit = int(self.cfg["risk"]["max_open_spreads"])
        most = max_open_condors(trades)
        facts.update(
            orders=len(orders),
            duplicate_ids=len(dups),
            opened_twice=len(twice),
            max_open=most,
            limit=limit,
            trades=sum(1 for t in trades.values() if t.entry_filled),
        )
        checks.append(
            Check(
                "one order per client order id",
                not dups and not foreign,
                f"duplicates {dups}, not the engine's {foreign}" if dups or foreign else f"{len(orders)} orders",
            )
        )
        checks.append(Check("no trade opened twice", not twice, f"{twice}" if twice else f"{facts['trades']} trades"))
        checks.append(Check("open condors within the limit", most <= limit, f"max {most}, limit {limit}"))
        max_trades = int(self.cfg["risk"]["max_daily_trades"])
        checks.append(
            Check(
                "trades within max_daily_trades",
                facts["trades"] <= max_trades,
                f"{facts['trades']} trades, limit {max_trades}",
            )
        )
        broken = [f"kill {k.n}: {'; '.join(k.problems)}" for k in r.kills if k.problems]
        over = [f"kill {k.n}: {k.open_condors} open" for k in r.kills if k.open_condors > limit]
        n_end, end_problems = condor_problems(r.positions_at_end, orders, day, prefix)
        facts["broken_at_end"] = int(bool(end_problems))
        checks.append(
            Check(
                "complete condors at every kill",
                not broken and not over and not end_problems,
                "; ".join(broken + over + end_problems) or f"{len(r.kills)} snapshots",
            )
        )
        final = r.runs[-1] if r.runs else None
        liq_at = self.close - LIQUIDATION_LEAD
        flat = not r.positions_at_end and not facts["open_orders_at_end"]
        early = r.sim_at_end is not None and r.sim_at_end < liq_at
        checks.append(
            Check(
                "flat at the end of the day",
                flat and early,
                f"positions {[(p['symbol'], p['qty']) for p in r.positions_at_end]}, open orders "
                f"{facts['open_orders_at_end']}, engine done at {r.sim_at_end:%H:%M:%S} (liquidation {liq_at:%H:%M})"
                if r.sim_at_end
                else "no end time",
            )
        )
        hangs = facts.get("hangs", 0)
        checks.append(Check("no engine hang", hangs == 0, f"{hangs} run(s) timed out"))
        code = final.exit_code if final is not None else None
        err = final.stderr.read_text(errors="replace").strip()[-400:] if final is not None else ""
        checks.append(
            Check(
                "final run exit 0",
                final is not None and not final.killed and code == 0,
                f"exit {code}" + (f"; stderr: {err}" if code else ""),
            )
        )
        checks.append(self._report_check(trades))
        self._journal_checks()
        data = self.journal.read_bytes() if self.journal.exists() else b""
        facts["reused_ids"] = data.count(b"client_order_id must be unique")

    def _report_check(self, trades: dict[int, TradeView]) -> Check:
        path = self.logs / f"report-{self.day:%Y%m%d}.json"
        if not path.exists():
            return Check("report lists the trades", False, f"{path} missing")
        report = json.loads(path.read_text())
        listed = sorted(t["trade_no"] for t in report.get("trades", []))
        at_server = sorted(t.trade_no for t in trades.values() if t.entry_filled)
        closed = sorted(t.trade_no for t in trades.values() if t.entry_filled and not t.is_open)
        problems = []
        if listed != at_server:
            problems.append(f"report trades {listed}, server trades {at_server}")
        if report.get("open_at_end"):
            problems.append(f"open at end: {report['open_at_end']}")
        if sorted(t["trade_no"] for t in report.get("trades", []) if t.get("exit_time")) != closed:
            problems.append(f"closed at the server {closed}")
        for t in report.get("trades", []):
            tv = trades.get(t["trade_no"])
            if tv is not None and t.get("qty") != tv.entry_filled:
                problems.append(f"trade {t['trade_no']}: qty {t.get('qty')} vs filled {tv.entry_filled}")
            filled_legs = sorted(f"{leg['side']}:{leg['symbol']}" for leg in tv.entry_legs) if tv else []
            if tv is not None and sorted(t.get("legs", [])) != filled_legs:
                problems.append(f"trade {t['trade_no']}: legs {t.get('legs')} but its entry filled {filled_legs}")
        return Check("report lists the trades", not problems, "; ".join(problems) or f"trades {listed}")

    def _journal_checks(self) -> None:
        r, facts = self.result, self.result.facts
        snaps = [k.snapshot for k in r.kills if k.snapshot is not None]
        files = ([self.journal] if self.journal.exists() else []) + snaps
        verdicts = verify_journals(self.opts.python, files)
        final_ok, final_out = verdicts.get(self.journal, (False, f"{self.journal} missing"))
        facts["journals_verified"] = int(final_ok)
        bad_snaps = [f"{p.name}: {verdicts[p][1]}" for p in snaps if not verdicts[p][0]]
        facts["snapshots"], facts["snapshots_verified"] = len(snaps), len(snaps) - len(bad_snaps)
        r.checks.append(Check("journal verifies", final_ok, final_out.splitlines()[-1] if final_out else ""))
        r.checks.append(Check("kill snapshots verify", not bad_snaps, "; ".join(bad_snaps) or f"{len(snaps)} files"))
        data = self.journal.read_bytes() if self.journal.exists() else b""
        off_clock = []
        for n, raw in enumerate(data.splitlines(), start=1):
            try:
                ts = datetime.fromisoformat(json.loads(raw)["ts"])
            except (ValueError, KeyError, TypeError):
                continue
            if ts.astimezone(ET).date() != self.day:
                off_clock.append(f"line {n}: ts {ts.isoformat()}")
        facts["off_clock"] = len(off_clock)
        r.checks.append(
            Check(
                "journal on the simulated clock",
                not off_clock,
                f"{len(off_clock)} record(s) not on {self.day} (a run on the wall clock?): {off_clock[:3]}"
                if off_clock
                else "every ts on the session date",
            )
        )
        torn_file = self.journal.with_suffix(self.journal.suffix + ".torn")
        torn_data = torn_file.read_bytes() if torn_file.exists() else b""
        lost, kept, torn, torn_kept, missing_tails = [], 0, 0, 0, []
        for k in r.kills:
            if k.snapshot is None:
                kept += 1
                continue
            snap = k.snapshot.read_bytes()
            cut = snap.rfind(b"\n") + 1
            if data.startswith(snap[:cut]):
                kept += 1
            else:
                lost.append(f"kill {k.n}: first difference at byte {_first_diff(snap[:cut], data)}")
            if k.new_torn:
                torn += 1
                if k.torn_tail + b"\n" in torn_data:
                    torn_kept += 1
                else:
                    missing_tails.append(f"kill {k.n}")
        facts.update(prefix_checked=len(r.kills), prefix_kept=kept, torn=torn, torn_kept=torn_kept)
        r.checks.append(
            Check(
                "journal keeps every byte written before a kill", not lost, "; ".join(lost) or f"{kept}/{len(r.kills)}"
            )
        )
        r.checks.append(
            Check(
                "torn tails moved to FILE.torn",
                not missing_tails,
                f"missing for {missing_tails}" if missing_tails else f"{torn_kept}/{torn}",
            )
        )


def _first_diff(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


# -- the whole run ----------------------------------------------------------------------------------


def engine_revision() -> str:
    """The checkout's commit, and whether engine/ or states/ differ from it (read-only git calls)."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "engine", "states"], cwd=REPO, capture_output=True, text=True
        )
    except OSError:
        return "unknown revision"
    text = rev.stdout.strip() or "unknown revision"
    return text + (" with uncommitted changes in engine/ or states/" if dirty.stdout.strip() else "")


def run_harness(opts: Options, say: Callable[[str], None] = print) -> Result:
    t0 = time.monotonic()
    own_tmp = opts.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="zdte-crash-")) if own_tmp else Path(opts.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(opts.seed)
    say(f"engine at {engine_revision()}; work dir {workdir}")
    days = session_days(opts.first_date, opts.days)
    quota = split_kills(opts.kills, len(days))
    results: list[DayResult] = []
    carry = 0
    kill_no = 0
    for i, (day, open_, close) in enumerate(days):
        n = quota[i] + carry
        dr = DayRunner(opts, day, open_, close, n, rng, workdir, say, kill_no, i == len(days) - 1).run()
        kill_no += len(dr.kills)
        carry = n - len(dr.kills)
        results.append(dr)
        bad = [c for c in dr.checks if not c.ok]
        say(
            f"day {day}: {len(dr.kills)} kill(s), {len(dr.runs)} run(s), "
            + ("all checks pass" if not bad else "FAILED: " + "; ".join(f"{c.name} ({c.detail})" for c in bad))
        )
    result = Result(opts, results, time.monotonic() - t0, workdir)
    if own_tmp and result.ok and not opts.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def format_result(result: Result) -> str:
    rows = result.figures()
    width = max(len(name) for name, _, _ in rows)
    lines = ["", f"{'figure':<{width}}  value", f"{'-' * width}  {'-' * 24}"]
    for name, value, ok in rows:
        lines.append(f"{name:<{width}}  {value}" + ("" if ok else "   <-- FAIL"))
    failed = [c for c in result.checks if not c.ok]
    lines.append("")
    if failed:
        lines.append(f"FAILED checks ({len(failed)}):")
        for d in result.days:
            lines += [f"  {d.day} {c.name}: {c.detail}" for c in d.checks if not c.ok]
        lines.append(f"files kept in {result.workdir}")
    else:
        lines.append(f"all {len(result.checks)} checks pass")
        if result.workdir.exists():
            lines.append(f"files kept in {result.workdir}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=50, help="SIGKILLs in total, spread across the days")
    ap.add_argument("--days", type=int, default=3, help="simulated sessions (one serve-sim each)")
    ap.add_argument("--seed", type=int, default=1, help="seeds the kill moments and the simulator")
    ap.add_argument("--first-date", type=date.fromisoformat, default=date(2025, 7, 1))
    ap.add_argument(
        "--source", choices=("stream", "poll"), default="stream",
        help="the engine on serve-sim's streams (REST when they fail; the default) or polling REST only",
    )
    ap.add_argument(
        "--order-event-prob", type=float, default=0.25, help="chance that an order event at the server kills the engine"
    )
    ap.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, removed on success)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir even when every check passes")
    args = ap.parse_args(argv)
    if args.kills < 0 or args.days < 1:
        ap.error("--kills must be >= 0 and --days >= 1")
    opts = Options(
        kills=args.kills,
        days=args.days,
        seed=args.seed,
        first_date=args.first_date,
        source=args.source,
        order_event_prob=args.order_event_prob,
        workdir=args.workdir,
        keep=args.keep,
    )
    result = run_harness(opts)
    print(format_result(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
