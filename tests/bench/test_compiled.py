"""bench/compiled.py: the copy it compiles, and the modules it names."""

from __future__ import annotations

from pathlib import Path

from tests.bench_scripts import load_bench

bench = load_bench("compiled")
REPO = Path(__file__).resolve().parents[2]


def test_every_module_it_compiles_is_in_the_checkout() -> None:
    missing = [m for m in bench.HOT if not (REPO / m).is_file()]
    assert not missing, f"renamed or gone; the bench would fail to build: {missing}"


def test_the_copy_holds_the_code_and_config_without_the_project_file_or_bytecode(tmp_path) -> None:
    root = bench.copy_checkout(tmp_path)
    assert all((root / m).is_file() for m in bench.HOT)
    assert (root / "config.yaml").read_text() == (REPO / "config.yaml").read_text()
    assert (root / "bench" / "instructions.py").is_file()  # the copy counts itself
    assert not (root / "pyproject.toml").exists()  # setuptools, under mypyc, would build the project instead
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.so"))


def test_the_copy_sees_the_shared_data_where_the_checkout_does(tmp_path) -> None:
    root = bench.copy_checkout(tmp_path)
    shared = REPO.parent / "shared"
    assert (root.parent / "shared").exists() == shared.is_dir()
    if shared.is_dir():
        assert (root.parent / "shared").resolve() == shared.resolve()
