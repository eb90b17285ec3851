"""One module per state; each exposes `handle(ctx) -> Step`, run by engine.runner while the machine is in it."""

from engine.machine import State
from states import awaiting_open, entering, halted, initializing, monitoring, scanning, shutting_down

HANDLERS = {
    State.INITIALIZING: initializing.handle,
    State.AWAITING_OPEN: awaiting_open.handle,
    State.SCANNING: scanning.handle,
    State.ENTERING: entering.handle,
    State.MONITORING: monitoring.handle,
    State.HALTED: halted.handle,
    State.SHUTTING_DOWN: shutting_down.handle,
}
