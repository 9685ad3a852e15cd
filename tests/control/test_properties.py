"""Whole-simulation properties of fault-free RollingUpdates (spec §3.3, §3.4, §1.2).

For any small replica-mode service and constant durations: the RoleSet count including
terminating ones never exceeds ``replicas + MaxSurge``; once every RoleSet was first Ready,
the Ready count never drops below ``replicas − MaxUnavailable``; and every rollout converges
with all remaining pods on the new role template hashes.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import stormsim
from stormsim.control.fenceposts import stormservice_budgets
from stormsim.control.revisions import role_hashes
from stormsim.schema.aibrix import StormService

T = 50.0

int_or_percent = st.one_of(
    st.none(),
    st.integers(0, 3),
    st.sampled_from(["0%", "10%", "25%", "34%", "50%", "100%"]),
)


def manifest(
    replicas: int,
    surge: Any,
    unav: Any,
    strategy: str,
    stateful: bool,
    roles: list[int],
    image: str,
) -> dict[str, Any]:
    us: dict[str, Any] = {"type": "RollingUpdate"}
    if surge is not None:
        us["maxSurge"] = surge
    if unav is not None:
        us["maxUnavailable"] = unav
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": "prop"},
        "spec": {
            "replicas": replicas,
            "updateStrategy": us,
            "selector": {"matchLabels": {"app": "prop"}},
            "template": {
                "metadata": {"labels": {"app": "prop"}},
                "spec": {
                    "updateStrategy": strategy,
                    "roles": [
                        {
                            "name": f"role{i}",
                            "replicas": n,
                            "stateful": stateful,
                            "template": {"spec": {"containers": [{"name": "c", "image": image}]}},
                        }
                        for i, n in enumerate(roles)
                    ],
                },
            },
        },
    }


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "replicas": draw(st.integers(1, 6)),
        "surge": draw(int_or_percent),
        "unav": draw(int_or_percent),
        "strategy": draw(st.sampled_from(["Sequential", "Parallel", "Interleave"])),
        "stateful": draw(st.booleans()),
        "roles": draw(st.lists(st.integers(1, 2), min_size=1, max_size=2)),
        "load": draw(st.integers(1, 30)),
        "grace": draw(st.integers(0, 10)),
        "sched": draw(st.sampled_from([0.0, 0.5, 2.0])),
        "latency": draw(st.sampled_from([0.0, 0.1, 1.0])),
    }


@settings(max_examples=25, deadline=None)
@given(cases())
def test_rolling_update_respects_budgets_and_converges(case: dict[str, Any]) -> None:
    shape = (case["replicas"], case["surge"], case["unav"], case["strategy"], case["stateful"])
    old = manifest(*shape, case["roles"], "img:v1")
    sc = {
        "name": "prop",
        "seed": 3,
        "cluster": {"node_pools": [{"name": "p", "count": 1, "gpus_per_node": 8}]},
        "timing": {
            "scheduling_s": case["sched"],
            "image_pull_s": 0,
            "model_load_s": case["load"],
            "engine_init_s": 0,
            "readiness_probe_s": 0,
            "router_registration_s": 0,
            "termination_grace_s": case["grace"],
            "reconcile_latency_s": case["latency"],
        },
        "service": {"manifest": old},
        "events": [{"at_s": T, "kind": "set_image", "image": "img:v2"}],
    }
    scenario = stormsim.load_scenario(sc, base_dir=".")
    res = stormsim.run(scenario)

    spec = scenario.service.manifest.spec
    replicas = spec.replicas
    max_surge, max_unav, _ = stormservice_budgets(spec)
    ts = res.frames["timeseries"]

    # the RoleSet count including terminating never exceeds replicas + MaxSurge
    assert ts["rolesets_total"].max() <= replicas + max_surge

    # Ready RoleSets never drop below replicas − MaxUnavailable once all were first Ready
    all_ready = ts.index[ts["rolesets_ready"] >= replicas]
    assert len(all_ready), "the service never became Ready before the update"
    first = ts.loc[all_ready[0], "t_s"]
    assert first < T
    after = ts[ts["t_s"] >= first]
    assert after["rolesets_ready"].min() >= replicas - max_unav

    # every rollout converges onto the new template
    s = res.summary
    assert s["update_completed"] is True
    assert math.isfinite(s["update_ended_at_s"]) and s["update_ended_at_s"] > T
    new_spec = StormService.model_validate(manifest(*shape, case["roles"], "img:v2")).spec
    new_hashes = role_hashes(new_spec.template)
    pods = res.frames["pods"]
    live = pods[pods["gone_at_s"].isna()]
    assert len(live) == replicas * sum(case["roles"])
    for role_name, h in zip(live["role"], live["template_hash"], strict=True):
        assert h == new_hashes[role_name]
    final = ts.iloc[-1]
    assert final["rolesets_total"] == replicas
    assert final["rolesets_ready"] == replicas
    rs = res.frames["rolesets"]
    assert rs[rs["created_at_s"] < T]["gone_at_s"].notna().all()
