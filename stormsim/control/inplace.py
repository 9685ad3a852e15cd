"""Pod in-place updates (role ``updateStrategy.type: InPlaceIfPossible``; docs/aibrix/inplace.md).

An outdated pod is eligible when its template differs from the desired one only in the
images of regular containers (at least one differs; init-container images must not). Eligible
pods are patched in place under the role's unavailability budget: ready pods still in
progress consume it, not-ready candidates are patched for free. A patched pod completes when
it is Ready again running the new images; completion promotes its template-hash label.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from stormsim.control.objects import (
    Action,
    CompleteInPlace,
    PatchPodInPlace,
    Pod,
    RecordEvent,
    RoleSet,
)
from stormsim.schema.aibrix import PodTemplate, RoleSpec

IN_PLACE = "InPlaceIfPossible"


class InPlaceCtx(Protocol):
    rs: RoleSet
    role: RoleSpec
    h: str
    revision: str
    actions: list[Action]

    @property
    def template(self) -> PodTemplate: ...


def _without_images(t: PodTemplate) -> str:
    data: dict[str, Any] = t.dump()
    for c in data.get("spec", {}).get("containers", []):
        c.pop("image", None)
    return json.dumps(data, sort_keys=True)


def eligible(pod: Pod, desired: PodTemplate) -> bool:
    """Only regular container images differ, and at least one does.

    A pod still mid in-place update (``in_place_target`` set) is never eligible: it carries
    the in-place update state and pending-reason annotations, which the comparison does not
    strip (it strips only the target-hash annotation), so it differs from the pod the
    controller would render now (``canInPlaceUpdatePod`` / ``normalizePodForInPlaceComparison``
    in ``pkg/controller/roleset/inplace_update.go``). Callers skip pods whose target is the
    current hash (those are simply in progress), so this bites when the template changes
    again while a patch is still running: the role falls back to Recreate for that pass.
    """
    if pod.in_place_target is not None:
        return False
    current = pod.template
    if current is None:
        return False
    if current.images() == desired.images() and pod.images == desired.images():
        return False
    init_a = [c.get("image") for c in current.spec.get("initContainers") or []]
    init_b = [c.get("image") for c in desired.spec.get("initContainers") or []]
    if init_a != init_b:
        return False
    return _without_images(current) == _without_images(desired)


def all_eligible(c: InPlaceCtx, pods: Sequence[Pod]) -> bool:
    """Every pod not already being patched to the current hash is eligible; otherwise an
    ``InPlaceFallback`` event is recorded on the **RoleSet** (the involved object of the
    event AIBrix's syncers emit in ``pkg/controller/roleset/rolesyncer.go``, as for PodSet
    roles) naming the role and the first ineligible pod; the caller then recreates."""
    bad = [p for p in pods if p.in_place_target != c.h and not eligible(p, c.template)]
    if bad:
        why = (
            "in-place update annotations of an unfinished update"
            if bad[0].in_place_target is not None
            else "non-image pod fields changed"
        )
        c.actions.append(
            RecordEvent(
                "RoleSet",
                c.rs.name,
                "InPlaceFallback",
                f"role {c.role.name}, pod {bad[0].name}: {why}; falling back to Recreate",
            )
        )
        return False
    return True


def step_candidates(h: str, pods: Sequence[Pod], max_new: int) -> list[Pod]:
    """The pods an Interleave step of a slot-based role hands to the in-place step: every pod
    already being patched to ``h`` plus the first ``max_new`` other candidates of ``pods``
    **in the given (slot) order**, selected before any sorting. AIBrix's
    ``StatefulRoleSyncer.RolloutByStep`` (``pkg/controller/roleset/rolesyncer.go``) builds
    the outdated list slot by slot and truncates it this way, so slots update 0, 1, 2, ...;
    the Parallel/Sequential path instead sorts the whole list (newest first)."""
    out: list[Pod] = []
    new = 0
    for p in pods:
        if p.in_place_target == h:
            out.append(p)
        elif new < max_new:
            out.append(p)
            new += 1
    return out


def in_place_step(
    c: InPlaceCtx, pods: Sequence[Pod], budget: int, max_new: int | None = None
) -> None:
    """Settle patched pods, then patch new candidates within ``budget`` (and ``max_new``,
    applied after sorting: the stateless step; slot-based steps pre-select with
    :func:`step_candidates` instead). Candidates are taken not-ready first, newest first."""
    ordered = sorted(pods, key=lambda p: (p.created_at, p.seq), reverse=True)
    ordered.sort(key=lambda p: p.ready)
    for p in ordered:
        if p.in_place_target != c.h:
            continue
        if p.ready and p.in_place_running == c.h:
            c.actions.append(CompleteInPlace(p.name, c.h, c.revision))
        elif p.ready:
            budget -= 1
    new = 0
    for p in ordered:
        if p.in_place_target == c.h:
            continue
        if max_new is not None and new >= max_new:
            break
        if p.ready:
            if budget <= 0:
                continue
            budget -= 1
        c.actions.append(PatchPodInPlace(p.name, c.h, c.template.images(), c.template))
        new += 1
