"""Scale targets: current replicas, pod selection and writes (``workload_scale_test.go``,
``podautoscaler_controller_test.go`` pod selection), the #2780 multiplication, conflict keys."""

from __future__ import annotations

import pytest

from stormsim.control.autoscaler.target import (
    LABEL_POD_GROUP_INDEX,
    LABEL_RAY_NODE_TYPE,
    LABEL_ROLE,
    LABEL_STORM_SERVICE,
    PodLabels,
    RoleView,
    ScaleWrite,
    TargetError,
    TargetView,
    current_replicas,
    pod_selector,
    scale_write,
    scaling_target_key,
    select_pods,
    stormservice_view,
)
from stormsim.schema.aibrix import StormService
from tests.autoscaler.builders import make_pa, ss_view
from tests.conftest import make_manifest

REPLICA = {"autoscaling.aibrix.ai/storm-service-mode": "replica"}

PODS = [
    PodLabels(
        "p0", {LABEL_STORM_SERVICE: "ss-1", LABEL_ROLE: "test-role", LABEL_POD_GROUP_INDEX: "0"}
    ),
    PodLabels(
        "p1", {LABEL_STORM_SERVICE: "ss-1", LABEL_ROLE: "test-role", LABEL_POD_GROUP_INDEX: "1"}
    ),
    PodLabels("p2", {LABEL_STORM_SERVICE: "ss-1", LABEL_POD_GROUP_INDEX: "0"}),
]


@pytest.mark.parametrize(
    ("pgs", "role", "expected"),
    [
        (2, "test-role", ["p0"]),
        (1, "test-role", ["p0", "p1"]),
        (None, "test-role", ["p0", "p1"]),
        (None, None, ["p0", "p1", "p2"]),
    ],
)
def test_TestGetPodSelectorForStormService(
    pgs: int | None, role: str | None, expected: list[str]
) -> None:
    pa = make_pa(role=role, target_name="ss-1", annotations=REPLICA)
    view = TargetView("StormService", "ss-1", 1, (RoleView("test-role", 2, None, pgs),))
    assert [p.name for p in select_pods(pa, view, PODS)] == expected


def test_whole_service_selector_requires_group_index_if_any_role_is_grouped() -> None:
    pa = make_pa(target_name="ss-1")
    view = TargetView(
        "StormService", "ss-1", 1, (RoleView("a", 1, None, 2), RoleView("b", 1, None, None))
    )
    assert pod_selector(pa, view) == {LABEL_STORM_SERVICE: "ss-1", LABEL_POD_GROUP_INDEX: "0"}


def test_TestGetPodSelector_deployment_and_rayclusterfleet() -> None:
    pa = make_pa(target_kind="Deployment", target_name="foo")
    pods = [
        PodLabels("a", {"app": "foo", LABEL_POD_GROUP_INDEX: "0"}),
        PodLabels("b", {"app": "foo", LABEL_POD_GROUP_INDEX: "1"}),
        PodLabels("c", {"app": "bar"}),
    ]
    view = TargetView("Deployment", "foo", 2, selector={"app": "foo"})
    assert [p.name for p in select_pods(pa, view, pods)] == ["a", "b"]
    ray = make_pa(target_kind="RayClusterFleet", target_name="fleet")
    rpods = [
        PodLabels("h0", {"app": "fleet", LABEL_RAY_NODE_TYPE: "head", LABEL_POD_GROUP_INDEX: "0"}),
        PodLabels("h1", {"app": "fleet", LABEL_RAY_NODE_TYPE: "head", LABEL_POD_GROUP_INDEX: "1"}),
        PodLabels("w", {"app": "fleet", LABEL_RAY_NODE_TYPE: "worker"}),
    ]
    rview = TargetView("RayClusterFleet", "fleet", 2, selector={"app": "fleet"})
    assert [p.name for p in select_pods(ray, rview, rpods)] == ["h0", "h1"]


def test_TestGetCurrentReplicasFromScale() -> None:
    assert (
        current_replicas(make_pa(target_kind="Deployment"), TargetView("Deployment", "d", 2)) == 2
    )
    replica = make_pa(role="", annotations=REPLICA)
    assert current_replicas(replica, ss_view(2)) == 2
    prefill = make_pa(role="prefill")
    view = ss_view(3, (RoleView("prefill", 1, 2), RoleView("decode", 5, 7)))
    assert current_replicas(prefill, view) == 2  # status, not template
    assert current_replicas(prefill, ss_view(3, (RoleView("prefill", 2, None),))) == 2  # template
    assert current_replicas(prefill, ss_view(3, (RoleView("prefill", None, None),))) == 0


def test_current_replicas_errors() -> None:
    with pytest.raises(TargetError, match="role nope not found"):
        current_replicas(make_pa(role="nope"), ss_view())
    with pytest.raises(TargetError, match="role  not found"):  # empty roleName without replica mode
        current_replicas(make_pa(role=""), ss_view())
    with pytest.raises(TargetError, match="'replicas' field was not found"):
        current_replicas(make_pa(target_kind="Deployment"), TargetView("Deployment", "d", None))


def test_TestSetDesiredReplicas() -> None:
    p = "aibrix-e3e10f9e"
    assert scale_write(
        make_pa(target_kind="Deployment"), TargetView("Deployment", "d", 1), 2, profile=p
    ) == ScaleWrite("replicas", 2)
    assert scale_write(
        make_pa(role="", annotations=REPLICA), ss_view(1), 2, profile=p
    ) == ScaleWrite("replicas", 2)
    assert scale_write(make_pa(role="prefill"), ss_view(1), 2, profile=p) == ScaleWrite(
        "role_replicas", 2, "prefill"
    )


def test_issue_2780_role_write_multiplies_by_roleset_count_only_when_faithful() -> None:
    pa = make_pa(role="prefill")
    view = ss_view(3, (RoleView("prefill", 1, 3),))
    assert current_replicas(pa, view) == 3  # summed over 3 RoleSets
    assert scale_write(pa, view, 4, profile="aibrix-e3e10f9e").value == 4  # 4 per RoleSet: 12 pods
    assert scale_write(pa, view, 4, profile="fixed-math").value == 2  # ceil(4/3) per RoleSet


def test_fixed_math_role_write_keeps_the_roleset_total_within_the_maximum() -> None:
    """Found by review: 3 RoleSets and maxReplicas 32 wrote ceil(32/3) = 11 per RoleSet, 33
    pods in all, above the maximum; every later reconcile then stopped at 'current replicas
    exceed maximum' and rewrote 11."""
    pa = make_pa(role="prefill")
    view = ss_view(3, (RoleView("prefill", 8, 24),))
    w = scale_write(pa, view, 32, profile="fixed-math", max_replicas=32)
    assert w.value == 10 and 3 * w.value <= 32
    assert scale_write(pa, view, 20, profile="fixed-math", max_replicas=32).value == 7  # ceil
    assert scale_write(pa, view, 2, profile="fixed-math", max_replicas=2).value == 1  # >= 1
    faithful = scale_write(pa, view, 32, profile="aibrix-e3e10f9e", max_replicas=32)
    assert faithful.value == 32  # AIBrix e3e10f9e: #2780 as it is


def test_role_write_on_paused_service_is_inert() -> None:
    w = scale_write(make_pa(role="prefill"), ss_view(1, paused=True), 4, profile="aibrix-e3e10f9e")
    assert w == ScaleWrite("role_replicas", 4, "prefill", effective=False)
    # a replica-mode write is not a rollout: pausing does not stop it
    assert scale_write(make_pa(), ss_view(1, paused=True), 4, profile="aibrix-e3e10f9e").effective


def test_sample_pool_annotation_is_not_special() -> None:
    pa = make_pa(role="prefill", annotations={"autoscaling.aibrix.ai/storm-service-mode": "pool"})
    assert pa.role_path
    assert not make_pa(role="prefill", annotations=REPLICA).role_path


def test_scaling_target_keys() -> None:
    a = make_pa(role="prefill", name="a")
    b = make_pa(role="decode", name="b")
    whole = make_pa(name="c")
    assert (
        scaling_target_key(a) == "orchestration.aibrix.ai/v1alpha1.StormService/default/llm/prefill"
    )
    assert len({scaling_target_key(x) for x in (a, b, whole)}) == 3


def test_stormservice_view() -> None:
    ss = StormService.model_validate(make_manifest(replicas=2, pod_group_size=2))
    v = stormservice_view(ss, {"prefill": 3})
    assert (v.kind, v.name, v.spec_replicas) == ("StormService", "llm", 2)
    assert v.role("prefill") == RoleView("prefill", 1, 3, 2)
    assert v.role("decode") == RoleView("decode", 1, None, 2)
    assert dict(v.selector) == {"app": "llm"}
    assert stormservice_view(ss, spec_replicas=5).spec_replicas == 5


def test_conflict_claims() -> None:
    from stormsim.control.autoscaler.status import claim_target, release_claims

    a, b = make_pa(name="a"), make_pa(name="b")
    claims, owner = claim_target({}, a)
    assert owner is None
    claims2, owner = claim_target(claims, b)
    assert owner == "default/a" and claims2 == claims
    # a role PA does not conflict with the whole-service one
    _, owner = claim_target(claims, make_pa(name="r", role="prefill"))
    assert owner is None
    # a changed target releases the old key
    moved = make_pa(name="a", role="decode")
    claims3, owner = claim_target(claims, moved)
    assert owner is None and list(claims3.values()) == ["default/a"]
    assert claim_target(claims3, b)[1] is None
    assert dict(release_claims(claims, "default/a")) == {}
    # claiming again changes nothing; a claim left on another key is still released
    again, owner = claim_target(claims, a)
    assert owner is None and dict(again) == dict(claims)
    key_a = next(iter(claims))
    stray = {key_a: "default/a", "StormService/default/old": "default/a"}
    cleaned, owner = claim_target(stray, a)
    assert owner is None and dict(cleaned) == {key_a: "default/a"}


def test_status_history_throttle_and_limit() -> None:
    from stormsim.control.autoscaler.status import PaStatus, set_status

    st = set_status(PaStatus(), 0, 2, 4, rescale=True, reason="apa above target", success=True)
    assert (st.actual, st.desired, len(st.history), st.last_scale_s) == (2, 4, 1, 0)
    st2 = set_status(st, 3, 2, 4, rescale=True, reason="apa above target", success=True)
    assert st2.history == st.history  # same scale within 5 s: no record
    st3 = set_status(st, 3, 2, 4, rescale=True, reason="x", success=False, error="deadline")
    assert len(st3.history) == 2 and st3.last_scale_s == 3
    st4 = set_status(st, 3, 4, 4, rescale=False, reason="stable", success=True)
    assert st4.history == st.history and not st4.scaling_active
    for k in range(10):
        st = set_status(st, 10 + 10 * k, k, k + 1, rescale=True, reason="r", success=True)
    assert len(st.history) == 5 and st.history[-1].new == 10
