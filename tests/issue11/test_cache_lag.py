"""Informer cache lag (``controller.cache_lag_s``): over-creation of generated-name objects,
none of deterministic-name ones, none without lag. Counts from the pods/rolesets frames,
checked against traces worked by hand (constant durations, reconcile latency 0.1 s).

AIBrix's controllers list from informer caches and keep no "expectations" of their own
in-flight creates (``pkg/controller/roleset`` stateless syncer ``Scale``,
``pkg/controller/stormservice`` ``scaling``), so a pass that runs before the cache has seen
the controller's earlier creates makes them again; a later pass sees the surplus and trims it.
"""

from __future__ import annotations

from typing import Any

import pytest

import stormsim


def _pods_run(make_manifest: Any, make_scenario: Any, stateful: bool, lag: float) -> Any:
    m = make_manifest(replicas=1, roles=(("worker", 40, 1),))
    m["spec"]["template"]["spec"]["roles"][0]["stateful"] = stateful
    data = make_scenario(m, nodes=6, controller={"cache_lag_s": lag, "api_call_s": 0.2})
    return stormsim.run(stormsim.load_scenario(data))


def test_stateless_pods_over_created_then_trimmed(make_manifest, make_scenario) -> None:
    """40 stateless pods, api_call_s 0.2, lag 1 s. The RoleSet's first pass (at T) creates
    16 pods at T and 24 at T + 0.2. The first create's watch event reaches the controller at
    T + 1; its pass at T + 1.1 reads the store as at T + 0.1: 16 pods, so it creates 24 more
    (16 at T + 1.1, 8 at T + 1.3). Later passes see 64 and delete 24."""
    res = _pods_run(make_manifest, make_scenario, stateful=False, lag=1.0)
    pods = res.frames["pods"]
    t0 = float(pods["created_at_s"].min())
    by_time = pods.groupby(pods["created_at_s"].sub(t0).round(6)).size().to_dict()
    assert by_time == {0.0: 16, 0.2: 24, 1.1: 16, 1.3: 8}
    assert len(pods) == 64
    assert int(pods["deleted_at_s"].notna().sum()) == 24
    assert int(pods["gone_at_s"].isna().sum()) == 40


@pytest.mark.parametrize("stateful", [False, True])
def test_no_over_creation_without_lag(make_manifest, make_scenario, stateful: bool) -> None:
    pods = _pods_run(make_manifest, make_scenario, stateful, lag=0.0).frames["pods"]
    assert len(pods) == 40
    assert int(pods["deleted_at_s"].notna().sum()) == 0


def test_stateful_duplicates_rejected(make_manifest, make_scenario) -> None:
    """Same trace, stateful role: the repeated creates carry the slot names of pods that
    exist, the API rejects them and nothing is over-created."""
    pods = _pods_run(make_manifest, make_scenario, stateful=True, lag=1.0).frames["pods"]
    assert len(pods) == 40
    assert int(pods["deleted_at_s"].notna().sum()) == 0


def _scale_run(make_manifest: Any, make_scenario: Any, lag: float) -> Any:
    data = make_scenario(
        make_manifest(replicas=1, roles=(("worker", 4, 1),)),
        nodes=100,
        events=[{"at_s": 10, "kind": "scale", "replicas": 100}],
        controller={"cache_lag_s": lag},
    )
    data["service"]["initial_state"] = "ready"
    return stormsim.run(stormsim.load_scenario(data))


def test_rolesets_over_created_on_scale_out(make_manifest, make_scenario) -> None:
    """Scale 1 -> 100 at t = 10 with lag 0.5 s (api_call_s 20 ms). The scale reaches the
    StormService controller at 10.5; its pass at 10.6 creates 99 RoleSets in batches 1, 2, 4,
    8, 16, 32, 36 at 10.60 ... 10.72. The first create's event arrives at 11.1; that pass
    (11.2) reads the store as at 10.7: 1 + 63 RoleSets, so it creates the 36 of the last batch
    again. Later passes delete the surplus: 100 remain."""
    rs = _scale_run(make_manifest, make_scenario, 0.5).frames["rolesets"]
    new = rs[rs["created_at_s"] >= 10]
    assert len(new) == 99 + 36
    assert int(rs["deleted_at_s"].notna().sum()) == 36
    assert int(rs["deleted_at_s"].isna().sum()) == 100
    first = float(new["created_at_s"].min())
    assert first == pytest.approx(10.6)
    again = new[new["created_at_s"] > first + 0.5]
    assert len(again) == 36


def test_rolesets_exact_without_lag(make_manifest, make_scenario) -> None:
    rs = _scale_run(make_manifest, make_scenario, 0.0).frames["rolesets"]
    assert len(rs[rs["created_at_s"] >= 10]) == 99
    assert int(rs["deleted_at_s"].notna().sum()) == 0
