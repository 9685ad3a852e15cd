"""The node autoscaler's pure decisions (stormsim.control.nodescale): bin-packing estimate,
expanders, scale-down and consolidation rules, and bounds as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stormsim.control.nodescale import (
    GPU,
    CaScaleDown,
    CaState,
    NodeView,
    PodView,
    PoolView,
    ca_scale_down,
    consolidate,
    expand,
    options,
    plan_provision,
    plan_scale_up,
    pool_counts,
    units,
)

CAP8 = {GPU: 8.0}
POOL = PoolView("gpu", CAP8, 1, 4)


def pod(name: str, gpus: float, gang: str | None = None) -> PodView:
    return PodView(name, {GPU: gpus}, gang)


def node(name: str, used: float, pods: tuple[PodView, ...] = (), **kw: object) -> NodeView:
    args: dict[str, object] = {"state": "ready", "since_s": 0.0, "pool": "gpu"}
    args.update(kw)
    return NodeView(
        name,
        args["pool"],  # type: ignore[arg-type]
        args["state"],  # type: ignore[arg-type]
        CAP8,
        {GPU: 8.0 - used},
        pods,
        args["since_s"],  # type: ignore[arg-type]
    )


def full(name: str) -> NodeView:
    return node(name, 8.0, (pod(f"{name}-a", 4), pod(f"{name}-b", 4)))


def test_first_fit_decreasing_counts_new_nodes() -> None:
    # 3 x 4 GPUs and 2 x 2 GPUs: 16 GPUs -> two 8-GPU nodes
    pending = [pod("a", 4), pod("b", 2), pod("c", 4), pod("d", 2), pod("e", 4)]
    up = plan_scale_up(pending, [POOL], [full("n0")], "least-waste", lambda n: 0)
    assert up is not None and (up.pool, up.nodes) == ("gpu", 2)
    assert sorted(up.pods) == ["a", "b", "c", "d", "e"]


def test_upcoming_and_free_room_cover_pods_first() -> None:
    # a launching node offers its whole capacity: no second scale-up for the same pods
    launching = node("n1", 0.0, state="launching")
    assert (
        plan_scale_up(
            [pod("a", 4), pod("b", 4)], [POOL], [full("n0"), launching], "random", lambda n: 0
        )
        is None
    )
    # free room on a Ready node covers a 4-GPU pod, not an 8-GPU one
    half = node("n0", 4.0, (pod("x", 4),))
    assert plan_scale_up([pod("a", 4)], [POOL], [half], "random", lambda n: 0) is None
    up = plan_scale_up([pod("a", 8)], [POOL], [half], "random", lambda n: 0)
    assert up is not None and up.nodes == 1


def test_max_nodes_caps_the_scale_up_and_a_gang_is_all_or_nothing() -> None:
    pool = PoolView("gpu", CAP8, 0, 2)
    pending = [pod(f"p{i}", 8) for i in range(4)]
    up = plan_scale_up(pending, [pool], [full("n0")], "random", lambda n: 0)
    assert up is not None and up.nodes == 1  # 2 - 1 existing
    gang = [pod("g0", 8, "g"), pod("g1", 8, "g")]
    assert plan_scale_up(gang, [pool], [full("n0")], "random", lambda n: 0) is None
    assert [len(u) for u in units([pod("s", 1), *gang])] == [2, 1]


def test_pools_at_max_in_backoff_or_fixed_are_not_options() -> None:
    fixed = PoolView("fixed", CAP8, 1, 1, autoscaled=False)
    assert options([pod("a", 8)], [fixed, POOL], [full("n0")], frozenset({"gpu"})) == []


def test_expanders() -> None:
    big = PoolView("big", {GPU: 8.0}, 0, 10)
    small = PoolView("small", {GPU: 4.0}, 0, 10)
    pending = [pod("a", 4)]
    opts = options(pending, [big, small], [])
    assert [(o.pool, o.nodes, o.waste) for o in opts] == [("big", 1, 0.5), ("small", 1, 0.0)]
    assert expand(opts, "least-waste", lambda n: 0).pool == "small"
    assert expand(opts, "priority", lambda n: 0).pool == "big"
    assert expand(opts, "most-pods", lambda n: 0).pool == "big"  # tie: pool order
    assert expand(opts, "random", lambda n: n - 1).pool == "small"
    with pytest.raises(ValueError, match="unknown expander"):
        expand(opts, "cheapest", lambda n: 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no scale-up option"):
        expand([], "random", lambda n: 0)


def test_karpenter_provisions_the_whole_batch_over_pools() -> None:
    small = PoolView("small", {GPU: 4.0}, 0, 1)
    big = PoolView("big", CAP8, 0, 5)
    pending = [pod("a", 4), pod("b", 4), pod("c", 4)]
    ups = plan_provision(pending, [small, big], [])
    # least waste first: small (one 4-GPU node, no waste; then at its max), big takes the
    # two others on one node
    assert [(u.pool, u.nodes, u.pods) for u in ups] == [
        ("small", 1, ("a",)),
        ("big", 1, ("b", "c")),
    ]
    assert sorted(p for u in ups for p in u.pods) == ["a", "b", "c"]


CFG = CaScaleDown(unneeded_time_s=600, delay_after_add_s=600, delay_after_delete_s=10)


def test_ca_scale_down_waits_unneeded_time_and_delay_after_add() -> None:
    nodes = [full("n0"), node("n1", 0.0)]
    state = CaState(last_scale_up_s=0.0)
    assert ca_scale_down(state, nodes, [POOL], 100.0, CFG) == []
    assert state.unneeded_since == {"n1": 100.0}
    assert ca_scale_down(state, nodes, [POOL], 699.0, CFG) == []
    assert ca_scale_down(state, nodes, [POOL], 700.0, CFG) == ["n1"]
    # within the delay after a scale-up: nothing, even if unneeded long enough
    state = CaState(last_scale_up_s=650.0, unneeded_since={"n1": 0.0})
    assert ca_scale_down(state, nodes, [POOL], 1249.0, CFG) == []
    assert ca_scale_down(state, nodes, [POOL], 1250.0, CFG) == ["n1"]


def test_ca_scale_down_rules() -> None:
    # a node becomes needed again: its clock restarts
    state = CaState(unneeded_since={"n1": 0.0})
    assert ca_scale_down(state, [full("n0"), full("n1")], [POOL], 10.0, CFG) == []
    assert state.unneeded_since == {}
    # half used (0.5 is not below the threshold 0.5): needed
    half = node("n1", 4.0, (pod("x", 4),))
    assert ca_scale_down(CaState(), [node("n0", 0.0), half], [POOL], 0.0, CFG) == []
    # a quarter used and its pod fits on n0: unneeded; n0 (empty) also, but min_nodes = 1
    quarter = node("n1", 2.0, (pod("x", 2),))
    state = CaState(unneeded_since={"n0": 0.0, "n1": 0.0})
    got = ca_scale_down(state, [node("n0", 0.0), quarter], [POOL], 600.0, CFG)
    assert got == ["n0"]  # empty ones first; then the pool is at its minimum
    # pods that fit nowhere else keep the node
    stuck = node("n1", 2.0, (pod("x", 2),))
    state = CaState(unneeded_since={"n1": 0.0})
    pool0 = PoolView("gpu", CAP8, 0, 4)
    assert ca_scale_down(state, [full("n0"), stuck], [pool0], 600.0, CFG) == []
    # the delay after a delete holds the next removal
    state = CaState(unneeded_since={"n1": 0.0, "n2": 0.0}, last_delete_s=595.0)
    assert (
        ca_scale_down(state, [full("n0"), node("n1", 0), node("n2", 0)], [pool0], 600.0, CFG) == []
    )
    # empty nodes go in bulk, up to max_empty_bulk_delete
    cfg2 = CaScaleDown(0, 0, 0, 0.5, 2)
    nodes = [node(f"n{i}", 0.0) for i in range(4)]
    assert ca_scale_down(CaState(), nodes, [pool0], 0.0, cfg2) == ["n0", "n1"]
    # fixed pools and nodes not Ready are never removed
    fixed = PoolView("gpu", CAP8, 0, 4, autoscaled=False)
    assert ca_scale_down(CaState(), nodes, [fixed], 0.0, cfg2) == []
    launching = [node("n0", 0.0, state="launching")]
    assert ca_scale_down(CaState(), launching, [pool0], 0.0, cfg2) == []


def test_karpenter_consolidation() -> None:
    pool0 = PoolView("gpu", CAP8, 0, 20)
    nodes = [full(f"f{i}") for i in range(8)] + [node("e0", 0.0, since_s=50.0), node("e1", 0.0)]
    # WhenEmpty after 60 s: e1 (empty since 0) at t = 60; budget 10% of 10 nodes = 1
    assert consolidate(nodes, [pool0], 60.0, 60.0, False, 0.1) == ["e1"]
    assert consolidate(nodes, [pool0], 110.0, 60.0, False, 0.5) == ["e0", "e1"]
    assert consolidate(nodes, [pool0], 59.0, 60.0, False, 1.0) == []
    # underutilized: a node whose pods fit elsewhere goes, one at a time
    light = [node("a", 2.0, (pod("x", 2),)), node("b", 4.0, (pod("y", 4),))]
    assert consolidate(light, [pool0], 0.0, 0.0, True, 1.0) == ["a"]
    assert consolidate(light, [pool0], 0.0, 0.0, False, 1.0) == []
    # the budget counts nodes already draining
    draining = [*nodes, node("d", 0.0, state="draining")]
    assert consolidate(draining, [pool0], 200.0, 60.0, False, 0.1) == ["e0"]  # ceil(1.1)=2, 1 left
    assert math.ceil(11 * 0.1) == 2


# ----------------------------------------------------------------------------- properties
pods_st = st.lists(st.sampled_from([1.0, 2.0, 4.0, 8.0]), min_size=0, max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    gpus=pods_st,
    used=st.lists(st.sampled_from([0.0, 4.0, 8.0]), min_size=0, max_size=8),
    launching=st.integers(0, 3),
    lo=st.integers(0, 4),
    span=st.integers(0, 6),
    karpenter=st.booleans(),
)
def test_scale_up_never_exceeds_max(
    gpus: list[float], used: list[float], launching: int, lo: int, span: int, karpenter: bool
) -> None:
    hi = max(1, lo + span, len(used) + launching)
    pool = PoolView("gpu", CAP8, lo, hi)
    nodes = [node(f"n{i}", u, (pod(f"x{i}", u),) if u else ()) for i, u in enumerate(used)]
    nodes += [node(f"l{i}", 0.0, state="launching") for i in range(launching)]
    pending = [pod(f"p{i}", g) for i, g in enumerate(gpus)]
    ups = (
        plan_provision(pending, [pool], nodes)
        if karpenter
        else [u for u in [plan_scale_up(pending, [pool], nodes, "random", lambda n: 0)] if u]
    )
    added = sum(u.nodes for u in ups)
    assert pool_counts(nodes).get("gpu", 0) + added <= hi
    assert all(u.nodes >= 1 for u in ups)
    # every pod counted once; the new nodes hold them (at most 8 GPUs per node)
    names = [p for u in ups for p in u.pods]
    assert len(names) == len(set(names))
    placed = sum(g for i, g in enumerate(gpus) if f"p{i}" in set(names))
    assert placed <= 8 * added + sum(8 - u for u in used) + 8 * launching


@settings(max_examples=200, deadline=None)
@given(
    used=st.lists(st.sampled_from([0.0, 1.0, 2.0, 4.0, 8.0]), min_size=1, max_size=10),
    lo=st.integers(0, 10),
    now=st.floats(0, 5000),
    karpenter=st.booleans(),
)
def test_scale_down_never_below_min(
    used: list[float], lo: int, now: float, karpenter: bool
) -> None:
    lo = min(lo, len(used))
    pool = PoolView("gpu", CAP8, lo, 20)
    nodes = [node(f"n{i}", u, (pod(f"x{i}", u),) if u else ()) for i, u in enumerate(used)]
    if karpenter:
        gone = consolidate(nodes, [pool], now, 0.0, True, 1.0)
    else:
        cfg = CaScaleDown(0.0, 0.0, 0.0, 0.5, 10)
        gone = ca_scale_down(CaState(), nodes, [pool], now, cfg)
    assert len(nodes) - len(gone) >= lo
    assert len(set(gone)) == len(gone)
    # busy nodes only one at a time, and never together with empty ones
    busy = [n for n in nodes if n.name in gone and n.pods]
    assert len(busy) <= 1 and (not busy or len(gone) == 1)
