"""Recording every call through the ports, and answering them again from a journal.

A recorded call is a row: the method, its arguments, and its answer or error (see Recorder). During a
run the rows are buffered and written as one `input` record just before the next record that follows
from them (a transition or an order), or once a batch has gathered, in the same hash chain. On replay
the same code asks the same questions in the same order; the answers come from those records. A question the
recording cannot answer (the code now asks something new) is a Divergence, not a crash.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from engine import errors
from engine.journal.audit import json_form
from engine.journal.codec import decode_result, encode, encode_args, result_codec
from engine.ports import recorded_methods

PORT_METHODS = recorded_methods()
# A journal row names the method only: each method name belongs to one port.
PORT_OF = {method: port for port, methods in PORT_METHODS.items() for method in methods}
assert len(PORT_OF) == sum(map(len, PORT_METHODS.values())), "a method name must identify its port"
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
        broker = cast(type[errors.BrokerError], cls)
        return broker(data["message"], transient=bool(data.get("transient")), status=data.get("status"))
    return cls(data["message"])


class Recorder:
    """The port calls bound for one journal file, in the journal's form, made as the calls return.

    A row is `[method, args, answer]`, or `[method, args, null, error]` for a call that raised. A call
    equal to the previous call of its method (same arguments, same answer) is written `[method]`: a poll
    that reads unchanged quotes or an unchanged account costs a few bytes. What a repeat refers to must
    be in the same file, so every file replays on its own: `take(last_of_file=True)` forgets the previous
    calls. The rows themselves are made by Recorded, on every port call.
    """

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []
        self.previous: dict[str, tuple[list[Any], Any, Any]] = {}
        """Per method, the last call's encoded arguments, encoded answer and the answer itself."""

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, last_of_file: bool = False) -> list[list[Any]]:
        rows = self.rows[:]
        self.rows.clear()  # the same list object: Recorded holds it
        if last_of_file:
            self.previous.clear()
        return rows


class Recorded:
    """A port whose listed methods are recorded on the way through; other attributes pass straight on."""

    def __init__(self, port: str, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        for method in PORT_METHODS[port]:
            setattr(self, method, self._wrap(port, method, getattr(inner, method), recorder))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if inspect.isfunction(getattr(type(self._inner), name, None)):
            setattr(self, name, value)  # a plain method (the clock's sleep, every tick): found once, not per call
        return value

    @staticmethod
    def _wrap(port: str, method: str, fn: Callable[..., Any], recorder: Recorder) -> Callable[..., Any]:
        rows, previous = recorder.rows, recorder.previous
        if (port, method) in SPARSE:

            def sparse(*args: Any) -> Any:
                result = fn(*args)
                if result is not None:  # rare: written in full, never as a repeat
                    rows.append([method, encode_args(args), encode(result)])
                return result

            return sparse
        write = result_codec(port, method).write

        def call(*args: Any) -> Any:
            encoded = encode_args(args) if args else []
            try:
                result = fn(*args)
            except Exception as exc:
                previous.pop(method, None)
                rows.append([method, encoded, None, encode_error(exc)])
                raise
            seen = previous.get(method)
            if seen is not None and seen[0] == encoded and _same(seen[2], result):
                rows.append([method])
                return result
            written = write(result)
            if seen is not None and seen[1] == written and seen[0] == encoded:
                rows.append([method])
            else:
                rows.append([method, encoded, written])
            previous[method] = (encoded, written, result)
            return result

        return call


def _same(before: Any, now: Any) -> bool:
    """The very answer given before (the simulator hands back its minute's Account and quotes as they were
    made), or a dict of the very same values: encoding it again would give the same row, so it is not encoded.
    Only identity of frozen dataclasses takes this shortcut: an equal but distinct answer is encoded and compared
    as before, and a mutable answer may have changed since it was last seen. A dict's order counts, as its
    encoding (and so what replay answers) follows it."""
    if type(now) is dict:
        if type(before) is not dict or len(now) != len(before):
            return False
        for (kb, vb), (kn, vn) in zip(before.items(), now.items(), strict=True):
            if vb is not vn or kb != kn or not _frozen(vn):
                return False
        return True
    return before is now and _frozen(now)


_FROZEN: dict[type, bool] = {}
"""Per answer type, whether it is a frozen dataclass: asked of every repeated answer."""


def _frozen(value: Any) -> bool:
    kind = type(value)
    known = _FROZEN.get(kind)
    if known is None:
        params = getattr(kind, "__dataclass_params__", None)
        known = _FROZEN[kind] = params is not None and params.frozen
    return known


def recorded_calls(records: list[dict[str, Any]]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Every call of the `input` records as (seq, ts, call); a repeat comes with the arguments and answer it
    repeats, and `"same": true`. A row of the wrong shape is a ValueError that names its seq. The calls are
    read, never changed: the repeats of one answer are the same dict."""
    rows = _Rows()
    for r in records:
        if r.get("kind") == "input":
            seq, ts = r["seq"], r["ts"]
            for call in rows.calls(r):
                yield seq, ts, call


def calls_by_method(records: list[dict[str, Any]]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """recorded_calls of each method in order, with the time of their batch: for a reader that wants one
    method's calls (a day's report reads a few methods of some two thousand calls), not their interleaving."""
    rows = _Rows()
    index: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for r in records:
        if r.get("kind") == "input":
            ts = r["ts"]
            for call in rows.calls(r):
                index.setdefault(call["method"], []).append((ts, call))
    return index


class _Rows:
    """The rows of a journal's input records made calls, record after record: a repeat needs the call it repeats."""

    def __init__(self) -> None:
        self.previous: dict[str, dict[str, Any]] = {}
        self.repeat: dict[str, dict[str, Any]] = {}
        """Per method, its last answer as a repeat: one dict for all its repeats (a day's report reads hundreds)."""

    def calls(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        previous, repeat = self.previous, self.repeat
        out = []
        for row in record.get("calls", ()):
            try:
                method = row[0]
                port = PORT_OF[method]
                call: dict[str, Any]
                if len(row) == 1:
                    call = repeat.get(method) or repeat.setdefault(method, {**previous[method], "same": True})
                elif len(row) == 3:
                    call = {"port": port, "method": method, "args": row[1], "result": row[2]}
                    previous[method] = call
                    repeat.pop(method, None)
                else:
                    call = {"port": port, "method": method, "args": row[1], "error": dict(row[3])}
                    previous.pop(method, None)
                    repeat.pop(method, None)
            except (KeyError, IndexError, TypeError, ValueError):
                raise ValueError(f"seq {record.get('seq')}: not a recorded call: {str(row)[:120]}") from None
            out.append(call)
        return out


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


class Tape:
    """The recorded calls of a journal, played back in order."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._calls = list(recorded_calls(records))
        self._pos = 0
        self.last_seq: int | None = None
        self.last_ts: str | None = None

    def answer(self, port: str, method: str, args: list[Any]) -> Any:
        encoded = json_form(encode_args(tuple(args)))
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

    def sleep(self, seconds: float, events: bool = False) -> None:
        """Replay does not wait: the next recorded `now` says where time went."""
