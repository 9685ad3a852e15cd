"""Serving data-plane benchmarks (on demand; not part of the tests).

    .venv/bin/python bench/serving_bench.py                  # all three benchmarks
    .venv/bin/python bench/serving_bench.py distserve fleet  # any of distserve, distserve10k, fleet
    .venv/bin/python bench/serving_bench.py --requests 100000 fleet   # a smaller size

* ``distserve``: DistServe's OPT-13B workload (1 prefill TP2 + 1 decode TP1), 50,000 requests;
* ``distserve10k``: the same with 10,000 requests, to time the whole process (imports included);
* ``fleet``: 1M requests in one simulated hour on 128 H100s with a full rolling update.

Each benchmark runs in a fresh subprocess so that its peak RSS and its imports are its own. It
prints the whole process's wall time and its import phase, the run's wall and CPU time, the
per-request cost (CPU microseconds and Python function calls, the latter the difference of
profiled runs of 10,000 and 5,000 DistServe requests: the steady state) and simulated
requests per wall second beside the raw SimPy events per second measured in the same process
(a bare ``env.timeout`` loop). Targets: issue 4 (DistServe 50k <= 5 s, fleet 1M <= 60 s) and
issue 12 (fleet 1M <= 20 s); the peer is DistServe's own simulator (260 s and 13.1 GB for
50,000 requests on a 2-core machine).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

T_START = time.perf_counter()

ROOT_TIMING = {
    "scheduling_s": 0.5,
    "image_pull_s": 60.0,
    "model_load_s": 20.0,
    "engine_init_s": 10.0,
    "readiness_probe_s": 2.0,
    "router_registration_s": 1.0,
    "termination_grace_s": 30.0,
    "reconcile_latency_s": 0.1,
}


def _role(name: str, gpus: int, model: str) -> dict[str, Any]:
    return {
        "name": name,
        "replicas": 1,
        "template": {
            "metadata": {"labels": {"model.aibrix.ai/name": model}},
            "spec": {
                "containers": [
                    {
                        "name": name,
                        "image": "vllm/vllm-openai:v0.10.2",
                        "resources": {"limits": {"nvidia.com/gpu": gpus}},
                    }
                ]
            },
        },
    }


def _manifest(name: str, replicas: int, roles: list[dict[str, Any]], strategy: dict[str, Any]):
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "updateStrategy": strategy,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"roles": roles},
            },
        },
    }


def distserve_scenario(n: int = 50_000, rate: float = 3.0) -> dict[str, Any]:
    """DistServe's OPT-13B workload: 1 prefill pod TP2 + 1 decode pod TP1 on A100-80GB,
    Poisson arrivals, prompt uniform 64-1023, output uniform 16-511 tokens."""
    return {
        "name": "bench-distserve-opt13b",
        "seed": 7,
        "cluster": {
            "node_pools": [
                {"name": "a100", "count": 1, "gpus_per_node": 8, "gpu_type": "A100-80GB"}
            ]
        },
        "timing": ROOT_TIMING,
        "service": {
            "manifest": _manifest(
                "opt13b",
                1,
                [_role("prefill", 2, "opt-13b"), _role("decode", 1, "opt-13b")],
                {"type": "RollingUpdate"},
            )
        },
        "workload": {
            "arrival": {"kind": "poisson", "rate_rps": rate},
            "prompt_tokens": {"kind": "uniform", "low": 64, "high": 1023},
            "output_tokens": {"kind": "uniform", "low": 16, "high": 511},
            "slo": {"ttft_s": 0.25, "tpot_s": 0.1},
            "start_s": 200.0,
            "max_requests": n,
        },
        "serving": {
            "model": "opt-13b",
            "engine": {"max_num_seqs": 1024, "max_num_batched_tokens": 8192},
        },
        "until_s": 200.0 + n / rate + 600.0,
    }


def fleet_scenario(n: int = 1_000_000) -> dict[str, Any]:
    """1M requests in one simulated hour on 128 H100s: 16 RoleSets of 4 prefill + 4 decode
    (Llama-3.1-8B, TP1), one full rolling update (image change) at t = 1200 s. Traffic runs
    from t = 120 s (the fleet is up) for one hour."""
    rate = n / 3600.0
    roles = [_role("prefill", 1, "llama-3.1-8b"), _role("decode", 1, "llama-3.1-8b")]
    for r in roles:
        r["replicas"] = 4
    return {
        "name": "bench-fleet-1m",
        "seed": 11,
        "cluster": {"node_pools": [{"name": "h100", "count": 16, "gpus_per_node": 8}]},
        "timing": ROOT_TIMING,
        "service": {
            "manifest": _manifest(
                "llm-fleet",
                16,
                roles,
                {"type": "RollingUpdate", "maxSurge": 0, "maxUnavailable": 2},
            )
        },
        "events": [{"at_s": 1200, "kind": "set_image", "image": "vllm/vllm-openai:v0.11.0"}],
        "workload": {
            "arrival": {"kind": "poisson", "rate_rps": rate},
            "prompt_tokens": {"kind": "lognormal", "median": 1024, "p90": 4096, "max": 32768},
            "output_tokens": {"kind": "lognormal", "median": 256, "p90": 1024, "max": 4096},
            "slo": {"ttft_s": 1.0, "tpot_s": 0.05},
            "start_s": 120.0,
            "stop_s": 3720.0,
        },
        "serving": {"model": "llama-3.1-8b", "router": "least_request"},
        "until_s": 3720.0,
    }


def raw_simpy_rate(n: int = 1_000_000) -> float:
    """Events per second of bare SimPy: one process yielding ``n`` ``env.timeout`` events."""
    import simpy

    env = simpy.Environment()

    def proc(env: simpy.Environment) -> Any:
        for _ in range(n):
            yield env.timeout(1.0)

    env.process(proc(env))
    t0 = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - t0)


def calls_per_request(n: int = 5000) -> float:
    """Python function calls per request of the DistServe workload in its steady state
    (cProfile: a run of ``2n`` requests minus a run of ``n``, so the set-up and the latency
    model's memos filling up at the start of a run are not counted)."""
    import cProfile
    import pstats

    import stormsim
    from stormsim.schema.loader import load_scenario

    def calls(k: int) -> int:
        sc = load_scenario(distserve_scenario(k))
        pr = cProfile.Profile()
        pr.enable()
        stormsim.run(sc)
        pr.disable()
        return sum(v[1] for v in pstats.Stats(pr).stats.values())  # type: ignore[attr-defined]

    calls(10)  # warm caches
    return (calls(2 * n) - calls(n)) / n


def _child(which: str, n: int) -> dict[str, Any]:
    t_imp = time.perf_counter()
    import pandas  # noqa: F401  (the frames need it; imported here to time the imports)

    import stormsim
    import stormsim.runner
    from stormsim.schema.loader import load_scenario
    from stormsim.sim.world import World

    import_s = time.perf_counter() - t_imp
    data = distserve_scenario(n) if which.startswith("distserve") else fleet_scenario(n)
    sc = load_scenario(data)
    captured: dict[str, Any] = {}
    orig_init = World.__init__

    def spy(self: World, *a: Any, **k: Any) -> None:
        orig_init(self, *a, **k)
        captured["world"] = self

    World.__init__ = spy  # type: ignore[method-assign]
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = stormsim.run(sc)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    process_s = time.perf_counter() - T_START
    world = captured["world"]
    plane = world.serving
    s = res.summary
    n_req = s["requests_arrived"]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    simpy_rate = raw_simpy_rate()
    return {
        "bench": which,
        "requests": n_req,
        "wall_s": wall,
        "cpu_s": cpu,
        "process_s": process_s,
        "import_s": import_s,
        "cpu_us_per_request": 1e6 * cpu / max(1, n_req),
        "simpy_events_per_s": simpy_rate,
        "peak_rss_mb": rss_mb,
        "sim_s": s["sim_end_s"],
        "plane_entries_per_request": plane.n_entries / max(1, n_req),
        "simpy_timeouts_per_request": plane.n_timeouts / max(1, n_req),
        "wakes_per_request": plane.n_wakes / max(1, n_req),
        "requests_per_wall_s": n_req / wall,
        "completed": s["requests_completed"],
        "failed": s["requests_failed"],
        "ttft_p50_s": s["ttft_p50_s"],
        "ttft_p99_s": s["ttft_p99_s"],
        "tpot_p50_s": s["tpot_p50_s"],
        "tpot_p99_s": s["tpot_p99_s"],
        "slo_attainment_frac": s["slo_attainment_frac"],
        "window_slo_attainment_frac": s.get("window_slo_attainment_frac"),
        "update_duration_s": s.get("update_duration_s"),
    }


TARGETS = {
    "distserve": {"wall_s": 5.0, "rss_mb": 500.0, "peer_wall_s": 260.0, "peer_rss_mb": 13.1e3},
    "distserve10k": {"wall_s": 5.0, "rss_mb": 500.0},
    "fleet": {"wall_s": 20.0, "rss_mb": 2048.0},
}


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "--child":
        print(json.dumps(_child(argv[1], int(argv[2]))))
        return
    if argv and argv[0] == "--calls":
        print(json.dumps({"calls_per_request": calls_per_request()}))
        return
    size = None
    if len(argv) >= 2 and argv[0] == "--requests":
        size = int(argv[1])
        argv = argv[2:]
    which = argv or ["distserve", "distserve10k", "fleet"]
    sizes = {"distserve": 50_000, "distserve10k": 10_000, "fleet": 1_000_000}
    for b in which:
        if b not in sizes:
            raise SystemExit(f"unknown benchmark {b!r}: one of {', '.join(sizes)}")
    calls = subprocess.run(
        [sys.executable, __file__, "--calls"], capture_output=True, text=True, check=True
    )
    cpr = json.loads(calls.stdout.strip().splitlines()[-1])["calls_per_request"]
    print(f"DistServe workload: {cpr:.1f} Python function calls per request (cProfile)")
    for b in which:
        n = size or sizes[b]
        print(f"== {b}: running {n:,} requests in a fresh process ...", flush=True)
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child", b, str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        whole = time.perf_counter() - t0
        r = json.loads(out.stdout.strip().splitlines()[-1])
        t = TARGETS[b]
        print(f"   {r['requests']:,} requests, {r['sim_s']:.0f} s simulated")
        print(
            f"   whole process {whole:.2f} s wall (imports {r['import_s']:.2f} s); "
            f"stormsim.run {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU = "
            f"{r['cpu_us_per_request']:.1f} CPU us per request"
        )
        print(
            f"   {r['requests_per_wall_s']:,.0f} simulated requests per wall second; raw SimPy "
            f"in the same process: {r['simpy_events_per_s']:,.0f} events per second, so a "
            f"request costs as much as {r['simpy_events_per_s'] / r['requests_per_wall_s']:.1f} "
            "bare SimPy events"
        )
        print(
            f"   wall {r['wall_s']:.2f} s (target {t['wall_s']:g} s, ratio "
            f"{r['wall_s'] / t['wall_s']:.2f}); peak RSS {r['peak_rss_mb']:.0f} MB (target "
            f"{t['rss_mb']:g} MB, ratio {r['peak_rss_mb'] / t['rss_mb']:.2f})"
        )
        if "peer_wall_s" in t:
            print(
                f"   vs DistServe simulator: {t['peer_wall_s'] / r['wall_s']:.0f}x faster, "
                f"{t['peer_rss_mb'] / r['peak_rss_mb']:.0f}x less memory"
            )
        print(
            f"   {r['plane_entries_per_request']:.2f} data-plane events and "
            f"{r['simpy_timeouts_per_request']:.2f} SimPy timeouts per request; "
            f"{r['wakes_per_request']:.2f} decode wake-ups (KV admission retries) per request"
        )
        print(
            f"   completed {r['completed']:,} failed {r['failed']:,}; TTFT p50/p99 "
            f"{r['ttft_p50_s']:.3f}/{r['ttft_p99_s']:.3f} s; TPOT p50/p99 "
            f"{r['tpot_p50_s']:.4f}/{r['tpot_p99_s']:.4f} s; SLO attainment "
            f"{r['slo_attainment_frac']:.3f} (window {r['window_slo_attainment_frac']}); "
            f"update {r['update_duration_s']} s"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
