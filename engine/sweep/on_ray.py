"""The Ray executor: each cell a Ray task, on a local runtime (`--ray`) or an existing cluster (`--ray ADDRESS`).

Ray is imported only here, and only when asked for. Data files are not shipped: a cell reads its config's paths
(made absolute by the grid) where it runs, so every node must see the same files at the same paths (a shared
mount, or the same copy on each node), and have zdte installed.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError

if TYPE_CHECKING:  # the engine itself only when a cell runs: `--help` reads LOCAL from here
    from engine.sweep.cell import Outcome
    from engine.sweep.grid import Cell

LOCAL = "local"
"""`--ray` without an address: Ray's own name for a new local runtime."""


def ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray, which is not installed: pip install -e \".[ray]\"") from None
    return ray


def connect(address: str, num_cpus: int | None) -> bool:
    """Join the cluster at `address`, or start a local runtime (LOCAL), before any cell runs, so an unreachable
    cluster is a usage error and not a sweep of failed cells. A runtime already initialized in this process (a
    test's) is used as it is. True when this call started one, which its caller then shuts down."""
    ray = ray_module()
    if ray.is_initialized():
        return False
    local = {"num_cpus": num_cpus, "include_dashboard": False} if address == LOCAL else {}
    _answers(address)
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False, **local)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"--ray {address}: cannot start or join Ray ({_first_line(exc)})") from None
    return True


def _answers(address: str) -> None:
    """A HOST:PORT nothing listens on is said at once: Ray itself retries an absent head for many minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise ConfigError(f"--ray {address}: no Ray head answers there ({exc.strerror or exc})") from None


def run_on_ray(cells: list[Cell], keep_journals: bool) -> Iterator[Outcome]:
    """Each cell's outcome as it finishes (ray.wait), on the runtime `connect` set up. Cells are handed out a few
    per CPU at a time, so a long sweep holds little in the object store and Ctrl-C has little to cancel."""
    from engine.sweep.cell import Outcome, run_cell

    ray = ray_module()
    task = ray.remote(run_cell)
    window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    waiting = iter(cells)
    pending: dict[Any, Cell] = {}
    try:
        while True:
            for cell in islice(waiting, window - len(pending)):
                pending[task.remote(cell, keep_journals)] = cell
            if not pending:
                return
            [ready], _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(ready)
            try:
                outcome = ray.get(ready)
            except ray.exceptions.RayError as exc:  # the task never ran its cell: a node lost, zdte not importable
                outcome = Outcome(cell.key, None, _first_line(exc), 0.0)
            yield outcome
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"
