"""What one reconcile's metric collection returns and costs (AIBrix
``pkg/controller/podautoscaler/metrics/collector.go``, ``fetcher.go``;
``pkg/metrics/engine_fetcher.go``, ``metrics.go``).

Pods are scraped one after another in list order inside the reconcile's deadline. A pod
without an IP is excluded. A pod with an IP whose engine does not answer (or lacks the metric
family) costs the retries (about 7 s: 4 attempts, backoff 1 + 2 + 4 s) and reads 0 in AIBrix
e3e10f9e (excluded under ``fixed-math``). Once the deadline has passed, the current pod and
every later one read 0 at once (excluded under ``fixed-math``). Times in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from stormsim.schema.autoscaler import (
    FIXED_MATH,
    POD_METRIC_REGISTRY,
    AutoscalingProfile,
    MetricSource,
)
from stormsim.schema.scenario import Autoscaling

ENGINE_LABEL = "model.aibrix.ai/engine"
DEFAULT_ENGINE = "vllm"

REGISTRY = POD_METRIC_REGISTRY

COUNTER_KEYS = frozenset(k for k in REGISTRY if k.endswith("_total"))
"""Registry keys that are counters: read raw (cumulative, no rate)."""


def raw_metric_name(target_metric: str, engine: str | None) -> str | None:
    """The Prometheus family a pod scrape reads for ``targetMetric`` on ``engine`` (label
    ``model.aibrix.ai/engine``, default ``vllm``); ``None`` when not fetchable."""
    return REGISTRY.get(target_metric, {}).get(engine or DEFAULT_ENGINE)


_NO_VALUES: Mapping[str, Any] = MappingProxyType({})


class PodScrapeInput(NamedTuple):
    """A pod as the scraper meets it (a named tuple: one is built per pod and reconcile).
    ``has_ip``: ``status.podIP`` set. ``listening``: the
    engine answers on the metrics port. ``metrics``: what it exposes, by registry key
    (``num_requests_waiting``, ...; the first series of the family), and ``cpu``
    (millicores) / ``memory`` (bytes) for resource sources; a key absent means the family is
    missing (the scrape fails). ``engine``: the pod's engine label; ``labels`` its labels
    (for :func:`stormsim.control.autoscaler.target.select_pods`)."""

    name: str
    has_ip: bool
    listening: bool
    metrics: Mapping[str, float] = _NO_VALUES
    engine: str | None = None
    labels: Mapping[str, str] = _NO_VALUES


@dataclass(frozen=True)
class ScrapeCosts:
    """Seconds: one healthy round trip, one failing pod (all retries), the reconcile
    deadline (shared by every scrape and write of the reconcile)."""

    rtt_s: float = 0.002
    failure_s: float = 7.0
    deadline_s: float = 10.0


DEFAULT_COSTS = ScrapeCosts()


def scrape_costs(a: Autoscaling) -> ScrapeCosts:
    """The scrape costs of a scenario's ``autoscaling`` block."""
    return ScrapeCosts(a.scrape_rtt_s, a.scrape_failure_s, a.reconcile_timeout_s)


class PodOutcome(NamedTuple):
    """``value`` (metric units) or ``None`` when the pod is excluded; ``cost_s`` the time
    the scrape took; ``failed``: the scrape did not return the pod's value."""

    name: str
    value: float | None
    cost_s: float
    failed: bool = False


@dataclass(frozen=True)
class ScrapeResult:
    """Per-pod outcomes, the values collected (excluded pods left out, in pod order), the
    time spent (s), and whether the reconcile's deadline passed (then its writes fail)."""

    outcomes: tuple[PodOutcome, ...]
    elapsed_s: float
    deadline_exceeded: bool
    values: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        vals = tuple(o.value for o in self.outcomes if o.value is not None)
        object.__setattr__(self, "values", vals)

    @property
    def error(self) -> bool:
        """Every pod was excluded (and there was at least one): the source fails."""
        return bool(self.outcomes) and not self.values


def scrape_pods(
    pods: Sequence[PodScrapeInput],
    source: MetricSource,
    *,
    profile: AutoscalingProfile,
    costs: ScrapeCosts | None = None,
    elapsed_s: float = 0.0,
) -> ScrapeResult:
    """Scrape ``pods`` in order for a per-pod source (``pod``), starting ``elapsed_s``
    seconds into the reconcile. Outcomes per pod: no IP: excluded, no cost; deadline already
    passed: 0 (``fixed-math``: excluded), no cost; ``targetMetric`` not fetchable for the
    engine: 0 (``fixed-math``: excluded), no cost; engine not listening or family missing:
    0 (``fixed-math``: excluded) after ``costs.failure_s``, cut at the deadline; else the
    value after ``costs.rtt_s``. ``resource`` and ``custom`` sources (metrics APIs, not the
    pod): the pod's ``metrics[targetMetric]`` after one round trip (``custom``: rounded up to
    an integer, as ``Quantity.Value()``), missing: 0 (``fixed-math``: excluded)."""
    costs = costs or DEFAULT_COSTS
    lost = None if profile == FIXED_MATH else 0.0
    t = elapsed_s
    out: list[PodOutcome] = []
    per_pod = source.metric_source_type == "pod"
    metric = source.target_metric
    names = POD_METRIC_REGISTRY.get(metric, {})
    for p in pods:
        if per_pod and not p.has_ip:
            out.append(PodOutcome(p.name, None, 0.0, True))
            continue
        if t >= costs.deadline_s:
            out.append(PodOutcome(p.name, lost, 0.0, True))
            continue
        value = p.metrics.get(metric)
        if not per_pod:
            cost = min(costs.rtt_s, costs.deadline_s - t)
            t += cost
            if value is not None and source.metric_source_type == "custom":
                value = float(math.ceil(value))  # Quantity.Value(): an integer, rounded up
            out.append(PodOutcome(p.name, lost if value is None else value, cost, value is None))
            continue
        if (p.engine or DEFAULT_ENGINE) not in names:
            out.append(PodOutcome(p.name, lost, 0.0, True))
            continue
        if not p.listening or value is None:
            cost = min(costs.failure_s, costs.deadline_s - t)
            t += cost
            out.append(PodOutcome(p.name, lost, cost, True))
            continue
        cost = min(costs.rtt_s, costs.deadline_s - t)
        t += cost
        if t >= costs.deadline_s and cost < costs.rtt_s:
            out.append(PodOutcome(p.name, lost, cost, True))
        else:
            out.append(PodOutcome(p.name, value, cost))
    return ScrapeResult(tuple(out), t - elapsed_s, t >= costs.deadline_s)


def scrape_global(
    value: float | None,
    source: MetricSource,
    *,
    profile: AutoscalingProfile,
    costs: ScrapeCosts | None = None,
    elapsed_s: float = 0.0,
) -> ScrapeResult:
    """An ``external``/``domain`` source, read once per reconcile. Without ``endpoint``:
    the external metrics API's sum ``value`` (``None``: no items, so the source fails). With
    an ``endpoint`` (GPU optimizer): AIBrix e3e10f9e always reads 0 (no registry mapping);
    ``fixed-math`` treats it as a failure."""
    costs = costs or DEFAULT_COSTS
    if source.endpoint:
        v: float | None = None if profile == FIXED_MATH else 0.0
    else:
        v = value
    cost = 0.0 if elapsed_s >= costs.deadline_s else min(costs.rtt_s, costs.deadline_s - elapsed_s)
    return ScrapeResult(
        (PodOutcome("external-source", v, cost, v is None),),
        cost,
        elapsed_s + cost >= costs.deadline_s,
    )
