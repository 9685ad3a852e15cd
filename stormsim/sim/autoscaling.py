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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from stormsim.control.autoscaler.algorithms import metric_recommendation
from stormsim.control.autoscaler.bounds import Bounds, next_transition, resolve_bounds
from stormsim.control.autoscaler.context import scaling_context
from stormsim.control.autoscaler.decide import Decision, boundary_decision, decide
from stormsim.control.autoscaler.hpa import (
    HPA_SYNC_PERIOD_S,
    HpaPod,
    HpaState,
    hpa_metric_replicas,
    hpa_spec,
    hpa_step,
)
from stormsim.control.autoscaler.scrape import (
    ENGINE_LABEL,
    REGISTRY,
    PodScrapeInput,
    ScrapeCosts,
    ScrapeResult,
    scrape_global,
    scrape_pods,
)
from stormsim.control.autoscaler.stabilize import History
from stormsim.control.autoscaler.target import (
    LABEL_POD_GROUP_INDEX,
    LABEL_ROLE,
    RoleView,
    TargetError,
    TargetView,
    pod_selector,
    scale_write,
    scaling_target_key,
)
from stormsim.control.autoscaler.window import MetricWindows, snapshot_value
from stormsim.control.objects import RUNNING, Pod, StormServiceObj
from stormsim.schema.aibrix import RoleSetTemplate, StormServiceSpec
from stormsim.schema.autoscaler import PodAutoscaler
from stormsim.sim.recorder import Recorder
from stormsim.sim.serving.metrics import IDLE, EngineSample
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
    "sglang:gen_throughput": "avg_generation_throughput_toks_per_s",
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
    (``actualScale``, ``desiredScale``, the last reason)."""

    name: str
    manifest: PodAutoscaler
    status: tuple[int, int, str] | None = None


@dataclass
class PAState:
    """The controller's memory for one PA: windows per ``targetMetric``, the recommendation
    history, the last history record (for the 5 s throttle)."""

    windows: dict[str, MetricWindows] = field(default_factory=dict)
    history: History = ()


def listening(pod: Pod) -> bool:
    """The engine answers on its metrics port: the pod is Running and Ready (a terminating
    pod keeps answering through its grace period; a pod restarting in place does not)."""
    return pod.node is not None and pod.phase == RUNNING and pod.ready


@dataclass
class AutoscalingEnv:
    """What the controller needs of the world besides the store."""

    profile: str
    start: datetime
    follow_up: bool
    metrics: MetricsView | None
    pod_value: PodValue | None = None
    costs: ScrapeCosts = ScrapeCosts()
    resync_s: float = RESYNC_S
    hpa_sync_s: float = HPA_SYNC_PERIOD_S
    hpa_tolerance: float = 0.1


class PodAutoscalerReconciler:
    def __init__(self, ctx: Any, env: AutoscalingEnv):
        self.ctx = ctx
        self.env = env
        self.state: dict[str, PAState] = {}
        self.claims: dict[str, str] = {}
        self._busy = 0.0
        self.hpa: dict[str, HpaLoop] = {}

    # ---------------------------------------------------------------- reads
    def busy(self) -> float:
        b, self._busy = self._busy, 0.0
        return b

    def _view(self, ss: StormServiceObj) -> TargetView:
        roles = []
        status = {r.name: r.replicas for r in ss.status.role_statuses} if ss.status else {}
        for r in ss.spec.template.spec.roles:
            roles.append(RoleView(r.name, r.replicas, status.get(r.name), r.pod_group_size))
        return TargetView("StormService", ss.name, ss.spec.replicas, tuple(roles), paused=bool(ss.spec.paused))

    def _pods(self, pa: PodAutoscaler, view: TargetView, ss: StormServiceObj) -> list[Pod]:
        sel = pod_selector(pa, view)
        role = sel.get(LABEL_ROLE)
        grouped = LABEL_POD_GROUP_INDEX in sel
        out = []
        for p in self.ctx.reads.values(POD):
            if role is not None and p.role != role:
                continue
            if grouped and p.group_index != 0:
                continue
            out.append(p)
        return out

    def _engine(self, ss: StormServiceObj, role: str) -> str | None:
        tmpl = ss.spec.template
        r = tmpl.spec.role(role)
        labels: dict[str, str] = dict(tmpl.labels)
        if r is not None and r.template.metadata is not None and r.template.metadata.labels:
            labels.update(r.template.metadata.labels)
        return labels.get(ENGINE_LABEL)

    def pod_value(self, pod: Pod, key: str) -> float:
        if self.env.pod_value is not None:
            return self.env.pod_value(pod, key)
        q = QUANTITY.get(key)
        if q is None or self.env.metrics is None:
            return 0.0
        return self.env.metrics.engine_metrics(pod).value(q) if q else 0.0

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
    def __call__(self, key: str) -> float | None:
        ctx = self.ctx
        obj: PAObj | None = ctx.store.get(PA, key)
        if obj is None:
            self.claims = {k: v for k, v in self.claims.items() if v != key}
            return None
        pa = obj.manifest
        now = ctx.clock.now
        wall = self.env.start.timestamp() + now
        when = datetime.fromtimestamp(wall, tz=self.env.start.tzinfo)
        tkey = scaling_target_key(pa)
        owner = self.claims.setdefault(tkey, key)
        for k in [k for k, v in self.claims.items() if v == key and k != tkey]:
            del self.claims[k]
        bounds = resolve_bounds(pa.spec, when)
        nxt = next_transition(pa.spec, when)
        if owner != key:
            self._row(now, obj, "", None, None, None, None, 0, 0, 0, "MultiPodAutoscalerConflict", False, False, 0.0, f"target claimed by {owner}")
            return nxt
        ref = pa.spec.scale_target_ref
        ss = ctx.store.get(SS, ref.name) if ref.kind == "StormService" else None
        if ss is None:
            self._row(now, obj, "", None, None, None, None, 0, 0, 0, "FailedGetScale", False, False, 0.0, f"{ref.kind} {ref.name} not found")
            return nxt
        view = self._view(ss)
        try:
            current = _current(pa, view)
        except TargetError as e:
            self._row(now, obj, "", None, None, None, None, 0, 0, 0, "FailedGetReplicas", False, False, 0.0, str(e))
            return nxt
        if pa.spec.scaling_strategy == "HPA":
            loop = self.hpa.get(key)
            if loop is None:
                loop = self.hpa[key] = HpaLoop(self, key)
            self._status(obj, loop.current, loop.desired, "hpa")
            return nxt
        st = self.state.setdefault(key, PAState())
        sctx = scaling_context(pa, bounds)
        elapsed = 0.0
        rows: list[tuple[str, float | None, float | None, float | None, int | None]] = []
        b = boundary_decision(current, bounds)
        if b is not None:
            decision = b
        else:
            pods = self._pods(pa, view, ss)
            recs: list[int | None] = []
            for src in pa.spec.metrics_sources or []:
                res = self._scrape(pa, src, pods, ss, elapsed)
                elapsed += res.elapsed_s
                snap = snapshot_value(res.values, strategy=pa.spec.scaling_strategy, profile=self.env.profile)  # type: ignore[arg-type]
                w = st.windows.get(src.target_metric)
                obs, pan = pa.spec.observe_window_s, pa.spec.panic_window_s
                w = MetricWindows.new(obs, pan) if w is None else w.configured(obs, pan)
                if snap is not None:
                    w = w.record(now, snap)
                st.windows[src.target_metric] = w
                s_mean, p_mean = w.means()
                rec: int | None = None
                if not res.error:
                    rec = metric_recommendation(
                        pa.spec.scaling_strategy,
                        current,
                        s_mean,
                        p_mean,
                        sctx.metric_targets.get(src.target_metric),
                        sctx,
                    ).replicas
                recs.append(rec)
                rows.append((src.target_metric, snap, s_mean, p_mean, rec))
            decision, st.history = decide(
                current,
                bounds,
                recs,
                strategy=pa.spec.scaling_strategy,
                history=st.history,
                now_s=now,
                up_window_s=sctx.scale_up_cooldown_s,
                down_window_s=sctx.scale_down_cooldown_s,
                profile=self.env.profile,  # type: ignore[arg-type]
            )
        failed = elapsed >= self.env.costs.deadline_s
        self._busy = elapsed
        ready = self._ready(pa, view, ss)
        if not rows:
            rows.append(("", None, None, None, None))
        for metric, value, s_mean, p_mean, rec in rows:
            reason = decision.reason if not failed else "FailedRescale: context deadline exceeded"
            self._row(now, obj, metric, value, s_mean, p_mean, rec, decision.desired, current, ready, reason, decision.should_scale, decision.should_scale and not failed, elapsed, decision.error or "", bounds)
        if failed:
            return nxt

        def finish() -> None:
            cur = ctx.store.get(PA, key)
            if cur is None:
                return
            if decision.should_scale:
                self._write(pa, decision.desired)
            self._status(cur, current, decision.desired, decision.reason)

        if elapsed > 0:
            ctx.clock.timeout(elapsed).callbacks.append(lambda _e: finish())
        else:
            finish()
        return nxt

    def _scrape(self, pa: PodAutoscaler, src: Any, pods: Sequence[Pod], ss: StormServiceObj, elapsed: float) -> ScrapeResult:
        prof = self.env.profile
        if src.is_global:
            v = self.external_value(src.target_metric) if not src.endpoint else None
            return scrape_global(v, src, profile=prof, costs=self.env.costs, elapsed_s=elapsed)  # type: ignore[arg-type]
        key = src.target_metric
        per_pod = src.metric_source_type == "pod"
        engines: dict[str, str | None] = {}
        inputs = []
        for p in pods:
            eng = engines.get(p.role, "?")
            if eng == "?":
                eng = engines[p.role] = self._engine(ss, p.role)
            on = listening(p)
            # resource / custom metrics: the simulated pods report none (missing)
            metrics = {key: self.pod_value(p, key)} if on and per_pod and key in REGISTRY else {}
            inputs.append(PodScrapeInput(p.name, p.node is not None, on, metrics, eng))
        return scrape_pods(inputs, src, profile=prof, costs=self.env.costs, elapsed_s=elapsed)  # type: ignore[arg-type]

    def _ready(self, pa: PodAutoscaler, view: TargetView, ss: StormServiceObj) -> int:
        if pa.role_path:
            role = pa.spec.role_name
            return sum(
                1 for p in self.ctx.store.values(POD) if p.role == role and p.ready and not p.deleting
            )
        return ss.status.ready_replicas if ss.status is not None else 0

    # ---------------------------------------------------------------- writes
    def _write(self, pa: PodAutoscaler, desired: int) -> None:
        ctx = self.ctx
        ss = ctx.store.get(SS, pa.spec.scale_target_ref.name)
        if ss is None:
            return
        w = scale_write(pa, self._view(ss), desired, profile=self.env.profile)  # type: ignore[arg-type]
        now = ctx.clock.now
        if not w.effective:
            ctx.recorder.event(now, SOURCE, "scale", SS, ss.name, "", f"{pa.name}: role {w.role} replicas={w.value} (inert: paused)")
            return
        if w.field == "replicas":
            spec = ss.spec.model_copy(update={"replicas": w.value})
            detail = f"{pa.name}: /scale replicas={w.value}"
        else:
            data = ss.spec.template.dump()
            for role in data["spec"]["roles"]:
                if role["name"] == w.role:
                    role["replicas"] = w.value
            spec = ss.spec.model_copy(update={"template": RoleSetTemplate.model_validate(data)})
            spec = StormServiceSpec.model_validate(spec.model_dump(by_alias=True))
            detail = f"{pa.name}: role {w.role} replicas={w.value}"
        ctx.recorder.event(now, SOURCE, "scale", SS, ss.name, "", detail)
        if spec == ss.spec:
            return
        if w.field == "role_replicas":
            ctx.recorder.template_change(now, None, "autoscale")
        ctx.store.put(SS, replace(ss, spec=spec, generation=ss.generation + 1))

    def _status(self, obj: PAObj, actual: int, desired: int, reason: str) -> None:
        status = (actual, desired, reason)
        if obj.status == status:
            return
        new = replace(obj, status=status)
        if self.env.follow_up:
            self.ctx.store.put(PA, new)
        else:
            # the write is not watched: store it without notifying the controller
            self.ctx.store.autoscalers[obj.name] = new

    def _row(self, t: float, obj: PAObj, metric: str, value: float | None, stable: float | None, panic: float | None, rec: int | None, desired: int, current: int, ready: int, reason: str, should: bool, written: bool, elapsed: float, error: str, bounds: Bounds | None = None) -> None:
        pa = obj.manifest
        self.ctx.recorder.autoscale(
            t=t,
            autoscaler=pa.name,
            target=pa.spec.scale_target_ref.name,
            role=pa.spec.role_name or "",
            strategy=pa.spec.scaling_strategy,
            profile=self.env.profile,
            metric=metric,
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
            scrape_s=elapsed,
            error=error,
        )


def _current(pa: PodAutoscaler, view: TargetView) -> int:
    from stormsim.control.autoscaler.target import current_replicas

    return current_replicas(pa, view)


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
        when = datetime.fromtimestamp(rec.env.start.timestamp() + now, tz=rec.env.start.tzinfo)
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
                hpa_metric_replicas(current, hp, target, tolerance=rec.env.hpa_tolerance, now_s=now)
                if target
                else None
            )
            per_metric.append(n)
            vals = [h.value for h in hp if h.value is not None]
            rows.append((src.target_metric, sum(vals) / len(vals) if vals else None, n))
        d, self.state = hpa_step(current, spec, per_metric, self.state, now)
        self.current, self.desired = current, d.desired
        ready = ss.status.ready_replicas if ss.status is not None else 0
        for metric, value, n in rows or [("", None, None)]:
            rec._row(now, obj, metric, value, None, None, n, d.desired, current, ready, d.reason, d.should_scale, d.should_scale, 0.0, "", bounds)
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
    "IDLE",
    "AutoscalingEnv",
    "Decision",
    "PAObj",
    "PodAutoscalerReconciler",
    "Recorder",
]
