"""ContractDiscovery: today's contracts of the underlying near spot, fetched once a session unless spot drifts,
and the chain's quotes over their strikes."""

from __future__ import annotations

from datetime import date, datetime
from unittest.mock import Mock

import pytest

from engine.discovery import ContractDiscovery
from engine.models import OptionContract, OptionQuote, Right
from engine.occ import occ_symbol
from engine.ports import Broker, MarketData

DAY = date(2025, 7, 1)
NEXT = date(2025, 7, 2)
RANGE, WING = 10.0, 5.0
MD = Mock(spec=MarketData)  # contracts() never asks market data


def _contract(root: str, expiry: date, right: Right, strike: float) -> OptionContract:
    return OptionContract(occ_symbol(root, expiry, right, strike), root, expiry, strike, right)


def _listing() -> list[OptionContract]:
    out = []
    for expiry in (DAY, NEXT):
        for k in range(560, 641):
            for right in (Right.CALL, Right.PUT):
                out.append(_contract("SPY", expiry, right, float(k)))
    out += [_contract("QQQ", DAY, Right.CALL, 600.0), _contract("SPXW", DAY, Right.PUT, 600.0)]
    return out


@pytest.fixture
def broker(mocker):
    """A broker that honours the strike range but, like a sloppy API, also returns other expiries and roots."""
    listing = _listing()
    broker = mocker.Mock(spec=Broker)
    broker.contracts.side_effect = lambda underlying, expiry, lo, hi: [c for c in listing if lo <= c.strike <= hi]
    return broker


def _expected(day: date, spot: float) -> set[str]:
    lo, hi = spot - (RANGE + WING), spot + (RANGE + WING)
    return {
        occ_symbol("SPY", day, right, float(k))
        for k in range(560, 641)
        if lo <= k <= hi
        for right in (Right.CALL, Right.PUT)
    }


def test_keeps_only_todays_expiry_of_the_underlying_within_the_strike_range(broker):
    d = ContractDiscovery(broker, MD, "SPY", RANGE, WING)
    found = d.contracts(DAY, 600.4)
    broker.contracts.assert_called_once_with("SPY", DAY, 600.4 - 15.0, 600.4 + 15.0)
    assert set(found) == _expected(DAY, 600.4)
    assert all(c.expiry == DAY and c.underlying == "SPY" for c in found.values())
    assert min(c.strike for c in found.values()) == 586.0
    assert max(c.strike for c in found.values()) == 615.0
    assert all(found[s].symbol == s for s in found)


def test_cached_within_a_session_while_spot_stays_within_half_the_range(broker):
    d = ContractDiscovery(broker, MD, "SPY", RANGE, WING)
    d.contracts(DAY, 600.0)
    found = d.contracts(DAY, 604.0)
    assert broker.contracts.call_count == 1
    # filtered to the new spot's window, from what the first call returned
    assert set(found) == _expected(DAY, 600.0) & _expected(DAY, 604.0)
    d.contracts(DAY, 595.0)
    d.contracts(DAY, 600.0)
    assert broker.contracts.call_count == 1


def test_refetches_when_spot_drifts_more_than_half_the_range(broker):
    d = ContractDiscovery(broker, MD, "SPY", RANGE, WING)
    d.contracts(DAY, 600.0)
    found = d.contracts(DAY, 605.5)
    assert broker.contracts.call_count == 2
    assert broker.contracts.call_args.args == ("SPY", DAY, 605.5 - 15.0, 605.5 + 15.0)
    assert set(found) == _expected(DAY, 605.5)
    # the new centre is 605.5: a further small move stays cached
    d.contracts(DAY, 608.0)
    assert broker.contracts.call_count == 2


def test_refetches_on_a_new_day_even_at_the_same_spot(broker):
    d = ContractDiscovery(broker, MD, "SPY", RANGE, WING)
    d.contracts(DAY, 600.0)
    found = d.contracts(NEXT, 600.0)
    assert broker.contracts.call_count == 2
    assert broker.contracts.call_args.args[1] == NEXT
    assert set(found) == _expected(NEXT, 600.0)
    assert all(c.expiry == NEXT for c in found.values())


def test_no_contracts_listed_gives_an_empty_mapping(mocker):
    broker = mocker.Mock(spec=Broker)
    broker.contracts.return_value = []
    assert ContractDiscovery(broker, MD, "SPY", RANGE, WING).contracts(DAY, 600.0) == {}


def test_quotes_asks_the_chain_over_the_strikes_found_and_keys_them_by_symbol(broker, mocker):
    md = mocker.Mock(spec=MarketData)
    at = datetime(2025, 7, 1, 14, 0)
    md.chain.side_effect = lambda underlying, expiry, lo, hi: [
        OptionQuote(occ_symbol(underlying, expiry, Right.PUT, float(k)), 1.0, 1.1, at) for k in (lo, hi)
    ]
    d = ContractDiscovery(broker, md, "SPY", RANGE, WING)
    quotes = d.quotes(DAY, d.contracts(DAY, 600.4))
    md.chain.assert_called_once_with("SPY", DAY, 586.0, 615.0)
    assert set(quotes) == {occ_symbol("SPY", DAY, Right.PUT, 586.0), occ_symbol("SPY", DAY, Right.PUT, 615.0)}
    assert all(q.symbol == s for s, q in quotes.items())
