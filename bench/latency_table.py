"""Reproduce the comparison tables of docs/latency-model.md from the model.

    .venv/bin/python bench/latency_table.py

Reference numbers (typed in from the sources named in the docs):

* DistServe (LLMServe/DistServe, Apache-2.0), ``simdistserve/estimators/profile_data/
  profiler-a100-80g.distserve.json``: fitted A100-80GB profiles of OPT-13B, in ms:
  prefill = a + b·(tokens) + c·Σ(prompt²); decode (batch < 95) = a + b·(context tokens) + c·batch;
  ``max_num_tokens.csv``: KV capacity 66,144 tokens (TP1), 163,008 (TP2), 356,736 (TP4).
* llm-d-inference-sim ``docs/latency-profiles.md`` (Apache-2.0): ranges of inter-token latency
  (batch 1), TTFT of a 256-token prompt and prefill time per token on H100 80GB.
"""

from __future__ import annotations

from stormsim.perf.catalog import builtin
from stormsim.perf.latency import EngineCost
from stormsim.schema.serving import Efficiency

GPUS, MODELS = builtin()

DISTSERVE = {  # TP: (prefill a, b, c), (decode small-batch a, b, c), KV tokens
    1: ((16.456860, 0.0926475, 6.474786e-06), (19.934703, 0.000626936, 0.0385070), 66_144),
    2: ((13.402703, 0.0623429, 2.226884e-06), (13.294796, 0.000341092, 0.0629639), 163_008),
    4: ((10.965725, 0.0346195, 4.751136e-07), (10.256232, 0.000187867, 0.0326927), 356_736),
}

LLMD = {  # (model, TP): ITL ms, TTFT(256) ms, prefill ms/token   (H100 80GB, batch 1)
    ("llama-3.1-8b", 1): ((10, 15), (60, 120), (0.15, 0.30)),
    ("llama-3.1-70b", 4): ((25, 40), (250, 400), (0.60, 0.90)),
    ("llama-3.1-70b", 8): ((18, 28), (150, 250), (0.40, 0.60)),
}


def cost(model: str, gpu: str, tp: int) -> EngineCost:
    return EngineCost.build(MODELS[model], GPUS[gpu], tp, Efficiency())


def distserve_rows() -> list[str]:
    rows = [
        "| case | DistServe profile (ms) | stormsim (ms) | ratio |",
        "|---|---|---|---|",
    ]
    for tp, (pre, dec, kv) in DISTSERVE.items():
        c = cost("opt-13b", "A100-80GB", tp)
        for lens in ([128], [512], [1024], [512] * 4, [1024] * 8):
            n = sum(lens)
            ref = pre[0] + pre[1] * n + pre[2] * sum(x * x for x in lens)
            pairs = sum(x * x / 2.0 for x in lens)
            ours = c.prefill_time(n, pairs, len(lens)) * 1e3
            label = f"TP{tp} prefill {len(lens)} x {lens[0]}"
            rows.append(f"| {label} | {ref:.1f} | {ours:.1f} | {ours / ref:.2f} |")
        for b, ctx in ((1, 512), (16, 600), (64, 600)):
            s = b * ctx
            ref = dec[0] + dec[1] * s + dec[2] * b
            ours = c.decode_time(b, s) * 1e3
            label = f"TP{tp} decode step, batch {b}, context {ctx}"
            rows.append(f"| {label} | {ref:.1f} | {ours:.1f} | {ours / ref:.2f} |")
        rows.append(
            f"| TP{tp} KV capacity (tokens) | {kv:,} | {c.kv_capacity_tokens:,} | "
            f"{c.kv_capacity_tokens / kv:.2f} |"
        )
    return rows


def llmd_rows() -> list[str]:
    rows = [
        "| model on H100 | quantity | llm-d-inference-sim range | stormsim |",
        "|---|---|---|---|",
    ]
    for (model, tp), (itl, ttft, per_tok) in LLMD.items():
        c = cost(model, "H100-80GB", tp)
        step = c.decode_time(1, 256) * 1e3
        first = c.prefill_one(256) * 1e3
        tok = (c.prefill_one(4096) - c.prefill_one(2048)) / 2048 * 1e3
        rows.append(f"| {model} TP{tp} | ITL, batch 1 (ms) | {itl[0]}–{itl[1]} | {step:.1f} |")
        rows.append(
            f"| {model} TP{tp} | prefill of 256 tokens (ms) | {ttft[0]}–{ttft[1]} (TTFT) | "
            f"{first:.1f} |"
        )
        rows.append(
            f"| {model} TP{tp} | prefill time per token (ms) | {per_tok[0]}–{per_tok[1]} | "
            f"{tok:.3f} |"
        )
        thr = 8192 / c.prefill_time(8192, 8 * 1024 * 1024 / 2.0, 8)
        rows.append(f"| {model} TP{tp} | prefill throughput, 8 x 1024 (tok/s) | — | {thr:,.0f} |")
        b128 = 128 / c.decode_time(128, 128 * 1024)
        rows.append(
            f"| {model} TP{tp} | decode throughput, batch 128 x 1k ctx (tok/s) | — | {b128:,.0f} |"
        )
    return rows


def main() -> None:
    print("\n".join(distserve_rows()))
    print()
    print("\n".join(llmd_rows()))


if __name__ == "__main__":
    main()
