"""Warnings about how a run ended: a rollout still in progress at the end (the results then
describe a rollout that did not finish), and a rollout that stalled because its pods cannot
be placed. The runner adds them to ``summary.json`` (``warnings``) and prints them."""

from __future__ import annotations

from typing import Any

import pandas as pd


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


def stall_reason(frames: dict[str, pd.DataFrame], end_s: float) -> str | None:
    """Why the rollout made no progress, when it did not: pods that were still unscheduled at
    the end and no change of the StormService's replica counts since the oldest of them was
    created. The reason is the scheduler's last word on them."""
    pods = frames["pods"]
    if not len(pods):
        return None
    waiting = pods[pods["scheduled_at_s"].isna() & pods["gone_at_s"].isna()]
    if not len(waiting):
        return None
    since = float(waiting["created_at_s"].min())
    st = frames.get("status")
    if st is not None and len(st):
        cols = ["updated_replicas", "updated_ready_replicas", "ready_replicas"]
        before = st[st["t_s"] <= since]
        ref = (before if len(before) else st).iloc[-1 if len(before) else 0][cols]
        after = st[st["t_s"] > since][cols]
        if len(after) and bool((after != ref).to_numpy().any()):
            return None
    ev = frames["events"]
    said = ev[(ev["verb"] == "unschedulable") & ev["name"].isin(set(waiting["pod"]))]
    why = str(said["detail"].iloc[-1]) if len(said) else "not scheduled"
    return (
        f"{len(waiting)} pods unschedulable since t={_num(since)} s ({why}) and no RoleSet "
        f"updated since: the rollout is stalled (free GPUs for the surge, or a higher "
        f"maxUnavailable, would let it go on)"
    )


def end_of_run_warnings(
    frames: dict[str, pd.DataFrame], summary: dict[str, Any], end_s: float, until_given: bool
) -> list[str]:
    """The warnings about the run's end (see the module docstring), as text."""
    ro = frames["rollouts"]
    if not len(ro) or ro["outcome"].iloc[-1] != "incomplete":
        return []
    last = ro.iloc[-1]
    k = int(last["rollout"]) + 1
    prog = rollout_progress(frames)
    done = f": {prog[0]} of {prog[1]} RoleSets updated and Ready" if prog else ""
    stalled = stall_reason(frames, end_s)
    horizon = "its --until / until_s" if until_given else "the default horizon"
    started = float(last["started_at_s"])
    suggest = max(2.0 * end_s, end_s + 2.0 * (end_s - started))
    out = [
        f"the run ended at t={_num(end_s)} s ({horizon}) with rollout {k} "
        f"({last['action']} at {_num(started)} s) still in progress{done}; its KPIs describe "
        f"an unfinished rollout (update_completed false). Extend the run, e.g. "
        f"--until {suggest:.0f}"
    ]
    if stalled is not None:
        out.append(f"rollout {k} stalled: {stalled}")
    return out
