"""`run.py check`: the pre-launch checklist as a command, each line pass or fail with the reason.

It asks the same ports the engine will use, so a pass means the engine can start, not just that a
config file parses.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time, timedelta
from typing import TYPE_CHECKING

from engine.calendar import ET
from engine.config import Config, load_secrets

if TYPE_CHECKING:
    from engine.app import Adapters

EXPIRY_DAY_ORDER_CUTOFF = time(15, 30)


@dataclass(frozen=True)
class CheckLine:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"[{'PASS' if self.ok else 'FAIL'}] {self.name}: {self.detail}"


def run_checks(cfg: Config, adapters_for: Callable[[Config], Adapters]) -> list[CheckLine]:
    """Every check runs even after a failure, so one run lists everything to fix."""
    lines: list[CheckLine] = []

    def check(name: str, fn: Callable[[], tuple[bool, str]]) -> None:
        try:
            ok, detail = fn()
        except Exception as exc:  # noqa: BLE001 - a check that raises is a failed check, with the reason
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        lines.append(CheckLine(name, ok, detail))

    if cfg.broker == "alpaca":
        found = len(load_secrets()) == 2
        detail = "ALPACA_API_KEY and ALPACA_SECRET_KEY present" if found else "missing: set them in env or .env"
        lines.append(CheckLine("API keys", found, detail))
    else:
        lines.append(CheckLine("API keys", True, "not needed: broker is the embedded simulator"))

    adapters = None

    def connect() -> tuple[bool, str]:
        nonlocal adapters
        adapters = adapters_for(cfg)
        return True, f"{cfg.broker} broker reachable"

    check("connection", connect)
    if adapters is None:
        return lines
    broker, md, clock = adapters.broker, adapters.market_data, adapters.clock
    account = None

    def account_check() -> tuple[bool, str]:
        nonlocal account
        account = broker.account()
        return account.paper, f"account {account.account_id} is {'paper' if account.paper else 'NOT paper'}"

    check("paper account", account_check)
    if account is not None:
        check("options level", lambda: (account.options_level >= 3, f"level {account.options_level} (spreads need 3)"))
        worst = cfg.risk.max_loss_per_trade * cfg.risk.max_open_spreads
        check(
            "buying power",
            lambda: (
                account.options_buying_power >= worst,
                f"options buying power {account.options_buying_power:,.2f} vs worst case {worst:,.2f}",
            ),
        )
    now = clock.now()
    today = now.astimezone(ET).date()
    session = None

    def calendar_check() -> tuple[bool, str]:
        nonlocal session
        session = broker.session(today) or broker.next_session(today)
        when = "today" if session.day == today else f"next session {session.day}"
        return True, f"{when}: {session.open:%H:%M}-{session.close:%H:%M} ET"

    check("market calendar", calendar_check)

    def open_now() -> bool:
        return session is not None and session.day == today and session.open <= now < session.close

    def bars_check() -> tuple[bool, str]:
        bars = md.bars(cfg.underlying, now - timedelta(minutes=cfg.data.lookback_minutes), now)
        if len(bars) == 0:
            return (False, "no bars while the market is open") if open_now() else (True, "market closed: no bars")
        return True, f"{len(bars)} {cfg.underlying} bars, last close {bars.close[-1]:.2f}"

    check("data feed: bars", bars_check)

    def chain_check() -> tuple[bool, str]:
        if not open_now():
            return True, "market closed now: chain not checked"
        spot_guess = cfg.sim.start_price
        bars = md.bars(cfg.underlying, now - timedelta(minutes=5), now)
        if len(bars):
            spot_guess = float(bars.close[-1])
        r = cfg.data.strike_discovery_range
        quotes = md.chain(cfg.underlying, today, spot_guess - r, spot_guess + r)
        return bool(quotes), f"{len(quotes)} option quotes within ±{r:g} of {spot_guess:.2f}"

    check("data feed: option chain", chain_check)
    r, s = cfg.risk, cfg.strategy
    check(
        "risk limits",
        lambda: (
            r.max_daily_loss > 0 and r.max_daily_trades > 0 and r.hard_exit < EXPIRY_DAY_ORDER_CUTOFF,
            f"max_daily_loss {r.max_daily_loss:g}, max_daily_trades {r.max_daily_trades}, hard exit "
            f"{r.hard_exit:%H:%M} (before the 15:30 expiry-day cut-off), entries {s.entry_start:%H:%M}-"
            f"{s.entry_end:%H:%M}",
        ),
    )

    def logs_check() -> tuple[bool, str]:
        cfg.logs_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cfg.logs_dir):
            pass
        return True, f"{cfg.logs_dir} writable"

    check("log directory", logs_check)
    kill = r.kill_file.exists()
    check("kill switch", lambda: (not kill, f"{r.kill_file} {'EXISTS: remove it to trade' if kill else 'absent'}"))
    check("alerts", lambda: alerts_check(cfg))
    return lines


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
