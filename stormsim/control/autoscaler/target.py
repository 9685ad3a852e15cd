"""The scale target of a PodAutoscaler: current replicas, pod selection and the write
(AIBrix ``pkg/controller/podautoscaler/workload_scale.go``; ``podautoscaler_controller.go``
``getScaleResource``, ``buildScalingTargetKey``). Functions over plain snapshots."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol, TypeVar

from stormsim.schema.aibrix import StormService
from stormsim.schema.autoscaler import (
    FIXED_MATH,
    AutoscalingProfile,
    PodAutoscaler,
)

LABEL_STORM_SERVICE = "storm-service-name"
LABEL_ROLE = "role-name"
LABEL_POD_GROUP_INDEX = "stormservice.orchestration.aibrix.ai/pod-group-index"
LABEL_RAY_NODE_TYPE = "ray.io/node-type"


class TargetError(Exception):
    """The target cannot be read or written (AIBrix logs it and returns an error)."""


@dataclass(frozen=True)
class RoleView:
    """One role of a StormService: template ``replicas`` (per RoleSet), the status count
    (``status.roleStatuses[role].replicas``, summed over RoleSets; ``None`` when absent) and
    ``podGroupSize``."""

    name: str
    template_replicas: int | None
    status_replicas: int | None = None
    pod_group_size: int | None = None


@dataclass(frozen=True)
class TargetView:
    """The target object as the controller reads it. ``spec_replicas``: ``spec.replicas``
    (``None``: absent). ``selector``: match labels for generic kinds. ``paused``: a paused
    StormService (role writes are inert)."""

    kind: str
    name: str
    spec_replicas: int | None
    roles: tuple[RoleView, ...] = ()
    selector: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    paused: bool = False

    def role(self, name: str) -> RoleView | None:
        for r in self.roles:
            if r.name == name:
                return r
        return None


class Labelled(Protocol):
    """Anything with pod labels (:class:`PodLabels`, ``scrape.PodScrapeInput``)."""

    @property
    def labels(self) -> Mapping[str, str]: ...


P = TypeVar("P", bound=Labelled)


@dataclass(frozen=True)
class PodLabels:
    """A pod for selection: its name and labels."""

    name: str
    labels: Mapping[str, str]


def stormservice_view(
    ss: StormService,
    role_status: Mapping[str, int] | None = None,
    *,
    spec_replicas: int | None = None,
) -> TargetView:
    """The :class:`TargetView` of a StormService: its spec (``spec_replicas`` overrides
    ``spec.replicas``, e.g. a cached value) and the role counts of
    ``status.roleStatuses`` (``None``: no status yet)."""
    spec = ss.spec
    roles = tuple(
        RoleView(
            r.name,
            r.replicas,
            None if role_status is None else role_status.get(r.name),
            r.pod_group_size,
        )
        for r in spec.template.spec.roles
    )
    return TargetView(
        "StormService",
        ss.name,
        spec.replicas if spec_replicas is None else spec_replicas,
        roles,
        MappingProxyType(dict(spec.selector.match_labels or {})),
        spec.paused,
    )


def _replica_path(pa: PodAutoscaler) -> bool:
    return not pa.role_path


def current_replicas(pa: PodAutoscaler, view: TargetView) -> int:
    """``GetCurrentReplicasFromScale``: ``spec.replicas`` of the target (whole service, or a
    role PA with ``storm-service-mode: replica``); for a pooled role the role's status count,
    else its template ``replicas`` (unset: 0). Raises :class:`TargetError` (no replicas
    field, role not found)."""
    if view.kind == "StormService" and pa.role_path:
        role = pa.spec.role_name or ""
        r = view.role(role)
        if r is None:
            raise TargetError(f"role {role} not found")
        if r.status_replicas is not None:
            return r.status_replicas
        return r.template_replicas or 0
    if view.spec_replicas is None:
        raise TargetError("the 'replicas' field was not found in the scale object")
    return view.spec_replicas


def pod_selector(pa: PodAutoscaler, view: TargetView) -> dict[str, str]:
    """The label equalities that select the pods whose metrics count. StormService:
    ``storm-service-name``, plus ``role-name`` when a role is named, plus
    ``pod-group-index=0`` when the named role (or, for a whole-service PA, any role) has
    ``podGroupSize > 1``. Others: the target's selector (RayClusterFleet: head pods)."""
    if view.kind == "StormService":
        sel = {LABEL_STORM_SERVICE: view.name}
        role = pa.spec.role_name
        if role:
            sel[LABEL_ROLE] = role
            r = view.role(role)
            grouped = r is not None and (r.pod_group_size or 0) > 1
        else:
            grouped = any((r.pod_group_size or 0) > 1 for r in view.roles)
        if grouped:
            sel[LABEL_POD_GROUP_INDEX] = "0"
        return sel
    sel = dict(view.selector)
    if view.kind == "RayClusterFleet":
        sel[LABEL_RAY_NODE_TYPE] = "head"
    return sel


def select_pods(pa: PodAutoscaler, view: TargetView, pods: Sequence[P]) -> list[P]:
    """The pods matching :func:`pod_selector`, in the given order. No filter on phase,
    readiness or deletion (AIBrix has none)."""
    sel = pod_selector(pa, view).items()
    return [p for p in pods if p.labels.items() >= sel]


@dataclass(frozen=True)
class ScaleWrite:
    """What a scale decision writes. ``field``: ``"replicas"`` (``spec.replicas``: RoleSets
    of a StormService) or ``"role_replicas"`` (``spec.template.spec.roles[role].replicas``:
    per RoleSet; a template change, so a new revision). ``value``: the number written.
    ``effective``: False when the write cannot change anything (a role write on a paused
    StormService)."""

    field: Literal["replicas", "role_replicas"]
    value: int
    role: str | None = None
    effective: bool = True


def scale_write(
    pa: PodAutoscaler,
    view: TargetView,
    desired: int,
    *,
    profile: AutoscalingProfile,
    max_replicas: int | None = None,
) -> ScaleWrite:
    """``SetDesiredReplicas``. Replica path: ``spec.replicas = desired``. Pooled role:
    the role template's ``replicas = desired`` in AIBrix e3e10f9e although ``desired`` was
    derived from the role's count over **all** RoleSets, so with ``spec.replicas = N > 1``
    the pod count becomes ``N x desired`` (issue #2780). ``fixed-math`` writes
    ``ceil(desired / N)`` per RoleSet instead, at most ``max_replicas // N`` (at least 1) so
    that the N RoleSets together stay within the bound (rounding up past it left the role
    "above its maximum" at every later reconcile)."""
    if view.kind == "StormService" and pa.role_path:
        role = pa.spec.role_name or ""
        if view.role(role) is None:
            raise TargetError(f"role {role} not found")
        value = desired
        n = view.spec_replicas or 0
        if profile == FIXED_MATH and n > 1:
            value = math.ceil(desired / n)
            if max_replicas is not None:
                value = min(value, max(1, max_replicas // n))
        return ScaleWrite("role_replicas", value, role, not view.paused)
    return ScaleWrite("replicas", desired)


def scaling_target_key(pa: PodAutoscaler) -> str:
    """The conflict-map key: ``<apiVersion>.<kind>/<namespace>/<name>``, plus ``/<role>``
    for a StormService role target. Two PAs with one key conflict; the first wins."""
    return pa.target_key
