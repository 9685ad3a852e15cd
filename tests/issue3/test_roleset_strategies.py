"""Whole-run traces of the RoleSet rolling managers (spec §4.3, §4.5).

The StormService uses ``InPlaceUpdate`` (spec §3.5) so that the single RoleSet is patched at
the template change and its roles are rolled by the RoleSet controller. Role budgets are the
defaults (surge 0 -> unavailable 1), so each stateless role replaces its pods one at a time,
delete first: the outdated pod is deleted, once it is gone (grace 5 s) Scale recreates it, and
the new pod is Ready 16 s after creation (scheduling 1 s + load 10 s + init 5 s).
"""

from __future__ import annotations

from pathlib import Path

from .helpers import (
    GRACE,
    IMAGE_V2,
    READY_AFTER_CREATE,
    events,
    manifest,
    new_pods,
    pods,
    role,
    run,
    scenario,
    times,
)

T = 100.0
SET_V2 = {"at_s": T, "kind": "set_image", "image": IMAGE_V2}


def _pod_events(res, role_name: str, t0: float = T) -> list[tuple[float, str]]:
    """(time, verb) of the create/delete events of ``role_name``'s pods from ``t0``."""
    ev = events(res, kind="Pod")
    ev = ev[(ev["t_s"] >= t0) & ev["verb"].isin(["create", "delete"])]
    p = res.frames["pods"].set_index("pod")["role"]
    ev = ev[ev["name"].map(p) == role_name]
    return [(float(t), v) for t, v in zip(ev["t_s"], ev["verb"], strict=True)]


def _one_by_one(start: float, n: int) -> list[tuple[float, str]]:
    """delete -> (grace) create -> (ready) delete -> ... for ``n`` pods starting at ``start``."""
    out = []
    t = start
    for _ in range(n):
        out += [(t, "delete"), (t + GRACE, "create")]
        t += GRACE + READY_AFTER_CREATE
    return out


def test_sequential_follows_upgrade_order_nil_last(tmp_path: Path) -> None:
    """Roles listed router (no upgradeOrder), prefill (2), decode (1): the rollout order is
    decode, prefill, router. A role starts only when the previous one has all its pods
    updated and Ready (spec §4.3 Sequential, §4.9)."""
    svc = manifest(
        [
            role("router", 1),
            role("prefill", 2, upgrade_order=2),
            role("decode", 2, upgrade_order=1),
        ],
        update_type="InPlaceUpdate",
        roleset_strategy="Sequential",
    )
    res = run(scenario(svc, [SET_V2]), tmp_path)
    step = GRACE + READY_AFTER_CREATE  # 21 s per pod
    decode_done = T + 2 * step  # 142: second new decode pod Ready
    prefill_done = decode_done + 2 * step  # 184
    assert _pod_events(res, "decode") == _one_by_one(T, 2)
    assert _pod_events(res, "prefill") == _one_by_one(decode_done, 2)
    assert _pod_events(res, "router") == _one_by_one(prefill_done, 1)

    # a later role's first action is exactly the instant the earlier role's last new pod is Ready
    new_decode = new_pods(res, T, "decode")
    new_prefill = new_pods(res, T, "prefill")
    assert max(times(new_decode, "ready_at_s")) == decode_done
    assert max(times(new_prefill, "ready_at_s")) == prefill_done
    assert res.summary["update_completed"] is True
    assert res.summary["update_ended_at_s"] == prefill_done + step
    # one RoleSet throughout (in-place at StormService level)
    assert len(res.frames["rolesets"]) == 1


def test_parallel_roles_start_together(tmp_path: Path) -> None:
    svc = manifest(
        [role("prefill", 2), role("decode", 2)],
        update_type="InPlaceUpdate",
        roleset_strategy="Parallel",
    )
    res = run(scenario(svc, [SET_V2]), tmp_path)
    assert _pod_events(res, "prefill") == _one_by_one(T, 2)
    assert _pod_events(res, "decode") == _one_by_one(T, 2)
    assert res.summary["update_ended_at_s"] == T + 2 * (GRACE + READY_AFTER_CREATE)


def test_sequential_waits_where_parallel_does_not(tmp_path: Path) -> None:
    """Same service as the Parallel test but Sequential in list order: decode waits for
    prefill (its first delete is at 142 s, not 100 s)."""
    svc = manifest(
        [role("prefill", 2), role("decode", 2)],
        update_type="InPlaceUpdate",
        roleset_strategy="Sequential",
    )
    res = run(scenario(svc, [SET_V2]), tmp_path)
    assert _pod_events(res, "prefill") == _one_by_one(T, 2)
    assert _pod_events(res, "decode") == _one_by_one(T + 2 * (GRACE + READY_AFTER_CREATE), 2)


def test_interleave_lockstep_waits_for_slowest_role(tmp_path: Path) -> None:
    """Interleave, L = 1 for both roles; decode pods take 20 s longer to start (load 30 s).

    Hand trace (spec §4.3, §4.5 CheckCurrentStep/RolloutByStep): at 100 both roles are at
    step 1 and delete one pod; at 105 Scale recreates both. Prefill's new pod is Ready at 121
    (step 2), decode's at 141 (u=0, uA=1 -> step 1 until then), so the global step stays 1
    and prefill waits: both roles start step 2 at 141 and step 3 at 182."""
    svc = manifest(
        [role("prefill", 3), role("decode", 3)],
        update_type="InPlaceUpdate",
        roleset_strategy="Interleave",
    )
    res = run(scenario(svc, [SET_V2], role_timing={"decode": {"model_load_s": 30}}), tmp_path)
    decode_ready = READY_AFTER_CREATE + 20  # 36 s from creation
    starts = [T, 141.0, 182.0]
    for name in ("prefill", "decode"):
        expected = []
        for s in starts:
            expected += [(s, "delete"), (s + GRACE, "create")]
        assert _pod_events(res, name) == expected, name
    np_ = new_pods(res, T, "prefill")
    nd = new_pods(res, T, "decode")
    assert times(np_, "ready_at_s") == [s + GRACE + READY_AFTER_CREATE for s in starts]
    assert times(nd, "ready_at_s") == [s + GRACE + decode_ready for s in starts]

    # lockstep: no role's (k+1)-th new pod is created before every unfinished role has k new
    # Ready pods
    new = {"prefill": np_, "decode": nd}
    for name, df in new.items():
        created = times(df, "created_at_s")
        for k in range(1, len(created)):
            for other, odf in new.items():
                ready = sorted(times(odf, "ready_at_s"))
                assert created[k] >= ready[k - 1], (name, k, other)
    assert res.summary["update_ended_at_s"] == 187.0 + decode_ready


def test_interleave_lockstep_property_with_different_step_lengths(tmp_path: Path) -> None:
    """Prefill L = max(1, 1 + 1) = 2, decode L = 1: in step s prefill aims at min(2s, 4) and
    decode at min(s, 2) updated pods. Prefill (fast) never gets more than one step ahead."""
    svc = manifest(
        [role("prefill", 4, max_surge=1, max_unavailable=1), role("decode", 2)],
        update_type="InPlaceUpdate",
        roleset_strategy="Interleave",
    )
    res = run(scenario(svc, [SET_V2], role_timing={"decode": {"model_load_s": 30}}), tmp_path)
    assert res.summary["update_completed"] is True
    np_ = new_pods(res, T, "prefill")
    nd = new_pods(res, T, "decode")
    assert len(np_) == 4 and len(nd) == 2
    # step 1 (t=100): prefill target 2 -> deletes 1 and surges 1 at once, decode deletes 1
    assert _pod_events(res, "prefill")[:3] == [(T, "delete"), (T, "create"), (T + GRACE, "create")]
    assert _pod_events(res, "decode")[:2] == [(T, "delete"), (T + GRACE, "create")]
    # step 2 starts only when decode's first new pod is Ready (105 + 36 = 141)
    decode_first_ready = T + GRACE + READY_AFTER_CREATE + 20
    assert float(nd["ready_at_s"].iloc[0]) == decode_first_ready
    assert sorted(times(np_, "created_at_s"))[2] == decode_first_ready
    assert float(nd["created_at_s"].iloc[1]) == decode_first_ready + GRACE


def test_interleave_stalls_on_outdated_not_ready_pod(tmp_path: Path) -> None:
    """Spec §4.5 quirk / §9.1 item 13: decode (L = 1) has only outdated pods and they are not
    Ready (they never become Ready) -> its step is trunc(-1/1)+1 = 0 -> global step 0 ->
    RolloutByStep(…, 0) does nothing for any role: prefill, although healthy, is never rolled
    and no pod is created or deleted after the template change."""
    svc = manifest(
        [role("prefill", 2), role("decode", 2)],
        update_type="InPlaceUpdate",
        roleset_strategy="Interleave",
    )
    data = scenario(svc, [SET_V2], role_timing={"decode": {"model_load_s": 1e7}})
    res = run(data, tmp_path, until_s=1000)
    ev = events(res, kind="Pod")
    assert ev[ev["t_s"] >= T].empty
    p = pods(res)
    assert len(p) == 4 and p["created_at_s"].eq(0).all() and p["deleted_at_s"].isna().all()
    # the RoleSet was patched to the new revision (the stall is inside the RoleSet)
    rs = res.frames["rolesets"]
    upd = res.frames["status"]["update_revision"].iloc[-1]
    assert list(rs["revision"]) == [upd]
    assert res.summary["update_completed"] is False


def test_interleave_no_stall_with_step_length_two(tmp_path: Path) -> None:
    """Same stuck decode pods but decode maxSurge 1 / maxUnavailable 1 (L = 2): Go truncation
    gives step trunc(-1/2)+1 = 1 (Python floor division would give 0 and stall), so the
    rollout proceeds: at 100 prefill deletes one pod and decode deletes both not-Ready
    outdated pods (deleted unconditionally, spec §4.5 RolloutByStep step 4)."""
    svc = manifest(
        [role("prefill", 2), role("decode", 2, max_surge=1, max_unavailable=1)],
        update_type="InPlaceUpdate",
        roleset_strategy="Interleave",
    )
    data = scenario(svc, [SET_V2], role_timing={"decode": {"model_load_s": 1e7}})
    res = run(data, tmp_path, until_s=300)
    # decode: both not-Ready outdated pods deleted, one new pod within surge (2+1-2-0 = 1);
    # the second is created by Scale once the deleted pods are gone
    assert _pod_events(res, "decode") == [
        (T, "delete"),
        (T, "delete"),
        (T, "create"),
        (T + GRACE, "create"),
    ]
    # prefill: one pod replaced (step 1); its step 2 then waits forever for decode's new pods
    assert _pod_events(res, "prefill") == [(T, "delete"), (T + GRACE, "create")]
