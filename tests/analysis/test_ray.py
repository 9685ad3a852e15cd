"""The Ray executor gives the same tables as the local one (a local Ray instance)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import stormsim

from .analysis_helpers import small_scenario

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_matches_local(local_ray: None, tmp_path: Path) -> None:
    local = stormsim.sweep(small_scenario(), tmp_path / "local", jobs=2, plots=False)
    rayed = stormsim.sweep(small_scenario(), tmp_path / "ray", executor="ray", plots=False)
    # 12 runs, of which maxSurge 0 / maxUnavailable 0 and 0 / 1 (AIBrix: the same budgets)
    # share their 2 runs
    assert len(rayed.runs) == 12
    assert rayed.executor == "ray" and rayed.n_executed == rayed.runs["key"].nunique() == 10
    for a, b in ((local.runs, rayed.runs), (local.cells, rayed.cells)):
        cols = [c for c in a.columns if c != "wall_s"]
        pd.testing.assert_frame_equal(a[cols], b[cols])
    # and the Ray sweep's cache resumes like the local one
    again = stormsim.sweep(small_scenario(), tmp_path / "ray", executor="ray", plots=False)
    assert again.n_cached == 10 and again.n_executed == 0
