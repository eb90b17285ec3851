"""Reading a journal back: the session's timeline, and re-driving the current code from its recorded inputs.

`verify` builds the engine exactly as the recorded run was built (config and resume point from the
header), answers every port call from the recording, and compares what the code does now (transitions
and orders) with what was recorded. The first difference is reported with its place and the inputs
just before it; a question the recording cannot answer is a difference too, never a crash.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

from engine.config import parse_config
from engine.days import ResumePoint
from engine.errors import ConfigError
from engine.journal.audit import JournalProblem, read_journal
from engine.journal.recording import Divergence, Replayed, Tape, recorded_calls
from engine.ports import PORTS
from engine.reporting.day import order_events, state_seconds

OUTPUT_KINDS = ("transition", "refused", "error", "order")
IGNORED_FIELDS = ("seq", "hash", "prev_hash", "wall_ts")


class JournalUnusable(Exception):
    """The journal cannot be replayed: its lines do not verify (tampered, or not a journal)."""


@dataclass
class Segment:
    """One run of the engine inside a journal: a header and the records after it (a restart starts another)."""

    header: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") in OUTPUT_KINDS]


def load(path: Path) -> tuple[list[dict[str, Any]], list[JournalProblem]]:
    try:
        records, problems = read_journal(path)
    except OSError as exc:
        raise JournalUnusable(f"{path}: cannot read ({exc.strerror})") from None
    if not records or records[0].get("kind") != "header":
        raise JournalUnusable(f"{path}: not a zdte journal (it does not start with a header record)")
    return records, problems


def usable_records(path: Path) -> list[dict[str, Any]]:
    """The records, refusing a journal whose chain is broken; a torn last line (a crash) is tolerated."""
    records, problems = load(path)
    fatal = [p for p in problems if "torn last line" not in p.what]
    if fatal:
        raise JournalUnusable(f"{path}: the journal does not verify:\n" + "\n".join(f"  {p}" for p in fatal))
    return records


def segments(records: list[dict[str, Any]]) -> list[Segment]:
    out: list[Segment] = []
    for r in records:
        if r.get("kind") == "header":
            out.append(Segment(r))
        elif out:
            out[-1].records.append(r)
    return out


# --- the timeline ---------------------------------------------------------------------------------


def _hhmm(ts: str) -> time:
    return datetime.fromisoformat(ts).time()


def timeline(
    records: list[dict[str, Any]], start: time | None = None, end: time | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        if r.get("kind") not in ("transition", "refused", "error"):
            continue
        at = _hhmm(r["ts"])
        if (start and at < start) or (end and at > end):
            continue
        if state and state not in (r.get("source"), r.get("dest")):
            continue
        snap = r.get("snapshot") or {}
        rows.append(
            {
                "seq": r["seq"],
                "ts": r["ts"],
                "kind": r["kind"],
                "source": r.get("source"),
                "dest": r.get("dest"),
                "trigger": r.get("trigger"),
                "reason": r.get("reason"),
                "underlying": snap.get("underlying_price"),
                "daily_pnl": snap.get("daily_pnl"),
                "realized_pnl": snap.get("realized_pnl"),
            }
        )
    return rows


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    moves = [r for r in records if r.get("kind") == "transition"]
    last = (moves[-1].get("snapshot") or {}) if moves else {}
    return {
        "transitions": len(moves),
        "seconds_in_state": state_seconds(records),
        "orders_submitted": order_events(records, "submit"),
        "fills": order_events(records, "fill"),
        "realized_pnl": last.get("realized_pnl"),
        "daily_pnl": last.get("daily_pnl"),
        "final_state": moves[-1]["dest"] if moves else None,
    }


def format_timeline(rows: list[dict[str, Any]], summ: dict[str, Any]) -> str:
    lines = [f"{'seq':>5}  {'time':8}  {'move':34}  {'trigger':12}  {'spot':>8}  {'P&L':>8}  reason"]
    for r in rows:
        move = f"{r['source']} -> {r['dest']}" if r["kind"] == "transition" else f"{r['source']} (refused)"
        spot = "" if r["underlying"] is None else f"{r['underlying']:.2f}"
        pnl = "" if r["daily_pnl"] is None else f"{r['daily_pnl']:+.2f}"
        lines.append(
            f"{r['seq']:>5}  {r['ts'][11:19]:8}  {move:34}  {r['trigger']:12}  {spot:>8}  {pnl:>8}  {r['reason']}"
        )
    spent = ", ".join(f"{k} {v / 60:.0f}m" for k, v in summ["seconds_in_state"].items())
    lines.append("")
    lines.append(
        f"{summ['transitions']} transitions, {summ['orders_submitted']} orders submitted, {summ['fills']} fills; "
        f"realized P&L {summ['realized_pnl']}, day P&L {summ['daily_pnl']}; final state {summ['final_state']}"
    )
    lines.append(f"time in state: {spent}")
    return "\n".join(lines)


# --- verification ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    identical: bool
    compared: int
    message: str


def _comparable(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in IGNORED_FIELDS}


def _show(r: dict[str, Any] | None) -> str:
    if r is None:
        return "nothing"
    if r.get("kind") == "order":
        return f"order {r.get('event')} {r.get('client_order_id')} {r.get('limit_price', r.get('price', ''))}"
    return f"{r.get('kind')} {r.get('source')} -> {r.get('dest')} [{r.get('trigger')}] {r.get('reason')}"


def verify_segment(seg: Segment, config_override: dict[str, Any] | None = None, cut_off: bool = False) -> Verdict:
    from engine.app import Adapters, build
    from engine.logs import close_day_files
    from engine.machine import State

    if not seg.header.get("config", {}).get("journal", {}).get("record_inputs", True):
        raise JournalUnusable(
            "recorded without its inputs (journal.record_inputs: false): its timeline can be read, but there is "
            "nothing to re-drive the engine from"
        )
    try:
        tape = Tape(seg.records)
    except ValueError as exc:
        raise JournalUnusable(f"its recorded inputs cannot be read: {exc}") from None
    raw = dict(config_override or seg.header["config"])
    resume = ResumePoint.from_header(seg.header, raw["session"].get("days", 1))
    with tempfile.TemporaryDirectory(prefix="zdte-replay-") as tmp:
        raw["logs_dir"] = tmp
        raw["session"] = {**raw["session"], "date": resume.day.isoformat()}
        try:
            cfg = parse_config(raw, "the journal's header")
        except ConfigError as exc:
            raise JournalUnusable(f"the recorded config cannot be used: {exc}") from None
        ports: dict[str, Any] = {name: Replayed(name, tape) for name in PORTS}  # answered from the recording
        runner = build(cfg, Adapters(**ports, recorded=False), initial=State(resume.state))
        divergence: Divergence | None = None
        try:
            runner.run(resume=resume)
        except Divergence as exc:
            divergence = exc
        finally:
            runner.audit.close(runner.ctx.now)
            close_day_files()
        produced = [r for p in runner.audit.opened for r in read_journal(p)[0] if r.get("kind") in OUTPUT_KINDS]
    return _compare(seg, produced, divergence, cut_off or not _ends_cleanly(seg))


def _ends_cleanly(seg: Segment) -> bool:
    """A run that reached its end (shut down, or handed over to the next day) rather than being cut off."""
    outputs = [r for r in seg.outputs if r.get("kind") == "transition"]
    last = outputs[-1] if outputs else {}
    return last.get("dest") == "ShuttingDown" or last.get("trigger") == "session_end"


def _differences(rec: dict[str, Any], now: dict[str, Any], prefix: str = "") -> str:
    out = []
    for key in sorted(set(rec) | set(now)):
        if key in IGNORED_FIELDS or rec.get(key) == now.get(key):
            continue
        a, b = rec.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.append(_differences(a, b, f"{prefix}{key}."))
        else:
            out.append(f"{prefix}{key}: recorded {a!r}, now {b!r}")
    return "; ".join(out)


def _inputs_before(seg: Segment, seq: int, n: int = 6) -> list[str]:
    calls = [c for s, _, c in recorded_calls(seg.records) if s < seq]
    out = []
    for c in calls[-n:]:
        answer = "error: " + c["error"]["message"] if "error" in c else ("same as before" if c.get("same") else "")
        if not answer:
            text = repr(c.get("result"))
            answer = text if len(text) <= 90 else text[:87] + "..."
        out.append(f"    {c['port']}.{c['method']} -> {answer}")
    return out


def _compare(
    seg: Segment, produced: list[dict[str, Any]], divergence: Divergence | None, cut_off: bool
) -> Verdict:
    recorded = seg.outputs
    ran_out = divergence is not None and divergence.recorded == "no further call"
    for i, rec in enumerate(recorded):
        now = produced[i] if i < len(produced) else None
        if now is not None and _comparable(now) == _comparable(rec):
            continue
        if now is None and divergence is not None:
            what = f"the code asked something the recording cannot answer: {divergence.actual} " \
                   f"(recorded next: {divergence.recorded})"
        else:
            what = f"the code now did: {_show(now)}"
            if now is not None and _show(now) == _show(rec):
                what += f"\n  differing: {_differences(rec, now)}"
        inputs = "\n".join(_inputs_before(seg, rec["seq"]))
        return Verdict(
            False,
            i,
            f"first divergence at seq {rec['seq']} ({rec['ts']}):\n  recorded: {_show(rec)}\n  {what}\n"
            f"  inputs just before it:\n{inputs}",
        )
    if len(produced) > len(recorded):
        if cut_off and (ran_out or divergence is None):
            return Verdict(
                True,
                len(recorded),
                f"identical up to where the recording stops (the run was cut off): {len(recorded)} "
                f"transitions and order events reproduced",
            )
        extra = produced[len(recorded)]
        return Verdict(False, len(recorded), f"the code did more than was recorded: {_show(extra)}")
    if divergence is not None and divergence.recorded != "no further call":
        return Verdict(False, len(recorded), str(divergence))
    return Verdict(True, len(recorded), f"identical: {len(recorded)} transitions and order events reproduced")


def verify(path: Path, config_override: dict[str, Any] | None = None) -> list[Verdict]:
    """One verdict per run in the file; every run but the last was cut off by a restart, and so is the last
    one when the file ends in a torn line."""
    records, problems = load(path)
    torn = any("torn last line" in p.what for p in problems)
    runs = segments(usable_records(path))
    try:
        return [
            verify_segment(seg, config_override, cut_off=(i < len(runs) - 1) or torn) for i, seg in enumerate(runs)
        ]
    except JournalUnusable as exc:
        raise JournalUnusable(f"{path}: {exc}") from None
