"""The planner at production size: how long ``stormsim.plan`` takes to size a replica-mode
service of ~32 RoleSets of 1P1D Llama-3.1-70B (prefill TP4 + decode TP4) on 8 x H100 nodes,
whose pods start in about 5 minutes, and plan its rollout (maxSurge 25%).

Prints the wall time, the runs used, and the ratio to one steady-state run of the recommended
configuration measured in the same process (the plan's cost in single-run equivalents). A
measurement, not a test: exit 0 either way.

    .venv/bin/python bench/plan_bench.py            # 2 jobs (this project's 2-core machine)
    .venv/bin/python bench/plan_bench.py --jobs 4 --rate 300 --seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import stormsim  # noqa: E402
from tests.plan.scale import SLOW_TIMING, replica_plan_data  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rate", type=float, default=320.0, help="req/s (default: ~32 RoleSets)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per run")
    a = ap.parse_args()
    data = replica_plan_data(
        model="llama-3.1-70b",
        tp=4,
        rate_rps=a.rate,
        ttft_s=2.0,
        tpot_s=0.1,
        timing=SLOW_TIMING,
        rollout={
            "image": "vllm/vllm-openai:v0.11.0",
            "max_surge": ["25%"],
            "max_unavailable": [0],
            "max_extra": 2,
        },
        seeds=list(range(1, a.seeds + 1)),
        duration_s=a.duration,
        name="plan-bench-70b",
    )
    t0 = time.perf_counter()
    res = stormsim.plan(data, jobs=a.jobs)
    wall = time.perf_counter() - t0
    print(res.summary_text())
    rec = res.recommendation
    if rec is None:
        print("no recommendation: nothing to compare with")
        return
    t1 = time.perf_counter()
    res.resimulate(seeds=(1,), jobs=1)
    one = time.perf_counter() - t1
    steady = int((res.probes["phase"] == "steady").sum())
    rollout = int((res.probes["phase"] == "rollout").sum())
    print(f"fleet: {rec.config.replicas} RoleSets, {rec.gpus} GPUs; load {a.rate:g} req/s")
    print(f"plan wall: {wall:.1f} s with {a.jobs} jobs")
    print(f"runs: {res.n_runs} ({res.n_failed} failed) in {len(res.probes)} evaluations "
          f"({steady} steady, {rollout} rollout) x {a.seeds} seeds")  # fmt: skip
    by_phase = res.runs.groupby("phase")["wall_s"].sum()
    print("run wall by phase (summed over runs): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in by_phase.items()))  # fmt: skip
    print(f"one steady run of the recommendation: {one:.2f} s; plan = {wall / one:.1f} x that")


if __name__ == "__main__":
    main()
