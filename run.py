"""zdte entry point: `python run.py --config config.yaml` (see `python run.py --help`)."""

from engine.cli import entry

if __name__ == "__main__":
    entry()
