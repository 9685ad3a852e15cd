"""What the planner simulates: candidates and configurations, and the runnable scenario of a
configuration (cluster sized to fit it, the StormService, the load, the rollout event).

Every simulated fleet starts deployed and Ready at t = 0 (``service.initial_state: ready``):
the fleet being measured is the one that exists before the first event, so a slow start-up
(70B pods load for minutes) can never leave it half-ready when traffic starts. Start-up
durations still apply to every pod a rollout creates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any, Literal

from stormsim.control.fenceposts import fenceposts_or_zero
from stormsim.schema.plan import Plan
from stormsim.schema.scenario import Duration, Lognormal, Scenario, Timing, Uniform, scenario_dump

Arch = Literal["pd", "colocated"]
Setting = tuple[int | str, int | str]
"""A rollout setting: (maxSurge, maxUnavailable), ints or percentages as in the manifest."""


@dataclass(frozen=True)
class Candidate:
    """A point of the search space: hardware and parallelism, without the counts."""

    arch: Arch
    gpu: str
    tp_prefill: int  # colocated: the engine's TP
    tp_decode: int  # colocated: 0
    shape: tuple[int, int] | None = None  # replica mode: prefill, decode pods per RoleSet

    @property
    def label(self) -> str:
        if self.arch == "colocated":
            return f"{self.gpu} colocated TP{self.tp_prefill}"
        s = f"{self.gpu} P-TP{self.tp_prefill} D-TP{self.tp_decode}"
        if self.shape is not None:
            s += f" {self.shape[0]}P{self.shape[1]}D"
        return s


@dataclass(frozen=True)
class Config:
    """A candidate with counts: ``prefill`` and ``decode`` pods per RoleSet (colocated:
    ``prefill`` engines), ``replicas`` RoleSets."""

    cand: Candidate
    prefill: int
    decode: int
    replicas: int = 1

    @property
    def gpus(self) -> int:
        c = self.cand
        return self.replicas * (self.prefill * c.tp_prefill + self.decode * c.tp_decode)

    @property
    def pods(self) -> int:
        """Pods of the fleet (all RoleSets)."""
        per = self.prefill + (self.decode if self.cand.arch == "pd" else 0)
        return self.replicas * per

    @property
    def label(self) -> str:
        c = self.cand
        if c.arch == "colocated":
            n = self.prefill * self.replicas
            return f"{n} x colocated TP{c.tp_prefill} on {c.gpu}"
        pd_ = f"{self.prefill}P(TP{c.tp_prefill}) + {self.decode}D(TP{c.tp_decode})"
        if c.shape is not None:
            return f"{self.replicas} x [{pd_}] on {c.gpu}"
        return f"{pd_} on {c.gpu}"


def with_extra(cfg: Config, extra: int) -> Config:
    """``cfg`` with ``extra`` more RoleSets (replica mode) or pods per role (pooled)."""
    if cfg.cand.shape is not None:
        return replace(cfg, replicas=cfg.replicas + extra)
    if cfg.cand.arch == "colocated":
        return replace(cfg, prefill=cfg.prefill + extra)
    return replace(cfg, prefill=cfg.prefill + extra, decode=cfg.decode + extra)


def setting_label(r: Setting) -> str:
    return f"maxSurge={r[0]},maxUnavailable={r[1]}"


def parse_budget(v: str) -> int | str:
    """A budget as the table stores it (text) back to an int or a percentage."""
    return int(v) if v.lstrip("-").isdigit() else v


# =========================================================================== budgets


def role_counts(cfg: Config) -> list[int]:
    """Pods per role of one RoleSet (the counts a pooled role budget resolves against)."""
    return [cfg.prefill] if cfg.cand.arch == "colocated" else [cfg.prefill, cfg.decode]


def resolved_budgets(cfg: Config, setting: Setting) -> tuple[tuple[int, int], ...]:
    """The (surge, unavailable) the simulator resolves ``setting`` to, with AIBrix's own
    fenceposts (percent rounded up for surge and down for unavailable, 0/0 read as 0/1): per
    StormService in RoleSets (replica mode) or per role in pods (pooled). Two settings with
    the same resolved budgets roll out identically."""
    su, un = setting
    if cfg.cand.shape is not None:
        return (fenceposts_or_zero(su, un, cfg.replicas),)
    out = []
    for n in role_counts(cfg):
        s, u = fenceposts_or_zero(su, un, n) if n > 0 else (0, 0)
        out.append((s, min(u, n)))
    return tuple(out)


# =========================================================================== start-up


def quantile_s(d: Duration, q: float) -> float:
    """The ``q`` quantile (seconds) of a timing duration."""
    if isinstance(d, int | float):
        return float(d)
    if isinstance(d, Lognormal):
        sigma = math.log(d.p90_s / d.median_s) / 1.2815515655446004
        return d.median_s * math.exp(_z(q) * sigma)
    if isinstance(d, Uniform):
        return d.low_s + q * (d.high_s - d.low_s)
    return -d.mean_s * math.log(1.0 - q)  # exponential


def _z(q: float) -> float:
    """Standard normal quantile."""
    return NormalDist().inv_cdf(q)


START_KEYS = (
    "scheduling_s",
    "image_pull_s",
    "model_load_s",
    "engine_init_s",
    "readiness_probe_s",
    "router_registration_s",
)


def startup_s(timing: Timing, roles: list[str], q: float = 0.9) -> float:
    """A pod's start-up time at the ``q`` quantile of every phase (creation to routable),
    the slowest of ``roles`` (seconds)."""
    return max(sum(quantile_s(timing.for_role(r, k), q) for k in START_KEYS) for r in roles)


def rollout_estimate_s(cfg: Config, setting: Setting, timing: Timing) -> float:
    """An estimate of a full rollout's duration (seconds): waves of pod (or RoleSet)
    replacements, each one start-up with every phase at its 90th percentile plus the
    termination grace period, as many waves as the resolved budgets need (in pooled mode, the
    role needing the most)."""
    roles = ["engine"] if cfg.cand.arch == "colocated" else ["prefill", "decode"]
    step = startup_s(timing, roles) + max(
        quantile_s(timing.for_role(r, "termination_grace_s"), 0.9) for r in roles
    )
    budgets = resolved_budgets(cfg, setting)
    if cfg.cand.shape is not None:
        s, u = budgets[0]
        waves = math.ceil(cfg.replicas / max(1, s + u))
    else:
        waves = sum(
            math.ceil(n / max(1, s + u))
            for n, (s, u) in zip(role_counts(cfg), budgets, strict=True)
        )
    return waves * step


# =========================================================================== scenario builder


@dataclass(frozen=True)
class Base:
    """What the planner keeps from the scenario: resolved data of its sections."""

    name: str
    timing: dict[str, Any]
    timing_model: Timing
    controller: dict[str, Any]
    serving: dict[str, Any]
    workload: dict[str, Any]
    image: str
    labels: dict[str, str]
    container: str


def base_of(sc: Scenario) -> Base:
    data = scenario_dump(sc)
    man = sc.service.manifest.dump()
    roles = man.get("spec", {}).get("template", {}).get("spec", {}).get("roles", [])
    image = "vllm/vllm-openai:latest"
    labels: dict[str, str] = {}
    container = "engine"
    if roles:
        tmpl = roles[0].get("template", {})
        labels = dict(tmpl.get("metadata", {}).get("labels", {}) or {})
        cs = tmpl.get("spec", {}).get("containers", [])
        if cs:
            image = str(cs[0].get("image", image))
    wl = dict(data.get("workload") or {})
    for k in ("arrival", "start_s", "stop_s", "max_requests", "slo"):
        wl.pop(k, None)
    return Base(
        name=sc.name,
        timing=dict(data.get("timing", {})),
        timing_model=sc.timing,
        controller=dict(data.get("controller", {})),
        serving=dict(data.get("serving") or {}),
        workload=wl,
        image=image,
        labels=labels,
        container=container,
    )


def _role(name: str, replicas: int, gpus: int, base: Base, image: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": dict(base.labels)} if base.labels else {}
    return {
        "name": name,
        "replicas": replicas,
        "template": {
            **({"metadata": meta} if meta else {}),
            "spec": {
                "containers": [
                    {
                        "name": base.container,
                        "image": image,
                        "resources": {"limits": {"nvidia.com/gpu": gpus}},
                    }
                ]
            },
        },
    }


def manifest_for(
    cfg: Config, base: Base, name: str, surge: int | str = 1, unavailable: int | str = 0
) -> dict[str, Any]:
    """The StormService of a configuration: pooled (one RoleSet, InPlaceUpdate, per-role
    budgets) or replica (``replicas`` RoleSets, RollingUpdate)."""
    c = cfg.cand
    if c.arch == "colocated":
        roles = [_role("engine", cfg.prefill, c.tp_prefill, base, base.image)]
    else:
        roles = [
            _role("prefill", cfg.prefill, c.tp_prefill, base, base.image),
            _role("decode", cfg.decode, c.tp_decode, base, base.image),
        ]
    if c.shape is None:  # pooled
        for r in roles:
            r["updateStrategy"] = {"maxSurge": surge, "maxUnavailable": unavailable}
        strategy: dict[str, Any] = {"type": "InPlaceUpdate"}
        role_order = "Interleave" if len(roles) > 1 else "Parallel"
    else:
        strategy = {"type": "RollingUpdate", "maxSurge": surge, "maxUnavailable": unavailable}
        role_order = "Parallel"
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": name},
        "spec": {
            "replicas": cfg.replicas,
            "updateStrategy": strategy,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"updateStrategy": role_order, "roles": roles},
            },
        },
    }


def _pack_ffd(sizes: list[int], per_node: int) -> int:
    """Nodes needed for pods of these GPU sizes (first-fit decreasing)."""
    bins: list[int] = []
    for s in sorted(sizes, reverse=True):
        for i, free in enumerate(bins):
            if free >= s:
                bins[i] -= s
                break
        else:
            bins.append(per_node - s)
    return max(1, len(bins))


def _pack_best_fit(sizes: list[int], per_node: int) -> int:
    """Nodes needed when pods arrive in this order and each goes to the fullest node it fits
    (the simulator's scheduler is best-fit)."""
    bins: list[int] = []
    for s in sizes:
        fits = [i for i, free in enumerate(bins) if free >= s]
        if fits:
            i = min(fits, key=lambda j: (bins[j], j))
            bins[i] -= s
        else:
            bins.append(per_node - s)
    return max(1, len(bins))


def nodes_needed(sizes: list[int], per_node: int) -> int:
    """Nodes for these pods, in creation order, whichever packing needs more."""
    return max(_pack_ffd(sizes, per_node), _pack_best_fit(sizes, per_node))


def fleet_pods(cfg: Config) -> list[int]:
    """GPU sizes of the fleet's pods, in creation order (RoleSet by RoleSet, role by role)."""
    c = cfg.cand
    one = [c.tp_prefill] * cfg.prefill + ([c.tp_decode] * cfg.decode if c.arch == "pd" else [])
    return one * cfg.replicas


def surge_pods(cfg: Config, setting: Setting) -> list[int]:
    """GPU sizes of the pods a rollout may add on top of the fleet (resolved budgets)."""
    c = cfg.cand
    budgets = resolved_budgets(cfg, setting)
    if c.shape is not None:
        one = [c.tp_prefill] * cfg.prefill + [c.tp_decode] * cfg.decode
        return one * max(0, budgets[0][0])
    out = [c.tp_prefill] * max(0, budgets[0][0])
    if c.arch == "pd":
        out += [c.tp_decode] * max(0, budgets[1][0])
    return out


@dataclass(frozen=True)
class Window:
    """The measurement of a run: steady-state requests arriving in ``[t0_s, t1_s]``, or (a
    rollout) those arriving in the update window, which must end by ``t1_s``."""

    t0_s: float
    t1_s: float
    rollout: bool
    timeout_s: float | None = None


def rollout_timeout_s(
    plan: Plan, base: Base, cfg: Config, setting: Setting, patience: float = 1.0
) -> float:
    """The plan's ``rollout.timeout_s``, or ``patience`` x (twice the rollout estimate + 60 s).
    The planner tries a rollout with ``patience`` 1 first and, when it has not completed,
    once more with a larger one, so a timeout is never an artefact of a tight estimate."""
    assert plan.rollout is not None
    if plan.rollout.timeout_s is not None:
        return plan.rollout.timeout_s
    est = rollout_estimate_s(cfg, setting, base.timing_model)
    return patience * (2.0 * est + 60.0)


def scenario_for(
    plan: Plan,
    base: Base,
    cfg: Config,
    gpus_per_node: int,
    factor: float = 1.0,
    rollout: Setting | None = None,
    patience: float = 1.0,
) -> tuple[dict[str, Any], Window]:
    """A runnable scenario (plain data) for ``cfg`` at ``factor`` x the planned load, with a
    full image change when ``rollout`` is ``(maxSurge, maxUnavailable)``, and its
    measurement window. The fleet is Ready at t = 0; traffic starts at ``plan.warmup_s``;
    the window opens ``settle_s`` later (a rollout starts then)."""
    surge, unav = rollout if rollout is not None else (1, 0)
    name = "plan-" + cfg.cand.gpu.lower().replace("_", "-").replace(".", "-")
    pods = fleet_pods(cfg) + (surge_pods(cfg, rollout) if rollout is not None else [])
    nodes = nodes_needed(pods, gpus_per_node)
    start = plan.warmup_s
    load = plan.load
    if load.rate_rps is not None:
        arrival: dict[str, Any] = {"kind": "poisson", "rate_rps": load.rate_rps * factor}
    else:
        assert load.profile is not None
        arrival = {
            "kind": "piecewise",
            "interpolation": load.interpolation,
            "points": [[start + t, r * factor] for t, r in load.profile],
        }
    at = start + plan.settle_s
    if rollout is None:
        stop = start + plan.duration_s
        events: list[dict[str, Any]] = []
        window = Window(at, stop, False)
    else:
        timeout = rollout_timeout_s(plan, base, cfg, rollout, patience)
        stop = at + timeout
        events = [{"at_s": at, "kind": "set_image", "image": plan.rollout.image}]  # type: ignore[union-attr]
        window = Window(at, stop, True, timeout)
    wl = dict(base.workload)
    wl.update(
        arrival=arrival,
        slo={"ttft_s": plan.slo.ttft_s, "tpot_s": plan.slo.tpot_s, "ttft_at": plan.slo.ttft_at},
        start_s=start,
        stop_s=stop,
    )
    data: dict[str, Any] = {
        "name": f"{base.name}-plan",
        "cluster": {
            "node_pools": [
                {
                    "name": name,
                    "count": nodes,
                    "gpus_per_node": gpus_per_node,
                    "gpu_type": cfg.cand.gpu,
                    "prepulled_images": [base.image],
                }
            ]
        },
        "timing": base.timing,
        "controller": base.controller,
        "service": {
            "manifest": manifest_for(cfg, base, name, surge, unav),
            "initial_state": "ready",
        },
        "events": events,
        "workload": wl,
        "serving": base.serving,
        "until_s": stop + plan.drain_s,
    }
    return data, window
