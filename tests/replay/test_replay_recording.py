"""Recording and playing back port calls: the codec, the Recorder, the Tape, and recorded errors.

Everything goes through JSON text on the way, written and read as a journal writes and reads it.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from engine import errors, models
from engine.calendar import ET
from engine.journal import codec
from engine.journal.audit import dumps
from engine.journal.codec import decode, decode_result, encode, encode_result
from engine.journal.recording import (
    PORT_OF,
    SPARSE,
    Divergence,
    Recorded,
    RecordedError,
    Recorder,
    Tape,
    calls_by_method,
    recorded_calls,
)
from engine.models import (
    Account,
    Bars,
    Intent,
    Leg,
    OptionContract,
    OptionQuote,
    Order,
    OrderRequest,
    OrderStatus,
    Position,
    Right,
    Session,
    Side,
)

T0 = datetime(2025, 7, 1, 10, 0, 5, tzinfo=ET)
DAY = date(2025, 7, 1)
PUT, CALL = "SPY250701P00592000", "SPY250701C00604000"
LEGS = (Leg(PUT, Side.SELL, Intent.SELL_TO_OPEN), Leg(CALL, Side.SELL, Intent.SELL_TO_OPEN, 2))


def through_json(value: Any) -> Any:
    return orjson.loads(dumps(value))


def roundtrip(value: Any) -> Any:
    return decode(through_json(encode(value)))


MODELS = {
    "Account": Account("acct-1", 100_071.5, 100_000.0, 100_071.0, 99_571.0, 3, True, "ACTIVE"),
    "Leg": Leg(PUT, Side.BUY, Intent.BUY_TO_CLOSE, 1),
    "OptionContract": OptionContract(CALL, "SPY", DAY, 604.0, Right.CALL),
    "OptionQuote": OptionQuote(PUT, 0.49, 0.52, T0, 0.1709, -0.1553),
    "OrderRequest": OrderRequest("zdte-20250701-01o-00", LEGS, 1, -0.76),
    "Order": Order(
        "00000000-0000-0000-0000-000000000006",
        "zdte-20250701-01o-05",
        OrderStatus.FILLED,
        LEGS,
        1,
        1,
        -0.71,
        -0.71,
        T0,
        T0 + timedelta(seconds=5),
        {PUT: 0.52, CALL: 0.39},
    ),
    "Position": Position(PUT, -1, 0.52, None, None),
    "Session": Session(DAY, datetime(2025, 7, 1, 9, 30, tzinfo=ET), datetime(2025, 7, 1, 16, 0, tzinfo=ET)),
}


def bars() -> Bars:
    f = np.array([597.5, 597.87], dtype=np.float64)
    return Bars("SPY", np.array([1751376600, 1751376660], dtype=np.int64), f, f + 0.1, f - 0.1, f, f * 0 + 100.0)


def test_the_codec_knows_every_model_dataclass() -> None:
    port_types = {
        name
        for name, obj in vars(models).items()
        if dataclasses.is_dataclass(obj) and obj.__module__ == models.__name__
    }
    assert port_types == set(MODELS) | {"Bars"}
    assert port_types == set(codec._DATACLASSES)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_round_trips_equal(name: str) -> None:
    value = MODELS[name]
    back = roundtrip(value)
    assert type(back) is type(value) and back == value
    for f in dataclasses.fields(value):  # the right types inside too: enums, tuples, aware datetimes
        a, b = getattr(value, f.name), getattr(back, f.name)
        assert type(a) is type(b), f.name
        if isinstance(a, datetime):
            assert a.isoformat() == b.isoformat()


def test_order_keeps_its_leg_fill_prices_and_leg_tuple() -> None:
    back = roundtrip(MODELS["Order"])
    assert back.leg_fill_prices == {PUT: 0.52, CALL: 0.39}
    assert isinstance(back.legs, tuple) and all(isinstance(leg.side, Side) for leg in back.legs)
    assert back.status is OrderStatus.FILLED


def test_bars_round_trip_with_their_arrays_and_dtypes() -> None:
    value = bars()
    back = roundtrip(value)
    assert isinstance(back, Bars) and back.symbol == "SPY" and len(back) == 2
    for f in ("ts", "open", "high", "low", "close", "volume"):
        a, b = getattr(value, f), getattr(back, f)
        assert isinstance(b, np.ndarray) and b.dtype == a.dtype and np.array_equal(a, b), f
    empty = roundtrip(Bars.empty("SPY"))
    assert len(empty) == 0 and empty.ts.dtype == np.int64


def test_containers_and_scalars_round_trip() -> None:
    value = {"a": [1, 2.5, None, True], "t": (DAY, T0), "s": "x", "n": {"deep": (Right.PUT,)}}
    assert roundtrip(value) == value
    assert isinstance(roundtrip((1, 2)), tuple) and isinstance(roundtrip([1, 2]), list)
    assert roundtrip(np.float64(1.25)) == 1.25 and roundtrip(np.int64(3)) == 3


@pytest.mark.parametrize(
    ("port", "method", "value"),
    [
        ("clock", "now", T0),
        ("broker", "account", MODELS["Account"]),
        ("market_data", "quotes", {PUT: MODELS["OptionQuote"], CALL: OptionQuote(CALL, 0.43, 0.46, T0)}),
        ("market_data", "chain", [MODELS["OptionQuote"], OptionQuote(CALL, 0.43, 0.46, T0 + timedelta(seconds=1))]),
        ("market_data", "chain", []),
    ],
    ids=["now", "account", "quotes", "chain-mixed-times", "chain-empty"],
)
def test_the_positional_result_forms_round_trip(port: str, method: str, value: Any) -> None:
    assert decode_result(port, method, through_json(encode_result(port, method, value))) == value


NAN, INF = math.nan, math.inf


def same_floats(a: Any, b: Any) -> bool:
    """Equal, counting NaN equal to NaN (which `==` does not)."""
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


@pytest.mark.parametrize(
    ("bid", "ask", "iv"), [(NAN, 0.11, 0.2), (0.1, INF, None), (-INF, 0.11, NAN)], ids=["nan", "inf", "minus-inf"]
)
@pytest.mark.parametrize("method", ["quotes", "chain"])
def test_quotes_with_nan_or_infinity_come_back_exactly(method: str, bid: float, ask: float, iv: float | None) -> None:
    bad = OptionQuote(PUT, bid, ask, T0, iv, -0.15)
    good = OptionQuote(CALL, 0.43, 0.46, T0, 0.16, 0.14)
    value: Any = {PUT: bad, CALL: good} if method == "quotes" else [bad, good]
    back = decode_result("market_data", method, through_json(encode_result("market_data", method, value)))
    quotes = list(back.values()) if method == "quotes" else back
    assert quotes[1] == good and (quotes[0].symbol, quotes[0].ts, quotes[0].delta) == (PUT, T0, -0.15)
    assert same_floats([quotes[0].bid, quotes[0].ask], [bid, ask])
    assert quotes[0].iv is None if iv is None else same_floats(quotes[0].iv, iv)


def test_an_account_and_bars_with_nan_come_back_exactly() -> None:
    account = dataclasses.replace(MODELS["Account"], equity=NAN)
    back = decode_result("broker", "account", through_json(encode_result("broker", "account", account)))
    assert math.isnan(back.equity) and dataclasses.replace(back, equity=0.0) == dataclasses.replace(account, equity=0.0)
    b = bars()
    b.close[-1], b.high[0] = NAN, INF
    back = decode_result("market_data", "bars", through_json(encode_result("market_data", "bars", b)))
    for f in ("ts", "open", "high", "low", "close", "volume"):
        assert getattr(back, f).dtype == getattr(b, f).dtype and same_floats(getattr(back, f), getattr(b, f)), f


def test_generic_values_with_nan_come_back_exactly() -> None:
    order = dataclasses.replace(MODELS["Order"], limit_price=NAN, leg_fill_prices={PUT: INF})
    back = roundtrip(order)
    assert math.isnan(back.limit_price) and back.leg_fill_prices == {PUT: INF}
    arr = roundtrip(np.array([1.5, NAN, -INF]))
    assert arr.dtype == np.float64 and same_floats(arr, [1.5, NAN, -INF])


@pytest.mark.parametrize(
    "t",
    [T0, T0.replace(microsecond=1234), datetime(2025, 1, 2, 15, 0, tzinfo=ET), datetime(2025, 7, 1, 14, tzinfo=UTC)],
    ids=["edt", "microseconds", "est", "utc"],
)
def test_the_journal_writes_a_clock_reading_as_its_isoformat(t: datetime) -> None:
    """`now` is captured as the datetime itself and left to the journal's writer, which must spell it exactly so."""
    assert through_json(encode_result("clock", "now", t)) == t.isoformat()
    assert decode_result("clock", "now", t.isoformat()) == t


def test_the_journal_writer_refuses_a_dataclass_it_was_not_given_encoded() -> None:
    with pytest.raises(TypeError, match="not JSON serializable: Account"):
        dumps({"calls": [MODELS["Account"]]})


@pytest.mark.parametrize("method", ["quotes", "chain"])
def test_an_answer_changed_by_its_caller_afterwards_is_recorded_as_it_was_given(method: str) -> None:
    """The batch is written later than the call returns: what is kept must not share the caller's dict or list."""
    quote = MODELS["OptionQuote"]
    recorder = Recorder()
    answer = (lambda *_: {PUT: quote}) if method == "quotes" else (lambda *_: [quote])
    port = Recorded("market_data", FakePort(**{method: answer}), recorder)
    got = port.quotes([PUT]) if method == "quotes" else port.chain("SPY", DAY, 590.0, 600.0)
    got.clear()
    [written] = recorder.take()
    back = decode_result("market_data", method, through_json(written[2]))
    assert back == ({PUT: quote} if method == "quotes" else [quote])


@pytest.mark.parametrize(
    "value",
    [object(), {1, 2}, Path("x"), Decimal("1.5"), {1: "int key"}, [1, object()], complex(1, 2)],
    ids=["object", "set", "path", "decimal", "int-keyed-dict", "nested", "complex"],
)
def test_encode_refuses_what_it_cannot_rebuild(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot record"):
        encode(value)


def test_encode_refuses_an_unknown_dataclass() -> None:
    @dataclasses.dataclass(frozen=True)
    class Stranger:
        x: int

    with pytest.raises(TypeError, match="Stranger"):
        encode(Stranger(1))


def test_decode_refuses_an_unknown_tag() -> None:
    with pytest.raises(ValueError, match="unknown recorded type"):
        decode({"$c": "Stranger", "v": []})
    with pytest.raises(ValueError):
        decode({"$what": 1})


class FakePort:
    """A port with the given methods; any other method the recorder wraps fails loudly if it is ever called."""

    def __init__(self, **methods: Any) -> None:
        self.__dict__.update(methods)

    def __getattr__(self, name: str) -> Any:
        def unexpected(*args: Any) -> Any:
            raise AssertionError(f"unexpected call {name}{args}")

        return unexpected


# --- the Recorder and the Tape ---------------------------------------------------------------------------


def call(port: str, method: str, args: list, result: Any) -> list[Any]:
    """A call in its journal form."""
    return [method, encode(args), encode_result(port, method, result)]


def tape_of(*batches: list[list[Any]]) -> Tape:
    """A Tape over `input` records holding these call batches, as a journal would hold them (JSON, seq 2, 3...)."""
    records = [{"seq": 1, "kind": "header", "ts": T0.isoformat()}]
    for i, calls in enumerate(batches, start=2):
        records.append(through_json({"seq": i, "kind": "input", "ts": T0.isoformat(), "calls": calls}))
    return Tape(records)


def test_a_repeated_call_is_written_as_same_and_the_tape_answers_it() -> None:
    quotes = {PUT: MODELS["OptionQuote"]}
    other = {CALL: OptionQuote(CALL, 0.43, 0.46, T0)}
    answers = {PUT: quotes, CALL: other}
    recorder = Recorder()
    port = Recorded("market_data", FakePort(quotes=lambda symbols: dict(answers[symbols[0]])), recorder)
    a_out, b_out = call("market_data", "quotes", [[PUT]], quotes), call("market_data", "quotes", [[CALL]], other)
    same = ["quotes"]
    for symbol in (PUT, PUT, CALL, PUT):
        port.quotes([symbol])
    first = recorder.take()
    assert first == [a_out, same, b_out, a_out]  # only a repeat of the method's previous call is shortened
    port.quotes([PUT])
    port.quotes([CALL])
    second = recorder.take(last_of_file=True)  # what a repeat refers to lasts the whole file, across records
    assert second == [same, b_out]
    port.quotes([CALL])
    assert recorder.take() == [b_out]  # a new file: written in full, so the file replays on its own
    tape = tape_of(first, second)
    for args, answer in [([PUT], quotes), ([PUT], quotes), ([CALL], other), ([PUT], quotes), ([PUT], quotes)]:
        assert tape.answer("market_data", "quotes", [args]) == answer
    assert tape.last_seq == 3  # the "same" of the second record was answered from the first record's value
    assert tape.answer("market_data", "quotes", [[CALL]]) == other


def test_a_repeat_after_an_error_is_written_in_full() -> None:
    answers = iter([MODELS["Account"], errors.BrokerError("x"), MODELS["Account"]])

    def account() -> Account:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    recorder = Recorder()
    port = Recorded("broker", FakePort(account=account), recorder)
    port.account()
    with pytest.raises(errors.BrokerError):
        port.account()
    port.account()
    ok = call("broker", "account", [], MODELS["Account"])
    rows = recorder.take()
    assert [rows[0], rows[2]] == [ok, ok] and rows[1][:3] == ["account", [], None] and rows[1][3]["message"] == "x"


def test_a_different_call_is_a_divergence_with_both_sides() -> None:
    tape = tape_of([call("clock", "now", [], T0), call("broker", "positions", [], [])])
    assert tape.answer("clock", "now", []) == T0
    with pytest.raises(Divergence) as info:
        tape.answer("broker", "open_orders", [])
    d = info.value
    assert (d.seq, d.ts) == (2, T0.isoformat())
    assert d.recorded == "broker.positions()" and d.actual == "broker.open_orders()"
    assert "divergence at seq 2" in str(d)
    assert not isinstance(d, Exception)  # the engine's `except Exception` cannot turn it into a halt
    with pytest.raises(Divergence) as info:
        tape.answer("broker", "positions", ["extra"])  # same method, other arguments
    assert info.value.actual == "broker.positions('extra')"
    assert tape.answer("broker", "positions", []) == []  # a refused question does not move the tape
    with pytest.raises(Divergence) as info:
        tape.answer("clock", "now", [])
    assert info.value.recorded == "no further call" and info.value.seq == 2


def test_a_tape_from_a_journal_reports_an_unexpected_question(sim_day, helpers) -> None:
    records = helpers.records_of(sim_day.journal())
    first = next(r for r in records if r["kind"] == "input")
    tape = Tape(records)
    assert tape.answer("clock", "now", []) == datetime.fromisoformat(first["calls"][0][2])
    second = dict(zip(("method", "args"), first["calls"][1], strict=False))
    second["port"] = PORT_OF[second["method"]]
    with pytest.raises(Divergence) as info:
        tape.answer("broker", "cancel_order", ["no-such-order"])
    assert info.value.seq == first["seq"] and info.value.ts == first["ts"]
    assert info.value.recorded.startswith(f"{second['port']}.{second['method']}(")
    assert info.value.actual == "broker.cancel_order('no-such-order')"


def test_a_sparse_call_answers_none_unless_recorded_next() -> None:
    assert ("signals", "kill") in SPARSE
    recorder = Recorder()
    answers = iter([None, "kill file logs/KILL appeared"])
    port = Recorded("signals", FakePort(kill=lambda: next(answers)), recorder)
    assert port.kill() is None and len(recorder) == 0  # nothing to write for the usual answer
    assert port.kill() == "kill file logs/KILL appeared" and len(recorder) == 1
    tape = tape_of([call("clock", "now", [], T0), *recorder.take()])
    assert tape.answer("signals", "kill", []) is None  # not recorded here: None, and the tape does not move
    assert tape.answer("clock", "now", []) == T0
    assert tape.answer("signals", "kill", []) == "kill file logs/KILL appeared"


# --- errors recorded from a port are raised again on replay ----------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        errors.BrokerError("GET /v2/orders: HTTP 429: rate limited", transient=True, status=429),
        errors.BrokerError("GET /v2/positions: HTTP 500", transient=False, status=500),
        errors.AuthError("HTTP 401: request is not authorized", status=401),
        errors.OrderRejected("options orders after 15:15 are refused", status=403),
        errors.DataError("no bars for SPY"),
        errors.UnsafeEndpointError("live endpoint"),
        errors.ZdteError("something of ours"),
    ],
    ids=lambda e: type(e).__name__ + ("-transient" if getattr(e, "transient", False) else ""),
)
def test_a_recorded_port_error_is_raised_again_with_its_type_and_flags(exc: Exception) -> None:
    def positions():
        raise exc

    recorder = Recorder()
    port = Recorded("broker", FakePort(positions=positions), recorder)
    with pytest.raises(type(exc)) as live:
        port.positions()
    assert live.value is exc  # the live caller gets the original error
    tape = tape_of(recorder.take())
    with pytest.raises(type(exc)) as replayed:
        tape.answer("broker", "positions", [])
    again = replayed.value
    assert type(again) is type(exc) and str(again) == str(exc)
    assert getattr(again, "transient", None) == getattr(exc, "transient", None)
    assert getattr(again, "status", None) == getattr(exc, "status", None)


def test_a_foreign_error_is_raised_again_as_a_recorded_error() -> None:
    def bars(*args):
        raise KeyError("close")

    recorder = Recorder()
    port = Recorded("market_data", FakePort(bars=bars), recorder)
    with pytest.raises(KeyError):
        port.bars("SPY", T0, T0)
    tape = tape_of(recorder.take())
    with pytest.raises(RecordedError, match="KeyError"):
        tape.answer("market_data", "bars", ["SPY", T0, T0])


def test_recorded_ports_record_results_encoded_and_pass_other_attributes_on() -> None:
    slept: list[float] = []
    recorder = Recorder()
    clock = Recorded("clock", FakePort(now=lambda: T0, sleep=slept.append), recorder)
    assert clock.now() == T0
    clock.sleep(5)
    assert slept == [5] and recorder.take() == [["now", [], T0]]


def test_a_recorded_port_passes_on_a_changing_attribute_fresh_and_a_method_as_it_is() -> None:
    class Venue:
        def __init__(self) -> None:
            self.level = 1

        def now(self) -> datetime:
            return T0

        def sleep(self, seconds: float) -> float:
            return seconds * self.level

        @property
        def doubled(self) -> int:
            return self.level * 2

    inner = Venue()
    clock = Recorded("clock", inner, Recorder())
    assert clock.sleep(3) == 3 and clock.doubled == 2
    inner.level = 5
    assert clock.sleep(3) == 15 and clock.doubled == 10  # the method is bound to that object; the property is read anew


def test_calls_by_method_are_the_recorded_calls_of_each_method_in_order_with_their_batch_time() -> None:
    rows_a = [["account", [], ["a", 1.0, 1.0, 1.0, 1.0, 3, True]], ["now", [], {"$dt": "2025-07-01T10:00:00-04:00"}]]
    rows_b = [["account"], ["now", [], {"$dt": "2025-07-01T10:00:30-04:00"}], ["bars", ["SPY"], None, {"type": "X"}]]
    records = [
        {"kind": "header", "seq": 1, "ts": "t1"},
        {"kind": "input", "seq": 2, "ts": "t2", "calls": rows_a},
        {"kind": "transition", "seq": 3, "ts": "t3"},
        {"kind": "input", "seq": 4, "ts": "t4", "calls": rows_b + [["account"]]},
    ]
    index = calls_by_method(records)
    assert {m: [(ts, c["method"], c.get("same", False)) for ts, c in made] for m, made in index.items()} == {
        "account": [("t2", "account", False), ("t4", "account", True), ("t4", "account", True)],
        "now": [("t2", "now", False), ("t4", "now", False)],
        "bars": [("t4", "bars", False)],
    }
    flat = [(ts, c) for _, ts, c in recorded_calls(records)]
    assert sorted(((ts, c["method"], str(c)) for ts, c in flat)) == sorted(
        (ts, c["method"], str(c)) for made in index.values() for ts, c in made
    ), "the same calls, only grouped"
    with pytest.raises(ValueError, match="seq 4"):
        calls_by_method([{"kind": "input", "seq": 4, "ts": "t", "calls": [["nonsense", []]]}])
