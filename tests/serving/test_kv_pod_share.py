"""KV transfers use the pod's share of its node's NICs (one NIC per GPU), not the whole node's."""

from __future__ import annotations

import math

from serving_helpers import scenario

import stormsim
from stormsim.perf.catalog import builtin
from stormsim.perf.latency import kv_bytes_per_token

GPUS, MODELS = builtin()


def test_tp1_pod_on_an_8_gpu_node_gets_one_eighth_of_the_nics(tmp_path):
    prompt = 3000
    trace = tmp_path / "t.csv"
    trace.write_text(f"arrived_at,num_prefill_tokens,num_decode_tokens\n0,{prompt},5\n")
    data = scenario(
        # one GPU free per node: prefill and decode land on different 8-GPU nodes
        pools=[{"name": "n", "count": 2, "gpus_per_node": 8, "gpu_type": "H100-80GB"}],
        roles=[
            {"name": "filler", "replicas": 1, "template": _tmpl("filler", 7)},
            {"name": "prefill", "replicas": 1, "template": _tmpl("prefill", 1)},
            {"name": "decode", "replicas": 1, "template": _tmpl("decode", 1)},
        ],
        workload={"arrival": {"kind": "trace", "path": str(trace), "offset_s": 100}},
        serving={"kv_transfer": {"nic_gbps": 800, "base_latency_s": 0.0}},
        until_s=200,
    )
    data["service"]["manifest"]["spec"]["template"]["spec"]["roles"][0]["replicas"] = 2
    r = stormsim.run(data).frames["requests"].iloc[0]
    assert r.prefill_pod != r.decode_pod
    nbytes = prompt * kv_bytes_per_token(MODELS["llama-3.1-8b"])
    assert math.isclose(r.transfer_s, nbytes / (100e9 / 8), rel_tol=1e-9)  # 800 Gb/s / 8 GPUs


def _tmpl(name: str, gpus: int) -> dict:
    return {
        "metadata": {"labels": {"model.aibrix.ai/name": "llama-3.1-8b"}},
        "spec": {
            "containers": [
                {"name": name, "image": "v1", "resources": {"limits": {"nvidia.com/gpu": gpus}}}
            ]
        },
    }
