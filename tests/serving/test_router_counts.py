"""The ``least_request`` router reads per-group lists of outstanding counts that the engines
keep up to date; they must equal the engines' own counts whenever the router reads them,
through arrivals, completions, retries, rollouts, crashes and lost nodes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_helpers import role, run_world, scenario

from stormsim.sim.serving.gateway import Gateway, Group


def _check(g: Group) -> None:
    assert g.pout == [e.outstanding for e in g.prefill]
    assert g.dout == [e.outstanding for e in g.decode]
    for lst, outs in ((g.prefill, g.pout), (g.decode, g.dout)):
        for i, e in enumerate(lst):
            assert e.outs is outs and e.slot == i


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.floats(5, 40),
    replicas=st.integers(1, 3),
    prefill=st.integers(1, 3),
    decode=st.integers(1, 3),
    retries=st.integers(0, 2),
    seqs=st.integers(1, 16),
    fault=st.sampled_from(["crash_pod", "fail_node", None]),
    seed=st.integers(0, 10_000),
)
def test_count_lists_equal_the_engines_counts(
    rate, replicas, prefill, decode, retries, seqs, fault, seed
):
    events: list[dict[str, Any]] = [{"at_s": 40, "kind": "set_image", "image": "vllm:v2"}]
    if fault is not None:
        events.append({"at_s": 25, "kind": fault})
    data = scenario(
        replicas=replicas,
        roles=[role("prefill", prefill), role("decode", decode)],
        pools=[{"name": "n", "count": 6, "gpus_per_node": 8, "gpu_type": "H100-80GB"}],
        workload={
            "arrival": {"kind": "poisson", "rate_rps": rate},
            "prompt_tokens": {"kind": "lognormal", "median": 600, "p90": 2500, "max": 5000},
            "output_tokens": {"kind": "uniform", "low": 1, "high": 200},
            "start_s": 10,
        },
        serving={
            "router": "least_request",
            "retries": retries,
            "engine": {"max_num_seqs": seqs, "kv_cache_tokens": 20000},
        },
        events=events,
        until_s=120,
        seed=seed,
    )
    reads = []
    best = Gateway._best

    def checked(self: Gateway, g: Group, now: float) -> Any:
        _check(g)
        out = best(self, g, now)
        if g.prefill and g.decode:  # the first engine with the fewest, as min() picks it
            reads.append(out)
            assert out[2] is min(g.prefill, key=lambda e: e.outstanding)
            assert out[3] is min(g.decode, key=lambda e: e.outstanding)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Gateway, "_best", checked)
        w = run_world(data)
    assert reads, "the router never read the counts"
    for g in w.serving.gateway.groups.values():
        _check(g)
