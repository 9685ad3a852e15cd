"""Immutable snapshots of the API objects the controllers observe, and the actions they issue.

Objects are frozen dataclasses: the simulated API store replaces them on every change, so a
controller pass can read them without copying. Times are seconds of simulated time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stormsim.spec.aibrix import RoleSetSpec, RoleSetTemplate, StormServiceSpec

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

    ``revision`` is the sequence number (bumped on rollback, spec §5.3); ``role_hashes`` the
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

    @property
    def ready(self) -> bool:
        return any(c.type == READY and c.status == "True" for c in self.conditions)


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
        return any(c.type == READY and c.status == "True" for c in self.conditions)


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

    @property
    def ready(self) -> bool:
        return self.status is not None and self.status.ready


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

    @property
    def active(self) -> bool:
        return self.phase not in (SUCCEEDED, FAILED) and not self.deleting

    @property
    def terminated(self) -> bool:
        return self.phase in (SUCCEEDED, FAILED) and not self.deleting


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
    """In-place RoleSet update (spec §3.5): new revision label, spec and role revisions; the
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
