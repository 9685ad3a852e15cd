"""Fuzz: mutated scenarios and manifests give a result or an input error with a path (never
another exception); a scenario that validates runs without an input error; the outputs of
every run keep the invariants (one pods row per pod ever created, times ordered, no node holds
more GPUs than it has)."""

from __future__ import annotations

import copy
import math
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stormsim
from stormsim.errors import InputError
from stormsim.runner import check
from tests.conftest import make_manifest, make_scenario

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=8), st.just("25%"), st.just("-50%"), st.just(" 5%"), st.just("1Gi"),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _base() -> dict[str, Any]:
    m = make_manifest(replicas=2, roles=(("prefill", 1, 1), ("decode", 2, 1)))
    return make_scenario(
        m, nodes=2, until_s=120,
        events=[{"at_s": 10, "kind": "set_image", "image": "v:2"},
                {"at_s": 40, "kind": "scale", "replicas": 3}],
    )  # fmt: skip


BASE = _base()
PATHS = _paths(BASE)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = data
        try:
            for k in path[:-1]:
                parent = parent[k]
            if draw(st.booleans()) or not isinstance(parent, dict):
                parent[path[-1]] = draw(JUNK)
            else:
                del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return data


def check_invariants(res: stormsim.RunResult) -> None:
    pods = res.frames["pods"]
    assert pods["uid"].is_unique
    assert res.summary["n_pods_created"] == len(pods)
    for a, b in [("created_at_s", "scheduled_at_s"), ("scheduled_at_s", "ready_at_s"),
                 ("created_at_s", "deleted_at_s"), ("created_at_s", "gone_at_s")]:  # fmt: skip
        both = pods.dropna(subset=[a, b])
        assert (both[a] <= both[b] + 1e-9).all(), (a, b)
    cap = {
        f"{p.name}-{k}": p.gpus_per_node
        for p in res.scenario.cluster.node_pools
        for k in range(p.count)
    }
    bound = pods.dropna(subset=["node", "scheduled_at_s"])
    for node, group in bound.groupby("node"):
        starts = group["scheduled_at_s"].to_numpy()
        ends = group["gone_at_s"].fillna(math.inf).to_numpy()
        for t in starts:
            live = group[(starts <= t) & (t < ends)]
            assert int(live["gpus"].sum()) <= cap[str(node)], (node, t)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_scenarios_validate_or_fail_cleanly(data: dict[str, Any]) -> None:
    try:
        sc = check(stormsim.load_scenario(copy.deepcopy(data)))
    except InputError as e:
        assert e.problems and all(str(p) for p in e.problems)
        assert all(p.path or p.file for p in e.problems), e.problems
        return
    res = stormsim.run(sc, until_s=min(sc.until_s or 120, 300))  # no InputError after validate
    check_invariants(res)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    replicas=st.integers(1, 4),
    prefill=st.integers(1, 3),
    decode=st.integers(1, 3),
    surge=st.sampled_from([0, 1, 2, "25%", "50%"]),
    unavailable=st.sampled_from([0, 1, "25%"]),
    stateful=st.booleans(),
    fail=st.booleans(),
)
def test_invariants_on_random_valid_scenarios(
    replicas: int,
    prefill: int,
    decode: int,
    surge: Any,
    unavailable: Any,
    stateful: bool,
    fail: bool,
) -> None:
    m = make_manifest(replicas=replicas, roles=(("prefill", prefill, 1), ("decode", decode, 2)),
                      max_surge=surge, max_unavailable=unavailable)  # fmt: skip
    m["spec"]["template"]["spec"]["roles"][0]["stateful"] = stateful
    events: list[dict[str, Any]] = [{"at_s": 10, "kind": "set_image", "image": "v:2"}]
    if fail:
        events.append({"at_s": 15, "kind": "fail_node", "node": "gpu-0", "down_s": 20})
    res = stormsim.run(
        stormsim.load_scenario(make_scenario(m, nodes=3, events=events, until_s=200))
    )
    check_invariants(res)
    pods = res.frames["pods"]
    assert isinstance(pods, pd.DataFrame) and len(pods) >= replicas * (prefill + decode)
