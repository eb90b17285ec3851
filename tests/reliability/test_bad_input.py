"""The bad input catalogue: each kind of bad input gives a clear error that says what is wrong and where, with
the right exit code, and no journal record is lost.

- config files, through `python run.py --config F` (exit 2, no traceback);
- malformed Alpaca answers, through the real alpaca-py clients and our adapter against a SimServer on
  127.0.0.1 that mangles chosen answers: at the adapter, at start-up (exit 1, or 2 for auth) and mid-run
  (a halt with the reason in the journal, exit 0);
- malformed journal lines: `journal verify`, `replay`, and an engine continuing a journal.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.brokers.alpaca import alpaca_adapters
from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import AlpacaConfig, SimConfig
from engine.errors import AuthError, BrokerError
from engine.journal.audit import read_journal
from engine.models import Intent, Leg, OrderRequest, Side
from engine.occ import occ_symbol
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_PY = str(REPO_ROOT / "run.py")
DAY = date(2025, 7, 1)
JOURNAL_NAME = f"audit-{DAY:%Y%m%d}.jsonl"
KEY, SECRET = "PKFAKEKEY123456", "fakeSecretValue987654"


def _at(hh: int, mm: int) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=ET)


def _params(cases: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [c[1:] for c in cases]


def _ids(cases: list[tuple[Any, ...]]) -> list[str]:
    return [c[0] for c in cases]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, RUN_PY, *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


# -- config files ------------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *sections, key = path.split(".")

    def change(raw: dict[str, Any]) -> None:
        node = raw
        for s in sections:
            node = node[s]
        node[key] = value

    return change


CONFIG_CASES: list[tuple[str, Callable[[dict[str, Any]], None] | str, list[str]]] = [
    # malformed YAML (raw text): the file and the line
    ("yaml-unclosed-flow", "strategy:\n  wing_width: [5, 10\nrisk:\n  max_daily_loss: 5\n", ["malformed YAML", "line"]),
    ("yaml-bad-indent", "risk:\n  max_daily_loss: 500\n    hard_exit: '15:15'\n", ["malformed YAML", "line 3"]),
    ("yaml-not-a-mapping", "- broker\n- sim\n", ["top level must be a mapping"]),
    # wrong types
    ("type-contracts-text", _set("strategy.contracts", "two"), ["strategy.contracts", "integer"]),
    ("type-loss-text", _set("risk.max_daily_loss", "500 dollars"), ["risk.max_daily_loss"]),
    ("type-days-float", _set("session.days", 1.5), ["session.days"]),
    ("type-time-unquoted", "strategy:\n  entry_start: 10:00\n", ["strategy.entry_start", 'quoted "HH:MM"']),
    ("type-bool-text", _set("risk.close_positions_on_shutdown", "maybe"), ["risk.close_positions_on_shutdown"]),
    ("type-section-scalar", _set("risk", 5), ["risk"]),
    ("type-broker-unknown", _set("broker", "ibkr"), ["broker", "'sim' or 'alpaca'"]),
    # unknown keys, top level and nested (a secret in YAML is one too, and its value is not echoed)
    ("unknown-top", _set("brokr", "sim"), ["unknown key 'brokr'"]),
    ("unknown-nested", _set("risk.max_daily_los", 100), ["unknown key 'risk.max_daily_los'"]),
    ("unknown-secret-in-yaml", _set("alpaca.api_key", "PKYAMLKEY999"), ["unknown key 'alpaca.api_key'"]),
    # impossible values
    ("entry-after-hard-exit", _set("strategy.entry_end", "15:30"), ["strategy.entry_end", "risk.hard_exit"]),
    ("wing-width-zero", _set("strategy.wing_width", 0), ["strategy.wing_width", "greater than 0"]),
    ("wing-width-negative", _set("strategy.wing_width", -5.0), ["strategy.wing_width", "greater than 0"]),
    ("contracts-negative", _set("strategy.contracts", -1), ["strategy.contracts", "greater than or equal to 1"]),
]


@pytest.mark.parametrize(("bad", "expected"), _params(CONFIG_CASES), ids=_ids(CONFIG_CASES))
def test_bad_config_is_refused_naming_the_key_and_the_file(
    tmp_path: Path, bad: Callable[[dict[str, Any]], None] | str, expected: list[str]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    journal = logs / JOURNAL_NAME
    journal.write_bytes(b'{"an earlier run": "must stay"}\n')  # whatever is there stays as it is
    config = tmp_path / "bad-config.yaml"
    if isinstance(bad, str):
        config.write_text(bad, encoding="utf-8")
    else:
        raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text(encoding="utf-8"))
        raw["logs_dir"] = str(logs)
        raw["risk"]["kill_file"] = str(tmp_path / "KILL")
        bad(raw)
        config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")

    run = _run(["--config", str(config)], tmp_path)

    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("config error: ")
    assert str(config) in run.stderr
    for text in expected:
        assert text in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "PKYAMLKEY999" not in run.stderr
    assert journal.read_bytes() == b'{"an earlier run": "must stay"}\n'
    assert sorted(p.name for p in logs.iterdir()) == [JOURNAL_NAME]


# -- a SimServer that mangles chosen answers ------------------------------------------------------------------


@dataclass
class Raw:
    """A body sent as it is (not JSON-encoded)."""

    data: bytes
    content_type: str = "text/html"


@dataclass
class Mangle:
    """Answers to `route` ("GET /v2/account", a path template) become `change(status, body)`: `times` of them,
    from simulated time `after` on."""

    route: str
    change: Callable[[int, Any], tuple[int, Any]]
    times: int = 1_000_000
    after: datetime | None = None


class ManglingServer(SimServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mangles: list[Mangle] = []
        self.mangled: list[str] = []
        self._dispatch = self.api.dispatch
        self.api.dispatch = self._mangled  # type: ignore[method-assign]  # the answer, once the API gave it

    def _mangled(self, route: Any, req: Any) -> Any:
        reply = self._dispatch(route, req)
        for m in self.mangles:
            due = m.after is None or self.clock.now() >= m.after
            if m.route == f"{route.method} {route.template}" and m.times > 0 and due:
                m.times -= 1
                status, body = m.change(reply.status, reply.body)
                self.mangled.append(f"{m.route} at {self.clock.now():%H:%M:%S}")
                return replace(reply, status=status, body=body)
        return reply

    def _send(self, handler: Any, reply: Any) -> None:
        if not isinstance(reply.body, Raw):
            SimServer._send(handler, reply)
            return
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.body.content_type)
        handler.send_header("Content-Length", str(len(reply.body.data)))
        handler.end_headers()
        handler.wfile.write(reply.body.data)


def _without(field: str) -> Callable[[int, Any], tuple[int, Any]]:
    def change(status: int, body: Any) -> tuple[int, Any]:
        if isinstance(body, list):
            return status, [{k: v for k, v in item.items() if k != field} for item in body]
        return status, {k: v for k, v in body.items() if k != field}

    return change


def _with(field: str, value: Any) -> Callable[[int, Any], tuple[int, Any]]:
    def change(status: int, body: Any) -> tuple[int, Any]:
        if isinstance(body, list):
            return status, [{**item, field: value} for item in body]
        return status, {**body, field: value}

    return change


def _answer(status: int, body: Any) -> Callable[[int, Any], tuple[int, Any]]:
    return lambda _status, _body: (status, body)


def _bars_without_close(status: int, body: Any) -> tuple[int, Any]:
    body = copy.deepcopy(body)
    for bars in body["bars"].values():
        for bar in bars:
            del bar["c"]
    return status, body


HTML = Raw(b"<html><body><h1>502 Bad Gateway</h1></body></html>")
NOT_FOUND = Raw(b"404 page not found", "text/plain")


@pytest.fixture
def mangler() -> Iterator[ManglingServer]:
    clock = SimClock(datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=ET))
    venue = SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar())
    server = ManglingServer(venue, clock, api_key=KEY, secret_key=SECRET).start()
    try:
        yield server
    finally:
        server.stop()


# -- at the adapter: each malformed answer is one clear BrokerError naming the endpoint ---------------------------


def _condor_request(md: Any, cid: str) -> OrderRequest:
    spot = round(float(md.bars("SPY", _at(9, 30), _at(10, 30)).close[-1]))
    strikes = [("P", spot - 10, Side.BUY), ("P", spot - 5, Side.SELL), ("C", spot + 5, Side.SELL)]
    strikes.append(("C", spot + 10, Side.BUY))
    legs = tuple(
        Leg(occ_symbol("SPY", DAY, right, k), side, Intent.BUY_TO_OPEN if side is Side.BUY else Intent.SELL_TO_OPEN, 1)
        for right, k, side in strikes
    )
    return OrderRequest(client_order_id=cid, legs=legs, qty=1, limit_price=-5.0)


ADAPTER_CASES: list[tuple[str, Mangle, str, list[str]]] = [
    # a required field missing
    ("account-without-id", Mangle("GET /v2/account", _without("id")), "account", ["malformed response"]),
    ("order-without-status", Mangle("POST /v2/orders", _without("status")), "submit", ["malformed response"]),
    ("calendar-without-close", Mangle("GET /v2/calendar", _without("close")), "session", ["malformed response"]),
    ("bars-without-close", Mangle("GET /v2/stocks/bars", _bars_without_close), "bars", ["malformed response"]),
    # not JSON at all
    ("account-html", Mangle("GET /v2/account", _answer(200, HTML)), "account", ["malformed response", "JSON"]),
    ("positions-text", Mangle("GET /v2/positions", _answer(200, Raw(b"ok"))), "positions", ["malformed response"]),
    ("quotes-html", Mangle("GET /v1beta1/options/snapshots", _answer(200, HTML)), "quotes", ["malformed response"]),
    # an enum value Alpaca does not have
    ("order-exploded", Mangle("POST /v2/orders", _with("status", "exploded")), "submit", ["malformed response"]),
    ("orders-exploded", Mangle("GET /v2/orders", _with("status", "exploded")), "open_orders", ["malformed response"]),
    ("account-exploded", Mangle("GET /v2/account", _with("status", "EXPLODED")), "account", ["malformed response"]),
    # an error body that is not Alpaca's {"code", "message"}
    ("404-plain-text", Mangle("GET /v2/account", _answer(404, NOT_FOUND)), "account", ["HTTP 404: 404 page not found"]),
    ("502-html", Mangle("GET /v2/positions", _answer(502, HTML)), "positions", ["HTTP 502", "502 Bad Gateway"]),
    ("500-empty", Mangle("GET /v2/account", _answer(500, Raw(b""))), "account", ["HTTP 500: no error body"]),
    ("422-json-list", Mangle("POST /v2/orders", _answer(422, ["no"])), "submit", ["HTTP 422"]),
    ("401-plain-text", Mangle("GET /v2/account", _answer(401, Raw(b"Unauthorized", "text/plain"))), "account",
     ["HTTP 401: Unauthorized", "ALPACA_API_KEY"]),
    ("403-other-json", Mangle("GET /v2/account", _answer(403, {"error": "forbidden"})), "account",
     ["HTTP 403", "forbidden"]),
]


@pytest.mark.parametrize(("mangle", "call", "expected"), _params(ADAPTER_CASES), ids=_ids(ADAPTER_CASES))
def test_malformed_answer_becomes_one_clear_broker_error(
    mangler: ManglingServer, mangle: Mangle, call: str, expected: list[str]
) -> None:
    mangler.clock.set(_at(10, 30))
    cfg = AlpacaConfig(trading_url=mangler.url, data_url=mangler.url, timeout_s=10, max_retries=1)
    broker, md = alpaca_adapters(cfg, {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}, mangler.clock)
    calls: dict[str, Callable[[], Any]] = {
        "account": broker.account,
        "submit": lambda: broker.submit_order(_condor_request(md, "zdte-bad-input-1")),
        "session": lambda: broker.session(DAY),
        "bars": lambda: md.bars("SPY", _at(9, 30), _at(10, 30)),
        "positions": broker.positions,
        "quotes": lambda: md.quotes([occ_symbol("SPY", DAY, "C", 600)]),
        "open_orders": lambda: (broker.submit_order(_condor_request(md, "zdte-bad-input-2")), broker.open_orders()),
    }
    mangler.mangles.append(mangle)

    with pytest.raises(BrokerError) as caught:
        calls[call]()

    message = str(caught.value)
    endpoint = mangle.route.split("{")[0].rstrip("/")
    assert message.startswith(endpoint), message
    for text in expected:
        assert text in message
    assert mangler.mangled, "the mangled answer was never asked for"
    assert isinstance(caught.value, AuthError) == ("HTTP 401" in message or "HTTP 403" in message)


# -- in an engine run -------------------------------------------------------------------------------------------


def _engine(server: SimServer, tmp: Path, **sections: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`run.py --config <loopback yaml>` against `server`: a short day (entries 10:00-10:30, hard exit 11:00)."""
    raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    raw["logs_dir"] = str(tmp / "logs")
    raw["risk"].update(kill_file=str(tmp / "KILL"), hard_exit="11:00")
    raw["strategy"]["entry_end"] = "10:30"
    raw["poll"]["halted"] = 600
    raw["alpaca"].update(trading_url=server.url, data_url=server.url, timeout_s=60, max_retries=1)
    for name, values in sections.items():
        raw[name].update(values)
    config = tmp / "loopback.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
    env.update(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET)
    return _run(["--config", str(config)], tmp, env)


def _verified(path: Path) -> list[dict[str, Any]]:
    records, problems = read_journal(path)
    assert problems == [], problems
    return records


STARTUP_CASES = [
    ("account-not-json", Mangle("GET /v2/account", _answer(200, HTML)), 1, "GET /v2/account: malformed response"),
    ("account-exploded", Mangle("GET /v2/account", _with("status", "EXPLODED")), 1,
     "GET /v2/account: malformed response"),
    ("account-502-html", Mangle("GET /v2/account", _answer(502, HTML)), 1, "GET /v2/account: HTTP 502"),
    ("account-401-text", Mangle("GET /v2/account", _answer(401, Raw(b"Unauthorized", "text/plain"))), 2,
     "GET /v2/account: HTTP 401: Unauthorized"),
]


@pytest.mark.parametrize(("mangle", "code", "reason"), _params(STARTUP_CASES), ids=_ids(STARTUP_CASES))
def test_malformed_answer_at_start_up_fails_cleanly(
    tmp_path: Path, mangler: ManglingServer, mangle: Mangle, code: int, reason: str
) -> None:
    mangler.mangles.append(mangle)
    run = _engine(mangler, tmp_path)

    assert run.returncode == code, run.stderr[-3000:]
    assert reason in run.stderr and "Traceback" not in run.stderr + run.stdout
    (fail,) = [r for r in _verified(tmp_path / "logs" / JOURNAL_NAME) if r["kind"] == "transition"]
    assert (fail["source"], fail["trigger"], fail["dest"]) == ("Initializing", "fail", "ShuttingDown")
    assert reason in fail["reason"]
    assert mangler.request_counts["POST /v2/orders"] == 0


MID_RUN_CASES = [
    # the entry order's first poll: its status is not one Alpaca has
    ("order-status-exploded", Mangle("GET /v2/orders/{order_id}", _with("status", "exploded"), times=1), "Entering",
     ["GET /v2/orders/", "malformed response"]),
    # while the condor is open (10:00:55 on), once
    ("account-without-status", Mangle("GET /v2/account", _without("status"), times=1, after=_at(10, 30)), "Monitoring",
     ["GET /v2/account: malformed response"]),
    ("quotes-not-json", Mangle("GET /v1beta1/options/snapshots", _answer(200, HTML), times=1, after=_at(10, 30)),
     "Monitoring", ["GET /v1beta1/options/snapshots: malformed response"]),
    ("account-404-text", Mangle("GET /v2/account", _answer(404, NOT_FOUND), times=1, after=_at(10, 30)), "Monitoring",
     ["GET /v2/account: HTTP 404: 404 page not found"]),
]


@pytest.mark.parametrize(("mangle", "state", "expected"), _params(MID_RUN_CASES), ids=_ids(MID_RUN_CASES))
def test_malformed_answer_mid_run_halts_with_the_reason_in_the_journal(
    tmp_path: Path, mangler: ManglingServer, mangle: Mangle, state: str, expected: list[str]
) -> None:
    mangler.mangles.append(mangle)
    run = _engine(mangler, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert len(mangler.mangled) == 1, run.stderr[-3000:]
    records = _verified(tmp_path / "logs" / JOURNAL_NAME)
    (halt,) = [r for r in records if r["kind"] == "transition" and r["trigger"] == "halt"]
    assert (halt["source"], halt["dest"]) == (state, "Halted")
    for text in expected:
        assert text in halt["reason"]
    moves = [r for r in records if r["kind"] == "transition"]
    assert moves[-1]["dest"] == "ShuttingDown"
    # nothing left behind at the broker, and every order the server took is in the journal
    assert mangler.venue.positions() == [] and mangler.venue.open_orders() == []
    posts = [e for e in mangler.request_log if e["method"] == "POST" and e["path"] == "/v2/orders"]
    taken = {e["client_order_id"] for e in posts if e["status"] == 200}
    submitted = {r["client_order_id"] for r in records if r["kind"] == "order" and r["event"] == "submit"}
    assert taken and taken == submitted
    report = json.loads((tmp_path / "logs" / f"report-{DAY:%Y%m%d}.json").read_text(encoding="utf-8"))
    assert report["open_at_end"] == []


# -- malformed journal lines ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_journal(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The journal of the default simulated day, as bytes (each test damages its own copy)."""
    tmp = tmp_path_factory.mktemp("sim_journal")
    run = _run(["--config", str(REPO_ROOT / "config.yaml"), "--logs-dir", str(tmp / "logs"), "--quiet"], tmp)
    assert run.returncode == 0, run.stderr[-3000:]
    data = (tmp / "logs" / JOURNAL_NAME).read_bytes()
    assert data.count(b"\n") > 20
    return data


def _with_line(data: bytes, n: int, line: bytes) -> bytes:
    """`data` with its line `n` (1-based) replaced."""
    lines = data.split(b"\n")
    lines[n - 1] = line
    return b"\n".join(lines)


def test_journal_verify_names_the_malformed_line(tmp_path: Path, sim_journal: bytes) -> None:
    path = tmp_path / JOURNAL_NAME
    path.write_bytes(_with_line(sim_journal, 5, b'{"seq": 5, "kind": "transition", oops'))

    run = _run(["journal", "verify", str(path)], tmp_path)

    assert run.returncode == 1
    assert f"{path}: line 5: not a valid JSON record" in run.stdout
    assert f"{path}: BROKEN" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize("flags", [[], ["--verify"], ["--json"]], ids=["timeline", "verify", "json"])
def test_replay_of_a_malformed_journal_is_a_clear_error(tmp_path: Path, sim_journal: bytes, flags: list[str]) -> None:
    path = tmp_path / JOURNAL_NAME
    path.write_bytes(_with_line(sim_journal, 7, b"\x00\x01 not json"))

    run = _run(["replay", *flags, str(path)], tmp_path)

    assert run.returncode == 1
    assert "does not verify" in run.stderr and "line 7: not a valid JSON record" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_engine_refuses_to_continue_a_journal_ending_in_a_malformed_line(
    tmp_path: Path, mangler: ManglingServer, sim_journal: bytes
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / JOURNAL_NAME
    lines = sim_journal.count(b"\n")
    damaged = _with_line(sim_journal, lines, b'{"seq": 999, "kind": "transition", garbage}')
    path.write_bytes(damaged)

    run = _engine(mangler, tmp_path)

    assert run.returncode == 1
    assert str(path) in run.stderr and f"line {lines}: not a valid JSON record" in run.stderr
    assert "does not verify" in run.stderr and "Traceback" not in run.stderr
    assert "journal verify" in run.stderr  # it says what to do
    assert "Traceback" not in run.stderr + run.stdout
    assert path.read_bytes() == damaged  # no record lost, none added
    assert not path.with_name(path.name + ".torn").exists()
    assert mangler.request_counts["POST /v2/orders"] == 0


def test_engine_cuts_a_torn_last_line_off_and_keeps_every_record(
    tmp_path: Path, mangler: ManglingServer, sim_journal: bytes
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / JOURNAL_NAME
    tail = b'{"seq": 9999, "ts": "2025-07-01T15:1'
    path.write_bytes(sim_journal + tail)
    before = sim_journal.split(b"\n")[:-1]

    run = _engine(mangler, tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert path.with_name(path.name + ".torn").read_bytes() == tail + b"\n"
    after = path.read_bytes().split(b"\n")[:-1]
    assert after[: len(before)] == before  # every earlier record, byte for byte
    assert len(after) > len(before)
    records = _verified(path)  # the chain goes on from the last complete record
    resumed = records[len(before)]
    assert resumed["kind"] == "header" and resumed["seq"] == len(before) + 1
    assert resumed["prev_hash"] == json.loads(before[-1])["hash"]
