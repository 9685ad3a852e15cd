"""RoleSet rolling managers, RoleSet status and the RoleSet pass (spec §4.1–§4.3, §8.9)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stormsim.control.objects import READY, CreatePod, DeletePod, RoleSetStatus, SetFinalizer
from stormsim.control.roleset import (
    REQUEUE_FINALIZE_S,
    REQUEUE_RETRY_S,
    reconcile_roleset,
    roleset_status,
    shorten_name,
    sort_roles_by_upgrade_order,
    sync_pods,
)

from .builders import NEW, OLD, failed, pod, role, roleset, rs_spec, rstat


def make_rs(*roles, strategy=None, status=None, name="rs"):
    spec = rs_spec(*roles, strategy=strategy)
    return roleset(
        name,
        spec=spec,
        hashes={r.name: NEW for r in roles},
        status=status if status is not None else False,
    )


def rp(role_name, n, **kw):
    return [pod(role=role_name, **kw) for _ in range(n)]


def by_role(actions, all_pods):
    """role -> (#creates, #deletes)."""
    names = {p.name: p.role for p in all_pods}
    out: dict[str, list[int]] = {}
    for a in actions:
        if isinstance(a, CreatePod):
            out.setdefault(a.role, [0, 0])[0] += 1
        elif isinstance(a, DeletePod):
            out.setdefault(names[a.name], [0, 0])[1] += 1
    return {k: tuple(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- §8.9 helpers


@pytest.mark.parametrize(
    ("inp", "expected"),
    [
        ([], []),
        ([("role1", 1), ("role2", 2), ("role3", 3)], ["role1", "role2", "role3"]),
        ([("role3", 3), ("role1", 1), ("role2", 2)], ["role1", "role2", "role3"]),
        ([("role3", 2), ("role1", None), ("role2", 1)], ["role2", "role3", "role1"]),
        ([("role1", 1), ("role2", 1), ("role3", 1)], ["role1", "role2", "role3"]),
        (
            [("role4", 2), ("role1", None), ("role2", None), ("role3", 1)],
            ["role3", "role4", "role1", "role2"],
        ),
        (
            [("api-server", 2), ("database", None), ("cache", 1), ("monitoring", 3)],
            ["cache", "api-server", "monitoring", "database"],
        ),
    ],
)
def test_sort_roles_by_upgrade_order(inp, expected):
    roles = [role(n, 1, order=o) for n, o in inp]
    assert [r.name for r in sort_roles_by_upgrade_order(roles)] == expected


def test_shorten_name():
    # TestShorten (keepPrefix=false variants; the 58 limit is the generateName case)
    short = "a" * 26
    assert shorten_name(short) == short
    long = "b" + "".join(chr(ord("a") + i % 26) for i in range(69))
    assert len(long) == 70
    assert shorten_name(long) == long[0] + long[-62:]
    assert len(shorten_name(long)) == 63
    assert shorten_name(long, 58) == long[0] + long[-57:]
    assert len(shorten_name(long, 58)) == 58
    assert shorten_name("x" * 63) == "x" * 63


# ----------------------------------------------------------------------------- managers


def test_scale_runs_first_and_blocks_rollout():
    # any role scaling ends the pass before rollout work
    a, b = role("a", 2, 0, 1), role("b", 1, 0, 1)
    ps = [*rp("a", 1, hash=NEW), *rp("b", 1, hash=OLD)]
    acts = sync_pods(make_rs(a, b, strategy="Parallel"), ps)
    assert by_role(acts, ps) == {"a": (1, 0)}


def test_parallel_rolls_every_role():
    a, b = role("a", 2, 0, 1), role("b", 2, 1, 0)
    ps = [*rp("a", 2, hash=OLD), *rp("b", 2, hash=OLD)]
    acts = sync_pods(make_rs(a, b, strategy="Parallel"), ps)
    assert by_role(acts, ps) == {"a": (0, 1), "b": (1, 0)}


def test_sequential_follows_upgrade_order():
    a, b = role("a", 2, 0, 1, order=2), role("b", 2, 0, 1, order=1)
    ps = [*rp("a", 2, hash=OLD), *rp("b", 2, hash=OLD)]
    acts = sync_pods(make_rs(a, b, strategy="Sequential"), ps)
    assert by_role(acts, ps) == {"b": (0, 1)}


@pytest.mark.parametrize("strategy", ["Sequential", None, ""])
def test_sequential_later_role_waits_for_earlier_all_ready(strategy):
    # the earlier role has no template change but one updated pod is not ready
    a, b = role("a", 2, 0, 1), role("b", 2, 0, 1)
    ps = [pod(role="a", hash=NEW), pod(role="a", hash=NEW, ready=False), *rp("b", 2, hash=OLD)]
    acts = sync_pods(make_rs(a, b, strategy=strategy), ps)
    assert acts == []
    # once the earlier role is AllReady, the later one is rolled
    ps = [*rp("a", 2, hash=NEW), *rp("b", 2, hash=OLD)]
    acts = sync_pods(make_rs(a, b, strategy=strategy), ps)
    assert by_role(acts, ps) == {"b": (0, 1)}


def test_sequential_earlier_role_with_surplus_pod_blocks():
    # AllReady needs exactly R ready updated pods and no extra/terminating ones
    a, b = role("a", 1, 0, 1), role("b", 1, 0, 1)
    ps = [*rp("a", 1, hash=NEW), pod(role="a", hash=OLD, deleting=True), *rp("b", 1, hash=OLD)]
    assert sync_pods(make_rs(a, b, strategy="Sequential"), ps) == []


def test_sequential_scaling_not_gated():
    a, b = role("a", 2, 0, 1), role("b", 2, 0, 1)
    ps = [pod(role="a", hash=NEW, ready=False), pod(role="a", hash=NEW), *rp("b", 1, hash=NEW)]
    acts = sync_pods(make_rs(a, b, strategy="Sequential"), ps)
    assert by_role(acts, ps) == {"b": (1, 0)}


def test_interleave_first_step():
    a = role("a", 2, 0, 1)  # L = 1
    b = role("b", 4, 1, 1)  # L = 2
    ps = [*rp("a", 2, hash=OLD), *rp("b", 4, hash=OLD)]
    acts = sync_pods(make_rs(a, b, strategy="Interleave"), ps)
    # S = 1: a target 1 (delete 1, create 0 within 2 + 0 - 2); b target 2 (delete 1, create 1)
    assert by_role(acts, ps) == {"a": (0, 1), "b": (1, 1)}


def test_interleave_fastest_role_waits_for_slowest():
    a = role("a", 2, 0, 1)
    b = role("b", 4, 1, 1)
    # a: one updated ready pod -> step 2; b: nothing updated yet -> step 1 => S = 1
    ps = [pod(role="a", hash=NEW), pod(role="a", hash=OLD), *rp("b", 4, hash=OLD)]
    acts = sync_pods(make_rs(a, b, strategy="Interleave"), ps)
    assert by_role(acts, ps) == {"b": (1, 1)}


def test_interleave_stall_quirk():
    # §4.5 last paragraph: L = 1 role with all pods outdated and one not ready => step 0
    # => global step 0 => nothing happens for any role, not even the healthy one
    a = role("a", 2, 0, 1)
    b = role("b", 2, 0, 1)
    ps = [pod(role="a", hash=OLD), pod(role="a", hash=OLD, ready=False), *rp("b", 2, hash=OLD)]
    assert sync_pods(make_rs(a, b, strategy="Interleave"), ps) == []
    # Parallel in the same state deletes the not-ready pod and rolls b
    acts = sync_pods(make_rs(a, b, strategy="Parallel"), ps)
    assert by_role(acts, ps) == {"a": (0, 1), "b": (0, 1)}


def test_interleave_done_when_all_roles_ready():
    a, b = role("a", 2, 0, 1), role("b", 1, 0, 1)
    ps = [*rp("a", 2, hash=NEW), *rp("b", 1, hash=NEW)]
    assert sync_pods(make_rs(a, b, strategy="Interleave"), ps) == []


# ----------------------------------------------------------------------------- §4.2 status


def test_roleset_status_counts_active_pods():
    a, b = role("a", 2), role("b", 1)
    rs = make_rs(a, b)
    ps = [
        pod(role="a", hash=NEW),
        pod(role="a", hash=OLD),
        pod(role="a", hash=NEW, ready=False),
        pod(role="a", hash=NEW, deleting=True),
        failed(role="a", hash=NEW),
        pod(role="b", hash=OLD, ready=False),
    ]
    st = roleset_status(rs, ps)
    assert st.roles == (rstat("a", 3, 2, 1, 2, 1), rstat("b", 1, 0, 1, 0, 0))
    assert not st.ready
    assert st.conditions[0].type == READY and st.conditions[0].status == "False"
    assert "b" in st.conditions[0].message and "a" not in st.conditions[0].message.split(": ")[1]


def test_roleset_ready_counts_old_and_surge_pods():
    a = role("a", 2)
    st = roleset_status(make_rs(a), [pod(role="a", hash=OLD), pod(role="a", hash=OLD)])
    assert st.ready  # readiness does not require updated pods
    st = roleset_status(make_rs(a), [pod(role="a", hash=NEW), *rp("a", 2, hash=OLD)])
    assert st.ready and st.roles[0].replicas == 3


def test_roleset_role_with_zero_replicas_is_ready():
    st = roleset_status(make_rs(role("a", 0), role("b", 1)), [pod(role="b")])
    assert st.ready


# ----------------------------------------------------------------------------- §4.1 pass


def test_pass_adds_finalizer_and_ends():
    rs = make_rs(role("a", 2))
    rs = replace(rs, finalizer=False)
    res = reconcile_roleset(rs, [])
    assert res.actions == [SetFinalizer("RoleSet", "rs", True)]
    assert res.status is None


def test_pass_creates_pods_and_reports_them_in_status():
    rs = make_rs(role("a", 2))
    res = reconcile_roleset(rs, [])
    assert [type(a) for a in res.actions] == [CreatePod, CreatePod]
    assert isinstance(res.status, RoleSetStatus)
    assert res.status.roles == (rstat("a", 2, 0, 2, 2, 0),)
    assert res.requeue_after is None  # status written (an event re-enqueues)


def test_pass_requeues_1s_while_not_ready_and_unchanged():
    rs = make_rs(role("a", 1))
    ps = [pod(role="a", hash=NEW, ready=False)]
    st = roleset_status(rs, ps)
    res = reconcile_roleset(replace(rs, status=st), ps)
    assert res.status is None
    assert res.requeue_after == REQUEUE_RETRY_S
    ps = [pod(role="a", hash=NEW)]
    st = roleset_status(rs, ps)
    res = reconcile_roleset(replace(rs, status=st), ps)
    assert res.status is None and res.requeue_after is None and res.actions == []


def test_pass_message_only_change_not_written():
    rs = make_rs(role("a", 1))
    ps = [pod(role="a", hash=NEW, ready=False)]
    st = roleset_status(rs, ps)
    stale = replace(st, conditions=(replace(st.conditions[0], message="old message"),))
    res = reconcile_roleset(replace(rs, status=stale), ps)
    assert res.status is None


def test_pass_finalizes_deleting_roleset():
    rs = make_rs(role("a", 2))
    rs = replace(rs, deleting=True)
    ps = [pod("p1", role="a"), pod("p2", role="a", deleting=True)]
    res = reconcile_roleset(rs, ps)
    assert res.actions == [DeletePod("p1")]
    assert res.requeue_after == REQUEUE_FINALIZE_S
    res = reconcile_roleset(rs, [])
    assert res.actions == [SetFinalizer("RoleSet", "rs", False)]
