"""Same scenario and seed, same results; randomness only from named streams of the root seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import stormsim

ROLLOUT = [{"at_s": 900, "kind": "set_image", "image": "vllm/vllm-openai:v0.11.0"}]


@pytest.fixture
def lognormal_scenario(make_manifest: Any, make_scenario: Any) -> Any:
    """``lognormal_scenario(**manifest_options)``: three 1P1D RoleSets with the default
    (lognormal / uniform) start-up timings, an image change at 900 s, no seed."""

    def build(**manifest: Any) -> dict[str, Any]:
        m = make_manifest(replicas=3, **manifest)
        return make_scenario(m, nodes=2, gpus_per_node=8, timing={}, events=ROLLOUT, seed=None)

    return build


def _assert_same(a: stormsim.RunResult, b: stormsim.RunResult) -> None:
    assert a.summary == b.summary
    assert a.frames.keys() == b.frames.keys()
    for name in a.frames:
        pd.testing.assert_frame_equal(a.frames[name], b.frames[name], obj=name)


def _startup_s(res: stormsim.RunResult) -> pd.Series:
    pods = res.frames["pods"]
    return (pods["ready_at_s"] - pods["created_at_s"]).reset_index(drop=True)


def test_same_seed_same_results(
    lognormal_scenario: Any,
) -> None:
    sc = stormsim.load_scenario(lognormal_scenario())
    a = stormsim.run(sc, seed=11)
    b = stormsim.run(sc, seed=11)
    _assert_same(a, b)
    assert a.provenance["scenario_hash"] == b.provenance["scenario_hash"]
    assert a.summary["update_completed"] is True


def test_scenario_seed_is_used_and_recorded(
    lognormal_scenario: Any,
) -> None:
    data = lognormal_scenario()
    data["seed"] = 5
    sc = stormsim.load_scenario(data)
    a = stormsim.run(sc)
    assert a.seed == 5 and a.summary["seed"] == 5
    _assert_same(a, stormsim.run(sc, seed=5))


def test_different_seeds_draw_different_startup_times(
    lognormal_scenario: Any,
) -> None:
    sc = stormsim.load_scenario(lognormal_scenario())
    a = stormsim.run(sc, seed=1)
    b = stormsim.run(sc, seed=2)
    sa, sb = _startup_s(a), _startup_s(b)
    n = min(len(sa), len(sb))
    assert not sa[:n].round(9).equals(sb[:n].round(9))
    assert a.summary["update_duration_s"] != b.summary["update_duration_s"]
    assert a.provenance["scenario_hash"] != b.provenance["scenario_hash"]


def test_constant_timings_ignore_the_seed(
    make_manifest: Any,
    make_scenario: Any,
) -> None:
    sc = stormsim.load_scenario(make_scenario(make_manifest(), events=ROLLOUT[:1]))
    a = stormsim.run(sc, seed=1)
    b = stormsim.run(sc, seed=2)
    for name in ("timeseries", "status", "rollouts"):
        pd.testing.assert_frame_equal(a.frames[name], b.frames[name], obj=name)
    pd.testing.assert_series_equal(_startup_s(a), _startup_s(b))


_SCRIPT = """
import sys, stormsim
res = stormsim.run(stormsim.load_scenario(sys.argv[1]), seed=3)
res.save(sys.argv[2], plots=False)
"""


def test_results_do_not_depend_on_the_process(
    lognormal_scenario: Any, write_scenario: Any, tmp_path: Path
) -> None:
    """Two interpreters with different string-hash seeds write identical frames (no ordering
    by ``set`` or ``hash`` leaks into the results)."""
    path = write_scenario(tmp_path, lognormal_scenario())
    outs = []
    for hashseed in ("1", "2"):
        out = tmp_path / f"out{hashseed}"
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(path), str(out)],
            check=True,
            env=env,
            timeout=300,
            capture_output=True,
        )
        outs.append(out)
    a, b = outs
    assert (a / "summary.json").read_text() == (b / "summary.json").read_text()
    for f in sorted(a.glob("*.parquet")):
        pd.testing.assert_frame_equal(pd.read_parquet(f), pd.read_parquet(b / f.name), obj=f.name)


def test_changing_max_surge_keeps_the_history_before_the_rollout(
    lognormal_scenario: Any,
) -> None:
    """Common random numbers: start-up durations come from named streams (one per duration kind
    and role) consumed in pod-creation order, so a controller setting that only matters during
    the rollout leaves everything before it identical.

    After the rollout starts, the k-th pod of a role still takes the k-th draw of its stream,
    but which pod is k-th (and whether its node has the image already) depends on maxSurge, so
    per-pod start-up times during the rollout are not comparable and are not asserted here.
    """
    a = stormsim.run(stormsim.load_scenario(lognormal_scenario(max_surge=1)), seed=9)
    b = stormsim.run(stormsim.load_scenario(lognormal_scenario(max_surge=2)), seed=9)
    t0 = ROLLOUT[0]["at_s"]
    for name, col in (("pods", "created_at_s"), ("rolesets", "created_at_s")):
        fa, fb = a.frames[name], b.frames[name]
        before_a = fa[fa[col] < t0].drop(columns=["deleted_at_s", "gone_at_s"])
        before_b = fb[fb[col] < t0].drop(columns=["deleted_at_s", "gone_at_s"])
        assert len(before_a) > 0
        pd.testing.assert_frame_equal(
            before_a.reset_index(drop=True), before_b.reset_index(drop=True), obj=name
        )
    ta, tb = a.frames["timeseries"], b.frames["timeseries"]
    pd.testing.assert_frame_equal(
        ta[ta["t_s"] < t0].reset_index(drop=True),
        tb[tb["t_s"] < t0].reset_index(drop=True),
        obj="timeseries before the rollout",
    )
    assert a.summary["rolesets_max"] == 4
    assert b.summary["rolesets_max"] == 5


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_saved_frames_round_trip(lognormal_scenario: Any, tmp_path: Path, fmt: str) -> None:
    res = stormsim.run(stormsim.load_scenario(lognormal_scenario()), seed=4)
    out = res.save(tmp_path / "o", format=fmt, plots=False)  # type: ignore[arg-type]
    again = stormsim.run(stormsim.load_scenario(out / "scenario.resolved.yaml"))
    _assert_same(res, again)
    reader = pd.read_parquet if fmt == "parquet" else pd.read_csv
    ts = reader(out / f"timeseries.{fmt}")
    pd.testing.assert_series_equal(ts["t_s"], res.frames["timeseries"]["t_s"])


def test_provenance_names_the_code_it_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``source_hash`` is stable for the same files and changes with any code byte (found by
    review: two versions of the code with one version number were indistinguishable)."""
    from stormsim import runner

    h = runner.source_hash()
    assert len(h) == 16 and int(h, 16) >= 0
    runner.source_hash.cache_clear()
    assert runner.source_hash() == h
    fake = tmp_path / "pkg"
    (fake / "sub").mkdir(parents=True)
    (fake / "runner.py").write_text("x = 1\n")
    (fake / "sub" / "data.yaml").write_text("a: 1\n")
    monkeypatch.setattr(runner, "__file__", str(fake / "runner.py"))
    runner.source_hash.cache_clear()
    one = runner.source_hash()
    (fake / "sub" / "data.yaml").write_text("a: 2\n")
    runner.source_hash.cache_clear()
    assert runner.source_hash() != one
    runner.source_hash.cache_clear()
