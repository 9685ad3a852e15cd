"""Scaling during a rollout and pause (spec §3.3), revisions (spec §5), ``stormsim rollout
history``, pooled-mode role scaling (spec §3.2) and the ``aibrix-latest`` profile (§9.2).

Constant durations (helpers.TIMING): a RoleSet of one 1-GPU pod is Ready 16 s after creation;
a deleted RoleSet is gone 5 s later (its pod's grace period).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from stormsim.cli import app
from stormsim.control.stormservice import calculate_replicas
from stormsim.units import round_half_away

from .helpers import (
    GRACE,
    IMAGE_V2,
    IMAGE_V3,
    IMAGE_V4,
    READY_AFTER_CREATE,
    events,
    manifest,
    pods,
    pools,
    role,
    run,
    scenario,
    status_at,
)

T = 100.0
SET_V2 = {"at_s": T, "kind": "set_image", "image": IMAGE_V2}


def _rs_events(res, verb: str) -> list[tuple[float, str]]:
    """(time, revision) of RoleSet events with ``verb`` from T on."""
    ev = events(res, verb, "RoleSet")
    ev = ev[ev["t_s"] >= T]
    return [(float(t), r) for t, r in zip(ev["t_s"], ev["revision"], strict=True)]


def _revs(res) -> tuple[str, str]:
    """(first revision name, second revision name)."""
    rv = res.frames["revisions"].sort_values("created_at_s")
    return str(rv["name"].iloc[0]), str(rv["name"].iloc[1])


def _live_by_revision(res, t: float) -> dict[str, int]:
    """Live (not deleted) RoleSets per revision at time ``t``."""
    rs = res.frames["rolesets"]
    live = rs[(rs["created_at_s"] <= t) & ~(rs["deleted_at_s"] <= t)]
    return {str(k): int(v) for k, v in live["revision"].value_counts().items()}


# ----------------------------------------------------------------------------- pause / scale


def test_round_half_away_is_what_the_split_needs() -> None:
    """The two splits exercised below differ between half-away and banker's rounding."""
    assert calculate_replicas(6, 3, 1) == (5, 1)  # round(4.5) = 5, not 4
    assert calculate_replicas(3, 5, 1) == (3, 0)  # round(2.5) = 3, round(0.5) = 1 -> du = 0
    assert round(4.5) == 4 and round_half_away(4.5) == 5


def test_pause_scales_proportionally_between_revisions(tmp_path: Path) -> None:
    """replicas 4, maxSurge 0 / maxUnavailable 1 (one RoleSet at a time, delete first).

    100: set image -> 1 old RoleSet deleted; 105: gone, 1 new created (status current 3,
    updated 1); 110: pause; 112: /scale 6 while paused with two revisions ->
    calculateReplicas(6, 3, 1) = (5, 1) -> 2 RoleSets created from the *old* template, none
    new (banker's rounding would give (4, 2)); 150: /scale 3 -> all ready, so
    calculateReplicas(3, readyCur 5, readyUpd 1) = (3, 0) -> 2 old and 1 new deleted;
    200: resume -> the rollout finishes one RoleSet at a time."""
    svc = manifest([role("decode", 1)], replicas=4, max_surge=0, max_unavailable=1)
    evs = [
        SET_V2,
        {"at_s": 110, "kind": "pause"},
        {"at_s": 112, "kind": "scale", "replicas": 6},
        {"at_s": 150, "kind": "scale", "replicas": 3},
        {"at_s": 200, "kind": "resume"},
    ]
    res = run(scenario(svc, evs), tmp_path)
    old, new = _revs(res)

    st = status_at(res, 111)
    assert (st["current_replicas"], st["updated_replicas"]) == (3, 1)
    assert bool(st["paused"]) is True

    creates = _rs_events(res, "create")
    deletes = _rs_events(res, "delete")
    assert creates[:3] == [(105.0, new), (112.0, old), (112.0, old)]
    # roleset-index is the position in the creation batch (spec §1.9): 0 and 1 again
    rs = res.frames["rolesets"]
    assert sorted(rs[rs["created_at_s"] == 112.0]["index"]) == [0, 1]
    assert _live_by_revision(res, 140) == {old: 5, new: 1}
    st = status_at(res, 140)
    assert (st["current_replicas"], st["updated_replicas"], st["replicas"]) == (5, 1, 6)

    assert sorted(d for d in deletes if d[0] == 150.0) == sorted(
        [(150.0, old), (150.0, old), (150.0, new)]
    )
    assert _live_by_revision(res, 199) == {old: 3}
    # nothing is rolled while paused
    assert [c for c in creates if 112 < c[0] < 200] == []
    assert [d for d in deletes if 100 < d[0] < 200 and d[0] != 150.0] == []

    # resume: T2-style one-at-a-time replacement of the 3 old RoleSets
    step = GRACE + READY_AFTER_CREATE
    assert [d for d in deletes if d[0] >= 200] == [(200 + k * step, old) for k in range(3)]
    assert [c for c in creates if c[0] >= 200] == [(205 + k * step, new) for k in range(3)]
    assert res.summary["update_completed"] is True
    assert res.summary["update_ended_at_s"] == 205 + 2 * step + READY_AFTER_CREATE
    assert _live_by_revision(res, res.summary["sim_end_s"]) == {new: 3}


def test_paused_scale_in_prefers_not_ready_rolesets(tmp_path: Path) -> None:
    """Paused, two revisions, excess covered by not-ready RoleSets: those are deleted and
    nothing else (spec §3.3 Case B, first branch). replicas 2, maxSurge 1/maxUnavailable 0:
    at 100 one new RoleSet is surged; its pod never fits (2-GPU node fully used), so it
    stays not Ready; pausing at 110 (E = 2, active 3) deletes exactly that RoleSet."""
    svc = manifest([role("decode", 1, gpus=2)], replicas=2, max_surge=1, max_unavailable=0)
    evs = [SET_V2, {"at_s": 110, "kind": "pause"}]
    res = run(scenario(svc, evs, node_pools=pools(("gpu", 1, 4))), tmp_path, until_s=200)
    old, new = _revs(res)
    assert _rs_events(res, "create") == [(T, new)]
    assert _rs_events(res, "delete") == [(110.0, new)]
    assert _live_by_revision(res, 199) == {old: 2}


# ----------------------------------------------------------------------------- rollback


def test_rollback_reuses_old_revision(tmp_path: Path) -> None:
    """replicas 3, maxSurge 0 / maxUnavailable 1. 100: v2 -> revision 2 created, one old
    RoleSet deleted; 105: one v2 RoleSet created; 110: rollback to revision 1 -> no new
    ControllerRevision: revision 1's number is bumped to 3 (same name) and it is the update
    revision again, so the two RoleSets still at it count as updated at once and are never
    touched; the not-Ready v2 RoleSet is deleted at once (110), and when it is gone (115)
    one RoleSet at the old revision is created, Ready at 131."""
    svc = manifest([role("decode", 1)], replicas=3, max_surge=0, max_unavailable=1)
    evs = [SET_V2, {"at_s": 110, "kind": "rollback", "to_revision": 1}]
    res = run(scenario(svc, evs), tmp_path)
    rv = res.frames["revisions"].sort_values("created_at_s").reset_index(drop=True)
    assert len(rv) == 2
    r1, r2 = str(rv["name"][0]), str(rv["name"][1])
    assert list(rv["revision"]) == [3, 2]
    assert rv["deleted_at_s"].isna().all()
    assert len(events(res, "create", "ControllerRevision")) == 2  # initial + v2 only
    bump = events(res, "update", "ControllerRevision")
    assert list(zip(bump["t_s"], bump["name"], bump["detail"], strict=True)) == [
        (110.0, r1, "revision 1 -> 3 (an earlier template again)")
    ]

    assert _rs_events(res, "delete") == [(T, r1), (110.0, r2)]
    assert _rs_events(res, "create") == [(105.0, r2), (115.0, r1)]
    rs = res.frames["rolesets"]
    untouched = rs[(rs["created_at_s"] == 0) & rs["deleted_at_s"].isna()]
    assert len(untouched) == 2 and (untouched["revision"] == r1).all()

    st = status_at(res, 110)
    assert st["update_revision"] == r1 and st["current_revision"] == r1
    assert st["updated_replicas"] == 2  # the untouched RoleSets count as updated at once
    final = res.frames["status"].iloc[-1]
    assert (final["current_revision"], final["update_revision"]) == (r1, r1)
    assert res.summary["update_ended_at_s"] == 115.0 + READY_AFTER_CREATE


# ----------------------------------------------------------------------------- history


def _history_run(tmp_path: Path):
    svc = manifest([role("decode", 1)], update_type="InPlaceUpdate", history_limit=1)
    evs = [
        SET_V2,
        {"at_s": 200, "kind": "set_image", "image": IMAGE_V3},
        {"at_s": 300, "kind": "set_image", "image": IMAGE_V4},
    ]
    return run(scenario(svc, evs), tmp_path)


def test_revision_history_limit_truncates(tmp_path: Path) -> None:
    """revisionHistoryLimit 1, InPlaceUpdate (the RoleSet is relabelled at each change, so
    currentRevision moves at once): when revision 3 becomes current (200) the non-live
    revisions are 1 and 2 -> revision 1 deleted; at 300 revision 2 is deleted."""
    res = _history_run(tmp_path)
    rv = res.frames["revisions"].sort_values("revision").reset_index(drop=True)
    assert list(rv["revision"]) == [1, 2, 3, 4]
    assert list(rv["created_at_s"]) == [0.0, 100.0, 200.0, 300.0]
    got = [None if pd.isna(x) else float(x) for x in rv["deleted_at_s"]]
    assert got == [200.0, 300.0, None, None]
    names = [str(n) for n in rv["name"]]
    assert all(n.startswith("llm-") and len(n) == len("llm-") + 6 for n in names)
    assert len(set(names)) == 4


def test_rollout_history_cli(tmp_path: Path) -> None:
    res = _history_run(tmp_path)
    out = res.save(tmp_path / "results", plots=False)
    rv = res.frames["revisions"].sort_values("revision")
    names = [str(n) for n in rv["name"]]
    runner = CliRunner()
    r = runner.invoke(app, ["rollout", "history", str(out)])
    assert r.exit_code == 0, r.output
    lines = [ln.split() for ln in r.output.strip().splitlines()]
    assert lines[0][:4] == ["REVISION", "NAME", "CREATED(s)", "STATE"]
    body = lines[1:]
    assert [(b[0], b[1], b[2]) for b in body] == [("3", names[2], "200"), ("4", names[3], "300")]
    assert body[1][3] == "current"
    assert "v4" in " ".join(body[1])
    r = runner.invoke(app, ["rollout", "history", "--all", str(out)])
    assert r.exit_code == 0, r.output
    body = [ln.split() for ln in r.output.strip().splitlines()][1:]
    assert [b[0] for b in body] == ["1", "2", "3", "4"]
    assert [b[3] for b in body[:2]] == ["deleted", "deleted"]
    assert body[0][4:] == ["initial", "manifest"]


# ----------------------------------------------------------------------------- pooled mode


def test_pooled_role_scaling_creates_revision_and_adds_pods_only(tmp_path: Path) -> None:
    """replicas 1 + InPlaceUpdate; `scale` of role decode 2 -> 4 at 100 changes the template
    -> revision 2; the RoleSet is patched in place and the RoleSet controller creates two
    decode pods; no pod is deleted or restarted; the new pods carry the per-role revision of
    revision 1 because decode's pod template did not change (spec §5.4)."""
    svc = manifest([role("prefill", 2), role("decode", 2)], update_type="InPlaceUpdate")
    res = run(
        scenario(svc, [{"at_s": T, "kind": "scale", "role": "decode", "replicas": 4}]), tmp_path
    )
    rv = res.frames["revisions"].sort_values("revision")
    assert list(rv["revision"]) == [1, 2] and list(rv["created_at_s"]) == [0.0, T]
    r1, r2 = (str(n) for n in rv["name"])
    rs = res.frames["rolesets"]
    assert len(rs) == 1 and rs["revision"].iloc[0] == r2
    assert _rs_events(res, "update") == [(T, r2)]
    ev = events(res, kind="Pod")
    ev = ev[ev["t_s"] >= T]
    assert list(ev["verb"]) == ["create", "create"]
    assert set(ev["t_s"]) == {T}
    assert events(res, "restart").empty and events(res, "delete", "Pod").empty
    p = pods(res)
    assert len(p) == 6 and p["deleted_at_s"].isna().all()
    added = p[p["created_at_s"] == T]
    assert list(added["role"]) == ["decode", "decode"]
    assert set(added["revision"]) == {r1}
    assert set(p["template_hash"]) == {p["template_hash"].iloc[0]}
    assert res.summary["update_ended_at_s"] == T + READY_AFTER_CREATE
    st = res.frames["status"].iloc[-1]
    assert st["role.decode.replicas"] == 4 and st["role.prefill.replicas"] == 2


# ----------------------------------------------------------------------------- aibrix-latest


def _stuck_surge(progress_deadline_s: int | None, profile: str | None, extra=()):
    """replicas 2, maxSurge 1 / maxUnavailable 0 (mode resolves to Replica); the surge
    RoleSet's 2-GPU pod can never be scheduled (one 4-GPU node, already full)."""
    svc = manifest(
        [role("decode", 1, gpus=2)],
        replicas=2,
        max_surge=1,
        max_unavailable=0,
        progress_deadline_s=progress_deadline_s,
    )
    return scenario(svc, [SET_V2, *extra], node_pools=pools(("gpu", 1, 4)), profile=profile)


def test_latest_progress_deadline_exceeded(tmp_path: Path) -> None:
    """No progress after the template change at 100 -> at 100 + 30 the status shows
    Progressing=False reason ProgressDeadlineExceeded (status only: nothing else changes)."""
    res = run(_stuck_surge(30, "aibrix-latest"), tmp_path, until_s=400)
    st = res.frames["status"]
    exceeded = st[st["reason"] == "ProgressDeadlineExceeded"]
    assert list(exceeded["t_s"]) == [130.0]
    row = exceeded.iloc[0]
    assert row["conditions"] == "Progressing=False/ProgressDeadlineExceeded"
    assert (row["replicas"], row["ready_replicas"], row["updated_replicas"]) == (3, 2, 1)
    before = status_at(res, 129.9)
    assert before["conditions"] == "Progressing=True/Processing"
    assert res.summary["update_completed"] is False


def test_latest_progress_deadline_excludes_paused_time(tmp_path: Path) -> None:
    """Paused 110..150: the status shows Progressing=Unknown/DeploymentPaused meanwhile and
    the deadline counts from the resume: 150 + 30 = 180."""
    extra = ({"at_s": 110, "kind": "pause"}, {"at_s": 150, "kind": "resume"})
    res = run(_stuck_surge(30, "aibrix-latest", extra), tmp_path, until_s=400)
    st = res.frames["status"]
    assert list(st[st["reason"] == "ProgressDeadlineExceeded"]["t_s"]) == [180.0]
    assert status_at(res, 140)["conditions"] == "Progressing=Unknown/DeploymentPaused"


def test_snapshot_profile_has_no_progress_deadline(tmp_path: Path) -> None:
    res = run(_stuck_surge(None, None), tmp_path, until_s=1000)
    st = res.frames["status"]
    assert not (st["reason"] == "ProgressDeadlineExceeded").any()
    assert st.iloc[-1]["conditions"] == "Progressing=True/Processing"


def test_latest_pooled_mode_rolls_in_place_despite_rolling_update(tmp_path: Path) -> None:
    """aibrix-latest, mode Pooled, updateStrategy RollingUpdate: the single RoleSet is patched
    in place (same name, no RoleSet created or deleted) and its pods roll inside it; the
    snapshot profile replaces the RoleSet instead (delete first: outage, spec §3.2)."""
    svc = manifest([role("decode", 2)], replicas=1, mode="Pooled")
    res = run(scenario(svc, [SET_V2], profile="aibrix-latest"), tmp_path)
    rs = res.frames["rolesets"]
    assert len(rs) == 1 and rs["deleted_at_s"].isna().all()
    assert _rs_events(res, "create") == [] and _rs_events(res, "delete") == []
    assert [t for t, _ in _rs_events(res, "update")] == [T]
    step = GRACE + READY_AFTER_CREATE
    assert res.summary["update_ended_at_s"] == T + 2 * step

    plain = manifest([role("decode", 2)], replicas=1)
    res = run(scenario(plain, [SET_V2]), tmp_path)
    _, new = _revs(res)
    assert _rs_events(res, "create") == [(T + GRACE, new)]
    assert res.summary["update_ended_at_s"] == T + GRACE + READY_AFTER_CREATE
