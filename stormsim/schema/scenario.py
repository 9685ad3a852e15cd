"""The scenario schema: cluster, timing, service manifest and timed events.

Every model is frozen and rejects unknown fields. Durations are seconds; a duration is either
a number or a distribution (``{kind: lognormal, median_s, p90_s}``, ``{kind: uniform, low_s,
high_s}``, ``{kind: exponential, mean_s}``). Every union of the schema is tagged by ``kind``
(durations, events, arrivals, lengths); older spellings are accepted with a warning
(:mod:`stormsim.schema.deprecated`). Defaults and their sources: the README's scenario
reference.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from stormsim.schema.aibrix import StormService
from stormsim.schema.autoscaler import (
    STORMSERVICE_API_VERSION,
    AutoscalingProfile,
    PodAutoscaler,
    webhook_problems,
)
from stormsim.schema.bounds import INT32_MAX, MAX_GPUS_PER_NODE, MAX_NODES, NO_CONTROL_CHARS
from stormsim.schema.plan import Plan
from stormsim.schema.serving import Serving, Workload
from stormsim.schema.study import CompareSpec, SweepSpec


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Lognormal(Model):
    """Lognormal fitted to a median and a 90th percentile (seconds)."""

    kind: Literal["lognormal"]
    median_s: float = Field(gt=0)
    p90_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> Lognormal:
        if self.p90_s < self.median_s:
            raise ValueError("p90_s must be >= median_s")
        return self


class Uniform(Model):
    kind: Literal["uniform"]
    low_s: float = Field(ge=0)
    high_s: float = Field(ge=0)

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high_s < self.low_s:
            raise ValueError("high_s must be >= low_s")
        return self


class Exponential(Model):
    kind: Literal["exponential"]
    mean_s: float = Field(gt=0)


Distribution = Annotated[Lognormal | Uniform | Exponential, Field(discriminator="kind")]
Duration = Annotated[float, Field(ge=0)] | Distribution
"""Seconds (a constant) or a distribution of seconds."""


class RoleTiming(Model):
    """Per-role overrides of pod lifecycle durations; absent keys inherit the global value."""

    scheduling_s: Duration | None = None
    image_pull_s: Duration | None = None
    model_load_s: Duration | None = None
    engine_init_s: Duration | None = None
    readiness_probe_s: Duration | None = None
    router_registration_s: Duration | None = None
    termination_grace_s: Duration | None = None


GENERIC_MODEL_LOAD = Lognormal(kind="lognormal", median_s=15.0, p90_s=30.0)
"""``model_load_s`` when no model is named (no ``serving`` section): an 8B-class figure."""
GENERIC_ENGINE_INIT = Lognormal(kind="lognormal", median_s=15.0, p90_s=30.0)
"""``engine_init_s`` when no model is named (no ``serving`` section): an 8B-class figure."""
MODEL_AWARE_KEYS = ("model_load_s", "engine_init_s")
"""Start-up durations whose default follows the served model (:mod:`stormsim.perf.startup`)."""


class Timing(Model):
    """Durations of the pod lifecycle and of controller passes (seconds).

    ``model_load_s`` and ``engine_init_s`` left unset (``None``) follow the served model when
    the scenario has a ``serving`` section (:func:`stormsim.perf.startup.resolve_startup`
    fills them in per role before a run), else the generic 8B-class defaults
    :data:`GENERIC_MODEL_LOAD` / :data:`GENERIC_ENGINE_INIT`."""

    scheduling_s: Duration = Lognormal(kind="lognormal", median_s=0.5, p90_s=1.0)
    image_pull_s: Duration = Lognormal(kind="lognormal", median_s=180.0, p90_s=420.0)
    model_load_s: Duration | None = None
    engine_init_s: Duration | None = None
    readiness_probe_s: Duration = Uniform(kind="uniform", low_s=0.0, high_s=10.0)
    router_registration_s: Duration = 2.0
    termination_grace_s: Duration = 30.0
    reconcile_latency_s: Duration = 0.1
    roles: dict[str, RoleTiming] = Field(default_factory=dict)

    def for_role(self, role: str, key: str) -> Duration:
        override = self.roles.get(role)
        if override is not None:
            v = getattr(override, key)
            if v is not None:
                return v
        value: Duration | None = getattr(self, key)
        if value is None:
            return GENERIC_MODEL_LOAD if key == "model_load_s" else GENERIC_ENGINE_INIT
        return value


class NodePool(Model):
    """``count`` identical nodes. Resources a pool does not declare are not limited."""

    name: str = Field(min_length=1, pattern=NO_CONTROL_CHARS)
    count: int = Field(ge=1, le=MAX_NODES)
    gpus_per_node: int = Field(ge=0, le=MAX_GPUS_PER_NODE)
    gpu_type: str = "H100-80GB"
    cpu: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)
    resources: dict[str, float] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    prepulled_images: list[str] = Field(default_factory=list)


class Cluster(Model):
    node_pools: list[NodePool] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Cluster:
        names = [p.name for p in self.node_pools]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate node pool names: {sorted(dup)}")
        return self

    @property
    def gpus_total(self) -> int:
        return sum(p.count * p.gpus_per_node for p in self.node_pools)


class Service(Model):
    """The StormService: a manifest path (relative to the scenario file) or an inline mapping.

    After loading, ``manifest`` always holds the parsed StormService; ``manifest_path`` keeps the
    file it came from, ``name`` picks one StormService from a multi-document file.
    """

    manifest: StormService
    name: str | None = None
    manifest_path: str | None = None
    initial_state: Literal["deploy", "ready"] = "deploy"
    """``deploy``: the manifest is applied at t = 0 and the fleet comes up through the
    controllers, scheduler and kubelet. ``ready``: at t = 0 the fleet is already deployed at
    its first revision (pods bound, images cached, Ready), as if it had been running for a
    while: a rollout can start at once and the run is shorter."""


class Controller(Model):
    """Which AIBrix behaviour to simulate.

    ``aibrix-e3e10f9e`` (default): the controllers at commit e3e10f9e, quirks included.
    ``aibrix-latest``: adds the post-snapshot upstream changes: ``spec.mode``
    (Replica | Pooled; undeclared: Replica when replicas > 1, else Pooled) where Pooled rolls
    out in place whatever the update type and has no surge, and ``progressDeadlineSeconds``
    (default 600 s) reporting ``Progressing=False`` reason ``ProgressDeadlineExceeded``.
    """

    profile: Literal["aibrix-e3e10f9e", "aibrix-latest"] = "aibrix-e3e10f9e"
    api_call_s: float = Field(default=0.02, ge=0.0, le=10.0)
    """Seconds one round of API writes costs (s, >= 0). A pass's many creates/deletes go out
    in slow-start batches (RoleSets 1, 2, 4, ...; pods 16, 32, ... at most 500; PodSets one
    by one); the first batch is covered by ``timing.reconcile_latency_s`` and every further
    batch adds ``api_call_s``. Default 20 ms: one API write is an admission pass plus an etcd
    quorum write, a few ms to tens of ms on a healthy control plane (etcd's guidance keeps
    its WAL fsync p99 under 10 ms; the Kubernetes mutating-call SLO only bounds p99 at 1 s).
    0 issues every object of a pass at once."""
    cache_lag_s: float = Field(default=0.0, ge=0.0, le=60.0)
    """How stale the controllers' informer caches are (s, >= 0). 0 (default): every pass
    reads the store as it is. > 0: a pass reads the store as it was ``cache_lag_s`` ago and
    watch events reach the controllers that much later, so a pass that runs before its own
    earlier writes are visible can repeat them: generated-name objects (stateless pods,
    RoleSets) are over-created and trimmed by a later pass; deterministic names (stateful
    pods, PodSets) are rejected as duplicates. The no-op pass elisions are off then."""


class EventBase(Model):
    at_s: float = Field(ge=0)


class SetImage(EventBase):
    """``kubectl set image``: set the image of one container (default: the first) of one role
    (default: every role)."""

    kind: Literal["set_image"]
    image: str = Field(min_length=1)
    role: str | None = None
    container: str | None = None


class Apply(EventBase):
    """``kubectl apply`` of a new StormService manifest (same name) and/or of PodAutoscalers
    (new ones are created, ones with the name of an existing one replace it). ``manifest``
    may be a file holding both (multi-document); its PodAutoscalers join ``autoscalers``."""

    kind: Literal["apply"]
    manifest: StormService | None = None
    manifest_path: str | None = None
    autoscalers: list[PodAutoscaler] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> Apply:
        if self.manifest is None and not self.autoscalers:
            raise ValueError("apply needs a StormService 'manifest' or 'autoscalers'")
        return self


class Scale(EventBase):
    """Without ``role``: the /scale subresource (``spec.replicas``). With ``role``: that role's
    ``replicas`` in the template (a template change, so a new revision)."""

    kind: Literal["scale"]
    replicas: int = Field(ge=0, le=INT32_MAX)
    role: str | None = None


class Pause(EventBase):
    kind: Literal["pause"]


class Resume(EventBase):
    kind: Literal["resume"]


class Rollback(EventBase):
    """Re-apply the template stored in the ControllerRevision with this revision number."""

    kind: Literal["rollback"]
    to_revision: int = Field(ge=1)


class CrashPod(EventBase):
    """Fault: the containers of ``count`` Ready pods (of ``role``, default any role) crash and
    restart in place (restartCount + 1): not Ready until the engine has loaded and initialised
    again (no image pull). Requests on them fail. Pods are drawn from the ``faults`` stream."""

    kind: Literal["crash_pod"]
    role: str | None = None
    count: int = Field(default=1, ge=1)


class FailNode(EventBase):
    """Fault: a node is lost. Its pods are gone at once (the controllers replace them
    elsewhere) and its resources leave the cluster, for ``down_s`` seconds (default: for good),
    after which it comes back empty. ``node`` is ``<pool>-<i>``; default: the node running the
    most pods (first in node order)."""

    kind: Literal["fail_node"]
    node: str | None = None
    down_s: float | None = Field(default=None, gt=0)


Event = Annotated[
    SetImage | Apply | Scale | Pause | Resume | Rollback | CrashPod | FailNode,
    Field(discriminator="kind"),
]


class Autoscaling(Model):
    """How the PodAutoscaler controller and the Kubernetes HPA are simulated (seconds).
    Defaults are the upstream ones (AIBrix e3e10f9e, kube-controller-manager)."""

    profile: AutoscalingProfile = "aibrix-e3e10f9e"
    """``aibrix-e3e10f9e``: faithful, quirks included (KPA divides the per-pod mean by the
    target, scale-down stabilization takes the minimum, failed scrapes read 0, pooled-role
    writes multiply by the RoleSet count). ``fixed-math``: KPA on the sum over pods,
    HPA-style stabilization, failed scrapes excluded, role writes divided over RoleSets."""
    resync_period_s: float = Field(default=10.0, gt=0, le=3600)
    """Every PodAutoscaler is enqueued this often (AIBrix ``DefaultResyncInterval``)."""
    reconcile_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    """Deadline of one reconcile, scrapes and writes included
    (``DefaultReconcileTimeoutDuration``)."""
    follow_up_reconciles: bool = True
    """A reconcile that changed the PodAutoscaler's status enqueues it again at once (the
    controller's watch on its own objects has no predicates)."""
    scrape_rtt_s: float = Field(default=0.002, ge=0, le=10)
    """One successful pod metrics scrape (an HTTP round trip in the cluster)."""
    scrape_failure_s: float = Field(default=7.0, ge=0, le=60)
    """A pod with an IP whose engine refuses connections (or lacks the metric family):
    4 attempts with 1 + 2 + 4 s backoff (AIBrix ``DefaultEngineMetricsFetcherConfig``)."""
    history_record_interval_s: float = Field(default=5.0, ge=0)
    """An unchanged scaling-history record is appended at most this often
    (``minScalingHistoryRecordInterval``)."""
    hpa_sync_period_s: float = Field(default=15.0, gt=0, le=3600)
    """The Kubernetes HPA controller's sync period
    (``--horizontal-pod-autoscaler-sync-period``)."""
    hpa_tolerance: float = Field(default=0.1, ge=0, lt=1)
    """Usage ratios within ``1 ± tolerance`` keep the replicas
    (``--horizontal-pod-autoscaler-tolerance``)."""
    hpa_cpu_initialization_period_s: float = Field(default=300.0, ge=0)
    """``--horizontal-pod-autoscaler-cpu-initialization-period``."""
    hpa_initial_readiness_delay_s: float = Field(default=30.0, ge=0)
    """``--horizontal-pod-autoscaler-initial-readiness-delay``."""
    clock_start: str = "2026-08-03T00:00:00+00:00"
    """Wall-clock time at t = 0 (ISO 8601 with an offset), for schedules. Default: a Monday,
    00:00 UTC."""

    @field_validator("clock_start")
    @classmethod
    def _clock(cls, v: str) -> str:
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 time (got {v!r})") from None
        if t.tzinfo is None:
            raise ValueError(f"needs a UTC offset such as Z or +02:00 (got {v!r})")
        return v

    @property
    def start(self) -> datetime:
        """:attr:`clock_start` as an aware datetime."""
        return datetime.fromisoformat(self.clock_start.replace("Z", "+00:00"))


class Scenario(Model):
    """A whole simulation input. See the README's scenario reference."""

    name: str = Field(min_length=1, pattern=NO_CONTROL_CHARS)
    description: str | None = None
    seed: int | None = Field(default=None, ge=0)
    until_s: float | None = Field(default=None, gt=0)
    cluster: Cluster
    timing: Timing = Field(default_factory=Timing)
    service: Service
    events: list[Event] = Field(default_factory=list)
    workload: Workload | None = None
    serving: Serving | None = None
    controller: Controller = Field(default_factory=Controller)
    autoscalers: list[PodAutoscaler] = Field(default_factory=list)
    """PodAutoscalers: inline objects, ``{manifest: FILE}`` entries (every PodAutoscaler in
    the file) and those found in the service's manifest file."""
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    compare: CompareSpec | None = None
    sweep: SweepSpec | None = None
    plan: Plan | None = None
    _load_warnings: list[str] = PrivateAttr(default_factory=list)
    """The warnings loading this scenario gave (``summary.json`` lists them)."""

    @property
    def load_warnings(self) -> list[str]:
        """The warnings :func:`stormsim.load_scenario` gave for this scenario, as text."""
        return list(self._load_warnings)

    def all_role_names(self) -> list[str]:
        """Every role name that appears in the initial manifest or an applied one, in order."""
        names: list[str] = []
        for m in [
            self.service.manifest,
            *[e.manifest for e in self.events if isinstance(e, Apply) and e.manifest],
        ]:
            for r in m.spec.template.spec.roles:
                if r.name not in names:
                    names.append(r.name)
        return names


def event_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Semantic checks of the events that need the whole scenario: roles named by an event must
    exist at that moment (events walked in time order, ``apply`` changing the role set), and an
    applied manifest must be the simulated StormService. Returns ``(path, message)`` pairs."""
    roles = {r.name for r in s.service.manifest.spec.template.spec.roles}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    order = sorted(range(len(s.events)), key=lambda i: (s.events[i].at_s, i))
    for i in order:
        ev = s.events[i]
        if isinstance(ev, Apply) and ev.manifest is not None:
            if ev.manifest.name != s.service.manifest.name:
                problems.append(
                    (
                        ("events", i, "manifest"),
                        f"StormService {ev.manifest.name!r} is not the simulated one "
                        f"({s.service.manifest.name!r})",
                    )
                )
            roles = {r.name for r in ev.manifest.spec.template.spec.roles}
        role = getattr(ev, "role", None)
        if role is not None and role not in roles:
            problems.append(
                (
                    ("events", i, "role"),
                    f"no role {role!r} in the service at t={ev.at_s:g} s "
                    f"(roles: {', '.join(sorted(roles))})",
                )
            )
        if isinstance(ev, FailNode) and ev.node is not None:
            nodes = {f"{p.name}-{k}" for p in s.cluster.node_pools for k in range(p.count)}
            if ev.node not in nodes:
                problems.append(
                    (("events", i, "node"), f"no node {ev.node!r} (nodes are named <pool>-<i>)")
                )
        container = getattr(ev, "container", None)
        if container is not None:
            tmpl = s.service.manifest.spec.template.spec
            names = {
                c["name"]
                for r in tmpl.roles
                if role is None or r.name == role
                for c in r.template.containers
            }
            if container not in names:
                problems.append(
                    (("events", i, "container"), f"no container {container!r} in that role")
                )
    return problems


def scenario_dump(s: Scenario) -> dict[str, Any]:
    """The resolved scenario as plain data (every default filled, manifests inline)."""
    data = s.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["service"]["manifest"] = s.service.manifest.dump()
    for i, ev in enumerate(s.events):
        if isinstance(ev, Apply):
            if ev.manifest is not None:
                data["events"][i]["manifest"] = ev.manifest.dump()
            data["events"][i]["autoscalers"] = [pa.dump() for pa in ev.autoscalers]
    data["autoscalers"] = [pa.dump() for pa in s.autoscalers]
    return data


def autoscaler_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks of the scenario's PodAutoscalers: AIBrix's webhook checks of each, and what
    stormsim needs: the target is the simulated StormService (same namespace), a named role
    exists in the service at that moment, names are unique. ``(path, message)`` pairs."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    svc = s.service.manifest
    ns = svc.metadata.namespace or "default"

    def check(at: tuple[str | int, ...], pa: PodAutoscaler, roles: set[str]) -> None:
        out.extend(((*at, *p), m) for p, m in webhook_problems(pa))
        ref = pa.spec.scale_target_ref
        if ref.kind and ref.kind != "StormService":
            out.append(
                (
                    (*at, "spec", "scaleTargetRef", "kind"),
                    f"stormsim simulates one StormService; a {ref.kind!r} target cannot be "
                    "simulated",
                )
            )
        elif ref.kind and ref.api_version != STORMSERVICE_API_VERSION:
            out.append(
                (
                    (*at, "spec", "scaleTargetRef", "apiVersion"),
                    f"must be {STORMSERVICE_API_VERSION!r} for a StormService "
                    f"(got {ref.api_version!r}); the controller cannot map it",
                )
            )
        if ref.name and ref.name != svc.name:
            out.append(
                (
                    (*at, "spec", "scaleTargetRef", "name"),
                    f"no StormService {ref.name!r}: the simulated one is {svc.name!r}",
                )
            )
        elif pa.namespace != ns:
            out.append(
                (
                    (*at, "metadata", "namespace"),
                    f"the PodAutoscaler is in namespace {pa.namespace!r} but StormService "
                    f"{svc.name!r} is in {ns!r} (the controller reads the target in the "
                    "PodAutoscaler's namespace)",
                )
            )
        role = pa.spec.role_name
        if role and role not in roles and ref.kind == "StormService":
            out.append(
                (
                    (*at, "spec", "subTargetSelector", "roleName"),
                    f"no role {role!r} in StormService {svc.name!r} "
                    f"(roles: {', '.join(sorted(roles))})",
                )
            )

    roles = {r.name for r in svc.spec.template.spec.roles}
    seen: dict[str, int] = {}
    for j, pa in enumerate(s.autoscalers):
        check(("autoscalers", j), pa, roles)
        if pa.key in seen:
            out.append(
                (
                    ("autoscalers", j, "metadata", "name"),
                    f"duplicate PodAutoscaler {pa.key!r} (also autoscalers[{seen[pa.key]}])",
                )
            )
        seen.setdefault(pa.key, j)
    order = sorted(range(len(s.events)), key=lambda i: (s.events[i].at_s, i))
    for i in order:
        ev = s.events[i]
        if not isinstance(ev, Apply):
            continue
        if ev.manifest is not None:
            roles = {r.name for r in ev.manifest.spec.template.spec.roles}
        names: dict[str, int] = {}
        for k, pa in enumerate(ev.autoscalers):
            check(("events", i, "autoscalers", k), pa, roles)
            if pa.key in names:
                out.append(
                    (
                        ("events", i, "autoscalers", k, "metadata", "name"),
                        f"duplicate PodAutoscaler {pa.key!r} in one apply",
                    )
                )
            names.setdefault(pa.key, k)
    return out
