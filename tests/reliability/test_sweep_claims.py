"""Several processes on one study directory compute each run once (issue 14: "two sweeps on one
directory do not coordinate"). Real processes throughout: claims are process-level locks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from stormsim.analysis.cache import RunCache
from stormsim.analysis.claims import Claims
from stormsim.schema.yamlio import dump_yaml
from tests.analysis.analysis_helpers import SURGE, UNAV, small_scenario
from tests.reliability.cli_helpers import REPO, stormsim

SURGES, UNAVS, SEEDS = [0, 1, 2, 3], [1, 2, 3], 2
DISTINCT = len(SURGES) * len(UNAVS) * SEEDS  # no two cells resolve to the same budgets here
GRID_ARGS = [
    "--grid", f"{SURGE}={','.join(map(str, SURGES))}",
    "--grid", f"{UNAV}={','.join(map(str, UNAVS))}",
    "--seeds", str(SEEDS), "--until", "100000", "--no-plots",
]  # fmt: skip
ENV = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text(dump_yaml(small_scenario(sweep=None)))
    return p


def _sweep_cli(scenario: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "stormsim.cli", "sweep", str(scenario), "--out", str(out)]
    return subprocess.Popen(
        [*cmd, *GRID_ARGS, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,
    )


def _counts(stdout: str) -> tuple[int, int, int]:
    """(runs, executed, cached) from the sweep's summary line."""
    m = re.search(r"= (\d+) runs \((\d+) run, (\d+) cached", stdout)
    assert m, stdout
    return int(m[1]), int(m[2]), int(m[3])


def test_two_cli_sweeps_on_one_directory_compute_each_run_once(
    tmp_path: Path, scenario_file: Path
) -> None:
    out = tmp_path / "out"
    procs = [_sweep_cli(scenario_file, out, "-j", "1"), _sweep_cli(scenario_file, out, "-j", "2")]
    results = [p.communicate(timeout=240) for p in procs]
    for p, (_, se) in zip(procs, results, strict=True):
        assert p.returncode == 0, se
    counts = [_counts(so) for so, _ in results]
    assert [c[0] for c in counts] == [DISTINCT, DISTINCT]
    assert sum(c[1] for c in counts) == DISTINCT  # every run computed exactly once
    assert all(c[1] + c[2] == DISTINCT for c in counts)  # each got every result
    assert len(RunCache(out).keys()) == DISTINCT
    assert not list((out / "runs").glob("*.claim")) and not list((out / "runs").glob(".*"))
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == DISTINCT and (runs["status"] == "ok").all()


_API_SWEEP = f"""
import json, sys
import stormsim
sc, out, dump = sys.argv[1:4]
res = stormsim.sweep(sc, out, grid={{{SURGE!r}: {SURGES!r}, {UNAV!r}: {UNAVS!r}}}, seeds={SEEDS},
                     until_s=100000, jobs=1, plots=False)
res.runs.to_pickle(dump)
print(json.dumps({{"executed": res.n_executed, "cached": res.n_cached}}))
"""


def test_two_library_sweeps_on_one_directory_get_identical_tables(
    tmp_path: Path, scenario_file: Path
) -> None:
    out = tmp_path / "out"
    args = [sys.executable, "-c", _API_SWEEP, str(scenario_file), str(out)]
    procs = [
        subprocess.Popen(
            [*args, str(tmp_path / f"{i}.pkl")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, se) in zip(procs, outs, strict=True):
        assert p.returncode == 0, se
    counts = [json.loads(so.strip().splitlines()[-1]) for so, _ in outs]
    assert sum(c["executed"] for c in counts) == DISTINCT
    a, b = (pd.read_pickle(tmp_path / f"{i}.pkl") for i in range(2))
    assert len(a) == DISTINCT and (a["status"] == "ok").all()
    pd.testing.assert_frame_equal(a, b)  # byte-for-byte the same records, wall_s included


def test_a_sigkilled_sweeps_claims_are_taken_over(tmp_path: Path, scenario_file: Path) -> None:
    """A sweep killed with SIGKILL leaves its claim on the run it was computing; the next sweep
    sees its owner is gone, takes the claim over and finishes (never waits for the dead)."""
    out = tmp_path / "out"
    runs = out / "runs"
    victim = _sweep_cli(scenario_file, out, "-j", "1")
    deadline = time.time() + 90
    while time.time() < deadline and (
        len(list(runs.glob("*.json"))) < 3 or not list(runs.glob("*.claim"))
    ):
        time.sleep(0.01)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    left = list(runs.glob("*.claim"))
    assert len(left) == 1, left  # -j 1: the run it was computing
    owner = json.loads(left[0].read_text())
    assert owner["pid"] == victim.pid and owner["host"]
    done = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")}
    assert 3 <= len(done) < DISTINCT
    t0 = time.time()
    r = stormsim("sweep", str(scenario_file), "--out", str(out), *GRID_ARGS, "-j", "1",
                 cwd=tmp_path, timeout=180)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert _counts(r.stdout) == (DISTINCT, DISTINCT - len(done), len(done))
    assert time.time() - t0 < 120
    assert not list(runs.glob("*.claim"))
    for name, mtime in done.items():  # finished runs untouched
        assert (runs / name).stat().st_mtime_ns == mtime


# ---------------------------------------------------------------- claims between processes

_HOLDER = """
import sys, time
from stormsim.analysis.cache import RunCache
from stormsim.analysis.claims import Claims
claims = Claims(RunCache(sys.argv[1]))
assert claims.take(sys.argv[2])
print("held", flush=True)
sys.stdin.readline()
"""


def _holder(out: Path, key: str) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(out), key],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=ENV,
    )  # fmt: skip
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def test_a_live_claim_is_respected_and_a_dead_ones_taken_over(tmp_path: Path) -> None:
    holder = _holder(tmp_path, "k1")
    try:
        mine = Claims(RunCache(tmp_path))
        assert not mine.take("k1")  # another live process holds it
        assert mine.owners["k1"].startswith(f"pid {holder.pid} on ")
        assert mine.take("k2") and mine.take("k2")  # a free one; taking again is a no-op
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    assert mine.take("k1")  # its owner is gone
    assert json.loads(mine.path("k1").read_text())["pid"] == os.getpid()
    mine.release_all()
    assert not list(RunCache(tmp_path).dir.glob("*.claim"))


def test_a_claim_file_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    """A claim no process locks (written by a process that died before the lock existed, or by
    hand) is stale, whoever it names."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    cache = RunCache(tmp_path)
    cache.dir.mkdir(parents=True)
    stale = cache.dir / "k.claim"
    stale.write_text(json.dumps({"pid": int(dead.stdout), "host": "elsewhere", "started": 0}))
    with Claims(cache) as claims:
        assert claims.take("k")
    assert not stale.exists()


def test_a_sweep_waits_for_a_run_another_process_is_computing(
    tmp_path: Path, scenario_file: Path
) -> None:
    """One run is claimed by another process, which writes its record only after the sweep has
    computed every other run: the sweep waits for it and takes its record (computes it not)."""
    import stormsim
    from stormsim.analysis.sweep import plan_sweep

    grid = {SURGE: [0, 1], UNAV: [1]}
    plan = plan_sweep(scenario_file, grid=grid, seeds=1, until_s=100000)
    key = plan.tasks[0].key
    cache = RunCache(tmp_path / "out")
    holder = _holder(cache.root, key)
    foreign = {"key": key, "seed": plan.tasks[0].seed, "stormsim_version": stormsim.__version__,
               "status": "ok", "error": None, "summary": {"update_duration_s": 123.0},
               "wall_s": 9.0}  # fmt: skip

    def finish_later() -> None:
        time.sleep(1.0)
        cache.put(foreign)
        holder.stdin.write("done\n")  # type: ignore[union-attr]
        holder.stdin.flush()  # type: ignore[union-attr]

    import threading

    th = threading.Thread(target=finish_later)
    th.start()
    try:
        res = stormsim.sweep(scenario_file, cache.root, grid=grid, seeds=1, until_s=100000,
                             jobs=1, plots=False)  # fmt: skip
    finally:
        th.join()
        holder.communicate(timeout=30)
    assert (res.n_executed, res.n_cached) == (1, 1)
    row = res.runs[res.runs["key"] == key].iloc[0]
    assert row["update_duration_s"] == 123.0 and row["wall_s"] == 9.0  # the other's record


def test_a_claim_released_without_a_record_is_run_here(tmp_path: Path, scenario_file: Path) -> None:
    """The other process gives up (a crash it does not cache, an interrupt): the claim goes
    away with no record, and the sweep runs it itself."""
    import threading

    import stormsim
    from stormsim.analysis.sweep import plan_sweep

    grid = {SURGE: [0, 1], UNAV: [1]}
    plan = plan_sweep(scenario_file, grid=grid, seeds=1, until_s=100000)
    cache = RunCache(tmp_path / "out")
    holder = _holder(cache.root, plan.tasks[1].key)

    def give_up() -> None:
        time.sleep(0.5)
        holder.stdin.write("bye\n")  # type: ignore[union-attr]
        holder.stdin.flush()  # type: ignore[union-attr]

    th = threading.Thread(target=give_up)
    th.start()
    try:
        res = stormsim.sweep(scenario_file, cache.root, grid=grid, seeds=1, until_s=100000,
                             jobs=1, plots=False)  # fmt: skip
    finally:
        th.join()
        holder.communicate(timeout=30)
    assert (res.n_executed, res.n_cached) == (2, 0)
    assert (res.runs["status"] == "ok").all()


def test_claims_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system without hard links (some network and FUSE ones): claims are created in
    place, and still exclude another live process."""

    def no_links(*_: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    holder = _holder(tmp_path, "k1")  # its own process: real links
    try:
        with Claims(RunCache(tmp_path)) as mine:
            assert not mine.take("k1")
            assert mine.take("k2")
            assert json.loads(mine.path("k2").read_text())["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    assert not (tmp_path / "runs" / "k2.claim").exists()
    assert not [p for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")]
