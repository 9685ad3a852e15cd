"""Requests through rollouts; determinism; common random numbers; scenario files; traces."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from serving_helpers import TRACES, scenario

import stormsim
from stormsim.schema.serving import TraceArrival
from stormsim.sim.serving.workload import load_trace

REPO = Path(__file__).resolve().parents[2]


def _one_replica(max_surge: int | None, seed: int = 3) -> dict:
    strategy: dict = {"type": "RollingUpdate"}
    if max_surge is not None:
        strategy.update(maxSurge=max_surge, maxUnavailable=0)
    return scenario(
        replicas=1,
        strategy=strategy,
        workload={
            "arrival": {"kind": "poisson", "rate_rps": 4},
            "prompt_tokens": {"kind": "uniform", "low": 100, "high": 1500},
            "output_tokens": {"kind": "uniform", "low": 10, "high": 150},
            "start_s": 30,
        },
        serving={"queue_timeout_s": 10},
        events=[{"at_s": 100, "kind": "set_image", "image": "vllm/vllm-openai:v2"}],
        until_s=260,
        seed=seed,
    )


def test_full_outage_hurts_requests_while_max_surge_keeps_attainment():
    outage = stormsim.run(_one_replica(None)).summary
    surge = stormsim.run(_one_replica(1)).summary
    assert outage["full_outage_s"] > 0
    assert outage["window_requests_failed"] > 0
    assert outage["request_availability_frac"] < 0.7
    assert surge["full_outage_s"] == 0
    assert surge["window_requests_failed"] == 0
    assert surge["request_availability_frac"] > 0.98
    assert surge["window_slo_attainment_frac"] > 0.98


def test_same_seed_identical_requests_frame():
    a = stormsim.run(_one_replica(1)).frames["requests"]
    b = stormsim.run(_one_replica(1)).frames["requests"]
    pd.testing.assert_frame_equal(a, b)


def test_changing_max_surge_leaves_arrivals_identical():
    cols = ["request", "arrived_at_s", "prompt_tokens", "output_tokens"]
    a = stormsim.run(_one_replica(None)).frames["requests"][cols]
    b = stormsim.run(_one_replica(1)).frames["requests"][cols]
    pd.testing.assert_frame_equal(a, b)


def test_retries_are_counted_and_rescue_requests_of_a_deleted_pod():
    data = _one_replica(None)
    data["serving"] = {"queue_timeout_s": 120, "retries": 2}
    data["timing"]["termination_grace_s"] = 0.5
    data["workload"]["output_tokens"] = {"kind": "constant", "value": 3000}
    s = stormsim.run(data).summary
    assert s["requests_retried"] > 0


@pytest.mark.parametrize(
    "name", ["serving-replica-poisson", "serving-pooled-diurnal", "serving-trace"]
)
def test_serving_scenarios_run(name, tmp_path):
    res = stormsim.run(REPO / "scenarios" / f"{name}.yaml", until_s=420)
    s = res.summary
    assert s["requests_arrived"] > 1000
    assert s["requests_arrived"] == (
        s["requests_completed"] + s["requests_failed"] + s["requests_in_flight"]
    )
    assert s["update_started_at_s"] is not None
    if name == "serving-pooled-diurnal":
        assert s["mixed_version_requests"] > 0
        assert s["requests_retried"] > 0
    if name == "serving-trace":
        out = res.save(tmp_path / "out")
        assert (out / "latency.png").exists() and (out / "requests.parquet").exists()
        assert set(res.frames["request_series"].columns) >= {"t_s", "slo_attainment_frac"}


@pytest.mark.parametrize(
    ("file", "count"),
    [
        ("azure_conv_2023.csv", 19_366),
        ("azure_code_2023.csv", 8_819),
        ("mooncake_conversation.jsonl", 12_031),
    ],
)
def test_real_traces_replay_unmodified(file, count):
    path = TRACES / file
    if not path.exists():
        pytest.skip(f"{path} absent")
    t, p, o = load_trace(TraceArrival(kind="trace", path=str(path)))
    assert len(t) == len(p) == len(o) == count
    assert t[0] == 0.0 and (t[1:] >= t[:-1]).all()
    t2, _, _ = load_trace(
        TraceArrival(kind="trace", path=str(path), time_scale=2.0, rate_multiplier=4.0)
    )
    assert abs(t2[-1] - t[-1] / 2.0) < 1e-6


def test_real_trace_through_the_fleet():
    path = TRACES / "azure_code_2023.csv"
    if not path.exists():
        pytest.skip(f"{path} absent")
    data = scenario(
        workload={
            "arrival": {"kind": "trace", "path": str(path), "offset_s": 40, "max_requests": 600}
        },
        until_s=400,
    )
    s = stormsim.run(data).summary
    assert s["requests_arrived"] == 600
    assert s["requests_completed"] > 550
