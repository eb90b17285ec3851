"""`zdte sweep --ray`: the cells as Ray tasks give the rows the local workers give, and resume the same way. Ray is
started once for the module (a new local runtime of 2 CPUs) and the sweep uses it as it finds it."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e \".[ray]\"): the --ray path is untested")


@pytest.fixture(scope="module", autouse=True)
def runtime():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # never a cluster found
    yield
    ray.shutdown()


def test_ray_gives_the_rows_of_local_workers(grid, reference, sweep, tmp_path):
    done = sweep(tmp_path / "ray", *grid, "--ray")
    assert done.code == 0, done.stderr
    assert done.rows() == reference.rows()
    assert "8 cell(s): 8 ran, 0 skipped (finished before), 0 failed" in done.stdout
    assert ray.is_initialized()  # a runtime the sweep did not start is not the sweep's to stop


def test_ray_resumes_a_sweep_begun_locally(grid, reference, sweep, tmp_path):
    out = tmp_path / "mixed"
    assert sweep(out, *grid[:4], "--dates", "2025-07-02", "--workers", "2").code == 0
    done = sweep(out, *grid, "--ray")
    assert "8 cell(s): 4 ran, 4 skipped (finished before), 0 failed" in done.stdout
    assert done.rows() == reference.rows()
