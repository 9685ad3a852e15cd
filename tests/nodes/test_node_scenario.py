"""The shipped scenario rollout-node-autoscaling.yaml (32 RoleSets of 70B TP4 1P1D on 8-GPU
nodes, a rolling update whose surge needs 8 new nodes), through the API and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

import stormsim

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "rollout-node-autoscaling.yaml"


@pytest.fixture(scope="module")
def result() -> stormsim.RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stormsim.StormsimWarning)
        return stormsim.run(SCENARIO)


def test_surge_waits_for_new_nodes_then_they_are_removed(result: stormsim.RunResult) -> None:
    s = result.summary
    assert s["update_completed"] is True
    assert s["n_node_scale_ups"] == 8 and s["n_node_scale_downs"] == 8
    assert s["nodes_peak"] == 40
    nodes = result.frames["nodes"]
    new = nodes[nodes["origin"] == "node-autoscaler"]
    # all 8 requested by the first scan after the surge pods were found unschedulable
    ev = result.frames["events"]
    first_unsched = float(ev[ev["verb"] == "unschedulable"]["t_s"].min())
    assert (new["created_at_s"] == new["created_at_s"].iloc[0]).all()
    assert first_unsched < new["created_at_s"].iloc[0] <= first_unsched + 10.0
    assert (new["ready_at_s"] > new["created_at_s"]).all()
    assert (new["gpus_ready_at_s"] > new["ready_at_s"]).all()
    # the surge pods on new nodes bound once GPUs were allocatable, and pulled the image there
    pods = result.frames["pods"]
    on_new = pods.merge(new[["node", "gpus_ready_at_s"]], on="node")
    assert len(on_new) == 16
    assert (on_new["scheduled_at_s"] >= on_new["gpus_ready_at_s"]).all()
    pulled = ev[(ev["verb"] == "pulled") & ev["detail"].str.endswith(tuple(new["node"]))]
    assert len(pulled) == 16
    # never above max_nodes, never below min_nodes (nodes not gone)
    ts = result.frames["timeseries"]
    cols = [c for c in ts.columns if c.startswith("pool.h100.nodes_")]
    alive = ts[cols].sum(axis=1)
    assert alive.max() == 40 and alive.min() == 32 and int(alive.iloc[-1]) == 32
    # scale-down only after the unneeded time following the last pod leaving
    removed = nodes[nodes["deleted_at_s"].notna()]
    assert len(removed) == 8
    for _, n in removed.iterrows():
        left = pods[pods["node"] == n["node"]]["gone_at_s"].max()
        assert n["deleted_at_s"] >= left + 600.0


def test_cli_run_writes_the_nodes_frame(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    data = yaml.safe_load(SCENARIO.read_text())
    data["service"]["manifest"] = str(SCENARIO.parent / data["service"]["manifest"])
    data["until_s"] = 1200  # enough for the node scale-up; keeps the test short
    (tmp_path / "sc.yaml").write_text(yaml.safe_dump(data))
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.run(
        [str(exe), "run", "sc.yaml", "--out", "out", "--no-plots"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "node-hours" in proc.stdout and "nodes added" in proc.stdout
    assert "nodes given up (provisioning)" in proc.stdout
    nodes = pd.read_parquet(tmp_path / "out" / "nodes.parquet")
    assert len(nodes) == 40 and (nodes["origin"] == "node-autoscaler").sum() == 8
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_node_scale_ups"] == 8
    bad = dict(data)
    bad["cluster"] = {
        **data["cluster"],
        "node_pools": [{**data["cluster"]["node_pools"][0], "min_nodes": 50}],
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = subprocess.run(
        [str(exe), "run", "bad.yaml", "--out", "out2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "min_nodes (50) > max_nodes (48)" in proc.stderr
    assert not (tmp_path / "out2").exists()
