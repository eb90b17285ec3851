"""The port models' quick constructor: the same frozen objects dataclasses would build, defaults and all."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

import pytest

from engine import models
from engine.models import Leg, OptionQuote, Order, OrderStatus, Side

T = datetime(2025, 7, 1, 14, 30, tzinfo=UTC)


def _plain(cls: type) -> type:
    """The class as dataclasses alone builds it: the reference the quick constructor must match."""
    spec = [(f.name, f.type, f) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, spec, frozen=True, slots=True)


@pytest.mark.parametrize("cls", [c for c in vars(models).values() if dataclasses.is_dataclass(c)])
def test_every_model_is_built_as_dataclasses_would(cls: type) -> None:
    plain = _plain(cls)
    required = [f for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    values = [f"v{i}" for i in range(len(required))]
    made, ref = cls(*values), plain(*values)
    assert dataclasses.astuple(made) == dataclasses.astuple(ref)  # each value in its own field, defaults filled
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(required[0].name, "changed")


def test_keywords_defaults_and_missing_arguments() -> None:
    q = OptionQuote("SPY250701C00600000", 1.0, 1.1, T, delta=0.5)
    assert (q.iv, q.delta, q.mid) == (None, 0.5, pytest.approx(1.05))
    assert q == OptionQuote("SPY250701C00600000", 1.0, 1.1, T, None, 0.5)
    assert Leg("X", Side.BUY, models.Intent.BUY_TO_OPEN).ratio_qty == 1
    with pytest.raises(TypeError, match="ts"):
        OptionQuote("SPY250701C00600000", 1.0, 1.1)  # type: ignore[call-arg]


def test_a_default_factory_gives_each_object_its_own_value() -> None:
    a, b = (Order("i", "c", OrderStatus.NEW, (), 1, 0, 1.0, None, T) for _ in range(2))
    assert a.leg_fill_prices == {} and a.leg_fill_prices is not b.leg_fill_prices
    given = {"X": 1.0}
    assert Order("i", "c", OrderStatus.FILLED, (), 1, 1, 1.0, 1.0, T, T, given).leg_fill_prices is given


def test_replace_and_pickle_still_work() -> None:
    q = OptionQuote("SPY250701C00600000", 1.0, 1.1, T, 0.2, 0.5)
    assert dataclasses.replace(q, bid=0.9).bid == 0.9
    assert pickle.loads(pickle.dumps(q)) == q  # a sweep's worker sends results across processes
