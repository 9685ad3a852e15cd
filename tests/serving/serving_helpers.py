"""Builders of small serving scenarios for the data-plane tests (plain data, as in YAML)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import simpy  # noqa: F401  (the world needs it; imported here to fail early if missing)

from stormsim.schema.loader import load_scenario
from stormsim.schema.scenario import Scenario
from stormsim.sim.world import World

TRACES = Path(__file__).resolve().parents[3] / "shared" / "traces"

TIMING: dict[str, Any] = {
    "scheduling_s": 0.0,
    "image_pull_s": 10.0,
    "model_load_s": 5.0,
    "engine_init_s": 5.0,
    "readiness_probe_s": 0.0,
    "router_registration_s": 1.0,
    "termination_grace_s": 5.0,
    "reconcile_latency_s": 0.1,
}


def role(name: str, replicas: int = 1, gpus: int = 1) -> dict[str, Any]:
    return {
        "name": name,
        "replicas": replicas,
        "template": {
            "metadata": {"labels": {"model.aibrix.ai/name": "llama-3.1-8b"}},
            "spec": {
                "containers": [
                    {
                        "name": name,
                        "image": "vllm/vllm-openai:v0.10.2",
                        "resources": {"limits": {"nvidia.com/gpu": gpus}},
                    }
                ]
            },
        },
    }


def scenario(
    *,
    replicas: int = 1,
    roles: list[dict[str, Any]] | None = None,
    strategy: dict[str, Any] | None = None,
    workload: dict[str, Any] | None = None,
    serving: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    pools: list[dict[str, Any]] | None = None,
    until_s: float = 300.0,
    seed: int = 1,
    timing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    roles = roles if roles is not None else [role("prefill"), role("decode")]
    return {
        "name": "serving-test",
        "seed": seed,
        "until_s": until_s,
        "cluster": {
            "node_pools": pools
            or [{"name": "h100", "count": 2, "gpus_per_node": 8, "gpu_type": "H100-80GB"}]
        },
        "timing": copy.deepcopy(timing or TIMING),
        "service": {
            "manifest": {
                "apiVersion": "orchestration.aibrix.ai/v1alpha1",
                "kind": "StormService",
                "metadata": {"name": "llm"},
                "spec": {
                    "replicas": replicas,
                    "updateStrategy": strategy or {"type": "RollingUpdate"},
                    "selector": {"matchLabels": {"app": "llm"}},
                    "template": {
                        "metadata": {"labels": {"app": "llm"}},
                        "spec": {"roles": roles},
                    },
                },
            }
        },
        "events": events or [],
        "workload": workload
        or {
            "arrival": {"kind": "poisson", "rate_rps": 5},
            "prompt_tokens": {"kind": "uniform", "low": 100, "high": 2000},
            "output_tokens": {"kind": "uniform", "low": 10, "high": 200},
            "start_s": 30,
        },
        "serving": serving or {},
    }


def load(data: dict[str, Any]) -> Scenario:
    return load_scenario(data)


def run_world(data: dict[str, Any]) -> World:
    """Run a scenario in a bare World (to inspect the engines) and finish the data plane."""
    sc = load(data)
    w = World(sc, sc.seed if sc.seed is not None else 0)
    end = w.run(sc.until_s)
    assert w.serving is not None
    w.serving.finish(end)
    return w
