"""The PodAutoscaler controller in the world: the store adapter around the pure functions of
:mod:`stormsim.control.autoscaler` (AIBrix ``pkg/controller/podautoscaler`` at e3e10f9e).

One reconcile of a KPA/APA PodAutoscaler, at simulated time ``t``:

1. read the target StormService (live: the store), resolve the bounds at the wall-clock
   instant ``autoscaling.start + t``, build the scaling context from the annotations;
2. current replicas ``C`` (``spec.replicas``; a pooled role: its ``status.roleStatuses``
   count); the zero / bound checks;
3. for each metric source: the selected pods, scraped in list order inside the 10 s
   deadline (:func:`~stormsim.control.autoscaler.scrape.scrape_pods`; values are read from
   the serving plane at ``t``, see :class:`MetricsView`), the mean (or sum) recorded into the
   PA's windows at ``t``, the KPA/APA recommendation;
4. the decision (stabilization with the PA's history), then, after the scrapes' time, the
   write and the status write; both fail once the deadline has passed.

The worker is held for the scrapes' time (the service time of a reconcile), so one slow PA
delays every other one (one worker, as AIBrix). The in-memory state (windows, history, the
conflict claims) is kept per PA key for the whole run, as the controller's memory.

The HPA strategy is a separate loop (:class:`HpaLoop`): the Kubernetes HPA controller syncing
every 15 s against the StormService's ``/scale`` (``spec.replicas``), over every pod of the
service; the PodAutoscaler reconcile only mirrors its status.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from stormsim.control.autoscaler.bounds import Bounds, next_transition, resolve_bounds
from stormsim.control.autoscaler.context import scaling_context
from stormsim.control.autoscaler.hpa import (
    FAILED_GET_PODS_METRIC,
    FAILED_GET_RESOURCE_METRIC,
    HPA_SYNC_PERIOD_S,
    HpaPod,
    HpaState,
    hpa_metric_replicas,
    hpa_spec,
    hpa_step,
)
from stormsim.control.autoscaler.reconcile import AutoscalerMemory, reconcile_custom
from stormsim.control.autoscaler.scrape import (
    DEFAULT_COSTS,
    ENGINE_LABEL,
    REGISTRY,
    PodScrapeInput,
    ScrapeCosts,
)
from stormsim.control.autoscaler.status import (
    Claims,
    PaStatus,
    claim_target,
    conflict_message,
    release_claims,
    set_status,
)
from stormsim.control.autoscaler.target import (
    LABEL_POD_GROUP_INDEX,
    LABEL_ROLE,
    RoleView,
    ScaleWrite,
    TargetError,
    TargetView,
    pod_selector,
    scale_write,
    scaling_target_key,
)
from stormsim.control.autoscaler.validate import validate_spec
from stormsim.control.objects import RUNNING, Pod, StormServiceObj
from stormsim.schema.aibrix import RoleSetTemplate
from stormsim.schema.autoscaler import PodAutoscaler
from stormsim.sim.serving.metrics import EngineSample
from stormsim.sim.store import PA, POD, SS, Store

RESYNC_S = 10.0
"""``DefaultResyncInterval``: every PodAutoscaler is enqueued this often (s)."""
SOURCE = "podautoscaler-controller"

QUANTITY = {
    "num_requests_waiting": "num_requests_waiting",
    "num_requests_running": "num_requests_running",
    "gpu_cache_usage_perc": "kv_cache_usage_perc",
    "kv_cache_usage_perc": "kv_cache_usage_perc",
    "avg_prompt_throughput_toks_per_s": "avg_prompt_throughput_toks_per_s",
    "avg_generation_throughput_toks_per_s": "avg_generation_throughput_toks_per_s",
    "http_requests_total": "http_requests_total",
    "request_success_total": "request_success_total",
    "prompt_tokens_total": "prompt_tokens_total",
    "generation_tokens_total": "generation_tokens_total",
}
"""Registry key -> the simulated engine quantity it reads. Other registry keys (swapped,
CPU cache, sleep state, preemptions, prefix cache, engine-specific ones) are exported as 0:
the simulated engines never swap, preempt or cache prefixes."""

EXTERNAL_METRICS = ("gateway_requests_per_s", "gateway_queue_length")
"""External metrics (``metricSourceType: external`` without ``endpoint``) the simulated
metrics API serves: the gateway's arrivals per second over the last 60 s, and the requests
waiting at the gateway for a routable RoleSet. Any other name has no items (the source
fails)."""
GATEWAY_RATE_WINDOW_S = 60.0


class MetricsView(Protocol):
    """What the autoscalers read of the serving plane."""

    def engine_metrics(self, pod: Pod) -> EngineSample: ...
    def arrivals_per_s(self, window_s: float) -> float: ...
    def gateway_queue(self) -> int: ...


PodValue = Callable[[Pod, str], float]
"""``(pod, registry key) -> value`` of a listening pod (tests inject constant inputs)."""


@dataclass(frozen=True)
class PAObj:
    """A PodAutoscaler in the store: its manifest and the status the controller last wrote
    (``None``: none yet)."""

    name: str
    manifest: PodAutoscaler
    status: PaStatus | None = None


def listening(pod: Pod) -> bool:
    """The engine answers on its metrics port: the pod is Running and Ready (a terminating
    pod keeps answering through its grace period; a pod restarting in place does not)."""
    return pod.node is not None and pod.phase == RUNNING and pod.ready


TemplateCache = dict[tuple[str, str | None, int], RoleSetTemplate]
TEMPLATE_CACHE_SIZE = 1024


def with_role_replicas(
    template: RoleSetTemplate, role: str | None, replicas: int, cache: TemplateCache
) -> RoleSetTemplate:
    """``template`` with ``role``'s per-RoleSet ``replicas`` set (validated), kept in
    ``cache`` by the template's canonical JSON, the role and the value: an autoscaler moving a
    role between a few values writes the same templates again and again (templates are
    immutable, so one object serves every write of the same content)."""
    key = (template.canonical, role, replicas)
    out = cache.get(key)
    if out is None:
        data = template.dump()
        for r in data["spec"]["roles"]:
            if r["name"] == role:
                r["replicas"] = replicas
        out = RoleSetTemplate.model_validate(data)
        if len(cache) >= TEMPLATE_CACHE_SIZE:
            cache.clear()
        cache[key] = out
    return out


@dataclass
class AutoscalingEnv:
    """What the controller needs of the world besides the store."""

    profile: str
    start: datetime
    follow_up: bool
    metrics: MetricsView | None
    pod_value: PodValue | None = None
    costs: ScrapeCosts = DEFAULT_COSTS
    resync_s: float = RESYNC_S
    hpa_sync_s: float = HPA_SYNC_PERIOD_S
    hpa_tolerance: float = 0.1
    history_record_interval_s: float = 5.0
    hpa_cpu_initialization_period_s: float = 300.0
    hpa_initial_readiness_delay_s: float = 30.0


class PodAutoscalerReconciler:
    def __init__(self, ctx: Any, env: AutoscalingEnv):
        self.ctx = ctx
        self.env = env
        self.memory = AutoscalerMemory()
        """Metric windows and recommendation histories of every PA (the controller's memory:
        kept when a PA is updated or deleted, as AIBrix keeps it)."""
        self.claims: Claims = {}
        self.in_conflict: dict[str, str] = {}
        """PodAutoscalers whose ``MultiPodAutoscalerConflict`` condition is set: key -> the
        owner of their target."""
        self._busy = 0.0
        self.hpa: dict[str, HpaLoop] = {}
        self._templates: TemplateCache = {}
        self._by_role: dict[str, list[Pod]] = {}
        self._by_role_version = -1
        self._view_of: StormServiceObj | None = None
        self._last_view = TargetView("StormService", "", 0, ())

    # ---------------------------------------------------------------- reads
    def busy(self) -> float:
        b, self._busy = self._busy, 0.0
        return b

    def _view(self, ss: StormServiceObj) -> TargetView:
        """The target as the pure functions read it (kept for the last StormService object
        read: objects are immutable, a write replaces them)."""
        if ss is not self._view_of:
            self._view_of, self._last_view = ss, self._target_view(ss)
        return self._last_view

    @staticmethod
    def _target_view(ss: StormServiceObj) -> TargetView:
        roles = []
        status = {r.name: r.replicas for r in ss.status.role_statuses} if ss.status else {}
        for r in ss.spec.template.spec.roles:
            roles.append(RoleView(r.name, r.replicas, status.get(r.name), r.pod_group_size))
        return TargetView(
            "StormService", ss.name, ss.spec.replicas, tuple(roles), paused=bool(ss.spec.paused)
        )

    def _pods(self, pa: PodAutoscaler, view: TargetView, ss: StormServiceObj) -> list[Pod]:
        sel = pod_selector(pa, view)
        role = sel.get(LABEL_ROLE)
        reads = self.ctx.reads
        pods = reads.values(POD) if role is None else self._role_pods(reads, role)
        if LABEL_POD_GROUP_INDEX in sel:
            return [p for p in pods if p.group_index == 0]
        return list(pods)

    def _role_pods(self, reads: Any, role: str) -> list[Pod]:
        """The pods of ``role`` in ``reads`` (the store or a lagged view of it), in list
        order. From the store, grouped by role once per version of its pods (the two
        PodAutoscalers of a P/D service reconcile at the same instants); a lagged view
        changes as time passes, so it is read afresh."""
        store = self.ctx.store
        if reads is not store:
            return [p for p in reads.values(POD) if p.role == role]
        version = store.version(POD)
        if version != self._by_role_version:
            by_role: dict[str, list[Pod]] = {}
            for p in store.pods.values():
                by_role.setdefault(p.role, []).append(p)
            self._by_role, self._by_role_version = by_role, version
        return self._by_role.get(role, [])

    def _engine(self, ss: StormServiceObj, role: str) -> str | None:
        tmpl = ss.spec.template
        r = tmpl.spec.role(role)
        labels: dict[str, str] = dict(tmpl.labels)
        if r is not None and r.template.metadata is not None and r.template.metadata.labels:
            labels.update(r.template.metadata.labels)
        return labels.get(ENGINE_LABEL)

    def pod_value(self, pod: Pod, key: str) -> float:
        """What ``pod`` exports now for the metric ``key`` (0 for a quantity the engines do
        not export)."""
        return self.pod_values(pod, (key,))[key]

    def pod_values(self, pod: Pod, keys: Collection[str]) -> dict[str, float]:
        """:meth:`pod_value` of each of ``keys``, from one read of the pod's engine (a second
        read at the same instant would return the same sample)."""
        hook = self.env.pod_value
        if hook is not None:
            return {k: hook(pod, k) for k in keys}
        metrics = self.env.metrics
        sample: EngineSample | None = None
        out = {}
        for k in keys:
            q = QUANTITY.get(k)
            if not q or metrics is None:
                out[k] = 0.0
                continue
            if sample is None:
                sample = metrics.engine_metrics(pod)
            out[k] = sample.value(q)
        return out

    def external_value(self, name: str) -> float | None:
        if self.env.pod_value is not None:
            return self.env.pod_value(None, name)  # type: ignore[arg-type]
        m = self.env.metrics
        if name == "gateway_requests_per_s":
            return m.arrivals_per_s(GATEWAY_RATE_WINDOW_S) if m is not None else 0.0
        if name == "gateway_queue_length":
            return float(m.gateway_queue()) if m is not None else 0.0
        return None

    # ---------------------------------------------------------------- reconcile
    def __call__(self, key: str) -> tuple[float | None, bool]:
        """One reconcile; the requeue is the next schedule transition, a time-dependent one
        (never elided as idle)."""
        after = self._reconcile(key)
        return after, after is not None

    def _reconcile(self, key: str) -> float | None:
        ctx = self.ctx
        obj: PAObj | None = ctx.store.get(PA, key)
        if obj is None:
            self.claims = release_claims(self.claims, key)
            self.in_conflict.pop(key, None)
            return None
        pa = obj.manifest
        now = ctx.clock.now
        when = self.wall(now)
        nxt = next_transition(pa.spec, when)
        bounds = resolve_bounds(pa.spec, when)
        bad = validate_spec(pa)
        # both checks run on every reconcile: an invalid PodAutoscaler claims its target too
        self.claims, owner = claim_target(self.claims, pa)
        self._conflict(now, key, owner, pa)
        if bad is not None:
            self._row(
                now, obj, reason=f"InvalidSpec: {bad.reason}", error=bad.message, bounds=bounds
            )
            return None
        if owner is not None:
            msg = conflict_message(scaling_target_key(pa), owner)
            self._row(now, obj, reason="MultiPodAutoscalerConflict", error=msg, bounds=bounds)
            return None
        ref = pa.spec.scale_target_ref
        ss = ctx.store.get(SS, ref.name) if ref.kind == "StormService" else None
        if ss is None:
            msg = f"{ref.kind} {ref.name} not found"
            self._row(now, obj, reason="FailedGetScale", error=msg, bounds=bounds)
            return nxt
        view = self._view(ss)
        if pa.spec.scaling_strategy == "HPA":
            loop = self.hpa.get(key)
            if loop is None:
                loop = self.hpa[key] = HpaLoop(self, key)
            self._status(obj, now, loop.current, loop.desired, False, "hpa", True)
            return nxt
        pods = self._inputs(pa, view, ss)
        ext = {
            src.target_metric: self.external_value(src.target_metric)
            for src in pa.spec.metrics_sources or []
            if src.is_global
        }
        out = reconcile_custom(
            pa,
            now=when,
            now_s=now,
            view=view,
            pods=pods,
            external=ext,
            memory=self.memory,
            profile=self.env.profile,  # type: ignore[arg-type]
            costs=self.env.costs,
        )
        self.memory = out.memory
        if out.current is None or out.decision is None:
            self._row(now, obj, reason="FailedGetReplicas", error=out.error or "", bounds=bounds)
            return nxt
        d = out.decision
        current = out.current
        self._busy = out.elapsed_s
        ready = self._ready(pa, view, ss)
        in_force = self.in_force(pa, view)
        failed = out.deadline_exceeded
        reason = "FailedRescale: context deadline exceeded" if failed else d.reason
        targets = out.context.metric_targets if out.context is not None else {}
        for m in out.metrics or (None,):
            self._row(
                now,
                obj,
                metric=m.target_metric if m else "",
                target_value=targets.get(m.target_metric) if m else None,
                value=m.recorded if m else None,
                stable=m.stable if m else None,
                panic=m.panic if m else None,
                rec=m.recommendation if m else None,
                desired=d.desired,
                current=current,
                ready=ready,
                reason=reason,
                should=d.should_scale,
                written=out.write is not None,
                target_replicas=in_force,
                written_replicas=out.write.value if out.write is not None else None,
                elapsed=out.elapsed_s,
                error=d.error or "",
                bounds=out.bounds,
            )
        if failed:
            return nxt

        def finish() -> None:
            cur = ctx.store.get(PA, key)
            if cur is None:
                return
            if out.write is not None:
                self._apply(pa, out.write)
            self._status(
                cur, ctx.clock.now, current, d.desired, d.should_scale, d.reason, d.error is None
            )

        if out.elapsed_s > 0:
            ctx.clock.timeout(out.elapsed_s).callbacks.append(lambda _e: finish())
        else:
            finish()
        return nxt

    def _conflict(self, now: float, key: str, owner: str | None, pa: PodAutoscaler) -> None:
        """Record the ``MultiPodAutoscalerConflict`` condition when it is set on or removed
        from the PodAutoscaler's status (an event of kind PodAutoscaler, verb ``status``)."""
        was = self.in_conflict.get(key)
        if owner == was:
            return
        if owner is None:
            del self.in_conflict[key]
            detail = "MultiPodAutoscalerConflict removed: it controls " + scaling_target_key(pa)
        else:
            self.in_conflict[key] = owner
            detail = "MultiPodAutoscalerConflict: " + conflict_message(
                scaling_target_key(pa), owner
            )
        self.ctx.recorder.event(now, SOURCE, "status", PA, key, "", detail)

    def wall(self, t: float) -> datetime:
        """The wall-clock instant of simulated time ``t`` (schedules)."""
        return self.env.start + timedelta(seconds=t)

    def _inputs(
        self, pa: PodAutoscaler, view: TargetView, ss: StormServiceObj
    ) -> list[PodScrapeInput]:
        """The pods the PA's selector matches, in list order, as the scraper meets them
        (values read now only for listening pods of a pod-metric source)."""
        sel = pod_selector(pa, view)
        keys = {
            src.target_metric
            for src in pa.spec.metrics_sources or []
            if src.metric_source_type == "pod" and src.target_metric in REGISTRY
        }
        engines: dict[str, str | None] = {}
        out = []
        for p in self._pods(pa, view, ss):
            eng = engines.get(p.role, "?")
            if eng == "?":
                eng = engines[p.role] = self._engine(ss, p.role)
            on = listening(p)
            metrics = self.pod_values(p, keys) if on else {}
            out.append(PodScrapeInput(p.name, p.node is not None, on, metrics, eng, sel))
        return out

    def _ready(self, pa: PodAutoscaler, view: TargetView, ss: StormServiceObj) -> int:
        if pa.role_path:
            pods = self._role_pods(self.ctx.store, pa.spec.role_name or "")
            return sum(1 for p in pods if p.ready and not p.deleting)
        return ss.status.ready_replicas if ss.status is not None else 0

    # ---------------------------------------------------------------- writes
    def in_force(self, pa: PodAutoscaler, view: TargetView) -> int | None:
        """The value in the field this PodAutoscaler writes, as read: the role's per-RoleSet
        template ``replicas`` (pooled role) or ``spec.replicas`` (None: absent)."""
        if view.kind == "StormService" and pa.role_path:
            r = view.role(pa.spec.role_name or "")
            return r.template_replicas if r is not None else None
        return view.spec_replicas

    def written_value(self, pa: PodAutoscaler, view: TargetView, desired: int) -> int | None:
        """The value a write of ``desired`` puts in that field (None: it cannot be written)."""
        try:
            return scale_write(pa, view, desired, profile=self.env.profile).value  # type: ignore[arg-type]
        except TargetError:
            return None

    def _write(self, pa: PodAutoscaler, desired: int) -> None:
        ss = self.ctx.store.get(SS, pa.spec.scale_target_ref.name)
        if ss is not None:
            self._apply(pa, scale_write(pa, self._view(ss), desired, profile=self.env.profile))  # type: ignore[arg-type]

    def _apply(self, pa: PodAutoscaler, w: ScaleWrite) -> None:
        """Carry out a scale write on the StormService (as it is now)."""
        ctx = self.ctx
        ss = ctx.store.get(SS, pa.spec.scale_target_ref.name)
        if ss is None:
            return
        now = ctx.clock.now
        if not w.effective:
            ctx.recorder.event(
                now,
                SOURCE,
                "scale",
                SS,
                ss.name,
                "",
                f"{pa.name}: role {w.role} replicas={w.value} (inert: paused)",
            )
            return
        if w.field == "replicas":
            spec = ss.spec.model_copy(update={"replicas": w.value})
            detail = f"{pa.name}: /scale replicas={w.value}"
        else:
            # only the role's replicas change, so the spec's own checks (the selector
            # against the template's labels) still hold: no validation of the whole spec
            tmpl = with_role_replicas(ss.spec.template, w.role, w.value, self._templates)
            spec = ss.spec.model_copy(update={"template": tmpl})
            detail = f"{pa.name}: role {w.role} replicas={w.value}"
        ctx.recorder.event(now, SOURCE, "scale", SS, ss.name, "", detail)
        if spec == ss.spec:
            return
        if w.field == "role_replicas":
            ctx.recorder.template_change(now, None, "autoscale")
        ctx.store.put(SS, replace(ss, spec=spec, generation=ss.generation + 1))

    def _status(
        self,
        obj: PAObj,
        now: float,
        actual: int,
        desired: int,
        rescale: bool,
        reason: str,
        success: bool,
    ) -> None:
        """The status write (``setStatus``); only when it changes anything. It enqueues the
        PA again at once (follow-up) unless ``follow_up_reconciles`` is off."""
        prev = obj.status or PaStatus()
        status = set_status(
            prev,
            now,
            actual,
            desired,
            rescale=rescale,
            reason=reason,
            success=success,
            record_interval_s=self.env.history_record_interval_s,
        )
        if status == obj.status:
            return
        new = replace(obj, status=status)
        if self.env.follow_up:
            self.ctx.store.put(PA, new)
        else:
            self.ctx.store.autoscalers[obj.name] = new

    def _row(
        self,
        t: float,
        obj: PAObj,
        *,
        metric: str = "",
        target_value: float | None = None,
        value: float | None = None,
        stable: float | None = None,
        panic: float | None = None,
        rec: int | None = None,
        desired: int | None = None,
        current: int | None = None,
        ready: int | None = None,
        reason: str = "",
        should: bool = False,
        written: bool = False,
        target_replicas: int | None = None,
        written_replicas: int | None = None,
        elapsed: float = 0.0,
        error: str = "",
        bounds: Bounds | None = None,
    ) -> None:
        pa = obj.manifest
        self.ctx.recorder.autoscale(
            t=t,
            autoscaler=pa.name,
            target=pa.spec.scale_target_ref.name,
            role=pa.spec.role_name or "",
            strategy=pa.spec.scaling_strategy,
            profile=self.env.profile,
            metric=metric,
            target_value=target_value,
            value=value,
            stable=stable,
            panic=panic,
            recommendation=rec,
            desired=desired,
            current=current,
            ready=ready,
            min_replicas=bounds.min_replicas if bounds else None,
            max_replicas=bounds.max_replicas if bounds else None,
            reason=reason,
            should_scale=should,
            written=written,
            target_replicas=target_replicas,
            written_replicas=written_replicas,
            scrape_s=elapsed,
            error=error,
        )


class HpaLoop:
    """The Kubernetes HPA controller for one ``scalingStrategy: HPA`` PodAutoscaler: every
    15 s, the HPA algorithm over every pod of the StormService (``/scale`` selector), then the
    ``/scale`` write (``spec.replicas``)."""

    def __init__(self, rec: PodAutoscalerReconciler, key: str):
        self.rec = rec
        self.key = key
        self.state = HpaState()
        self.current = 0
        self.desired = 0
        clock = rec.ctx.clock
        clock.process(self._run())

    def _run(self) -> Any:
        clock = self.rec.ctx.clock
        while True:
            self.sync()
            yield clock.timeout(self.rec.env.hpa_sync_s)

    def sync(self) -> None:
        rec = self.rec
        ctx = rec.ctx
        obj: PAObj | None = ctx.store.get(PA, self.key)
        if obj is None:
            return
        pa = obj.manifest
        ss = ctx.store.get(SS, pa.spec.scale_target_ref.name)
        if ss is None:
            return
        now = ctx.clock.now
        when = rec.wall(now)
        bounds = resolve_bounds(pa.spec, when)
        sctx = scaling_context(pa, bounds)
        spec = hpa_spec(pa, bounds, sctx)
        current = ss.spec.replicas
        pods = [p for p in ctx.store.values(POD)]
        per_metric: list[int | None] = []
        rows = []
        for src in pa.spec.metrics_sources or []:
            target = sctx.metric_targets.get(src.target_metric)
            hp = [
                HpaPod(
                    p.name,
                    "Pending" if p.node is None or p.phase != RUNNING else "Running",
                    rec.pod_value(p, src.target_metric) if listening(p) else None,
                    p.deleting,
                    p.ready,
                )
                for p in pods
            ]
            n = (
                hpa_metric_replicas(
                    current,
                    hp,
                    target,
                    tolerance=rec.env.hpa_tolerance,
                    cpu=src.target_metric.lower() == "cpu",
                    now_s=now,
                    cpu_initialization_period_s=rec.env.hpa_cpu_initialization_period_s,
                    initial_readiness_delay_s=rec.env.hpa_initial_readiness_delay_s,
                )
                if target
                else None
            )
            per_metric.append(n)
            vals = [h.value for h in hp if h.value is not None]
            rows.append((src.target_metric, sum(vals) / len(vals) if vals else None, n, target))
        failed = [
            FAILED_GET_RESOURCE_METRIC
            if src.target_metric.lower() in ("cpu", "memory")
            else FAILED_GET_PODS_METRIC
            for src in pa.spec.metrics_sources or []
        ]
        d, self.state = hpa_step(current, spec, per_metric, self.state, now, failed)
        self.current, self.desired = current, d.desired
        ready = ss.status.ready_replicas if ss.status is not None else 0
        view = rec._view(ss)
        in_force = rec.in_force(pa, view)
        value_written = rec.written_value(pa, view, d.desired) if d.should_scale else None
        for metric, value, n, target in rows or [("", None, None, None)]:
            rec._row(
                now,
                obj,
                metric=metric,
                target_value=target,
                value=value,
                rec=n,
                desired=d.desired,
                current=current,
                ready=ready,
                reason=d.reason,
                should=d.should_scale,
                written=d.should_scale,
                target_replicas=in_force,
                written_replicas=value_written,
                bounds=bounds,
            )
        if d.should_scale:
            rec._write(pa, d.desired)


def has_autoscalers(scenario: Any) -> bool:
    """Whether a PodAutoscaler is applied at any time (``autoscalers`` or an ``apply``)."""
    return bool(scenario.autoscalers) or any(
        getattr(e, "autoscalers", None) for e in scenario.events
    )


class Resync:
    """``DefaultResyncInterval``: every PodAutoscaler is enqueued every 10 s."""

    def __init__(
        self, clock: Any, store: Store, enqueue: Callable[[str], None], period_s: float = RESYNC_S
    ):
        self.clock = clock
        self.store = store
        self.enqueue = enqueue
        self.period_s = period_s
        clock.process(self._run())

    def _run(self) -> Any:
        while True:
            yield self.clock.timeout(self.period_s)
            for key in list(self.store.autoscalers):
                self.enqueue(key)


__all__ = [
    "EXTERNAL_METRICS",
    "AutoscalingEnv",
    "PAObj",
    "PodAutoscalerReconciler",
    "Resync",
    "has_autoscalers",
    "listening",
    "with_role_replicas",
]
