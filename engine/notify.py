"""Sending alerts, off the machine's thread: the engine puts a message on a queue and one worker thread sends it
through apprise to every URL, each attempt bounded in time, retried after a backoff, a last failure logged.

Nothing here can stop or slow trading: a dead or slow service costs the worker its time, never the engine's.
A URL holds its service's token, so no URL is ever logged: one is named by its position and scheme
(`url 2 (tgram)`), and apprise's own log lines, which print whole URLs, never reach the process's logs.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from loguru import logger

if TYPE_CHECKING:  # apprise (with its plugins) is imported when there is a URL to send to, not by every run
    import apprise

BACKOFF_S = 1.0
"""The wait before the first retry; each further retry waits twice as long as the one before."""

# apprise logs whole URLs ("Unsupported URL: ...", "JSON POST URL: ...", socket errors naming the path): its lines
# stay with its own handlers and never reach the root logger, which logs.py routes to the console and the files.
logging.getLogger("apprise").propagate = False

Level = Literal["info", "success", "warning", "failure"]


@dataclass(frozen=True)
class Message:
    event: str
    title: str
    body: str
    level: Level = "info"
    attach: tuple[Path, ...] = ()


def url_label(index: int, url: str) -> str:
    """How a URL is named in the logs and by `check`: its position and its scheme, never what follows."""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://", url)
    return f"url {index} ({scheme.group(1).lower() if scheme else 'no scheme'})"


class _Target:
    """One URL in its own apprise instance, so a retry goes only to the services that failed."""

    def __init__(self, label: str, service: apprise.Apprise, timeout_s: float) -> None:
        self.label = label
        self._service = service
        self._timeout_s = timeout_s

    def send(self, message: Message) -> str | None:
        """None when sent, else what went wrong in words that hold no URL."""
        import apprise

        try:
            result = self._service.notify(
                body=message.body,
                title=message.title,
                notify_type=apprise.NotifyType(message.level),
                body_format=apprise.NotifyFormat.TEXT,
                attach=[str(p) for p in message.attach] or None,
                timeout=self._timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - a plugin's error must not end the worker; its text may hold the URL
            return f"raised {type(exc).__name__}"
        if result:
            return None
        return f"an error answer, no connection, or no answer within {self._timeout_s:g}s"


def targets(urls: Sequence[str], timeout_s: float) -> tuple[list[_Target], list[str]]:
    """The URLs apprise can send to, their socket timeouts set to `timeout_s` (a bound for the thread apprise leaves
    behind when an attempt times out), and the labels of those it cannot use."""
    import apprise
    from apprise.plugins import url_to_dict

    usable, unusable = [], []
    for i, url in enumerate(urls, start=1):
        label = url_label(i, url)
        asset = apprise.AppriseAsset(storage_mode="memory")  # nothing written outside the logs dir
        parsed = url_to_dict(url, secure_logging=True)
        plugin = None
        if parsed is not None:
            plugin = apprise.Apprise.instantiate({**parsed, "cto": timeout_s, "rto": timeout_s}, asset=asset)
        if plugin is None:
            unusable.append(label)
            continue
        service = apprise.Apprise(asset=asset)
        service.add(plugin)
        usable.append(_Target(label, service, timeout_s))
    return usable, unusable


_STOP = None


class Notifier:
    """The queue and its one worker. `send` never waits; `close` waits, within a bound, for what is still queued."""

    def __init__(
        self,
        urls: Sequence[str],
        timeout_s: float,
        retries: int,
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        """`wait` is the backoff's sleep, run in the worker thread only (a test passes one that returns at once)."""
        self._targets, unusable = targets(urls, timeout_s)
        for label in unusable:
            logger.warning(f"alerts: {label} is not a URL apprise can send to; it is skipped")
        self._timeout_s = timeout_s
        self._retries = retries
        self._wait = wait
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="zdte-alerts", daemon=True)
        self._thread.start()

    @property
    def drain_bound_s(self) -> float:
        """What `close` waits at most: one message's every attempt to every URL, and the backoffs between them."""
        backoffs = sum(BACKOFF_S * 2**n for n in range(self._retries))
        return len(self._targets) * (self._retries + 1) * self._timeout_s + backoffs

    def send(self, message: Message) -> None:
        self._queue.put(message)

    def close(self) -> bool:
        """Stop the worker once the queue is sent, waiting at most `drain_bound_s`; False if it was still sending (it
        is a daemon thread: the process does not wait for it)."""
        self._queue.put(_STOP)
        self._thread.join(self.drain_bound_s)
        if alive := self._thread.is_alive():
            logger.warning(f"alerts: gave up waiting after {self.drain_bound_s:g}s; unsent alerts are dropped")
        return not alive

    def _work(self) -> None:
        while (message := self._queue.get()) is not _STOP:
            self._deliver(message)

    def _deliver(self, message: Message) -> None:
        pending = list(self._targets)
        problems: dict[str, str] = {}
        for attempt in range(self._retries + 1):
            if attempt:
                self._wait(BACKOFF_S * 2 ** (attempt - 1))
            for target in list(pending):
                if (problem := target.send(message)) is None:
                    pending.remove(target)
                else:
                    problems[target.label] = problem
            if not pending:
                return
        for target in pending:
            logger.warning(
                f"alert {message.event} not sent to {target.label} after {self._retries + 1} attempt(s): "
                f"{problems[target.label]}; trading goes on"
            )
