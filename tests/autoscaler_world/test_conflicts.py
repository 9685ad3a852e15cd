"""Two PodAutoscalers on one target (AIBrix ``checkNoMultiPodAutoscalerConflict``): the first
to reconcile claims the target; a later one gets the ``MultiPodAutoscalerConflict`` condition
and never scales, whether it was there at the start or applied later by an event. Whole runs
through ``stormsim.run``."""

from __future__ import annotations

from typing import Any

import pandas as pd

import stormsim
from tests.autoscaler_world.helpers import FAST_TIMING, autoscaler, service

KEY = "orchestration.aibrix.ai/v1alpha1.StormService/default/svc"
MESSAGE = (
    f"Scaling target {KEY} is already controlled by PodAutoscaler default/a, it will not take "
    "effect"
)


def data(pas: list[dict[str, Any]], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": "conflict",
        "seed": 1,
        "until_s": 45,
        "cluster": {"node_pools": [{"name": "n", "count": 4, "gpus_per_node": 8}]},
        "timing": dict(FAST_TIMING),
        "service": {"manifest": service(2), "initial_state": "ready"},
        "controller": {"api_call_s": 0.0},
        "autoscalers": pas,
        "events": events or [],
    }


# no traffic: every pod reads 0. a (min 3) scales 2 -> 3; b (max 1) would scale to 1
A = autoscaler("APA", "10", 3, 4, metric="num_requests_waiting", name="a")
B = autoscaler("KPA", "10", 1, 1, metric="num_requests_waiting", name="b")


def scale_writes(r: stormsim.RunResult) -> list[tuple[float, str]]:
    ev = r.frames["events"]
    w = ev[(ev.source == "podautoscaler-controller") & (ev.verb == "scale")]
    return [(float(t), str(d)) for t, d in zip(w.t_s, w.detail, strict=True)]


def conflict_events(r: stormsim.RunResult) -> pd.DataFrame:
    ev = r.frames["events"]
    return ev[(ev.source == "podautoscaler-controller") & (ev.verb == "status")]


def check_b_inert(r: stormsim.RunResult, first_s: float) -> None:
    df = r.frames["autoscaling"]
    b = df[df.autoscaler == "b"]
    assert len(b) >= 3  # every resync reconciles it again, and again it is refused
    assert b.t_s.min() == first_s
    assert (b.reason == "MultiPodAutoscalerConflict").all()
    assert (b.error == MESSAGE).all()
    assert not b.written.any() and not b.should_scale.any() and (b.metric == "").all()
    # a acts alone: 2 -> 3, and b's maximum of 1 never applies
    assert scale_writes(r) == [(0.0, "a: /scale replicas=3")]
    assert r.frames["status"].spec_replicas.iloc[-1] == 3
    ev = conflict_events(r)
    assert list(ev.name) == ["default/b"]  # the condition is set once, and stays
    assert float(ev.t_s.iloc[0]) == first_s
    assert ev.detail.iloc[0] == f"MultiPodAutoscalerConflict: {MESSAGE}"
    a = df[df.autoscaler == "a"]
    assert not (a.reason == "MultiPodAutoscalerConflict").any()


def test_two_initial_pas_on_one_target_the_first_acts() -> None:
    r = stormsim.run(data([A, B]))
    df = r.frames["autoscaling"]
    check_b_inert(r, float(df[df.autoscaler == "b"].t_s.min()))
    assert df[df.autoscaler == "b"].t_s.min() < 1.0  # b reconciled at once, right after a
    assert r.warnings == [
        f"autoscalers[1] (b): targets what autoscalers[0] (a) targets ({KEY}); AIBrix lets "
        "only the first PodAutoscaler to reconcile act (default/a), this one gets "
        "MultiPodAutoscalerConflict and does not scale"
    ]
    assert r.summary["warnings"] == r.warnings


def test_a_pa_applied_on_a_controlled_target_is_refused() -> None:
    # b is applied at 20 s on the target a already controls: refused from its first pass
    r = stormsim.run(data([A], [{"at_s": 20, "kind": "apply", "autoscalers": [B]}]))
    check_b_inert(r, 20.0)
    assert r.warnings == [
        f"events[0].autoscalers[0] (b), applied at 20 s: targets what autoscalers[0] (a) "
        f"targets ({KEY}); AIBrix lets only the first PodAutoscaler to reconcile act "
        "(default/a), this one gets MultiPodAutoscalerConflict and does not scale"
    ]


def test_the_first_applied_wins_not_the_stricter_bounds() -> None:
    # the order decides, not the bounds: with b first, b acts (2 -> 1) and a is refused
    r = stormsim.run(data([B, A]))
    assert scale_writes(r) == [(0.0, "b: /scale replicas=1")]
    df = r.frames["autoscaling"]
    assert (df[df.autoscaler == "a"].reason == "MultiPodAutoscalerConflict").all()
    assert list(conflict_events(r).name) == ["default/a"]


def test_pas_on_different_roles_do_not_conflict() -> None:
    svc = service(1, {"prefill": 1, "decode": 1})
    pas = [
        autoscaler("APA", "10", 1, 4, metric="num_requests_waiting", role=r, name=r)
        for r in ("prefill", "decode")
    ]
    d = data(pas) | {"service": {"manifest": svc, "initial_state": "ready"}}
    r = stormsim.run(d)
    assert not (r.frames["autoscaling"].reason == "MultiPodAutoscalerConflict").any()
    assert conflict_events(r).empty
    assert r.warnings == []


def test_the_condition_is_removed_when_the_owner_moves_to_another_target() -> None:
    # a re-applied at 30 s onto the worker role (a new key) releases the whole service: b
    # claims it at its next reconcile (the resync's, right after a's) and acts from then on
    a_role = autoscaler("APA", "10", 3, 4, metric="num_requests_waiting", name="a", role="worker")
    r = stormsim.run(
        data(
            [A],
            [
                {"at_s": 20, "kind": "apply", "autoscalers": [B]},
                {"at_s": 30, "kind": "apply", "autoscalers": [a_role]},
            ],
        )
    )
    df = r.frames["autoscaling"]
    b = df[df.autoscaler == "b"]
    freed = float(b[b.t_s > 30].t_s.min())
    assert 30 < freed < 31
    ev = conflict_events(r)
    assert list(zip(ev.t_s, ev.name, ev.detail.str.split(":").str[0], strict=True)) == [
        (20.0, "default/b", "MultiPodAutoscalerConflict"),
        (freed, "default/b", "MultiPodAutoscalerConflict removed"),
    ]
    assert ev.detail.iloc[1] == f"MultiPodAutoscalerConflict removed: it controls {KEY}"
    assert (b[b.t_s < freed].reason == "MultiPodAutoscalerConflict").all()
    assert not (b[b.t_s >= freed].reason == "MultiPodAutoscalerConflict").any()
    assert (freed, "b: /scale replicas=1") in scale_writes(r)
