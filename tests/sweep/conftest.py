"""The sweeps the sweep tests read: a small grid on the default config's random walk (2 x 2 parameter sets x 2
dates x 1 seed), run once for the package through the CLI, in-process, on two local workers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import main

GRID = ("--set", "strategy.short_delta=0.15,0.20", "--set", "risk.spread_stop_pct=1,2",
        "--dates", "2025-07-01..2025-07-02")
TIMING = "seconds"


@dataclass(frozen=True)
class Swept:
    code: int
    out: Path
    stdout: str
    stderr: str

    def rows(self) -> list[dict[str, str]]:
        """results.csv's rows, without the timing column (the one figure that differs between two runs)."""
        with (self.out / "results.csv").open(encoding="utf-8", newline="") as f:
            return [{k: v for k, v in row.items() if k != TIMING} for row in csv.DictReader(f)]


def _sweep(repo_root: Path, out: Path, *args: str) -> Swept:
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(["sweep", "--config", str(repo_root / "config.yaml"), "-o", str(out), *args])
    return Swept(code, out, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="package")
def grid() -> tuple[str, ...]:
    """The swept keys and the dates (GRID[:4] is the keys alone)."""
    return GRID


@pytest.fixture(scope="package")
def sweep(repo_root: Path) -> Callable[..., Swept]:
    """sweep(out, *args): `zdte sweep --config config.yaml -o OUT ARGS` in this process: its exit code and output."""
    return lambda out, *args: _sweep(repo_root, out, *args)


@pytest.fixture(scope="package")
def reference(sweep, tmp_path_factory) -> Swept:
    """GRID on two local workers: 8 cells."""
    done = sweep(tmp_path_factory.mktemp("reference"), *GRID, "--workers", "2")
    assert done.code == 0, done.stderr
    return done
