"""Fleet sizes a scenario asks for, held against :data:`stormsim.schema.bounds.MAX_PODS`
(kept apart from the bounds, which the scenario models import)."""

from __future__ import annotations

from typing import Any

from stormsim.schema.bounds import MAX_PODS
from stormsim.schema.scenario import Scenario


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
