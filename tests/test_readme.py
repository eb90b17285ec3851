"""The README shows what the code does: its diagram is `run.py diagram`'s output and its table lists every row."""

from pathlib import Path

from engine.machine import TRANSITIONS, mermaid

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_diagram_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block.strip() == mermaid().strip()


def test_readme_table_names_every_trigger():
    text = README.read_text(encoding="utf-8")
    for t in TRANSITIONS:
        assert f"| `{t['trigger']}` |" in text


def test_the_loopback_commands_use_the_port_the_example_points_at():
    """Followed literally, the README's serve-sim command and examples/loopback.yaml must meet."""
    import re

    import yaml

    example = yaml.safe_load((README.parent / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    ports = {int(u.rsplit(":", 1)[1]) for u in (example["alpaca"]["trading_url"], example["alpaca"]["data_url"])}
    said = {int(p) for p in re.findall(r"serve-sim --port (\d+)", README.read_text(encoding="utf-8"))}
    assert said and said == ports
