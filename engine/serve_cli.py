"""`run.py serve-sim`: the simulator behind Alpaca's REST API and websocket streams on loopback, as a command: it
reads the engine's config and builds the venue the server (engine/sim/transport.py) serves."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import date, datetime
from typing import Any

from engine.app import SIM_START, read_recording
from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import ConfigError, InstrumentConfig, SimConfig, load_config
from engine.sim import alpaca_json as aj
from engine.sim.transport import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, SimServer
from engine.sim.venue import SimVenue


def serve(args: argparse.Namespace) -> int:
    """`run.py serve-sim`: the simulator on loopback until SIGINT/SIGTERM, then the request counts.

    The keys are simulator keys (anything the clients are configured with); defaults are printed so a
    user can paste them. Keys taken from the environment are not echoed: they may be real ones.
    """
    sim_cfg, underlying, instrument = SimConfig(), "SPY", InstrumentConfig()
    if getattr(args, "config", None) is not None:
        try:
            cfg = load_config(args.config)
        except ConfigError as exc:
            print(f"config error: {exc}", file=sys.stderr)
            return 2
        sim_cfg, underlying, instrument = cfg.sim, cfg.underlying, cfg.instrument
    if getattr(args, "seed", None) is not None:
        sim_cfg = sim_cfg.model_copy(update={"seed": args.seed})
    day = args.date or date(2025, 7, 1)
    clock = SimClock(datetime.combine(day, SIM_START, tzinfo=ET))
    venue = SimVenue(sim_cfg, underlying, clock, ExchangeCalendar(), instrument, read_recording)
    env_key, env_secret = os.environ.get("ALPACA_API_KEY", ""), os.environ.get("ALPACA_SECRET_KEY", "")
    from_env = bool(env_key and env_secret)
    key, secret = (env_key, env_secret) if from_env else (DEFAULT_API_KEY, DEFAULT_SECRET_KEY)
    try:
        server = SimServer(
            venue,
            clock,
            port=args.port or 0,
            api_key=key,
            secret_key=secret,
            fault_rate=args.fault_rate or 0.0,
            seed=sim_cfg.seed,
            slow_seconds=args.slow_seconds if args.slow_seconds is not None else 2.0,
            streams=True,
            stream_port=args.stream_port or 0,
        )
    except ValueError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, on_signal)
    try:
        try:
            server.start()
        except OSError as exc:
            ports = f"{args.port or 0} (streams {args.stream_port or 0})"
            print(f"cannot serve on 127.0.0.1:{ports}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        session = venue.session(day)
        when = "a session" if session else f"no session (next: {venue.next_session(day).day.isoformat()})"
        print(f"zdte simulator: Alpaca REST API at {server.url}", flush=True)
        assert server.streams is not None
        urls = server.streams.urls
        print(f"  streams: stocks {urls['iex']} {urls['sip']}")
        print(f"           options {urls['indicative']} {urls['opra']}")
        print(f"           trading {urls['trading']}  (alpaca-py: url_override=<the URL>, as is)")
        print(f"  {day.isoformat()}: {when}; clock at {aj.iso_et(clock.now())}; seed {sim_cfg.seed}; {underlying}")
        if from_env:
            print("  keys: ALPACA_API_KEY / ALPACA_SECRET_KEY from the environment")
        else:
            print(f"  keys (simulator only): ALPACA_API_KEY={key} ALPACA_SECRET_KEY={secret}")
        print(f"  faults: rate {server.fault_rate}, slow {server.slow_seconds}s; time moves by POST /sim/advance,")
        print("  and the streams publish what each advance skipped (GET /sim/info lists their URLs)")
        print("  Ctrl-C to stop", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(server.format_counts(), flush=True)
    return 0
