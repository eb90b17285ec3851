"""A session's report, built from its journal alone.

The live run and `run.py report` use this one function, so a rebuilt report is the report. Everything
comes from what the journal holds: the trades from `opened`/`closed` records, the states from the
transitions, the market (bars, quotes, account) and the API's answers from the recorded port calls.
A journal recorded without its inputs still gives trades, states and counters; its charts and API
figures say they have no data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.calendar import ExchangeCalendar
from engine.config import Config, parse_config
from engine.journal.codec import decode, decode_result
from engine.journal.recording import PORT_OF, calls_by_method
from engine.models import Account, Bars, Session
from engine.schedule import Schedule

EXIT_KINDS = (
    ("profit target", "profit target"),
    ("spread stop", "spread stop"),
    ("time exit", "time exit"),
    ("flatten:", "halt"),
    ("close_positions_on_shutdown", "shutdown"),
    ("settled by the broker", "settled at the close"),
)
API_PORTS = frozenset({"broker", "market_data"})

DEFINITIONS = {
    "uptime": "share of the session's market hours the run covered in which it was neither halted for an outage "
    "(a resumable halt: data, quote or broker) nor down (between a crash and its restart)",
    "order_success": "order attempts the broker took (answered, or found by client order id after a failed send) "
    "out of the attempts the engine sent; the risk gate's refusals are never sent",
    "api_failures": "broker and market-data calls that failed (an error other than an order rejection) out of all",
    "limit_breaches": "the day's P&L below -max_daily_loss, more trades than max_daily_trades, a position still "
    "open at the end, a condor found without a leg",
    "expectation_gap": "for a paper session: |paper - expected| / max(|expected|, the day's risk budget "
    "max_daily_loss); a simulated session is its own expectation",
}
TARGETS = {"uptime": 0.99, "order_success": 0.95, "api_failures": 0.01, "limit_breaches": 0, "expectation_gap": 0.15}


@dataclass(frozen=True)
class Interval:
    state: str
    start: datetime
    end: datetime
    reason: str
    outage: bool = False

    def within(self, lo: datetime, hi: datetime) -> float:
        return max((min(self.end, hi) - max(self.start, lo)).total_seconds(), 0.0)


def _ts(r: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(r["ts"])


def day_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records up to the day's close of books (`day_end`), or all of them when the day never closed."""
    ends = [i for i, r in enumerate(records) if r.get("kind") == "day_end"]
    return records[: ends[-1] + 1] if ends else records


def build_day(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The day's report; `records` are one journal's, header first."""
    records = day_records(records)
    header = records[0]
    cfg = parse_config(header["config"], "the journal's header")
    day = date.fromisoformat(header["session_date"])
    calls = Calls(calls_by_method(records))
    of = calls.of
    session = _session(day, of("session"))
    end = _ts(records[-1])
    timeline = intervals(records, end)
    trades = [_trade(r, records, cfg) for r in closed_records(records)]
    open_at_end = _open_at_end(records)
    account = _last_account(of("account"))
    total = None if session is None or account is None else round(account.equity - account.last_equity, 2)
    moves = [r for r in records if r.get("kind") == "transition"]
    schedule = None if session is None else Schedule.of(session, cfg.strategy, cfg.risk)
    report: dict[str, Any] = {
        "session_date": day.isoformat(),
        "underlying": cfg.underlying,
        "holiday": session is None,
        "session": None if schedule is None else {
            "open": schedule.open.isoformat(),
            "close": schedule.close.isoformat(),
            "entry_start": schedule.entry_start.isoformat(),
            "entry_end": schedule.entry_end.isoformat(),
            "hard_exit": schedule.hard_exit.isoformat(),
        },
        "generated_at_market_time": end.isoformat(),
        "end_state": moves[-1]["dest"] if moves else (header.get("resume") or {}).get("state", "Initializing"),
        "trades": trades,
        "trade_count": len({t["trade_no"] for t in trades}),
        "wins": sum(1 for t in trades if t["pnl"] > 0),
        "realized_pnl": round(sum(t["pnl"] for t in trades), 2),
        "total_pnl": total,
        "open_at_end": open_at_end,
        "transitions": len(moves),
        "refused_triggers": sum(1 for r in records if r.get("kind") == "refused"),
        "orders_submitted": order_events(records, "submit"),
        "fills": order_events(records, "fill"),
        "seconds_in_state": market_seconds(timeline, session),
        "timeline": [
            {"state": i.state, "start": i.start.isoformat(), "end": i.end.isoformat(), "reason": i.reason,
             "outage": i.outage}
            for i in timeline
        ],
        "stopped": _why_stopped(records, moves),
        "metrics": metrics(timeline, session, calls, records, cfg, total, trades, open_at_end),
        "series": {"underlying": _underlying(of("bars"), session), "trades": _marks(trades, of("quotes"))},
        "inputs_recorded": bool(calls),
    }
    if sim := next((r.get("simulator") for r in reversed(records) if r.get("kind") == "day_end"), None):
        report["simulator"] = sim
    return report


# --- states ---------------------------------------------------------------------------------------


def intervals(records: list[dict[str, Any]], end: datetime) -> list[Interval]:
    """Which state when: one interval per stay, `Down` between a run's last record and its restart, and
    outage halts (the resumable ones) marked."""
    out: list[Interval] = []
    state: str | None = None
    since = last = end
    why, outage = "", False
    for r in records:
        ts = _ts(r)
        if r.get("kind") == "header":
            if state is not None:
                out.append(Interval(state, since, last, why, outage))
                out.append(Interval("Down", last, ts, "the engine was not running (restarted)", True))
            state, since, why, outage = (r.get("resume") or {}).get("state", "Initializing"), ts, "start", False
        elif r.get("kind") == "transition" and state is not None:
            out.append(Interval(state, since, ts, why, outage))
            state, since, why, outage = r["dest"], ts, r.get("reason", ""), False
        elif r.get("kind") in ("halt", "halt_escalated") and state == "Halted":
            outage = bool(r.get("resumable"))  # the halt just entered (or what it became)
        last = ts
    if state is not None:
        out.append(Interval(state, since, end, why, outage))
    return out


def state_seconds(records: list[dict[str, Any]]) -> dict[str, float]:
    """Time in each state within market hours, for a journal's records (header first)."""
    header = records[0]
    session = _session(date.fromisoformat(header["session_date"]), Calls(calls_by_method(records)).of("session"))
    return market_seconds(intervals(records, _ts(records[-1])), session)


def market_seconds(timeline: list[Interval], session: Session | None) -> dict[str, float]:
    """Time in each state within the session's market hours: nights and weekends are not time spent."""
    out: dict[str, float] = {}
    if session is None:
        return out
    for i in timeline:
        if (s := i.within(session.open, session.close)) > 0 or i.state not in out:
            out[i.state] = round(out.get(i.state, 0.0) + s, 1)
    return out


def _why_stopped(records: list[dict[str, Any]], moves: list[dict[str, Any]]) -> str | None:
    """Why no more trades were taken: the last halt that was not an outage, else the day's last move."""
    for r in reversed(records):
        if r.get("kind") == "halt" and not r.get("resumable"):
            reason = str(r.get("reason", ""))
            return f"{reason}: no more entries today" if reason.startswith("max_daily_trades") else reason
    return moves[-1].get("reason") if moves else None


# --- the market and the API, from the recorded calls ---------------------------------------------


@dataclass(frozen=True)
class Calls:
    """A journal's recorded calls by method (engine.journal.recording.calls_by_method): each part of the report
    reads the calls of its own method, not all of the day's."""

    by_method: dict[str, list[tuple[str, dict[str, Any]]]]

    def of(self, method: str) -> list[tuple[str, dict[str, Any]]]:
        return self.by_method.get(method, [])

    def __bool__(self) -> bool:
        return bool(self.by_method)


def _results(
    calls: list[tuple[str, dict[str, Any]]], method: str, since: str = "", until: str = "~"
) -> list[tuple[datetime, Any]]:
    """The answers to `method`, with the time their batch was journaled (at or after the call), in [since, until]
    (ISO times of one day compare as text). A repeated answer is decoded once."""
    decoded: dict[int, Any] = {}
    out = []
    for ts, c in calls:
        if "result" in c and since <= ts <= until:
            key = id(c["result"])
            if key not in decoded:
                decoded[key] = decode_result(c["port"], method, c["result"])
            out.append((datetime.fromisoformat(ts), decoded[key]))
    return out


def _session(day: date, calls: list[tuple[str, dict[str, Any]]]) -> Session | None:
    """The session as the engine was told (the broker's calendar: `calls` are the `session` calls), else the
    exchange calendar's."""
    for _, s in _results(calls, "session"):
        if s is None or s.day == day:
            return s
    return ExchangeCalendar().session(day)


def _last_account(calls: list[tuple[str, dict[str, Any]]]) -> Account | None:
    """The last of the `account` calls' answers: the only one decoded (a day asks it at every poll)."""
    last = next((c for _, c in reversed(calls) if "result" in c), None)
    return None if last is None else decode_result(last["port"], "account", last["result"])


def _underlying(calls: list[tuple[str, dict[str, Any]]], session: Session | None) -> list[list[Any]]:
    """Minute closes the engine saw (`calls`: the `bars` calls), within market hours: [epoch seconds of the bar's
    start, close]."""
    seen: dict[int, float] = {}
    done: set[int] = set()
    for _, c in calls:
        if "result" not in c or id(c["result"]) in done:
            continue
        done.add(id(c["result"]))
        data = c["result"]
        if isinstance(data, list):  # the codec's plain form, read as written: [symbol, ts, open, high, low, close, ...]
            seen.update(zip(data[1], data[5], strict=True))
        else:
            bars = decode_result(c["port"], "bars", data)
            assert isinstance(bars, Bars)
            seen.update(zip(bars.ts.tolist(), bars.close.tolist(), strict=True))
    if session is not None:
        lo, hi = session.open.timestamp(), session.close.timestamp()
        seen = {t: c for t, c in seen.items() if lo <= t < hi}
    return [[t, seen[t]] for t in sorted(seen)]


def _marks(trades: list[dict[str, Any]], calls: list[tuple[str, dict[str, Any]]]) -> dict[str, list[list[Any]]]:
    """Each trade's mark through its life, from every quote the engine asked for its legs (`calls`: the `quotes`
    calls), at the quotes' own time (the latest leg's): [time, mark, P&L]. Calls are journaled in batches, so a
    call's record time is not when it was made. Read from the recorded rows as written: a day holds hundreds of
    answers, and making each quote an OptionQuote first cost more than the rest of the report."""
    if not trades:
        return {}
    # calls are journaled before the decision that follows them, so every quote a trade was marked on is in a
    # batch written by its exit at the latest
    since, until = min(t["entry_time"] for t in trades), max(t["exit_time"] for t in trades)
    answers: dict[int, tuple[dict[str, list[Any]], str | None]] = {}
    for ts, c in calls:
        if "result" in c and since <= ts <= until and id(c["result"]) not in answers:
            answers[id(c["result"])] = _quote_rows(c["result"])
    when: dict[str, datetime] = {}

    def time_of(iso: str) -> datetime:
        at = when.get(iso)
        if at is None:
            at = when[iso] = datetime.fromisoformat(iso)
        return at

    out: dict[str, list[list[Any]]] = {}
    for t in trades:
        start, stop = datetime.fromisoformat(t["entry_time"]), datetime.fromisoformat(t["exit_time"])
        legs = [leg.split(":", 1) for leg in t["legs"]]
        signs, symbols = [1 if side == "buy" else -1 for side, _ in legs], [sym for _, sym in legs]
        first, entry, mult, qty = symbols[0], t["entry_price"], t["multiplier"], t["qty"]
        series: dict[datetime, list[Any]] = {}
        for got, shared in answers.values():
            if first not in got:  # another trade's legs: the common case, told by one look-up
                continue
            try:
                rows = [got[sym] for sym in symbols]
            except KeyError:  # not all of its legs
                continue
            at = time_of(shared) if shared else max(time_of(r[5]) for r in rows)
            if start <= at <= stop:
                try:
                    mark = sum([sign * (r[1] + r[2]) / 2.0 for sign, r in zip(signs, rows, strict=True)])
                except TypeError:  # a tagged value (NaN), decoded as the codec decodes it
                    rows = [[decode(v) for v in r] for r in rows]
                    mark = sum([sign * (r[1] + r[2]) / 2.0 for sign, r in zip(signs, rows, strict=True)])
                iso = shared or at.isoformat()  # a shared time is written as isoformat() spells it
                series[at] = [iso, round(mark, 4), round((mark - entry) * mult * qty, 2)]
        out[str(t["trade_no"])] = [series[at] for at in sorted(series)]
    return out


def _quote_rows(data: dict[str, Any]) -> tuple[dict[str, list[Any]], str | None]:
    """A recorded quotes answer (engine/journal/codec.py) as its rows by symbol, [symbol, bid, ask, iv, delta
    (, ISO time)] as written, and the ISO time the rows share (None: each row carries its own)."""
    return {row[0]: row for row in data["q"]}, data.get("at")


# --- trades ---------------------------------------------------------------------------------------


def exit_kind(reason: str) -> str:
    for prefix, kind in EXIT_KINDS:
        if reason.startswith(prefix):
            return kind
    return "other"


def _first_submit(records: list[dict[str, Any]], purpose: str, trade_no: int, after: str) -> dict[str, Any] | None:
    return next(
        (r for r in records if r.get("kind") == "order" and r.get("event") == "submit"
         and r.get("purpose") == purpose and r.get("trade_no") == trade_no and r["ts"] >= after),
        None,
    )


def closed_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every trade closed today: its `closed` record, or, for one whose record a crash cut off, what the
    restart's reconciliation rebuilt from the broker's orders."""
    closed = [r for r in records if r.get("kind") == "closed"]
    known = {r["trade_no"] for r in closed}
    for r in records:
        if r.get("kind") == "reconcile":
            for t in r.get("closed_earlier", []):
                if t["trade_no"] not in known:
                    closed.append(t)
                    known.add(t["trade_no"])
    return sorted(closed, key=lambda t: (t["exit_time"], t["trade_no"]))


def _trade(closed: dict[str, Any], records: list[dict[str, Any]], cfg: Config) -> dict[str, Any]:
    """One closed trade (or part of one) with what a trader reads: credit or debit, mids and slippage, risk."""
    no = closed["trade_no"]
    opened = next((r for r in records if r.get("kind") == "opened" and r.get("trade_no") == no), {})
    qty = closed["qty"]
    mult = closed.get("multiplier", opened.get("multiplier", cfg.instrument.multiplier))
    entry, exit_ = closed["entry_price"], closed["exit_price"]
    premium = abs(entry)
    short = closed["direction"] == "short"
    strikes = closed["strikes"]
    wing = closed.get("wing_width", opened.get("wing_width", strikes[1] - strikes[0]))
    risk = None if wing is None else round(((wing - premium) if short else premium) * mult * qty, 2)
    entry_submit = _first_submit(records, "entry", no, "")
    exit_submit = _first_submit(records, "exit", no, closed["entry_time"])
    entry_mid = None if entry_submit is None else entry_submit.get("mid")
    exit_mid = None if exit_submit is None else exit_submit.get("mid")
    return {
        **{k: closed[k] for k in ("trade_no", "direction", "legs", "qty", "strikes", "entry_time", "exit_time")},
        "entry_price": entry,
        "exit_price": exit_,
        "multiplier": mult,
        "premium_kind": "credit" if entry < 0 else "debit",
        "premium": round(premium, 4),
        "entry_spot": opened.get("spot"),
        "exit_spot": closed.get("spot"),
        "entry_mid": entry_mid,
        "exit_mid": exit_mid,
        "entry_slippage": None if entry_mid is None else round((entry - entry_mid) * mult * qty, 2),
        "exit_slippage": None if exit_mid is None else round((exit_ - exit_mid) * mult * qty, 2),
        "exit_reason": closed["exit_reason"],
        "exit_kind": exit_kind(closed["exit_reason"]),
        "pnl": closed["pnl"],
        "max_risk": risk,
        "pnl_pct_of_risk": None if not risk else round(100 * closed["pnl"] / risk, 1),
    }


def _open_at_end(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spreads opened (or adopted at a restart) and not closed by the day's end, as far as the journal says."""
    held: dict[int, dict[str, Any]] = {}
    for r in records:
        kind = r.get("kind")
        if kind == "opened":
            keys = ("trade_no", "direction", "legs", "qty", "entry_price", "entry_time")
            held[r["trade_no"]] = {k: r[k] for k in keys}
        elif kind == "reconcile":
            held = {s["trade_no"]: s for s in r.get("adopted", []) + r.get("broken_flattened", [])}
        elif kind == "closed" and (s := held.get(r["trade_no"])) is not None:
            s = {**s, "qty": s["qty"] - r["qty"]}
            held[r["trade_no"]] = s
            if s["qty"] <= 0:
                del held[r["trade_no"]]
    return list(held.values())


def order_events(records: list[dict[str, Any]], event: str) -> int:
    return sum(1 for r in records if r.get("kind") == "order" and r.get("event") == event)


# --- the architecture note's success metrics -------------------------------------------------------


def metrics(
    timeline: list[Interval],
    session: Session | None,
    calls: Calls,
    records: list[dict[str, Any]],
    cfg: Config,
    total: float | None,
    trades: list[dict[str, Any]],
    open_at_end: list[dict[str, Any]],
) -> dict[str, Any]:
    def figure(name: str, value: Any, detail: str) -> dict[str, Any]:
        target = TARGETS[name]
        met = None if value is None else (value <= target if name in ("api_failures", "limit_breaches",
                                                                      "expectation_gap") else value >= target)
        return {"value": value, "target": target, "met": met, "detail": detail, "definition": DEFINITIONS[name]}

    out = {"uptime": figure("uptime", *_uptime(timeline, session))}
    out["order_success"] = figure("order_success", *_order_success(calls, records))
    out["api_failures"] = figure("api_failures", *_api_failures(calls))
    breaches = _breaches(cfg, total, trades, open_at_end, records)
    out["limit_breaches"] = figure("limit_breaches", len(breaches), "; ".join(breaches) or "none")
    out["expectation_gap"] = figure("expectation_gap", None, "not measured: a simulated session is the expectation"
                                    if records[0].get("broker") == "sim" else "not measured for this session")
    return out


def _uptime(timeline: list[Interval], session: Session | None) -> tuple[float | None, str]:
    if session is None or not timeline:
        return None, "no session today"
    lo, hi = max(session.open, timeline[0].start), min(session.close, timeline[-1].end)
    covered = (hi - lo).total_seconds()
    if covered <= 0:
        return None, "the run covered no market hours"
    lost = sum(i.within(lo, hi) for i in timeline if i.outage)
    return round(1 - lost / covered, 4), f"{lost / 60:.0f} of {covered / 60:.0f} market minutes lost"


def _order_success(calls: Calls, records: list[dict[str, Any]]) -> tuple[Any, str]:
    sent: set[str] = set()
    took: set[str] = set()
    for _, c in calls.of("submit_order"):
        cid = decode(c["args"][0]).client_order_id
        sent.add(cid)
        if "result" in c:
            took.add(cid)
    took |= {r["client_order_id"] for r in records if r.get("kind") == "order" and r.get("event") == "adopt"}
    if not sent:
        return None, "no order sent" if calls else "no recorded inputs"
    return round(len(took & sent) / len(sent), 4), f"{len(took & sent)} of {len(sent)} order attempts taken"


def _api_failures(calls: Calls) -> tuple[Any, str]:
    api = failed = 0
    for method, made in calls.by_method.items():
        if PORT_OF[method] in API_PORTS:
            api += len(made)
            failed += sum(1 for _, c in made if "error" in c and c["error"].get("type") != "OrderRejected")
    if not api:
        return None, "no recorded inputs"
    return round(failed / api, 4), f"{failed} of {api} calls failed"


def _breaches(
    cfg: Config, total: float | None, trades: list[dict[str, Any]], open_at_end: list[dict[str, Any]],
    records: list[dict[str, Any]],
) -> list[str]:
    out = []
    if total is not None and total < -cfg.risk.max_daily_loss:
        out.append(f"day P&L {total:.2f} below -{cfg.risk.max_daily_loss:.2f}")
    if (n := len({t["trade_no"] for t in trades} | {s["trade_no"] for s in open_at_end})) > cfg.risk.max_daily_trades:
        out.append(f"{n} trades, more than max_daily_trades {cfg.risk.max_daily_trades}")
    if open_at_end:
        out.append(f"{len(open_at_end)} spread(s) still open at the end")
    broken = sum(len(r.get("broken_flattened", [])) for r in records if r.get("kind") == "reconcile")
    if broken:
        out.append(f"{broken} condor(s) found without a leg at a restart")
    return out
