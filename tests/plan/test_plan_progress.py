"""Every batch of planner runs has a progress bar (on a terminal) over its runs, with the
measured time left; cached runs are not shown as work."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import stormsim
from stormsim.analysis.plan import search


def test_each_batch_of_runs_has_a_bar(
    tiny_plan: tuple[stormsim.PlanResult, Path],
    tiny_plan_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bars: list[dict[str, Any]] = []
    real = search.RunProgress

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, total: int, title: str, enabled: bool | None = None):
            super().__init__(total, title, enabled=False)
            bars.append({"total": total, "title": title, "bar": self})

    monkeypatch.setattr(search, "RunProgress", Spy)
    # half the session plan's cache: the rest is run, in bars
    out = tmp_path / "plan"
    runs = sorted((tiny_plan[1] / "runs").glob("*"))
    (out / "runs").mkdir(parents=True)
    for p in runs[: len(runs) // 2]:
        shutil.copy(p, out / "runs" / p.name)
    res = stormsim.plan(tiny_plan_file, out=out, timeline=False)
    assert res.n_runs > 0 and bars
    assert sum(b["total"] for b in bars) == res.n_runs  # every executed run in some bar
    for b in bars:
        assert b["bar"].done == b["total"] and b["title"].startswith("plan: ")
        assert b["bar"].time_left_s() == 0.0  # measured pace: nothing left at the end
