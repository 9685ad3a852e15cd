"""How long a run must go on after the scenario's last event to see its rollouts finish.

A run without ``until_s`` stops when the service settles after the last event, or at a cap.
The cap is estimated from the scenario, never fixed: every rollout the scenario starts (the
initial deployment, each template change) takes at most ``waves`` rounds of pod start-up, where
a round is the 99th percentile of the slowest role's start-up (scheduling, image pull, model
load, engine init, readiness probe, router registration) plus its termination grace, and
``waves`` follows from the resolved budgets (a StormService RollingUpdate replaces
``maxSurge + maxUnavailable`` RoleSets at a time; in-place updates roll the roles of a RoleSet
one after another, ``maxSurge + maxUnavailable`` pods at a time). The cap is twice the sum,
and at least :data:`MIN_CAP_S`: a rollout that outlives it is one that stalled.
"""

from __future__ import annotations

import math

from stormsim.control.fenceposts import fenceposts_or_zero, is_rolling_update
from stormsim.schema.aibrix import StormService
from stormsim.schema.scenario import (
    Apply,
    Duration,
    Exponential,
    Lognormal,
    Rollback,
    Scale,
    Scenario,
    SetImage,
    Uniform,
)

MIN_CAP_S = 3600.0
"""The cap is never shorter than this (s)."""
SAFETY = 2.0
"""The cap is this many times the estimate."""
Z99 = 2.3263478740408408  # standard normal 99th percentile
Z90 = 1.2815515655446004

STARTUP_PHASES = (
    "scheduling_s",
    "image_pull_s",
    "model_load_s",
    "engine_init_s",
    "readiness_probe_s",
    "router_registration_s",
    "termination_grace_s",
)


def p99(d: Duration) -> float:
    """The 99th percentile (s) of a duration spec."""
    if isinstance(d, int | float):
        return float(d)
    if isinstance(d, Lognormal):
        sigma = max(0.0, math.log(d.p90_s / d.median_s) / Z90)
        return d.median_s * math.exp(sigma * Z99)
    if isinstance(d, Uniform):
        return d.high_s
    if isinstance(d, Exponential):
        return d.mean_s * math.log(100.0)
    raise TypeError(f"not a duration: {d!r}")  # pragma: no cover


def round_s(scenario: Scenario, manifest: StormService) -> float:
    """One round of pod replacement (s): the slowest role's start-up p99 plus grace."""
    t = scenario.timing
    roles = [r.name for r in manifest.spec.template.spec.roles] or [""]
    return max(sum(p99(t.for_role(r, k)) for k in STARTUP_PHASES) for r in roles)


def waves(manifest: StormService) -> int:
    """Rounds of start-up one rollout of ``manifest`` takes at most."""
    spec = manifest.spec
    roles = spec.template.spec.roles
    if is_rolling_update(spec):
        s = spec.update_strategy
        surge, unav = fenceposts_or_zero(s.max_surge, s.max_unavailable, spec.replicas)
        return max(1, math.ceil(spec.replicas / max(1, surge + unav)))
    n = 0
    for r in roles:  # in place: role after role, within each its own budget
        rs = r.strategy
        surge, unav = fenceposts_or_zero(rs.max_surge, rs.max_unavailable, r.replicas)
        n += max(1, math.ceil(max(1, r.replicas) / max(1, surge + unav)))
    return max(1, n)


def estimate_rollouts_s(scenario: Scenario) -> float:
    """Upper estimate (s) of the time the scenario's rollouts take, summed."""
    manifest = scenario.service.manifest
    total = 0.0
    if scenario.service.initial_state == "deploy":
        total += round_s(scenario, manifest)
    for ev in sorted(scenario.events, key=lambda e: e.at_s):
        if isinstance(ev, Apply):
            if ev.manifest is None:  # PodAutoscalers only: no rollout
                continue
            manifest = ev.manifest
        if isinstance(ev, SetImage | Apply | Rollback) or (
            isinstance(ev, Scale) and ev.role is not None
        ):
            total += waves(manifest) * round_s(scenario, manifest)
        elif isinstance(ev, Scale):
            total += round_s(scenario, manifest)
    return total


def settle_cap_s(scenario: Scenario) -> float:
    """How long after the last event a run without ``until_s`` may go on (s)."""
    return max(MIN_CAP_S, SAFETY * estimate_rollouts_s(scenario))
