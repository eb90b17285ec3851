"""Recording every call through the ports, and answering them again from a journal.

A recorded call is (port, method, args, result or error). During a run the calls of one engine tick
are buffered and written as one `input` record just before the next record that depends on them (a
transition or an order) or at the end of the tick, in the same hash chain. On replay the same code
asks the same questions in the same order; the answers come from those records. A question the
recording cannot answer (the code now asks something new) is a Divergence, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine import errors
from engine.codec import decode_result, encode_args, result_codec

PORT_METHODS: dict[str, tuple[str, ...]] = {
    "clock": ("now",),
    "market_data": ("bars", "chain", "quotes"),
    "broker": (
        "account",
        "session",
        "next_session",
        "contracts",
        "submit_order",
        "get_order",
        "order_by_client_id",
        "open_orders",
        "orders_since",
        "cancel_order",
        "positions",
    ),
    "ids": ("client_order_id",),
    "signals": ("kill", "stop"),
}
# Called every poll and almost always None: recorded only when they answer something; on replay a
# call with no recorded answer at that point answers None.
SPARSE = {("signals", "kill"), ("signals", "stop")}

_ERROR_TYPES = {
    cls.__name__: cls
    for cls in (
        errors.ZdteError,
        errors.DataError,
        errors.BrokerError,
        errors.AuthError,
        errors.OrderRejected,
        errors.UnsafeEndpointError,
    )
}


def encode_error(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "transient": getattr(exc, "transient", None),
        "status": getattr(exc, "status", None),
    }


class RecordedError(Exception):
    """An error of a type replay cannot rebuild exactly; the engine treats it like any unexpected error."""


def decode_error(data: dict[str, Any]) -> BaseException:
    cls = _ERROR_TYPES.get(data["type"])
    if cls is None:
        return RecordedError(f"{data['type']}: {data['message']}")
    if issubclass(cls, errors.BrokerError):
        return cls(data["message"], transient=bool(data.get("transient")), status=data.get("status"))
    return cls(data["message"])


# A call as the recorder hands it over: ((port, method), encoded args, captured answer, encoded error or None).
# A plain tuple, because one is made on every port call; `compress` turns a batch into the journal's rows.
Captured = tuple[tuple[str, str], list[Any], Any, dict[str, Any] | None]
Sink = Callable[[Captured], None]


class Recorded:
    """A port whose listed methods are recorded on the way through; other attributes pass straight on."""

    def __init__(self, port: str, inner: Any, sink: Sink) -> None:
        self._inner = inner
        for method in PORT_METHODS[port]:
            setattr(self, method, self._wrap((port, method), getattr(inner, method), sink))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @staticmethod
    def _wrap(key: tuple[str, str], fn: Callable[..., Any], sink: Sink) -> Callable[..., Any]:
        if key in SPARSE:

            def sparse(*args: Any) -> Any:
                result = fn(*args)
                if result is not None:
                    sink((key, encode_args(args), result, None))
                return result

            return sparse
        capture = result_codec(*key).capture

        def call(*args: Any) -> Any:
            encoded = encode_args(args) if args else []
            try:
                result = fn(*args)
            except Exception as exc:
                sink((key, encoded, None, encode_error(exc)))
                raise
            sink((key, encoded, capture(result), None))
            return result

        return call


@dataclass
class Divergence(BaseException):
    """The current code did something the recording did not: where, what was recorded, what happened.

    A BaseException, so the engine's own error handling (which turns errors into halts) cannot swallow it.
    """

    seq: int | None
    ts: str | None
    recorded: str
    actual: str

    def __str__(self) -> str:
        return f"divergence at seq {self.seq} ({self.ts}): recorded {self.recorded}; now {self.actual}"


def compress(calls: list[Captured], memo: dict[tuple[str, str], tuple[Any, Any]]) -> list[dict[str, Any]]:
    """The journal's rows for captured calls. A call equal to the previous call of that method (same arguments,
    same answer) is written as `"same": true`; only a changed answer is converted to its journal form.

    `memo` belongs to one journal file, so every file can be replayed on its own: a poll that reads
    unchanged quotes or an unchanged account costs a few bytes.
    """
    out = []
    writers = _WRITERS
    for key, args, result, error in calls:
        if error is not None:
            memo.pop(key, None)
            out.append({"port": key[0], "method": key[1], "args": args, "error": error})
            continue
        seen = memo.get(key)
        if seen is not None and seen[1] == result and seen[0] == args:
            out.append({"port": key[0], "method": key[1], "same": True})
        else:
            memo[key] = (args, result)
            out.append({"port": key[0], "method": key[1], "args": args, "result": writers[key](result)})
    return out


_WRITERS = {(port, m): result_codec(port, m).write for port, methods in PORT_METHODS.items() for m in methods}


class Tape:
    """The recorded calls of a journal, played back in order."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._calls: list[tuple[int, str, dict[str, Any]]] = []
        previous: dict[tuple[str, str], dict[str, Any]] = {}
        for r in records:
            for call in r["calls"] if r.get("kind") == "input" else ():
                key = (call["port"], call["method"])
                if call.get("same"):
                    call = {**call, "args": previous[key]["args"], "result": previous[key]["result"]}
                elif "result" in call:
                    previous[key] = call
                self._calls.append((r["seq"], r["ts"], call))
        self._pos = 0
        self.last_seq: int | None = None
        self.last_ts: str | None = None

    def answer(self, port: str, method: str, args: list[Any]) -> Any:
        encoded = encode_args(tuple(args))
        if (port, method) in SPARSE:
            nxt = self._calls[self._pos][2] if self._pos < len(self._calls) else None
            if nxt is None or (nxt["port"], nxt["method"]) != (port, method):
                return None
        if self._pos >= len(self._calls):
            raise Divergence(self.last_seq, self.last_ts, "no further call", f"{port}.{method}{_show(encoded)}")
        seq, ts, call = self._calls[self._pos]
        if (call["port"], call["method"], call["args"]) != (port, method, encoded):
            raise Divergence(
                seq,
                ts,
                f"{call['port']}.{call['method']}{_show(call['args'])}",
                f"{port}.{method}{_show(encoded)}",
            )
        self._pos += 1
        self.last_seq, self.last_ts = seq, ts
        if "error" in call:
            raise decode_error(call["error"])
        return decode_result(port, method, call["result"])


def _show(args: Any) -> str:
    text = repr(args)
    return f"({text[1:-1][:160]})" if isinstance(args, list) else text[:160]


class Replayed:
    """A port answered from the tape."""

    def __init__(self, port: str, tape: Tape) -> None:
        for method in PORT_METHODS[port]:
            setattr(self, method, self._answer(port, method, tape))

    @staticmethod
    def _answer(port: str, method: str, tape: Tape) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            return tape.answer(port, method, list(args))

        return call

    def sleep(self, seconds: float) -> None:
        """Replay does not wait: the next recorded `now` says where time went."""
