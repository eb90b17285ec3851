"""The engine's state machine: seven states and one transition table, readable as the spec.

Every attempt to move, successful or not, passes through `_finalize` and becomes one audit record.
A trigger that is not valid from the current state is refused loudly (audited, logged, reported to
the caller), never ignored. An exception raised inside a transition callback is captured and handed
back to the runner, which turns it into a halt; the machine itself never crashes the process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from transitions import EventData, Machine, MachineError


class S(StrEnum):
    INITIALIZING = "Initializing"
    AWAITING_OPEN = "AwaitingOpen"
    SCANNING = "Scanning"
    ENTERING = "Entering"
    MONITORING = "Monitoring"
    HALTED = "Halted"
    SHUTTING_DOWN = "ShuttingDown"


STATES = [s.value for s in S]

_TRADING = [S.SCANNING, S.ENTERING, S.MONITORING]
_SESSION_END_SOURCES = [S.AWAITING_OPEN, S.SCANNING, S.MONITORING, S.HALTED]
_ALL_BUT_SHUTTING_DOWN = [s for s in S if s is not S.SHUTTING_DOWN]

# fmt: off
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "ready",       "source": S.INITIALIZING,   "dest": S.AWAITING_OPEN},
    {"trigger": "fail",        "source": S.INITIALIZING,   "dest": S.SHUTTING_DOWN},
    {"trigger": "market_open", "source": S.AWAITING_OPEN,  "dest": S.SCANNING},
    {"trigger": "no_session",  "source": S.AWAITING_OPEN,  "dest": S.SHUTTING_DOWN},
    {"trigger": "signal",      "source": S.SCANNING,       "dest": S.ENTERING},
    {"trigger": "adopted",     "source": S.SCANNING,       "dest": S.MONITORING},
    {"trigger": "adopted_entry", "source": S.SCANNING,     "dest": S.ENTERING},
    {"trigger": "filled",      "source": S.ENTERING,       "dest": S.MONITORING},
    {"trigger": "abandoned",   "source": S.ENTERING,       "dest": S.SCANNING},
    {"trigger": "exited",      "source": S.MONITORING,     "dest": S.SCANNING},
    {"trigger": "halt",        "source": _TRADING,         "dest": S.HALTED},
    {"trigger": "resume",      "source": S.HALTED,         "dest": S.SCANNING},
    {"trigger": "session_end", "source": _SESSION_END_SOURCES, "dest": S.AWAITING_OPEN, "conditions": "more_sessions"},
    {"trigger": "session_end", "source": _SESSION_END_SOURCES, "dest": S.SHUTTING_DOWN, "unless": "more_sessions"},
    {"trigger": "shutdown",    "source": _ALL_BUT_SHUTTING_DOWN, "dest": S.SHUTTING_DOWN},
]
# fmt: on

TRIGGERS = sorted({t["trigger"] for t in TRANSITIONS})


@dataclass(frozen=True)
class Outcome:
    """What one trigger did: `moved` False means refused (invalid trigger or condition not met)."""

    trigger: str
    source: str
    dest: str
    moved: bool
    reason: str
    error: BaseException | None = None


class _Model:
    """The machine's model. Deliberately bare: an attribute named like a trigger would silently shadow it."""

    def __init__(self, more_sessions: Callable[[], bool]) -> None:
        self._more_sessions = more_sessions

    def more_sessions(self, event: EventData) -> bool:
        return self._more_sessions()


class EngineMachine:
    """Wraps `transitions.Machine`; `fire` returns an Outcome instead of the queued machine's always-True."""

    def __init__(
        self,
        on_record: Callable[[Outcome], None],
        more_sessions: Callable[[], bool] = lambda: False,
        initial: S = S.INITIALIZING,
    ) -> None:
        self._on_record = on_record
        self._last: Outcome | None = None
        self._source = str(initial)
        self.model = _Model(more_sessions)
        self.machine = Machine(
            model=self.model,
            states=STATES,
            transitions=_table(),
            initial=str(initial),
            auto_transitions=False,
            queued=True,
            send_event=True,
            finalize_event=self._finalize,
            on_exception=self._on_exception,
        )

    @property
    def state(self) -> S:
        return S(self.model.state)

    def fire(self, trigger: str, reason: str) -> Outcome:
        source = self.state
        if trigger not in TRIGGERS:
            outcome = Outcome(trigger, str(source), str(source), False, f"unknown trigger '{trigger}' ({reason})")
            self._on_record(outcome)
            return outcome
        self._last = None
        self._source = str(source)
        self.model.trigger(trigger, reason=reason)
        outcome = self._last or Outcome(trigger, str(source), str(self.state), False, reason)
        self._last = None
        return outcome

    def _on_exception(self, event: EventData) -> None:
        """Keep the error on the event; `_finalize` records it and the runner decides what follows."""

    def _finalize(self, event: EventData) -> None:
        reason = str(event.kwargs.get("reason", ""))
        source = self._source
        error = event.error
        if isinstance(error, MachineError):
            outcome = Outcome(event.event.name, source, source, False, f"refused: {error.value} ({reason})")
        elif error is not None:
            outcome = Outcome(event.event.name, source, str(self.state), False, reason, error)
        elif not event.result:
            outcome = Outcome(event.event.name, source, source, False, f"refused: conditions not met ({reason})")
        else:
            outcome = Outcome(event.event.name, source, str(self.state), True, reason)
        self._last = outcome
        self._on_record(outcome)


def _names(source: Any) -> str | list[str]:
    return [str(s) for s in source] if isinstance(source, list) else str(source)


def _table() -> list[dict[str, Any]]:
    return [{**t, "source": _names(t["source"]), "dest": str(t["dest"])} for t in TRANSITIONS]


def mermaid() -> str:
    """The machine as a mermaid stateDiagram drawn by transitions itself from TRANSITIONS, so docs cannot drift."""
    from transitions.extensions import GraphMachine

    model = _Model(lambda: False)
    GraphMachine(
        model=model,
        states=STATES,
        transitions=_table(),
        initial=str(S.INITIALIZING),
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title="zdte",
    )
    return model.get_graph().draw(None)
