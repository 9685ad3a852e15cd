"""Run keys that identify settings AIBrix cannot tell apart, so a study simulates them once.

The StormService controller never reads ``spec.updateStrategy.maxSurge`` / ``maxUnavailable``
as written: it resolves them to RoleSet counts (:func:`stormsim.control.fenceposts.
stormservice_budgets`; percentages of ``spec.replicas``, surge rounded up and unavailability
down, both 0 meaning unavailability 1). ``maxSurge 0, maxUnavailable 0`` and ``0, 1`` are the same
rollout, as are ``25%`` and ``2`` of 8 RoleSets; under ``InPlaceUpdate`` neither field is used.
:func:`run_key` hashes the resolved scenario with these two fields replaced by what the
controller uses, so such settings share one key (and one run, and one cache entry).

The replacement is made only where it is exact: never when an event or an autoscaler can
change ``spec.replicas`` or the strategy (``scale`` without a role, ``apply``, a
PodAutoscaler), and never when a value does not resolve (a string without ``%``: AIBrix
then uses 0 / 0, which an integer cannot express). Role-level strategies live in the RoleSet
template, whose hash names revisions and pods, so they are left as written.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stormsim.control.fenceposts import LATEST, is_rolling_update, resolve_fenceposts, resolved_mode
from stormsim.schema.scenario import Apply, Scale, Scenario, scenario_dump


def _resolvable(scenario: Scenario) -> bool:
    """Whether ``spec.replicas`` stays as written: no apply, no /scale event, no
    PodAutoscaler (one may write ``spec.replicas``)."""
    return not scenario.autoscalers and not any(
        isinstance(e, Apply) or (isinstance(e, Scale) and e.role is None) for e in scenario.events
    )


def effective_strategy(scenario: Scenario) -> dict[str, Any] | None:
    """The StormService ``updateStrategy`` budgets as the controller uses them
    (``{"maxSurge": 1, "maxUnavailable": 1}``, ``{}`` when neither is used), or None when they
    cannot be replaced exactly (see the module docstring)."""
    if not _resolvable(scenario):
        return None
    spec = scenario.service.manifest.spec
    if not is_rolling_update(spec):
        return {}
    if scenario.controller.profile == LATEST and resolved_mode(spec) == "Pooled":
        return {}
    s = spec.update_strategy
    try:
        surge, unav = resolve_fenceposts(s.max_surge, s.max_unavailable, spec.replicas)
    except ValueError:
        return None
    return {"maxSurge": surge, "maxUnavailable": unav}


def run_key(scenario: Scenario, seed: int, until_s: float | None = None) -> str:
    """A stable 16-hex-digit key of one run: the resolved scenario (its StormService budgets
    as the controller resolves them), the seed and the end time."""
    data = scenario_dump(scenario)
    eff = effective_strategy(scenario)
    if eff is not None:
        strat = data["service"]["manifest"]["spec"]["updateStrategy"]
        strat.pop("maxSurge", None)
        strat.pop("maxUnavailable", None)
        strat.update(eff)
    data["seed"] = seed
    if until_s is not None:
        data["until_s"] = float(until_s)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
