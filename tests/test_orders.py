"""OrderManager: price walk from mid toward natural, confirmed cancels, deterministic ids, timeouts and fills."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.combo import reverse
from engine.config import OrdersConfig
from engine.errors import BrokerError, OrderRejected
from engine.ids import DeterministicIds
from engine.models import Intent, Leg, OptionQuote, Order, OrderRequest, OrderStatus, Side
from engine.orders import ATTEMPT_MOVES, Attempt, OrderManager, Progress, Then, progress_of
from engine.ports import Broker, MarketData
from engine.risk import order_problems

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


class EventLog:
    """Stands in for the audit sink: the order records it is given, as (event, fields)."""

    def __init__(self, events: list) -> None:
        self.events = events

    def record(self, kind: str, now: datetime, **fields) -> None:
        assert kind == "order"
        self.events.append((fields.pop("event"), fields))


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
        broker,
        md,
        DeterministicIds("zdte"),
        OrdersConfig(**settings),
        EventLog(events),
        lambda kind, legs, qty: order_problems(kind, legs, qty, max_qty=10),
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


# --- regression: a send that failed is in doubt, so its id is looked up before anything is sent again -------


def lookup_in(venue: Venue):
    return lambda cid: next((o for o in venue.orders.values() if o.client_order_id == cid), None)


def accepted_then_timeout(venue: Venue):
    """The broker takes the order, but the answer never arrives: the engine only sees a transient error."""

    def submit(request: OrderRequest) -> Order:
        venue.submit(request)
        raise BrokerError("timeout", transient=True)

    return submit


def lost_in_transit(request: OrderRequest) -> Order:
    raise BrokerError("timeout", transient=True)


def test_a_placement_that_timed_out_is_looked_up_and_adopted_not_sent_twice(broker, md, events, venue):
    broker.order_by_client_id.side_effect = lookup_in(venue)
    broker.submit_order.side_effect = accepted_then_timeout(venue)
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 2, T0)
    assert w.state is Attempt.IN_DOUBT and progress_of(w) is Progress.WORKING  # in doubt, not lost, not raised
    broker.order_by_client_id.assert_not_called()  # nothing was in doubt before the first send
    broker.submit_order.side_effect = venue.submit

    assert om.poll(w, at(5)) is Progress.WORKING

    broker.order_by_client_id.assert_called_once_with("zdte-20250701-01o-00")
    assert broker.submit_order.call_count == 1
    assert ids(broker) == ["zdte-20250701-01o-00"]
    assert w.order.id == "oid-1" and w.order.client_order_id == "zdte-20250701-01o-00"
    assert len(venue.orders) == 1
    assert ("adopt", {"client_order_id": "zdte-20250701-01o-00", "order_id": "oid-1", "status": OrderStatus.NEW}) in (
        events
    )
    # the adopted order is worked like any other: the walk goes on with the next id, one tick higher
    assert om.poll(w, at(15)) is Progress.WORKING
    assert ids(broker) == ["zdte-20250701-01o-00", "zdte-20250701-01o-01"]
    assert limits(broker) == pytest.approx([ENTRY_FIRST, ENTRY_FIRST + 0.01])
    assert venue.orders["oid-1"].status is OrderStatus.CANCELED


def test_a_placement_the_broker_never_got_is_sent_again_with_the_same_id(broker, md, events, venue):
    broker.order_by_client_id.side_effect = lookup_in(venue)
    broker.submit_order.side_effect = lost_in_transit
    om = manager(broker, md, events)
    w = om.place("exit", 2, DAY, EXIT_LEGS, 1, T0)
    assert w.state is Attempt.IN_DOUBT
    broker.submit_order.side_effect = venue.submit

    assert om.poll(w, at(5)) is Progress.WORKING

    broker.order_by_client_id.assert_called_once_with("zdte-20250701-02c-00")
    assert ids(broker) == ["zdte-20250701-02c-00", "zdte-20250701-02c-00"]
    assert limits(broker) == pytest.approx([EXIT_FIRST, EXIT_FIRST])
    assert w.order.client_order_id == "zdte-20250701-02c-00" and w.order.id == "oid-1"
    # once the broker has it, the id is no longer in doubt: the next walk step neither looks up nor reuses it
    assert om.poll(w, at(15)) is Progress.WORKING
    assert broker.order_by_client_id.call_count == 1
    assert ids(broker)[-1] == "zdte-20250701-02c-01"


def test_a_walk_step_that_timed_out_is_looked_up_on_the_next_poll(broker, md, events, venue):
    broker.order_by_client_id.side_effect = lookup_in(venue)
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    broker.submit_order.side_effect = accepted_then_timeout(venue)
    assert om.poll(w, at(10)) is Progress.WORKING  # cancels 01o-00 (confirmed), then the send of 01o-01 times out
    assert w.state is Attempt.IN_DOUBT
    broker.submit_order.side_effect = venue.submit

    assert om.poll(w, at(15)) is Progress.WORKING

    broker.order_by_client_id.assert_called_once_with("zdte-20250701-01o-01")
    assert broker.submit_order.call_count == 2
    assert ids(broker) == ["zdte-20250701-01o-00", "zdte-20250701-01o-01"]
    assert w.order.id == "oid-2" and w.order.client_order_id == "zdte-20250701-01o-01"
    assert (w.step, w.attempt) == (1, 1)
    venue.fill("oid-2", 1, -0.78)
    assert om.poll(w, at(16)) is Progress.FILLED
    assert w.avg_price == pytest.approx(-0.78)


def test_a_walk_step_the_broker_never_got_is_resent_with_the_same_id_and_price(broker, md, events, venue):
    broker.order_by_client_id.side_effect = lookup_in(venue)
    om = manager(broker, md, events)
    w = om.place("exit", 1, DAY, EXIT_LEGS, 1, T0)
    broker.submit_order.side_effect = lost_in_transit
    assert om.poll(w, at(10)) is Progress.WORKING
    broker.submit_order.side_effect = venue.submit

    assert om.poll(w, at(12)) is Progress.WORKING

    broker.order_by_client_id.assert_called_once_with("zdte-20250701-01c-01")
    assert ids(broker) == ["zdte-20250701-01c-00", "zdte-20250701-01c-01", "zdte-20250701-01c-01"]
    assert limits(broker) == pytest.approx([EXIT_FIRST, EXIT_FIRST + 0.01, EXIT_FIRST + 0.01])
    assert w.order.client_order_id == "zdte-20250701-01c-01" and w.step == 1
    assert [o.status.is_open for o in venue.orders.values()] == [False, True]


# --- regression: a cancel is only over once the broker says so ---------------------------------------------


def pending_cancel(venue: Venue):
    return lambda oid: venue.set_status(oid, OrderStatus.PENDING_CANCEL)


def test_no_next_attempt_while_the_walk_cancel_is_pending_then_a_late_fill_is_counted(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 2, T0)
    venue.cancel_effect = pending_cancel(venue)

    assert om.poll(w, at(10)) is Progress.WORKING
    assert om.poll(w, at(20)) is Progress.WORKING
    assert om.poll(w, at(30)) is Progress.WORKING

    assert broker.submit_order.call_count == 1
    assert broker.cancel_order.call_count == 1  # asked once; the later polls only read the order back
    assert venue.orders["oid-1"].status is OrderStatus.PENDING_CANCEL
    venue.fill("oid-1", 2, -0.79)  # it filled before the cancel took effect

    assert om.poll(w, at(35)) is Progress.FILLED

    assert broker.submit_order.call_count == 1
    assert w.filled_qty == 2 and w.avg_price == pytest.approx(-0.79)
    assert [e for e, _ in events].count("fill") == 1


def test_once_the_pending_cancel_is_final_the_rest_goes_out_one_tick_more_aggressive(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("exit", 1, DAY, EXIT_LEGS, 3, T0)
    venue.cancel_effect = pending_cancel(venue)
    assert om.poll(w, at(10)) is Progress.WORKING
    venue.fill("oid-1", 1, 0.78)  # a partial fill while the cancel is pending
    assert om.poll(w, at(14)) is Progress.WORKING
    assert (w.filled_qty, broker.submit_order.call_count) == (1, 1)
    venue.set_status("oid-1", OrderStatus.CANCELED)

    assert om.poll(w, at(18)) is Progress.WORKING

    second = broker.submit_order.call_args.args[0]
    assert second.client_order_id == "zdte-20250701-01c-01"
    assert second.qty == 2 and second.limit_price == pytest.approx(EXIT_FIRST + 0.01)
    assert venue.live_at_submit == [[], []]
    assert (w.step, w.placed_at) == (1, at(18))  # the next walk step is timed from this attempt
    venue.cancel_effect = None
    assert om.poll(w, at(27)) is Progress.WORKING and broker.submit_order.call_count == 2
    assert om.poll(w, at(28)) is Progress.WORKING
    assert limits(broker) == pytest.approx([EXIT_FIRST, EXIT_FIRST + 0.01, EXIT_FIRST + 0.02])


def test_an_entry_timeout_with_a_pending_cancel_is_not_dead_until_the_cancel_is_final(broker, md, events, venue):
    om = manager(broker, md, events, max_walk_ticks=0, entry_timeout_s=30)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    venue.cancel_effect = pending_cancel(venue)

    assert om.poll(w, at(30)) is Progress.WORKING
    assert om.poll(w, at(40)) is Progress.WORKING
    venue.set_status("oid-1", OrderStatus.CANCELED)
    assert om.poll(w, at(45)) is Progress.DEAD

    assert broker.submit_order.call_count == 1 and broker.cancel_order.call_count == 1
    assert "30" in w.dead_reason


def test_cancel_is_false_while_pending_and_true_once_final(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 2, T0)
    venue.cancel_effect = pending_cancel(venue)

    assert om.cancel(w, "shutting down", T0) is False
    broker.cancel_order.assert_called_once_with("oid-1")
    assert om.cancel(w, "shutting down", T0) is False
    venue.set_status("oid-1", OrderStatus.CANCELED)
    assert om.cancel(w, "shutting down", T0) is True
    assert broker.submit_order.call_count == 1 and w.filled_qty == 0


def test_cancel_that_ends_in_a_fill_is_true_with_the_fill_counted(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("exit", 1, DAY, EXIT_LEGS, 2, T0)
    venue.cancel_effect = pending_cancel(venue)
    assert om.cancel(w, "session closed", T0) is False
    venue.fill("oid-1", 2, 0.80)

    assert om.cancel(w, "session closed", T0) is True

    assert w.filled_qty == 2 and w.avg_price == pytest.approx(0.80)
    broker.cancel_order.assert_called_once_with("oid-1")  # no second cancel for an order read back as final
    assert broker.submit_order.call_count == 1


# --- regression: urgent orders start at the natural price, whatever max_walk_ticks is -------------------------

WIDE = {
    LP: OptionQuote(LP, 0.05, 0.25, T0),  # mid 0.15
    SP: OptionQuote(SP, 0.40, 0.70, T0),  # mid 0.55
    SC: OptionQuote(SC, 0.35, 0.65, T0),  # mid 0.50
    LC: OptionQuote(LC, 0.04, 0.20, T0),  # mid 0.12
}
# Entry: mid 0.15 - 0.55 - 0.50 + 0.12 = -0.78; natural (buy at asks, sell at bids) 0.25 - 0.40 - 0.35 + 0.20 = -0.30.
# Exit: mid +0.78; natural 0.70 + 0.65 - 0.05 - 0.04 = +1.26. Mid and natural are 48 ticks apart.


@pytest.fixture
def wide_md(mocker):
    m = mocker.Mock(spec=MarketData)
    m.quotes.side_effect = lambda symbols: {s: WIDE[s] for s in symbols}
    return m


def test_urgent_orders_are_priced_at_natural_even_when_it_is_more_than_max_walk_ticks_away(broker, wide_md, events):
    om = manager(broker, wide_md, events, max_walk_ticks=3)
    om.place("exit", 1, DAY, EXIT_LEGS, 1, T0, urgent=True)
    om.place("entry", 2, DAY, ENTRY_LEGS, 1, T0, urgent=True)
    om.place("exit", 3, DAY, EXIT_LEGS, 1, T0)  # not urgent: the mid, as always
    assert limits(broker) == pytest.approx([1.26, -0.30, 0.78])
    submits = [d for e, d in events if e == "submit"]
    assert [d["natural"] for d in submits] == pytest.approx([1.26, -0.30, 1.26])
    assert [d["step"] for d in submits] == [0, 0, 0]


def test_an_urgent_exit_walks_one_tick_per_step_up_to_natural_plus_exit_extra_ticks(broker, wide_md, events, venue):
    om = manager(broker, wide_md, events, max_walk_ticks=3, exit_extra_ticks=5)
    w = om.place("exit", 1, DAY, EXIT_LEGS, 1, T0, urgent=True)
    for k in range(1, 9):
        assert om.poll(w, at(10 * k)) is Progress.WORKING
    assert limits(broker) == pytest.approx([1.26, 1.27, 1.28, 1.29, 1.30, 1.31, 1.31, 1.31, 1.31])
    assert ids(broker) == [f"zdte-20250701-01c-{k:02d}" for k in range(9)]
    assert venue.live_at_submit == [[]] * 9


def test_an_urgent_entry_stays_at_natural(broker, wide_md, events):
    om = manager(broker, wide_md, events, max_walk_ticks=3)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0, urgent=True)
    for k in range(1, 6):
        assert om.poll(w, at(10 * k)) is Progress.WORKING
    assert limits(broker) == pytest.approx([-0.30] * 4)  # the walk still stops after max_walk_ticks steps


def test_a_walked_exit_made_urgent_goes_to_natural_at_the_next_poll(broker, wide_md, events, venue):
    """A halt that must flatten takes over an exit being walked from mid: no waiting out the walk interval,
    no more one-tick steps; the next attempt goes at the natural price (1.26 in these quotes)."""
    om = manager(broker, wide_md, events, max_walk_ticks=3, exit_extra_ticks=5)
    w = om.place("exit", 1, DAY, EXIT_LEGS, 1, T0)
    assert om.poll(w, at(2)) is Progress.WORKING  # walk not due yet: nothing new
    assert limits(broker) == pytest.approx([0.78])
    om.make_urgent(w)
    assert om.poll(w, at(3)) is Progress.WORKING
    assert limits(broker) == pytest.approx([0.78, 1.26])
    assert venue.orders["oid-1"].status is OrderStatus.CANCELED and venue.live_at_submit[-1] == []


def test_a_malformed_answer_to_a_placement_raises_but_the_order_is_held_and_found_for_cancelling(
    broker, md, events, venue
):
    """The broker took the order but its answer could not be read: the caller still holds the Working, and
    cancelling it looks the id up first, so the order at the broker is found and cancelled, not orphaned."""
    broker.order_by_client_id.side_effect = lookup_in(venue)

    def accepted_then_garbled(request: OrderRequest) -> Order:
        venue.submit(request)
        raise BrokerError("POST /v2/orders: malformed response: JSONDecodeError")

    broker.submit_order.side_effect = accepted_then_garbled
    om = manager(broker, md, events)
    held = []
    with pytest.raises(BrokerError, match="malformed"):
        om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0, hold=held.append)
    [w] = held
    assert w.state is Attempt.IN_DOUBT and w.order.client_order_id == "zdte-20250701-01o-00"

    assert om.cancel(w, "halted", T0) is True

    broker.order_by_client_id.assert_called_once_with("zdte-20250701-01o-00")
    assert venue.orders["oid-1"].status is OrderStatus.CANCELED
    assert broker.submit_order.call_count == 1


def test_a_cancel_that_failed_is_asked_again_at_the_next_poll(broker, md, events, venue):
    """The walk's cancel fails (all its retries): the attempt is not left waiting on a cancel nobody sent."""
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    broker.cancel_order.side_effect = BrokerError("DELETE /v2/orders/oid-1: HTTP 503", transient=True)
    with pytest.raises(BrokerError):
        om.poll(w, at(10))
    assert w.state is not Attempt.CANCELLING and venue.orders["oid-1"].status.is_open
    broker.cancel_order.side_effect = venue.cancel

    assert om.poll(w, at(15)) is Progress.WORKING

    assert broker.cancel_order.call_count == 2
    assert venue.orders["oid-1"].status is OrderStatus.CANCELED
    assert ids(broker) == ["zdte-20250701-01o-00", "zdte-20250701-01o-01"]


def test_an_order_in_doubt_that_the_broker_holds_with_other_legs_is_refused_not_adopted(broker, md, events, venue):
    """The id is ours but the broker's order under it has other legs (another program, or a bug): adopting it
    would manage legs this engine never sent, so the lookup refuses loudly and nothing is sent again."""
    om = manager(broker, md, events)
    broker.submit_order.side_effect = lost_in_transit
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    assert w.state is Attempt.IN_DOUBT
    stranger = Order("oid-x", w.order.client_order_id, OrderStatus.NEW, EXIT_LEGS[:2], 1, 0, -0.5, None, T0)
    broker.order_by_client_id.side_effect = lambda cid: stranger if cid == stranger.client_order_id else None
    broker.submit_order.side_effect = venue.submit
    with pytest.raises(BrokerError, match="other legs than this engine sent"):
        om.poll(w, at(5))
    assert broker.submit_order.call_count == 1  # the lost send only: no second order under any id
    assert not [e for e in events if e[0] == "adopt"]


def test_cancelling_an_order_that_never_reached_the_broker_is_final_at_once(broker, md, events, venue):
    """Nothing to cancel: the lookup finds no such id, so the cancel is done (True), not pending forever."""
    broker.order_by_client_id.side_effect = lookup_in(venue)
    broker.submit_order.side_effect = lost_in_transit
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    assert om.cancel(w, "session closed", T0) is True
    broker.cancel_order.assert_not_called()
    broker.order_by_client_id.assert_called_once_with(w.order.client_order_id)
    assert w.filled_qty == 0 and w.state is Attempt.OVER


def test_no_order_reaches_the_broker_without_passing_the_gate(broker, md, events):
    """A naked short, an entry above the size limit and an exit that would open are refused in the order path,
    whoever asked for them: nothing is sent, and the attempt is dead with the gate's reason."""
    om = manager(broker, md, events)
    naked = (ENTRY_LEGS[0], ENTRY_LEGS[1], ENTRY_LEGS[2])  # the short call without its wing
    w = om.place("entry", 1, DAY, naked, 1, T0)
    assert progress_of(w) is Progress.DEAD and "sold call(s) without a wing" in w.dead_reason
    w = om.place("entry", 2, DAY, ENTRY_LEGS, 11, T0)
    assert progress_of(w) is Progress.DEAD and "11 contracts above" in w.dead_reason
    reopening = (EXIT_LEGS[0], ENTRY_LEGS[1])  # a close that would sell another put to open
    w = om.place("exit", 3, DAY, reopening, 1, T0)
    assert "an exit may only reduce" in w.dead_reason and w.filled_qty == 0
    broker.submit_order.assert_not_called()
    assert not [e for e in events if e[0] == "submit"]


def test_a_whole_condor_and_its_reverse_pass_the_gate():
    assert order_problems("entry", ENTRY_LEGS, 1, max_qty=1) == []
    assert order_problems("exit", EXIT_LEGS, 1, max_qty=1) == []
    assert order_problems("exit", EXIT_LEGS[:1], 1, max_qty=1) == []  # a single remaining leg still only closes


def test_the_attempt_table_refuses_a_move_it_does_not_list(broker, md, events, venue):
    """An attempt is unsent, in doubt, sent, cancelling or over; e.g. nothing moves out of `over`, and a sent
    attempt is cancelled before another goes out, never left in doubt again."""
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    assert w.state is Attempt.SENT
    with pytest.raises(RuntimeError, match="no move from sent to in_doubt"):
        w.move(Attempt.IN_DOUBT)
    assert ATTEMPT_MOVES[Attempt.OVER] == frozenset()
    assert set(ATTEMPT_MOVES) == set(Attempt)  # a state added without its row of moves fails here


def test_a_walk_goes_sent_cancelling_sent_then_the_next_attempt_unsent_to_sent(broker, md, events, venue):
    om = manager(broker, md, events)
    w = om.place("entry", 1, DAY, ENTRY_LEGS, 1, T0)
    seen = [w.state]
    venue.cancel_effect = lambda oid: venue.set_status(oid, OrderStatus.PENDING_CANCEL)
    om.poll(w, at(10))  # walk due: the cancel is asked and is pending
    seen.append(w.state)
    assert w.then is Then.WALK
    venue.set_status("oid-1", OrderStatus.CANCELED)
    venue.cancel_effect = None
    om.poll(w, at(11))  # the cancel is final: the next attempt goes out one tick more aggressive
    seen.append(w.state)
    assert seen == [Attempt.SENT, Attempt.CANCELLING, Attempt.SENT] and w.then is None
    assert ids(broker) == ["zdte-20250701-01o-00", "zdte-20250701-01o-01"]
