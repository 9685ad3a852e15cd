"""Stateful role syncer: fixed slots (spec §4.6, §4.9, §9.1 item 11)."""

from __future__ import annotations

from stormsim.control.objects import CreatePod, DeletePod
from stormsim.control.roleset import STATEFUL, stateful_pod_name, syncer_for

from .builders import NEW, OLD, ctx, failed, pod, role


def created(c):
    return [a for a in c.actions if isinstance(a, CreatePod)]


def deleted(c):
    return [a.name for a in c.actions if isinstance(a, DeletePod)]


def slot_pods(n, **kw):
    return [pod(f"s{i}", slot=i, **kw) for i in range(n)]


def test_syncer_selection():
    assert syncer_for(role("r", 1, stateful=True)) is STATEFUL
    assert syncer_for(role("r", 1, stateful=False)) is not STATEFUL
    assert syncer_for(role("r", 1, stateful=False, group_size=2)) is STATEFUL


def test_stateful_pod_name():
    assert stateful_pod_name("rs", "prefill", "abc123", 2) == "rs-prefill-abc123-2"
    long = stateful_pod_name("x" * 60, "decode", "abc123", 0)
    assert len(long) == 63 and long[0] == "x" and long.endswith("-decode-abc123-0")


# ----------------------------------------------------------------------------- Scale


def test_scale_fills_empty_slots_lowest_first_with_names():
    r = role("r", 3, stateful=True)
    c = ctx(r, [], rs_name="rs")
    assert STATEFUL.scale(c)
    got = [(a.slot, a.name, a.template_hash) for a in created(c)]
    assert got == [(i, f"rs-r-{NEW}-{i}", NEW) for i in range(3)]


def test_scale_create_budget_counts_terminating():
    r = role("r", 3, stateful=True)  # surge 0
    ps = [pod("a", slot=0), pod("b", slot=1, deleting=True)]
    c = ctx(r, ps)
    STATEFUL.scale(c)
    assert [a.slot for a in created(c)] == [1]  # budget 3 + 0 - 1 - 1 = 1, lowest empty slot
    c = ctx(role("r", 3, 1, stateful=True), ps)
    STATEFUL.scale(c)
    assert [a.slot for a in created(c)] == [1, 2]


def test_scale_down_deletes_all_slots_above_replicas_at_once():
    # regardless of readiness and maxUnavailable
    r = role("r", 2, 1, 0, stateful=True)
    ps = slot_pods(5, hash=NEW)
    c = ctx(r, ps)
    assert STATEFUL.scale(c)
    assert deleted(c) == ["s2", "s3", "s4"]
    assert created(c) == []


def test_scale_deletes_unslotted_and_terminated():
    r = role("r", 2, stateful=True)
    ps = [*slot_pods(2, hash=NEW), pod("noslot", hash=NEW), failed(name="f", slot=1)]
    c = ctx(r, ps)
    assert STATEFUL.scale(c)
    assert sorted(deleted(c)) == ["f", "noslot"]


def test_scale_slot_with_updated_ready_keeps_only_it():
    r = role("r", 1, 1, 0, stateful=True)
    ps = [
        pod("old-r", slot=0, hash=OLD),
        pod("old-nr", slot=0, hash=OLD, ready=False),
        pod("new-r1", slot=0, hash=NEW),
        pod("new-r2", slot=0, hash=NEW),
        pod("new-nr", slot=0, hash=NEW, ready=False),
    ]
    c = ctx(r, ps)
    assert STATEFUL.scale(c)
    assert sorted(deleted(c)) == ["new-nr", "new-r2", "old-nr", "old-r"]


def test_scale_slot_without_updated_ready_keeps_one_of_each():
    r = role("r", 1, 1, 0, stateful=True)
    ps = [
        pod("old-r1", slot=0, hash=OLD),
        pod("old-r2", slot=0, hash=OLD),
        pod("old-nr", slot=0, hash=OLD, ready=False),
        pod("new-nr1", slot=0, hash=NEW, ready=False),
        pod("new-nr2", slot=0, hash=NEW, ready=False),
    ]
    c = ctx(r, ps)
    assert STATEFUL.scale(c)
    assert sorted(deleted(c)) == ["new-nr2", "old-nr", "old-r2"]


def test_scale_surge_pair_waits_for_new_pod():
    r = role("r", 1, 1, 0, stateful=True)
    ps = [pod("old", slot=0, hash=OLD), pod("new", slot=0, hash=NEW, ready=False)]
    c = ctx(r, ps)
    assert not STATEFUL.scale(c)
    ps = [pod("old", slot=0, hash=OLD), pod("new", slot=0, hash=NEW)]
    c = ctx(r, ps)
    assert STATEFUL.scale(c)
    assert deleted(c) == ["old"]


# ----------------------------------------------------------------------------- Rollout


def test_rollout_delete_first_with_unavailable():
    r = role("r", 3, 0, 1, stateful=True)
    ps = slot_pods(3, hash=OLD)
    c = ctx(r, ps)
    STATEFUL.rollout(c)
    assert deleted(c) == ["s0"]  # lowest slot first; budget 3 - 3 + 1 = 1
    assert created(c) == []  # createBudget 3 + 0 - 3 = 0
    # Scale re-creates the slot only once the old pod is fully gone
    ps2 = [pod("s0", slot=0, hash=OLD, deleting=True), *ps[1:]]
    c = ctx(r, ps2)
    assert not STATEFUL.scale(c)
    c = ctx(r, ps[1:])
    assert STATEFUL.scale(c)
    assert [(a.slot, a.template_hash) for a in created(c)] == [(0, NEW)]


def test_rollout_surge_beside_with_zero_unavailable():
    r = role("r", 3, 1, 0, stateful=True)
    ps = slot_pods(3, hash=OLD)
    c = ctx(r, ps)
    STATEFUL.rollout(c)
    assert deleted(c) == []
    assert [(a.slot, a.name) for a in created(c)] == [(0, f"rs-r-{NEW}-0")]


def test_rollout_lowest_slots_first_with_larger_budget():
    r = role("r", 4, 0, 2, stateful=True)
    c = ctx(r, slot_pods(4, hash=OLD))
    STATEFUL.rollout(c)
    assert deleted(c) == ["s0", "s1"]


def test_rollout_not_ready_outdated_slot_deleted_regardless_of_budget():
    r = role("r", 3, 0, 1, stateful=True)
    ps = [pod("s0", slot=0), pod("s1", slot=1, ready=False), pod("s2", slot=2, ready=False)]
    c = ctx(r, ps)
    STATEFUL.rollout(c)
    # readySlots 1: deleteBudget 1 - 3 + 1 < 0, but not-ready outdated pods always go
    assert deleted(c) == ["s1", "s2"]


def test_rollout_skips_slots_with_zero_or_several_pods_and_updated_ones():
    r = role("r", 3, 1, 1, stateful=True)
    ps = [
        pod("a", slot=0, hash=OLD),
        pod("b", slot=0, hash=NEW, ready=False),
        pod("c", slot=2, hash=NEW),
    ]
    c = ctx(r, ps)
    STATEFUL.rollout(c)
    assert c.actions == []


def test_rollout_create_budget_counts_all_pods():
    # createBudget = R + surge - |all pods| (terminated and terminating included)
    r = role("r", 2, 1, 0, stateful=True)
    ps = [*slot_pods(2, hash=OLD), failed(name="f", slot=5)]
    c = ctx(r, ps)
    STATEFUL.rollout(c)
    assert c.actions == []
    c = ctx(r, slot_pods(2, hash=OLD))
    STATEFUL.rollout(c)
    assert [a.slot for a in created(c)] == [0]


def test_rollout_by_step_limits_to_target():
    r = role("r", 4, 1, 1, stateful=True)  # L = 2
    c = ctx(r, slot_pods(4, hash=OLD))
    STATEFUL.rollout_by_step(c, 1)
    # target 2: deleteBudget min(1, 4 - 4 + 2) = 1 (slot 0), createBudget min(1, 2) (slot 1)
    assert deleted(c) == ["s0"]
    assert [a.slot for a in created(c)] == [1]
    ps = [pod("n0", slot=0, hash=NEW), pod("n1", slot=1, hash=NEW), *slot_pods(4)[2:]]
    c = ctx(r, ps)
    assert not STATEFUL.rollout_by_step(c, 1)


# ----------------------------------------------------------------------------- readiness


def test_all_ready_and_check_current_step():
    r = role("r", 2, 0, 1, stateful=True)  # L = 1
    done = [pod("a", slot=0, hash=NEW), pod("b", slot=1, hash=NEW)]
    assert STATEFUL.all_ready(ctx(r, done))
    assert STATEFUL.check_current_step(ctx(r, done))[0] is True
    pair = [*done, pod("c", slot=1, hash=OLD)]
    assert not STATEFUL.all_ready(ctx(r, pair))
    unslotted = [*done, pod("d", hash=NEW)]
    assert not STATEFUL.all_ready(ctx(r, unslotted))
    assert STATEFUL.check_current_step(ctx(r, unslotted))[0] is False
    olds = [pod("a", slot=0, hash=OLD), pod("b", slot=1, hash=OLD)]
    assert STATEFUL.check_current_step(ctx(r, olds)) == (False, 1)
    stall = [pod("a", slot=0, hash=OLD), pod("b", slot=1, hash=OLD, ready=False)]
    assert STATEFUL.check_current_step(ctx(r, stall)) == (False, 0)
    half = [pod("a", slot=0, hash=NEW), pod("b", slot=1, hash=OLD)]
    assert STATEFUL.check_current_step(ctx(r, half)) == (False, 2)
