"""The transition table itself: every row moves, everything else is refused and recorded."""

import pytest

from engine.machine import STATES, TRANSITIONS, TRIGGERS, EngineMachine, State, mermaid

# The spec, written out row by row (DESIGN.md's table plus the two start-up adoption rows, less no_session: a day
# without a session is never one of the run's sessions, so the run goes on to the next one), independently of
# engine.machine.TRANSITIONS: a row added, dropped or redirected there fails here. `more` is whether more
# sessions follow (session_end goes back to AwaitingOpen only then).
SPEC = [
    ("ready", "Initializing", "AwaitingOpen", None),
    ("fail", "Initializing", "ShuttingDown", None),
    ("market_open", "AwaitingOpen", "Scanning", None),
    ("signal", "Scanning", "Entering", None),
    ("adopted", "Scanning", "Monitoring", None),
    ("adopted_entry", "Scanning", "Entering", None),
    ("filled", "Entering", "Monitoring", None),
    ("abandoned", "Entering", "Scanning", None),
    ("exited", "Monitoring", "Scanning", None),
    ("halt", "Scanning", "Halted", None),
    ("halt", "Entering", "Halted", None),
    ("halt", "Monitoring", "Halted", None),
    ("resume", "Halted", "Scanning", None),
    *[("session_end", s, "AwaitingOpen", True) for s in ("AwaitingOpen", "Scanning", "Monitoring", "Halted")],
    *[("session_end", s, "ShuttingDown", False) for s in ("AwaitingOpen", "Scanning", "Monitoring", "Halted")],
    *[
        ("shutdown", s, "ShuttingDown", None)
        for s in ("Initializing", "AwaitingOpen", "Scanning", "Entering", "Monitoring", "Halted")
    ],
]


def _rows():
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for src in sources:
            yield t["trigger"], State(src), State(t["dest"]), t


def test_the_table_is_the_spec():
    built = {
        (trigger, str(src), str(dest), True if "conditions" in row else False if "unless" in row else None)
        for trigger, src, dest, row in _rows()
    }
    assert built == set(SPEC) and len(list(_rows())) == len(SPEC)
    assert STATES == ["Initializing", "AwaitingOpen", "Scanning", "Entering", "Monitoring", "Halted", "ShuttingDown"]


@pytest.mark.parametrize("trigger,source,dest,more", SPEC)
def test_every_row_moves_from_its_source_to_its_dest(trigger, source, dest, more):
    records = []
    source, dest = State(source), State(dest)
    m = EngineMachine(records.append, more_sessions=lambda: bool(more), initial=source)
    out = m.fire(trigger, "because")
    assert out.moved and m.state is dest
    assert records == [out]
    assert (out.trigger, out.source, out.dest, out.reason) == (trigger, str(source), str(dest), "because")


def _invalid_pairs():
    valid = {(trig, src) for trig, src, _, _ in SPEC}
    return [(t, s) for t in TRIGGERS for s in State if (t, str(s)) not in valid]


@pytest.mark.parametrize("trigger,source", _invalid_pairs())
def test_invalid_trigger_is_refused_and_recorded(trigger, source):
    records = []
    m = EngineMachine(records.append, initial=source)
    out = m.fire(trigger, "try")
    assert not out.moved and m.state is source
    assert len(records) == 1 and records[0].reason.startswith("refused")


def test_unknown_trigger_is_refused_and_recorded():
    records = []
    m = EngineMachine(records.append)
    out = m.fire("explode", "why not")
    assert not out.moved and m.state is State.INITIALIZING
    assert "unknown trigger 'explode'" in records[0].reason


def test_session_end_destination_depends_on_remaining_sessions():
    for more, dest in ((True, State.AWAITING_OPEN), (False, State.SHUTTING_DOWN)):
        m = EngineMachine(lambda o: None, more_sessions=lambda more=more: more, initial=State.MONITORING)
        assert m.fire("session_end", "x").dest == dest


def test_states_are_exactly_the_seven():
    assert STATES == ["Initializing", "AwaitingOpen", "Scanning", "Entering", "Monitoring", "Halted", "ShuttingDown"]


def test_no_wildcard_sources_and_shutdown_from_every_other_state():
    assert all(t["source"] != "*" for t in TRANSITIONS)
    shutdown = next(t for t in TRANSITIONS if t["trigger"] == "shutdown")
    assert set(shutdown["source"]) == set(State) - {State.SHUTTING_DOWN}


def test_diagram_is_generated_from_the_table():
    text = mermaid()
    assert text.lstrip("-\n ").startswith("title") or "stateDiagram-v2" in text
    for _, source, dest, _row in _rows():
        assert f"{source} --> {dest}" in text
