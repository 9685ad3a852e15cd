"""Every release of KV cache or a batch slot retries the admission of what waits for it: a
prefill blocked on KV starts when decoding frees it (not at the next arrival), and a finite
workload always ends, at any load, colocated and disaggregated."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_helpers import role, run_world, scenario

import stormsim

LLAMA2_7B = {
    "num_layers": 32,
    "hidden_size": 4096,
    "num_heads": 32,
    "num_kv_heads": 32,
    "head_dim": 128,
    "intermediate_size": 11008,
    "vocab_size": 32000,
    "dtype": "bf16",
    "max_context": 4096,
    "source": "meta-llama/Llama-2-7b-hf config.json",
}


def _trace(tmp_path: Any, rows: list[tuple[float, int, int]]) -> str:
    p = tmp_path / "t.csv"
    p.write_text(
        "arrived_at,num_prefill_tokens,num_decode_tokens\n"
        + "".join(f"{t},{a},{b}\n" for t, a, b in rows)
    )
    return str(p)


def test_overloaded_colocated_engine_ends_every_request() -> None:
    """14 req/s on one A100 Llama-2-7B colocated engine (well past its capacity): the KV
    cache is the bottleneck, and every one of the 3,000 requests still ends. (Before the fix
    the prefill queue was retried only on arrivals, so ~1,200 stayed in flight forever.)"""
    data = scenario(
        roles=[role("engine")],
        pools=[{"name": "a100", "count": 1, "gpus_per_node": 1, "gpu_type": "A100-80GB"}],
        workload={
            "arrival": {"kind": "poisson", "rate_rps": 14},
            "prompt_tokens": {"kind": "uniform", "low": 64, "high": 1023},
            "output_tokens": {"kind": "uniform", "low": 16, "high": 511},
            "start_s": 30,
            "max_requests": 3000,
        },
        serving={"model": "llama-2-7b", "models": {"llama-2-7b": LLAMA2_7B}},
    )
    del data["until_s"]  # a finite workload runs until every request has ended
    res = stormsim.run(stormsim.load_scenario(data))
    s = res.summary
    df = res.frames["requests"]
    assert s["requests_arrived"] == 3000
    assert s["requests_in_flight"] == 0
    assert s["requests_completed"] == 3000
    last = float(df["arrived_at_s"].max())
    assert s["sim_end_s"] < last + 3600  # drained, not stopped by the cap
    # it was overloaded: the queue grew (TTFT far above a prefill) while the KV cache was full
    assert s["ttft_p99_s"] > 30.0


def test_blocked_prefill_starts_when_decode_frees_kv(tmp_path: Any) -> None:
    """A colocated engine whose KV cache holds one request: the second request, arrived while
    the first decodes, starts its prefill at the very instant the first ends (constant
    lengths, exact times), long before the third request arrives."""
    prompt, out = 800, 25
    rows = [(0.0, prompt, out), (0.01, prompt, out), (50.0, prompt, out)]
    data = scenario(
        roles=[role("worker")],
        workload={"arrival": {"kind": "trace", "path": _trace(tmp_path, rows), "offset_s": 100}},
        serving={"engine": {"kv_cache_tokens": prompt + out}},
        until_s=300,
    )
    w = run_world(data)
    r0, r1, r2 = w.recorder.requests
    assert [r.outcome for r in (r0, r1, r2)] == ["completed"] * 3
    c = w.serving.all_pods[0].prefill.cost
    end0 = 100.0 + c.prefill_one(prompt) + c.span(1, prompt + 1, out - 1)
    assert math.isclose(r0.ended_at, end0, rel_tol=1e-12)
    assert r1.prefill_start == r0.ended_at  # not at r2's arrival (150 s)
    assert math.isclose(r1.first_token, end0 + c.prefill_one(prompt), rel_tol=1e-12)
    assert r1.ended_at < r2.arrived_at == 150.0
    assert r2.prefill_start == 150.0


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    colocated=st.booleans(),
    rate=st.floats(0.5, 200.0),
    n=st.integers(1, 60),
    kv_tokens=st.integers(1200, 6000),
    seqs=st.integers(1, 8),
    budget=st.integers(256, 4096),
    chunked=st.booleans(),
    update=st.booleans(),
    retries=st.integers(0, 1),
    seed=st.integers(0, 10_000),
)
def test_a_finite_workload_always_ends(
    colocated: bool,
    rate: float,
    n: int,
    kv_tokens: int,
    seqs: int,
    budget: int,
    chunked: bool,
    update: bool,
    retries: int,
    seed: int,
) -> None:
    """Whatever the load and KV capacity (prompts up to the whole cache), with or without
    pods going away in an update: every request ends, completed or failed."""
    roles = [role("worker")] if colocated else [role("prefill"), role("decode")]
    events = [{"at_s": 45, "kind": "set_image", "image": "vllm/vllm-openai:v2"}] if update else []
    data = scenario(
        roles=roles,
        strategy={"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0},
        workload={
            "arrival": {"kind": "poisson", "rate_rps": rate},
            "prompt_tokens": {"kind": "uniform", "low": 50, "high": 1200},
            "output_tokens": {"kind": "uniform", "low": 1, "high": 600},
            "start_s": 40,
            "max_requests": n,
        },
        serving={
            "retries": retries,
            "engine": {
                "max_num_seqs": seqs,
                "kv_cache_tokens": kv_tokens,
                "max_num_batched_tokens": budget,
                "chunked_prefill": chunked,
            },
        },
        events=events,
        seed=seed,
    )
    del data["until_s"]
    w = run_world(data)
    reqs = w.recorder.requests
    assert len(reqs) == n
    assert [r.id for r in reqs if r.outcome == "in_flight"] == []
    last = max(r.arrived_at for r in reqs)
    assert w.env.now < last + 3600  # drained, not stopped by the cap
    for e in w.serving.all_pods:
        for eng in (e.prefill, e.decode):
            if eng is not None and eng.alive:
                assert eng.kv.used == 0  # nothing leaked
