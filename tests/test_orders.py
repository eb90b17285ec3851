"""OrderManager: price walk from mid toward natural, confirmed cancels, deterministic ids, timeouts and fills."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.combo import reverse
from engine.config import OrdersConfig
from engine.errors import OrderRejected
from engine.ids import DeterministicIds
from engine.models import Intent, Leg, OptionQuote, Order, OrderRequest, OrderStatus, Side
from engine.orders import OrderManager, Progress
from engine.ports import Broker, MarketData

NY = ZoneInfo("America/New_York")
DAY = date(2025, 7, 1)
T0 = datetime(2025, 7, 1, 10, 0, tzinfo=NY)
LP, SP, SC, LC = "SPY250701P00590000", "SPY250701P00595000", "SPY250701C00605000", "SPY250701C00610000"
ENTRY_LEGS = (
    Leg(LP, Side.BUY, Intent.BUY_TO_OPEN),
    Leg(SP, Side.SELL, Intent.SELL_TO_OPEN),
    Leg(SC, Side.SELL, Intent.SELL_TO_OPEN),
    Leg(LC, Side.BUY, Intent.BUY_TO_OPEN),
)
EXIT_LEGS = reverse(ENTRY_LEGS)
QUOTES = {
    LP: OptionQuote(LP, 0.10, 0.14, T0),  # mid 0.12
    SP: OptionQuote(SP, 0.50, 0.56, T0),  # mid 0.53
    SC: OptionQuote(SC, 0.45, 0.51, T0),  # mid 0.48
    LC: OptionQuote(LC, 0.09, 0.12, T0),  # mid 0.105
}
# Entry (short condor): mid 0.12 - 0.53 - 0.48 + 0.105 = -0.785, natural 0.14 - 0.50 - 0.45 + 0.12 = -0.69.
# Exit (the reverse legs): mid +0.785, natural 0.56 + 0.51 - 0.10 - 0.09 = +0.88.
ENTRY_FIRST, ENTRY_NATURAL = -0.79, -0.69
EXIT_FIRST, EXIT_NATURAL = 0.78, 0.88


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Venue:
    """Broker state behind the mocks: orders by id; tests fill, cancel or expire them by hand."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.live_at_submit: list[list[str]] = []
        self.cancel_effect = None

    def submit(self, request: OrderRequest) -> Order:
        self.live_at_submit.append([o.client_order_id for o in self.orders.values() if o.status.is_open])
        oid = f"oid-{len(self.orders) + 1}"
        order = Order(
            oid, request.client_order_id, OrderStatus.NEW, request.legs, request.qty, 0, request.limit_price, None, T0
        )
        self.orders[oid] = order
        return order

    def get(self, oid: str) -> Order:
        return self.orders[oid]

    def cancel(self, oid: str) -> None:
        if self.cancel_effect is not None:
            self.cancel_effect(oid)
            return
        o = self.orders[oid]
        if not o.status.is_open:
            raise OrderRejected(f"order is already {o.status}")
        self.orders[oid] = replace(o, status=OrderStatus.CANCELED)

    def fill(self, oid: str, qty: int, price: float) -> None:
        """Cumulative fill of `qty` more contracts at `price`."""
        o = self.orders[oid]
        done = o.filled_qty + qty
        avg = ((o.filled_avg_price or 0.0) * o.filled_qty + price * qty) / done
        status = OrderStatus.FILLED if done == o.qty else OrderStatus.PARTIALLY_FILLED
        self.orders[oid] = replace(o, status=status, filled_qty=done, filled_avg_price=avg)

    def set_status(self, oid: str, status: OrderStatus) -> None:
        self.orders[oid] = replace(self.orders[oid], status=status)

    def last(self) -> Order:
        return list(self.orders.values())[-1]


@pytest.fixture
def venue() -> Venue:
    return Venue()


@pytest.fixture
def broker(mocker, venue):
    b = mocker.Mock(spec=Broker)
    b.submit_order.side_effect = venue.submit
    b.get_order.side_effect = venue.get
    b.cancel_order.side_effect = venue.cancel
    return b


@pytest.fixture
def md(mocker):
    m = mocker.Mock(spec=MarketData)
    m.quotes.side_effect = lambda symbols: {s: QUOTES[s] for s in symbols}
    return m


@pytest.fixture
def events():
    return []


def manager(broker, md, events, **cfg) -> OrderManager:
    settings = {
        "tick": 0.01,
        "max_walk_ticks": 15,
        "walk_interval_s": 10,
        "entry_timeout_s": 600,
        "exit_extra_ticks": 5,
        **cfg,
    }
    return OrderManager(
        broker, md, DeterministicIds("zdte"), OrdersConfig(**settings), lambda event, data: events.append((event, data))
    )


def limits(broker) -> list[float]:
    return [c.args[0].limit_price for c in broker.submit_order.call_args_list]


def ids(broker) -> list[str]:
    return [c.args[0].client_order_id for c in broker.submit_order.call_args_list]


def test_first_entry_attempt_is_the_mid_rounded_away_from_aggressive(broker, md, events):
    w = manager(broker, md, events).place("entry", 1, DAY, ENTRY_LEGS, 2, T0)
    request = broker.submit_order.call_args.args[0]
    assert request.limit_price == pytest.approx(ENTRY_FIRST)  # asks 0.79 of credit, not 0.78
    assert request.legs == ENTRY_LEGS and request.qty == 2
    assert request.client_order_id == "zdte-20250701-01o-00"
    assert w.order.client_order_id == "zdte-20250701-01o-00" and w.remaining == 2


def test_first_exit_attempt_is_the_mid_rounded_away_from_aggressive(broker, md, events):
    manager(broker, md, events).place("exit", 1, DAY, EXIT_LEGS, 1, T0)
    request = broker.submit_order.call_args.args[0]
    assert request.limit_price == pytest.approx(EXIT_FIRST)  # pays 0.78, not 0.79
    assert request.client_order_id == "zdte-20250701-01c-00"
    assert [leg.intent for leg in request.legs] == [
        Intent.SELL_TO_CLOSE,
        Intent.BUY_TO_CLOSE,
        Intent.BUY_TO_CLOSE,
        Intent.SELL_TO_CLOSE,
    ]


def test_entry_walks_one_tick_per_interval_and_stops_at_natural(broker, md, events, venue):
    om = manager(broker, md, events, max_walk_ticks=15)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    assert om.poll(w, at(9.9)) is Progress.WORKING
    assert broker.submit_order.call_count == 1
    for k in range(1, 21):
        assert om.poll(w, at(10 * k)) is Progress.WORKING
    expected = [round(min(ENTRY_FIRST + 0.01 * k, ENTRY_NATURAL), 2) for k in range(16)]
    assert limits(broker) == pytest.approx(expected)
    assert ids(broker) == [f"zdte-20250701-01o-{k:02d}" for k in range(16)]
    assert max(limits(broker)) == pytest.approx(ENTRY_NATURAL)
    assert venue.live_at_submit == [[]] * 16


def test_exit_walk_is_capped_at_natural_plus_exit_extra_ticks_and_keeps_working(broker, md, events, venue):
    om = manager(broker, md, events, max_walk_ticks=10, entry_timeout_s=30)
    w = om.place("exit", 3, DAY, EXIT_LEGS, 1, T0)
    for k in range(1, 26):
        assert om.poll(w, at(10 * k)) is Progress.WORKING  # exits never time out
    cap = round(EXIT_NATURAL + 5 * 0.01, 2)
    expected = [round(min(EXIT_FIRST + 0.01 * k, cap), 2) for k in range(26)]
    assert limits(broker) == pytest.approx(expected)
    assert ids(broker) == [f"zdte-20250701-03c-{k:02d}" for k in range(26)]
    assert venue.live_at_submit == [[]] * 26


def test_the_previous_attempt_is_cancelled_and_read_back_before_the_next_is_sent(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    first = w.order.id
    om.poll(w, at(10))
    names = [c[0] for c in broker.mock_calls]
    cancel_at = names.index("cancel_order")
    second_submit = [i for i, n in enumerate(names) if n == "submit_order"][1]
    assert broker.mock_calls[cancel_at].args == (first,)
    between = broker.mock_calls[cancel_at + 1 : second_submit]
    assert [(c[0], c.args) for c in between] == [("get_order", (first,))]
    assert venue.orders[first].status is OrderStatus.CANCELED
    assert (
        "cancel",
        {"client_order_id": "zdte-20250701-01o-00", "why": "walk", "status": OrderStatus.CANCELED},
    ) in events


def test_client_order_ids_are_never_reused_across_attempts_abandoned_entries_and_exits(broker, md, events):
    om = manager(broker, md, events, max_walk_ticks=2, entry_timeout_s=40)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    for s in (10, 20, 30, 40):
        progress = om.poll(w, at(s))
    assert progress is Progress.DEAD
    again = om.place("entry", 1, DAY, ENTRY_LEGS, 1, at(100))  # the same trade tried again
    assert again.order.client_order_id == "zdte-20250701-01o-03"
    om.place("exit", 1, DAY, EXIT_LEGS, 1, at(200))
    om.place("entry", 2, DAY, ENTRY_LEGS, 1, at(300))
    sent = ids(broker)
    assert sent == [
        "zdte-20250701-01o-00",
        "zdte-20250701-01o-01",
        "zdte-20250701-01o-02",
        "zdte-20250701-01o-03",
        "zdte-20250701-01c-00",
        "zdte-20250701-02o-00",
    ]
    assert len(set(sent)) == len(sent)


def test_entry_timeout_cancels_the_live_attempt_and_reports_dead(broker, md, events, venue):
    om = manager(broker, md, events, max_walk_ticks=3, entry_timeout_s=60)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    progress = [om.poll(w, at(s)) for s in range(5, 65, 5)]
    assert progress[:-1] == [Progress.WORKING] * (len(progress) - 1)
    assert progress[-1] is Progress.DEAD
    assert broker.submit_order.call_count == 4  # mid + 3 ticks, then it rests until the timeout
    assert limits(broker) == pytest.approx([-0.79, -0.78, -0.77, -0.76])
    assert "60" in w.dead_reason
    assert all(o.status is OrderStatus.CANCELED for o in venue.orders.values())
    assert broker.cancel_order.call_args.args == (w.order.id,)
    assert w.filled_qty == 0


def test_a_fill_that_lands_while_cancelling_is_counted_and_nothing_more_is_sent(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 2, T0)

    def filled_first(oid):
        venue.fill(oid, 2, venue.orders[oid].limit_price)
        raise OrderRejected("order is already filled")

    venue.cancel_effect = filled_first
    assert om.poll(w, at(10)) is Progress.FILLED
    assert broker.submit_order.call_count == 1
    assert w.filled_qty == 2 and w.avg_price == pytest.approx(ENTRY_FIRST)
    assert [e for e, _ in events].count("fill") == 1


def test_a_fill_during_the_timeout_cancel_turns_dead_into_filled(broker, md, events, venue):
    om = manager(broker, md, events, max_walk_ticks=0, entry_timeout_s=30)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    venue.cancel_effect = lambda oid: venue.fill(oid, 1, -0.80)
    assert om.poll(w, at(30)) is Progress.FILLED
    assert w.filled_qty == 1 and w.avg_price == pytest.approx(-0.80)


def test_partial_fills_add_up_over_attempts_with_the_average_price(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 3, T0)
    venue.fill(w.order.id, 1, -0.79)
    assert om.poll(w, at(5)) is Progress.WORKING
    assert (w.filled_qty, w.remaining) == (1, 2)
    assert om.poll(w, at(10)) is Progress.WORKING  # walk: the rest, 2, one tick more aggressive
    second = broker.submit_order.call_args.args[0]
    assert second.qty == 2 and second.limit_price == pytest.approx(-0.78)
    venue.fill(w.order.id, 1, -0.78)
    assert om.poll(w, at(12)) is Progress.WORKING
    venue.fill(w.order.id, 1, -0.77)
    assert om.poll(w, at(14)) is Progress.FILLED
    assert w.filled_qty == 3
    assert w.avg_price == pytest.approx((-0.79 - 0.78 - 0.77) / 3)
    fills = [d for e, d in events if e == "fill"]
    assert [(d["client_order_id"], d["filled_qty"]) for d in fills] == [
        ("zdte-20250701-01o-00", 1),
        ("zdte-20250701-01o-01", 1),
        ("zdte-20250701-01o-01", 2),
    ]


def test_a_partial_fill_before_the_cancel_completes_is_counted_once(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("exit", 1, DAY, EXIT_LEGS, 4, T0)

    def partial_then_cancel(oid):
        venue.fill(oid, 3, 0.78)
        venue.set_status(oid, OrderStatus.CANCELED)

    venue.cancel_effect = partial_then_cancel
    om.poll(w, at(10))
    assert w.filled_qty == 3
    assert broker.submit_order.call_args.args[0].qty == 1
    venue.cancel_effect = None
    venue.fill(w.order.id, 1, 0.79)
    assert om.poll(w, at(11)) is Progress.FILLED
    assert w.avg_price == pytest.approx((3 * 0.78 + 0.79) / 4)


def test_urgent_starts_at_the_natural_price(broker, md, events):
    om = manager(broker, md, events, max_walk_ticks=10)
    om.place("exit", 1, DAY, EXIT_LEGS, 1, T0, urgent=True)
    om.place("entry", 2, DAY, ENTRY_LEGS, 1, T0, urgent=True)
    assert limits(broker) == pytest.approx([EXIT_NATURAL, ENTRY_NATURAL])


def test_a_rejected_entry_is_dead(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    venue.set_status(w.order.id, OrderStatus.REJECTED)
    assert om.poll(w, at(5)) is Progress.DEAD
    assert "rejected" in w.dead_reason
    assert broker.submit_order.call_count == 1


def test_an_exit_the_broker_expired_is_sent_again_one_tick_higher(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("exit", 1, DAY, EXIT_LEGS, 1, T0)
    venue.set_status(w.order.id, OrderStatus.EXPIRED)
    assert om.poll(w, at(3)) is Progress.WORKING
    assert limits(broker) == pytest.approx([EXIT_FIRST, EXIT_FIRST + 0.01])
    assert ids(broker)[-1] == "zdte-20250701-01c-01"


def test_an_immediate_fill_on_placement_is_recorded(broker, md, events, venue, mocker):
    def fill_on_submit(request):
        order = venue.submit(request)
        venue.fill(order.id, request.qty, -0.75)
        return venue.orders[order.id]

    broker.submit_order.side_effect = fill_on_submit
    w = manager(broker, md, events).place("entry", 1, DAY, ENTRY_LEGS, 2, T0)
    assert w.remaining == 0 and w.avg_price == pytest.approx(-0.75)
    submit = next(d for e, d in events if e == "submit")
    assert submit["purpose"] == "entry" and submit["limit_price"] == pytest.approx(ENTRY_FIRST)
    assert submit["mid"] == pytest.approx(-0.785) and submit["natural"] == pytest.approx(ENTRY_NATURAL)
