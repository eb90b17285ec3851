"""A call answered as the previous call of its method was is journaled as a repeat, `[method]`; one that was not,
in full. The recorder may skip encoding an answer only when it is the very same frozen answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.calendar import ET
from engine.journal.recording import Recorded, Recorder
from engine.models import Account, OptionQuote

T = datetime(2025, 7, 1, 10, 0, tzinfo=ET)


def account(equity: float) -> Account:
    return Account("a", equity, 100_000.0, 100_000.0, 90_000.0, 3, True)


class Answers:
    """A port whose every method answers the next of `answers`."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.answers.pop(0)


def rows_of(port: str, method: str, *answers: Any, args: tuple = ()) -> list[list[Any]]:
    recorder = Recorder()
    recorded = Recorded(port, Answers(*answers), recorder)
    for _ in answers:
        getattr(recorded, method)(*args)
    return recorder.rows


def test_the_same_account_again_is_a_repeat_and_a_changed_one_is_written_in_full() -> None:
    same = account(100_000.0)
    rows = rows_of("broker", "account", same, same, account(99_950.0))
    assert rows[1] == ["account"]
    assert len(rows[0]) == 3 and len(rows[2]) == 3 and rows[2][2] != rows[0][2]


def test_a_new_dict_of_the_same_quotes_is_a_repeat_and_one_new_quote_is_not() -> None:
    q1, q2 = OptionQuote("A", 1.0, 1.1, T, None, None), OptionQuote("B", 2.0, 2.2, T, None, None)
    moved = OptionQuote("B", 2.05, 2.2, T, None, None)
    rows = rows_of("market_data", "quotes", {"A": q1, "B": q2}, {"A": q1, "B": q2}, {"A": q1, "B": moved},
                   args=(["A", "B"],))
    assert rows[1] == ["quotes"]
    assert len(rows[2]) == 3


def test_the_same_quotes_in_another_order_are_written_in_full_in_that_order() -> None:
    q1, q2 = OptionQuote("A", 1.0, 1.1, T, None, None), OptionQuote("B", 2.0, 2.2, T, None, None)
    rows = rows_of("market_data", "quotes", {"A": q1, "B": q2}, {"B": q2, "A": q1}, args=(["A", "B"],))
    assert len(rows[1]) == 3
    assert [row[0] for row in rows[1][2]["q"]] == ["B", "A"]


def test_the_same_answer_to_other_arguments_is_written_in_full() -> None:
    q = OptionQuote("A", 1.0, 1.1, T, None, None)
    recorder = Recorder()
    recorded = Recorded("market_data", Answers({"A": q}, {"A": q}), recorder)
    recorded.quotes(["A"])
    recorded.quotes(["A", "B"])
    assert recorder.rows[1] == ["quotes", [["A", "B"]], recorder.rows[0][2]]


def test_a_mutable_answer_changed_in_place_is_written_again() -> None:
    orders: list[Any] = []
    recorder = Recorder()
    recorded = Recorded("broker", Answers(orders, orders), recorder)
    recorded.open_orders()
    orders.append(None)
    recorded.open_orders()
    assert len(recorder.rows[1]) == 3 and recorder.rows[1][2] != recorder.rows[0][2]
