"""The ports are declared once (engine/ports.py); what the journal records and replay answers derive from them."""

from __future__ import annotations

import inspect

from engine import ports
from engine.journal.recording import PORT_METHODS, PORT_OF


def test_every_port_method_is_recorded_but_the_clocks_sleep() -> None:
    for name, protocol in ports.PORTS.items():
        declared = {n for n, v in inspect.getmembers(protocol, inspect.isfunction) if not n.startswith("_")}
        assert set(PORT_METHODS[name]) == declared - {m for p, m in ports.NOT_RECORDED if p == name}
    assert "sleep" not in PORT_METHODS["clock"] and "now" in PORT_METHODS["clock"]


def test_a_method_added_to_a_port_is_recorded_without_another_list(monkeypatch) -> None:
    from typing import Protocol

    class IdGenWithSeed(Protocol):
        def client_order_id(self, day, trade_no: int, kind: str, attempt: int) -> str: ...

        def seed(self) -> int: ...

    monkeypatch.setitem(ports.PORTS, "ids", IdGenWithSeed)
    assert ports.recorded_methods()["ids"] == ("client_order_id", "seed")


def test_each_method_name_names_one_port() -> None:
    assert PORT_OF["submit_order"] == "broker" and PORT_OF["chain"] == "market_data" and PORT_OF["kill"] == "signals"
    assert len(PORT_OF) == sum(len(m) for m in PORT_METHODS.values())
