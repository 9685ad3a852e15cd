"""``stormsim run`` of a scenario with a PodAutoscaler, as a subprocess: the autoscaling
frame, its plot and the autoscaling KPIs are written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from stormsim import cli
from stormsim.metrics.catalogue import names
from stormsim.schema.yamlio import dump_yaml
from tests.autoscaler_world.helpers import FAST_TIMING, autoscaler, service


def test_cli_run_with_an_autoscaler(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    data = {
        "name": "cli-pa",
        "seed": 2,
        "until_s": 60,
        "cluster": {"node_pools": [{"name": "n", "count": 2, "gpus_per_node": 8}]},
        "timing": FAST_TIMING,
        "service": {"manifest": service(4), "initial_state": "ready"},
        "autoscalers": [autoscaler("KPA", "1", 1, 8)],
    }
    (tmp_path / "s.yaml").write_text(dump_yaml(data))
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.run(
        [str(exe), "run", "s.yaml", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    df = pd.read_parquet(out / "autoscaling.parquet")
    # no traffic: every pod reads 0; KPA halves 4 -> 2 -> 1 and stays
    assert df.desired.tolist()[:2] == [2, 1]
    assert (out / "autoscaling.png").stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scale_events"] == 2
    assert summary["gpu_hours"] == 0.0  # the test pods request no GPUs
    # the printed table has the autoscaling rows, with the summary's values
    for label in ("scale events", "direction changes per hour", "GPU-hours (pods)"):
        assert label in proc.stdout
    assert [k for k, _ in cli.AUTOSCALING_ROWS] == list(names("run-autoscaling"))
    row = next(line for line in proc.stdout.splitlines() if "scale events" in line)
    assert row.split("│")[2].strip() == "2"
