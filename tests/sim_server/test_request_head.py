"""serve-sim reads a plain request's head itself (engine/sim/request_head.py), not with the standard library's email
parser: header names in any case, repeated and folded headers, keep-alive and close, the 431 limits, and requests
of other forms still answered by the standard library."""

from __future__ import annotations

import io
import json
import socket

import pytest

from engine.sim.request_head import MAX_HEADERS, MAX_LINE, HeadersTooLarge, read_headers


def _head(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("iso-8859-1"))


def test_headers_are_found_in_any_case_the_first_of_a_repeated_one_and_folded_lines_joined() -> None:
    rfile = _head(
        "apca-api-key-id: k1\r\nAPCA-API-KEY-ID: k2\r\nX-Long: one\r\n  two\r\nno colon here\r\n"
        "Content-Length:  12 \r\n\r\nBODY"
    )
    headers = read_headers(rfile)
    assert headers.get("APCA-API-KEY-ID") == "k1" and headers.get("x-long") == "one two"
    assert headers.get("content-length") == "12" and headers.get("Expect") is None and headers.get("a", "") == ""
    assert headers.items() == [
        ("apca-api-key-id", "k1"), ("APCA-API-KEY-ID", "k2"), ("X-Long", "one two"), ("Content-Length", "12")
    ]
    assert rfile.read() == b"BODY", "the body is left unread"


def test_the_standard_librarys_limits_hold() -> None:
    with pytest.raises(HeadersTooLarge, match="Line too long"):
        read_headers(_head("X: " + "a" * MAX_LINE + "\r\n\r\n"))
    with pytest.raises(HeadersTooLarge, match="Too many headers"):
        read_headers(_head("".join(f"X-{i}: v\r\n" for i in range(MAX_HEADERS)) + "\r\n"))
    assert len(read_headers(_head("".join(f"X-{i}: v\r\n" for i in range(MAX_HEADERS - 1)) + "\r\n")).items()) == 99


class Raw:
    """One TCP connection to the server, speaking HTTP by hand."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.rfile = self.sock.makefile("rb")

    def ask(self, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        self.sock.sendall(head.encode("iso-8859-1") + body)
        status = int(self.rfile.readline().split()[1])
        headers = {}
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("iso-8859-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, self.rfile.read(int(headers.get("content-length", 0)))

    def closed(self) -> bool:
        return self.rfile.read(1) == b""

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


@pytest.fixture
def raw(sim):
    conns: list[Raw] = []

    def connect() -> Raw:
        conns.append(Raw(sim.url))
        return conns[-1]

    yield connect
    for c in conns:
        c.close()


def _keys(sim, case=str.lower) -> str:
    return "".join(f"{case(k)}: {v}\r\n" for k, v in sim.headers.items())


def test_keys_in_lower_case_are_accepted_and_the_connection_is_kept_alive(sim, raw) -> None:
    c = raw()
    for _ in range(2):
        status, _, body = c.ask(f"GET /v2/clock HTTP/1.1\r\nHost: x\r\n{_keys(sim)}\r\n")
        assert status == 200 and "is_open" in json.loads(body)
    status, _, body = c.ask(f"GET /v2/clock HTTP/1.1\r\nHost: x\r\n{_keys(sim, str.upper)}Connection: close\r\n\r\n")
    assert status == 200 and c.closed(), "Connection: close is honoured"


def test_a_body_is_read_by_its_length_and_bad_keys_are_refused(sim, raw) -> None:
    c = raw()
    body = json.dumps({"seconds": 0}).encode()
    status, _, answer = c.ask(
        f"POST /sim/advance HTTP/1.1\r\n{_keys(sim)}Content-Type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n",
        body,
    )
    assert status == 200 and "now" in json.loads(answer)
    status, _, _ = c.ask("GET /v2/clock HTTP/1.1\r\nAPCA-API-KEY-ID: nope\r\nAPCA-API-SECRET-KEY: nope\r\n\r\n")
    assert status == 401


def test_http_1_0_closes_unless_asked_to_keep_alive(sim, raw) -> None:
    c = raw()
    status, _, _ = c.ask(f"GET /v2/clock HTTP/1.0\r\n{_keys(sim)}Connection: keep-alive\r\n\r\n")
    status2, _, _ = c.ask(f"GET /v2/clock HTTP/1.0\r\n{_keys(sim)}\r\n")
    assert status == status2 == 200 and c.closed()


def test_too_many_headers_is_431_and_closes(sim, raw) -> None:
    c = raw()
    many = "".join(f"X-{i}: v\r\n" for i in range(MAX_HEADERS))
    status, _, _ = c.ask(f"GET /v2/clock HTTP/1.1\r\n{many}\r\n")
    assert status == 431 and c.closed()


@pytest.mark.parametrize("target", ["//v2/clock", "http://127.0.0.1/v2/clock"])
def test_other_request_forms_are_the_standard_librarys(sim, raw, target) -> None:
    c = raw()
    status, _, body = c.ask(f"GET {target} HTTP/1.1\r\n{_keys(sim)}\r\n")
    assert status == 200 and "is_open" in json.loads(body)
    status, _, _ = c.ask(f"get /v2/clock HTTP/1.1\r\n{_keys(sim)}\r\n")
    assert status == 501, "a method the handler has no do_ for, as the standard library answers it"
