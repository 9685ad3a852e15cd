"""Engines against the model: exact TTFT/TPOT of a lone request, queueing theory, and
conservation and capacity as properties."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_helpers import role, run_world, scenario

import stormsim
from stormsim.perf.catalog import builtin
from stormsim.perf.latency import kv_bytes_per_token
from stormsim.perf.registry import build_latency_model
from stormsim.schema.serving import Engine

GPUS, MODELS = builtin()
H100 = GPUS["H100-80GB"]
L8B = MODELS["llama-3.1-8b"]


def _trace(tmp_path, rows):
    p = tmp_path / "t.csv"
    p.write_text(
        "arrived_at,num_prefill_tokens,num_decode_tokens\n"
        + "".join(f"{t},{a},{b}\n" for t, a, b in rows)
    )
    return str(p)


def test_single_request_on_idle_pd_pods_gets_the_modelled_ttft_and_tpot(tmp_path):
    prompt, out = 1500, 40
    data = scenario(
        pools=[{"name": "n", "count": 2, "gpus_per_node": 1, "gpu_type": "H100-80GB"}],
        workload={
            "arrival": {
                "kind": "trace",
                "path": _trace(tmp_path, [(0, prompt, out)]),
                "offset_s": 100,
            },
        },
        serving={"kv_transfer": {"nic_gbps": 100, "base_latency_s": 0.001}},
        until_s=200,
    )
    res = stormsim.run(data)
    r = res.frames["requests"].iloc[0]
    assert r.outcome == "completed" and r.prefill_pod != r.decode_pod
    c = build_latency_model(None, L8B, H100, 1, Engine())
    prefill = c.prefill_one(prompt)
    transfer = prompt * kv_bytes_per_token(L8B) / (100e9 / 8)
    first = c.decode_time(1, prompt)
    assert r.arrived_at_s == 100.0 and r.prefill_started_at_s == 100.0
    assert math.isclose(r.prefill_s, prefill, rel_tol=1e-12)
    assert math.isclose(r.transfer_s, transfer, rel_tol=1e-9)
    assert math.isclose(r.ttft_s, prefill + transfer + 0.001 + first, rel_tol=1e-12)
    tpot = (c.span(1, prompt, out) - c.span(1, prompt, 1)) / (out - 1)
    assert math.isclose(r.tpot_s, tpot, rel_tol=1e-9)
    assert math.isclose(r.e2e_s, prefill + transfer + 0.001 + c.span(1, prompt, out), rel_tol=1e-12)


def test_single_request_on_a_colocated_pod(tmp_path):
    prompt, out = 800, 25
    data = scenario(
        roles=[role("worker")],
        workload={
            "arrival": {
                "kind": "trace",
                "path": _trace(tmp_path, [(0, prompt, out)]),
                "offset_s": 100,
            }
        },
        until_s=200,
    )
    r = stormsim.run(data).frames["requests"].iloc[0]
    c = build_latency_model(None, L8B, H100, 1, Engine())
    assert r.prefill_pod == r.decode_pod and math.isnan(r.transfer_s)
    assert math.isclose(r.ttft_s, c.prefill_one(prompt), rel_tol=1e-12)
    assert math.isclose(
        r.e2e_s, c.prefill_one(prompt) + c.span(1, prompt + 1, out - 1), rel_tol=1e-12
    )


def _queue_run(prompt_spec, rate, n=15000, seed=5):
    data = scenario(
        workload={
            "arrival": {"kind": "poisson", "rate_rps": rate},
            "prompt_tokens": prompt_spec,
            "output_tokens": {"kind": "constant", "value": 2},
            "start_s": 30,
            "max_requests": n,
        },
        serving={
            "engine": {"max_num_batched_tokens": 1, "chunked_prefill": False, "max_num_seqs": 1024}
        },
        until_s=30 + n / rate + 60,
        seed=seed,
    )
    df = stormsim.run(data).frames["requests"]
    df = df[df.outcome == "completed"]
    return df.prefill_queue_s.to_numpy()


def test_md1_queueing_matches_pollaczek_khinchine():
    """One request per prefill iteration, constant prompts: M/D/1."""
    c = build_latency_model(None, L8B, H100, 1, Engine())
    d = c.prefill_one(2000)
    rho = 0.6
    w = _queue_run({"kind": "constant", "value": 2000}, rho / d)
    theory = rho * d / (2 * (1 - rho))
    assert abs(w.mean() - theory) / theory < 0.1, (w.mean(), theory)


def test_mg1_queueing_matches_pollaczek_khinchine():
    """Uniform prompts: M/G/1 with the model's service-time moments."""
    c = build_latency_model(None, L8B, H100, 1, Engine())
    s = np.array([c.prefill_one(p) for p in range(200, 4001)])
    es, es2 = s.mean(), (s**2).mean()
    lam = 0.5 / es
    w = _queue_run({"kind": "uniform", "low": 200, "high": 4000}, lam, seed=9)
    theory = lam * es2 / (2 * (1 - lam * es))
    assert abs(w.mean() - theory) / theory < 0.1, (w.mean(), theory)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.floats(1, 40),
    replicas=st.integers(1, 3),
    colocated=st.booleans(),
    router=st.sampled_from(["random", "least_request", "least_kv"]),
    surge=st.integers(0, 1),
    retries=st.integers(0, 2),
    seqs=st.integers(1, 24),
    kv_tokens=st.integers(3000, 60000),
    budget=st.integers(256, 8192),
    chunked=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_conservation_and_capacity(
    rate, replicas, colocated, router, surge, retries, seqs, kv_tokens, budget, chunked, seed
):
    roles = [role("worker")] if colocated else [role("prefill", 2), role("decode")]
    data = scenario(
        replicas=replicas,
        roles=roles,
        strategy={"type": "RollingUpdate", "maxSurge": surge, "maxUnavailable": 1 - surge},
        workload={
            "arrival": {"kind": "poisson", "rate_rps": rate},
            "prompt_tokens": {"kind": "lognormal", "median": 600, "p90": 2500, "max": 5000},
            "output_tokens": {"kind": "uniform", "low": 1, "high": 300},
            "start_s": 10,
        },
        serving={
            "router": router,
            "retries": retries,
            "queue_timeout_s": 15,
            "engine": {
                "max_num_seqs": seqs,
                "kv_cache_tokens": kv_tokens,
                "max_num_batched_tokens": budget,
                "chunked_prefill": chunked,
            },
        },
        events=[{"at_s": 60, "kind": "set_image", "image": "vllm/vllm-openai:v2"}],
        until_s=140,
        seed=seed,
    )
    w = run_world(data)
    reqs = w.recorder.requests
    outcomes = {"completed": 0, "failed": 0, "in_flight": 0}
    for r in reqs:
        outcomes[r.outcome] += 1
        if r.outcome == "completed":
            assert r.arrived_at <= r.routed_at <= r.prefill_start <= r.prefill_end
            assert r.prefill_end <= r.first_token <= r.ended_at
        if r.outcome == "failed":
            assert r.reason
    assert sum(outcomes.values()) == len(reqs)
    for e in w.serving.all_pods:
        for eng in (e.prefill, e.decode):
            if eng is None:
                continue
            assert eng.kv.peak <= eng.kv.cap
        if e.decode is not None:
            assert e.decode.peak_batch <= seqs
        if e.prefill is not None:
            assert e.prefill.peak_batch_seqs <= seqs
            assert e.prefill.peak_batch_tokens <= max(budget, 5000)
            if chunked:
                assert e.prefill.peak_batch_tokens <= budget
    # the summary agrees: arrived = completed + failed + in flight
    res = stormsim.run(data)
    s = res.summary
    assert s["requests_arrived"] == len(reqs)
    assert s["requests_arrived"] == (
        s["requests_completed"] + s["requests_failed"] + s["requests_in_flight"]
    )
    if s["window_requests_arrived"] is not None:
        assert s["window_requests_arrived"] == (
            s["window_requests_completed"]
            + s["window_requests_failed"]
            + s["window_requests_in_flight"]
        )
