"""The one loop: run the current state's handler, fire its trigger, sleep on the injected clock.

This is also where failures are turned into decisions. A handler that raises never crashes the
process: a transient broker or data error is retried until it has lasted too long (then a resumable
halt), anything else in a trading state is a halt that flattens, and at start-up it is `fail`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from engine.context import STAY, Context, Step
from engine.days import ResumePoint
from engine.epoch import epoch
from engine.errors import AuthError, BrokerError, DataError, UnsafeEndpointError
from engine.journal.audit import read_journal
from engine.journal.order_history import OrderHistory
from engine.machine import EngineMachine, Outcome, State
from engine.ports import Clock
from engine.progress import Progress
from engine.reporting.day import build_day
from engine.reporting.expectation import with_expectation
from engine.reporting.files import write_day
from engine.retention import prune
from states import HANDLERS

_TRADING = {State.SCANNING, State.ENTERING, State.MONITORING}
# Port calls are written in batches: always before the transition or order they lead to and after each
# move (so a day's calls stay in its own file), otherwise once this many have gathered. A crash can lose
# only calls that no written decision depended on.
INPUT_BATCH = 64
INTERRUPTED = 3
"""The exit code of a run a signal stopped before it was done (the README's table of exit codes)."""

_heap_frozen = False


def _freeze_heap_once() -> None:
    """What exists when a process's first run starts (imports, config, market data) lives as long as the process:
    it is moved out of the collector's sight once, so each collection scans only what the runs make. A simulated
    day of July 2025 spent 8.6 ms in the collector, 2.3 ms once frozen (gc.callbacks over 8 days in one process,
    as a sweep's worker runs them)."""
    global _heap_frozen
    if not _heap_frozen:
        gc.freeze()
        _heap_frozen = True


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic collection while a day's journal is read back and its report built: the parsed records are tens
    of thousands of acyclic containers, freed by their reference counts, that the collector would otherwise walk
    over and over as they are made (an eighth of a simulated day's end)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Runner:
    """Owns the run: its state machine, its days, its journal (through the audit sink) and its reports."""

    def __init__(
        self,
        ctx: Context,
        clock: Clock,
        initial: State = State.INITIALIZING,
        venue: Any = None,
        signals: Any = None,
        progress: Progress | None = None,
        market_step_s: float | None = None,
    ) -> None:
        """`venue` is the simulator (for benchmarks and tests), `signals` the raw ProcessSignals (for handlers),
        `progress` counts the sessions done (a multi-day run on the console), `market_step_s` how often the market
        data can change when it moves in steps (Adapters.market_step_s)."""
        self.ctx = ctx
        self.clock = clock
        self.days = ctx.days
        self.audit = ctx.audit
        self.venue = venue
        self.signals = signals
        self.progress = progress
        self.machine = EngineMachine(self._record, more_sessions=lambda: self.days.more, initial=initial)
        self.reports: list[tuple[Path, dict[str, Any]]] = []
        self.exit_code = 0
        self.finished = False
        self.outage_since: datetime | None = None
        self.market_step_s = market_step_s
        """None: every poll keeps its pace."""
        self.interrupted: str | None = None
        """Why a stop signal ended the run early (SIGINT, SIGTERM): it exits INTERRUPTED, never looking finished."""
        p = ctx.cfg.poll
        self._polls = {
            State.AWAITING_OPEN: p.awaiting_open,
            State.SCANNING: p.scanning,
            State.ENTERING: p.entering,
            State.MONITORING: p.monitoring,
            State.HALTED: p.halted,
        }
        self.day_listeners: list[Callable[[Path, dict[str, Any]], None]] = []
        """Told of each day's report once it is written (the alerts' day summary); each must never raise."""

    @property
    def state(self) -> State:
        return self.machine.state

    def run(self, resume: ResumePoint | None = None) -> int:
        """Run to the end. `resume` (replay) starts where a journal's run was when it opened the file: its
        state, day and what it knew, at the header's time; without it the run starts now, on the clock."""
        _freeze_heap_once()
        try:
            self.start(resume)
            while not self.finished:
                self.tick()
        finally:  # a run that fails still leaves every record it made on the file
            self.audit.flush()
        return self.exit_code

    def start(self, resume: ResumePoint | None = None) -> None:
        """Open the day's journal, headed by where the run starts."""
        ctx = self.ctx
        ctx.now = resume.at if resume is not None and resume.at is not None else self.clock.now()
        if resume is None:
            earlier = OrderHistory.from_records(self.audit.earlier(self.days.day))
            resume = replace(self.days.point(str(self.state), ctx.account), orders_before=earlier)
        else:
            self.days.restore(resume)
            ctx.account = resume.account
        ctx.book.earlier = resume.orders_before
        prune(ctx.cfg.logs_dir, self.days.day, ctx.cfg.logs.keep_days)
        self.audit.open(self.days.day, ctx.now, resume)

    def tick(self) -> Outcome | None:
        """One handler call; fires its trigger, or sleeps the state's poll interval when it stays."""
        ctx = self.ctx
        state = self.state
        if state is State.AWAITING_OPEN and self.days.at_boundary:
            self._next_day()
        ctx.now = self.clock.now()
        if ctx.parts.live is not None and state not in (State.INITIALIZING, State.SHUTTING_DOWN):
            ctx.parts.live.pump(ctx.now, self._in_hours())
        stop = ctx.signals.stop() if state is not State.SHUTTING_DOWN else None
        if stop:
            self.interrupted = stop
        step = Step("shutdown", stop, exit_code=INTERRUPTED) if stop else self._handle(state)
        self._apply(step)
        outcome = None
        if step.trigger:
            outcome = self.fire(step.trigger, step.reason)
        moved = outcome is not None and outcome.moved
        if moved or self.audit.pending_inputs >= INPUT_BATCH:
            self.audit.flush_inputs(ctx.now)
        if not self.finished and not moved:
            wait = step.wait if step.wait is not None else self._poll(state)
            try:
                if self._on_events(self.state):
                    self.clock.sleep(wait, events=True)
                else:
                    self.clock.sleep(wait)
            except BrokerError as exc:  # a remote (simulator) clock that could not move: the next tick tries again
                logger.warning(f"the clock could not advance: {exc}")
        return outcome

    def _on_events(self, state: State) -> bool:
        """A streamed run waits for the next event where a decision rests on the next price or fill: holding a
        condor, or working an order. Elsewhere it keeps its poll's pace (a scan on every quote would only ask
        the broker more)."""
        return self.ctx.parts.live is not None and (state is State.MONITORING or self.ctx.book.working is not None)

    def _in_hours(self) -> bool:
        s = self.days.schedule
        return s is not None and s.open <= self.ctx.now < s.close

    def _apply(self, step: Step) -> None:
        """What a Step asks of the run besides its trigger."""
        if step.halt is not None:
            self.ctx.halt = step.halt
        if step.exit_code is not None:
            self.exit_code = step.exit_code
        if step.skip_day:
            self.days.skipped = True
        if step.finished:
            self._finish()

    def fire(self, trigger: str, reason: str) -> Outcome:
        outcome = self.machine.fire(trigger, reason)
        if outcome.error is not None:
            step = self._fault(self.state, outcome.error)
            self._apply(step)
            if step.trigger:
                outcome = self.machine.fire(step.trigger, step.reason)
        if not outcome.moved:
            return outcome
        if outcome.dest == State.HALTED and (h := self.ctx.halt) is not None:
            self.ctx.record("halt", reason=h.reason, flatten=h.flatten, resumable=h.resumable)
        if outcome.trigger == "session_end":
            self._end_day()
        if outcome.trigger == "resume":
            self.ctx.halt = None
        return outcome

    def _handle(self, state: State) -> Step:
        ctx = self.ctx
        try:
            if state is State.AWAITING_OPEN and not self.days.loaded:
                self.days.load()
            step = HANDLERS[state](ctx)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a decision, never a crash
            return self._fault(state, exc)
        self.outage_since = None
        return step

    def _fault(self, state: State, exc: BaseException) -> Step:
        ctx = self.ctx
        what = f"{type(exc).__name__}: {exc}"
        transient = isinstance(exc, DataError) or (isinstance(exc, BrokerError) and exc.transient)
        if state is State.INITIALIZING and transient:
            self.outage_since = self.outage_since or ctx.now
            lasted = (ctx.now - self.outage_since).total_seconds()
            if lasted <= ctx.cfg.risk.broker_outage_tolerance_s:
                logger.warning(f"start-up: transient failure for {lasted:.0f}s, retrying: {what}")
                return STAY
        if state is State.INITIALIZING:
            logger.error(f"start-up failed: {what}")
            code = 2 if isinstance(exc, (AuthError, UnsafeEndpointError)) else 1
            return Step("fail", f"start-up failed: {what}", exit_code=code)
        if state is State.SHUTTING_DOWN:
            logger.exception(f"cleanup failed: {what}")
            return Step(exit_code=1, finished=True)
        if transient:
            self.outage_since = self.outage_since or ctx.now
            lasted = (ctx.now - self.outage_since).total_seconds()
            logger.warning(f"{state}: transient failure for {lasted:.0f}s: {what}")
            if state in _TRADING and lasted > ctx.cfg.risk.broker_outage_tolerance_s:
                reason = f"broker/data outage for {lasted:.0f}s: {what}"
                return Step.halting(reason, flatten=False, resumable=True)
            return STAY
        logger.opt(exception=exc).error(f"{state}: unexpected error: {what}")
        if state in _TRADING:
            return Step.halting(f"error: {what}", flatten=True, resumable=False)
        return Step("shutdown", f"error: {what}", exit_code=1)

    # --- the day's life cycle ------------------------------------------------------------------
    def _next_day(self) -> None:
        """Move to the next exchange session: new journal, fresh book and data window.

        Called between ticks, after the old day's calls are written, so each file holds exactly its day's
        calls and replays on its own: its header says where the run stood when the old day ended.
        """
        ctx = self.ctx
        point = self.days.point(str(State.AWAITING_OPEN), ctx.account)
        self.audit.close(ctx.now)
        self.days.advance()
        ctx.book.new_day()
        ctx.parts.bars.reset()
        ctx.parts.marks.clear()
        ctx.parts.status.reset()
        if ctx.parts.live is not None:
            ctx.parts.live.new_day(self.days.day)
        ctx.halt = None
        prune(ctx.cfg.logs_dir, self.days.day, ctx.cfg.logs.keep_days)
        self.audit.open(self.days.day, ctx.now, point)
        self.days.load()

    def _finish(self) -> None:
        """The last step of ShuttingDown: the day's report, then the journal is closed."""
        self._end_day()
        self.audit.close(self.ctx.now)
        if self.ctx.parts.live is not None:
            self.ctx.parts.live.close()
        self.finished = True

    @property
    def not_run(self) -> int:
        """Sessions of the run that never started: after the current day's, the days still counted."""
        return max(self.days.left - 1, 0)

    def _poll(self, state: State) -> float:
        """The state's poll interval; while an order is being worked, the faster order poll.

        On a market that moves in steps (`market_step_s`: the embedded simulator's minute), a poll that would come
        in the step this one saw is skipped for the next one on the pace, unless an order is being worked or this
        poll failed: it would see the same bars, quotes and marks, and decide again on what this one decided on. A
        condor held on a 30 s poll is then looked at once a minute, at the first moment in each minute that the pace
        would have looked at it, so every decision is the same and made at the same time."""
        ctx = self.ctx
        if ctx.book.working is not None:
            return ctx.cfg.poll.entering
        pace = self._polls.get(state, ctx.cfg.poll.entering)
        step = self.market_step_s
        if step is None or self.outage_since is not None:
            return pace
        now = epoch(ctx.now)
        seen, wait = now // step, pace
        while (now + wait) // step == seen:
            wait += pace
        return wait

    def _record(self, outcome: Outcome) -> None:
        """Every attempted transition, moved or refused, becomes one fsynced audit record."""
        ctx = self.ctx
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
            logger.info(f"{outcome.source} -> {outcome.dest} [{outcome.trigger}] {outcome.reason}")
        else:
            logger.error(f"refused {outcome.trigger} in {outcome.source}: {outcome.reason}")

    def _end_day(self) -> None:
        """Close the books of the session just ended: its report, built from its journal like any rebuilt one.
        The journal stays open for its last records."""
        days, ctx = self.days, self.ctx
        if days.closed or self.audit.journal is None:
            return
        days.closed = True
        try:
            if ctx.session is not None:
                ctx.refresh_account(force=True)
        except Exception as exc:  # noqa: BLE001 - the report is still written, with the P&L unknown
            logger.warning(f"account unavailable for the report: {exc}")
        simulator = dict(self.venue.chain_source) if getattr(self.venue, "chain_source", None) else None
        ctx.record("day_end", **({"simulator": simulator} if simulator else {}))
        self.audit.flush_inputs(ctx.now)
        self.audit.flush()
        path = self.audit.journal.path
        with _collector_paused():
            records = read_journal(path, hashes=False)[0]  # its own records, just written: only read back
            report = build_day(records)
        if ctx.cfg.broker != "sim":
            report = with_expectation(report, path, records)
        written = write_day(report, ctx.cfg.logs_dir, html=ctx.cfg.report.html, png=ctx.cfg.report.png)
        self.reports.append((written, report))
        for listen in self.day_listeners:
            listen(written, report)
        total = report["total_pnl"]
        pnl = "holiday" if report["holiday"] else "unknown" if total is None else f"{total:+.2f}"
        done = f"session {days.day} done: {report['trade_count']} trade(s), P&L {pnl}"
        if self.interrupted:
            rest = "the run was to go on until stopped" if days.forever else f"{self.not_run} session(s) not run"
            logger.warning(f"{done}; interrupted ({self.interrupted}): {rest}")
        elif days.forever:
            logger.info(f"{done}; on to the next session")
        else:
            logger.info(f"{done}; {days.left - 1 if self.state is State.AWAITING_OPEN else 0} session(s) to go")
        if self.progress is not None:
            self.progress.step(f"{days.day} P&L {pnl}")
