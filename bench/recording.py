"""Benchmark: what recording every port call costs a simulated day, end to end.

    python bench/recording.py [--runs 8] [--config config.yaml]

Runs `python run.py --config ... --quiet` as a user would, alternating the journal's input recording on
and off (`journal.record_inputs`), and prints the median wall time of each and the difference. The
engine-loop-only figure (without interpreter start-up and imports) is printed by bench/sim_day.py.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--config", default=str(REPO / "config.yaml"))
    args = ap.parse_args()
    raw = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {}
        for record in (True, False):
            cfg = {**raw, "journal": {**raw.get("journal", {}), "record_inputs": record}}
            cfg["risk"] = {**raw.get("risk", {}), "kill_file": str(Path(tmp) / "KILL")}
            configs[record] = Path(tmp) / f"record-{record}.yaml"
            configs[record].write_text(yaml.safe_dump(cfg), encoding="utf-8")
        for i in range(args.runs):
            for record in (True, False):
                logs = Path(tmp) / f"logs-{record}-{i}"
                cmd = [sys.executable, "run.py", "--config", str(configs[record]), "--quiet", "--logs-dir", str(logs)]
                t0 = time.perf_counter()
                subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
                times[record].append(time.perf_counter() - t0)
            sys.stderr.write(f"\r{i + 1}/{args.runs} runs of each")
        sys.stderr.write("\n")
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"python run.py, recording on   median {on:.3f} s")
    print(f"python run.py, recording off  median {off:.3f} s")
    print(f"recording costs               {(on / off - 1) * 100:+.0f}% of a simulated day's run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
