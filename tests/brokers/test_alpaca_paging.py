"""GET /v2/options/contracts pages: alpaca-py returns one page and its next_page_token; the adapter follows it."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from engine.calendar import ET
from engine.clock import SimClock
from engine.occ import occ_symbol

EXPIRY = date(2025, 7, 1)


def _contract(symbol: str) -> dict:
    """One contract in Alpaca's shape (as trading_option_contracts.json): strike and type as Alpaca spells them."""
    well_formed = len(symbol) > 9
    right = "call" if well_formed and symbol[-9] == "C" else "put"
    return {
        "id": f"id-{symbol}",
        "symbol": symbol,
        "name": symbol,
        "status": "active",
        "tradable": True,
        "expiration_date": EXPIRY.isoformat(),
        "root_symbol": "SPY",
        "underlying_symbol": "SPY",
        "underlying_asset_id": "00000000-0000-0000-0000-000000000000",
        "type": right,
        "style": "american",
        "strike_price": str(int(symbol[-8:]) / 1000) if well_formed else "600",
        "size": "100",
        "open_interest": "10",
        "open_interest_date": EXPIRY.isoformat(),
        "close_price": "1.5",
        "close_price_date": EXPIRY.isoformat(),
    }


def _symbols(strikes: range) -> list[str]:
    return [occ_symbol("SPY", EXPIRY, right, k) for k in strikes for right in ("P", "C")]


PAGES = {
    None: (_symbols(range(590, 597)), "cGFnZS0y"),
    "cGFnZS0y": (_symbols(range(597, 604)) + ["SPY250702C00600000"], "cGFnZS0z"),  # tomorrow's: not wanted
    "cGFnZS0z": (_symbols(range(604, 611)) + ["BOGUS"], None),  # a malformed symbol is skipped, not fatal
}


@pytest.fixture
def paged(stub, adapters_for):
    def answer(seen):
        symbols, token = PAGES[seen.query.get("page_token")]
        return 200, {"option_contracts": [_contract(s) for s in symbols], "next_page_token": token}

    stub.route("GET /v2/options/contracts", answer)
    return adapters_for(stub.url, clock=SimClock(datetime(2025, 7, 1, 10, tzinfo=ET)), max_retries=2)


def test_contracts_follow_every_page_and_return_each_contract_once(stub, paged) -> None:
    contracts = paged.broker.contracts("SPY", EXPIRY, 590, 610)
    symbols = [c.symbol for c in contracts]
    assert symbols == _symbols(range(590, 611))
    assert len(set(symbols)) == len(symbols) == 42
    assert {(c.underlying, c.expiry) for c in contracts} == {("SPY", EXPIRY)}
    assert sorted({c.strike for c in contracts}) == [float(k) for k in range(590, 611)]
    pages = stub.requests_to("/v2/options/contracts")
    assert [p.query.get("page_token") for p in pages] == [None, "cGFnZS0y", "cGFnZS0z"]
    for p in pages:  # every page repeats the filters: a token alone does not carry them
        assert (p.query["underlying_symbols"], p.query["expiration_date"]) == ("SPY", "2025-07-01")
        assert (p.query["strike_price_gte"], p.query["strike_price_lte"]) == ("590.000", "610.000")


def test_a_failed_page_is_retried_alone(stub, paged) -> None:
    """A 503 on the second page retries that page (same token), not the walk from the first page."""
    base = stub.routes["GET /v2/options/contracts"]
    failed = []

    def flaky(seen):
        if seen.query.get("page_token") == "cGFnZS0y" and not failed:
            failed.append(seen)
            return 503, {"code": 50310000, "message": "service unavailable"}
        return base(seen)

    stub.route("GET /v2/options/contracts", flaky)
    contracts = paged.broker.contracts("SPY", EXPIRY, 590, 610)
    assert [c.symbol for c in contracts] == _symbols(range(590, 611))
    tokens = [p.query.get("page_token") for p in stub.requests_to("/v2/options/contracts")]
    assert tokens == [None, "cGFnZS0y", "cGFnZS0y", "cGFnZS0z"]
    assert paged.broker._retry.retries == 1


def test_contracts_from_the_simulator_over_http(make_sim, adapters_for) -> None:
    """The same walk against the SimServer: today's listed strikes in range, both rights, each once."""
    server = make_sim()
    alpaca = adapters_for(server.url)
    alpaca.clock.sleep(60 * 60)  # 10:00 ET: the day's contracts are listed
    contracts = alpaca.broker.contracts("SPY", EXPIRY, 595, 605)
    assert len(contracts) == len({c.symbol for c in contracts}) == 22
    assert {c.right.value for c in contracts} == {"C", "P"} and {c.expiry for c in contracts} == {EXPIRY}
    assert min(c.strike for c in contracts) == 595 and max(c.strike for c in contracts) == 605
