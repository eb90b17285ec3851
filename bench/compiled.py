"""Benchmark: what compiling the hot path with mypyc would save, in CPU instructions per simulated day.

    python bench/compiled.py [--days 5] [--keep DIR]

Issue 14 asks for a simulated day no slower than NautilusTrader's, whose core is compiled (Cython and Rust). One
road there is to compile ours; this measures the road before anyone takes it. It copies this checkout's `engine/`,
`states/`, `bench/` and `config.yaml` into a temporary directory beside ../shared, compiles the modules of HOT there
with mypyc (it comes with mypy, a dev dependency, and needs gcc and the Python headers: about two minutes on
2 cores), and counts the copy against this checkout with bench/instructions.py (valgrind). The checkout itself is
never touched, so no compiled module can shadow an edited source. With `--keep DIR` the compiled copy stays in
DIR/zdte, to be timed as well: `cd DIR/zdte && python bench/anchor_nautilus.py` (in the nautilus venv, on the same
interpreter) times it against NautilusTrader as the checkout is timed.

HOT is every module a simulated day spends its time in that mypyc compiles and that still runs compiled, but three:
- engine/machine.py: transitions sets its triggers as attributes of the model, which a native class refuses;
- engine/journal/recording.py: Divergence, a dataclass of BaseException, cannot be a native class;
- engine/reporting/day.py: mypyc fails on it with an internal error (mypy 2.4).

Exit 2 with a message when valgrind or mypyc is missing; 1 when the build fails, with mypyc's last words.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = ("engine", "states", "bench")
HOT = (
    "engine/epoch.py",
    "engine/models.py",
    "engine/combo.py",
    "engine/clock.py",
    "engine/context.py",
    "engine/runner.py",
    "engine/days.py",
    "engine/data.py",
    "engine/marks.py",
    "engine/book.py",
    "engine/risk.py",
    "engine/orders.py",
    "engine/status.py",
    "engine/signals.py",
    "engine/declines.py",
    "engine/discovery.py",
    "engine/strategies/iron_condor.py",
    "engine/journal/codec.py",
    "engine/journal/audit.py",
    "engine/journal/sink.py",
    "engine/brokers/sim.py",
    "engine/sim/venue.py",
    "engine/sim/market.py",
    "engine/sim/exchange.py",
    "states/guard.py",
    "states/common.py",
    "states/scanning.py",
    "states/entering.py",
    "states/monitoring.py",
)


def copy_checkout(dest: Path) -> Path:
    """The checkout's code in dest/zdte, with dest/shared pointing at ../shared (the anchor's SPY days), and no
    pyproject.toml: mypyc builds through setuptools, which would read it as the project to build."""
    root = dest / "zdte"
    for name in COPIED:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy2(REPO / "config.yaml", root / "config.yaml")
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (dest / "shared").symlink_to(shared, target_is_directory=True)
    return root


def compile_hot(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypyc", *HOT], cwd=root, capture_output=True, text=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=5, help="days counted after the warm-up day")
    ap.add_argument("--keep", type=Path, default=None, help="build the compiled copy in DIR (empty) and keep it")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("skipped: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    try:
        import mypyc  # noqa: F401
    except ImportError:
        print('skipped: mypyc is not installed (it comes with mypy: pip install -e ".[dev]")', file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        dest = args.keep.resolve() if args.keep else Path(tmp)
        dest.mkdir(parents=True, exist_ok=True)
        root = copy_checkout(dest)
        print(f"compiling {len(HOT)} modules with mypyc in {root} ...", file=sys.stderr, flush=True)
        built = compile_hot(root)
        if built.returncode != 0:
            print(f"mypyc failed:\n{(built.stdout + built.stderr)[-3000:]}", file=sys.stderr)
            return 1
        counted = subprocess.run(
            [sys.executable, str(root / "bench" / "instructions.py"), "--days", str(args.days), "--against", str(REPO)]
        )
        return counted.returncode


if __name__ == "__main__":
    raise SystemExit(main())
