"""One module per state; each exposes `handle(ctx) -> Step`, run by engine.runner while the machine is in it."""

from engine.machine import S
from states import awaiting_open, entering, halted, initializing, monitoring, scanning, shutting_down

HANDLERS = {
    S.INITIALIZING: initializing.handle,
    S.AWAITING_OPEN: awaiting_open.handle,
    S.SCANNING: scanning.handle,
    S.ENTERING: entering.handle,
    S.MONITORING: monitoring.handle,
    S.HALTED: halted.handle,
    S.SHUTTING_DOWN: shutting_down.handle,
}
