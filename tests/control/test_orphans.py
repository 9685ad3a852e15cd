"""Switching ``podGroupSize`` across 1 (spec §4.4, §8.9 orphan_cleanup_test): a role first
deletes the objects of the other syncer, which is its scaling for that pass; other roles
scale as usual in the same pass."""

from __future__ import annotations

from stormsim.control.objects import CreatePod, CreatePodSet, DeletePod, DeletePodSet, PodSet
from stormsim.control.roleset import sync_pods

from .builders import pod, role, roleset, rs_spec


def test_orphan_pods_of_a_podset_role_are_deleted_and_nothing_created_for_it() -> None:
    spec = rs_spec(role("grp", 1, group_size=3), role("web", 2))
    rs = roleset("rs", spec=spec)
    orphans = [pod(role="grp", roleset="rs"), pod(role="grp", roleset="rs")]
    actions = sync_pods(rs, orphans)
    deleted = {a.name for a in actions if isinstance(a, DeletePod)}
    assert deleted == {p.name for p in orphans}
    assert not any(isinstance(a, CreatePodSet) for a in actions)  # not in this pass
    # the other role is not held back: it scales in the same pass
    assert sum(isinstance(a, CreatePod) and a.role == "web" for a in actions) == 2


def test_without_orphans_the_podset_role_creates_its_podset() -> None:
    spec = rs_spec(role("grp", 1, group_size=3))
    actions = sync_pods(roleset("rs", spec=spec), [])
    assert [type(a) for a in actions] == [CreatePodSet]


def test_terminating_orphans_are_deleted_again_and_still_count_as_scaling() -> None:
    """cleanupOrphanPods (pkg/controller/roleset/utils.go) deletes every orphan it lists,
    terminating ones included (the DELETE succeeds), so it reports "cleaned" until the old
    pods are gone: no PodSet is created and no role rolls out while they terminate."""
    web = role("web", 1)
    spec = rs_spec(role("grp", 1, group_size=3), web)
    rs = roleset("rs", spec=spec, hashes={"grp": "h", "web": "new"})
    orphans = [pod(role="grp", roleset="rs", deleting=True, ready=False)]
    outdated_web = pod(role="web", roleset="rs", hash="old")
    actions = sync_pods(rs, [*orphans, outdated_web])
    assert actions == [DeletePod(orphans[0].name)]  # web's outdated pod waits


def test_terminating_orphan_podsets_block_the_new_pods() -> None:
    """cleanupOrphanPodSets: the same for PodSets left by a podGroupSize > 1 role that
    became a pod role; its pods are created only once the old PodSets are gone."""
    spec = rs_spec(role("r", 2))
    rs = roleset("rs", spec=spec)
    old = PodSet("rs-r-x-0", "rs", "r", "x", "rev", 0, 2, 0.0, 1, finalizer=True, deleting=True)
    assert sync_pods(rs, [], [old]) == [DeletePodSet(old.name)]
    assert [type(a) for a in sync_pods(rs, [], [])] == [CreatePod, CreatePod]
