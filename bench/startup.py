"""Benchmark: start-up as a user sees it, the whole process of `python run.py --help` and of a one-day run.

    python bench/startup.py [--runs 15] [--config config.yaml] [--against DIR [--against-python PY]] [--imports]

Each command runs as a fresh interpreter, its output thrown away, and the wall time from spawn to exit is
measured: imports, the calendar, the day, its report and the interpreter's exit, everything a person waits for.
The commands take turns (help, run, help, run, ...) so a busy machine weighs on them alike; the figures are
medians. `--against DIR` runs the same commands in another checkout (e.g. `git worktree add ../zdte-main main`)
interleaved with this one, and prints this checkout's median over the other's: on a shared machine only the
ratio is worth comparing. The other checkout runs on this interpreter unless `--against-python` names its own
(its dependencies must be installed there). `--imports` prints, for each command, the total import time and the
heaviest packages not ours that our modules import (as `python -X importtime` counts them, with all they pull in),
each with the chain of our modules that brought it in. The commands run with Python's bytecode cache on (the
default; a first untimed run of each writes it) even where PYTHONDONTWRITEBYTECODE is set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def commands(config: str, logs: Path) -> dict[str, list[str]]:
    """The two start-ups the README promises: `--help`, and the default config's whole day with its report (the
    logs go to a scratch folder, so a run never meets an earlier one's files or a KILL file)."""
    return {
        "--help": ["run.py", "--help"],
        "run": ["run.py", "--config", config, "--logs-dir", str(logs)],
    }


def child_env() -> dict[str, str]:
    """The commands' environment: ours with Python's default bytecode cache (the first, untimed run writes each
    module's .pyc to __pycache__): PYTHONDONTWRITEBYTECODE, where set, would make every run compile all our modules
    again, about 0.15 s that no user with a default interpreter pays."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env



def timed(python: str, argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [python, *argv], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - t0


def heaviest_imports(
    python: str, argv: list[str], cwd: Path, env: dict[str, str], top: int
) -> tuple[float, list[tuple[float, str]]]:
    """The total import time, and the `top` heaviest packages not ours that our code (or the script) imports,
    each with the chain of our modules that brought it in (its heaviest import): what each costs with everything
    it pulls in."""
    done = subprocess.run(
        [python, "-X", "importtime", *argv], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    rows: list[tuple[int, float, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2  # one more indent (two spaces) per level of nesting
        rows.append((depth, int(cumulative) / 1000, name.strip()))
    # importtime prints a module after what it imports, so a module's importer is the next row one level up
    parents: list[int | None] = [None] * len(rows)
    waiting: dict[int, list[int]] = {}
    for i, (depth, _, _) in enumerate(rows):
        for child in waiting.pop(depth + 1, []):
            parents[child] = i
        waiting.setdefault(depth, []).append(i)

    def ours(name: str) -> bool:
        return name.split(".")[0] in ("engine", "states")

    def chain(i: int) -> list[str]:
        names = []
        parent = parents[i]
        while parent is not None:
            names.append(rows[parent][2])
            parent = parents[parent]
        return names[::-1]

    total = sum(ms for depth, ms, _ in rows if depth == 0)
    # a package's submodules imported later, on first use (pydantic's, matplotlib's), count with the package
    packages: dict[str, tuple[float, float, str]] = {}
    for i, (_, ms, name) in enumerate(rows):
        if ours(name) or not all(ours(n) for n in chain(i)):
            continue
        root = name.split(".")[0]
        summed, biggest, where = packages.get(root, (0.0, 0.0, ""))
        if ms > biggest:
            biggest, where = ms, " -> ".join([*chain(i), name])
        packages[root] = (summed + ms, biggest, where)
    return total, sorted(((summed, where) for summed, _, where in packages.values()), reverse=True)[:top]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="runs of each command in each checkout")
    ap.add_argument("--config", default="config.yaml", help="the run's config, relative to each checkout")
    ap.add_argument("--against", type=Path, help="another checkout to time interleaved with this one")
    ap.add_argument("--against-python", default=sys.executable, help="the interpreter of --against")
    ap.add_argument("--imports", action="store_true", help="also list the heaviest imports of each command")
    ap.add_argument("--top", type=int, default=12, help="how many imports --imports lists")
    args = ap.parse_args()
    env = child_env()
    trees = {"this": (sys.executable, REPO)}
    if args.against is not None:
        trees["against"] = (args.against_python, args.against.resolve())
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(args.config, Path(tmp) / "logs")
        for python, cwd in trees.values():  # warm the disk cache and the bytecode, so no first run pays for them
            for argv in cmds.values():
                timed(python, argv, cwd, env)
        for i in range(args.runs):
            for tree, (python, cwd) in trees.items():
                for name, argv in cmds.items():
                    times.setdefault((tree, name), []).append(timed(python, argv, cwd, env))
            sys.stderr.write(f"\r{i + 1}/{args.runs} rounds")
        sys.stderr.write("\n")
        for name in cmds:
            this = statistics.median(times[("this", name)])
            label = "python " + " ".join(cmds[name][:3])
            line = f"{label:36} median {this:.3f} s (min {min(times[('this', name)]):.3f})"
            if "against" in trees:
                other = statistics.median(times[("against", name)])
                line += f"; {args.against}: {other:.3f} s; ratio {this / other:.2f}"
            print(line)
        if args.imports:
            for tree, (python, cwd) in trees.items():
                for name, argv in cmds.items():
                    total, top = heaviest_imports(python, argv, cwd, env, args.top)
                    print(f"\nimports of {name} in {cwd} ({tree}): {total:.0f} ms in all; the heaviest not ours:")
                    for ms, module in top:
                        print(f"  {ms:8.1f} ms  {module}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
