"""Immutable snapshots of the API objects the controllers observe, and the actions they issue.

Objects are frozen dataclasses: the simulated API store replaces them on every change, so a
controller pass can read them without copying. Times are seconds of simulated time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, TypeVar

from stormsim.schema.aibrix import PodTemplate, RoleSetSpec, RoleSetTemplate, StormServiceSpec

_T = TypeVar("_T")
_set = object.__setattr__
_copiers: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] | None] = {}


def evolve(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for the objects here: a copy of ``obj`` with ``changes``.
    For a slotted class without ``__post_init__`` it copies the slots instead of running
    ``__init__`` again (pods are copied on every step of their lifecycle)."""
    cls = type(obj)
    if cls in _copiers:
        copier = _copiers[cls]
    else:
        names: tuple[str, ...] = getattr(cls, "__slots__", ())
        plain = len(names) > 1 and not hasattr(cls, "__post_init__")
        copier = _copiers[cls] = (names, attrgetter(*names)) if plain else None
    if copier is None:
        return replace(obj, **changes)  # type: ignore[type-var]
    slots, values = copier
    new = object.__new__(cls)
    for name, value in zip(slots, values(obj), strict=False):  # (same length)
        _set(new, name, value)
    for name, value in changes.items():
        if name not in slots:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        _set(new, name, value)
    return new


# Condition types and pod phases, as AIBrix / Kubernetes spell them.
READY = "Ready"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str = "True"
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class Revision:
    """A ControllerRevision: the whole ``spec.template`` of a StormService at some point.

    ``revision`` is the sequence number (bumped on rollback); ``role_hashes`` the
    ``role-template-hash`` of each role's pod template.
    """

    name: str
    revision: int
    template: RoleSetTemplate
    role_hashes: Mapping[str, str]
    created_at: float = 0.0

    @property
    def data(self) -> str:
        return self.template.canonical


@dataclass(frozen=True, slots=True)
class RoleStatus:
    name: str
    replicas: int = 0
    ready_replicas: int = 0
    not_ready_replicas: int = 0
    updated_replicas: int = 0
    updated_ready_replicas: int = 0


@dataclass(frozen=True, slots=True)
class StormServiceStatus:
    observed_generation: int = 0
    replicas: int = 0
    ready_replicas: int = 0
    not_ready_replicas: int = 0
    current_replicas: int = 0
    updated_replicas: int = 0
    updated_ready_replicas: int = 0
    current_revision: str = ""
    update_revision: str = ""
    collision_count: int = 0
    conditions: tuple[Condition, ...] = ()
    role_statuses: tuple[RoleStatus, ...] = ()
    scaling_target_selector: str = ""
    mode: str = ""
    """Resolved mode (``aibrix-latest`` profile only): Replica or Pooled."""
    last_progress_at_s: float | None = None
    """When progress was last seen (``aibrix-latest`` profile, progress deadline)."""

    @property
    def ready(self) -> bool:
        for c in self.conditions:  # noqa: SIM110 (hot path: no generator)
            if c.type == READY and c.status == "True":
                return True
        return False


@dataclass(frozen=True, slots=True)
class StormServiceObj:
    """The StormService as stored: its spec, generation, status and deletion state."""

    name: str
    spec: StormServiceSpec
    generation: int = 1
    status: StormServiceStatus | None = None
    finalizer: bool = False
    deleting: bool = False


@dataclass(frozen=True, slots=True)
class RoleSetStatus:
    roles: tuple[RoleStatus, ...] = ()
    conditions: tuple[Condition, ...] = ()

    @property
    def ready(self) -> bool:
        for c in self.conditions:  # noqa: SIM110 (hot path: no generator)
            if c.type == READY and c.status == "True":
                return True
        return False


@dataclass(frozen=True, slots=True)
class RoleSet:
    """A RoleSet. ``revision`` is the ``storm-service-revision`` label, ``index`` the
    ``roleset-index`` annotation, ``role_revisions`` role -> (CR revision number, CR name)."""

    name: str
    owner: str
    revision: str
    index: int
    spec: RoleSetSpec
    role_hashes: Mapping[str, str]
    role_revisions: Mapping[str, tuple[int, str]]
    created_at: float
    seq: int
    status: RoleSetStatus | None = None
    finalizer: bool = False
    deleting: bool = False
    # derived once per snapshot (objects are immutable): the StormService pass reads them for
    # every RoleSet, every pass
    ready: bool = field(init=False, compare=False, repr=False)
    """Condition ``Ready=True``."""
    all_roles_updated: bool = field(init=False, compare=False, repr=False)
    """``isAllRoleUpdated``: every status role that exists in the spec has
    ``updatedReplicas == replicas``; vacuously true without status."""
    all_roles_updated_ready: bool = field(init=False, compare=False, repr=False)
    """``isAllRoleUpdatedAndReady``: the same with ``updatedReadyReplicas``."""

    def __post_init__(self) -> None:
        st = self.status
        ready = st is not None and st.ready
        upd = upd_ready = True
        if st is not None:
            for rs in st.roles:
                role = self.spec.role(rs.name)
                if role is None:
                    continue
                want = max(0, role.replicas)
                upd = upd and rs.updated_replicas == want
                upd_ready = upd_ready and rs.updated_ready_replicas == want
        object.__setattr__(self, "ready", ready)
        object.__setattr__(self, "all_roles_updated", upd)
        object.__setattr__(self, "all_roles_updated_ready", upd_ready)


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod. ``slot`` is the ``role-replica-index`` (stateful roles), ``template_hash`` the
    ``role-template-hash`` label, ``revision`` the ``role-revision-name`` label."""

    name: str
    roleset: str
    role: str
    template_hash: str
    revision: str
    created_at: float
    seq: int
    slot: int | None = None
    gpus: int = 0
    images: tuple[str, ...] = ()
    node: str | None = None
    phase: str = PENDING
    ready: bool = False
    deleting: bool = False
    in_place_target: str | None = None
    """``in-place-update-target-hash``: set while an in-place update is in progress."""
    in_place_running: str | None = None
    """The target hash whose images the kubelet has restarted the containers with (stands in
    for "every recorded imageID changed")."""
    podset: str | None = None
    group_index: int | None = None
    restart_count: int = 0
    template: PodTemplate | None = None
    """The pod template the pod was created from (for in-place eligibility)."""
    affinity: tuple[str, str, str, str] | None = None
    """Topology policy injected at creation: (mode, topology key, scope kind, scope value)."""
    gang: str | None = None
    """PodGroup name when gang scheduling applies."""
    gang_min: int = 0

    @property
    def active(self) -> bool:
        return self.phase not in (SUCCEEDED, FAILED) and not self.deleting

    @property
    def terminated(self) -> bool:
        return self.phase in (SUCCEEDED, FAILED) and not self.deleting


@dataclass(frozen=True, slots=True)
class PodSet:
    """A PodSet: one replica of a multi-pod role, ``size`` pods named
    ``<podset>-<k>``. Status: ``ready_pods``, ``total_pods``, ``phase``
    (Pending | Running | Ready)."""

    name: str
    roleset: str
    role: str
    template_hash: str
    revision: str
    slot: int
    size: int
    created_at: float
    seq: int
    recovery_policy: str = "ReplaceUnhealthy"
    finalizer: bool = False
    deleting: bool = False
    template: PodTemplate | None = None
    """The pod template the PodSet was created with (its pods are created from it)."""
    ready_pods: int = 0
    total_pods: int = 0
    phase: str = PENDING

    @property
    def ready(self) -> bool:
        return self.phase == READY and not self.deleting

    @property
    def active(self) -> bool:
        return not self.deleting and self.phase != FAILED

    @property
    def terminated(self) -> bool:
        return False  # a deleted PodSet without finalizer is gone at once in the store


# ----------------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class CreateRevision:
    revision: Revision


@dataclass(frozen=True, slots=True)
class SetRevisionNumber:
    name: str
    revision: int


@dataclass(frozen=True, slots=True)
class DeleteRevision:
    name: str


@dataclass(frozen=True, slots=True)
class CreateRoleSet:
    owner: str
    revision: str
    index: int
    spec: RoleSetSpec
    role_hashes: Mapping[str, str]
    role_revisions: Mapping[str, tuple[int, str]]


@dataclass(frozen=True, slots=True)
class UpdateRoleSet:
    """In-place RoleSet update: new revision label, spec and role revisions; the
    index is kept."""

    name: str
    revision: str
    spec: RoleSetSpec
    role_hashes: Mapping[str, str]
    role_revisions: Mapping[str, tuple[int, str]]


@dataclass(frozen=True, slots=True)
class DeleteRoleSet:
    name: str


@dataclass(frozen=True, slots=True)
class CreatePod:
    """Create a pod. ``name`` is set for stateful pods; ``None`` means generateName
    ``<roleset>-<role>-`` + 5 characters, chosen by the API store."""

    roleset: str
    role: str
    template_hash: str
    revision: str
    slot: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class DeletePod:
    name: str


@dataclass(frozen=True, slots=True)
class CreatePodSet:
    roleset: str
    role: str
    template_hash: str
    revision: str
    slot: int
    name: str


@dataclass(frozen=True, slots=True)
class DeletePodSet:
    name: str


@dataclass(frozen=True, slots=True)
class CreateGroupPod:
    """Create pod ``index`` of a PodSet (name ``<podset>-<index>``)."""

    podset: str
    index: int


@dataclass(frozen=True, slots=True)
class WritePodSetStatus:
    name: str
    ready_pods: int
    total_pods: int
    phase: str


@dataclass(frozen=True, slots=True)
class PatchPodInPlace:
    """Start an in-place update: set the new images and the target hash."""

    name: str
    target_hash: str
    images: tuple[str, ...]
    template: PodTemplate


@dataclass(frozen=True, slots=True)
class CompleteInPlace:
    """Settle a finished in-place update: promote the template-hash and revision labels."""

    name: str
    template_hash: str
    revision: str


@dataclass(frozen=True, slots=True)
class SetFinalizer:
    kind: str
    name: str
    present: bool


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """A Kubernetes event (``InPlaceFallback``, ...) for observability only."""

    kind: str
    name: str
    reason: str
    message: str = ""


Action = (
    CreateRevision
    | SetRevisionNumber
    | DeleteRevision
    | CreateRoleSet
    | UpdateRoleSet
    | DeleteRoleSet
    | CreatePod
    | DeletePod
    | CreatePodSet
    | DeletePodSet
    | CreateGroupPod
    | WritePodSetStatus
    | PatchPodInPlace
    | CompleteInPlace
    | SetFinalizer
    | RecordEvent
)


@dataclass
class Result:
    """What one reconcile pass decided: actions in issue order, the status to write (``None``:
    unchanged or not computed) and a requeue delay in seconds (``None``: no requeue)."""

    actions: list[Action] = field(default_factory=list)
    status: StormServiceStatus | RoleSetStatus | None = None
    requeue_after: float | None = None
    time_sensitive: bool = False
    """The result depends on the time of the pass (a deadline), not only on the observed
    objects: the driver must not elide its requeue."""
