"""Divergence 4 of issue 11: the rollout window of a stateless -> stateful role switch.

``stateful`` is a role field, not part of the pod template, so the pods keep their
``role-template-hash``; the in-place RoleSet update makes the role stateful and
``StatefulRoleSyncer.Scale`` (``pkg/controller/roleset/rolesyncer.go``) deletes every pod
without a ``role-replica-index`` at once, then creates the slot pods once the old ones are
gone (terminating pods consume the create budget). AIBrix first reports Ready from the
RoleSet status computed before the switch, then Progressing (``updateStatus`` in
``pkg/controller/stormservice/sync.go``) until the slot pods are Ready. The rollout window
ends then, not at the change: a slot-less pod of a stateful role is not converged
(``StatefulRoleSyncer.AllReady`` is false while unslotted pods exist).

Constant durations: Ready 16 s after creation, gone 5 s after deletion.
"""

from __future__ import annotations

from pathlib import Path

from tests.issue3.helpers import GRACE, READY_AFTER_CREATE, events, manifest, role, run, scenario

T = 100.0


def test_stateless_to_stateful_window_ends_when_slot_pods_are_ready(tmp_path: Path) -> None:
    svc = manifest([role("decode", 2)], update_type="InPlaceUpdate")
    new = manifest([role("decode", 2, stateful=True)], update_type="InPlaceUpdate")
    res = run(scenario(svc, [{"at_s": T, "kind": "apply", "manifest": new}]), tmp_path)
    rs = str(res.frames["rolesets"]["roleset"].iloc[0])
    ev = events(res, kind="Pod")
    ev = ev[(ev["t_s"] >= T) & ev["verb"].isin(["create", "delete"])]
    cols = zip(ev["t_s"], ev["verb"], ev["name"], strict=True)
    got = [(float(t), str(v), str(n)) for t, v, n in cols]
    assert [(t, v) for t, v, _ in got] == [
        (T, "delete"),
        (T, "delete"),
        (T + GRACE, "create"),
        (T + GRACE, "create"),
    ]
    h = got[2][2].split("-")[-2]
    assert [n for _, v, n in got if v == "create"] == [
        f"{rs}-decode-{h}-0",
        f"{rs}-decode-{h}-1",
    ]
    end = T + GRACE + READY_AFTER_CREATE
    st = res.frames["status"]
    after = st[st["t_s"] >= T]
    assert list(zip(after["t_s"], after["condition"], strict=True)) == [
        (T, "Ready"),  # stale RoleSet status
        (T, "Progressing"),
        (T + GRACE, "Progressing"),
        (end, "Ready"),
    ]
    ro = res.frames["rollouts"].iloc[0]
    assert (ro["started_at_s"], ro["ended_at_s"], ro["outcome"]) == (T, end, "completed")
    assert res.summary["full_outage_s"] == end - T
    assert res.summary["update_duration_s"] == end - T
