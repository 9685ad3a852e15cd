"""Scenario builders for the node autoscaling tests: one RoleSet of 1P1D with 4-GPU pods fills
one 8-GPU node, so every surge or scale-out RoleSet needs a new node."""

from __future__ import annotations

import copy
from typing import Any

from conftest import CONST_TIMING, make_manifest

ROLES = (("prefill", 1, 4), ("decode", 1, 4))


def node_scenario(
    autoscaler: dict[str, Any] | None = None,
    *,
    replicas: int = 1,
    count: int = 1,
    min_nodes: int = 1,
    max_nodes: int = 4,
    provisioning: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A scenario (plain data, inline manifest) on one autoscaled pool of 8-GPU nodes."""
    pool: dict[str, Any] = {
        "name": "gpu",
        "count": count,
        "gpus_per_node": 8,
        "min_nodes": min_nodes,
        "max_nodes": max_nodes,
        "provisioning": provisioning or {"node_ready_s": 100.0, "gpus_ready_s": 20.0},
    }
    data: dict[str, Any] = {
        "name": "nodes",
        "seed": 1,
        "cluster": {
            "node_pools": [pool],
            "node_autoscaler": autoscaler or {"kind": "cluster-autoscaler"},
        },
        "timing": copy.deepcopy(CONST_TIMING),
        "service": {
            "manifest": make_manifest(replicas=replicas, roles=ROLES),
            "initial_state": "ready",
        },
        "events": events if events is not None else [],
        "controller": {"api_call_s": 0.0},
    }
    data.update(extra)
    return data
