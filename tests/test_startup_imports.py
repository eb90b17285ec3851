"""What each command imports: a start-up budget is kept by what is never loaded (`--help` needs no pydantic, a
simulated run on a random walk no pandas). The times themselves are bench/startup.py's, never a test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
out, args = sys.argv[1], sys.argv[2:]
sys.argv = ["run.py", *args]
try:
    from engine.cli import main  # what run.py runs, less its exit without teardown, so the probe can look after
    main(args)
except SystemExit:
    pass
with open(out, "w") as f:
    json.dump(sorted({name.split(".")[0] for name in sys.modules}), f)
"""


def loaded(repo_root: Path, tmp_path: Path, *args: str) -> set[str]:
    """The top-level packages in sys.modules once `python run.py ARGS` is done."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args], cwd=repo_root, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


HEAVY = {"pandas", "pyarrow", "matplotlib", "exchange_calendars", "alpaca", "apprise", "ray"}


def test_help_imports_none_of_the_libraries_only_the_commands_use(repo_root, tmp_path):
    found = loaded(repo_root, tmp_path, "--help")
    assert found & (HEAVY | {"numpy", "pydantic", "yaml", "loguru", "transitions"}) == set()
    assert "engine" in found  # the probe did run our CLI


@pytest.mark.parametrize("html", ["true", "false"])
def test_a_simulated_day_on_a_random_walk_imports_no_dataframe_chart_or_broker_library(repo_root, tmp_path, html):
    """The default config's day, its report page included: charts drawn as our own SVG, no alert URL, no data file."""
    found = loaded(
        repo_root, tmp_path, "--config", "config.yaml", "--logs-dir", str(tmp_path / "logs"),
        "--set", f"risk.kill_file={tmp_path / 'KILL'}", "--set", f"report.html={html}",
    )
    assert (tmp_path / "logs" / "report-20250701.json").exists()
    assert found & HEAVY == set()
    assert {"numpy", "pydantic"} <= found  # what the engine itself needs is there: the probe saw a real run


def test_a_run_that_ends_without_teardown_has_written_and_closed_everything(repo_root, tmp_path):
    """run.py ends a run with os._exit once its files are closed (engine.cli.entry): nothing buffered may be lost,
    neither the console's last lines on a pipe nor the journal's and the logs' last records."""
    logs = tmp_path / "logs"
    done = subprocess.run(
        [sys.executable, "run.py", "--logs-dir", str(logs), "--set", f"risk.kill_file={tmp_path / 'KILL'}"],
        cwd=repo_root, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith(f"files in {logs}/: audit-*.jsonl")
    assert "session 2025-07-01 done" in done.stderr.rstrip().splitlines()[-1]
    verified = subprocess.run([sys.executable, "run.py", "journal", "verify", str(logs / "audit-20250701.jsonl")],
                              cwd=repo_root, capture_output=True, text=True, timeout=60, check=False)
    assert verified.returncode == 0 and "ok:" in verified.stdout
    records = [json.loads(line) for line in (logs / "audit-20250701.jsonl").read_text().splitlines()]
    assert "day_end" in [r["kind"] for r in records] and records[-1]["hash"]  # whole to its last record
    assert "session 2025-07-01 done" in (logs / "engine-20250701.log").read_text().splitlines()[-1]
    assert (logs / "trades-20250701.log").read_text().endswith("\n")
