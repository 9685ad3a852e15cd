"""Typed model of AIBrix's ``PodAutoscaler`` (``autoscaling.aibrix.ai/v1alpha1``) as in real
manifests, its annotations, and the admission checks AIBrix applies to it.

Field names are AIBrix's camelCase (aliases); Python attributes are snake_case. The pydantic
model checks structure (types, enums, required fields, like the CRD schema);
:func:`webhook_problems` adds the semantic checks of AIBrix's validating webhook
(``pkg/webhook/podautoscaler_webhook.go`` at e3e10f9e) and of the schedule parser
(``pkg/utils/paschedules/schedules.go``) with their messages, each at its field path.
What the controller does with each field: ``docs/aibrix/podautoscaler.md``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from stormsim.schema.aibrix import K8sModel, ObjectMeta, require_name
from stormsim.schema.bounds import INT32_MAX

PA_API_VERSION = "autoscaling.aibrix.ai/v1alpha1"
PA_KIND = "PodAutoscaler"
STORMSERVICE_API_VERSION = "orchestration.aibrix.ai/v1alpha1"

DEFAULT_OBSERVE_WINDOW_S = 180
"""Stable window when ``observeWindowSeconds`` is unset (s; ``client.go``
``DefaultStableWindowDuration``). Used by KPA and APA."""
DEFAULT_PANIC_WINDOW_S = 60
"""Panic window when ``panicWindowSeconds`` is unset (s; ``DefaultPanicWindowDuration``)."""
MAX_WINDOW_S = 3600
"""Longest observe/panic window the CRD and webhook accept (s)."""

# -- annotations the controller reads (pkg/controller/podautoscaler/types/annotations.go) --
ANN_PREFIX = "autoscaling.aibrix.ai/"
ANN_MAX_SCALE_UP_RATE = ANN_PREFIX + "max-scale-up-rate"
ANN_MAX_SCALE_DOWN_RATE = ANN_PREFIX + "max-scale-down-rate"
ANN_SCALE_UP_TOLERANCE = ANN_PREFIX + "scale-up-tolerance"
ANN_SCALE_DOWN_TOLERANCE = ANN_PREFIX + "scale-down-tolerance"
ANN_PANIC_THRESHOLD = ANN_PREFIX + "panic-threshold"
ANN_SCALE_UP_COOLDOWN = ANN_PREFIX + "scale-up-cooldown-window"
ANN_SCALE_DOWN_COOLDOWN = ANN_PREFIX + "scale-down-cooldown-window"
ANN_SCALE_TO_ZERO = ANN_PREFIX + "scale-to-zero"
ANN_STORM_SERVICE_MODE = ANN_PREFIX + "storm-service-mode"

FLOAT_ANNOTATIONS = (
    ANN_MAX_SCALE_UP_RATE,
    ANN_MAX_SCALE_DOWN_RATE,
    ANN_SCALE_UP_TOLERANCE,
    ANN_SCALE_DOWN_TOLERANCE,
    ANN_PANIC_THRESHOLD,
)
DURATION_ANNOTATIONS = (ANN_SCALE_UP_COOLDOWN, ANN_SCALE_DOWN_COOLDOWN)
BOOL_ANNOTATIONS = (ANN_SCALE_TO_ZERO,)
READ_ANNOTATIONS = (
    *FLOAT_ANNOTATIONS,
    *DURATION_ANNOTATIONS,
    *BOOL_ANNOTATIONS,
    ANN_STORM_SERVICE_MODE,
)
"""Every annotation key the e3e10f9e controller parses."""
STORM_SERVICE_MODES = ("replica", "pool")
"""``storm-service-mode`` values stormsim knows: ``replica`` (the only one the controller
treats specially: a role PodAutoscaler scales the RoleSets) and ``pool`` (the AIBrix samples'
spelling of the default: the role's template replicas). Any other value is read as ``pool``."""

IGNORED_ANNOTATIONS = (
    "kpa.autoscaling.aibrix.ai/scale-down-delay",
    "kpa.autoscaling.aibrix.ai/scale-up-cooldown",
    "kpa.autoscaling.aibrix.ai/panic-threshold",
    "kpa.autoscaling.aibrix.ai/tolerance",
    "apa.autoscaling.aibrix.ai/window",
    "autoscaling.aibrix.ai/up-fluctuation-tolerance",
    "autoscaling.aibrix.ai/down-fluctuation-tolerance",
)
"""Keys found in AIBrix samples, docs and tests that the e3e10f9e controller never reads
(remnants of the per-strategy prefixes removed in refactors #1575/#1622)."""

PRUNED_SPEC_FIELDS = ("behavior",)
"""Fields seen in AIBrix samples under ``spec`` that are not in the CRD: the API server drops
them (or rejects them under strict field validation); stormsim drops them with a warning."""

POD_METRIC_REGISTRY: dict[str, dict[str, str]] = {
    "num_requests_running": {
        "vllm": "vllm:num_requests_running",
        "sglang": "sglang:num_running_reqs",
    },
    "num_requests_waiting": {
        "vllm": "vllm:num_requests_waiting",
        "sglang": "sglang:num_queue_reqs",
    },
    "num_requests_swapped": {
        "vllm": "vllm:num_requests_swapped",
        "sglang": "sglang:num_retracted_reqs",
    },
    "gpu_cache_usage_perc": {
        "vllm": "vllm:gpu_cache_usage_perc",
        "sglang": "sglang:token_usage",
        "xllm": "kv_cache_utilization",
    },
    "kv_cache_usage_perc": {
        "vllm": "vllm:kv_cache_usage_perc",
        "sglang": "sglang:token_usage",
        "trtllm": "trtllm_kv_cache_utilization",
        "xllm": "kv_cache_utilization",
    },
    "cpu_cache_usage_perc": {"vllm": "vllm:cpu_cache_usage_perc"},
    "engine_sleep_state": {"vllm": "vllm:engine_sleep_state"},
    "engine_utilization": {"xllm": "engine_utilization"},
    "kv_cache_hit_rate": {"trtllm": "trtllm_kv_cache_hit_rate"},
    "num_prefill_prealloc_queue_reqs": {"sglang": "sglang:num_prefill_prealloc_queue_reqs"},
    "num_decode_prealloc_queue_reqs": {"sglang": "sglang:num_decode_prealloc_queue_reqs"},
    "avg_prompt_throughput_toks_per_s": {"vllm": "vllm:avg_prompt_throughput_toks_per_s"},
    "avg_generation_throughput_toks_per_s": {
        "vllm": "vllm:avg_generation_throughput_toks_per_s",
        "sglang": "sglang:gen_throughput",
    },
    "http_requests_total": {"vllm": "vllm:http_requests_total"},
    "request_success_total": {
        "vllm": "vllm:num_requests_success_total",
        "sglang": "sglang:num_requests_total",
        "trtllm": "trtllm_request_success_total",
    },
    "prompt_tokens_total": {"vllm": "vllm:prompt_tokens_total"},
    "generation_tokens_total": {"vllm": "vllm:generation_tokens_total"},
    "num_preemptions_total": {"vllm": "vllm:num_preemptions_total"},
    "prefix_cache_queries_total": {"vllm": "vllm:prefix_cache_queries_total"},
    "prefix_cache_hits_total": {"vllm": "vllm:prefix_cache_hits_total"},
}
"""Pod-fetchable (gauge or counter) registry keys -> raw Prometheus family per engine
(``pkg/metrics/metrics.go``, the subset a simulated engine can expose). A ``targetMetric``
that is not a key here, or has no name for the pod's engine, reads 0 without any request."""

POD_REGISTRY_KEYS = frozenset(POD_METRIC_REGISTRY)

METRIC_SOURCE_TYPES = ("pod", "resource", "custom", "external", "domain")

_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE
)
_GO_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+")
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_float(text: str) -> float:
    """A number as Go's ``strconv.ParseFloat(text, 64)`` reads it: decimal or hex-float
    notation, ``Inf``/``NaN`` words; no spaces or digit separators. Raises ``ValueError``."""
    if _GO_FLOAT.fullmatch(text):
        v = float(text)
    elif _GO_HEX_FLOAT.fullmatch(text):
        v = float.fromhex(text)
    else:
        raise ValueError(f"invalid syntax: {text!r}")
    if math.isinf(v) and not re.search(r"inf", text, re.IGNORECASE):
        raise ValueError(f"value out of range: {text!r}")
    return v


def parse_go_duration(text: str) -> float:
    """Seconds of a Go ``time.ParseDuration`` string (``"30s"``, ``"5m"``, ``"1h30m"``,
    ``"-1.5s"``; ``"0"`` alone needs no unit). Raises ``ValueError``."""
    s = text
    sign = 1.0
    if s[:1] in ("+", "-"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"time: invalid duration {text!r}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _GO_DURATION_PART.match(s, pos)
        if m is None:
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def parse_go_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``. Raises ``ValueError``."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f"invalid syntax: {text!r}")


def parse_target_value(text: str) -> float:
    """A metric source's ``targetValue`` as the webhook checks it: a Go float > 0.
    Raises ``ValueError`` with the webhook's wording."""
    try:
        v = parse_go_float(text)
    except ValueError:
        raise ValueError(f"must be a valid number (got {text!r})") from None
    if not v > 0:
        raise ValueError(f"must be greater than 0 (got {text!r})")
    return v


class ObjectReference(K8sModel):
    """Core ``ObjectReference`` (the PodAutoscaler's ``scaleTargetRef``)."""

    api_version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class SubTargetSelector(K8sModel):
    role_name: str | None = None


class MetricSource(K8sModel):
    """One ``spec.metricsSources[]`` entry. ``targetValue`` stays the string of the manifest;
    :attr:`target` is its value (``None`` when it does not parse)."""

    metric_source_type: Literal["pod", "resource", "custom", "external", "domain"]
    protocol_type: Literal["http", "https"] | None = None
    endpoint: str | None = None
    path: str | None = None
    port: str | None = None
    target_metric: str = ""
    target_value: str = ""

    @property
    def target(self) -> float | None:
        """``targetValue`` as a number (per-pod target for every strategy); ``None`` when it
        is not a valid number > 0."""
        try:
            return parse_target_value(self.target_value)
        except ValueError:
            return None

    @property
    def is_global(self) -> bool:
        """Collected once per reconcile (one value), not once per pod: external and domain."""
        return self.metric_source_type in ("external", "domain")


class PodAutoscalerSchedule(K8sModel):
    """A time-of-day override of the replica bounds (``spec.schedules[]``). Times are
    ``HH:MM`` in ``timezone`` (IANA; empty means UTC); the window is ``[start, end)``."""

    name: str
    timezone: str | None = None
    days_of_week: list[str] | None = None
    start_time: str
    end_time: str
    min_replicas: int | None = Field(default=None, le=INT32_MAX)
    max_replicas: int | None = Field(default=None, le=INT32_MAX)


class PodAutoscalerSpec(K8sModel):
    scale_target_ref: ObjectReference
    sub_target_selector: SubTargetSelector | None = None
    min_replicas: int | None = Field(default=None, ge=-INT32_MAX - 1, le=INT32_MAX)
    max_replicas: int = Field(ge=-INT32_MAX - 1, le=INT32_MAX)
    schedules: list[PodAutoscalerSchedule] | None = None
    metrics_sources: list[MetricSource] | None = None
    observe_window_seconds: int | None = None
    panic_window_seconds: int | None = None
    scaling_strategy: Literal["HPA", "KPA", "APA"]

    @model_validator(mode="before")
    @classmethod
    def _prune(cls, data: Any) -> Any:
        """Drop the non-CRD fields the API server prunes (the loader warns about them)."""
        if isinstance(data, dict) and any(k in data for k in PRUNED_SPEC_FIELDS):
            data = {k: v for k, v in data.items() if k not in PRUNED_SPEC_FIELDS}
        return data

    @property
    def observe_window_s(self) -> int:
        """Stable window length (s): ``observeWindowSeconds`` or 180."""
        w = self.observe_window_seconds
        return DEFAULT_OBSERVE_WINDOW_S if w is None else w

    @property
    def panic_window_s(self) -> int:
        """Panic window length (s): ``panicWindowSeconds`` or 60."""
        w = self.panic_window_seconds
        return DEFAULT_PANIC_WINDOW_S if w is None else w

    @property
    def base_min_replicas(self) -> int:
        """``minReplicas``, or 1 when unset (``schedules.go: BaseBounds``)."""
        return 1 if self.min_replicas is None else self.min_replicas

    @property
    def role_name(self) -> str | None:
        """``subTargetSelector.roleName`` (``None`` when there is no sub-target selector)."""
        return self.sub_target_selector.role_name if self.sub_target_selector else None


class PodAutoscaler(K8sModel):
    api_version: Literal["autoscaling.aibrix.ai/v1alpha1"]
    kind: Literal["PodAutoscaler"]
    metadata: ObjectMeta
    spec: PodAutoscalerSpec
    status: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _named(cls, m: ObjectMeta) -> ObjectMeta:
        return require_name(m, 253)

    @property
    def name(self) -> str:
        assert self.metadata.name is not None
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or "default"

    @property
    def key(self) -> str:
        """``namespace/name``: the key of the controller's in-memory state for this PA."""
        return f"{self.namespace}/{self.name}"

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.metadata.annotations or {})

    @property
    def storm_service_mode(self) -> str | None:
        """The ``autoscaling.aibrix.ai/storm-service-mode`` annotation (only ``"replica"`` is
        special)."""
        return self.annotations.get(ANN_STORM_SERVICE_MODE)

    @property
    def role_path(self) -> bool:
        """Whether scaling goes through a role's template ``replicas`` (pooled role mode): a
        StormService target with a sub-target selector and no ``storm-service-mode: replica``
        annotation (``workload_scale.go``)."""
        ref = self.spec.scale_target_ref
        return (
            ref.kind == "StormService"
            and self.spec.sub_target_selector is not None
            and self.storm_service_mode != "replica"
        )

    @property
    def target_key(self) -> str:
        """The controller's conflict-map key (``buildScalingTargetKey``):
        ``<apiVersion>.<kind>/<namespace>/<name>``, plus ``/<role>`` for a StormService role.
        PodAutoscalers with one key conflict: only the first to reconcile acts."""
        ref = self.spec.scale_target_ref
        key = f"{ref.api_version}.{ref.kind}/{self.namespace}/{ref.name}"
        role = self.spec.role_name
        if ref.api_version == STORMSERVICE_API_VERSION and ref.kind == "StormService" and role:
            key += f"/{role}"
        return key


# -- schedules (pkg/utils/paschedules/schedules.go) -----------------------------------------

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hhmm(text: str) -> int:
    """Minute of day of a strict ``HH:MM``. Raises ``ValueError``."""
    m = _HHMM.fullmatch(text)
    if m is None:
        raise ValueError(f"must be HH:MM (got {text!r})")
    return int(m.group(1)) * 60 + int(m.group(2))


def schedule_zone(s: PodAutoscalerSchedule) -> tzinfo:
    """The schedule's time zone (empty: UTC). Raises ``ValueError`` for an unknown name."""
    if not s.timezone:
        return UTC
    try:
        return ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {s.timezone!r}") from None


def schedule_days(s: PodAutoscalerSchedule) -> frozenset[int]:
    """Selected weekdays (0 = Monday); all seven when ``daysOfWeek`` is omitted."""
    if s.days_of_week is None:
        return frozenset(range(7))
    return frozenset(DAYS.index(d.lower()) for d in s.days_of_week)


def schedule_problems(spec: PodAutoscalerSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """The schedule checks of ``schedules.go`` (names, days, times, overlaps, one time zone,
    effective bounds). Returns ``(path under spec, message)`` pairs."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    scheds = spec.schedules
    if scheds is None:
        return out
    if not scheds:
        return [(("schedules",), "must contain at least one schedule when set")]
    names: set[str] = set()
    zones: dict[str, int] = {}
    windows: list[tuple[int, frozenset[int], int, int]] = []
    for i, s in enumerate(scheds):
        at: tuple[str | int, ...] = ("schedules", i)
        ok = True
        if not _DNS_LABEL.fullmatch(s.name) or len(s.name) > 63:
            out.append(((*at, "name"), f"must be a DNS label (a-z, 0-9, '-'), got {s.name!r}"))
        elif s.name in names:
            out.append(((*at, "name"), f"duplicate schedule name {s.name!r}"))
        names.add(s.name)
        try:
            schedule_zone(s)
            zones.setdefault(s.timezone or "UTC", i)
        except ValueError as e:
            out.append(((*at, "timezone"), str(e)))
            ok = False
        if s.days_of_week is not None:
            if not s.days_of_week:
                out.append(((*at, "daysOfWeek"), "must not be empty when set"))
                ok = False
            for j, d in enumerate(s.days_of_week):
                if d.lower() not in DAYS:
                    out.append(((*at, "daysOfWeek", j), f"must be one of mon..sun (got {d!r})"))
                    ok = False
        start = end = 0
        try:
            start = parse_hhmm(s.start_time)
        except ValueError as e:
            out.append(((*at, "startTime"), str(e)))
            ok = False
        try:
            end = parse_hhmm(s.end_time)
        except ValueError as e:
            out.append(((*at, "endTime"), str(e)))
            ok = False
        if ok and start >= end:
            out.append(
                (
                    (*at, "endTime"),
                    "must be after startTime (windows may not cross midnight)",
                )
            )
            ok = False
        if s.min_replicas is None and s.max_replicas is None:
            out.append((at, "at least one of minReplicas or maxReplicas must be set"))
        lo = spec.base_min_replicas if s.min_replicas is None else s.min_replicas
        hi = spec.max_replicas if s.max_replicas is None else s.max_replicas
        if s.min_replicas is not None and lo < 0:
            out.append(((*at, "minReplicas"), "must not be negative"))
        elif s.max_replicas is not None and hi <= 0:
            out.append(((*at, "maxReplicas"), "must be positive"))
        elif lo > hi and (s.min_replicas is not None or s.max_replicas is not None):
            out.append((at, f"effective minReplicas {lo} cannot be greater than maxReplicas {hi}"))
        if ok:
            windows.append((i, schedule_days(s), start, end))
    if len(zones) > 1:
        second = sorted(zones.values())[1]
        out.append(
            (
                ("schedules", second, "timezone"),
                f"all schedules must use the same timezone (found: {', '.join(zones)})",
            )
        )
    for a in range(len(windows)):
        for b in range(a + 1, len(windows)):
            ia, da, sa, ea = windows[a]
            ib, db, sb, eb = windows[b]
            if da & db and sa < eb and sb < ea:
                out.append(
                    (
                        ("schedules", ib),
                        f"overlaps schedule {scheds[ia].name!r} on a shared day",
                    )
                )
    return out


# -- webhook (pkg/webhook/podautoscaler_webhook.go) -----------------------------------------


def webhook_problems(pa: PodAutoscaler) -> list[tuple[tuple[str | int, ...], str]]:
    """Every problem AIBrix's validating webhook reports for ``pa`` (it collects them all),
    as ``(path, message)`` with paths from the manifest root (``spec.minReplicas``)."""
    spec = pa.spec
    out: list[tuple[tuple[str | int, ...], str]] = []
    ref = spec.scale_target_ref
    if not ref.name:
        out.append((("spec", "scaleTargetRef", "name"), "Required value: name is required"))
    if not ref.kind:
        out.append((("spec", "scaleTargetRef", "kind"), "Required value: kind is required"))
    if spec.min_replicas is not None and spec.min_replicas < 0:
        out.append(
            (("spec", "minReplicas"), f"Invalid value: {spec.min_replicas}: must not be negative")
        )
    if spec.max_replicas <= 0:
        out.append(
            (("spec", "maxReplicas"), f"Invalid value: {spec.max_replicas}: must be positive")
        )
    elif spec.min_replicas is not None and spec.max_replicas < spec.min_replicas:
        out.append(
            (
                ("spec", "maxReplicas"),
                f"Invalid value: {spec.max_replicas}: must be greater than or equal to "
                f"minReplicas ({spec.min_replicas})",
            )
        )
    obs, pan = spec.observe_window_seconds, spec.panic_window_seconds
    if obs is not None and obs <= 0:
        out.append(
            (("spec", "observeWindowSeconds"), f"Invalid value: {obs}: must be greater than 0")
        )
    elif obs is not None and obs > MAX_WINDOW_S:
        out.append(
            (
                ("spec", "observeWindowSeconds"),
                f"Invalid value: {obs}: must be less than or equal to {MAX_WINDOW_S}",
            )
        )
    if pan is not None and pan <= 0:
        out.append(
            (("spec", "panicWindowSeconds"), f"Invalid value: {pan}: must be greater than 0")
        )
    elif pan is not None and pan > MAX_WINDOW_S:
        out.append(
            (
                ("spec", "panicWindowSeconds"),
                f"Invalid value: {pan}: must be less than or equal to {MAX_WINDOW_S}",
            )
        )
    elif spec.panic_window_s > spec.observe_window_s and spec.observe_window_s > 0:
        where = "panicWindowSeconds" if pan is not None else "observeWindowSeconds"
        out.append(
            (
                ("spec", where),
                f"Invalid value: panicWindowSeconds {spec.panic_window_s} must be less than or "
                f"equal to observeWindowSeconds {spec.observe_window_s}",
            )
        )
    out.extend((("spec", *p), m) for p, m in schedule_problems(spec))
    if spec.scaling_strategy == "HPA" and spec.role_name:
        out.append(
            (
                ("spec", "subTargetSelector", "roleName"),
                "Forbidden: subTargetSelector.roleName is not supported with "
                "scalingStrategy=HPA; use APA or KPA for StormService role-level autoscaling.",
            )
        )
    sources = spec.metrics_sources or []
    if not sources:
        out.append(
            (("spec", "metricsSources"), "Required value: at least one metricsSource is required")
        )
    for i, src in enumerate(sources):
        at: tuple[str | int, ...] = ("spec", "metricsSources", i)
        if not src.target_metric:
            out.append(((*at, "targetMetric"), "Required value: targetMetric must be specified"))
        if not src.target_value:
            out.append(((*at, "targetValue"), "Required value: targetValue must be specified"))
        else:
            try:
                parse_target_value(src.target_value)
            except ValueError as e:
                out.append(((*at, "targetValue"), f"Invalid value: {e}"))
        t = src.metric_source_type
        if t == "pod":
            for key, val in (
                ("protocolType", src.protocol_type),
                ("port", src.port),
                ("path", src.path),
            ):
                if not val:
                    out.append(((*at, key), f"Required value: {key} is required for pod metrics"))
        elif t in ("external", "domain") and src.endpoint:
            for key, val in (("protocolType", src.protocol_type), ("path", src.path)):
                if not val:
                    out.append(
                        (
                            (*at, key),
                            f"Required value: {key} is required for {t} metrics with an endpoint",
                        )
                    )
        elif t == "resource":
            if src.target_metric and src.target_metric not in ("cpu", "memory"):
                out.append(
                    (
                        (*at, "targetMetric"),
                        f"Unsupported value: {src.target_metric!r}: supported values: "
                        '"cpu", "memory"',
                    )
                )
            for key, val in (
                ("port", src.port),
                ("endpoint", src.endpoint),
                ("path", src.path),
                ("protocolType", src.protocol_type),
            ):
                if val:
                    out.append(
                        ((*at, key), f"Forbidden: {key} is not allowed for resource metrics")
                    )
    return out


def annotation_problems(pa: PodAutoscaler) -> list[tuple[str, str]]:
    """Annotations the controller would fail to parse or never reads, as
    ``(key, message)``. AIBrix accepts them (the loader warns): a bad value makes the
    controller stop parsing annotations for that reconcile (``types/annotations.go``)."""
    out: list[tuple[str, str]] = []
    for k, v in pa.annotations.items():
        try:
            if k in FLOAT_ANNOTATIONS:
                parse_go_float(v)
            elif k in DURATION_ANNOTATIONS:
                parse_go_duration(v)
            elif k in BOOL_ANNOTATIONS:
                parse_go_bool(v)
        except ValueError as e:
            out.append(
                (k, f"{v!r} does not parse ({e}); the controller stops reading annotations there")
            )
        if k in IGNORED_ANNOTATIONS:
            out.append((k, "is not read by the AIBrix controller at e3e10f9e (no effect)"))
        if k == ANN_SCALE_TO_ZERO:
            out.append((k, "is parsed but never used by the AIBrix controller (no effect)"))
        if k == ANN_STORM_SERVICE_MODE and v not in STORM_SERVICE_MODES:
            out.append(
                (
                    k,
                    f"{v!r} is not a value AIBrix recognises: it treats only 'replica' "
                    "specially (a role PodAutoscaler scales the StormService's RoleSets, "
                    "spec.replicas) and reads any other value as no annotation (a role "
                    "PodAutoscaler scales the role's replicas in the RoleSet template, as "
                    "'pool' does)",
                )
            )
    return out


def wall_clock(start: datetime, t_s: float) -> datetime:
    """The wall-clock instant ``t_s`` simulated seconds after ``start``."""
    return start + timedelta(seconds=t_s)


AutoscalingProfile = Literal["aibrix-e3e10f9e", "fixed-math"]
"""``aibrix-e3e10f9e``: the controller at that commit, quirks included. ``fixed-math``: KPA
on the sum over pods, HPA-style stabilization, failed scrapes excluded, pooled-role writes
divided over the RoleSets (no #2780 multiplication)."""
FAITHFUL: AutoscalingProfile = "aibrix-e3e10f9e"
FIXED_MATH: AutoscalingProfile = "fixed-math"
