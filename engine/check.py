"""`run.py check`: the pre-launch checklist as a command, each line naming what it checked and how that went.

It asks the same ports the engine will use, so a pass means the engine can start, not just that a config file
parses. A line passes only what it checked. A check that could not be made (the market is closed, what it needs
did not pass above it, it does not apply to this broker) is shown as not checked, and a failure is reported
once, on the line of its culprit: a bad bars file fails "market data file", not the account read after it.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from engine.calendar import ET
from engine.config import SECRET_ENV_KEYS, Config, load_secrets
from engine.errors import ConfigError, UnsafeEndpointError
from engine.models import Account, Session

if TYPE_CHECKING:
    from engine.app import Adapters

EXPIRY_DAY_ORDER_CUTOFF = time(15, 30)


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"
    """Not checked: never counted as passed."""
    WARN = "WARN"
    """Checked and usable, with a caveat the trader must know; never a failure."""


@dataclass(frozen=True)
class CheckLine:
    name: str
    status: Status
    detail: str

    def __str__(self) -> str:
        return f"[{self.status}] {self.name}: {self.detail}"


class NotChecked(Exception):  # noqa: N818 - not an error: the check could not be made, and says why
    """Raised by a check that could not be made, so its line shows as not checked instead of passing."""


class Caveat(Exception):  # noqa: N818 - not an error: the check passed, with something to know
    """Raised by a check that passed with a caveat, so its line warns instead of passing silently."""


def summary(lines: list[CheckLine]) -> str:
    """The tally the exit code rests on: failures only; what was not checked is counted apart, never as passed."""
    n = Counter(line.status for line in lines)
    warned = f", {n[Status.WARN]} warning(s)" if n[Status.WARN] else ""
    return f"{n[Status.PASS]} passed, {n[Status.FAIL]} failed, {n[Status.SKIP]} not checked{warned}"


def run_checks(cfg: Config, adapters_for: Callable[[Config], Adapters]) -> list[CheckLine]:
    """Every check runs even after a failure, so one run lists everything to fix; a ConfigError is not a check's
    failure but a config that cannot be used, and is raised (the command exits 2, as `run` does)."""
    return _Checklist(cfg, adapters_for).run()


Check = Callable[[], tuple[bool, str]]


class _Checklist:
    """The lines in order, and what one line learns that a later one needs (the adapters, the account, the
    session): a later line that lacks it is not checked, instead of failing again for the same culprit."""

    def __init__(self, cfg: Config, adapters_for: Callable[[Config], Adapters]) -> None:
        self.cfg = cfg
        self._adapters_for = adapters_for
        self._adapters: Adapters | None = None
        self.lines: list[CheckLine] = []
        self.account: Account | None = None
        self.refusal: UnsafeEndpointError | None = None
        self.session: Session | None = None

    def run(self) -> list[CheckLine]:
        checks: list[tuple[str, Check]] = [
            ("API keys", self.keys),
            ("market data file", self.data_file),
            ("connection", self.connection),
            ("paper account", self.paper),
            ("options level", self.options_level),
            ("buying power", self.buying_power),
            ("market calendar", self.calendar),
            ("data feed: bars", self.bars),
            ("data feed: option chain", self.chain),
            ("options feed", self.options_feed),
            ("risk limits", self.risk_limits),
            ("log directory", self.logs),
            ("kill switch", self.kill_switch),
            ("alerts", lambda: alerts_check(self.cfg)),
        ]
        for name, fn in checks:
            self.lines.append(self._line(name, fn))
        return self.lines

    @staticmethod
    def _line(name: str, fn: Check) -> CheckLine:
        try:
            ok, detail = fn()
        except NotChecked as why:
            return CheckLine(name, Status.SKIP, f"not checked: {why}")
        except Caveat as what:
            return CheckLine(name, Status.WARN, str(what))
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - a check that raises is a failed check, with the reason
            return CheckLine(name, Status.FAIL, f"{type(exc).__name__}: {exc}")
        return CheckLine(name, Status.PASS if ok else Status.FAIL, detail)

    def _status(self, name: str) -> Status:
        return next(line.status for line in self.lines if line.name == name)

    def _needs_connection(self) -> None:
        if self._status("connection") is not Status.PASS:
            raise NotChecked("connection did not pass")

    def _needs_paper(self) -> None:
        """Nothing more is asked of a broker whose account was refused as not paper, as the engine asks nothing."""
        self._needs_connection()
        if self.refusal is not None:
            raise NotChecked("paper account did not pass: nothing more is asked of an account that is not paper")

    def adapters(self) -> Adapters:
        if self._adapters is None:
            self._adapters = self._adapters_for(self.cfg)
        return self._adapters

    def _now(self) -> datetime:
        return self.adapters().clock.now()

    def _day(self) -> date:
        """The first session day the run would trade: the simulator's clock was put on it; on Alpaca it is the
        configured date (`--date`), else today in New York."""
        today = self._now().astimezone(ET).date()
        return today if self.cfg.broker == "sim" else (self.cfg.session.date or today)

    # -- the lines ---------------------------------------------------------------------------------------

    def keys(self) -> tuple[bool, str]:
        if self.cfg.broker != "alpaca":
            raise NotChecked("the broker is the embedded simulator, which needs none")
        from engine.brokers.alpaca import refuse_live_key

        found = load_secrets()
        missing = [k for k in SECRET_ENV_KEYS if k not in found]
        if missing:
            return False, f"missing {', '.join(missing)}: set them in the environment or in .env"
        refuse_live_key(found["ALPACA_API_KEY"])
        return True, "ALPACA_API_KEY and ALPACA_SECRET_KEY present, the key id not of the live form (AK...)"

    def data_file(self) -> tuple[bool, str]:
        sim = self.cfg.sim
        if self.cfg.broker != "sim":
            raise NotChecked("broker alpaca reads no data file (its feed is checked by the data feed lines)")
        files = [f"sim.bars {sim.bars}" if sim.bars else "", f"sim.quotes {sim.quotes}" if sim.quotes else ""]
        if sim.vol_source == "file":
            files.append(f"sim.vol_file {sim.vol_file}")
        named = "; ".join(f for f in files if f)
        if not named:
            raise NotChecked("none configured: sim.bars and sim.quotes are null (a random walk, model prices)")
        from engine.app import read_sim_data
        from engine.brokers.sim import engine_errors

        venue = self.adapters().venue
        sessions = read_sim_data(self.cfg, venue, self._day())
        with engine_errors():
            venue.market()  # the first session's market, built as the run builds it (the vol file is read there)
        span = sessions[0].isoformat() + (f" to {sessions[-1].isoformat()}" if len(sessions) > 1 else "")
        return True, f"{named}: read for the session(s) {span}"

    def connection(self) -> tuple[bool, str]:
        """The account is the first thing asked of the broker: an answer, even one refusing the account as not
        paper, shows the broker reachable with these keys; judging the account is the next line's."""
        failed = [name for name in ("API keys", "market data file") if self._status(name) is Status.FAIL]
        if failed:
            raise NotChecked(f"{' and '.join(failed)} did not pass")
        broker = self.adapters().broker
        try:
            self.account = broker.account()
        except UnsafeEndpointError as exc:
            self.refusal = exc
        if self.cfg.broker == "sim":
            return True, "the embedded simulator answered (in-process, no network)"
        url = self.cfg.alpaca.trading_url or "Alpaca's paper endpoint"
        return True, f"alpaca trading API at {url} answered GET /v2/account (keys accepted)"

    def paper(self) -> tuple[bool, str]:
        self._needs_connection()
        if self.refusal is not None:
            raise self.refusal
        account = self._account()
        evidence = "the embedded simulator" if self.cfg.broker == "sim" else "its number starts with PA"
        verdict = "paper" if account.paper else "NOT paper"
        return account.paper, f"account {account.account_id} is {verdict} ({evidence})"

    def _account(self) -> Account:
        if self.account is None:
            raise NotChecked(f"{'paper account' if self.refusal else 'connection'} did not pass")
        return self.account

    def options_level(self) -> tuple[bool, str]:
        level = self._account().options_level
        return level >= 3, f"level {level} (spreads need 3)"

    def buying_power(self) -> tuple[bool, str]:
        power = self._account().options_buying_power
        worst = self.cfg.risk.max_loss_per_trade * self.cfg.risk.max_open_spreads
        return power >= worst, f"options buying power {power:,.2f} vs worst case {worst:,.2f}"

    def calendar(self) -> tuple[bool, str]:
        self._needs_paper()
        broker, day = self.adapters().broker, self._day()
        self.session = session = broker.session(day) or broker.next_session(day)
        asked = self.cfg.session.date
        when = f"session {session.day}"
        if session.day != day:
            when = f"no session on {day}; next session {session.day}"
        elif asked is not None and asked != day:
            when += f" (the first on or after session.date {asked})"
        elif self.cfg.broker == "alpaca" and day == self._now().astimezone(ET).date():
            when += " (today)"
        return True, f"{when}: {session.open:%H:%M}-{session.close:%H:%M} ET"

    def _open_now(self) -> bool:
        if self.session is None:
            raise NotChecked("market calendar did not pass: whether the market is open is unknown")
        return self.session.open <= self._now() < self.session.close

    def _closed(self) -> str:
        at = f"{self._now().astimezone(ET):%Y-%m-%d %H:%M} ET"
        assert self.session is not None  # _open_now() said closed, so the session is known
        if self.session.day == self._now().astimezone(ET).date():
            return f"market closed at {at}"
        return f"session {self.session.day} is not open at {at}"

    def bars(self) -> tuple[bool, str]:
        self._needs_paper()
        now, underlying, lookback = self._now(), self.cfg.underlying, self.cfg.data.lookback_minutes
        window = f"the {lookback} minutes to {now.astimezone(ET):%Y-%m-%d %H:%M} ET"
        bars = self.adapters().market_data.bars(underlying, now - timedelta(minutes=lookback), now)
        if len(bars):
            return True, f"{len(bars)} {underlying} minute bars in {window}, last close {bars.close[-1]:.2f}"
        if self._open_now():
            return False, f"no {underlying} bars in {window}, with the market open"
        raise NotChecked(f"{self._closed()}: no bars due")

    def chain(self) -> tuple[bool, str]:
        self._needs_paper()
        if not self._open_now():
            raise NotChecked(f"{self._closed()}: chain not asked for")
        cfg, md, now = self.cfg, self.adapters().market_data, self._now()
        spot_guess = cfg.sim.start_price
        bars = md.bars(cfg.underlying, now - timedelta(minutes=5), now)
        if len(bars):
            spot_guess = float(bars.close[-1])
        r = cfg.data.strike_discovery_range
        quotes = md.chain(cfg.underlying, now.astimezone(ET).date(), spot_guess - r, spot_guess + r)
        return bool(quotes), f"{len(quotes)} option quotes within ±{r:g} of {spot_guess:.2f}, expiring today"

    def options_feed(self) -> tuple[bool, str]:
        if self.cfg.broker != "alpaca":
            raise NotChecked("the simulator's quotes are its own (model or real quote files)")
        if self.cfg.alpaca.options_feed == "indicative":
            raise Caveat(
                "indicative: Alpaca's free option quotes are derived from OPRA, not the exchanges' own quotes, and "
                "its option trades come 15 minutes late; a paper result rests on them (opra needs a subscription)"
            )
        return True, "opra: the exchanges' consolidated quotes (Alpaca's options subscription)"

    def risk_limits(self) -> tuple[bool, str]:
        r, s = self.cfg.risk, self.cfg.strategy
        return (
            r.max_daily_loss > 0 and r.max_daily_trades > 0 and r.hard_exit < EXPIRY_DAY_ORDER_CUTOFF,
            f"max_daily_loss {r.max_daily_loss:g}, max_daily_trades {r.max_daily_trades}, hard exit "
            f"{r.hard_exit:%H:%M} (before the 15:30 expiry-day cut-off), entries {s.entry_start:%H:%M}-"
            f"{s.entry_end:%H:%M}",
        )

    def logs(self) -> tuple[bool, str]:
        logs_dir = self.cfg.logs_dir
        logs_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=logs_dir):
            pass
        return True, f"{logs_dir} writable"

    def kill_switch(self) -> tuple[bool, str]:
        kill = self.cfg.kill_file
        there = kill.exists()
        return not there, f"{kill} {'EXISTS: remove it to trade' if there else 'absent'}"


def alerts_check(cfg: Config) -> tuple[bool, str]:
    """Every alert URL must be one apprise can send to; nothing is sent. A URL is named by position and scheme only."""
    from engine.config import notify_urls
    from engine.notify import targets

    urls = notify_urls(cfg.notify)
    if not urls:
        return True, "none: notify.urls and ZDTE_NOTIFY_URLS are empty"
    usable, unusable = targets(urls, cfg.notify.timeout_s)
    if unusable:
        return False, f"{', '.join(unusable)}: not a URL apprise can send to"
    return True, f"{', '.join(t.label for t in usable)}; on {', '.join(cfg.notify.on) or 'no event'}"
