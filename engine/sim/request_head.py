"""The head of a plain HTTP/1.x request (its request line and headers), read for serve-sim's transport.

The standard library's server hands the headers to the email package's parser, which costs a loopback request
more than serve-sim's answer to it. Requests as alpaca-py and the engine send them (a request line of the form
`METHOD /path HTTP/1.x`, then `Name: value` lines) are read here instead, with http.client's limits; anything
else is left to the standard library, which answers it as it always has.
"""

from __future__ import annotations

import re
from typing import Protocol

MAX_LINE = 65536
"""http.client's _MAXLINE: a longer header line is refused (431)."""
MAX_HEADERS = 100
"""http.client's _MAXHEADERS, counted as it counts it (the blank line too): 100 header lines are refused (431)."""

PLAIN_REQUEST_LINE = re.compile(rb"[A-Z]+ /(?!/)[!-~]* HTTP/1\.[01]\r?\n")
"""A request line this module reads: an origin-form path (not `//`, which the standard library rewrites)."""


class Lines(Protocol):
    """A connection's buffered reader (the handler's rfile)."""

    def readline(self, size: int | None = -1, /) -> bytes: ...


class HeadersTooLarge(Exception):
    """A header line over MAX_LINE or more than MAX_HEADERS lines: 431, as the standard library answers."""


class RequestHeaders:
    """A request's headers: `get` by name in any case (the first of a repeated one, as email.message.Message
    gives it), `items` as they were sent."""

    __slots__ = ("_first", "_pairs")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for name, value in pairs:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


def read_headers(rfile: Lines) -> RequestHeaders:
    """The header lines up to the blank one. A line folded onto the next (obsolete, RFC 9112 5.2) continues the
    value before it; a line without a colon is no header and is skipped, as the email parser skips it."""
    pairs: list[tuple[str, str]] = []
    lines = 0
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeadersTooLarge("Line too long")
        lines += 1
        if lines > MAX_HEADERS:
            raise HeadersTooLarge("Too many headers")
        if line in (b"\r\n", b"\n", b""):
            return RequestHeaders(pairs)
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t"):
            if pairs:
                name, value = pairs[-1]
                pairs[-1] = (name, f"{value} {text.strip()}")
            continue
        name, colon, value = text.partition(":")
        if colon:
            pairs.append((name.strip(), value.strip()))
