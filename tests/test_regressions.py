"""Regressions found by review (each once produced a wrong result)."""

from __future__ import annotations

from typing import Any

import stormsim
from stormsim.sim.world import World

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


def _role(name: str, replicas: int, gpus: int, **kw: Any) -> dict[str, Any]:
    c = {"name": name, "image": "img:v1", "resources": {"limits": {"nvidia.com/gpu": gpus}}}
    return {"name": name, "replicas": replicas, "template": {"spec": {"containers": [c]}}, **kw}


def _manifest(roles: list[dict[str, Any]], replicas: int = 1, **spec: Any) -> dict[str, Any]:
    tmpl = {"updateStrategy": "Parallel", "roles": roles}
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": "ss"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": tmpl},
            **spec,
        },
    }


def _scenario(manifest: dict[str, Any], pools: list[dict[str, Any]], **kw: Any):
    data = {
        "name": "t",
        "seed": 1,
        "cluster": {"node_pools": pools},
        "timing": dict(TIMING, **kw.pop("timing", {})),
        "service": {"manifest": manifest},
        **kw,
    }
    return stormsim.load_scenario(data)


def test_pod_patched_in_place_before_binding_completes() -> None:
    # a pod patched in place while Pending (its node was lost) used to keep its in-place
    # target forever once bound, consuming the budget: the rollout never finished
    m = _manifest(
        [_role("a", 4, 4, updateStrategy={"type": "InPlaceIfPossible", "maxUnavailable": 1})],
        updateStrategy={"type": "InPlaceUpdate"},
    )
    sc = _scenario(
        m,
        [{"name": "p", "count": 2, "gpus_per_node": 8}],
        events=[
            {"at_s": 20, "kind": "fail_node", "node": "p-1", "down_s": 200},
            {"at_s": 100, "kind": "set_image", "image": "img:v2"},
        ],
    )
    res = stormsim.run(sc)
    assert res.summary["update_completed"] is True
    pods = res.frames["pods"]
    live = pods[pods["gone_at_s"].isna()]
    assert len(live) == 4 and live["template_hash"].nunique() == 1


def test_podset_pods_use_the_podsets_own_template() -> None:
    m = _manifest(
        [_role("w", 1, 4, podGroupSize=2, updateStrategy={"maxSurge": 1, "maxUnavailable": 0})],
        updateStrategy={"type": "InPlaceUpdate"},
    )
    sc = _scenario(
        m,
        [{"name": "p", "count": 4, "gpus_per_node": 8}],
        timing={"image_pull_s": 100.0},
        events=[
            {"at_s": 200, "kind": "set_image", "image": "img:v2"},
            {"at_s": 210, "kind": "fail_node", "node": "p-0"},
        ],
    )
    w = World(sc, 1)
    w.run(210.15)
    ps = {p.name: p for p in w.store.podsets.values()}
    for pod in w.store.pods.values():
        assert pod.podset is not None
        want = ps[pod.podset].template
        assert want is not None and pod.images == want.images()
        assert pod.template_hash == ps[pod.podset].template_hash


def test_rollout_surge_ignores_pods_still_terminating_at_settle() -> None:
    m = _manifest(
        [_role("a", 1, 8, updateStrategy={"maxSurge": 1, "maxUnavailable": 0})],
        updateStrategy={"type": "InPlaceUpdate"},
    )
    sc = _scenario(
        m,
        [{"name": "p", "count": 4, "gpus_per_node": 8}],
        timing={"termination_grace_s": 30.0},
        events=[{"at_s": 100, "kind": "set_image", "image": "img:v2"}],
    )
    s = stormsim.run(sc).summary
    assert s["gpus_allocated_before_update"] == 8
    assert s["gpus_allocated_after_update"] == 8
    assert s["surge_gpus_peak"] == 8
    assert s["update_transient_surge_gpus_peak"] == 8


def test_gang_with_required_topology_tries_other_domains() -> None:
    # the greedy pass put the first member in zone A where the 8-GPU member no longer fit;
    # zone B was free but never tried, so the second RoleSet stayed Pending for ever
    m = _manifest([_role("p", 2, 4), _role("d", 1, 8)], replicas=2)
    spec = m["spec"]["template"]["spec"]
    spec["schedulingStrategy"] = {"coschedulingSchedulingStrategy": {"minMember": 3}}
    spec["topologyPolicy"] = {"scope": "RoleSet", "mode": "Required", "key": "zone"}
    sc = _scenario(
        m,
        [
            {"name": "a", "count": 3, "gpus_per_node": 8, "labels": {"zone": "A"}},
            {"name": "b", "count": 3, "gpus_per_node": 8, "labels": {"zone": "B"}},
        ],
    )
    res = stormsim.run(sc)
    pods = res.frames["pods"]
    assert pods["scheduled_at_s"].notna().all()
    zones = pods.assign(zone=pods["node"].str[0]).groupby("roleset")["zone"].nunique()
    assert (zones == 1).all()  # each RoleSet in one zone
    assert res.frames["status"]["condition"].iloc[-1] == "Ready"


def test_sequential_moves_on_in_the_pass_that_completes_an_in_place_update() -> None:
    ip = {"type": "InPlaceIfPossible", "maxUnavailable": 1}
    m = _manifest(
        [_role("a", 1, 1, updateStrategy=ip, upgradeOrder=1), _role("b", 1, 1, updateStrategy=ip)],
        updateStrategy={"type": "InPlaceUpdate"},
    )
    m["spec"]["template"]["spec"]["updateStrategy"] = "Sequential"
    sc = _scenario(
        m,
        [{"name": "p", "count": 1, "gpus_per_node": 8}],
        events=[{"at_s": 50, "kind": "set_image", "image": "img:v2"}],
    )
    ev = stormsim.run(sc).frames["events"]
    done_a = ev[(ev["verb"] == "update") & ev["name"].str.contains("-a-")]["t_s"].min()
    patch_b = ev[(ev["verb"] == "patch") & ev["name"].str.contains("-b-")]["t_s"].min()
    assert patch_b == done_a  # same RoleSet pass: AllReady(a) sees the promoted pod
