"""serve-sim writes each answer (status line, headers, body) in one send, with the head the standard library's
send_response, send_header and end_headers would have written: the same status line, Server and Date first, the
same Content-Type and Content-Length, the reply's own headers after them, and a Connection header obeyed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.sim.api_call import Reply
from engine.sim.transport import SimServer, _Handler


class _Writes:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)


def _handler(version: str = "HTTP/1.1") -> Any:
    handler = object.__new__(_Handler)  # no socket: only what _send touches
    handler.request_version = version
    handler.requestline = "GET /v2/account HTTP/1.1"
    handler.close_connection = False
    handler.wfile = _Writes()
    return handler


REPLIES = (
    Reply(200, {"id": "x", "equity": "100000", "nested": [1, 2.5, None]}),
    Reply(204),
    Reply(404, {"code": 40410000, "message": "not found"}),
    Reply(429, {"code": 42910000}, (("Retry-After", "1"), ("X-RateLimit-Reset", "1751378400"))),
    Reply(200, {"closing": True}, (("Connection", "close"),)),
    Reply(599, {"unknown": "status"}),
)


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: str(r.status))
def test_one_write_with_the_standard_librarys_head(reply, monkeypatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1751378400.25)
    ours, stdlib = _handler(), _handler()
    SimServer._send(ours, reply)
    body = b"" if reply.body is None else SimServer._json(reply.body)
    SimServer._send_stdlib(stdlib, reply, body)
    assert len(ours.wfile.chunks) == 1
    assert ours.wfile.chunks[0] == b"".join(stdlib.wfile.chunks)
    assert b"\r\nDate: Tue, 01 Jul 2025 14:00:00 GMT\r\n" in ours.wfile.chunks[0]
    assert ours.close_connection == stdlib.close_connection == any(v == "close" for _, v in reply.headers)


def test_an_http_0_9_request_is_answered_the_standard_librarys_way() -> None:
    handler = _handler("HTTP/0.9")
    SimServer._send(handler, Reply(200, {"a": 1}))
    assert b"".join(handler.wfile.chunks) == b'{"a":1}'
