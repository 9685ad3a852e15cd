"""The hand-worked PodAutoscaler traces W1-W9 as whole runs: a ready replica-mode (or pooled)
StormService, the StormService/RoleSet/pod controllers, scheduler and kubelet, and the
PodAutoscaler controller, with constant inputs (every listening selected pod reports
``total / n``; reconciles at t = 0, 10, 20, ... s without follow-ups; new pods listen within
a tick). Every value is the trace's exact one."""

from __future__ import annotations

import pytest

import stormsim.sim.autoscaling as autoscaling_mod
from tests.autoscaler_world.helpers import (
    autoscaler,
    decisions,
    run_constant,
    scenario,
    service,
)


def changes(df):  # type: ignore[no-untyped-def]
    return [(t, c, d) for t, c, d in decisions(df) if c != d]


def test_w1_apa_oscillates_4_8() -> None:
    sc = scenario(service(2), [autoscaler("APA", "0.5", 1, 8)], until_s=580)
    _, df = run_constant(sc, 3.0)
    assert changes(df) == [
        (0.0, 2, 4),
        (10.0, 4, 8),
        (190.0, 8, 4),  # min over 300 s reaches the t = 0 recommendation
        (280.0, 4, 5),
        (290.0, 5, 6),
        (300.0, 6, 7),
        (310.0, 7, 8),
        (450.0, 8, 4),
        (540.0, 4, 5),
        (550.0, 5, 6),
        (560.0, 6, 7),
        (570.0, 7, 8),
    ]
    first = df.iloc[:2]
    assert first.value.tolist() == [1.5, 0.75]
    assert first.stable.tolist() == [1.5, 1.125]
    row190 = df[df.t_s == 190.0].iloc[0]
    assert row190.recommendation == 7
    assert row190.stable == pytest.approx(0.39473684210526316)


def test_w2_kpa_settles_at_3_with_dips() -> None:
    sc = scenario(service(2), [autoscaler("KPA", "0.5", 1, 8)], until_s=610)
    _, df = run_constant(sc, 3.0)
    assert changes(df) == [
        (0.0, 2, 3),
        (190.0, 3, 2),
        (200.0, 2, 3),
        (390.0, 3, 2),
        (400.0, 2, 3),
        (590.0, 3, 2),
        (600.0, 2, 3),
    ]
    assert df[df.t_s == 190.0].stable.iloc[0] == 1.0


def test_w3_kpa_queue_settles_near_sqrt() -> None:
    sc = scenario(
        service(1),
        [autoscaler("KPA", "10", 1, 20, metric="num_requests_waiting")],
        until_s=290,
    )
    _, df = run_constant(sc, 100.0)
    assert changes(df) == [
        (0.0, 1, 2),
        (10.0, 2, 4),
        (20.0, 4, 6),
        (30.0, 6, 2),
        (40.0, 2, 4),
        (50.0, 4, 5),
        (70.0, 5, 2),
        (80.0, 2, 4),
        (190.0, 4, 2),
        (200.0, 2, 3),
        (260.0, 3, 4),
        (270.0, 4, 2),
        (280.0, 2, 4),
    ]


def test_w4_apa_step_drops_to_1() -> None:
    sc = scenario(service(1), [autoscaler("APA", "0.5", 1, 8)], until_s=320)
    _, df = run_constant(sc, lambda t: 0.5 if t < 60 else 2.0)
    assert changes(df) == [
        (60.0, 1, 2),
        (70.0, 2, 3),
        (80.0, 3, 5),
        (90.0, 5, 8),
        (230.0, 8, 1),
        (260.0, 1, 2),
        (270.0, 2, 3),
        (280.0, 3, 4),
        (290.0, 4, 5),
        (300.0, 5, 7),
        (310.0, 7, 8),
    ]


def _w5(profile: str):  # type: ignore[no-untyped-def]
    pa = autoscaler("APA", "10", 1, 10, metric="num_requests_waiting", role="prefill")
    sc = scenario(
        service(3, {"prefill": 1, "decode": 1}, updateStrategy={"type": "RollingUpdate"}),
        [],
        until_s=200,
        nodes=8,
        profile=profile,
        events=[{"kind": "apply", "at_s": 5.0, "autoscalers": [pa]}],
    )
    return run_constant(sc, 0.0, value=lambda p, d: 12.0)


def test_w5_issue_2780_multiplies_by_roleset_count() -> None:
    world, df = _w5("aibrix-e3e10f9e")
    assert changes(df)[:2] == [(5.0, 3, 4), (20.0, 12, 10)]
    # at t = 10 the rollout's new pods have IPs but no engine yet: 7 s each, deadline
    mid = df[df.t_s == 10.0].iloc[0]
    assert mid.scrape_s == 10.0 and not mid.written
    assert df.current.iloc[-1] == 30 and df.desired.iloc[-1] == 10
    assert all(df[df.t_s >= 30.0].reason == "current replicas exceed maximum")
    prefill = [p for p in world.store.pods.values() if p.role == "prefill" and not p.deleting]
    assert len(prefill) == 30
    assert world.store.stormservices["svc"].spec.template.spec.role("prefill").replicas == 10


def test_w5_fixed_math_divides_over_rolesets() -> None:
    world, df = _w5("fixed-math")
    prefill = [p for p in world.store.pods.values() if p.role == "prefill" and not p.deleting]
    # every write is ceil(desired / 3) per RoleSet: never above max 10 in total plus rounding
    assert len(prefill) <= 12
    assert df.current.max() <= 12


def test_w7_bounds() -> None:
    _, df = run_constant(scenario(service(12), [autoscaler("APA", "0.5", 1, 10)], until_s=5), 3.0)
    assert decisions(df)[0] == (0.0, 12, 10)
    assert df.reason.iloc[0] == "current replicas exceed maximum"
    _, df = run_constant(scenario(service(0), [autoscaler("APA", "0.5", 1, 10)], until_s=60), 3.0)
    assert set(df.desired) == {0} and set(df.current) == {0}
    assert set(df.reason) == {"scaling disabled: current replicas is 0"}


def test_w7_schedule_min_warms_up_from_zero() -> None:
    pa = autoscaler("APA", "0.5", 1, 10)
    pa["spec"]["schedules"] = [
        {"name": "warm", "startTime": "00:00", "endTime": "00:05", "minReplicas": 4}
    ]
    _, df = run_constant(scenario(service(0), [pa], until_s=400), 3.0)
    assert decisions(df)[0] == (0.0, 0, 4)
    assert df.reason.iloc[0] == "current replicas below minimum"
    assert df[df.t_s < 300.0].min_replicas.unique().tolist() == [4]
    assert df[df.t_s >= 300.0].min_replicas.unique().tolist() == [1]
    # normal scaling resumes after the window (below target: down to 6 from 8)
    assert (df[df.t_s >= 300.0].desired < 8).any()


def _w8(follow_up: bool, until: float):  # type: ignore[no-untyped-def]
    sc = scenario(service(2), [autoscaler("APA", "0.5", 1, 16)], until_s=until, follow_up=follow_up)
    # new pods get no IP for ~120 s (they listen from t ~ 120 on)
    sc = sc.model_copy(update={"timing": sc.timing.model_copy(update={"scheduling_s": 118.5})})
    return run_constant(sc, 3.0)


def test_w8_pending_pods_cascade() -> None:
    _, df = _w8(False, 630)
    assert changes(df) == [
        (0.0, 2, 4),
        (10.0, 4, 8),
        (20.0, 8, 16),  # the mean stays 1.5: only the two old pods report
        (270.0, 16, 4),
        (290.0, 4, 3),
        (300.0, 3, 2),
        (340.0, 2, 3),
        (350.0, 3, 4),
        (360.0, 4, 6),
        (370.0, 6, 10),
        (380.0, 10, 16),
        (620.0, 16, 2),
    ]
    assert set(df[df.t_s <= 20.0].value) == {1.5}


def test_w8_follow_up_reconciles_compound_within_a_second() -> None:
    _, df = _w8(True, 5)
    assert [(c, d) for _, c, d in changes(df)] == [(2, 4), (4, 8), (8, 16)]
    assert df.t_s.max() < 1.0


@pytest.mark.parametrize("starters_first", [False, True])
def test_w9_scrape_stall(monkeypatch: pytest.MonkeyPatch, starters_first: bool) -> None:
    """Two of four pods have an IP but refuse connections until t = 300 s: each costs 7 s,
    the 10 s deadline passes, the later pods read 0 and the write fails."""
    sc = scenario(service(4), [autoscaler("APA", "0.5", 1, 8)], until_s=320)
    real = autoscaling_mod.listening
    names: list[str] = []

    def listening(pod):  # type: ignore[no-untyped-def]
        if not names:
            ordered = world_pods()  # the scrape order (the cache list order)
            names.extend(ordered[:2] if starters_first else ordered[2:])
        if pod.name in names and clock() < 300.0:
            return False
        return real(pod)

    holder: dict[str, object] = {}

    def world_pods():  # type: ignore[no-untyped-def]
        return list(holder["w"].store.pods)  # type: ignore[attr-defined]

    def clock() -> float:
        return float(holder["w"].env.now)  # type: ignore[attr-defined]

    monkeypatch.setattr(autoscaling_mod, "listening", listening)
    from stormsim.sim import world as world_mod

    orig = world_mod.World.__init__

    def init(self, *a, **k):  # type: ignore[no-untyped-def]
        orig(self, *a, **k)
        holder["w"] = self

    monkeypatch.setattr(world_mod.World, "__init__", init)
    _, df = run_constant(sc, 0.0, value=lambda p, d: 0.9)
    first = df.iloc[0]
    assert first.scrape_s == 10.0
    assert not first.written and first.reason.startswith("FailedRescale")
    if starters_first:
        assert first.value == 0.0
        assert first.recommendation == 2  # max(ceil(0), floor(4/2)) enters the history
    else:
        assert first.value == 0.45
        assert first.recommendation == 4
    stalled = df[df.t_s < 300.0]
    assert not stalled.written.any() and set(stalled.current) == {4}
    after = df[df.t_s >= 300.0]
    if starters_first:
        # the first successful reconcile with rec < 4 takes the min over 300 s: 2
        assert after.iloc[0].desired == 2 and after.iloc[0].written


def test_schedule_transition_requeues_without_resync() -> None:
    """A reconcile requeues at the next schedule start or end (the requeue is never elided as
    idle): with the resync pushed out of the run, the only reconciles are t = 0 and the end of
    the window at 00:05."""
    pa = autoscaler("APA", "0.5", 1, 10)
    pa["spec"]["schedules"] = [
        {"name": "warm", "startTime": "00:00", "endTime": "00:05", "minReplicas": 4}
    ]
    sc = scenario(service(0), [pa], until_s=400)
    sc = sc.model_copy(
        update={"autoscaling": sc.autoscaling.model_copy(update={"resync_period_s": 1000.0})}
    )
    _, df = run_constant(sc, 3.0)
    assert decisions(df) == [(0.0, 0, 4), (300.0, 4, 6)]
    assert df.min_replicas.tolist() == [4, 1]
