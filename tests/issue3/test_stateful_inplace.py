"""Whole-run traces of stateful roles (spec §4.6) and in-place updates (spec §3.5, §4.8).

Constant durations (helpers.TIMING): a pod is Ready 16 s after creation, gone 5 s after
deletion; images are prepulled unless a test says otherwise.
"""

from __future__ import annotations

from pathlib import Path

from stormsim.control.revisions import role_hashes

from .helpers import (
    GRACE,
    IMAGE_V1,
    IMAGE_V2,
    READY_AFTER_CREATE,
    STARTUP,
    events,
    load,
    manifest,
    pods,
    pools,
    role,
    run,
    scenario,
)

T = 100.0
SET_V2 = {"at_s": T, "kind": "set_image", "image": IMAGE_V2}


def _trace(res, t0: float = T) -> list[tuple[float, str, str]]:
    """(time, verb, pod name) of pod create/delete events from ``t0``."""
    ev = events(res, kind="Pod")
    ev = ev[(ev["t_s"] >= t0) & ev["verb"].isin(["create", "delete"])]
    return [(float(t), v, n) for t, v, n in zip(ev["t_s"], ev["verb"], ev["name"], strict=True)]


def _hashes(res) -> tuple[str, str]:
    """(old, new) role-template hashes of the single role."""
    p = pods(res)
    old = str(p["template_hash"].iloc[0])
    new = [h for h in p["template_hash"] if h != old]
    return old, str(new[0])


# ----------------------------------------------------------------------------- stateful


def test_stateful_delete_first_unavailable_one(tmp_path: Path) -> None:
    """maxUnavailable 1 (surge 0): Rollout deletes the lowest outdated slot (deleteBudget =
    readySlots − R + unav = 1); once the old pod is gone Scale recreates that slot (create
    budget R + surge − active − terminating); the next slot goes when the new pod is Ready."""
    svc = manifest([role("db", 3, stateful=True, max_unavailable=1)], update_type="InPlaceUpdate")
    res = run(scenario(svc, [SET_V2]), tmp_path)
    rs = str(res.frames["rolesets"]["roleset"].iloc[0])
    old, new = _hashes(res)
    name = lambda h, i: f"{rs}-db-{h}-{i}"  # noqa: E731
    step = GRACE + READY_AFTER_CREATE
    expected = []
    for i in range(3):
        t = T + i * step
        expected += [(t, "delete", name(old, i)), (t + GRACE, "create", name(new, i))]
    assert _trace(res) == expected
    p = pods(res).set_index("pod")
    for i in range(3):
        assert p.loc[name(new, i), "slot"] == i
        assert p.loc[name(old, i), "slot"] == i
    assert res.summary["update_ended_at_s"] == T + 3 * step


def test_stateful_delete_first_unavailable_two(tmp_path: Path) -> None:
    """maxUnavailable 2: slots 0 and 1 go together, slot 2 when both new pods are Ready."""
    svc = manifest([role("db", 3, stateful=True, max_unavailable=2)], update_type="InPlaceUpdate")
    res = run(scenario(svc, [SET_V2]), tmp_path)
    rs = str(res.frames["rolesets"]["roleset"].iloc[0])
    old, new = _hashes(res)
    name = lambda h, i: f"{rs}-db-{h}-{i}"  # noqa: E731
    t2 = T + GRACE + READY_AFTER_CREATE
    assert _trace(res) == [
        (T, "delete", name(old, 0)),
        (T, "delete", name(old, 1)),
        (T + GRACE, "create", name(new, 0)),
        (T + GRACE, "create", name(new, 1)),
        (t2, "delete", name(old, 2)),
        (t2 + GRACE, "create", name(new, 2)),
    ]
    assert res.summary["update_ended_at_s"] == t2 + GRACE + READY_AFTER_CREATE


def test_stateful_surge_beside(tmp_path: Path) -> None:
    """maxSurge 1 / maxUnavailable 0: a second pod is created in slot 0 beside the old one
    (different hash, same slot); when it is Ready Scale deletes the old one; the next slot's
    surge pod waits until the old pod is gone (Rollout's createBudget = R + surge − all pods,
    terminating included)."""
    svc = manifest(
        [role("db", 3, stateful=True, max_surge=1, max_unavailable=0)],
        update_type="InPlaceUpdate",
    )
    res = run(scenario(svc, [SET_V2]), tmp_path)
    rs = str(res.frames["rolesets"]["roleset"].iloc[0])
    old, new = _hashes(res)
    name = lambda h, i: f"{rs}-db-{h}-{i}"  # noqa: E731
    expected = []
    t = T
    for i in range(3):
        ready = t + READY_AFTER_CREATE
        expected += [(t, "create", name(new, i)), (ready, "delete", name(old, i))]
        t = ready + GRACE
    assert _trace(res) == expected
    # the old and the new pod of a slot coexist (both active) for 16 s
    p = pods(res).set_index("pod")
    assert p.loc[name(new, 0), "created_at_s"] == T
    assert p.loc[name(old, 0), "deleted_at_s"] == T + READY_AFTER_CREATE
    assert res.frames["timeseries"]["pods_total"].max() == 4
    assert res.summary["update_ended_at_s"] == T + 3 * READY_AFTER_CREATE + 2 * GRACE


# ----------------------------------------------------------------------------- in place


def test_in_place_image_only_keeps_pod_identity(tmp_path: Path) -> None:
    """InPlaceIfPossible with an image-only change (spec §4.8): pods keep name and node, no
    pod is created or deleted, each restart is recorded, the template hash is promoted on
    completion. Time = image pull (not cached: 20 s) + load + init; the second pod's pull is
    cached on the node. The second pod is patched only when the first is Ready again
    (unavailability budget ready − R + unav = 1 − 2 + 1 = 0 while the first restarts)."""
    svc = manifest(
        [role("decode", 2, update_type="InPlaceIfPossible")], update_type="InPlaceUpdate"
    )
    data = scenario(
        svc,
        [SET_V2],
        node_pools=pools(("gpu", 2, 8), prepulled=[IMAGE_V1]),
        role_timing={"decode": {"image_pull_s": 20}},
    )
    res = run(data, tmp_path)
    before = pods(res)
    assert len(before) == 2  # no new pod ever
    assert before["created_at_s"].eq(0).all() and before["deleted_at_s"].isna().all()
    assert set(before["node"]) == {"gpu-0"}
    assert _trace(res, 1.0) == []
    old_hash = role_hashes(load(data, tmp_path).service.manifest.spec.template)["decode"]
    ev = events(res, kind="Pod")
    ev = ev[ev["t_s"] >= T]
    first_done = T + 20 + STARTUP  # 135
    second_done = first_done + STARTUP  # 150 (image cached)
    names = list(dict.fromkeys(ev[ev["verb"] == "patch"]["name"]))
    assert len(names) == 2
    a, b = names
    got = [(float(t), v, n) for t, v, n in zip(ev["t_s"], ev["verb"], ev["name"], strict=True)]
    assert got == [
        (T, "patch", a),
        (T, "restart", a),
        (T + 20, "pulled", a),
        (first_done, "restarted", a),
        (first_done, "update", a),
        (first_done, "patch", b),
        (first_done, "restart", b),
        (second_done, "restarted", b),
        (second_done, "update", b),
    ]
    # hash promoted on completion (pods frame holds the final label) and revision refreshed
    p = pods(res)
    upd = res.frames["status"]["update_revision"].iloc[-1]
    target = ev[ev["verb"] == "patch"]["detail"].str.extract(r"in-place update to (\w+):")[0]
    assert set(target) == {p["template_hash"].iloc[0]}
    assert p["template_hash"].nunique() == 1 and p["template_hash"].iloc[0] != old_hash
    assert list(p["revision"]) == [upd, upd]
    assert res.summary["update_ended_at_s"] == second_done


def test_in_place_stateful_keeps_name_with_old_hash(tmp_path: Path) -> None:
    """A stateful pod updated in place keeps its name, which still carries the old hash
    (spec §4.8: name and UID kept), while its template-hash label becomes the new one."""
    svc = manifest(
        [role("db", 2, stateful=True, update_type="InPlaceIfPossible")],
        update_type="InPlaceUpdate",
    )
    res = run(scenario(svc, [SET_V2]), tmp_path)
    p = pods(res)
    rs = str(res.frames["rolesets"]["roleset"].iloc[0])
    assert len(p) == 2
    old_hash = p["pod"].iloc[0].split("-")[-2]
    assert sorted(p["pod"]) == [f"{rs}-db-{old_hash}-0", f"{rs}-db-{old_hash}-1"]
    assert (p["template_hash"] != old_hash).all()
    # one at a time (restart takes load + init, images prepulled); the in-place step orders
    # candidates newest first (spec §4.8), and both pods were created at t=0, so the order
    # between the two slots is not asserted
    patches = events(res, "patch", "Pod")
    assert sorted(patches["name"]) == [f"{rs}-db-{old_hash}-0", f"{rs}-db-{old_hash}-1"]
    assert list(patches["t_s"]) == [T, T + STARTUP]
    assert res.summary["update_ended_at_s"] == T + 2 * STARTUP


def test_in_place_falls_back_on_non_image_change(tmp_path: Path) -> None:
    """An apply that changes a container's args (and the image) is not eligible: an
    InPlaceFallback event is recorded and the pods are recreated (Recreate path, delete
    first with unavailable 1); no pod is patched."""
    r1 = role("decode", 2, update_type="InPlaceIfPossible", args=["--port", "8000"])
    r2 = role("decode", 2, update_type="InPlaceIfPossible", args=["--port", "8001"], image=IMAGE_V2)
    svc = manifest([r1], update_type="InPlaceUpdate")
    new = manifest([r2], update_type="InPlaceUpdate")
    res = run(scenario(svc, [{"at_s": T, "kind": "apply", "manifest": new}]), tmp_path)
    fb = events(res, "event")
    fb = fb[fb["detail"].str.startswith("InPlaceFallback")]
    assert not fb.empty and float(fb["t_s"].iloc[0]) == T
    # recorded on the RoleSet, not on a pod (issue 11 divergence 6)
    assert set(fb["kind"]) == {"RoleSet"}
    assert set(fb["name"]) == set(res.frames["rolesets"]["roleset"])
    assert events(res, "patch").empty
    trace = _trace(res)
    step = GRACE + READY_AFTER_CREATE
    assert [(t, v) for t, v, _ in trace] == [
        (T, "delete"),
        (T + GRACE, "create"),
        (T + step, "delete"),
        (T + step + GRACE, "create"),
    ]
    p = pods(res)
    assert len(p) == 4
    assert set(p[p["created_at_s"] > T]["pod"]).isdisjoint(p[p["created_at_s"] == 0]["pod"])
    assert res.summary["update_ended_at_s"] == T + 2 * step


def test_in_place_update_keeps_rolesets(tmp_path: Path) -> None:
    """StormService InPlaceUpdate (spec §3.5): every outdated RoleSet is patched at once at
    the template change, keeping its name and roleset-index; no RoleSet is created or
    deleted; the pods then roll inside each RoleSet."""
    svc = manifest([role("decode", 2)], replicas=3, update_type="InPlaceUpdate")
    res = run(scenario(svc, [SET_V2]), tmp_path)
    rs = res.frames["rolesets"]
    upd = res.frames["status"]["update_revision"].iloc[-1]
    assert len(rs) == 3
    assert rs["created_at_s"].eq(0).all() and rs["deleted_at_s"].isna().all()
    assert list(rs["index"]) == [0, 1, 2]
    assert (rs["revision"] == upd).all()
    ev = events(res, kind="RoleSet")
    assert ev[ev["verb"] == "create"]["t_s"].eq(0).all()
    assert ev[ev["verb"] == "delete"].empty
    ups = ev[ev["verb"] == "update"]
    assert list(ups["t_s"]) == [T, T, T] and sorted(ups["name"]) == sorted(rs["roleset"])
    # each RoleSet replaces its 2 pods one at a time, all RoleSets in parallel
    p = pods(res)
    newp = p[p["created_at_s"] > T]
    assert len(newp) == 6
    assert (
        sorted(newp["created_at_s"]) == [T + GRACE] * 3 + [T + 2 * GRACE + READY_AFTER_CREATE] * 3
    )
    assert res.summary["rolesets_max"] == 3


def test_rolling_update_replaces_rolesets_for_contrast(tmp_path: Path) -> None:
    """The same change under RollingUpdate replaces whole RoleSets (spec §3.2, issue #2041):
    the pods keep their RoleSet's name and new RoleSets appear."""
    svc = manifest([role("decode", 2)], replicas=1, update_type="RollingUpdate", max_surge=1)
    res = run(scenario(svc, [SET_V2]), tmp_path)
    rs = res.frames["rolesets"].sort_values("created_at_s")
    assert list(rs["created_at_s"]) == [0.0, T]
    assert float(rs["deleted_at_s"].iloc[0]) == T + READY_AFTER_CREATE
