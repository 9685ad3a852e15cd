"""Scenarios and a constant-input run for the PodAutoscaler world tests.

``run_constant`` drives a whole simulation (StormService, RoleSet and pod controllers,
scheduler, kubelet and the PodAutoscaler controller) while every listening pod the
autoscaler selects reports ``total / n`` (``n``: the listening pods it selects), the
assumption of the hand-worked traces W1-W9."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from stormsim.control.objects import Pod
from stormsim.metrics.frames import autoscaling_frame
from stormsim.schema.scenario import Scenario
from stormsim.sim.autoscaling import listening
from stormsim.sim.world import World

FAST_TIMING: dict[str, Any] = {
    "scheduling_s": 0.5,
    "image_pull_s": 0.0,
    "model_load_s": 1.0,
    "engine_init_s": 0.0,
    "readiness_probe_s": 0.0,
    "router_registration_s": 0.0,
    "termination_grace_s": 1.0,
    "reconcile_latency_s": 0.0,
}


def service(replicas: int, roles: dict[str, int] | None = None, **spec: Any) -> dict[str, Any]:
    roles = roles or {"worker": 1}
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": "svc"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "svc"}},
            **spec,
            "template": {
                "metadata": {"labels": {"app": "svc"}},
                "spec": {
                    "roles": [
                        {
                            "name": r,
                            "replicas": n,
                            "template": {"spec": {"containers": [{"name": r, "image": "vllm:1"}]}},
                        }
                        for r, n in roles.items()
                    ]
                },
            },
        },
    }


def autoscaler(
    strategy: str,
    target: str,
    lo: int,
    hi: int,
    metric: str = "gpu_cache_usage_perc",
    role: str | None = None,
    annotations: dict[str, str] | None = None,
    name: str = "pa",
    source: str = "pod",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": "orchestration.aibrix.ai/v1alpha1",
            "kind": "StormService",
            "name": "svc",
        },
        "minReplicas": lo,
        "maxReplicas": hi,
        "scalingStrategy": strategy,
        "metricsSources": [
            {"metricSourceType": source, "targetMetric": metric, "targetValue": target}
            | (
                {"protocolType": "http", "port": "8000", "path": "/metrics"}
                if source == "pod"
                else {}
            )
        ],
    }
    if role is not None:
        spec["subTargetSelector"] = {"roleName": role}
    md: dict[str, Any] = {"name": name}
    if annotations:
        md["annotations"] = annotations
    return {
        "apiVersion": "autoscaling.aibrix.ai/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": md,
        "spec": spec,
    }


def scenario(
    manifest: dict[str, Any],
    autoscalers: list[dict[str, Any]],
    *,
    until_s: float = 300.0,
    follow_up: bool = False,
    profile: str = "aibrix-e3e10f9e",
    nodes: int = 4,
    **extra: Any,
) -> Scenario:
    data: dict[str, Any] = {
        "name": "pa-world",
        "seed": 1,
        "until_s": until_s,
        "cluster": {"node_pools": [{"name": "n", "count": nodes, "gpus_per_node": 8}]},
        "timing": dict(FAST_TIMING),
        "service": {"manifest": manifest, "initial_state": "ready"},
        "controller": {"api_call_s": 0.0},
        "autoscalers": autoscalers,
        "autoscaling": {"profile": profile, "follow_up_reconciles": follow_up},
        **extra,
    }
    return Scenario.model_validate(data, strict=False)


Demand = Callable[[float], float]


def run_constant(
    sc: Scenario,
    demand: float | Demand,
    *,
    selected: Callable[[Pod], bool] = lambda p: True,
    value: Callable[[Pod, float], float] | None = None,
) -> tuple[World, pd.DataFrame]:
    """Run ``sc`` with every listening selected pod reporting ``demand / n``."""
    world: World | None = None

    def pod_value(pod: Pod | None, key: str) -> float:
        assert world is not None
        now = world.env.now
        d = demand(now) if callable(demand) else demand
        if pod is None:  # an external (global) source: the whole demand
            return d
        if value is not None:
            return value(pod, d)
        n = sum(1 for p in world.store.pods.values() if listening(p) and selected(p))
        return d / n if n else 0.0

    world = World(sc, 1, pod_value=pod_value)
    world.run(sc.until_s)
    return world, autoscaling_frame(world.recorder)


def decisions(df: pd.DataFrame) -> list[tuple[float, int, int]]:
    """``(t, current, desired)`` of every reconcile (one row per reconcile: single source)."""
    return [(float(r.t_s), int(r.current), int(r.desired)) for r in df.itertuples()]
