"""Upper bounds on sizes: what the Kubernetes API server enforces, and what stormsim can
simulate on one machine (a clear error, with the bound, instead of a run that never ends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stormsim.schema.scenario import Scenario

INT32_MAX = 2**31 - 1
"""Kubernetes ``int32`` fields (``replicas``, ``podGroupSize``, ``revisionHistoryLimit``)."""

MAX_GPUS_PER_POD = 1024
"""GPUs one pod may ask for (no node has more)."""

MAX_NODES = 100_000
"""Nodes of a simulated cluster."""

MAX_GPUS_PER_NODE = 1024
"""GPUs of one node."""

MAX_PODS = 1_000_000
"""Pods of a simulated fleet (RoleSets x pods per RoleSet, at any scale the scenario asks
for): beyond this a run would not finish in reasonable time or memory."""

NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"
"""Pattern of names: no NUL, newline, escape or other control character."""


def pods_of(manifest: Any, replicas: int | None = None) -> int:
    """Pods of a StormService manifest at ``replicas`` RoleSets (default its own)."""
    n = manifest.spec.replicas if replicas is None else replicas
    roles = manifest.spec.template.spec.roles
    return n * sum(r.replicas * r.group_size for r in roles)


def size_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """(field path, message) for every fleet the scenario asks for that is larger than
    :data:`MAX_PODS` pods: the initial manifest, a ``scale`` and an ``apply``."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    manifest = s.service.manifest
    too_big = f"more than stormsim can simulate here (at most {MAX_PODS:,} pods)"
    n = pods_of(manifest)
    if n > MAX_PODS:
        out.append(
            (("service", "manifest", "spec", "replicas"), f"a fleet of {n:,} pods is {too_big}")
        )
    for i, ev in enumerate(s.events):
        m = getattr(ev, "manifest", None)
        if m is not None and hasattr(m, "spec"):
            manifest = m
            n = pods_of(m)
            if n > MAX_PODS:
                out.append((("events", i, "manifest"), f"a fleet of {n:,} pods is {too_big}"))
        if getattr(ev, "kind", getattr(ev, "action", None)) == "scale":
            role = getattr(ev, "role", None)
            reps = int(getattr(ev, "replicas", 0))
            if role is None:
                n = pods_of(manifest, reps)
            else:
                n = manifest.spec.replicas * sum(
                    (reps if r.name == role else r.replicas) * r.group_size
                    for r in manifest.spec.template.spec.roles
                )
            if n > MAX_PODS:
                out.append((("events", i, "replicas"), f"scaling to {n:,} pods is {too_big}"))
    return out
