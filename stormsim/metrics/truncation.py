"""Warnings about how a run ended: a rollout still in progress at the end (the results then
describe a rollout that did not finish), and a rollout that stalled because its pods cannot
be placed, with the cause (the node pools that could host the pods at their ``max_nodes``, or
fixed) and only the advice that applies to the service's update strategy. Rollouts are
numbered as in the ``rollouts`` frame (from 0). The runner adds the warnings to
``summary.json`` (``warnings``) and prints them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from stormsim.schema.aibrix import StormService
from stormsim.schema.scenario import Apply, Scenario


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:g}"


def rollout_progress(frames: dict[str, pd.DataFrame]) -> tuple[int, int] | None:
    """(RoleSets updated and Ready, RoleSets desired) at the end of the run, from the last
    StormService status; None without one."""
    st = frames.get("status")
    if st is None or not len(st):
        return None
    last = st.iloc[-1]
    return int(last["updated_ready_replicas"]), int(last["spec_replicas"])


def stall_reason(
    frames: dict[str, pd.DataFrame], end_s: float, scenario: Scenario | None = None
) -> str | None:
    """Why the rollout made no progress, when it did not: pods that were still unscheduled at
    the end and no more RoleSets Ready (or updated and Ready) than when the oldest of them was
    created. The reason is the scheduler's last word on them, then (with ``scenario``) the
    cause in the cluster and the advice that applies (see :func:`_stall_cause`)."""
    pods = frames["pods"]
    if not len(pods):
        return None
    waiting = pods[pods["scheduled_at_s"].isna() & pods["gone_at_s"].isna()]
    if not len(waiting):
        return None
    since = float(waiting["created_at_s"].min())
    st = frames.get("status")
    if st is not None and len(st):
        # progress: more RoleSets Ready, or updated and Ready, than when the pods were created
        # (a RoleSet marked updated, or not Ready, because of the waiting pods is none)
        cols = ["updated_ready_replicas", "ready_replicas"]
        before = st[st["t_s"] <= since]
        ref = (before if len(before) else st).iloc[-1 if len(before) else 0][cols]
        after = st[st["t_s"] > since][cols]
        if len(after) and bool((after > ref).to_numpy().any()):
            return None
    ev = frames["events"]
    said = ev[(ev["verb"] == "unschedulable") & ev["name"].isin(set(waiting["pod"]))]
    why = str(said["detail"].iloc[-1]) if len(said) else "not scheduled"
    out = (
        f"{len(waiting)} pods unschedulable since t={_num(since)} s ({why}) and no RoleSet "
        f"updated since: the rollout is stalled"
    )
    if scenario is None:
        return out
    return out + _stall_cause(frames, waiting, scenario, since)


def _manifest_at(scenario: Scenario, t_s: float) -> StormService:
    """The StormService manifest in effect at ``t_s`` (the last ``apply`` of one by then)."""
    m = scenario.service.manifest
    for ev in scenario.events:
        if isinstance(ev, Apply) and ev.manifest is not None and ev.at_s <= t_s:
            m = ev.manifest
    return m


def _stall_cause(
    frames: dict[str, pd.DataFrame], waiting: pd.DataFrame, scenario: Scenario, since: float
) -> str:
    """The cause of a stall in the cluster and what would let the rollout go on: the node
    pools whose nodes could host the largest waiting pod are at their ``max_nodes`` (nodes
    alive at the end), or fixed (no node autoscaler); surge advice only for a
    ``RollingUpdate``."""
    gpus = int(waiting["gpus"].max())
    hosts = [p for p in scenario.cluster.node_pools if p.gpus_per_node >= gpus]
    nodes = frames.get("nodes")
    full: list[str] = []
    fixed: list[str] = []
    for p in hosts:
        if not p.autoscaled or scenario.cluster.node_autoscaler is None:
            fixed.append(f"{p.name} ({p.count} node{'s' if p.count != 1 else ''})")
            continue
        alive = p.count
        if nodes is not None:
            mine = nodes[nodes["pool"] == p.name]
            alive = int((mine["gone_at_s"].isna() & mine["deleted_at_s"].isna()).sum())
        if alive >= p.max_count:
            full.append(f"{p.name} (max_nodes {p.max_count})")
    advice: list[str] = []
    if not hosts:
        cause = f"; no node pool has nodes of {gpus} GPUs"
    elif len(full) + len(fixed) == len(hosts):
        parts = []
        if full:
            parts.append(
                f"node pool{'s' if len(full) > 1 else ''} {', '.join(full)} at max_nodes: "
                "the node autoscaler cannot add nodes"
            )
            advice.append("a higher max_nodes")
        if fixed:
            parts.append(
                f"node pool{'s' if len(fixed) > 1 else ''} {', '.join(fixed)} without a node "
                "autoscaler"
            )
            advice.append("more nodes")
        cause = f"; the pools whose nodes fit these {gpus}-GPU pods are full: " + "; ".join(parts)
    else:
        cause = ""  # some pool could grow: the scheduler's reason is all that is known
    if scenario.autoscalers:
        advice.append("a lower maxReplicas of the PodAutoscalers")
    if _manifest_at(scenario, since).spec.update_strategy.type != "InPlaceUpdate":
        # InPlaceUpdate patches the RoleSets in place: no surge, so no surge advice
        advice.append("free GPUs for the surge, a lower maxSurge or a higher maxUnavailable")
    if not advice:
        return cause
    comma = "," if len(advice) > 1 else ""
    return cause + f" ({', or '.join(advice)}{comma} would let it go on)"


def end_of_run_warnings(
    frames: dict[str, pd.DataFrame],
    summary: dict[str, Any],
    end_s: float,
    until_given: bool,
    scenario: Scenario | None = None,
) -> list[str]:
    """The warnings about the run's end (see the module docstring), as text."""
    ro = frames["rollouts"]
    if not len(ro) or ro["outcome"].iloc[-1] != "incomplete":
        return []
    last = ro.iloc[-1]
    k = int(last["rollout"])  # as in the rollouts frame
    prog = rollout_progress(frames)
    done = f": {prog[0]} of {prog[1]} RoleSets updated and Ready" if prog else ""
    stalled = stall_reason(frames, end_s, scenario)
    horizon = "its --until / until_s" if until_given else "the default horizon"
    started = float(last["started_at_s"])
    suggest = max(2.0 * end_s, end_s + 2.0 * (end_s - started))
    extend = (
        f". Extend the run, e.g. --until {suggest:.0f}" if stalled is None else ""
    )  # a longer run cannot help a stalled rollout
    out = [
        f"the run ended at t={_num(end_s)} s ({horizon}) with rollout {k} "
        f"({last['action']} at {_num(started)} s) still in progress{done}; its KPIs describe "
        f"an unfinished rollout (update_completed false){extend}"
    ]
    if stalled is not None:
        out.append(f"rollout {k} stalled: {stalled}")
    return out
