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
