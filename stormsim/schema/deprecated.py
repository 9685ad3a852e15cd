"""Old spellings of scenario keys and values, still accepted (with a warning) and rewritten to
today's vocabulary before validation.

The vocabulary: every tagged union of the schema (durations, events, workload arrivals and
lengths) is tagged by ``kind``; a pod serving both phases is ``colocated``. Earlier versions
tagged durations by ``dist`` and events by ``action``, and called colocated roles
``combined``. :func:`migrate` rewrites a raw scenario mapping (as read from YAML) and returns
one :class:`Renamed` per old spelling it found, so the loader can warn with the field path and
line. The rewritten scenario validates, runs and hashes exactly as if it had been written with
the new spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stormsim.schema.yamlio import LineMap, PathT, format_path

DURATION_KEYS = (
    "scheduling_s",
    "image_pull_s",
    "model_load_s",
    "engine_init_s",
    "readiness_probe_s",
    "router_registration_s",
    "termination_grace_s",
    "reconcile_latency_s",
)
"""Keys of ``timing`` (and ``timing.roles.<role>``) whose value may be a distribution."""

RENAMED_TAGS = {"durations": ("dist", "kind"), "events": ("action", "kind")}
"""Union tag keys renamed: where -> (old key, new key)."""

RENAMED_VALUES = {"serving.roles.<role>.kind": ("combined", "colocated")}
"""Values renamed: where -> (old value, new value)."""


@dataclass(frozen=True)
class Renamed:
    """One old spelling found at ``path`` (the old key's path, or the value's path)."""

    path: PathT
    old: str
    new: str
    what: str  # "key" or "value"

    def message(self, lines: LineMap, label: str | None = None) -> str:
        line = lines.line_of(self.path)
        where = format_path(self.path) + (f" (line {line})" if line is not None else "")
        if label and label != "<root>":
            where = f"{label}: {where}"
        return (
            f"{where}: {self.what} {self.old!r} is a deprecated spelling; write {self.new!r} "
            "(same meaning; the old spelling will stop working in a later version)"
        )


def _rename_key(
    node: Any, path: PathT, old: str, new: str, lines: LineMap, found: list[Renamed]
) -> Any:
    """``node`` with key ``old`` renamed ``new`` (in place order), unless ``new`` is there
    too (then validation reports ``old`` as an unknown field)."""
    if not isinstance(node, dict) or old not in node or new in node:
        return node
    found.append(Renamed((*path, old), old, new, "key"))
    n = len(path) + 1
    for p, line in list(lines.lines.items()):  # the new key's lines are the old key's
        if p[: n - 1] == path and len(p) >= n and p[n - 1] == old:
            lines.lines[(*path, new, *p[n:])] = line
    return {(new if k == old else k): v for k, v in node.items()}


def migrate(data: dict[str, Any], lines: LineMap) -> tuple[dict[str, Any], list[Renamed]]:
    """Rewrite old spellings in a raw scenario mapping. Returns the new mapping (the input is
    not modified) and what was renamed; ``lines`` gains entries for the new paths."""
    found: list[Renamed] = []
    data = dict(data)
    old, new = RENAMED_TAGS["durations"]
    timing = data.get("timing")
    if isinstance(timing, dict):
        timing = dict(timing)
        for key in DURATION_KEYS:
            if key in timing:
                timing[key] = _rename_key(timing[key], ("timing", key), old, new, lines, found)
        roles = timing.get("roles")
        if isinstance(roles, dict):
            roles = dict(roles)
            for role, over in roles.items():
                if isinstance(over, dict):
                    over = dict(over)
                    for key in DURATION_KEYS:
                        if key in over:
                            over[key] = _rename_key(
                                over[key], ("timing", "roles", role, key), old, new, lines, found
                            )
                    roles[role] = over
            timing["roles"] = roles
        data["timing"] = timing
    cluster = data.get("cluster")
    pools = cluster.get("node_pools") if isinstance(cluster, dict) else None
    if isinstance(pools, list):  # node provisioning delays are durations too
        pools = list(pools)
        for i, pool in enumerate(pools):
            prov = pool.get("provisioning") if isinstance(pool, dict) else None
            if isinstance(prov, dict):
                prov = dict(prov)
                for key in ("node_ready_s", "gpus_ready_s"):
                    if key in prov:
                        where = ("cluster", "node_pools", i, "provisioning", key)
                        prov[key] = _rename_key(prov[key], where, old, new, lines, found)
                pools[i] = {**pool, "provisioning": prov}
        data["cluster"] = {**cluster, "node_pools": pools}  # type: ignore[dict-item]
    old, new = RENAMED_TAGS["events"]
    events = data.get("events")
    if isinstance(events, list):
        data["events"] = [
            _rename_key(ev, ("events", i), old, new, lines, found) for i, ev in enumerate(events)
        ]
    old, new = RENAMED_VALUES["serving.roles.<role>.kind"]
    serving = data.get("serving")
    if isinstance(serving, dict) and isinstance(serving.get("roles"), dict):
        roles = dict(serving["roles"])
        for role, over in roles.items():
            if isinstance(over, dict) and over.get("kind") == old:
                found.append(Renamed(("serving", "roles", role, "kind"), old, new, "value"))
                roles[role] = {**over, "kind": new}
        data["serving"] = {**serving, "roles": roles}
    return data, found
