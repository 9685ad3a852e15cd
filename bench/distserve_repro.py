"""Reproduce the SHAPE of DistServe's chatbot result with stormsim's latency model
(docs/distserve-reproduction.md). On demand, not part of the tests; ~1-3 minutes on 2 cores:

    .venv/bin/python bench/distserve_repro.py            # TTFT 0.25 s (the artifact's SLO)
    .venv/bin/python bench/distserve_repro.py --ttft 0.2 # simdistserve README's SLO

OPT-13B on A100-80GB, ShareGPT-like lengths, Poisson arrivals, TTFT / TPOT SLO at 90%
attainment. Goodput = the highest request rate at which >= 90% of requests meet both SLOs
(DistServe's definition), found by the planner's bracket-and-bisect load search over 3 seeds,
then divided by the GPUs: disaggregated = 1 prefill pod TP2 + 1 decode pod TP1 (3 GPUs);
colocated = 1 vLLM-like engine TP1 (1 GPU; a role named neither prefill nor decode).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from typing import Any

from stormsim.analysis.executors import make_executor
from stormsim.analysis.plan import Candidate, Config, Planner
from stormsim.schema.loader import load_scenario

# ShareGPT-like lengths clipped to OPT's 2048-token context: lognormal prompt (median 300,
# p90 1100) and output (median 180, p90 520) tokens. DistServe's ShareGPT sample averages
# roughly 750-token prompts... see the docs page for the sensitivity to this choice.
PROMPT = {"kind": "lognormal", "median": 300, "p90": 1100, "max": 1536}
OUTPUT = {"kind": "lognormal", "median": 180, "p90": 520, "max": 512}


def scenario(
    ttft_s: float,
    tpot_s: float,
    seeds: list[int],
    ttft_at: str = "first_token",
    efficiency: dict[str, float] | None = None,
    latency_model: str = "calibrated",
) -> dict[str, Any]:
    man = {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": "opt13b"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "opt13b"}},
            "template": {
                "metadata": {"labels": {"app": "opt13b"}},
                "spec": {
                    "roles": [
                        {
                            "name": "engine",
                            "replicas": 1,
                            "template": {
                                "spec": {
                                    "containers": [
                                        {
                                            "name": "engine",
                                            "image": "distserve:1",
                                            "resources": {"limits": {"nvidia.com/gpu": 1}},
                                        }
                                    ]
                                }
                            },
                        }
                    ]
                },
            },
        },
    }
    eff = {"efficiency": efficiency} if efficiency else {}
    dist_engine = {"max_num_seqs": 1024, "max_num_batched_tokens": 8192, **eff}
    return {
        "name": "distserve-opt13b-chatbot",
        "cluster": {
            "node_pools": [
                {"name": "a100", "count": 1, "gpus_per_node": 8, "gpu_type": "A100-80GB"}
            ]
        },
        "timing": {
            "scheduling_s": 0.1,
            "image_pull_s": 1,
            "model_load_s": 5,
            "engine_init_s": 2,
            "readiness_probe_s": 1,
            "router_registration_s": 0.5,
        },
        "service": {"manifest": man},
        "workload": {
            "arrival": {"kind": "poisson", "rate_rps": 1.0},
            "prompt_tokens": PROMPT,
            "output_tokens": OUTPUT,
        },
        "serving": {
            "model": "opt-13b",
            "latency_model": latency_model,
            "router": "least_request",
            "engine": dist_engine,
            "roles": {
                # prefill: DistServe's max batch 128 / 8192 tokens; decode 1024 sequences
                "prefill": {"engine": {"max_num_seqs": 128, "max_num_batched_tokens": 8192, **eff}},
                "decode": {
                    "engine": {"max_num_seqs": 1024, "max_num_batched_tokens": 65536, **eff}
                },
                # vLLM baseline of the paper: 16384 batched tokens, 1024 sequences, and (v0.2)
                # no chunked prefill: a prefill batch pauses the running decodes
                "engine": {
                    "engine": {
                        "max_num_seqs": 1024,
                        "max_num_batched_tokens": 16384,
                        "chunked_prefill": False,
                        **eff,
                    }
                },
            },
        },
        "plan": {
            "load": {"rate_rps": 0.5},
            "slo": {"ttft_s": ttft_s, "tpot_s": tpot_s, "attainment_frac": 0.9, "ttft_at": ttft_at},
            "gpus": [{"type": "A100-80GB", "price_per_hour": 1.0, "gpus_per_node": 8}],
            "prefill_tp": [2],
            "decode_tp": [1],
            "colocated": True,
            "rollout": None,
            "seeds": seeds,
            "criterion": "mean",
            "warmup_s": 30,
            "settle_s": 30,
            "duration_s": 630,
            "drain_s": 120,
            "goodput_max_factor": 40,
            "goodput_rel_tol": 0.03,
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ttft", type=float, default=0.25)
    ap.add_argument("--tpot", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--ttft-at",
        choices=["first_token", "prefill_end"],
        default="first_token",
        help="prefill_end: count TTFT when prefill produced the first token, as DistServe does",
    )
    ap.add_argument(
        "--efficiency",
        type=json.loads,
        default=None,
        help="engine efficiency for every engine, JSON, e.g. '{\"iteration_overhead_s\": 0.015}' "
        "(the mfu/mbu knobs need --latency-model roofline)",
    )
    ap.add_argument("--latency-model", choices=["calibrated", "roofline"], default="calibrated")
    a = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc = load_scenario(
            scenario(
                a.ttft,
                a.tpot,
                list(range(1, a.seeds + 1)),
                a.ttft_at,
                a.efficiency,
                a.latency_model,
            )
        )
    assert sc.plan is not None
    pln = Planner(sc, sc.plan, make_executor("local", a.jobs), None)
    base = sc.plan.load.peak_rps
    out: dict[str, Any] = {
        "ttft_s": a.ttft,
        "tpot_s": a.tpot,
        "ttft_at": a.ttft_at,
        "seeds": a.seeds,
        "latency_model": a.latency_model,
    }
    configs = {
        "disaggregated 1P(TP2)+1D(TP1)": Config(Candidate("pd", "A100-80GB", 2, 1), 1, 1),
        "colocated TP1 (vLLM-like)": Config(Candidate("colocated", "A100-80GB", 1, 0), 1, 0),
        "colocated TP2": Config(Candidate("colocated", "A100-80GB", 2, 0), 1, 0),
    }
    t0 = time.perf_counter()
    for name, cfg in configs.items():
        pln.current[cfg.cand.label] = cfg.label
        if not pln.evaluate(cfg).passes():
            out[name] = {"goodput_rps": None, "note": f"fails at {base} req/s"}
            continue
        f = pln.goodput(cfg)
        rate = f * base
        out[name] = {"gpus": cfg.gpus, "goodput_rps": round(rate, 3),
                     "goodput_per_gpu": round(rate / cfg.gpus, 3)}  # fmt: skip
        print(f"{name}: {cfg.gpus} GPUs, goodput {rate:.2f} req/s = {rate / cfg.gpus:.2f} "
              f"req/s/GPU", flush=True)  # fmt: skip
    d = out["disaggregated 1P(TP2)+1D(TP1)"]["goodput_per_gpu"]
    c = out["colocated TP1 (vLLM-like)"]["goodput_per_gpu"]
    if d and c:
        out["disaggregated_vs_colocated_per_gpu"] = round(d / c, 2)
    curve = [
        {k: r[k] for k in ("config", "rate_rps", "attainment_mean", "ttft_attainment_mean",
                           "tpot_attainment_mean", "ttft_p90_s", "tpot_p90_s")}
        for r in sorted(pln.probe_rows, key=lambda r: (r["config"], r["rate_rps"]))
    ]  # fmt: skip
    out["curve"] = curve
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
