"""epoch(): a remembered timestamp() that must never hand one datetime's seconds to another."""

import threading
from datetime import UTC, datetime, timedelta

from engine.calendar import ET
from engine.epoch import epoch


def test_each_datetime_gets_its_own_seconds_whatever_was_asked_before() -> None:
    start = datetime(2025, 7, 1, 9, 30, tzinfo=ET)
    same_instant_utc = start.astimezone(UTC)
    asked = [start, start, start + timedelta(seconds=30), same_instant_utc, start, start + timedelta(days=1)]
    assert [epoch(t) for t in asked] == [t.timestamp() for t in asked]
    assert epoch(datetime(2025, 11, 3, 9, 30, tzinfo=ET)) - epoch(datetime(2025, 10, 31, 9, 30, tzinfo=ET)) == (
        3 * 86400 + 3600  # across the end of daylight saving time
    )


def test_threads_asking_at_once_never_see_another_times_seconds() -> None:
    wrong: list[tuple[datetime, float]] = []

    def ask(base: datetime) -> None:
        times = [base + timedelta(minutes=i) for i in range(2000)]
        for t in times:
            e = epoch(t)
            if e != t.timestamp():
                wrong.append((t, e))

    threads = [threading.Thread(target=ask, args=(datetime(2020 + i, 1, 2, tzinfo=ET),)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert wrong == []
