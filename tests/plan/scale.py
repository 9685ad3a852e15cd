"""Production-sized planning cases (replica mode, 1P1D RoleSets) for the plan tests and the
planner benchmark: small horizons and few seeds, real fleet sizes and start-up times."""

from __future__ import annotations

from typing import Any

FAST_TIMING: dict[str, Any] = {
    "scheduling_s": 0.5,
    "image_pull_s": 10,
    "model_load_s": {"kind": "lognormal", "median_s": 10, "p90_s": 15},
    "engine_init_s": 5,
    "readiness_probe_s": {"kind": "uniform", "low_s": 0, "high_s": 5},
    "router_registration_s": 1,
    "termination_grace_s": 10,
}
"""An 8B-class start-up: seconds."""

SLOW_TIMING: dict[str, Any] = {
    "scheduling_s": 0.5,
    "image_pull_s": {"kind": "lognormal", "median_s": 60, "p90_s": 90},
    "model_load_s": {"kind": "lognormal", "median_s": 180, "p90_s": 240},
    "engine_init_s": 60,
    "readiness_probe_s": {"kind": "uniform", "low_s": 0, "high_s": 10},
    "router_registration_s": 2,
    "termination_grace_s": 30,
}
"""A 70B-class start-up: about 5 minutes from creation to Ready."""


def replica_plan_data(
    *,
    model: str,
    tp: int,
    rate_rps: float,
    ttft_s: float,
    tpot_s: float,
    timing: dict[str, Any],
    rollout: dict[str, Any] | None,
    seeds: list[int] | None = None,
    duration_s: float = 40.0,
    max_pods: int = 128,
    name: str = "plan-scale",
) -> dict[str, Any]:
    """A scenario whose plan searches RoleSets of 1 prefill + 1 decode pod (TP ``tp``) of
    ``model`` on H100 at ``rate_rps`` (Poisson)."""
    gpu = {"nvidia.com/gpu": tp}
    container = {
        "name": "engine",
        "image": "vllm/vllm-openai:v0.10.2",
        "resources": {"limits": gpu},
    }
    role = {"replicas": 1, "template": {"spec": {"containers": [container]}}}
    return {
        "name": name,
        "cluster": {"node_pools": [{"name": "h100", "count": 1, "gpus_per_node": 8}]},
        "timing": timing,
        "service": {
            "manifest": {
                "apiVersion": "orchestration.aibrix.ai/v1alpha1",
                "kind": "StormService",
                "metadata": {"name": name},
                "spec": {
                    "replicas": 1,
                    "updateStrategy": {"type": "RollingUpdate", "maxSurge": 1},
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "roles": [{"name": "prefill", **role}, {"name": "decode", **role}]
                        },
                    },
                },
            }
        },
        "workload": {
            "arrival": {"kind": "poisson", "rate_rps": rate_rps},
            "prompt_tokens": {"kind": "lognormal", "median": 1024, "p90": 3072, "max": 8192},
            "output_tokens": {"kind": "lognormal", "median": 128, "p90": 384, "max": 1024},
        },
        # the rates and expected counts were sized on the roofline; these tests are about
        # planning at production size, not about the latency model
        "serving": {"model": model, "router": "least_request", "latency_model": "roofline"},
        "plan": {
            "load": {"rate_rps": rate_rps},
            "slo": {"ttft_s": ttft_s, "tpot_s": tpot_s, "attainment_frac": 0.95},
            "gpus": [{"type": "H100-80GB", "price_per_hour": 3.0, "gpus_per_node": 8}],
            "prefill_tp": [tp],
            "decode_tp": [tp],
            "mode": "replica",
            "shapes": [[1, 1]],
            "rollout": rollout,
            "seeds": seeds or [1, 2],
            "settle_s": 5,
            "duration_s": duration_s,
            "drain_s": 20,
            "max_pods": max_pods,
            "goodput": False,
            "sensitivity": False,
        },
    }
