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


class State(StrEnum):
    INITIALIZING = "Initializing"
    AWAITING_OPEN = "AwaitingOpen"
    SCANNING = "Scanning"
    ENTERING = "Entering"
    MONITORING = "Monitoring"
    HALTED = "Halted"
    SHUTTING_DOWN = "ShuttingDown"


STATES = [s.value for s in State]
_STATE_OF = {s.value: s for s in State}
"""The machine's state by its name: asked several times a step, where State(name) is an enum lookup by call."""

_TRADING = [State.SCANNING, State.ENTERING, State.MONITORING]
_SESSION_END = [State.AWAITING_OPEN, State.SCANNING, State.MONITORING, State.HALTED]
_ALL_BUT_SHUTTING_DOWN = [s for s in State if s is not State.SHUTTING_DOWN]

# fmt: off
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "ready",         "source": State.INITIALIZING,      "dest": State.AWAITING_OPEN},
    {"trigger": "fail",          "source": State.INITIALIZING,      "dest": State.SHUTTING_DOWN},
    {"trigger": "market_open",   "source": State.AWAITING_OPEN,     "dest": State.SCANNING},
    {"trigger": "signal",        "source": State.SCANNING,          "dest": State.ENTERING},
    {"trigger": "adopted",       "source": State.SCANNING,          "dest": State.MONITORING},
    {"trigger": "adopted_entry", "source": State.SCANNING,          "dest": State.ENTERING},
    {"trigger": "filled",        "source": State.ENTERING,          "dest": State.MONITORING},
    {"trigger": "abandoned",     "source": State.ENTERING,          "dest": State.SCANNING},
    {"trigger": "exited",        "source": State.MONITORING,        "dest": State.SCANNING},
    {"trigger": "halt",          "source": _TRADING,                "dest": State.HALTED},
    {"trigger": "resume",        "source": State.HALTED,            "dest": State.SCANNING},
    {"trigger": "session_end",   "source": _SESSION_END,            "dest": State.AWAITING_OPEN, "conditions": "more_sessions"},  # noqa: E501
    {"trigger": "session_end",   "source": _SESSION_END,            "dest": State.SHUTTING_DOWN, "unless": "more_sessions"},  # noqa: E501
    {"trigger": "shutdown",      "source": _ALL_BUT_SHUTTING_DOWN,  "dest": State.SHUTTING_DOWN},
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
        initial: State = State.INITIALIZING,
    ) -> None:
        self._on_record = on_record
        self._last: Outcome | None = None
        self._source = str(initial)
        self.model: Any = _Model(more_sessions)  # transitions adds `state` and the triggers at run time
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
    def state(self) -> State:
        return _STATE_OF[self.model.state]

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

    model: Any = _Model(lambda: False)
    GraphMachine(
        model=model,
        states=STATES,
        transitions=_table(),
        initial=str(State.INITIALIZING),
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title="zdte",
    )
    return model.get_graph().draw(None)
