"""Composition root: turn a validated Config into a ready Runner with its adapters and components.

This is the only place that chooses adapters (simulated or Alpaca), so nothing else needs to know
which world it runs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import Config
from engine.context import Components, Context
from engine.data import BarWindow
from engine.days import Days
from engine.discovery import ContractDiscovery
from engine.errors import ConfigError, DataError
from engine.feed import NoFeed
from engine.ids import DeterministicIds
from engine.journal.answers import RecordedMarket
from engine.journal.recording import Recorded, Recorder
from engine.journal.sink import AuditSink
from engine.machine import TRANSITIONS, State
from engine.marks import Marks
from engine.orders import OrderManager
from engine.ports import PORTS, Broker, Clock, Feed, IdGen, MarketData, Signals
from engine.progress import Progress
from engine.risk import RiskGate
from engine.runner import Runner
from engine.signals import ProcessSignals
from engine.status import StatusLine
from engine.strategies import make_strategy
from engine.streamed import StreamedMarket
from engine.version import engine_version

if TYPE_CHECKING:
    from engine.sim.venue import SimVenue

if TYPE_CHECKING:
    from engine.alerts import Alerts

SIM_START = time(9, 0)


@cache
def git_revision() -> str | None:
    """The checkout's commit, read from .git without running git (once a process: the code running is the commit
    checked out when it started); None outside a checkout."""
    git = Path(__file__).resolve().parents[1] / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = git / ref
            if ref_file.exists():
                return ref_file.read_text().strip()
            for line in (git / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
            return None
        return head
    except OSError:
        return None


@dataclass
class Adapters:
    clock: Clock
    broker: Broker
    market_data: MarketData
    venue: Any = None
    ids: IdGen | None = None
    signals: Signals | None = None
    feed: Feed | None = None
    """The streams (None: the run polls)."""
    recorded: bool = True
    market_step_s: float | None = None
    """How often the market data can change, when it moves in steps (the embedded simulator's minute); None: at
    any moment, as a live feed does. The runner skips the polls that would fall in the step the last one saw."""


def sim_adapters(cfg: Config, first_day: date, read_ahead: bool = True) -> Adapters:
    """`read_ahead=False` leaves the data unread, for a caller that reads it on its own (`check`, so that a bad
    file fails the line that names it)."""
    from engine.brokers.sim import SimBroker, SimMarketData
    from engine.sim.venue import SimVenue

    clock = SimClock(datetime.combine(first_day, SIM_START, tzinfo=ET))
    venue = SimVenue(cfg.sim, cfg.underlying, clock, ExchangeCalendar(), cfg.instrument, read_recording)
    if read_ahead:
        read_sim_data(cfg, venue, first_day)
    return Adapters(clock, SimBroker(venue), SimMarketData(venue), venue, market_step_s=venue.step_s)


def read_sim_data(cfg: Config, venue: SimVenue, first_day: date) -> list[date]:
    """Read each session's inputs up front, so a bad file is a start-up error naming it, never a day halted on a
    data outage; the sessions read are returned."""
    from engine.brokers.sim import engine_errors

    sessions = ExchangeCalendar().sessions_from(first_day, cfg.session.count or 1)
    with engine_errors():
        venue.check_data(sessions)
    return sessions


def read_recording(path: Path) -> RecordedMarket:
    """A session journal as the simulator's market data (sim.bars or sim.quotes naming one)."""
    from engine.journal.answers import recorded_market
    from engine.sim.errors import SimDataError

    try:
        return recorded_market(path)
    except DataError as exc:
        raise SimDataError(str(exc)) from None


def alpaca(cfg: Config) -> Adapters:
    """Alpaca's adapters on the endpoint's time: serve-sim's simulated clock when the trading URL is serve-sim
    (a day over loopback must not wait in real time), the wall's otherwise. The adapter is told, never asks."""
    from engine.brokers.alpaca import alpaca_adapters, paper_keys
    from engine.brokers.serve_sim_clock import RemoteSimClock, is_loopback, is_simulator
    from engine.clock import WallClock
    from engine.config import load_secrets

    keys = load_secrets()
    key, secret = paper_keys(cfg.alpaca, keys)  # refused before the endpoint is asked anything
    url, timeout = cfg.alpaca.trading_url, cfg.alpaca.timeout_s
    clock: Clock
    if url and is_simulator(url, timeout):
        clock = RemoteSimClock(url, {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}, timeout)
    else:
        clock = WallClock()
    # serve-sim on loopback, for trading and data: no proxy, netrc entry or CA bundle of the environment is for it,
    # and its calls may take the short way of engine/brokers/loopback_http.py; never Alpaca's
    local = isinstance(clock, RemoteSimClock) and is_loopback(cfg.alpaca.data_url)
    broker, market_data = alpaca_adapters(cfg.alpaca, keys, clock, seed=cfg.sim.seed, loopback=local)
    feed = None
    if cfg.streams:
        from engine.brokers.alpaca_feed import AlpacaFeed

        urls = clock.info.get("streams") if isinstance(clock, RemoteSimClock) else None
        if isinstance(clock, RemoteSimClock) and not urls:
            if cfg.data.source == "stream":
                raise ConfigError(f"data.source: stream, but the simulator at {url} serves no streams")
            logger.info(f"the simulator at {url} serves no streams: this run polls")
            return Adapters(clock, broker, market_data)
        feed = AlpacaFeed(key, secret, cfg.alpaca, cfg.stream, urls, news=getattr(clock, "news", None))
        if isinstance(clock, RemoteSimClock):
            clock.settle = feed.settle
    return Adapters(clock, broker, market_data, feed=feed)


def adapters_for_check(cfg: Config) -> Adapters:
    """The adapters a run would use, their data not read yet (the checklist reads it on a line of its own). The
    simulator's clock is put at the entry window of the first session the run would trade (a run from a weekend
    or a holiday trades the next one), so data can answer."""
    if cfg.broker == "alpaca":
        return alpaca(cfg)
    day = ExchangeCalendar().sessions_from(first_day(cfg, None), 1)[0]
    adapters = sim_adapters(cfg, day, read_ahead=False)
    clock = adapters.clock
    assert isinstance(clock, SimClock)
    clock.set(datetime.combine(day, cfg.strategy.entry_start, tzinfo=ET))
    return adapters


def first_day(cfg: Config, adapters: Adapters | None) -> date:
    """The configured date; on Alpaca without one, today in New York by the broker-side clock."""
    if cfg.session.date is not None:
        return cfg.session.date
    if adapters is not None:
        return adapters.clock.now().astimezone(ET).date()
    raise ConfigError("session.date: required with broker 'sim' (set it in the config or pass --date)")


def build(
    cfg: Config,
    adapters: Adapters | None = None,
    initial: State = State.INITIALIZING,
    progress: Progress | None = None,
    day_files: bool = True,
    alerts: Alerts | None = None,
) -> Runner:
    """Wire one engine run; pass `adapters` to run it on fakes or recorded inputs, `initial` to start mid-way,
    `progress` to count its sessions on the console, `day_files=False` for a run inside another (its logs stay
    the outer run's), `alerts` to tell the trader (only the run itself: a replay or a re-simulation of a day must
    not alert again)."""
    if adapters is None and cfg.broker == "alpaca":
        adapters = alpaca(cfg)
    day = first_day(cfg, adapters)
    if adapters is None:
        adapters = sim_adapters(cfg, day)
    if cfg.streams and adapters.feed is None:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"source": "poll"})})  # the header says so
    sim = cfg.broker == "sim"
    recorder = Recorder()
    signals = adapters.signals or ProcessSignals(cfg.kill_file)
    given = {
        **vars(adapters),
        "ids": adapters.ids or DeterministicIds(cfg.orders.client_order_id_prefix),
        "feed": adapters.feed or NoFeed(),
    }
    ports: dict[str, Any] = {name: signals if name == "signals" else given[name] for name in PORTS}
    if cfg.journal.record_inputs and adapters.recorded:
        ports = {name: Recorded(name, port, recorder) for name, port in ports.items()}
    audit = AuditSink(cfg.logs_dir, sim, recorder, lambda d: session_header(cfg, d), day_files)
    broker, market_data = ports["broker"], ports["market_data"]
    live = None
    if cfg.streams:
        live = StreamedMarket(
            market_data, ports["feed"], cfg.underlying, cfg.stream, lambda kind, **f: ctx.record(kind, **f)
        )
        market_data = live
    risk = RiskGate(cfg.risk, cfg.strategy)
    parts = Components(
        bars=BarWindow(market_data, cfg.underlying, cfg.data),
        marks=Marks(market_data, cfg.data),
        discovery=ContractDiscovery(
            broker, market_data, cfg.underlying, cfg.data.strike_discovery_range, cfg.strategy.wing_width
        ),
        strategy=make_strategy(cfg.strategy, cfg.instrument.multiplier),
        risk=risk,
        orders=OrderManager(broker, market_data, ports["ids"], cfg.orders, audit, gate=risk.order_problems),
        status=StatusLine(cfg.report.status_interval_s),
        live=live,
    )
    ctx = Context(
        cfg=cfg,
        broker=broker,
        market_data=market_data,
        signals=ports["signals"],
        parts=parts,
        audit=audit,
        days=Days(cfg, day, broker),
    )
    runner = Runner(
        ctx,
        ports["clock"],
        initial,
        venue=adapters.venue,
        signals=signals,
        progress=progress,
        market_step_s=adapters.market_step_s,
    )
    if alerts is not None:
        audit.listeners.append(alerts.record)
        runner.day_listeners.append(alerts.day_done)
    return runner


def session_header(cfg: Config, day: date) -> dict[str, Any]:
    """What a reader (or replay) needs to know about the run that wrote this journal; the Alpaca keys are not in
    Config, and its alert URLs are SecretStr, dumped masked."""
    return {
        "session_date": day.isoformat(),
        "engine_version": engine_version(),
        "git_revision": git_revision(),
        "broker": cfg.broker,
        "seed": cfg.sim.seed,
        "config": cfg.model_dump(mode="json"),
        "machine": [
            {k: (v if isinstance(v, str) else [str(x) for x in v]) for k, v in t.items()} for t in TRANSITIONS
        ],
    }
