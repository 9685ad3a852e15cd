"""Which pods a PodAutoscaler scrapes during a rolling update: AIBrix lists pods by label with
no filter on phase, readiness or deletion, so the surge RoleSets' pods count once they have an
IP (0 and the retries' cost while their engine loads, under ``aibrix-e3e10f9e``) and the old
RoleSets' pods count while they terminate (their engines answer through the grace period),
until they are gone. A whole run with constant durations and constant per-pod values: old pods
report 10, new ones 100."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from stormsim.control.objects import Pod
from stormsim.metrics.frames import autoscaling_frame, build_frames
from stormsim.sim.world import World
from tests.autoscaler_world.helpers import FAST_TIMING, autoscaler, scenario, service

# created -> IP after 6 s, engine listening (Ready) 20 s later; 30 s of grace when deleted
TIMING = FAST_TIMING | {"scheduling_s": 6.0, "model_load_s": 20.0, "termination_grace_s": 30.0}


def value(pod: Pod | None, key: str) -> float:
    assert pod is not None
    return 100.0 if "vllm:2" in pod.images else 10.0


def run(profile: str) -> tuple[World, pd.DataFrame, dict[float, list[tuple[str, bool, bool]]]]:
    # replicas pinned at 2 (min = max): every reconcile reads the metrics and never scales
    pa = autoscaler("APA", "10", 2, 2, metric="num_requests_waiting")
    svc = service(2, updateStrategy={"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0})
    sc = scenario(
        svc,
        [pa],
        until_s=125,
        profile=profile,
        timing=TIMING,
        events=[{"at_s": 5, "kind": "set_image", "image": "vllm:2"}],
    )
    world = World(sc, 1, pod_value=value)
    rec: Any = world.controllers["podautoscaler-controller"].reconcile
    seen: dict[float, list[tuple[str, bool, bool]]] = {}
    inputs = rec._inputs

    def spy(*args: Any) -> Any:
        out = inputs(*args)
        seen[world.env.now] = [(p.name, p.has_ip, p.listening) for p in out]
        return out

    rec._inputs = spy
    world.run(sc.until_s)
    return world, autoscaling_frame(world.recorder), seen


@pytest.fixture(scope="module")
def faithful() -> tuple[World, pd.DataFrame, dict[float, list[tuple[str, bool, bool]]]]:
    return run("aibrix-e3e10f9e")


def test_the_rollout_timeline(faithful: Any) -> None:
    world, _, _ = faithful
    pods = build_frames(world.recorder)["pods"]
    times = [
        (r.created_at_s, r.scheduled_at_s, r.ready_at_s, r.deleted_at_s, r.gone_at_s)
        for r in pods.itertuples()
    ]
    nan = float("nan")
    # two old pods; surge pod 1 at 5 s (IP 11 s, Ready 31 s) replaces old 1 (deleted 31 s,
    # gone 61 s); surge pod 2 at 61 s (IP 67 s, Ready 87 s) replaces old 2 (87 s, gone 117 s)
    assert str(times) == str(
        [
            (0.0, 0.0, 0.0, 31.0, 61.0),
            (0.0, 0.0, 0.0, 87.0, 117.0),
            (5.0, 11.0, 31.0, nan, nan),
            (61.0, 67.0, 87.0, nan, nan),
        ]
    )


def test_scrapes_read_surge_pods_with_an_ip_and_terminating_pods_until_gone(
    faithful: Any,
) -> None:
    world, df, seen = faithful
    old1, old2, new1, new2 = list(build_frames(world.recorder)["pods"].pod)
    on, loading, no_ip = (True, True), (True, False), (False, False)
    expect = {
        0.0: [(old1, *on), (old2, *on)],
        10.0: [(old1, *on), (old2, *on), (new1, *no_ip)],  # Pending: listed, excluded
        20.0: [(old1, *on), (old2, *on), (new1, *loading)],  # IP, engine loading
        30.0: [(old1, *on), (old2, *on), (new1, *loading)],
        40.0: [(old1, *on), (old2, *on), (new1, *on)],  # old1 terminating: still answers
        60.0: [(old1, *on), (old2, *on), (new1, *on)],  # 1 s before old1 is gone
        70.0: [(old2, *on), (new1, *on), (new2, *loading)],
        90.0: [(old2, *on), (new1, *on), (new2, *on)],  # old2 terminating
        110.0: [(old2, *on), (new1, *on), (new2, *on)],
        120.0: [(new1, *on), (new2, *on)],
    }
    for t, pods in expect.items():
        assert sorted(seen[t]) == sorted(pods), t
    # the recorded means: a loading engine reads 0 and costs its 7 s of retries
    got = {float(r.t_s): (round(r.value, 6), round(r.scrape_s, 6)) for r in df.itertuples()}
    three = round(110 / 3, 6)
    assert got == {
        0.0: (10.0, 0.004),
        10.0: (10.0, 0.004),
        20.0: (round(20 / 3, 6), 7.004),
        30.0: (round(20 / 3, 6), 7.004),
        40.0: (40.0, 0.006),
        50.0: (40.0, 0.006),
        60.0: (40.0, 0.006),
        70.0: (three, 7.004),
        80.0: (three, 7.004),
        90.0: (70.0, 0.006),
        100.0: (70.0, 0.006),
        110.0: (70.0, 0.006),
        120.0: (100.0, 0.004),
    }
    assert (df.current == 2).all() and not df.written.any()


def test_fixed_math_excludes_the_loading_surge_pod() -> None:
    # same pods listed; a failed scrape is left out of the mean instead of reading 0
    _, df, seen = run("fixed-math")
    got = {float(r.t_s): round(r.value, 6) for r in df.itertuples()}
    assert len(seen[20.0]) == 3 and got[20.0] == 10.0
    assert len(seen[70.0]) == 3 and got[70.0] == 55.0
    assert got[40.0] == 40.0 and got[90.0] == 70.0  # terminating pods still count
