"""What the trader is told, and when: alerts derived from what the engine records anyway.

Every alert comes from a journal record as the audit sink writes it (a transition, `opened`, `closed`, `halt`) or
from the day's report once it is written, so an alert never says something the journal does not, and the
engine needs no new call at each place something happens. Turning a record into a message runs on the
machine's thread and only puts the message on the notifier's queue; a failure here is logged, never raised
into the engine.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from engine.calendar import ET
from engine.config import Config, notify_urls
from engine.notify import Level, Message, Notifier

ERROR_PREFIX = "error: "
"""How the runner's reason starts for an unexpected error in a state (runner._fault)."""


def alerts_for(cfg: Config) -> Alerts | None:
    """The run's alerts; None when no URL is set or no event is chosen."""
    urls = notify_urls(cfg.notify)
    if not urls or not cfg.notify.on:
        return None
    notifier = Notifier(urls, cfg.notify.timeout_s, cfg.notify.retries)
    return Alerts(cfg, notifier)


def _hhmm(when: datetime) -> str:
    return f"{when.astimezone(ET):%H:%M} ET"


def _price(net: float) -> str:
    """A net price as a trader says it: negative is money received."""
    return f"credit {-net:.2f}" if net < 0 else f"debit {net:.2f}"


def _strikes(strikes: list[float]) -> str:
    return "/".join(f"{k:g}" for k in strikes)


class Alerts:
    """The audit sink's listener and the runner's day-end listener (wired by app.build), and what the CLI closes."""

    def __init__(self, cfg: Config, notifier: Notifier) -> None:
        self._cfg = cfg
        self._notifier = notifier
        self._on = set(cfg.notify.on)
        self._structure = cfg.strategy.kind.replace("_", " ")
        self._left = ""
        """The state the last transition left: for a halt, where its error happened."""

    # --- the engine's side: called on the machine's thread -------------------------------------------------
    def record(self, kind: str, now: datetime, fields: dict[str, Any]) -> None:
        """A journal record just written (the audit sink's listener)."""
        try:
            self._record(kind, now, fields)
        except Exception as exc:  # noqa: BLE001 - an alert that cannot be made must never reach the engine
            logger.warning(f"alerts: no alert for the {kind} record ({type(exc).__name__}: {exc})")

    def day_done(self, path: Path, report: dict[str, Any]) -> None:
        """The day's report, written at `path`: its summary, with the charts drawn beside it."""
        try:
            self._day_summary(path, report)
        except Exception as exc:  # noqa: BLE001 - as above
            logger.warning(f"alerts: no day summary ({type(exc).__name__}: {exc})")

    def startup_failed(self, why: str) -> None:
        """The run could not be built (the keys, a live endpoint, the market data): no runner, so no journal."""
        self._send(Message("startup_failure", "zdte: start-up failed", f"{_hhmm(datetime.now(ET))}: {why}", "failure"))

    def fatal(self, what: str) -> None:
        """An error no state handled ended the run (the CLI's last line of defence)."""
        body = f"{_hhmm(datetime.now(ET))}: the engine stopped on an unexpected error: {what}"
        self._send(Message("error", "zdte: error", body, "failure"))

    def close(self) -> bool:
        """Send what is still queued, within the notifier's bound; False if some of it may not have gone out."""
        return self._notifier.close()

    # --- records into messages -----------------------------------------------------------------------------
    def _send(self, message: Message, also: str | None = None) -> None:
        if message.event in self._on or also in self._on:
            self._notifier.send(message)

    def _record(self, kind: str, now: datetime, f: dict[str, Any]) -> None:
        at = _hhmm(now)
        if kind == "transition":
            self._transition(at, now, f)
        elif kind == "opened":
            self._send(Message(
                "fill",
                f"zdte: trade {f['trade_no']} filled",
                f"{at}: {f['direction']} {self._structure} {_strikes(f['strikes'])} x{f['qty']} filled, "
                f"{_price(f['entry_price'])}, spot {f['spot']:.2f}",
            ))
        elif kind == "closed":
            level: Level = "success" if f["pnl"] > 0 else "info"
            self._send(Message(
                "exit",
                f"zdte: trade {f['trade_no']} closed, P&L {f['pnl']:+.2f}",
                f"{at}: {_strikes(f['strikes'])} x{f['qty']} closed for {_price(f['exit_price'])} "
                f"(opened for {_price(f['entry_price'])}): {f['exit_reason']}; P&L {f['pnl']:+.2f}",
                level,
            ))
        elif kind == "halt":
            self._halt(at, f)

    def _transition(self, at: str, now: datetime, f: dict[str, Any]) -> None:
        trigger, reason, source = f["trigger"], f["reason"], f["source"]
        self._left = source
        if trigger == "ready":
            cfg = self._cfg
            body = f"{at}: {cfg.underlying} on {cfg.broker}, session {now.astimezone(ET):%Y-%m-%d}: {reason}"
            self._send(Message("start", "zdte: started", body))
        elif trigger == "fail":
            self._send(Message("startup_failure", "zdte: start-up failed", f"{at}: {reason}", "failure"))
        elif trigger == "resume":
            self._send(Message("resume", "zdte: resumed", f"{at}: {reason}; entries allowed again"))
        elif trigger == "shutdown" and reason.startswith(ERROR_PREFIX):
            body = f"{at}: unexpected error in {source}: {reason.removeprefix(ERROR_PREFIX)}; shutting down"
            self._send(Message("error", "zdte: error", body, "failure"))

    def _halt(self, at: str, f: dict[str, Any]) -> None:
        """One message a halt entered; a halt on an unexpected error is that error's message (sent for either)."""
        reason: str = f["reason"]
        if f["flatten"]:
            then = "closing what is open"
        elif f["resumable"]:
            then = "no entries until it clears; open positions kept"
        else:
            then = "no more entries today; open positions still managed"
        if reason.startswith(ERROR_PREFIX):
            body = f"{at}: unexpected error in {self._left}: {reason.removeprefix(ERROR_PREFIX)}; halted, {then}"
            self._send(Message("error", "zdte: error, halted", body, "failure"), also="halt")
        else:
            self._send(Message("halt", "zdte: halted", f"{at}: {reason}; {then}", "warning"))

    def _day_summary(self, path: Path, report: dict[str, Any]) -> None:
        day = report["session_date"]
        if report["holiday"]:
            self._send(Message("day_summary", f"zdte: {day} holiday", f"session {day}: holiday, no session"))
            return
        total = report["total_pnl"]
        pnl = "unknown" if total is None else f"{total:+.2f}"
        lines = [
            f"session {day}: {report['trade_count']} trade(s), {report['wins']} win(s), P&L {pnl} "
            f"(realized {report['realized_pnl']:+.2f})"
        ]
        for t in report["trades"]:
            lines.append(
                f"#{t['trade_no']} {_strikes(t['strikes'])} x{t['qty']} {t['entry_time'][11:16]} "
                f"{_price(t['entry_price'])} -> {t['exit_time'][11:16]} {_price(t['exit_price'])}: "
                f"{t['pnl']:+.2f} ({t['exit_reason']})"
            )
        if report["open_at_end"]:
            lines.append(f"STILL OPEN at the end: {len(report['open_at_end'])} spread(s)")
        if report["stopped"]:
            lines.append(f"stopped: {report['stopped']}")
        charts = [path.parent / name for name in report.get("charts", {}).values() if name]  # PNGs: report.png
        attach = tuple(p for p in charts if p.is_file())
        self._send(Message("day_summary", f"zdte: {day} P&L {pnl}", "\n".join(lines), attach=attach))
