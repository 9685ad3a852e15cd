"""Helpers of the analysis tests: a small, fast scenario (3 RoleSets of 1P1D, random
start-up durations, an image change at 100 s) with a small sweep grid."""

from __future__ import annotations

import copy
from typing import Any

import stormsim

GRID = {
    "service.manifest.spec.updateStrategy.maxSurge": [0, 1, "50%"],
    "service.manifest.spec.updateStrategy.maxUnavailable": [0, 1],
}
SURGE = "service.manifest.spec.updateStrategy.maxSurge"
UNAV = "service.manifest.spec.updateStrategy.maxUnavailable"


def small_scenario(**extra: Any) -> dict[str, Any]:
    manifest = str(stormsim.default_scenario_path().parent / "manifests" / "llm-1p1d.yaml")
    data: dict[str, Any] = {
        "name": "small",
        "seed": 3,
        "until_s": 600,
        "cluster": {"node_pools": [{"name": "h100", "count": 1, "gpus_per_node": 8}]},
        "timing": {
            "image_pull_s": {"kind": "lognormal", "median_s": 20, "p90_s": 40},
            "model_load_s": {"kind": "uniform", "low_s": 5, "high_s": 15},
            "engine_init_s": 5,
            "readiness_probe_s": 1,
        },
        "service": {"manifest": manifest},
        "events": [{"at_s": 100, "kind": "set_image", "image": "vllm/vllm-openai:v0.11.0"}],
        "sweep": {"grid": copy.deepcopy(GRID), "seeds": 2},
    }
    data.update(extra)
    return data
