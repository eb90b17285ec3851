"""OCC symbols in Alpaca's unpadded form."""

from __future__ import annotations

from datetime import date

import pytest

from engine.models import OptionContract, Right
from engine.occ import occ_symbol, parse_occ


def test_builds_alpaca_symbols() -> None:
    assert occ_symbol("SPY", date(2025, 7, 1), Right.CALL, 600) == "SPY250701C00600000"
    assert occ_symbol("SPY", date(2025, 11, 28), "P", 597.5) == "SPY251128P00597500"
    assert occ_symbol("SPXW", date(2026, 1, 2), Right.PUT, 5900) == "SPXW260102P05900000"
    assert occ_symbol("F", date(2025, 7, 18), Right.CALL, 12.5) == "F250718C00012500"


def test_parses_alpaca_symbols() -> None:
    assert parse_occ("SPY250701C00600000") == OptionContract(
        symbol="SPY250701C00600000", underlying="SPY", expiry=date(2025, 7, 1), strike=600.0, right=Right.CALL
    )
    c = parse_occ("SPXW260102P05900500")
    assert (c.underlying, c.expiry, c.strike, c.right) == ("SPXW", date(2026, 1, 2), 5900.5, Right.PUT)


def test_round_trip() -> None:
    for strike in (0.5, 1.0, 99.99, 600.0, 612.5, 99999.999):
        for right in Right:
            sym = occ_symbol("QQQ", date(2025, 12, 19), right, strike)
            c = parse_occ(sym)
            assert (c.symbol, c.strike, c.right, c.expiry) == (sym, strike, right, date(2025, 12, 19))


@pytest.mark.parametrize(
    "bad",
    [
        "spy250701C00600000",  # lower-case root
        "SPY250701X00600000",  # right neither C nor P
        "SPY250701C0060000",  # 7-digit strike
        "SPY 250701C00600000",  # padded root (OSI form, not Alpaca's)
        "SPYSPYS250701C00600000",  # 7-letter root
        "SPY251301C00600000",  # month 13
        "SPY250230C00600000",  # 30 February
        "SPY250701C00000000",  # zero strike
        "SPY",
        "",
    ],
)
def test_bad_symbols_name_the_symbol(bad: str) -> None:
    with pytest.raises(ValueError, match="not an OCC option symbol") as err:
        parse_occ(bad)
    assert repr(bad) in str(err.value)


def test_bad_inputs_to_the_builder() -> None:
    with pytest.raises(ValueError, match="root"):
        occ_symbol("spy", date(2025, 7, 1), Right.CALL, 600)
    with pytest.raises(ValueError, match="strike"):
        occ_symbol("SPY", date(2025, 7, 1), Right.CALL, 600.0001)
    with pytest.raises(ValueError, match="strike"):
        occ_symbol("SPY", date(2025, 7, 1), Right.CALL, 100_000)
    with pytest.raises(ValueError):
        occ_symbol("SPY", date(2025, 7, 1), "X", 600)
