"""Typed models of AIBrix objects (StormService, RoleSet spec, roles) as in real manifests.

Field names are AIBrix's camelCase (aliases); Python attributes are snake_case. Models are
frozen and reject unknown fields, except the pod template ``spec``, which is kept verbatim
(any core ``PodSpec`` content loads). What the controllers do with each
field (AIBrix commit e3e10f9e): ``docs/aibrix/``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from stormsim.schema.bounds import INT32_MAX, MAX_GPUS_PER_POD
from stormsim.schema.intstr import percent
from stormsim.schema.quantity import parse_quantity

API_VERSION = "orchestration.aibrix.ai/v1alpha1"
GPU_RESOURCE = "nvidia.com/gpu"

IntOrPercent = int | str
"""An int, or a string such as ``"25%"``. Malformed strings are kept (AIBrix silently treats
them as 0); the loader warns about them."""


class K8sModel(BaseModel):
    """Base: camelCase aliases, frozen, unknown fields rejected."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        strict=True,  # like the API server: "4" is not an integer
        allow_inf_nan=False,
    )

    def dump(self) -> dict[str, Any]:
        """Plain data with AIBrix field names, ``None`` fields omitted."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ObjectMeta(K8sModel):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    finalizers: list[str] | None = None
    owner_references: list[dict[str, Any]] | None = None

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: v2 if isinstance(v2, str) else json.dumps(v2) for k, v2 in v.items()}
        return v


class LabelSelector(K8sModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[dict[str, Any]] | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy matchLabels and the In/NotIn/Exists/DoesNotExist
        expressions."""
        for k, v in (self.match_labels or {}).items():
            if labels.get(k) != v:
                return False
        for expr in self.match_expressions or []:
            key, op = str(expr.get("key")), expr.get("operator")
            values = expr.get("values") or []
            present = key in labels
            if op == "In" and (not present or labels[key] not in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True


PIPELINE_FLAGS = ("--pipeline-parallel-size", "-pp", "--pp-size", "--pp")
"""Engine flags naming the pipeline stages (vLLM, sglang)."""


class PodTemplate(K8sModel):
    """A core ``PodTemplateSpec``. ``spec`` is kept as-is; helpers read what the simulator needs."""

    metadata: ObjectMeta | None = None
    spec: dict[str, Any] = Field(default_factory=dict, validate_default=True)

    @field_validator("spec")
    @classmethod
    def _containers(cls, v: dict[str, Any]) -> dict[str, Any]:
        containers = v.get("containers")
        if containers is None:
            raise ValueError("pod template spec needs 'containers'")
        if not isinstance(containers, list) or not containers:
            raise ValueError("'containers' must be a non-empty list")
        for i, c in enumerate(containers):
            if not isinstance(c, dict) or not c.get("name"):
                raise ValueError(f"containers[{i}] needs a 'name'")
            check_resources(c.get("resources"), f"containers[{i}]")
        init = v.get("initContainers")
        if init is not None:
            if not isinstance(init, list):
                raise ValueError("'initContainers' must be a list")
            for i, c in enumerate(init):
                if not isinstance(c, dict):
                    raise ValueError(f"initContainers[{i}] must be a mapping")
                check_resources(c.get("resources"), f"initContainers[{i}]")
        return v

    @property
    def containers(self) -> list[dict[str, Any]]:
        return list(self.spec.get("containers") or [])

    def pipeline_parallel_arg(self) -> int | None:
        """Pipeline stages the engine's command line asks for (vLLM
        ``--pipeline-parallel-size`` / ``-pp``, sglang ``--pp-size`` / ``--pp``), None if no
        regular container names them. Shell-wrapped command lines are split on whitespace."""
        for c in self.containers:
            words: list[str] = []
            for part in [*(c.get("command") or []), *(c.get("args") or [])]:
                words += str(part).split()
            for i, w in enumerate(words):
                flag, _, val = w.partition("=")
                if flag not in PIPELINE_FLAGS:
                    continue
                if not val and i + 1 < len(words):
                    val = words[i + 1]
                if val.isdigit() and int(val) >= 1:
                    return int(val)
        return None

    def images(self) -> tuple[str, ...]:
        """Images of the regular containers, in order."""
        return tuple(str(c.get("image", "")) for c in self.containers)

    def resource(self, name: str) -> float:
        """Sum over regular containers of a resource (limits, else requests); init containers
        count as max(their max, sum of regular), as Kubernetes does."""
        total = 0.0
        for c in self.containers:
            total += _container_resource(c, name)
        init = [_container_resource(c, name) for c in self.spec.get("initContainers") or []]
        return max([total, *init])

    @property
    def gpus(self) -> int:
        return int(self.resource(GPU_RESOURCE))


def _container_resource(c: dict[str, Any], name: str) -> float:
    res = c.get("resources") or {}
    for section in ("limits", "requests"):
        sec = res.get(section) or {}
        if name in sec:
            return float(parse_quantity(sec[name]))
    return 0.0


def check_resources(res: Any, where: str) -> None:
    """Reject what the API server rejects in a container's ``resources``: a non-mapping, a
    malformed or negative quantity, a fractional or oversized extended resource (GPUs are
    whole devices), GPU requests different from limits."""
    if res is None:
        return
    if not isinstance(res, dict):
        raise ValueError(f"{where}.resources must be a mapping")
    values: dict[str, dict[str, Decimal]] = {}
    for section in ("limits", "requests"):
        sec = res.get(section)
        if sec is None:
            continue
        if not isinstance(sec, dict):
            raise ValueError(f"{where}.resources.{section} must be a mapping")
        for name, q in sec.items():
            at = f"{where}.resources.{section}.{name}"
            try:
                value = parse_quantity(q)
            except ValueError as e:
                raise ValueError(f"{at}: {e}") from None
            if value < 0:
                raise ValueError(f"{at}: must be greater than or equal to 0 (got {q!r})")
            if "/" in str(name) and not str(name).startswith("kubernetes.io/"):
                if value != value.to_integral_value():
                    raise ValueError(f"{at}: must be a whole number (got {q!r})")
                if value > MAX_GPUS_PER_POD:
                    raise ValueError(
                        f"{at}: {q!r} is more than stormsim simulates per pod "
                        f"(at most {MAX_GPUS_PER_POD})"
                    )
            values.setdefault(str(name), {})[section] = value
    gpu = values.get(GPU_RESOURCE, {})
    if "limits" in gpu and "requests" in gpu and gpu["limits"] != gpu["requests"]:
        raise ValueError(
            f"{where}.resources: {GPU_RESOURCE} requests must equal limits (Kubernetes does not "
            "overcommit extended resources)"
        )


def _non_negative(v: IntOrPercent | None) -> IntOrPercent | None:
    """Reject a negative int or percent (as the API server validates a Deployment's)."""
    if isinstance(v, int) and v < 0:
        raise ValueError(f"must be greater than or equal to 0 (got {v})")
    if isinstance(v, str) and v.endswith("%"):
        try:
            n = percent(v)
        except ValueError:
            return v  # malformed: kept, the loader warns (AIBrix reads it as 0)
        if n < 0:
            raise ValueError(f"must be greater than or equal to 0% (got {v!r})")
    return v


class RoleUpdateStrategy(K8sModel):
    type: Literal["Recreate", "InPlaceIfPossible", ""] = "Recreate"
    max_surge: IntOrPercent | None = None
    max_unavailable: IntOrPercent | None = None

    _check = field_validator("max_surge", "max_unavailable")(_non_negative)


DEFAULT_ROLE_STRATEGY = RoleUpdateStrategy()
"""A role's ``updateStrategy`` when absent (models are frozen: one object serves all)."""


class TopologyPolicy(K8sModel):
    scope: Literal["StormService", "RoleSet", "Role"] | None = None
    mode: Literal["Preferred", "Required"] = "Preferred"
    key: str


class RoleSpec(K8sModel):
    name: str
    replicas: int = Field(ge=0, le=INT32_MAX)
    upgrade_order: int | None = Field(default=None, ge=1)
    pod_group_size: int | None = Field(default=None, ge=1, le=100)
    stateful: bool = False
    update_strategy: RoleUpdateStrategy | None = None
    disruption_tolerance: dict[str, Any] | None = None
    scheduling_strategy: dict[str, Any] | None = None
    template: PodTemplate

    @property
    def strategy(self) -> RoleUpdateStrategy:
        return self.update_strategy or DEFAULT_ROLE_STRATEGY

    @property
    def group_size(self) -> int:
        """Pods per replica: ``podGroupSize`` when > 1, else 1."""
        return self.pod_group_size if self.pod_group_size and self.pod_group_size > 1 else 1


class RoleSetSpec(K8sModel):
    roles: list[RoleSpec] = Field(min_length=1)
    update_strategy: Literal["Parallel", "Sequential", "Interleave", ""] | None = None
    scheduling_strategy: dict[str, Any] | None = None
    topology_policy: TopologyPolicy | None = None

    @field_validator("roles")
    @classmethod
    def _unique(cls, roles: list[RoleSpec]) -> list[RoleSpec]:
        seen: set[str] = set()
        for r in roles:
            if r.name in seen:
                raise ValueError(f"duplicate role name {r.name!r}")
            seen.add(r.name)
        return roles

    def role(self, name: str) -> RoleSpec | None:
        for r in self.roles:
            if r.name == name:
                return r
        return None

    @property
    def strategy(self) -> str:
        """RoleSet strategy; empty/absent means Sequential."""
        return self.update_strategy or "Sequential"


class RoleSetTemplate(K8sModel):
    metadata: ObjectMeta | None = None
    spec: RoleSetSpec

    @cached_property
    def canonical(self) -> str:
        """Canonical JSON of the whole template: what a ControllerRevision stores."""
        return json.dumps(self.dump(), sort_keys=True, separators=(",", ":"))

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.metadata.labels if self.metadata else None) or {})

    @property
    def annotations(self) -> dict[str, str]:
        return dict((self.metadata.annotations if self.metadata else None) or {})


class StormServiceUpdateStrategy(K8sModel):
    type: Literal["RollingUpdate", "InPlaceUpdate", ""] = "RollingUpdate"
    max_surge: IntOrPercent | None = None
    max_unavailable: IntOrPercent | None = None

    _check = field_validator("max_surge", "max_unavailable")(_non_negative)


class StormServiceSpec(K8sModel):
    replicas: int = Field(ge=0, le=INT32_MAX)
    selector: LabelSelector
    stateful: bool = False
    template: RoleSetTemplate
    update_strategy: StormServiceUpdateStrategy = Field(default_factory=StormServiceUpdateStrategy)
    revision_history_limit: int | None = Field(default=None, ge=0, le=INT32_MAX)
    paused: bool = False
    disruption_tolerance: dict[str, Any] | None = None
    mode: Literal["Replica", "Pooled"] | None = None
    progress_deadline_seconds: int | None = Field(default=None, ge=1, le=INT32_MAX)

    @model_validator(mode="after")
    def _selector_matches(self) -> StormServiceSpec:
        labels = self.template.labels
        if not self.selector.matches(labels):
            raise ValueError(
                "selector does not match template.metadata.labels "
                "(AIBrix refuses to create RoleSets: 'roleSet labels ... does not match "
                "stormService selector')"
            )
        return self

    @property
    def history_limit(self) -> int:
        return 10 if self.revision_history_limit is None else self.revision_history_limit


def require_name(m: ObjectMeta, limit: int) -> ObjectMeta:
    """``m`` when it has a ``name`` of at most ``limit`` characters (the object kind's limit),
    else a :class:`ValueError` saying which."""
    if not m.name:
        raise ValueError("metadata.name is required")
    if len(m.name) > limit:
        raise ValueError(f"metadata.name must be at most {limit} characters")
    return m


class StormService(K8sModel):
    api_version: Literal["orchestration.aibrix.ai/v1alpha1"]
    kind: Literal["StormService"]
    metadata: ObjectMeta
    spec: StormServiceSpec
    status: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _named(cls, m: ObjectMeta) -> ObjectMeta:
        return require_name(m, 63)

    @property
    def name(self) -> str:
        assert self.metadata.name is not None
        return self.metadata.name
