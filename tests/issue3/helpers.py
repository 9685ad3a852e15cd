"""Scenario builders for the issue-3 whole-run tests.

Every duration is a constant so event times are exact. With the default ``TIMING`` a pod is
bound 1 s after creation (scheduling), has its images prepulled (no pull), and is Ready
``model_load_s + engine_init_s`` = 15 s after binding, i.e. 16 s after creation; a deleted
pod is gone ``termination_grace_s`` = 5 s after deletion; controllers act instantly.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import stormsim
from stormsim.schema.scenario import Scenario

IMAGE_V1 = "vllm/vllm-openai:v1"
IMAGE_V2 = "vllm/vllm-openai:v2"
IMAGE_V3 = "vllm/vllm-openai:v3"
IMAGE_V4 = "vllm/vllm-openai:v4"
ALL_IMAGES = [IMAGE_V1, IMAGE_V2, IMAGE_V3, IMAGE_V4]

SCHED = 1.0
LOAD = 10.0
INIT = 5.0
GRACE = 5.0
STARTUP = LOAD + INIT
"""Bound -> Ready."""
READY_AFTER_CREATE = SCHED + STARTUP
"""Created -> Ready (16 s)."""

TIMING: dict[str, Any] = {
    "scheduling_s": SCHED,
    "image_pull_s": 0.0,
    "model_load_s": LOAD,
    "engine_init_s": INIT,
    "readiness_probe_s": 0.0,
    "router_registration_s": 0.0,
    "termination_grace_s": GRACE,
    "reconcile_latency_s": 0.0,
}

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "aibrix-samples"


def role(
    name: str,
    replicas: int = 1,
    *,
    gpus: int = 1,
    image: str = IMAGE_V1,
    upgrade_order: int | None = None,
    stateful: bool | None = None,
    update_type: str | None = None,
    max_surge: int | str | None = None,
    max_unavailable: int | str | None = None,
    pod_group_size: int | None = None,
    scheduling_strategy: Mapping[str, Any] | None = None,
    args: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One role (plain data, AIBrix field names) with a single container named ``engine``."""
    container: dict[str, Any] = {"name": "engine", "image": image}
    if args is not None:
        container["args"] = list(args)
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": gpus}}
    r: dict[str, Any] = {
        "name": name,
        "replicas": replicas,
        "template": {"spec": {"containers": [container]}},
    }
    if upgrade_order is not None:
        r["upgradeOrder"] = upgrade_order
    if stateful is not None:
        r["stateful"] = stateful
    strat: dict[str, Any] = {}
    if update_type is not None:
        strat["type"] = update_type
    if max_surge is not None:
        strat["maxSurge"] = max_surge
    if max_unavailable is not None:
        strat["maxUnavailable"] = max_unavailable
    if strat:
        r["updateStrategy"] = strat
    if pod_group_size is not None:
        r["podGroupSize"] = pod_group_size
    if scheduling_strategy is not None:
        r["schedulingStrategy"] = dict(scheduling_strategy)
    return r


def manifest(
    roles: Sequence[Mapping[str, Any]],
    *,
    name: str = "llm",
    replicas: int = 1,
    update_type: str = "RollingUpdate",
    max_surge: int | str | None = None,
    max_unavailable: int | str | None = None,
    roleset_strategy: str | None = None,
    history_limit: int | None = None,
    paused: bool | None = None,
    scheduling_strategy: Mapping[str, Any] | None = None,
    topology_policy: Mapping[str, Any] | None = None,
    mode: str | None = None,
    progress_deadline_s: int | None = None,
) -> dict[str, Any]:
    """A StormService manifest (plain data)."""
    strategy: dict[str, Any] = {"type": update_type}
    if max_surge is not None:
        strategy["maxSurge"] = max_surge
    if max_unavailable is not None:
        strategy["maxUnavailable"] = max_unavailable
    tspec: dict[str, Any] = {"roles": [copy.deepcopy(dict(r)) for r in roles]}
    if roleset_strategy is not None:
        tspec["updateStrategy"] = roleset_strategy
    if scheduling_strategy is not None:
        tspec["schedulingStrategy"] = dict(scheduling_strategy)
    if topology_policy is not None:
        tspec["topologyPolicy"] = dict(topology_policy)
    spec: dict[str, Any] = {
        "replicas": replicas,
        "updateStrategy": strategy,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": tspec},
    }
    if history_limit is not None:
        spec["revisionHistoryLimit"] = history_limit
    if paused is not None:
        spec["paused"] = paused
    if mode is not None:
        spec["mode"] = mode
    if progress_deadline_s is not None:
        spec["progressDeadlineSeconds"] = progress_deadline_s
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": name},
        "spec": spec,
    }


def pools(
    *specs: tuple[str, int, int] | Mapping[str, Any], prepulled: Iterable[str] = ALL_IMAGES
) -> list[dict[str, Any]]:
    """Node pools from (name, count, gpus_per_node) tuples or full mappings; every image of
    ``prepulled`` is already on every node (no image pulls)."""
    out = []
    for s in specs:
        if isinstance(s, Mapping):
            p = dict(s)
        else:
            p = {"name": s[0], "count": s[1], "gpus_per_node": s[2]}
        p.setdefault("prepulled_images", list(prepulled))
        out.append(p)
    return out


def scenario(
    svc: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]] = (),
    *,
    node_pools: Sequence[Mapping[str, Any]] | None = None,
    timing: Mapping[str, Any] | None = None,
    role_timing: Mapping[str, Mapping[str, Any]] | None = None,
    profile: str | None = None,
    name: str = "issue3",
    service_name: str | None = None,
) -> dict[str, Any]:
    """A scenario (plain data) with constant timings and an inline manifest."""
    t = dict(TIMING if timing is None else timing)
    if role_timing:
        t["roles"] = {k: dict(v) for k, v in role_timing.items()}
    data: dict[str, Any] = {
        "name": name,
        "seed": 1,
        "cluster": {"node_pools": list(node_pools or pools(("gpu", 4, 8)))},
        "timing": t,
        "service": {"manifest": copy.deepcopy(dict(svc))},
        "events": [dict(e) for e in events],
        # the hand-worked traces count a pass's writes at one instant (no slow-start cost)
        "controller": {"api_call_s": 0.0},
    }
    if service_name is not None:
        data["service"]["name"] = service_name
    if profile is not None:
        data["controller"]["profile"] = profile
    return data


def load(data: Mapping[str, Any], base_dir: Path) -> Scenario:
    return stormsim.load_scenario(dict(data), base_dir=base_dir)


def run(
    data: Mapping[str, Any], base_dir: Path, until_s: float | None = None
) -> stormsim.RunResult:
    return stormsim.run(load(data, base_dir), seed=1, until_s=until_s)


# ----------------------------------------------------------------------------- frame views


def events(res: Any, verb: str | None = None, kind: str | None = None) -> pd.DataFrame:
    ev = res.frames["events"]
    if verb is not None:
        ev = ev[ev["verb"] == verb]
    if kind is not None:
        ev = ev[ev["kind"] == kind]
    return ev.reset_index(drop=True)


def pods(res: Any, role_name: str | None = None) -> pd.DataFrame:
    p = res.frames["pods"]
    if role_name is not None:
        p = p[p["role"] == role_name]
    return p.sort_values(["created_at_s", "pod"], kind="stable").reset_index(drop=True)


def new_pods(res: Any, after_s: float, role_name: str | None = None) -> pd.DataFrame:
    p = pods(res, role_name)
    return p[p["created_at_s"] >= after_s].reset_index(drop=True)


def times(df: pd.DataFrame, col: str) -> list[float]:
    return [float(x) for x in df[col]]


def status_at(res: Any, t: float) -> pd.Series:
    """The last status write at or before ``t``."""
    st = res.frames["status"]
    st = st[st["t_s"] <= t]
    return st.iloc[-1]
