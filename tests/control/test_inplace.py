"""In-place pod updates in the pure control layer (``InPlaceIfPossible``, spec §4.8).

Go sources: ``pkg/controller/roleset/inplace_update.go`` (``canInPlaceUpdatePod``,
``normalizePodForInPlaceComparison``) and the syncers' in-place paths in
``pkg/controller/roleset/rolesyncer.go``.
"""

from __future__ import annotations

from dataclasses import replace

from stormsim.control.inplace import IN_PLACE, all_eligible, eligible, step_candidates
from stormsim.control.objects import DeletePod, PatchPodInPlace, Pod, RecordEvent
from stormsim.control.roleset import STATEFUL, STATELESS, RoleCtx
from stormsim.schema.aibrix import RoleSpec

from .builders import NEW, pod, role, roleset, rs_spec


def _ip_role(replicas: int, image: str, *, stateful: bool = False, unav: int = 1) -> RoleSpec:
    data = role("r", replicas, stateful=stateful, image=image).dump()
    data["updateStrategy"] = {"type": IN_PLACE, "maxUnavailable": unav}
    return RoleSpec.model_validate(data)


def _with_template(p: Pod, r: RoleSpec, **kw: object) -> Pod:
    return replace(p, template=r.template, images=r.template.images(), **kw)


def _ctx(r: RoleSpec, pods: list[Pod]) -> RoleCtx:
    return RoleCtx(roleset("rs", spec=rs_spec(r), hashes={"r": NEW}), r, pods)


def test_image_only_change_is_eligible() -> None:
    old, new = _ip_role(1, "img:v1"), _ip_role(1, "img:v2")
    assert eligible(_with_template(pod(), old), new.template)


def test_no_image_change_is_not_eligible() -> None:
    r = _ip_role(1, "img:v1")
    assert not eligible(_with_template(pod(), r), r.template)


def test_pod_mid_in_place_update_is_not_eligible() -> None:
    """A pod patched to an earlier target still carries the in-place state and pending-reason
    annotations, which ``normalizePodForInPlaceComparison`` does not strip: not eligible,
    even though only the image differs from the newest template."""
    v2, v3 = _ip_role(1, "img:v2"), _ip_role(1, "img:v3")
    mid = _with_template(pod(ready=False), v2, in_place_target="hash-v2")
    assert not eligible(mid, v3.template)


def test_all_eligible_skips_pods_patched_to_the_current_hash() -> None:
    v1, v2 = _ip_role(2, "img:v1"), _ip_role(2, "img:v2")
    c = _ctx(v2, [])
    in_progress = _with_template(pod(ready=False), v2, in_place_target=NEW)
    waiting = _with_template(pod(), v1)
    assert all_eligible(c, [in_progress, waiting])
    assert c.actions == []


def test_template_change_mid_update_falls_back_to_recreate() -> None:
    """Stateless Rollout (``StatelessRoleSyncer.Rollout``): the mid-update pod (not Ready,
    patched to v2) makes the in-place path ineligible for v3, so the role recreates: the
    not-ready outdated pod is deleted unconditionally; the ready ones stay (delete budget
    ready 2 − R 3 + unav 1 = 0) and nothing is patched or created in this pass."""
    v1, v2, v3 = _ip_role(3, "img:v1"), _ip_role(3, "img:v2"), _ip_role(3, "img:v3")
    mid = _with_template(pod(ready=False), v2, in_place_target="hash-v2")
    others = [_with_template(pod(), v1) for _ in range(2)]
    c = _ctx(v3, [mid, *others])
    STATELESS.rollout(c)
    assert [type(a) for a in c.actions] == [RecordEvent, DeletePod]
    assert c.actions[1] == DeletePod(mid.name)
    assert not any(isinstance(a, PatchPodInPlace) for a in c.actions)


def test_step_candidates_keep_in_progress_and_first_in_order() -> None:
    a, b, c, d = pod(), pod(), pod(), pod()
    b = replace(b, in_place_target="h")
    assert step_candidates("h", [a, b, c, d], 1) == [a, b]
    assert step_candidates("h", [a, b, c, d], 0) == [b]
    assert step_candidates("h", [a, c], 5) == [a, c]


def _stateful_pods(r_old: RoleSpec, n: int) -> list[Pod]:
    # created together (same time): newest first = highest sequence = highest slot
    return [_with_template(pod(slot=i, created_at=0.0), r_old) for i in range(n)]


def test_stateful_interleave_step_patches_the_lowest_slot() -> None:
    """``StatefulRoleSyncer.RolloutByStep``: the outdated list is in slot order and is cut
    to ``target − updated`` before sorting, so step 1 patches slot 0."""
    v1, v2 = _ip_role(3, "img:v1", stateful=True), _ip_role(3, "img:v2", stateful=True)
    ps = _stateful_pods(v1, 3)
    c = _ctx(v2, ps)
    STATEFUL.rollout_by_step(c, 1)
    assert c.actions == [PatchPodInPlace(ps[0].name, NEW, v2.template.images(), v2.template)]


def test_stateful_parallel_rollout_sorts_newest_first() -> None:
    """``StatefulRoleSyncer.Rollout`` (Parallel/Sequential) sorts the whole list: the newest
    pod (here the highest slot) is patched first, under the delete budget 3 − 3 + 1 = 1."""
    v1, v2 = _ip_role(3, "img:v1", stateful=True), _ip_role(3, "img:v2", stateful=True)
    ps = _stateful_pods(v1, 3)
    c = _ctx(v2, ps)
    STATEFUL.rollout(c)
    assert c.actions == [PatchPodInPlace(ps[2].name, NEW, v2.template.images(), v2.template)]


def test_fallback_event_is_recorded_on_the_roleset() -> None:
    """The ``InPlaceFallback`` event's involved object is the RoleSet (as for PodSet roles),
    its message names the role and the first ineligible pod."""
    v1 = _ip_role(1, "img:v1")
    data = v1.dump()
    data["template"]["spec"]["containers"][0]["args"] = ["--changed"]
    changed = RoleSpec.model_validate(data)
    p = _with_template(pod(), v1)
    c = _ctx(changed, [p])
    assert not all_eligible(c, [p])
    (ev,) = c.actions
    assert isinstance(ev, RecordEvent)
    assert (ev.kind, ev.name, ev.reason) == ("RoleSet", "rs", "InPlaceFallback")
    assert ev.message.startswith(f"role r, pod {p.name}: non-image pod fields changed")
