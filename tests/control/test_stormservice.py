"""The StormService controller as a pure function (spec §3, §8.2–§8.5, worked traces §3.9)."""

from __future__ import annotations

import pytest

from stormsim.control.objects import (
    PROGRESSING,
    READY,
    REPLICA_FAILURE,
    Condition,
    CreateRevision,
    CreateRoleSet,
    DeleteRevision,
    DeleteRoleSet,
    RoleSetStatus,
    SetFinalizer,
    SetRevisionNumber,
    StormServiceStatus,
    UpdateRoleSet,
)
from stormsim.control.revisions import sync_revision
from stormsim.control.stormservice import (
    REQUEUE_NOT_READY_S,
    _Pass,
    aggregate_role_statuses,
    calculate_replicas,
    is_all_role_updated,
    reconcile_stormservice,
    sort_rolesets_for_deletion,
)
from stormsim.schema.aibrix import RoleSetSpec

from .builders import revision, role, roleset, rs_spec, rstat, ss_obj, ss_spec, template

OLD_TEMPLATE = template(role(image="img:v0"))


def run(spec, rolesets, *, two=True, status=None, paused=None):
    """One pass with revisions rev1 (old template) and rev2 (the live template). With
    ``two`` the status says the current revision is rev1."""
    if paused is not None:
        spec = spec.model_copy(update={"paused": paused})
    revs = [revision("rev2", 2, spec.template)]
    if two:
        revs.insert(0, revision("rev1", 1, OLD_TEMPLATE))
    if status is None:
        status = StormServiceStatus(
            current_revision="rev1" if two else "rev2", update_revision="rev2"
        )
    return reconcile_stormservice(ss_obj(spec, status), revs, rolesets)


def creates(res):
    return [a for a in res.actions if isinstance(a, CreateRoleSet)]


def deletes(res):
    return [a.name for a in res.actions if isinstance(a, DeleteRoleSet)]


def olds(n, ready=True, prefix="o", **kw):
    return [roleset(f"{prefix}{i}", "rev1", ready, **kw) for i in range(1, n + 1)]


def news(n, ready=True, prefix="n", **kw):
    return [roleset(f"{prefix}{i}", "rev2", ready, **kw) for i in range(1, n + 1)]


# ----------------------------------------------------------------------------- §8.2


@pytest.mark.parametrize(
    ("c", "u", "e", "expected"),
    [
        (1, 1, 4, (2, 2)),
        (2, 1, 9, (6, 3)),
        (6, 3, 3, (2, 1)),
        (1, 10, 10, (1, 9)),
        (1, 20, 25, (1, 24)),
        (1, 20, 100, (5, 95)),
        (10, 1, 10, (9, 1)),
        (2, 2, 5, (3, 2)),  # 2.5 -> 3 for both (half away from zero), fix-up u = 2
        (5, 5, 3, (2, 1)),  # 1.5 -> 2 for both, fix-up
        (0, 0, 5, (0, 5)),
        (2, 3, 0, (0, 0)),
        (3, 2, 5, (3, 2)),  # c + u == E: unchanged
    ],
)
def test_calculate_replicas(c, u, e, expected):
    assert calculate_replicas(e, c, u) == expected


# ----------------------------------------------------------------------------- §8.3


def _rs(spec: str):
    name, rev, ready = spec.split(":")
    return roleset(name, rev, ready == "R")


@pytest.mark.parametrize(
    ("update", "inputs", "expected"),
    [
        ("rev1", ["rs1:rev1:R"], ["rs1"]),
        ("rev2", ["rs1:rev1:R", "rs2:rev2:R"], ["rs1", "rs2"]),
        ("rev2", ["rs1:rev2:NR", "rs2:rev2:R"], ["rs1", "rs2"]),
        ("rev2", ["upd-r:rev2:R", "upd-nr:rev2:NR"], ["upd-nr", "upd-r"]),
        ("rev2", ["old-r:rev1:R", "old-nr:rev1:NR", "upd-r:rev2:R"], ["old-nr", "old-r", "upd-r"]),
        ("rev2", ["upd-nr:rev2:NR", "old-r:rev1:R"], ["old-r", "upd-nr"]),
        (
            "rev2",
            ["old-r-1:rev1:R", "old-r-2:rev1:R", "upd-r-1:rev2:R", "upd-r-2:rev2:R"],
            ["old-r-1", "old-r-2", "upd-r-1", "upd-r-2"],
        ),
        ("rev2", ["upd-r:rev2:R", "old-r:rev1:R"], ["old-r", "upd-r"]),  # row 8 without nil
        ("REV2", ["a:rev2:R", "b:REV2:R"], ["a", "b"]),  # revision match is case-sensitive
    ],
)
def test_sort_rolesets_for_deletion(update, inputs, expected):
    out = sort_rolesets_for_deletion([_rs(s) for s in inputs], update)
    assert [r.name for r in out] == expected


@pytest.mark.parametrize(("n_active", "n_terminating"), [(0, 0), (2, 0), (0, 2), (2, 2)])
def test_terminating_iff_deletion_timestamp(n_active, n_terminating):
    # TestFilterTerminatingRoleSets: only RoleSets with a deletion timestamp are terminating;
    # scaling counts the active ones against replicas and all of them against the surge cap
    live = news(n_active) + news(n_terminating, prefix="t", deleting=True)
    res = run(ss_spec(4, 4), live, two=False)
    assert len(creates(res)) == 4 - n_active
    assert res.status is not None
    assert res.status.replicas == n_active + n_terminating + 4 - n_active


def test_roleset_ready_needs_ready_condition_true():
    # TestFilterReadyRoleSets
    assert roleset("a", ready=True).ready
    assert not roleset("a", ready=False).ready
    assert not roleset("a", status=None).ready
    other = RoleSetStatus((), (Condition(REPLICA_FAILURE, "True"),))
    assert not roleset("a", status=other).ready
    both = RoleSetStatus((), (Condition(REPLICA_FAILURE, "True"), Condition(READY, "True")))
    assert roleset("a", status=both).ready


# ----------------------------------------------------------------------------- §8.4


def _spec(**replicas):
    if not replicas:
        return RoleSetSpec.model_construct(roles=[], update_strategy=None)
    return rs_spec(*(role(n, r) for n, r in replicas.items()))


def _upd(name, n):
    return rstat(name, n, n, 0, n, n)


@pytest.mark.parametrize(
    ("spec", "status_roles", "expected"),
    [
        (_spec(role1=3, role2=2), [_upd("role1", 3), _upd("role2", 2)], True),
        (_spec(role1=3, role2=2), [_upd("role1", 3), _upd("role2", 1)], False),
        (_spec(), [_upd("role1", 3)], True),
        (_spec(role1=3), [], True),  # missing status => vacuously updated
        (_spec(role1=0), [_upd("role1", 0)], True),  # nil/0 replicas
        (_spec(role1=3), [_upd("role2", 3)], True),  # unknown status role skipped
        (_spec(role1=3), [_upd("role1", 3), _upd("unknown-role", 2)], True),
        (_spec(), [], True),
    ],
)
def test_is_all_role_updated(spec, status_roles, expected):
    rs = roleset("a", spec=spec, roles=status_roles, hashes={})
    assert is_all_role_updated(rs) is expected


def test_is_all_role_updated_vacuous_without_status():
    # §9.1 item 8
    assert is_all_role_updated(roleset("a", status=None), ready_too=False)
    assert is_all_role_updated(roleset("a", status=None), ready_too=True)


@pytest.mark.parametrize(
    ("spec", "status_roles", "expected"),
    [
        (
            _spec(role1=3, role2=2),
            [rstat("role1", 3, 3, 0, 3, 3), rstat("role2", 2, 2, 0, 2, 2)],
            True,
        ),
        (
            _spec(role1=3, role2=2),
            [rstat("role1", 3, 3, 0, 3, 3), rstat("role2", 2, 1, 1, 2, 1)],
            False,
        ),
        (_spec(role1=3), [rstat("role1", 3, 3, 0, 3, 3), rstat("x", 1, 0, 1, 1, 0)], True),
        (_spec(), [rstat("role1", 3, 3, 0, 3, 3)], True),
        (_spec(role1=0), [rstat("role1", 0, 0, 0, 0, 0)], True),
        # updated but not ready: updated-only predicate true, updated-and-ready false
        (_spec(role1=3), [rstat("role1", 3, 0, 3, 3, 0)], False),
    ],
)
def test_is_all_role_updated_and_ready(spec, status_roles, expected):
    rs = roleset("a", spec=spec, roles=status_roles, hashes={})
    assert is_all_role_updated(rs, ready_too=True) is expected


# ----------------------------------------------------------------------------- §8.5


def _agg_rs(rev, *roles, status=True):
    return roleset("x", rev, True, roles=roles, status=status)


@pytest.mark.parametrize(
    ("rolesets", "update", "expected"),
    [
        ([], "rev1", []),
        (
            [_agg_rs("rev1", rstat("prefill", 5, 3, 2, 4, 3))],
            "rev1",
            [rstat("prefill", 5, 3, 2, 5, 3)],
        ),
        (
            [_agg_rs("rev1", rstat("prefill", 5, 4, 1), rstat("decode", 10, 10, 0))],
            "rev1",
            [rstat("decode", 10, 10, 0, 10, 10), rstat("prefill", 5, 4, 1, 5, 4)],
        ),
        (
            [
                _agg_rs("rev1", rstat("worker", 10, 8, 2)),
                _agg_rs("rev1", rstat("worker", 10, 10, 0)),
                _agg_rs("rev1", rstat("worker", 10, 5, 5)),
            ],
            "rev1",
            [rstat("worker", 30, 23, 7, 30, 23)],
        ),
        (
            [
                _agg_rs("rev1", rstat("prefill", 5, 4, 1), rstat("decode", 10, 10, 0)),
                _agg_rs("rev1", rstat("prefill", 5, 5, 0), rstat("decode", 10, 8, 2)),
            ],
            "rev1",
            [rstat("decode", 20, 18, 2, 20, 18), rstat("prefill", 10, 9, 1, 10, 9)],
        ),
        ([_agg_rs("rev1", status=False)], "rev1", []),
        (
            [
                _agg_rs("rev1", rstat("worker", 10, 10, 0)),
                _agg_rs("rev1", status=False),
                _agg_rs("rev1", rstat("worker", 5, 3, 2)),
            ],
            "rev1",
            [rstat("worker", 15, 13, 2, 15, 13)],
        ),
        (
            [_agg_rs("rev1", rstat("prefill", 1, 1, 0), rstat("decode", 1, 1, 0))] * 3
            + [_agg_rs("rev2", rstat("prefill", 1, 0, 1), rstat("decode", 1, 0, 1))] * 3,
            "rev2",
            [rstat("decode", 6, 3, 3, 3, 0), rstat("prefill", 6, 3, 3, 3, 0)],
        ),
        (
            [
                _agg_rs("rev1", rstat("worker", 10, 10, 0)),
                _agg_rs("rev2", rstat("worker", 10, 7, 3)),
            ],
            "rev2",
            [rstat("worker", 20, 17, 3, 10, 7)],
        ),
        (
            [_agg_rs("rev2", rstat("prefill", 2, 2, 0), rstat("decode", 4, 4, 0))] * 2,
            "rev2",
            [rstat("decode", 8, 8, 0, 8, 8), rstat("prefill", 4, 4, 0, 4, 4)],
        ),
    ],
)
def test_aggregate_role_statuses(rolesets, update, expected):
    assert list(aggregate_role_statuses(rolesets, update)) == expected


# ----------------------------------------------------------------------------- §3.3 scale out


def test_scale_out_creates_from_update_revision():
    res = run(ss_spec(3), olds(1, prefix="x"), two=False)
    cs = creates(res)
    assert len(cs) == 2
    assert {c.revision for c in cs} == {"rev2"}
    assert [c.index for c in cs] == [0, 1]  # roleset-index is the position in the batch
    assert all(c.spec == ss_spec(3).template.spec for c in cs)
    assert deletes(res) == []


def test_scale_out_terminating_rolesets_consume_budget():
    spec = ss_spec(3)  # surge 0
    live = news(1) + news(1, prefix="t", deleting=True)
    assert len(creates(run(spec, live, two=False))) == 1
    live = news(2) + news(2, prefix="t", deleting=True)  # budget 3 + 0 - 4 < 0
    res = run(spec, live, two=False)
    assert creates(res) == [] and deletes(res) == []
    # with surge 2 the same state creates one
    assert len(creates(run(ss_spec(3, 2), live, two=False))) == 1


def test_scale_out_mid_rollout_not_paused_uses_update_revision():
    # scaling 2 -> 4 while at rev1: Case A, latest template, surge cap applies
    spec = ss_spec(4, 1, 1)
    res = run(spec, olds(2))
    cs = creates(res)
    assert len(cs) == 2  # min(2, 4 + 1 - 2)
    assert {c.revision for c in cs} == {"rev2"}
    assert cs[0].role_revisions == {"r": (2, "rev2")}  # pod template changed
    assert deletes(res) == []


def test_scale_out_paused_two_revisions_proportional_split():
    # §3.3 case B: (eCur, eUpd) from the *previous status* counts, no surge cap
    spec = ss_spec(6)  # surge 0
    st = StormServiceStatus(
        current_revision="rev1", update_revision="rev2", current_replicas=2, updated_replicas=1
    )
    live = olds(2) + news(1) + news(3, prefix="t", deleting=True)  # |all| 6 > E + surge
    res = run(spec, live, status=st, paused=True)
    cs = creates(res)
    assert [c.revision for c in cs] == ["rev1", "rev1", "rev2"]  # (4, 2) from (2, 1)
    assert cs[0].spec == OLD_TEMPLATE.spec  # current template for the current revision
    assert cs[0].role_revisions == {"r": (1, "rev1")}
    assert cs[2].spec == spec.template.spec
    assert cs[2].role_revisions == {"r": (2, "rev2")}
    assert deletes(res) == []


def test_scale_out_paused_uses_status_not_live_counts():
    # status says (1, 1) although the live split is 2 old / 0 new: (3, 3) of E = 6 => 1 + 3
    spec = ss_spec(6)
    st = StormServiceStatus(
        current_revision="rev1", update_revision="rev2", current_replicas=1, updated_replicas=1
    )
    res = run(spec, olds(2), status=st, paused=True)
    assert [c.revision for c in creates(res)] == ["rev1", "rev2", "rev2", "rev2"]


def test_scale_out_paused_third_revision_counts_as_current():
    spec = ss_spec(4)
    st = StormServiceStatus(
        current_revision="rev1", update_revision="rev2", current_replicas=2, updated_replicas=2
    )
    live = [roleset("z", "rev0"), *olds(1), *news(1)]
    res = run(spec, live, status=st, paused=True)
    # (2, 2): at cur = 2 (rev0 + rev1) => 0, at upd = 1 => 1
    assert [c.revision for c in creates(res)] == ["rev2"]


def test_scale_out_paused_single_revision_is_case_a():
    res = run(ss_spec(3), news(1), two=False, paused=True)
    assert [c.revision for c in creates(res)] == ["rev2", "rev2"]


# ----------------------------------------------------------------------------- §3.3 scale in


def test_scale_in_old_and_not_ready_first():
    spec = ss_spec(2, 0, 1)  # minAvailable 1
    live = [
        roleset("old-r", "rev1", True),
        roleset("new-nr", "rev2", False),
        roleset("old-nr", "rev1", False),
        roleset("new-r", "rev2", True),
    ]
    res = run(spec, live)
    assert deletes(res) == ["old-nr", "old-r"]
    assert creates(res) == []


def test_scale_in_stops_at_first_ready_at_the_floor():
    # break (not skip) at the first ready RoleSet while readyCount <= minAvailable:
    # the not-ready updated RoleSets sorted behind it are kept
    spec = ss_spec(2, 1, 0)  # minAvailable 2
    live = olds(2) + news(2, ready=False)
    res = run(spec, live)
    assert deletes(res) == []
    assert creates(res) == []  # rollout: upd count 2 == E => no-op


def test_scale_in_single_revision_not_ready_first_then_floor():
    spec = ss_spec(3)  # minAvailable 2
    live = news(2, ready=False, prefix="nr") + news(3)
    res = run(spec, live, two=False)
    assert deletes(res) == ["nr1", "nr2"]
    live = news(5)
    assert deletes(run(spec, live, two=False)) == ["n1", "n2"]  # 5 -> 3 (ready 5 > 2)
    live = news(2) + news(2, ready=False, prefix="nr")
    # E 3: delete 1 not-ready only (diff 1)
    assert deletes(run(spec, live, two=False)) == ["nr1"]


def test_scale_in_paused_covered_by_not_ready_returns_no_scaling():
    # §3.3 case B quirk: deletes the first `diff` not-ready RoleSets and reports scaling=false
    spec = ss_spec(2, paused=True)
    live = olds(2) + news(1, ready=False)
    revs = [revision("rev1", 1, OLD_TEMPLATE), revision("rev2", 2, spec.template)]
    ss = ss_obj(spec, StormServiceStatus(current_revision="rev1", update_revision="rev2"))
    sync = sync_revision("svc", spec.template, revs, "rev1", 0)
    p = _Pass(ss, sync.current, sync.update, live, [], [], set(), {})
    assert p.scaling() is False
    assert [a.name for a in p.actions if isinstance(a, DeleteRoleSet)] == ["n1"]
    # the full pass issues the same delete (and no rollout while paused)
    res = run(spec, live)
    assert deletes(res) == ["n1"] and creates(res) == []


def test_scale_in_paused_proportional_without_guard():
    spec = ss_spec(2, paused=True)  # minAvailable 2 would forbid deleting ready ones
    live = olds(3) + news(1) + news(1, ready=False, prefix="nr")
    res = run(spec, live)
    # not-ready first, then (eCur, eUpd) = calculateReplicas(2, 3, 1) = (2, 0)
    assert deletes(res) == ["nr1", "o1", "n1"]
    assert creates(res) == []
    revs = [revision("rev1", 1, OLD_TEMPLATE), revision("rev2", 2, spec.template)]
    ss = ss_obj(spec, StormServiceStatus(current_revision="rev1", update_revision="rev2"))
    sync = sync_revision("svc", spec.template, revs, "rev1", 0)
    p = _Pass(ss, sync.current, sync.update, live, [], [], set(), {})
    assert p.scaling() is True


# ----------------------------------------------------------------------------- §3.4 rollout


def test_rollout_t1_pass1_delete_one_create_one():
    spec = ss_spec(3, 1, 1)  # minAvailable 2
    res = run(spec, olds(3))
    assert deletes(res) == ["o1"]
    assert [c.revision for c in creates(res)] == ["rev2"]


def test_rollout_t1_pass2_waits_for_terminating():
    spec = ss_spec(3, 1, 1)
    live = olds(1, deleting=True, prefix="t") + olds(2) + news(1, ready=False)
    res = run(spec, live)
    assert deletes(res) == [] and creates(res) == []


def test_rollout_t1_after_terminating_gone_scaling_creates():
    spec = ss_spec(3, 1, 1)
    res = run(spec, olds(2) + news(1, ready=False))
    assert deletes(res) == []
    assert [c.revision for c in creates(res)] == ["rev2"]  # min(1, 3 + 1 - 3)


def test_rollout_t1_scaling_removes_old_when_ready_above_floor():
    spec = ss_spec(3, 1, 1)
    live = olds(2) + news(1, ready=False)
    live = olds(2) + news(1) + news(1, ready=False, prefix="m")
    res = run(spec, live)
    assert deletes(res) == ["o1"]  # readyCount 3 > 2, diff 1
    assert creates(res) == []
    live = olds(2) + news(2, ready=False)
    assert deletes(run(spec, live)) == []  # readyCount 2 <= 2


def test_rollout_t2_defaults_one_at_a_time():
    spec = ss_spec(3)  # surge 0, unavailable 1, minAvailable 2
    res = run(spec, olds(3))
    assert deletes(res) == ["o1"] and creates(res) == []
    res = run(spec, olds(1, deleting=True, prefix="t") + olds(2))
    assert deletes(res) == [] and creates(res) == []
    res = run(spec, olds(2))  # the old one is gone: scaling creates min(1, 3 + 0 - 2)
    assert deletes(res) == [] and len(creates(res)) == 1
    res = run(spec, olds(2) + news(1, ready=False))
    assert deletes(res) == [] and creates(res) == []  # waits for the new one to be Ready
    res = run(spec, olds(2) + news(1))
    assert deletes(res) == ["o1"] and creates(res) == []


def test_rollout_t3_replicas_1_defaults_is_delete_first():
    spec = ss_spec(1)  # minAvailable 0
    res = run(spec, olds(1))
    assert deletes(res) == ["o1"] and creates(res) == []
    res = run(spec, olds(1, deleting=True))
    assert deletes(res) == [] and creates(res) == []
    assert len(creates(run(spec, []))) == 1


def test_rollout_t3_replicas_1_surge_1_is_create_first():
    spec = ss_spec(1, 1)  # unavailable resolves 0, minAvailable 1
    res = run(spec, olds(1))
    assert deletes(res) == [] and len(creates(res)) == 1
    res = run(spec, olds(1) + news(1, ready=False))
    assert deletes(res) == [] and creates(res) == []
    res = run(spec, olds(1) + news(1))
    assert deletes(res) == ["o1"] and creates(res) == []  # scaling: readyCount 2 > 1


def test_rollout_t4_percentages():
    spec = ss_spec(10, "25%", "20%")  # surge 3, unavailable 2, minAvailable 8
    res = run(spec, olds(10))
    assert deletes(res) == ["o1", "o2"]
    assert len(creates(res)) == 3
    live = olds(2, deleting=True, prefix="t") + olds(8) + news(3, ready=False)
    res = run(spec, live)
    assert deletes(res) == [] and creates(res) == []
    res = run(spec, olds(8) + news(3, ready=False))
    assert deletes(res) == [] and len(creates(res)) == 2  # min(13 - 11, 7)


def test_rollout_deletes_every_not_ready_outdated():
    # §3.4 step 3: no cap from diff; not-ready outdated ones always go
    spec = ss_spec(3)
    live = olds(3, ready=False)
    res = run(spec, live)
    assert deletes(res) == ["o1", "o2", "o3"]
    assert creates(res) == []  # min(3 + 0 - 3, 3)
    res = run(ss_spec(3, 2), olds(2) + olds(1, ready=False, prefix="x"))
    # not-ready first, then ready ones while readyCount > minAvailable (3 - 0 = 3): none
    assert deletes(res) == ["x1"]
    assert len(creates(res)) == 2  # min(3 + 2 - 3, 3 - 0)


def test_rollout_surge_counts_all_before_deletions():
    spec = ss_spec(3, 1, 1)
    live = olds(1, deleting=True, prefix="t") + olds(3)  # active 3, all 4
    res = run(spec, live)
    assert deletes(res) == ["o1"]
    assert creates(res) == []  # min(3 + 1 - 4, 3)


def test_rollout_noop_when_update_count_incl_terminating_is_replicas():
    spec = ss_spec(2, 1, 1)
    live = news(1) + news(1, deleting=True, prefix="t") + olds(1)
    res = run(spec, live)
    assert deletes(res) == [] and creates(res) == []


def test_rollout_skipped_while_paused():
    res = run(ss_spec(3, 1, 1), olds(3), paused=True)
    assert deletes(res) == [] and creates(res) == []


def test_scaling_pass_does_no_rollout():
    # §3.1: a pass does either scaling or rollout work
    spec = ss_spec(4, 1, 1)
    res = run(spec, olds(3))
    assert deletes(res) == []  # rollout would have deleted one old ready RoleSet
    assert len(creates(res)) == 1


# ----------------------------------------------------------------------------- §3.5 in place


def test_in_place_update_overwrites_every_outdated_roleset():
    spec = ss_spec(3, 2, 2, type="InPlaceUpdate")
    live = olds(2) + olds(1, deleting=True, prefix="t") + news(1)
    res = run(spec, live)
    ups = [a for a in res.actions if isinstance(a, UpdateRoleSet)]
    assert [u.name for u in ups] == ["o1", "o2", "t1"]  # terminating included
    assert all(u.revision == "rev2" and u.spec == spec.template.spec for u in ups)
    assert deletes(res) == [] and creates(res) == []
    assert res.status is not None and res.status.updated_replicas == 4


def test_in_place_update_scaling_has_no_surge_and_no_guard():
    spec = ss_spec(3, 2, 2, type="InPlaceUpdate")
    live = news(1) + news(1, deleting=True, prefix="t")
    assert len(creates(run(spec, live, two=False))) == 1  # 3 - |all|
    res = run(spec, news(5), two=False)
    assert deletes(res) == ["n1", "n2"]  # MinAvailable 0: ready ones go freely


# ----------------------------------------------------------------------------- §3.7 status


def test_status_counts_and_current_revision():
    spec = ss_spec(3, 1, 1)
    live = olds(1, deleting=True, prefix="t") + olds(2) + news(1, ready=False)
    res = run(spec, live)
    st = res.status
    assert st is not None
    assert st.replicas == 4  # terminating included
    assert st.ready_replicas == 3 and st.not_ready_replicas == 1  # the terminating one too
    assert st.current_replicas == 3
    assert st.updated_replicas == 1
    assert st.updated_ready_replicas == 0
    assert st.current_revision == "rev1" and st.update_revision == "rev2"
    assert st.conditions == (Condition(PROGRESSING, "True", "Processing"),)
    assert st.scaling_target_selector == "storm-service-name=svc"
    assert res.requeue_after == REQUEUE_NOT_READY_S


def test_status_current_revision_advances_only_when_no_roleset_carries_it():
    spec = ss_spec(2, 1, 1)
    res = run(spec, olds(1, deleting=True) + news(2))
    assert res.status is not None
    assert res.status.current_revision == "rev1"  # a terminating RoleSet still carries it
    assert res.status.current_replicas == 1
    assert not res.status.ready
    res = run(spec, news(2))
    assert res.status is not None
    assert res.status.current_revision == "rev2"
    assert res.status.current_replicas == 2  # := updatedReplicas
    assert res.status.ready
    assert res.status.conditions == (Condition(READY, "True", "Ready"),)
    assert res.requeue_after is None


def test_status_sees_own_creates_as_vacuously_updated():
    res = run(ss_spec(2), [], two=False)
    st = res.status
    assert st is not None
    assert len(creates(res)) == 2
    assert st.replicas == 2 and st.updated_replicas == 2 and st.ready_replicas == 0
    assert not st.ready


def test_status_sees_own_deletes_as_terminating():
    res = run(ss_spec(1), news(2), two=False)
    assert deletes(res) == ["n1"]
    assert res.status is not None and res.status.replicas == 2  # still counted
    assert not res.status.ready


def test_status_updated_requires_all_roles_updated():
    spec = ss_spec(2, roles=[role("r", 2)])
    spec_rs = spec.template.spec
    half = roleset("h", "rev2", True, spec=spec_rs, roles=[rstat("r", 2, 2, 0, 1, 1)])
    full = roleset("f", "rev2", True, spec=spec_rs, roles=[rstat("r", 2, 2, 0, 2, 2)])
    res = run(spec, [half, full], two=False)
    st = res.status
    assert st is not None
    assert st.updated_replicas == 1 and st.updated_ready_replicas == 1
    assert not st.ready  # updatedReplicas != replicas
    assert st.role_statuses == (rstat("r", 4, 4, 0, 4, 4),)


@pytest.mark.parametrize(
    ("live", "ready"),
    [
        (lambda: news(3), True),
        (lambda: news(2) + news(1, ready=False, prefix="x"), False),  # readyReplicas < E
        (lambda: news(4), None),  # scaling deletes: replicas 4 != 3 in the status step
        (lambda: [*news(3), roleset("rs-other", "rev9")], None),
    ],
)
def test_status_ready_conditions(live, ready):
    res = run(ss_spec(3), live(), two=False)
    st = res.status
    assert st is not None
    assert st.ready is bool(ready)


def test_status_unchanged_is_not_rewritten():
    spec = ss_spec(2)
    first = run(spec, news(2), two=False)
    assert first.status is not None
    again = run(spec, news(2), two=False, status=first.status)
    assert again.status is None
    assert again.actions == []


def test_status_observed_generation_and_collision_count():
    spec = ss_spec(1)
    ss = ss_obj(spec, StormServiceStatus(collision_count=3), generation=7)
    res = reconcile_stormservice(ss, [], [])
    assert isinstance(res.status, StormServiceStatus)
    assert res.status.observed_generation == 7
    assert res.status.collision_count == 3


# ----------------------------------------------------------------------------- §3.1/§3.8/§5.5


def test_first_pass_adds_finalizer_creates_revision_and_rolesets():
    spec = ss_spec(2)
    res = reconcile_stormservice(ss_obj(spec, None, finalizer=False), [], [])
    kinds = [type(a) for a in res.actions]
    assert kinds[0] is SetFinalizer and res.actions[0] == SetFinalizer("StormService", "svc", True)
    assert kinds.count(CreateRevision) == 1
    assert kinds.count(CreateRoleSet) == 2
    assert isinstance(res.status, StormServiceStatus)
    assert res.status.current_revision == res.status.update_revision


def test_deletion_deletes_rolesets_then_drops_finalizer():
    spec = ss_spec(2)
    live = news(2) + news(1, deleting=True, prefix="t")
    res = reconcile_stormservice(ss_obj(spec, deleting=True), [], live)
    assert res.actions == [DeleteRoleSet("n1"), DeleteRoleSet("n2")]
    assert res.requeue_after == REQUEUE_NOT_READY_S
    res = reconcile_stormservice(ss_obj(spec, deleting=True), [], [])
    assert res.actions == [SetFinalizer("StormService", "svc", False)]


def test_history_truncation_keeps_live_revisions():
    spec = ss_spec(2, history=1)
    revs = [revision(f"h{i}", i, template(role(image=f"v{i}"))) for i in range(1, 5)]
    revs.append(revision("cur", 5, spec.template))
    live = [roleset("a", "h2"), roleset("b", "cur")]
    st = StormServiceStatus(current_revision="h2", update_revision="cur")
    res = reconcile_stormservice(ss_obj(spec, st), revs, live)
    # live: h2 (current and labelled), cur; non-live h1, h3, h4 -> keep 1 (h4)
    assert [a.name for a in res.actions if isinstance(a, DeleteRevision)] == ["h1", "h3"]


def test_rollback_makes_old_rolesets_updated_at_once():
    # §5.3: re-applying an old template bumps that revision; RoleSets still labelled with it
    # immediately count as updated, and the others are the outdated ones
    spec = ss_spec(2, 1, 1)
    revs = [revision("rev1", 1, spec.template), revision("rev2", 2, OLD_TEMPLATE)]
    st = StormServiceStatus(current_revision="rev2", update_revision="rev2")
    live = olds(1) + news(1)  # o1 at rev1 (the rolled-back-to revision), n1 at rev2
    res = reconcile_stormservice(ss_obj(spec, st), revs, live)
    assert SetRevisionNumber("rev1", 3) in res.actions
    assert isinstance(res.status, StormServiceStatus)
    assert res.status.update_revision == "rev1"
    assert res.status.current_revision == "rev2"
    # o1 plus the RoleSet this pass creates (vacuously updated, no status yet)
    assert res.status.updated_replicas == 2
    # rollout: n1 (now outdated) is deleted within the budget, one rev1 RoleSet created
    assert deletes(res) == ["n1"]
    assert [c.revision for c in creates(res)] == ["rev1"]


def test_rollback_to_current_writes_the_pre_bump_role_revision_number():
    # a rollout rev1 -> rev2 is under way (rev1 still current) when the template goes back
    # to rev1: syncRevision bumps rev1 to 3 but takes the current revision from the list as
    # read (number 1), so the RoleSet this pass creates is annotated role-revision.r = 1
    # (computeRoleRevisions: unchanged role -> current CR), not 3
    spec = ss_spec(3, 1, 1)
    revs = [revision("rev1", 1, spec.template), revision("rev2", 2, OLD_TEMPLATE)]
    st = StormServiceStatus(current_revision="rev1", update_revision="rev2")
    live = olds(2) + news(1, ready=False)
    res = reconcile_stormservice(ss_obj(spec, st), revs, live)
    assert SetRevisionNumber("rev1", 3) in res.actions
    assert deletes(res) == ["n1"]
    (c,) = creates(res)
    assert c.revision == "rev1"
    assert c.role_revisions == {"r": (1, "rev1")}
