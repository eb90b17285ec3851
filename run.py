"""zdte entry point: `python run.py --config config.yaml` (see `python run.py --help`)."""

from engine.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
