"""Worked traces T1–T4 of spec §3.9 as whole-run assertions with constant durations.

Every pod becomes Ready exactly ``LOAD`` s after creation (scheduling, image pull, engine init,
readiness probe and reconcile latency all 0) and a deleted pod is gone ``GRACE`` s later; a
deleted RoleSet is gone when its pods are. The template changes at ``T``. Expected instants
are derived by hand from §3.3/§3.4 and listed per test.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import stormsim

T = 100.0
GRACE = 5.0


def manifest(replicas: int, surge: Any = None, unav: Any = None) -> dict[str, Any]:
    us: dict[str, Any] = {"type": "RollingUpdate"}
    if surge is not None:
        us["maxSurge"] = surge
    if unav is not None:
        us["maxUnavailable"] = unav
    roles = [
        {
            "name": name,
            "replicas": 1,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": "img:v1",
                            "resources": {"limits": {"nvidia.com/gpu": 1}},
                        }
                    ]
                }
            },
        }
        for name in ("prefill", "decode")
    ]
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": "svc"},
        "spec": {
            "replicas": replicas,
            "updateStrategy": us,
            "selector": {"matchLabels": {"app": "svc"}},
            "template": {
                "metadata": {"labels": {"app": "svc"}},
                "spec": {"updateStrategy": "Parallel", "roles": roles},
            },
        },
    }


def simulate(replicas: int, surge: Any = None, unav: Any = None, load: float = 12.0):
    sc = {
        "name": "trace",
        "seed": 1,
        "cluster": {"node_pools": [{"name": "p", "count": 4, "gpus_per_node": 8}]},
        "timing": {
            "scheduling_s": 0,
            "image_pull_s": 0,
            "model_load_s": load,
            "engine_init_s": 0,
            "readiness_probe_s": 0,
            "router_registration_s": 0,
            "termination_grace_s": GRACE,
            "reconcile_latency_s": 0,
        },
        "controller": {"api_call_s": 0.0},  # the traces count writes of a pass at one instant
        "service": {"manifest": manifest(replicas, surge, unav)},
        "events": [{"at_s": T, "kind": "set_image", "image": "img:v2"}],
    }
    return stormsim.run(stormsim.load_scenario(sc, base_dir="."))


def rs_ops(res) -> dict[float, Counter[str]]:
    """time -> Counter of StormService-controller RoleSet creates/deletes at or after T."""
    ev = res.frames["events"]
    ev = ev[(ev["kind"] == "RoleSet") & (ev["source"] == "stormservice-controller")]
    out: dict[float, Counter[str]] = {}
    for t, verb in zip(ev["t_s"], ev["verb"], strict=True):
        if t >= T and verb in ("create", "delete"):
            out.setdefault(float(t), Counter())[verb] += 1
    return out


def ops(**by_time: tuple[int, int]) -> dict[float, Counter[str]]:
    """ops(t100=(creates, deletes), ...) -> the rs_ops shape."""
    out = {}
    for key, (c, d) in by_time.items():
        cnt: Counter[str] = Counter()
        if c:
            cnt["create"] = c
        if d:
            cnt["delete"] = d
        out[float(key[1:])] = cnt
    return out


def window(res, start: float = T):
    ts = res.frames["timeseries"]
    return ts[ts["t_s"] >= start]


def check_common(res, replicas: int, end: float):
    s = res.summary
    assert s["update_completed"] is True
    assert s["update_started_at_s"] == T
    assert s["update_ended_at_s"] == end
    rs = res.frames["rolesets"]
    old = rs[rs["created_at_s"] < T]
    new = rs[rs["created_at_s"] >= T]
    assert len(old) == replicas and len(new) == replicas
    assert old["gone_at_s"].notna().all()
    assert new["deleted_at_s"].isna().all()
    assert new["revision"].nunique() == 1 and set(new["revision"]) != set(old["revision"])
    # the old RoleSets are gone GRACE after their deletion
    assert ((old["gone_at_s"] - old["deleted_at_s"]) == GRACE).all()
    pods = res.frames["pods"]
    live = pods[pods["gone_at_s"].isna()]
    assert len(live) == 2 * replicas
    assert live["roleset"].isin(set(new["roleset"])).all()


def test_t1_surge_1_unavailable_1():
    # E 3, surge 1, unavailable 1 (minAvailable 2), LOAD 12, GRACE 5:
    # 100 delete o1 + create n1 | 105 o1 gone -> create n2 | 112 n1 ready -> scaling deletes o2
    # 117 o2 gone + n2 ready -> delete o3, create n3 | 122 o3 gone | 129 n3 ready: settled
    res = simulate(3, 1, 1)
    assert rs_ops(res) == ops(t100=(1, 1), t105=(1, 0), t112=(0, 1), t117=(1, 1))
    check_common(res, 3, 129.0)
    rs = res.frames["rolesets"]
    old = rs[rs["created_at_s"] < T].sort_values("deleted_at_s")
    assert list(old["deleted_at_s"]) == [100.0, 112.0, 117.0]
    assert list(old["gone_at_s"]) == [105.0, 117.0, 122.0]
    new = rs[rs["created_at_s"] >= T].sort_values("created_at_s")
    assert list(new["created_at_s"]) == [100.0, 105.0, 117.0]
    assert list(new["ready_at_s"]) == [112.0, 117.0, 129.0]
    w = window(res, 12.0)
    assert w["rolesets_total"].max() == 4
    assert w["rolesets_ready"].min() == 2
    assert res.summary["rolesets_max"] == 4 and res.summary["rolesets_ready_min"] == 2


def test_t2_defaults_strictly_one_at_a_time():
    # E 3, surge 0 -> unavailable 1, minAvailable 2: each replacement is delete, wait GRACE,
    # create, wait LOAD: 100 d | 105 c | 117 d | 122 c | 134 d | 139 c | 151 settled
    res = simulate(3)
    assert rs_ops(res) == ops(
        t100=(0, 1), t105=(1, 0), t117=(0, 1), t122=(1, 0), t134=(0, 1), t139=(1, 0)
    )
    check_common(res, 3, 151.0)
    w = window(res, 12.0)
    assert w["rolesets_total"].max() == 3
    assert w["rolesets_ready"].min() == 2
    assert res.summary["full_outage_s"] == 0.0


def test_t3_replicas_1_defaults_full_outage():
    # E 1, unavailable 1, minAvailable 0: 100 delete | 105 gone -> create | 117 ready
    res = simulate(1)
    assert rs_ops(res) == ops(t100=(0, 1), t105=(1, 0))
    check_common(res, 1, 117.0)
    assert res.summary["full_outage_s"] == GRACE + 12.0
    assert res.summary["rolesets_ready_min"] == 0
    assert window(res, 12.0)["rolesets_total"].max() == 1


def test_t3_replicas_1_surge_1_no_outage():
    # E 1, surge 1 -> unavailable 0, minAvailable 1: 100 create | 112 ready -> delete old
    # | 117 old gone: settled
    res = simulate(1, 1)
    assert rs_ops(res) == ops(t100=(1, 0), t112=(0, 1))
    check_common(res, 1, 117.0)
    assert res.summary["full_outage_s"] == 0.0
    assert res.summary["rolesets_max"] == 2
    assert res.summary["rolesets_ready_min"] == 1


def test_t4_percentages():
    # E 10, surge ceil(2.5)=3, unavailable floor(2)=2, minAvailable 8; LOAD 20, GRACE 5:
    # 100 delete 2, create 3 (|all| 13) | 105 2 gone -> rollout creates min(13-11, 7) = 2
    # 120 3 new ready (ready 11) -> scaling deletes 3 old | 125 3 gone + 2 new ready:
    #   rollout deletes 2 (ready 10 > 8), creates min(13-10, 10-5) = 3
    # 130 2 gone -> creates min(13-11, 10-8) = 2 | 145 3 new ready -> scaling deletes the
    #   last 3 old | 150 gone + last 2 ready: settled
    res = simulate(10, "25%", "20%", load=20.0)
    assert rs_ops(res) == ops(
        t100=(3, 2), t105=(2, 0), t120=(0, 3), t125=(3, 2), t130=(2, 0), t145=(0, 3)
    )
    check_common(res, 10, 150.0)
    w = window(res, 20.0)
    assert w["rolesets_total"].max() == 13
    assert w["rolesets_ready"].min() == 8


# --------------------------------------------------------------------------------------------
# Stateful slot rules (spec §4.6) in a whole run: an InPlaceUpdate StormService (one RoleSet,
# patched at T) whose stateful role of 3 pods is rolled slot by slot by the RoleSet controller.


def simulate_slots(surge: Any, unav: Any):
    us: dict[str, Any] = {"type": "Recreate"}
    if surge is not None:
        us["maxSurge"] = surge
    if unav is not None:
        us["maxUnavailable"] = unav
    m = manifest(1)
    m["spec"]["updateStrategy"] = {"type": "InPlaceUpdate"}
    m["spec"]["template"]["spec"] = {
        "roles": [
            {
                "name": "decode",
                "replicas": 3,
                "stateful": True,
                "updateStrategy": us,
                "template": {"spec": {"containers": [{"name": "c", "image": "img:v1"}]}},
            }
        ]
    }
    sc = {
        "name": "slots",
        "seed": 1,
        "cluster": {"node_pools": [{"name": "p", "count": 1, "gpus_per_node": 8}]},
        "timing": {
            "scheduling_s": 0,
            "image_pull_s": 0,
            "model_load_s": 12,
            "engine_init_s": 0,
            "readiness_probe_s": 0,
            "router_registration_s": 0,
            "termination_grace_s": GRACE,
            "reconcile_latency_s": 0,
        },
        "controller": {"api_call_s": 0.0},  # the traces count writes of a pass at one instant
        "service": {"manifest": m},
        "events": [{"at_s": T, "kind": "set_image", "image": "img:v2"}],
    }
    res = stormsim.run(stormsim.load_scenario(sc, base_dir="."))
    pods = res.frames["pods"]
    old = pods[pods["created_at_s"] < T].sort_values("slot")
    new = pods[pods["created_at_s"] >= T].sort_values("slot")
    return res, old, new


def test_stateful_slots_delete_first_with_unavailable_1():
    # unav 1: slot 0 deleted at T, re-created once gone (T+5), Ready at T+17, then slot 1 ...
    res, old, new = simulate_slots(None, 1)
    assert list(old["slot"]) == [0, 1, 2] and list(new["slot"]) == [0, 1, 2]
    assert list(old["deleted_at_s"]) == [100.0, 117.0, 134.0]
    assert list(old["gone_at_s"]) == [105.0, 122.0, 139.0]
    assert list(new["created_at_s"]) == [105.0, 122.0, 139.0]
    assert list(new["ready_at_s"]) == [117.0, 134.0, 151.0]
    assert new["template_hash"].nunique() == 1
    assert set(new["template_hash"]).isdisjoint(set(old["template_hash"]))
    assert res.summary["update_completed"] is True
    assert res.summary["update_ended_at_s"] == 151.0
    assert len(res.frames["rolesets"]) == 1  # the RoleSet itself is patched, not replaced


def test_stateful_slots_surge_beside_with_unavailable_0():
    # unav 0, surge 1: a second pod beside the old one in slot 0 at T; the old one is deleted
    # when the new one is Ready (T+12); slot 1's surge pod only once it is gone (T+17) ...
    res, old, new = simulate_slots(1, 0)
    assert list(new["created_at_s"]) == [100.0, 117.0, 134.0]
    assert list(new["ready_at_s"]) == [112.0, 129.0, 146.0]
    assert list(old["deleted_at_s"]) == [112.0, 129.0, 146.0]
    assert list(old["gone_at_s"].iloc[:2]) == [117.0, 134.0]
    ts = res.frames["timeseries"]
    w = ts[ts["t_s"] >= 12.0]
    assert w["pods_ready"].min() == 3  # never below replicas: no unavailability
    assert w["pods_total"].max() == 4  # at most one surge pod
    assert res.summary["update_completed"] is True
