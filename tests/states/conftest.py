"""Fixtures of the state tests; the fakes themselves live in statekit.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.logs import close_day_files
from engine.ports import Broker, MarketData
from tests.states.statekit import DAY, World, next_session_of, session_of


@pytest.fixture(autouse=True)
def _close_day_logs():
    """A test that stops mid-day leaves the day's log files open: close them."""
    yield
    close_day_files()


@pytest.fixture
def world(tmp_path: Path, mocker) -> World:
    raw = {
        "broker": "sim",
        "logs_dir": str(tmp_path / "logs"),
        "session": {"date": DAY.isoformat(), "days": 1},
        "risk": {"kill_file": str(tmp_path / "KILL")},
        "report": {"html": False},  # the pages are tested in tests/reporting
    }
    broker = mocker.create_autospec(Broker, instance=True)
    market_data = mocker.create_autospec(MarketData, instance=True)
    w = World(tmp_path, broker, market_data, raw)
    broker.account.side_effect = lambda: w.account
    broker.session.side_effect = session_of
    broker.next_session.side_effect = next_session_of
    broker.contracts.side_effect = w.contracts
    broker.submit_order.side_effect = w.submit
    broker.get_order.side_effect = lambda oid: w.orders[oid]
    broker.order_by_client_id.side_effect = w.by_client_id
    broker.open_orders.side_effect = lambda: [o for o in w.orders.values() if o.status.is_open]
    broker.orders_since.side_effect = lambda since: [o for o in w.orders.values() if o.submitted_at > since]
    broker.cancel_order.side_effect = w.cancel
    broker.positions.side_effect = lambda: list(w.held)
    market_data.bars.side_effect = w.bars
    market_data.chain.side_effect = w.chain
    market_data.quotes.side_effect = w.quote_map
    return w
