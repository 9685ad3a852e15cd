"""Stateless role syncer (spec §4.5, §8.8 without the in-place rows)."""

from __future__ import annotations

import pytest

from stormsim.control.objects import CreatePod, DeletePod
from stormsim.control.roleset import STATELESS, go_div

from .builders import NEW, OLD, ctx, failed, pod, pods, role


def created(c):
    return [a for a in c.actions if isinstance(a, CreatePod)]


def deleted(c):
    return [a.name for a in c.actions if isinstance(a, DeletePod)]


def apply(c, ps):
    """The pods after c's actions: deleted ones vanish, created ones appear (not ready)."""
    gone = set(deleted(c))
    out = [p for p in ps if p.name not in gone]
    out += [pod(hash=a.template_hash, ready=False) for a in created(c)]
    return out


# ----------------------------------------------------------------------------- Scale


def _scale_rows():
    o_r = {"hash": OLD, "ready": True}
    o_nr = {"hash": OLD, "ready": False}
    return [
        # (#, R, surge, unav, pods, creates, deletes (count), changed)
        (1, 3, "25%", "25%", [], 3, 0, True),
        (2, 2, "25%", "25%", pods(5, **o_r), 0, 3, True),
        (3, 2, "25%", "25%", pods(2, **o_r), 0, 0, False),
        (4, 2, "25%", "25%", [*pods(2, **o_r), failed(name="f")], 0, 1, True),
        (5, 3, 0, 1, [*pods(2, **o_r), *pods(2, **o_nr)], 0, 1, True),
        (6, 2, 1, 0, [*pods(2, **o_r), *pods(1, **o_nr)], 0, 1, True),
        (7, 2, 0, 1, pods(4, **o_nr), 0, 2, True),
        (8, 2, 1, 0, [*pods(2, **o_r), pod(hash=NEW, ready=False)], 0, 0, False),
        (9, 5, 0, 0, [*pods(2, **o_r), failed(name="f")], 3, 1, True),
    ]


@pytest.mark.parametrize(
    ("row", "r", "surge", "unav", "ps", "n_create", "n_delete", "changed"),
    _scale_rows(),
    ids=[f"row{r[0]}" for r in _scale_rows()],
)
def test_scale_table(row, r, surge, unav, ps, n_create, n_delete, changed):
    # TestStatelessRoleSyncer_Scale
    c = ctx(role("r", r, surge, unav), ps)
    assert STATELESS.scale(c) is changed
    assert len(created(c)) == n_create
    assert len(deleted(c)) == n_delete
    assert all(a.template_hash == NEW and a.slot is None and a.name is None for a in created(c))
    failed_pods = [p.name for p in ps if p.phase == "Failed"]
    assert set(failed_pods) <= set(deleted(c))
    if row in (5, 6, 7):
        # the deleted pods are not-ready ones (trimmed before the floor is consulted)
        by = {p.name: p for p in ps}
        assert all(not by[n].ready for n in deleted(c))


def test_scale_down_order_outdated_not_ready_newest_first():
    r = role("r", 1, 0, 3)  # unav capped at 1: minAvailable 0
    ps = [
        pod("new-ready", hash=NEW, created_at=1),
        pod("old-ready-older", created_at=2),
        pod("old-ready-newer", created_at=3),
        pod("old-nr", ready=False, created_at=4),
        pod("new-nr", hash=NEW, ready=False, created_at=5),
    ]
    c = ctx(r, ps)
    assert STATELESS.scale(c)
    assert deleted(c) == ["old-nr", "old-ready-newer", "old-ready-older", "new-nr"]


def test_scale_up_budget_counts_terminating():
    r = role("r", 4, 1, 0)  # surge 1
    ps = [pod(), pod(deleting=True), pod(deleting=True)]
    c = ctx(r, ps)
    assert STATELESS.scale(c)
    assert len(created(c)) == 2  # min(3, 4 + 1 - 1 - 2)
    c = ctx(role("r", 4, 0, 1), [pod(), *pods(3, deleting=True)])
    assert not STATELESS.scale(c)  # 4 + 0 - 1 - 3 = 0
    assert c.actions == []


def test_scale_breaks_stall_on_not_ready_surge_during_scale_down():
    # TestStatelessRoleSyncer_Scale_BreakStallsOnNotReadySurgeDuringScaleDown
    r = role("r", 2, 1, 0)
    ps = [*pods(3, hash=OLD, ready=True), pod("surge", hash=NEW, ready=False)]
    for _ in range(3):
        c = ctx(r, ps)
        STATELESS.scale(c)
        ps = apply(c, ps)
    assert len(ps) == 3
    assert "surge" in {p.name for p in ps}
    ps = [pod("surge", hash=NEW, ready=True) if p.name == "surge" else p for p in ps]
    c = ctx(r, ps)
    assert STATELESS.scale(c)
    ps = apply(c, ps)
    assert len(ps) == 2
    assert "surge" in {p.name for p in ps}


# ----------------------------------------------------------------------------- Rollout


def _rollout_rows():
    return [
        (1, 1, 1, [*pods(3, hash=OLD)], 1, 1),
        (2, 1, 1, [pod(hash=NEW), *pods(2, hash=OLD)], 1, 1),
        (3, 1, 1, pods(3, hash=NEW), 0, 0),
        (4, 1, 1, [pod(hash=NEW), pod(hash=OLD, ready=False), pod(hash=OLD)], 1, 1),
        (5, 1, 1, [*pods(2, hash=OLD), failed(name="f")], 2, 0),
        (6, 0, 1, pods(3, hash=OLD), 0, 1),
        (7, 1, 0, pods(3, hash=OLD), 1, 0),
    ]


@pytest.mark.parametrize(
    ("row", "surge", "unav", "ps", "n_create", "n_delete"),
    _rollout_rows(),
    ids=[f"row{r[0]}" for r in _rollout_rows()],
)
def test_rollout_table(row, surge, unav, ps, n_create, n_delete):
    # TestStatelessRoleSyncer_Rollout (R = 3)
    c = ctx(role("r", 3, surge, unav), ps)
    STATELESS.rollout(c)
    assert len(created(c)) == n_create
    assert len(deleted(c)) == n_delete
    by = {p.name: p for p in ps}
    assert all(by[n].template_hash == OLD for n in deleted(c))
    if row == 4:
        assert not by[deleted(c)[0]].ready  # the not-ready old one
    if row == 5:
        assert "f" not in deleted(c)  # the Failed pod is left to Scale


def test_rollout_not_ready_old_pods_at_availability_floor():
    # TestStatelessRoleSyncer_Rollout_NotReadyOldPodsAtAvailabilityFloor
    r = role("r", 3, 1, 0)
    ps = [pod("a"), pod("b"), pod("pending", ready=False)]
    c = ctx(r, ps)
    STATELESS.rollout(c)
    assert deleted(c) == ["pending"]
    assert len(created(c)) == 1
    assert len(apply(c, ps)) == 3


def test_rollout_deletes_newest_ready_outdated_first():
    r = role("r", 3, 0, 2)
    ps = [pod("o1", created_at=1), pod("o2", created_at=2), pod("o3", created_at=3)]
    c = ctx(r, ps)
    STATELESS.rollout(c)
    assert deleted(c) == ["o3", "o2"]
    assert created(c) == []  # min(3 + 0 - 3 - 0, 3)


# ----------------------------------------------------------------------------- steps


@pytest.mark.parametrize(("a", "b", "q"), [(-1, 1, -1), (-1, 2, 0), (-1, 3, 0), (7, 2, 3)])
def test_go_div_truncates_toward_zero(a, b, q):
    assert go_div(a, b) == q
    assert go_div(-a, b) == -q


def test_check_current_step_go_truncation():
    # u = 0: L = 1 gives step 0, L = 2 gives step 1 (trunc(-1/2) = 0); no increment applies
    # (pods not ready; uA = 0; oA = R)
    c1 = ctx(role("r", 3, 0, 1), [*pods(2, hash=OLD), pod(hash=OLD, ready=False)])
    assert STATELESS.check_current_step(c1) == (False, 0)
    c2 = ctx(role("r", 4, 1, 1), [*pods(3, hash=OLD), pod(hash=OLD, ready=False)])
    assert c2.L == 2
    assert STATELESS.check_current_step(c2) == (False, 1)


@pytest.mark.parametrize(
    ("ps", "expected"),
    [
        # L = 1, R = 3
        (lambda: pods(3, hash=OLD), (False, 1)),  # u=0: step 0, +1 (all ready, u == 0)
        (lambda: [pod(hash=NEW), *pods(2, hash=OLD)], (False, 2)),  # u=1 -> 1, +1
        (lambda: [pod(hash=NEW), pod(hash=NEW, ready=False), pod(hash=OLD)], (False, 2)),
        (lambda: [pod(hash=NEW), *pods(2, hash=OLD, deleting=True)], (False, 2)),  # oA<R-L
        (lambda: pods(3, hash=NEW), (True, 4)),
    ],
)
def test_check_current_step_increments(ps, expected):
    c = ctx(role("r", 3, 0, 1), ps())
    assert STATELESS.check_current_step(c) == expected


def test_all_ready():
    r = role("r", 2, 0, 1)
    assert STATELESS.all_ready(ctx(r, pods(2, hash=NEW)))
    assert not STATELESS.all_ready(ctx(r, [*pods(2, hash=NEW), pod(hash=OLD)]))  # ready old
    assert not STATELESS.all_ready(ctx(r, [*pods(2, hash=NEW), failed()]))  # inactive
    assert not STATELESS.all_ready(ctx(r, [*pods(2, hash=NEW), pod(hash=NEW, deleting=True)]))
    assert not STATELESS.all_ready(ctx(r, [pod(hash=NEW), pod(hash=NEW, ready=False)]))
    assert not STATELESS.all_ready(ctx(r, pods(3, hash=NEW)))  # |updated ready| != R
    assert not STATELESS.all_ready(ctx(r, pods(1, hash=NEW)))


def test_rollout_by_step_limits_to_target():
    r = role("r", 4, 1, 1)  # L = 2
    ps = pods(4, hash=OLD)
    c = ctx(r, ps)
    STATELESS.rollout_by_step(c, 1)
    # target 2: deleteBudget = min(4 - 4 + 2, 4 - 4 + 1) = 1; create min(4+1-4-0, 2-0) = 1
    assert len(deleted(c)) == 1 and len(created(c)) == 1
    c = ctx(r, [*pods(2, hash=NEW), *pods(2, hash=OLD)])
    assert not STATELESS.rollout_by_step(c, 1)  # |updated| >= target
    assert c.actions == []


def test_rollout_by_step_deletes_not_ready_outdated_beyond_step():
    # step 4: not-ready outdated pods are deleted unconditionally (ignores the step limit)
    r = role("r", 4, 0, 1)  # L = 1
    ps = [pod(hash=NEW, ready=False), *pods(3, hash=OLD, ready=False)]
    c = ctx(r, ps)
    STATELESS.rollout_by_step(c, 2)
    assert len(deleted(c)) == 3
    assert len(created(c)) == 0  # min(4 + 0 - 4 - 0, 2 - 1) = 0


def test_rollout_by_step_zero_does_nothing():
    c = ctx(role("r", 3, 0, 1), [*pods(2, hash=OLD), pod(hash=OLD, ready=False)])
    assert not STATELESS.rollout_by_step(c, 0)
    assert c.actions == []
