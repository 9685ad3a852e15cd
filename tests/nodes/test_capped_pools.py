"""The warning about pods held Pending by autoscaled node pools at their ``max_nodes``, in whole
runs. One RoleSet of 1P1D (4-GPU pods) fills one 8-GPU node; nodes are Ready 100 s after
creation and GPUs allocatable 20 s later (tests/nodes/node_helpers.py); the cluster-autoscaler
scans every 10 s and gives a node up after 900 s (``max_node_provision_time_s``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from node_helpers import node_scenario

import stormsim


def pa(lo: int, hi: int) -> dict[str, Any]:
    """A KPA whose minReplicas is above the fleet of 1: its first reconcile (0.1 s) writes
    ``lo`` (``current replicas below minimum``), and the target 0.5 keeps it there."""
    return {
        "apiVersion": "autoscaling.aibrix.ai/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": {"name": "pa"},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "orchestration.aibrix.ai/v1alpha1",
                "kind": "StormService",
                "name": "llm",
            },
            "minReplicas": lo,
            "maxReplicas": hi,
            "scalingStrategy": "KPA",
            "metricsSources": [
                {
                    "metricSourceType": "pod",
                    "protocolType": "http",
                    "port": "8000",
                    "path": "/metrics",
                    "targetMetric": "gpu_cache_usage_perc",
                    "targetValue": "0.5",
                }
            ],
        },
    }


def run(data: dict[str, Any]) -> stormsim.RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stormsim.StormsimWarning)
        return stormsim.run(stormsim.load_scenario(data))


def run_at(data: dict[str, Any], base: Path) -> stormsim.RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stormsim.StormsimWarning)
        return stormsim.run(stormsim.load_scenario(data, base))


def capped(res: stormsim.RunResult) -> list[str]:
    return [w for w in res.summary["warnings"] if "at max_nodes, every node up" in w]


def test_a_podautoscaler_scale_out_capped_by_max_nodes_warns() -> None:
    """The KPA asks for 4 RoleSets at 0.1 s; the pool grows to its max_nodes 2 (the new node
    created at the 10 s scan, GPUs at 130 s): 2 RoleSets (4 pods) stay Pending to the end,
    1,500 s, blocked from 130 s: 1,370 s."""
    res = run(node_scenario(max_nodes=2, until_s=1500, autoscalers=[pa(4, 6)]))
    assert res.summary["pods_unscheduled_at_end"] == 4
    assert capped(res) == [
        "node pool gpu (max_nodes 2) was at max_nodes, every node up, while 4 pods of 4 GPUs "
        "(created from t=0.7 s) stayed Pending (unschedulable), for up to 1,370 s; 4 still "
        "Pending at the end of the run: the node autoscaler could not add nodes for them; "
        "PodAutoscaler pa had raised the replicas to 4 at t=0.1 s (minReplicas 4, "
        "maxReplicas 6). To place them, raise max_nodes, or lower the PodAutoscaler's "
        "minReplicas (counted: pods held so longer than max_node_provision_time_s, 900 s, or "
        "still at the end of the run)"
    ]


def test_no_warning_when_max_nodes_suffices() -> None:
    """max_nodes 4: the pool is at max_nodes from the 10 s scan, but with 3 nodes booting; the
    pods wait for them (up to 129.4 s) and are all placed: no warning."""
    res = run(node_scenario(max_nodes=4, until_s=1500, autoscalers=[pa(4, 6)]))
    assert res.summary["pods_unscheduled_at_end"] == 0
    assert res.summary["pods_pending_max_s"] == pytest.approx(129.4)
    assert capped(res) == []


def test_no_warning_without_a_node_autoscaler() -> None:
    """A fixed pool of 2 nodes: the same 4 pods stay Pending, but no node autoscaler could
    have helped, so nothing new is said."""
    data = node_scenario(max_nodes=2, until_s=1500, autoscalers=[pa(4, 6)])
    data["cluster"] = {"node_pools": [{"name": "gpu", "count": 2, "gpus_per_node": 8}]}
    res = run(data)
    assert res.summary["pods_unscheduled_at_end"] == 4
    assert capped(res) == []


def test_blocked_at_the_end_counts_after_one_scan() -> None:
    """Until 300 s: the pods are blocked 170 s (< 900 s) but still Pending at the end."""
    res = run(node_scenario(max_nodes=2, until_s=300, autoscalers=[pa(4, 6)]))
    (w,) = capped(res)
    assert "4 pods of 4 GPUs" in w and "for up to 170 s; 4 still Pending" in w


@pytest.mark.parametrize(("back_s", "warned"), [(1200.0, True), (600.0, False)])
def test_a_scale_event_blocked_longer_than_the_provision_time(back_s: float, warned: bool) -> None:
    """A ``scale`` to 4 at 5 s, back to 2 at ``back_s``: the 4 extra pods are blocked from 130 s
    until they are deleted, 1,070 s (> 900 s: warned, none left at the end, no PodAutoscaler
    to name) or 470 s (not warned)."""
    events = [
        {"at_s": 5, "kind": "scale", "replicas": 4},
        {"at_s": back_s, "kind": "scale", "replicas": 2},
    ]
    res = run(node_scenario(max_nodes=2, until_s=1500, events=events))
    assert res.summary["pods_unscheduled_at_end"] == 0
    if not warned:
        assert capped(res) == []
        return
    (w,) = capped(res)
    assert "while 4 pods of 4 GPUs (created from t=5.6 s)" in w
    assert "for up to 1,070 s: the node autoscaler" in w
    assert "PodAutoscaler" not in w.split("To place them")[0]
    assert "raise max_nodes, or ask for fewer replicas" in w


def test_karpenter_pool_at_its_limit_warns() -> None:
    """The same capped scale-out under Karpenter (max_nodes plays the NodePool limits)."""
    data = node_scenario({"kind": "karpenter"}, max_nodes=2, until_s=1500, autoscalers=[pa(4, 6)])
    (w,) = capped(run(data))
    assert w.startswith("node pool gpu (max_nodes 2) was at max_nodes, every node up, while 4 pods")
    assert "4 still Pending at the end of the run" in w


def test_a_rollout_of_32_rolesets_on_a_capped_pool_says_so() -> None:
    """The shipped 32 x 1P1D 70B TP4 rollout (maxSurge 25%: 8 surge RoleSets) with max_nodes 34
    instead of 48: the surge waits for room for most of the run, the rollout is still in
    progress at 5,400 s (not stalled: RoleSets keep being updated), and the pools warning
    says so, with the surge advice."""
    path = Path(__file__).resolve().parents[2] / "scenarios" / "rollout-node-autoscaling.yaml"
    data = yaml.safe_load(path.read_text())
    data["cluster"]["node_pools"][0]["max_nodes"] = 34
    data.pop("sweep", None)
    res = run_at(data, path.parent)
    assert res.summary["update_completed"] is False
    (w,) = capped(res)
    assert w.startswith("node pool h100 (max_nodes 34) was at max_nodes, every node up, while ")
    assert "created during a rollout, whose surge waits for room" in w
    assert "To place them, raise max_nodes, or lower maxSurge (counted:" in w
    assert not any(" stalled: " in x for x in res.summary["warnings"])
