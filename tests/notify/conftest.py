"""What the alert tests share: a receiver on 127.0.0.1 that speaks apprise's json:// and keeps what it is sent, and a
simulated day run in-process with alerts attached."""

from __future__ import annotations

import copy
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.alerts import Alerts
from engine.app import build
from engine.config import Config, parse_config
from engine.logs import close_day_files
from engine.notify import Notifier
from engine.runner import Runner

WAIT_S = 60.0
"""The bound of every wait on the receiver: what arrives at all arrives long before it."""


class Receiver:
    """apprise's json:// POSTs {version, title, message, attachments: [{filename, base64, mimetype}], type} to the
    URL's path: each one is kept with its path. `status` is the answer; with `hold`, every request waits for that
    event to be set before it is answered (a slow service)."""

    def __init__(self, status: int = 200, hold: threading.Event | None = None) -> None:
        self.posts: list[dict[str, Any]] = []
        self.entered = threading.Event()
        """Set when the first request has come in, before it is held."""
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.entered.set()
                if hold is not None:
                    hold.wait(WAIT_S)
                with receiver._changed:
                    receiver.posts.append({"path": self.path, **body})
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self._server.server_port}{path}"

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        """The posts once there are `count` of them (or what came within WAIT_S)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.posts) >= count, WAIT_S)
            return list(self.posts)

    def titles(self) -> list[str]:
        return [p["title"] for p in self.posts]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    """make_receiver(status=200, hold=None): more receivers, or ones that fail or hang."""
    made: list[Receiver] = []

    def make(status: int = 200, hold: threading.Event | None = None) -> Receiver:
        made.append(Receiver(status, hold))
        return made[-1]

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def dead_url() -> str:
    """A json:// URL on a port of 127.0.0.1 that nothing listens on: every connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"json://127.0.0.1:{port}/hook"


def day_config(raw_default: dict[str, Any], logs: Path, **sections: dict[str, Any]) -> Config:
    """The default config with its files in `logs`, without the page and its charts unless `report` asks for them,
    and `sections` merged in."""
    raw = copy.deepcopy(raw_default)
    raw["logs_dir"] = str(logs)
    raw["risk"]["kill_file"] = str(logs / "KILL")
    raw["report"] = {"html": False}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return parse_config(raw, "test")


def no_wait(seconds: float) -> None:
    """The notifier's backoff in tests: a retry goes at once."""


def alerts_to(cfg: Config, urls: list[str], timeout_s: float = 30.0, retries: int = 0) -> Alerts:
    return Alerts(cfg, Notifier(urls, timeout_s, retries, wait=no_wait))


def run_day(cfg: Config, alerts: Alerts | None, between: Callable[[Runner], None] | None = None) -> Runner:
    """One run to its end, then the alerts drained; `between` is called after every tick (to act mid-day)."""
    runner = build(cfg, alerts=alerts)
    try:
        runner.start()
        while not runner.finished:
            runner.tick()
            if between is not None:
                between(runner)
        if alerts is not None:
            assert alerts.close()
    finally:
        close_day_files()
    return runner
