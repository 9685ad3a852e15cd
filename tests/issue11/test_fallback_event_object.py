"""Divergence 6 of issue 11: which object an ``InPlaceFallback`` event is attached to.

AIBrix's syncers (``StatelessRoleSyncer.Rollout`` / ``StatefulRoleSyncer.Rollout`` and
``RolloutByStep`` in ``pkg/controller/roleset/rolesyncer.go``, ``PodSetRoleSyncer`` in
``podset_rollsyncer.go``) record the event with the RoleSet as the involved object, for
stateless, stateful and PodSet roles alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.issue3.helpers import IMAGE_V2, events, manifest, role, run, scenario

T = 100.0


@pytest.mark.parametrize(
    "kind", ["stateless", "stateful", "podset"], ids=["stateless", "stateful", "podset"]
)
def test_fallback_event_is_on_the_roleset(tmp_path: Path, kind: str) -> None:
    kw: dict = {"update_type": "InPlaceIfPossible"}
    if kind == "stateful":
        kw["stateful"] = True
    if kind == "podset":
        kw["pod_group_size"] = 2
    old = role("w", 2, args=["--port", "8000"], **kw)
    new = role("w", 2, args=["--port", "8001"], image=IMAGE_V2, **kw)
    if kind == "podset":  # PodSet roles never update in place: an image change suffices
        new = role("w", 2, image=IMAGE_V2, **kw)
        old = role("w", 2, **kw)
    svc = manifest([old], update_type="InPlaceUpdate")
    nxt = manifest([new], update_type="InPlaceUpdate")
    res = run(scenario(svc, [{"at_s": T, "kind": "apply", "manifest": nxt}]), tmp_path)
    fb = events(res, "event")
    fb = fb[fb["detail"].str.startswith("InPlaceFallback")]
    assert not fb.empty
    assert float(fb["t_s"].iloc[0]) == T
    assert set(fb["kind"]) == {"RoleSet"}
    assert set(fb["name"]) == set(res.frames["rolesets"]["roleset"])
    assert fb["detail"].str.contains("role w").all()
    assert events(res, "patch").empty  # recreated, never patched
