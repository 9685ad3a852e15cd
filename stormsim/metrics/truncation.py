"""Warnings about how a run ended: a rollout still in progress at the end (the results then
describe a rollout that did not finish), and a rollout that stalled because its pods cannot
be placed, with the cause (the node pools that could host the pods at their ``max_nodes``, or
fixed) and only the advice that applies to the service's update strategy. Rollouts are
numbered as in the ``rollouts`` frame (from 0). With a node autoscaler, also pods that stayed
Pending (unschedulable) while every autoscaled pool that could host them was at its
``max_nodes`` with all its nodes up (a scale-out, by a PodAutoscaler or a ``scale`` event,
capped by the pools; see :func:`capped_pool_warnings`), nodes the node autoscaler gave up
(:func:`~stormsim.metrics.kpis.node_warnings`) and faithful-profile KPAs held under load
(:func:`~stormsim.metrics.autoscaling.held_above_target_warnings`).
:func:`end_of_run_warnings` is the one entry point: the runner adds what it returns to
``summary.json`` (``warnings``) and prints it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stormsim.metrics.autoscaling import held_above_target_warnings
from stormsim.metrics.kpis import Series, node_warnings
from stormsim.schema.aibrix import StormService
from stormsim.schema.scenario import Apply, ClusterAutoscaler, NodePool, Scenario


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
    """Every warning about what the run's frames show, as text: nodes given up by the node
    autoscaler, faithful-profile KPAs held under load, a rollout unfinished at the end (and
    why it stalled), and pods held back by pools at ``max_nodes``."""
    out: list[str] = []
    nas = scenario.cluster.node_autoscaler if scenario is not None else None
    if nas is not None and "nodes" in frames:
        out += node_warnings(frames, nas.max_node_provision_time_s)
    if "autoscaling" in frames:
        out += held_above_target_warnings(frames["autoscaling"])
    rollout = _rollout_warnings(frames, end_s, until_given, scenario)
    out += rollout
    if scenario is None:
        return out
    # a stalled rollout's warning already speaks of the pods Pending at the end
    stalled = any(w.startswith("rollout ") and " stalled: " in w for w in rollout)
    return [*out, *capped_pool_warnings(frames, end_s, scenario, not stalled)]


def _rollout_warnings(
    frames: dict[str, pd.DataFrame],
    end_s: float,
    until_given: bool,
    scenario: Scenario | None,
) -> list[str]:
    """A rollout still in progress at the end, and why it stalled, if it did."""
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


STATES = ("launching", "initializing", "ready", "draining")
"""The node states of the ``pool.<pool>.nodes_<state>`` time-series columns."""


def _blocked_series(ts: pd.DataFrame, pools: list[NodePool]) -> Series:
    """1 while every pool of ``pools`` is at its ``max_nodes`` (nodes of any state counted, as
    the node autoscaler counts them) with none of its nodes still coming up (``launching`` or
    ``initializing``), else 0: a pod those pools could host then waits for room that no new
    node will make."""
    t = ts["t_s"].to_numpy(dtype=float)
    ok = np.ones(len(ts), dtype=bool)
    zero = pd.Series(np.zeros(len(ts)), index=ts.index)
    for p in pools:
        col = {s: ts.get(f"pool.{p.name}.nodes_{s}", zero).to_numpy(dtype=float) for s in STATES}
        total = sum(col.values())
        booting = col["launching"] + col["initializing"]
        ok &= (total >= p.max_count) & (booting == 0)
    return Series(t, ok.astype(float))


def capped_pool_warnings(
    frames: dict[str, pd.DataFrame], end_s: float, scenario: Scenario, at_end: bool = True
) -> list[str]:
    """With a node autoscaler: a warning per set of autoscaled pools that held pods Pending
    at their ``max_nodes``. A pod counts when, while it was Pending, every autoscaled pool
    whose nodes have its GPUs was at ``max_nodes`` with all its nodes up (time spent waiting
    for booting nodes does not count) for longer than ``max_node_provision_time_s`` in all,
    or when it was still Pending so at the end of the run, for at least one scan (poll)
    interval of the node autoscaler (``at_end`` false: pods still Pending at the end are left
    to a stalled rollout's warning, which speaks of them). The warning names the pools, how
    many pods and for how long, the PodAutoscalers that had raised the replicas before them
    (their scale-out writes in the ``autoscaling`` frame) and what to change. Nothing without
    a node autoscaler."""
    nas = scenario.cluster.node_autoscaler
    if nas is None or "nodes" not in frames:
        return []
    pods = frames["pods"]
    ts = frames["timeseries"]
    if not len(pods) or not len(ts):
        return []
    threshold = nas.max_node_provision_time_s
    scan = nas.scan_interval_s if isinstance(nas, ClusterAutoscaler) else nas.poll_interval_s
    scaled = [p for p in scenario.cluster.node_pools if p.autoscaled]
    out: list[str] = []
    for gpus in sorted({int(g) for g in pods["gpus"]}):
        hosts = [p for p in scaled if p.gpus_per_node >= gpus]
        if not hosts:
            continue
        mine = pods[pods["gpus"] == gpus]
        until = mine["scheduled_at_s"].fillna(mine["gone_at_s"]).fillna(end_s).clip(upper=end_s)
        long = (until - mine["created_at_s"]) >= min(scan, threshold)  # the others cannot count
        mine, until = mine[long], until[long]
        blocked = _blocked_series(ts, hosts)
        waiting_at_end = (mine["scheduled_at_s"].isna() & mine["gone_at_s"].isna()).to_numpy()
        blocked_at_end = blocked.at(end_s) > 0
        rows = []
        for c, u, w in zip(
            mine["created_at_s"].to_numpy(dtype=float),
            until.to_numpy(dtype=float),
            waiting_at_end,
            strict=True,
        ):
            b = blocked.integral(c, u) if u > c else 0.0
            if w and not at_end:
                continue
            if b > threshold or (w and blocked_at_end and b >= scan):
                rows.append((c, b, bool(w)))
        if not rows:
            continue
        out.append(_capped_message(frames, scenario, end_s, hosts, gpus, rows, threshold))
    return out


def _capped_message(
    frames: dict[str, pd.DataFrame],
    scenario: Scenario,
    end_s: float,
    hosts: list[NodePool],
    gpus: int,
    rows: list[tuple[float, float, bool]],
    threshold: float,
) -> str:
    """The text of one :func:`capped_pool_warnings` warning."""
    n = len(rows)
    longest = max(b for _, b, _ in rows)
    still = sum(1 for *_, w in rows if w)
    first = min(c for c, _, _ in rows)
    last = max(c for c, _, _ in rows)
    pools = ", ".join(f"{p.name} (max_nodes {p.max_count})" for p in hosts)
    plural = len(hosts) > 1
    end_note = f"; {still} still Pending at the end of the run" if still else ""
    msg = (
        f"node pool{'s' if plural else ''} {pools} {'were' if plural else 'was'} at max_nodes, "
        f"every node up, while {n} pod{'s' if n != 1 else ''} of {gpus} GPUs (created from "
        f"t={_num(first)} s) stayed Pending (unschedulable), for up to {_num(longest)} s"
        f"{end_note}: the node autoscaler could not add nodes for them"
    )
    advice = ["raise max_nodes"]
    asked, bound = _scale_out_writes(frames, last)
    if asked:
        msg += "; " + "; ".join(asked)
        advice.append(f"lower the PodAutoscaler's {bound}")
    surge = _in_surge_rollouts(frames, scenario, end_s, [c for c, _, _ in rows])
    if surge:
        msg += f"; {surge} of them created during a rollout, whose surge waits for room"
        advice.append("lower maxSurge")
    if len(advice) == 1:
        advice.append("ask for fewer replicas")
    return msg + (
        f". To place them, {', or '.join(advice)} (counted: pods held so longer than "
        f"max_node_provision_time_s, {threshold:g} s, or still at the end of the run)"
    )


def _in_surge_rollouts(
    frames: dict[str, pd.DataFrame], scenario: Scenario, end_s: float, created: list[float]
) -> int:
    """How many of the pods ``created`` at these times were created during a rollout that
    surges (not ``InPlaceUpdate``): from its start to its end (or the run's end)."""
    ro = frames["rollouts"]
    starts = ro["started_at_s"].to_numpy(dtype=float)
    surging = np.array(
        [_manifest_at(scenario, t).spec.update_strategy.type != "InPlaceUpdate" for t in starts],
        dtype=bool,
    )
    starts = starts[surging]
    stops = ro["ended_at_s"].fillna(end_s).to_numpy(dtype=float)[surging]
    c = np.asarray(created, dtype=float)[:, None]
    return int(((starts <= c) & (c <= stops)).any(axis=1).sum())


def _scale_out_writes(frames: dict[str, pd.DataFrame], before_s: float) -> tuple[list[str], str]:
    """Per PodAutoscaler, its last write that raised the replicas (``written_replicas`` above
    ``target_replicas``) at or before ``before_s``, as text (none without such writes), and
    the bound to lower: ``minReplicas`` when every such write was a PodAutoscaler's
    minimum, else ``maxReplicas``."""
    a = frames.get("autoscaling")
    if a is None or not len(a):
        return [], ""
    w = a[a["written_replicas"].notna() & (a["t_s"] <= before_s)]
    w = w[w["written_replicas"] > w["target_replicas"].fillna(0)]
    out = []
    at_min = True
    for name, g in w.groupby("autoscaler", sort=False):
        r = g.iloc[-1]
        role = f" of role {r['role']}" if r["role"] else ""
        at_min = at_min and int(r["written_replicas"]) == int(r["min_replicas"])
        out.append(
            f"PodAutoscaler {name} had raised the replicas{role} to {int(r['written_replicas'])} "
            f"at t={_num(float(r['t_s']))} s (minReplicas {int(r['min_replicas'])}, "
            f"maxReplicas {int(r['max_replicas'])})"
        )
    return out, "minReplicas" if at_min else "maxReplicas"
