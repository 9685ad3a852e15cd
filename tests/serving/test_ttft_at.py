"""``workload.slo.ttft_at``: where TTFT ends (client's first token vs end of prefill)."""

from __future__ import annotations

import math

from serving_helpers import scenario

import stormsim
from stormsim.perf.catalog import builtin
from stormsim.perf.latency import kv_bytes_per_token
from stormsim.perf.registry import build_latency_model
from stormsim.schema.serving import Engine

GPUS, MODELS = builtin()


def test_prefill_end_moves_the_decode_wait_into_tpot(tmp_path):
    prompt, out = 1500, 40
    trace = tmp_path / "t.csv"
    trace.write_text(f"arrived_at,num_prefill_tokens,num_decode_tokens\n0,{prompt},{out}\n")
    res = {}
    for at in ("first_token", "prefill_end"):
        data = scenario(
            pools=[{"name": "n", "count": 2, "gpus_per_node": 1, "gpu_type": "H100-80GB"}],
            workload={
                "arrival": {"kind": "trace", "path": str(trace), "offset_s": 100},
                "slo": {"ttft_s": 1.0, "tpot_s": 0.05, "ttft_at": at},
            },
            serving={"kv_transfer": {"nic_gbps": 100, "base_latency_s": 0.001}},
            until_s=200,
        )
        res[at] = stormsim.run(data).frames["requests"].iloc[0]
    c = build_latency_model(None, MODELS["llama-3.1-8b"], GPUS["H100-80GB"], 1, Engine())
    prefill = c.prefill_one(prompt)
    transfer = prompt * kv_bytes_per_token(MODELS["llama-3.1-8b"]) / (100e9 / 8)
    a, b = res["first_token"], res["prefill_end"]
    assert math.isclose(a.ttft_s, prefill + transfer + 0.001 + c.decode_time(1, prompt))
    assert math.isclose(b.ttft_s, prefill, rel_tol=1e-12)
    assert math.isclose(a.e2e_s, b.e2e_s)
    # the same end, an earlier first token: the transfer and first step now count in TPOT
    assert math.isclose(b.tpot_s, (b.e2e_s - b.ttft_s) / (out - 1), rel_tol=1e-12)
    assert b.tpot_s > a.tpot_s
