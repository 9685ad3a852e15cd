"""A failed run is an error, never an SLO miss: the CLI (a subprocess, with a failure injected
into the simulator for one GPU type) prints it with its cause, writes it into plan.md and
plan.html, and exits 1; with --keep-going the failed candidate is listed as failed, not
infeasible, and the others are still searched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from stormsim.schema.yamlio import dump_yaml
from tests.plan.conftest import REPO, tiny_plan_data

INJECT = """
import sys
import stormsim.analysis.plan.measure as m

real_run = m.run


def run(scenario, seed=None, until_s=None):
    if scenario.cluster.node_pools[0].gpu_type == "A100-80GB":
        try:
            raise ValueError("zero-size array to reduction operation fmax")
        except ValueError as e:
            raise RuntimeError("injected failure") from e
    return real_run(scenario, seed=seed, until_s=until_s)


m.run = run
from stormsim.cli import main

sys.argv = ["stormsim", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def two_gpu_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tiny_plan_data()
    data["plan"].update(
        gpus=[{"type": "H100-80GB", "price_per_hour": 3.0, "gpus_per_node": 8},
              {"type": "A100-80GB", "price_per_hour": 1.6, "gpus_per_node": 8}],
        goodput=False, sensitivity=False, rollout=None, seeds=[1], duration_s=40,
    )  # fmt: skip
    p = tmp_path_factory.mktemp("fail") / "plan-fail.yaml"
    p.write_text(dump_yaml(data))
    return p


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", INJECT, *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=600)  # fmt: skip


def test_failed_run_is_an_error_and_exits_1(two_gpu_plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = _cli(["plan", str(two_gpu_plan), "--out", str(out), "-j", "1", "-q"], tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    # the console names the failure and its cause
    assert "injected failure" in r.stderr
    assert "caused by ValueError: zero-size array" in r.stderr
    assert "plan failed" in r.stdout and "recommended:" not in r.stdout
    for name in ("plan.md", "plan.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert "injected failure" in text and "zero-size array" in text, name
    doc = json.loads((out / "plan.json").read_text())
    assert doc["recommendation"] is None and doc["failures"] and doc["n_failed"] >= 1
    c = pd.read_parquet(out / "candidates.parquet")
    a100 = c[c["gpu"] == "A100-80GB"].iloc[0]
    assert a100["status"] == "failed"  # not "infeasible", not "no-fit"
    assert "injected failure" in a100["reason"]
    runs = pd.read_parquet(out / "runs.parquet")
    assert (runs["status"] == "failed").any()


def test_keep_going_lists_the_failed_candidate(two_gpu_plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = _cli(["plan", str(two_gpu_plan), "--out", str(out), "-j", "1", "-q", "--keep-going"],
             tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "recommended:" in r.stdout and "H100-80GB" in r.stdout
    assert "injected failure" in r.stderr
    c = pd.read_parquet(out / "candidates.parquet")
    status = dict(zip(c["gpu"], c["status"], strict=True))
    assert status == {"A100-80GB": "failed", "H100-80GB": "recommended"}
    html = (out / "plan.html").read_text(encoding="utf-8")
    assert "injected failure" in html and 'id="failures"' in html
    # files are written with the user's umask, not mkstemp's 0600
    mask = os.umask(0)
    os.umask(mask)
    for name in ("plan.html", "plan.md", "plan.json", "candidates.parquet"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
