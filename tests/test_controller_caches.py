"""Caches of the controllers in the world follow the objects they were derived from."""

from __future__ import annotations

from typing import Any

import stormsim

TIMING = {
    "scheduling_s": 1.0,
    "image_pull_s": 0.0,
    "model_load_s": 10.0,
    "engine_init_s": 0.0,
    "readiness_probe_s": 0.0,
    "router_registration_s": 0.0,
    "termination_grace_s": 5.0,
    "reconcile_latency_s": 0.1,
}


def _manifest(labels: dict[str, str]) -> dict[str, Any]:
    c = {"name": "a", "image": "img:v1", "resources": {"limits": {"nvidia.com/gpu": 1}}}
    role = {"name": "a", "replicas": 1, "template": {"spec": {"containers": [c]}}}
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": "ss"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"updateStrategy": "Parallel", "roles": [role]},
            },
        },
    }


def test_a_new_selector_is_matched_afresh() -> None:
    """The StormService controller keeps the selector's JSON (its selection cache key) while
    the spec keeps the same selector: an ``apply`` with another selector (and labels) no
    longer selects the old RoleSets, so the controller creates two new ones and leaves the old
    ones running (orphans), as AIBrix does. A stale key would keep selecting the old ones and
    roll them over instead."""
    sc = stormsim.load_scenario(
        {
            "name": "t",
            "seed": 1,
            "until_s": 300,
            "cluster": {"node_pools": [{"name": "p", "count": 1, "gpus_per_node": 8}]},
            "timing": TIMING,
            "service": {"manifest": _manifest({"app": "x"})},
            "events": [{"at_s": 100, "kind": "apply", "manifest": _manifest({"app": "y"})}],
        }
    )
    rs = stormsim.run(sc).frames["rolesets"]
    assert len(rs) == 4
    assert rs["deleted_at_s"].isna().all()
    assert list(rs["created_at_s"].round(1)) == [0.1, 0.1, 100.1, 100.1]
    assert rs["revision"].nunique() == 2
