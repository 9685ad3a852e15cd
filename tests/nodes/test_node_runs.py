"""Node autoscaling in whole runs: exact timings with constant delays, scale-down rules,
Karpenter batching and consolidation, provisioning failures, determinism, outputs, and errors.

The scenario (tests/nodes/node_helpers.py): one RoleSet of 1P1D, 4-GPU pods, fills one 8-GPU node,
constant lifecycle durations (scheduling 1 s, image pull 2 s, load 3 s, init 1 s, probe 0 s,
grace 2 s, reconcile 0.1 s), node Ready 100 s after creation and GPUs allocatable 20 s later.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from node_helpers import node_scenario

import stormsim
from stormsim.errors import InputError

NEW_IMAGE = {"at_s": 5, "kind": "set_image", "image": "vllm/vllm-openai:v0.11.0"}


def run(data: dict[str, Any], seed: int | None = None) -> stormsim.RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stormsim.StormsimWarning)
        return stormsim.run(stormsim.load_scenario(data), seed=seed)


def node_row(res: stormsim.RunResult, name: str) -> dict[str, Any]:
    nodes = res.frames["nodes"]
    rows = nodes[nodes["node"] == name].to_dict("records")
    assert len(rows) == 1, name
    return {str(k): v for k, v in rows[0].items()}


def node_events(res: stormsim.RunResult) -> list[tuple[float, str, str]]:
    ev = res.frames["events"]
    ev = ev[ev["kind"] == "Node"]
    return [
        (round(float(t), 6), v, n)
        for t, v, n in zip(ev["t_s"], ev["verb"], ev["name"], strict=True)
    ]


def test_surge_waits_for_a_new_node_exact_timings() -> None:
    """Surge pods Pending at 6.3 s -> node created at the next scan (10 s) -> Ready at 110 s ->
    GPUs at 130 s -> pods bound at 130 s, pull the new image on the empty node (2 s), Ready at
    136 s; the old node, empty from 138.3 s, is unneeded from the 140 s scan and removed at
    740 s (unneeded time 600 s; the delay after the 10 s scale-up ended at 610 s)."""
    res = run(node_scenario(events=[NEW_IMAGE], until_s=1200))
    new = node_row(res, "gpu-1")
    assert (new["origin"], new["created_at_s"], new["ready_at_s"], new["gpus_ready_at_s"]) == (
        "node-autoscaler",
        10.0,
        110.0,
        130.0,
    )
    pods = res.frames["pods"]
    surge = pods[pods["node"] == "gpu-1"]
    assert len(surge) == 2
    assert surge["created_at_s"].tolist() == pytest.approx([5.3, 5.3])
    assert surge["scheduled_at_s"].tolist() == [130.0, 130.0]
    assert surge["ready_at_s"].tolist() == [136.0, 136.0]
    ev = res.frames["events"]
    pulled = ev[(ev["verb"] == "pulled")]
    assert pulled["detail"].tolist() == ["2.000s on gpu-1", "2.000s on gpu-1"]
    unsched = ev[ev["verb"] == "unschedulable"]["t_s"].tolist()
    assert unsched == pytest.approx([6.3, 6.3])
    old = node_row(res, "gpu-0")
    assert (old["deleted_at_s"], old["gone_at_s"]) == (740.0, 740.0)
    assert node_events(res) == [
        (10.0, "create", "gpu-1"),
        (130.0, "ready", "gpu-1"),
        (740.0, "delete", "gpu-0"),
    ]
    s = res.summary
    assert s["update_completed"] is True
    assert (s["n_node_scale_ups"], s["n_node_scale_downs"], s["nodes_peak"]) == (1, 1, 2)
    assert s["node_provision_mean_s"] == 120.0
    assert (s["node_wait_pods"], s["node_wait_mean_s"], s["node_wait_max_s"]) == (
        2,
        pytest.approx(124.7),
        pytest.approx(124.7),
    )
    # node-seconds: gpu-0 0..740, gpu-1 10..1200; GPUs allocated: 8 on 0..138.3, 8 on 130..1200
    assert s["node_hours"] == pytest.approx((740 + 1190) / 3600)
    assert s["node_gpu_hours"] == pytest.approx(8 * 1930 / 3600)
    assert s["node_idle_gpu_hours"] == pytest.approx((8 * 1930 - 8 * 138.3 - 8 * 1070) / 3600)
    # the time series counts nodes by pool and state
    ts = res.frames["timeseries"]

    def at(t: float, col: str) -> int:
        return int(ts[ts["t_s"] <= t][col].iloc[-1])

    assert at(9.9, "pool.gpu.nodes_launching") == 0
    assert at(10.0, "pool.gpu.nodes_launching") == 1
    assert at(110.0, "pool.gpu.nodes_initializing") == 1
    assert at(130.0, "pool.gpu.nodes_ready") == 2
    assert at(130.0, "gpus_capacity") == 16
    assert at(740.0, "pool.gpu.nodes_ready") == 1
    assert at(740.0, "gpus_capacity") == 8


def test_scale_down_not_within_the_delay_after_add() -> None:
    ca = {"kind": "cluster-autoscaler", "scale_down_delay_after_add_s": 1000}
    res = run(node_scenario(ca, events=[NEW_IMAGE], until_s=1200))
    assert node_row(res, "gpu-0")["deleted_at_s"] == 1010.0  # first scan >= 10 + 1000
    ca = {"kind": "cluster-autoscaler", "scale_down_unneeded_time_s": 0}
    res = run(node_scenario(ca, events=[NEW_IMAGE], until_s=1200))
    assert node_row(res, "gpu-0")["deleted_at_s"] == 610.0  # the delay after add only


def test_min_nodes_keeps_a_node_and_max_nodes_caps_the_scale_out() -> None:
    # min 2: the emptied old node stays
    res = run(node_scenario(events=[NEW_IMAGE], min_nodes=1, count=1, until_s=1200))
    assert res.summary["n_node_scale_downs"] == 1
    res = run(node_scenario(events=[NEW_IMAGE], min_nodes=2, count=2, until_s=1200))
    assert res.summary["n_node_scale_downs"] == 0 and res.summary["n_node_scale_ups"] == 0
    # scale out to 4 RoleSets with max 3 nodes: one RoleSet stays Pending
    res = run(
        node_scenario(
            events=[{"at_s": 5, "kind": "scale", "replicas": 4}], max_nodes=3, until_s=600
        )
    )
    s = res.summary
    assert s["n_node_scale_ups"] == 2 and s["nodes_peak"] == 3
    assert s["pods_unscheduled_at_end"] == 2
    ts = res.frames["timeseries"]
    cols = [c for c in ts.columns if c.startswith("pool.gpu.nodes_")]
    assert int(ts[cols].sum(axis=1).max()) == 3


def test_karpenter_batches_pending_pods() -> None:
    events = [
        {"at_s": 5, "kind": "scale", "replicas": 2},
        {"at_s": 8, "kind": "scale", "replicas": 3},
    ]
    k = {"kind": "karpenter", "batch_idle_s": 1.0, "batch_max_s": 10.0}
    res = run(node_scenario(k, events=events, until_s=300))
    # pods unschedulable at 6.3 s and 9.3 s: two batches, each closed 1 s idle later
    assert [e for e in node_events(res) if e[1] == "create"] == [
        (7.3, "create", "gpu-1"),
        (10.3, "create", "gpu-2"),
    ]
    res = run(node_scenario({**k, "batch_idle_s": 5.0}, events=events, until_s=300))
    # 5 s idle: the second pods (9.3 s) extend the batch to 14.3 s: one launch of 2 nodes
    assert [e for e in node_events(res) if e[1] == "create"] == [
        (14.3, "create", "gpu-1"),
        (14.3, "create", "gpu-2"),
    ]
    res = run(
        node_scenario({**k, "batch_idle_s": 5.0, "batch_max_s": 6.0}, events=events, until_s=300)
    )
    # the batch opened at 6.3 s closes at 12.3 s at the latest
    assert [e[0] for e in node_events(res) if e[1] == "create"] == [12.3, 12.3]


def test_karpenter_consolidates_empty_nodes_after_consolidate_after() -> None:
    events = [
        {"at_s": 5, "kind": "scale", "replicas": 3},
        {"at_s": 400, "kind": "scale", "replicas": 1},
    ]
    k = {
        "kind": "karpenter",
        "consolidation_policy": "WhenEmpty",
        "consolidate_after_s": 60.0,
    }
    res = run(node_scenario(k, events=events, until_s=700))
    # two RoleSets' pods gone at 402.3 s; empty for 60 s at 462.3 s; polls every 10 s;
    # budget ceil(10% of 3) = 1 node at a time
    deletes = [e for e in node_events(res) if e[1] == "delete"]
    assert deletes == [(470.0, "delete", "gpu-0"), (480.0, "delete", "gpu-1")]
    assert res.summary["n_node_scale_downs"] == 2


def test_failed_provisioning_backs_off() -> None:
    ca = {"kind": "cluster-autoscaler", "max_node_provision_time_s": 50}
    res = run(node_scenario(ca, events=[NEW_IMAGE], until_s=500))
    ev = [e for e in node_events(res) if e[1] in ("create", "provision_failed")]
    # node Ready would take 100 s > 50 s: given up at 60 s, pool backs off 300 s, retried at 360 s
    assert ev == [
        (10.0, "create", "gpu-1"),
        (60.0, "provision_failed", "gpu-1"),
        (360.0, "create", "gpu-2"),
        (410.0, "provision_failed", "gpu-2"),
    ]
    assert res.summary["n_node_provision_failures"] == 2
    assert node_row(res, "gpu-1")["gone_at_s"] == 60.0


def test_one_failed_scale_up_is_one_back_off_step() -> None:
    """Two nodes asked for together fail together: the pool backs off once (300 s), then
    600 s after the next failed scale-up, 1200 s after the third; the run warns."""
    ca = {"kind": "cluster-autoscaler", "max_node_provision_time_s": 50}
    data = node_scenario(ca, events=[{"at_s": 5, "kind": "scale", "replicas": 3}], until_s=1100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stormsim.run(stormsim.load_scenario(data))
    ev = res.frames["events"]
    ev = ev[(ev["kind"] == "Node") & (ev["verb"] == "provision_failed")]
    rows = zip(ev["t_s"], ev["name"], ev["detail"], strict=True)
    got = [(float(t), n, d.split("; ")[1]) for t, n, d in rows]
    assert got == [
        (60.0, "gpu-1", "pool gpu backs off 300 s"),
        (60.0, "gpu-2", "pool gpu backs off 300 s"),
        (410.0, "gpu-3", "pool gpu backs off 600 s"),
        (410.0, "gpu-4", "pool gpu backs off 600 s"),
        (1060.0, "gpu-5", "pool gpu backs off 1200 s"),
        (1060.0, "gpu-6", "pool gpu backs off 1200 s"),
    ]
    created = [e for e in node_events(res) if e[1] == "create"]
    assert [e[0] for e in created] == [10.0, 10.0, 360.0, 360.0, 1010.0, 1010.0]
    assert res.summary["n_node_provision_failures"] == 6
    warning = (
        "6 new node(s) of pool gpu were not Ready within max_node_provision_time_s (50 s) and "
        "were given up (provision_failed, the first at t=60 s)"
    )
    assert [w for w in res.warnings if w.startswith(warning)] == [res.warnings[0]]
    assert res.warnings[0] in [str(w.message) for w in caught]
    assert res.summary["warnings"] == res.warnings


def test_karpenter_retries_after_a_failed_provisioning() -> None:
    k = {"kind": "karpenter", "max_node_provision_time_s": 50}
    res = run(node_scenario(k, events=[NEW_IMAGE], until_s=200))
    ev = [e for e in node_events(res) if e[1] in ("create", "provision_failed")]
    # pods unschedulable at 6.3 s, batch closed at 7.3 s; given up at 57.3 s: a new batch at
    # once (no back-off), closed 1 s later
    assert ev == [
        (7.3, "create", "gpu-1"),
        (57.3, "provision_failed", "gpu-1"),
        (58.3, "create", "gpu-2"),
        (108.3, "provision_failed", "gpu-2"),
        (109.3, "create", "gpu-3"),
        (159.3, "provision_failed", "gpu-3"),
        (160.3, "create", "gpu-4"),
    ]


def test_delays_are_deterministic_per_seed() -> None:
    prov = {
        "node_ready_s": {"kind": "lognormal", "median_s": 180, "p90_s": 360},
        "gpus_ready_s": {"kind": "uniform", "low_s": 30, "high_s": 180},
    }
    data = node_scenario(
        events=[{"at_s": 5, "kind": "scale", "replicas": 4}], provisioning=prov, until_s=900
    )
    a, b, c = run(data, seed=5), run(data, seed=5), run(data, seed=6)
    cols = ["node", "created_at_s", "ready_at_s", "gpus_ready_at_s"]
    assert a.frames["nodes"][cols].equals(b.frames["nodes"][cols])
    assert a.summary == b.summary
    assert not a.frames["nodes"]["ready_at_s"].equals(c.frames["nodes"]["ready_at_s"])
    new = a.frames["nodes"][a.frames["nodes"]["origin"] == "node-autoscaler"]
    assert len(new) == 3 and (new["gpus_ready_at_s"] > new["ready_at_s"]).all()


def test_fixed_pools_have_no_nodes_frame_and_no_node_kpis() -> None:
    data = node_scenario(events=[NEW_IMAGE], until_s=200)
    data["cluster"] = {"node_pools": [{"name": "gpu", "count": 2, "gpus_per_node": 8}]}
    res = run(data)
    assert "nodes" not in res.frames
    assert "node_hours" not in res.summary
    assert not [c for c in res.frames["timeseries"].columns if c.startswith("pool.")]


@pytest.mark.parametrize(
    ("pool", "autoscaler", "message"),
    [
        ({"count": 0}, None, "greater than or equal to 1"),
        ({"max_nodes": 3}, None, "there is no node_autoscaler"),
        (
            {"min_nodes": 3, "max_nodes": 2},
            {"kind": "cluster-autoscaler"},
            "min_nodes (3) > max_nodes (2)",
        ),
        ({"count": 5, "max_nodes": 4}, {"kind": "cluster-autoscaler"}, "count (5) must be within"),
        ({}, {"kind": "karpenter"}, "node_autoscaler needs a pool with min_nodes/max_nodes"),
        (
            {"max_nodes": 4},
            {"kind": "karpenter", "batch_idle_s": 20},
            "batch_max_s must be >= batch_idle_s",
        ),
        ({"max_nodes": 4}, {"kind": "cluster-autoscaler", "expander": "cheapest"}, "expander"),
        ({"provisioning": {"node_ready_s": 1}}, None, "provisioning needs an autoscaled pool"),
    ],
)
def test_bad_node_pools_are_rejected(
    pool: dict[str, Any], autoscaler: dict[str, Any] | None, message: str
) -> None:
    data = node_scenario()
    data["cluster"] = {"node_pools": [{"name": "gpu", "count": 1, "gpus_per_node": 8, **pool}]}
    if autoscaler is not None:
        data["cluster"]["node_autoscaler"] = autoscaler
    with pytest.raises(InputError) as e:
        stormsim.load_scenario(data)
    assert message in str(e.value)
    assert "cluster" in str(e.value)


@settings(max_examples=12, deadline=None)
@given(
    kind=st.sampled_from(["cluster-autoscaler", "karpenter"]),
    lo=st.integers(0, 2),
    extra=st.integers(0, 3),
    steps=st.lists(st.integers(0, 6), min_size=1, max_size=3),
)
def test_node_counts_stay_within_bounds(kind: str, lo: int, extra: int, steps: list[int]) -> None:
    """Whatever the scale events, the pool's nodes (not draining) stay within min..max, and a
    node is never removed before it was created nor bound to before its GPUs were ready."""
    hi = max(1, lo + extra)
    auto: dict[str, Any] = {"kind": kind}
    if kind == "cluster-autoscaler":
        auto.update(scale_down_unneeded_time_s=60, scale_down_delay_after_add_s=60)
    events = [{"at_s": 5 + 200 * i, "kind": "scale", "replicas": r} for i, r in enumerate(steps)]
    data = node_scenario(
        auto, replicas=lo, count=lo, min_nodes=lo, max_nodes=hi, events=events, until_s=900
    )
    res = run(data)
    ts = res.frames["timeseries"]
    cols = [c for c in ts.columns if c.startswith("pool.gpu.nodes_")]
    # a draining node no longer counts (the node group's target size drops at once)
    live = ts[[c for c in cols if not c.endswith("_draining")]].sum(axis=1)
    assert live.max() <= hi
    assert live.min() >= lo
    nodes = res.frames["nodes"]
    assert (nodes["deleted_at_s"].fillna(1e9) >= nodes["created_at_s"]).all()
    pods = res.frames["pods"].merge(nodes[["node", "gpus_ready_at_s"]], on="node")
    assert (pods["scheduled_at_s"] >= pods["gpus_ready_at_s"]).all()


def test_timeline_has_a_nodes_panel_only_with_a_node_autoscaler() -> None:
    import matplotlib.pyplot as plt

    from stormsim.report.timeline import plot_timeline

    res = run(node_scenario(events=[NEW_IMAGE], until_s=300))
    fig = plot_timeline(res)
    assert len(fig.axes) == 4 and fig.axes[3].get_ylabel() == "nodes"
    # stacked bottom-up: ready, initializing, launching, draining
    labels = [t.get_text() for t in fig.axes[3].get_legend().get_texts()]
    assert labels == ["ready", "initializing", "launching", "draining"]
    plt.close(fig)
    data = node_scenario(events=[NEW_IMAGE], until_s=300)
    data["cluster"] = {"node_pools": [{"name": "gpu", "count": 2, "gpus_per_node": 8}]}
    fig = plot_timeline(run(data))
    assert len(fig.axes) == 3
    plt.close(fig)
