"""The roofline latency model: closed forms against brute force, catalog numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stormsim.perf.catalog import builtin
from stormsim.perf.latency import (
    EngineCost,
    kv_bytes_per_token,
    total_params,
)
from stormsim.schema.serving import Efficiency

GPUS, MODELS = builtin()


def test_catalog_has_required_entries():
    assert {"A100-80GB", "H100-80GB", "H200", "B200", "L40S"} <= set(GPUS)
    assert {"llama-3.1-8b", "llama-3.1-70b", "qwen3-8b", "qwen3-32b", "opt-13b"} <= set(MODELS)


def test_parameter_counts_and_gqa_kv_bytes():
    assert abs(total_params(MODELS["llama-3.1-8b"]) / 1e9 - 8.03) < 0.02
    assert abs(total_params(MODELS["llama-3.1-70b"]) / 1e9 - 70.55) < 0.1
    assert abs(total_params(MODELS["qwen3-8b"]) / 1e9 - 8.19) < 0.02
    assert abs(total_params(MODELS["qwen3-32b"]) / 1e9 - 32.76) < 0.1
    assert abs(total_params(MODELS["opt-13b"]) / 1e9 - 12.85) < 0.05
    # 2 (K, V) x layers x KV heads x head dim x 2 bytes
    assert kv_bytes_per_token(MODELS["llama-3.1-8b"]) == 2 * 32 * 8 * 128 * 2
    assert kv_bytes_per_token(MODELS["llama-3.1-70b"]) == 2 * 80 * 8 * 128 * 2
    assert kv_bytes_per_token(MODELS["opt-13b"]) == 2 * 40 * 40 * 128 * 2
    # KV heads replicated when TP exceeds them
    assert kv_bytes_per_token(MODELS["llama-3.1-8b"], 16) == 2 * 32 * 16 * 128 * 2


def test_kv_capacity_is_memory_minus_weights():
    c = EngineCost.build(MODELS["opt-13b"], GPUS["A100-80GB"], 1, Efficiency())
    # DistServe's profile gives 66,144 tokens for OPT-13B TP1 on A100-80GB
    assert 55_000 < c.kv_capacity_tokens < 70_000
    c70 = EngineCost.build(MODELS["llama-3.1-70b"], GPUS["H100-80GB"], 1, Efficiency())
    assert c70.kv_capacity_tokens == 0  # 141 GB of weights do not fit on one GPU


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(sorted(MODELS)),
    gpu=st.sampled_from(sorted(GPUS)),
    tp=st.sampled_from([1, 2, 4, 8]),
    batch=st.integers(1, 512),
    s0=st.integers(1, 2_000_000),
    n=st.integers(0, 400),
    frac=st.floats(0.0, 1.2),
)
def test_decode_span_closed_form_matches_brute_force(model, gpu, tp, batch, s0, n, frac):
    c = EngineCost.build(MODELS[model], GPUS[gpu], tp, Efficiency())
    s0 = max(s0, batch)
    brute = 0.0
    times = [0.0]
    for k in range(n):
        brute += c.decode_time(batch, s0 + k * batch)
        times.append(brute)
    assert abs(c.span(batch, s0, n) - brute) <= 1e-9 * max(1.0, brute)
    assert c.span(batch, s0, n) == c.span_slow(batch, s0, n) or abs(
        c.span(batch, s0, n) - c.span_slow(batch, s0, n)
    ) <= 1e-12 * max(1.0, brute)
    # inverse: first boundary at or after an elapsed time
    e = frac * brute
    m = c.first_n(batch, s0, e, n)
    assert c.span(batch, s0, m) >= e or m == n
    assert m == 0 or c.span(batch, s0, m - 1) < e


def test_prefill_compute_bound_decode_memory_bound():
    c = EngineCost.build(MODELS["llama-3.1-8b"], GPUS["H100-80GB"], 1, Efficiency())
    # long prompts are compute-bound: time grows ~linearly with tokens
    t4k, t8k = c.prefill_one(4096), c.prefill_one(8192)
    assert 1.9 < t8k / t4k < 2.4
    # small-batch decode is memory-bound: ~weights / (HBM x mbu) + overhead
    t1 = c.decode_time(1, 1000)
    assert abs(t1 - (c.overhead_s + c.weights_s + 1000 * c.kv_read_s)) < 1e-12


def test_docs_comparison_table_is_reproducible_and_close_to_distserve():
    """bench/latency_table.py computes the table of docs/latency-model.md."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "latency_table.py"
    spec = importlib.util.spec_from_file_location("latency_table", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.distserve_rows()[2:]
    ratios = [float(r.rsplit("|", 2)[1]) for r in rows]
    assert len(ratios) == 27
    assert all(0.55 <= x <= 1.3 for x in ratios), ratios
    assert mod.llmd_rows()
