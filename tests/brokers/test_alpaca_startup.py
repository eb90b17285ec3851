"""`python run.py --config <loopback config>` refusing to start: wrong keys, missing keys, the LIVE endpoint, a live
account or a live key behind any URL.

The engine runs as a real process against a SimServer on 127.0.0.1. Every other address is routed to a local
sink through the proxy variables, so a request that should never be sent is counted there, not sent anywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.brokers import alpaca as alpaca_module
from engine.clock import WallClock
from engine.config import AlpacaConfig
from engine.errors import AuthError, UnsafeEndpointError

REPO_ROOT = Path(__file__).resolve().parents[2]
LIVE_URL = "https://api.alpaca.markets"


class Sink:
    """A local TCP listener standing in for every non-loopback address (as the proxy); counts connections."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
        self._sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


@pytest.fixture
def run_engine(tmp_path, sink):
    """run_engine(trading_url, keys) -> (CompletedProcess, logs dir): run.py on a copy of examples/loopback.yaml.
    The working directory is a temporary one, so no .env of the checkout supplies keys."""

    def run(trading_url: str, keys: dict[str, str]) -> tuple[subprocess.CompletedProcess, Path]:
        raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
        logs = tmp_path / "logs"
        raw["logs_dir"] = str(logs)
        raw["risk"]["kill_file"] = str(tmp_path / "KILL")
        raw["alpaca"].update(trading_url=trading_url, data_url=trading_url, timeout_s=2.0)
        config = tmp_path / "loopback.yaml"
        config.write_text(yaml.safe_dump(raw), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_") and "PROXY" not in k.upper()}
        proxies = {name: sink.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")}
        env.update(proxies, **{k.lower(): v for k, v in proxies.items()}, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        env.update(keys)
        proc = subprocess.run(
            [sys.executable, str(REPO_ROOT / "run.py"), "--config", str(config), "--quiet"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return proc, logs

    return run


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempted fails the test: what is refused must be refused before the network."""

    def no_connections(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_connections)
    monkeypatch.setattr(socket, "create_connection", no_connections)


def _transitions(logs: Path) -> list[dict]:
    (journal,) = logs.glob("audit-*.jsonl")
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    return [r for r in records if r["kind"] == "transition"]


def test_wrong_keys_fail_at_initializing_with_exit_2(make_sim, run_engine, sink) -> None:
    server = make_sim()
    proc, logs = run_engine(server.url, {"ALPACA_API_KEY": "wrong-key", "ALPACA_SECRET_KEY": "wrong-secret"})
    assert proc.returncode == 2, proc.stderr
    assert "start-up failed: AuthError" in proc.stderr and "ALPACA_API_KEY" in proc.stderr
    (move,) = _transitions(logs)
    assert (move["trigger"], move["source"], move["dest"]) == ("fail", "Initializing", "ShuttingDown")
    assert "HTTP 401" in move["reason"] and "ALPACA_API_KEY / ALPACA_SECRET_KEY" in move["reason"]
    log = server.request_log
    alpaca_paths = [e for e in log if not e["path"].startswith("/sim/")]
    assert alpaca_paths and all(e["status"] == 401 for e in alpaca_paths)  # every Alpaca request was refused
    # the simulator's public /sim/info told the engine it runs on simulated time: the journal is in market time
    assert move["ts"].startswith("2025-07-01T09:00")
    assert not [e for e in log if e["method"] != "GET"]  # nothing sent that changes anything
    assert server.venue.all_orders() == [] and sink.connections == 0


def test_missing_keys_are_refused_before_any_request(make_sim, run_engine, sink) -> None:
    server = make_sim()
    proc, logs = run_engine(server.url, {})
    assert proc.returncode == 2, proc.stderr
    assert "refused: missing ALPACA_API_KEY, ALPACA_SECRET_KEY" in proc.stderr
    assert server.request_log == [] and sink.connections == 0
    assert not logs.exists() or not list(logs.glob("audit-*.jsonl"))  # refused before the run began


def test_one_missing_key_is_named(make_sim) -> None:
    server = make_sim()
    cfg = AlpacaConfig(trading_url=server.url, data_url=server.url)
    with pytest.raises(AuthError, match=r"missing ALPACA_SECRET_KEY:") as err:
        alpaca_module.alpaca_adapters(cfg, {"ALPACA_API_KEY": "k"}, clock=WallClock())
    assert "ALPACA_API_KEY" not in str(err.value).split(":")[0]
    assert server.request_log == []


def test_live_endpoint_is_refused_before_any_connection(run_engine, sink) -> None:
    # a key of the paper form, so that the URL alone is what is refused
    proc, logs = run_engine(LIVE_URL, {"ALPACA_API_KEY": "PKPAPERFORM", "ALPACA_SECRET_KEY": "live-secret"})
    assert proc.returncode == 2, proc.stderr
    assert "refused:" in proc.stderr and "LIVE" in proc.stderr and "paper only" in proc.stderr
    assert "live-secret" not in proc.stderr + proc.stdout  # a refused secret is not echoed either
    assert sink.connections == 0  # no request left for the live host (nor for anywhere else)
    assert not logs.exists() or not list(logs.glob("audit-*.jsonl"))


@pytest.mark.parametrize(
    "url",
    [
        LIVE_URL,
        "https://api.alpaca.markets/",
        "https://API.Alpaca.Markets",  # host names are case-insensitive
        "https://api.alpaca.markets/paper-api",  # "paper-api" in the path is not the paper host
        "https://api.alpaca.markets:443/v2",
    ],
)
@pytest.mark.usefixtures("no_network")
def test_refuse_live_is_the_first_thing_alpaca_adapters_does(url) -> None:
    with pytest.raises(UnsafeEndpointError, match="LIVE.*paper only") as err:
        alpaca_module.alpaca_adapters(AlpacaConfig(trading_url=url), {}, clock=WallClock())  # no keys needed to refuse
    assert err.traceback[-1].name == "refuse_live"


@pytest.mark.parametrize("url", ["https://paper-api.alpaca.markets", "http://127.0.0.1:8080", None])
def test_paper_and_loopback_endpoints_pass_the_guard(url) -> None:
    alpaca_module.refuse_live(url)


def test_a_live_account_behind_a_loopback_url_is_refused_at_start_up_before_any_order(
    make_sim, run_engine, sink, keys
) -> None:
    """The URL passes the host guard (loopback), the keys are accepted: only the account's own number says live."""
    server = make_sim(live_account=True)
    proc, logs = run_engine(server.url, keys)
    assert proc.returncode == 2, proc.stderr
    assert "start-up failed: UnsafeEndpointError: GET /v2/account: account '0ZDTESIM01' is not evidently paper: " \
        "its account number does not start with 'PA'" in proc.stderr and "paper only" in proc.stderr
    (move,) = _transitions(logs)
    assert (move["trigger"], move["source"], move["dest"]) == ("fail", "Initializing", "ShuttingDown")
    assert "0ZDTESIM01" in move["reason"]
    assert not [e for e in server.request_log if e["method"] != "GET" and not e["path"].startswith("/sim/")]
    api = [e["path"] for e in server.request_log if not e["path"].startswith("/sim/")]
    assert api == ["/v2/account"]  # refused on the first answer: no positions, orders or anything else asked
    assert server.venue.all_orders() == [] and sink.connections == 0


def test_a_paper_account_on_serve_sim_with_its_default_keys_is_accepted(make_sim, adapters_for) -> None:
    from engine.sim.transport import DEFAULT_API_KEY, DEFAULT_SECRET_KEY

    keys = {"ALPACA_API_KEY": DEFAULT_API_KEY, "ALPACA_SECRET_KEY": DEFAULT_SECRET_KEY}
    assert alpaca_module.paper_keys(AlpacaConfig(), keys) == (DEFAULT_API_KEY, DEFAULT_SECRET_KEY)
    account = adapters_for(make_sim().url).broker.account()
    assert account.account_id == "PA0ZDTESIM01" and account.paper


@pytest.mark.parametrize("url", ["https://paper-api.alpaca.markets", "http://127.0.0.1:8080", None])
@pytest.mark.usefixtures("no_network")
def test_a_live_form_key_is_refused_whatever_the_url_before_any_connection(url) -> None:
    keys = {"ALPACA_API_KEY": "AKFAKE123", "ALPACA_SECRET_KEY": "fake-secret"}
    with pytest.raises(UnsafeEndpointError, match="starts with 'AK'.*LIVE key ids.*paper only") as err:
        alpaca_module.alpaca_adapters(AlpacaConfig(trading_url=url), keys, clock=WallClock())
    assert "AKFAKE123" not in str(err.value)


def test_a_live_form_key_is_refused_by_run_py_with_exit_2(make_sim, run_engine, sink) -> None:
    server = make_sim()
    proc, logs = run_engine(server.url, {"ALPACA_API_KEY": "AKFAKE123", "ALPACA_SECRET_KEY": "fake-secret"})
    assert proc.returncode == 2, proc.stderr
    assert "refused: ALPACA_API_KEY starts with 'AK'" in proc.stderr and "AKFAKE123" not in proc.stderr
    assert server.request_log == [] and sink.connections == 0  # not even serve-sim's /sim/info was asked
    assert not logs.exists() or not list(logs.glob("audit-*.jsonl"))


def test_a_loopback_endpoint_that_does_not_answer_is_an_error_not_a_switch_to_wall_time() -> None:
    import socket

    from engine.brokers.serve_sim_clock import is_simulator
    from engine.errors import BrokerError

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BrokerError, match="does not answer"):
        is_simulator(f"http://127.0.0.1:{port}", timeout=0.2)
    # a non-loopback endpoint is never asked: it is Alpaca, on the wall clock
    assert is_simulator("https://paper-api.alpaca.markets", timeout=0.2) is False


def test_the_adapter_knows_nothing_of_serve_sim() -> None:
    """The adapter runs the same against Alpaca and serve-sim: which clock it retries on is decided by the
    composition root (engine/app.py) with engine/brokers/serve_sim_clock.py, and handed in."""
    source = Path(alpaca_module.__file__).read_text(encoding="utf-8")
    assert "/sim/" not in source and "serve_sim" not in source and "is_simulator" not in source
