"""The one loop: run the current state's handler, fire its trigger, sleep on the injected clock.

This is also where failures are turned into decisions. A handler that raises never crashes the
process: a transient broker or data error is retried until it has lasted too long (then a resumable
halt), anything else in a trading state is a halt that flattens, and at start-up it is `fail`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loguru import logger

from engine.audit import read_journal
from engine.context import STAY, Context, Halt, Step
from engine.errors import AuthError, BrokerError, DataError, UnsafeEndpointError
from engine.machine import EngineMachine, Outcome, State
from engine.report import DayStats, build_report, report_path, stats_from_records, write_report
from states import HANDLERS

_TRADING = {State.SCANNING, State.ENTERING, State.MONITORING}
# Port calls are written in batches: always before the transition or order they lead to and after each
# move (so a day's calls stay in its own file), otherwise once this many have gathered. A crash can lose
# only calls that no written decision depended on.
INPUT_BATCH = 64


class Runner:
    def __init__(
        self, ctx: Context, initial: State = State.INITIALIZING, venue: Any = None, signals: Any = None
    ) -> None:
        """`venue` is the simulator (for benchmarks and tests), `signals` the raw ProcessSignals (for handlers)."""
        self.ctx = ctx
        self.venue = venue
        self.signals = signals
        self.stats = DayStats()
        self.machine = EngineMachine(self._record, more_sessions=lambda: ctx.more_sessions, initial=initial)
        self._state_since: datetime | None = None
        ctx.write_report = self._write_report

    @property
    def state(self) -> State:
        return self.machine.state

    def run(self) -> int:
        ctx = self.ctx
        ctx.now = ctx.clock.now()
        self._state_since = ctx.now
        ctx.start()
        if ctx.journal is not None and ctx.journal.resumed:
            self.stats = stats_from_records(read_journal(ctx.journal.path)[0])
        while not ctx.finished:
            self.tick()
        return ctx.exit_code

    def tick(self) -> Outcome | None:
        """One handler call; fires its trigger, or sleeps the state's poll interval when it stays."""
        ctx = self.ctx
        state = self.state
        if state is State.AWAITING_OPEN and ctx.at_day_boundary:
            ctx.next_day()
        ctx.now = ctx.clock.now()
        stop = ctx.signals.stop() if state is not State.SHUTTING_DOWN else None
        step = Step("shutdown", stop) if stop else self._handle(state)
        outcome = None
        if step.trigger:
            outcome = self.fire(step.trigger, step.reason)
        moved = outcome is not None and outcome.moved
        if moved or len(ctx.recorder) >= INPUT_BATCH:
            ctx.flush_inputs()
        if not ctx.finished and not moved:
            try:
                ctx.clock.sleep(step.wait if step.wait is not None else self._poll(state))
            except BrokerError as exc:  # a remote (simulator) clock that could not move: the next tick tries again
                logger.warning(f"the clock could not advance: {exc}")
        return outcome

    def fire(self, trigger: str, reason: str) -> Outcome:
        outcome = self.machine.fire(trigger, reason)
        if outcome.error is not None:
            step = self._fault(self.state, outcome.error)
            if step.trigger:
                return self.machine.fire(step.trigger, step.reason)
        if outcome.moved and trigger == "session_end":
            self.ctx.end_day()
        return outcome

    def _handle(self, state: State) -> Step:
        ctx = self.ctx
        try:
            step = HANDLERS[state](ctx)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a decision, never a crash
            return self._fault(state, exc)
        ctx.outage_since = None
        return step

    def _fault(self, state: State, exc: BaseException) -> Step:
        ctx = self.ctx
        what = f"{type(exc).__name__}: {exc}"
        transient = isinstance(exc, DataError) or (isinstance(exc, BrokerError) and exc.transient)
        if state is State.INITIALIZING and transient:
            ctx.outage_since = ctx.outage_since or ctx.now
            lasted = (ctx.now - ctx.outage_since).total_seconds()
            if lasted <= ctx.cfg.risk.broker_outage_tolerance_s:
                logger.warning(f"start-up: transient failure for {lasted:.0f}s, retrying: {what}")
                return STAY
        if state is State.INITIALIZING:
            logger.error(f"start-up failed: {what}")
            ctx.exit_code = 2 if isinstance(exc, (AuthError, UnsafeEndpointError)) else 1
            return Step("fail", f"start-up failed: {what}")
        if state is State.SHUTTING_DOWN:
            logger.exception(f"cleanup failed: {what}")
            ctx.exit_code = 1
            ctx.finish()
            return STAY
        if transient:
            ctx.outage_since = ctx.outage_since or ctx.now
            lasted = (ctx.now - ctx.outage_since).total_seconds()
            logger.warning(f"{state}: transient failure for {lasted:.0f}s: {what}")
            if state in _TRADING and lasted > ctx.cfg.risk.broker_outage_tolerance_s:
                ctx.halt = Halt(f"broker/data outage for {lasted:.0f}s: {what}", flatten=False, resumable=True)
                return Step("halt", ctx.halt.reason)
            return STAY
        logger.opt(exception=exc).error(f"{state}: unexpected error: {what}")
        if state in _TRADING:
            ctx.halt = Halt(f"error: {what}", flatten=True, resumable=False)
            return Step("halt", ctx.halt.reason)
        ctx.exit_code = 1
        return Step("shutdown", f"error: {what}")

    def _poll(self, state: State) -> float:
        """The state's poll interval; while an order is being worked, the faster order poll."""
        p = self.ctx.cfg.poll
        if self.ctx.working is not None:
            return p.entering
        return {
            State.AWAITING_OPEN: p.awaiting_open,
            State.SCANNING: p.scanning,
            State.ENTERING: p.entering,
            State.MONITORING: p.monitoring,
            State.HALTED: p.halted,
        }.get(state, p.entering)

    def _record(self, outcome: Outcome) -> None:
        """Every attempted transition, moved or refused, becomes one fsynced audit record."""
        ctx, now = self.ctx, self.ctx.now
        kind = "transition" if outcome.moved else ("error" if outcome.error else "refused")
        fields: dict[str, Any] = {
            "trigger": outcome.trigger,
            "source": outcome.source,
            "dest": outcome.dest,
            "reason": outcome.reason,
            "snapshot": ctx.snapshot(),
        }
        if outcome.error is not None:
            fields["error"] = f"{type(outcome.error).__name__}: {outcome.error}"
        ctx.record(kind, **fields)
        if outcome.moved:
            self.stats.transitions += 1
            if self._state_since is not None:
                self.stats.state_seconds[outcome.source] += (now - self._state_since).total_seconds()
            self._state_since = now
            logger.info(f"{outcome.source} -> {outcome.dest} [{outcome.trigger}] {outcome.reason}")
        else:
            self.stats.refused += 1
            logger.error(f"refused {outcome.trigger} in {outcome.source}: {outcome.reason}")

    def on_order_event(self, event: str, data: dict) -> None:
        if event == "submit":
            self.stats.orders_submitted += 1
        elif event == "fill":
            self.stats.fills += 1
        self.ctx.record("order", event=event, **data)
        logger.bind(trade=True).debug(f"{event} " + " ".join(f"{k}={v}" for k, v in data.items()))

    def _write_report(self, ctx: Context) -> None:
        now = ctx.now
        if self._state_since is not None:
            self.stats.state_seconds[str(self.state)] += (now - self._state_since).total_seconds()
            self._state_since = now
        total = None
        try:
            total = ctx.daily_pnl if ctx.session is not None and ctx.refresh_account() else None
        except Exception as exc:  # noqa: BLE001 - the report is still written, with the P&L unknown
            logger.warning(f"account unavailable for the report: {exc}")
        report = build_report(ctx.day, ctx.book.closed, self.stats, total, ctx.book.open, now, str(self.state))
        if self.venue is not None and getattr(self.venue, "chain_source", None):
            report["simulator"] = dict(self.venue.chain_source)
        path = write_report(report_path(ctx.cfg.logs_dir, ctx.day), report)
        ctx.reports.append((path, report))
        self.stats = DayStats()
        pnl = "unknown" if total is None else f"{total:+.2f}"
        left = ctx.days_left - 1 if self.state is State.AWAITING_OPEN else 0
        logger.info(f"session {ctx.day} done: {report['trade_count']} trade(s), P&L {pnl}; {left} session(s) to go")
