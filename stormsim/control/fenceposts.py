"""int-or-percent resolution (``ResolveFenceposts``) and the derived budgets."""

from __future__ import annotations

import math

from stormsim.schema.aibrix import IntOrPercent, RoleSpec, StormServiceSpec
from stormsim.schema.intstr import percent


def _scaled(value: IntOrPercent | None, desired: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid int-or-percent {value!r}")
    if isinstance(value, int):
        return value
    s = str(value)
    try:
        pct = percent(s)  # strconv.Atoi, as intstr.GetScaledValueFromIntOrPercent
    except ValueError as e:
        raise ValueError(f"invalid value for IntOrString: {e}") from None
    x = pct * desired / 100.0
    return math.ceil(x) if round_up else math.floor(x)


def resolve_fenceposts(
    max_surge: IntOrPercent | None, max_unavailable: IntOrPercent | None, desired: int
) -> tuple[int, int]:
    """(surge, unavailable): percent of ``desired`` rounded up for surge and down for
    unavailable; nil is 0; both 0 gives unavailable 1. Raises ``ValueError`` on a string
    without ``%`` (AIBrix callers ignore the error and use 0/0: :func:`fenceposts_or_zero`)."""
    surge = _scaled(max_surge, desired, True)
    unav = _scaled(max_unavailable, desired, False)
    if surge == 0 and unav == 0:
        unav = 1
    return surge, unav


def fenceposts_or_zero(
    max_surge: IntOrPercent | None, max_unavailable: IntOrPercent | None, desired: int
) -> tuple[int, int]:
    """As AIBrix callers use it: a resolution error silently yields (0, 0), with no fallback."""
    try:
        return resolve_fenceposts(max_surge, max_unavailable, desired)
    except ValueError:
        return 0, 0


def is_rolling_update(spec: StormServiceSpec) -> bool:
    return spec.update_strategy.type in ("", "RollingUpdate")


LATEST = "aibrix-latest"


def resolved_mode(spec: StormServiceSpec) -> str:
    """``spec.mode`` if declared, else Replica when replicas > 1, else Pooled (PR #2450)."""
    if spec.mode:
        return spec.mode
    return "Replica" if spec.replicas > 1 else "Pooled"


def stormservice_budgets(
    spec: StormServiceSpec, profile: str = "aibrix-e3e10f9e"
) -> tuple[int, int, int]:
    """(MaxSurge, MaxUnavailable, MinAvailable) in RoleSets.

    Only RollingUpdate has a surge or an unavailability budget; MaxUnavailable is capped at
    ``replicas`` and is 0 when ``replicas`` is 0. Under the ``aibrix-latest`` profile a
    Pooled service has none either (upstream PR #2617 review; docs/aibrix/README.md).
    """
    replicas = spec.replicas
    if not is_rolling_update(spec):
        return 0, 0, 0
    if profile == LATEST and resolved_mode(spec) == "Pooled":
        return 0, 0, 0
    s = spec.update_strategy
    surge, unav = fenceposts_or_zero(s.max_surge, s.max_unavailable, replicas)
    max_unav = 0 if replicas == 0 else min(unav, replicas)
    return surge, max_unav, replicas - max_unav


_role_budget_cache: dict[int, tuple[RoleSpec, tuple[int, int]]] = {}


def role_budgets(role: RoleSpec) -> tuple[int, int]:
    """(MaxSurge, MaxUnavailable) of a role, in pods or PodSets; 0/0 when the role
    has no replicas. Memoised per (immutable) role object."""
    hit = _role_budget_cache.get(id(role))
    if hit is not None and hit[0] is role:
        return hit[1]
    if len(_role_budget_cache) > 4096:
        _role_budget_cache.clear()
    out = _role_budgets(role)
    _role_budget_cache[id(role)] = (role, out)
    return out


def _role_budgets(role: RoleSpec) -> tuple[int, int]:
    r = role.replicas
    if r <= 0:
        return 0, 0
    s = role.strategy
    surge, unav = fenceposts_or_zero(s.max_surge, s.max_unavailable, r)
    return surge, min(unav, r)
