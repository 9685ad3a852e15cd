"""Benchmark: wall time of a large StormService rollout, next to raw SimPy throughput.

Simulates a rollout of 100 RoleSets x 16 pods (prefill 8 + decode 8, 1 GPU each) to a new
image (RollingUpdate, maxSurge / maxUnavailable 10% by default), no traffic. By default the
fleet starts deployed (``initial_state: ready``) and the image changes at t=60 s, so the run is
the rollout itself; ``--initial deploy`` first brings the fleet up through the controllers and
changes the image at t=600 s. Runs
through the public Python API (``stormsim.load_scenario`` + ``stormsim.run``). In the same
process it measures how many bare ``env.timeout`` events per second SimPy itself processes, and
compares: "SimPy-equivalent time" is the number of SimPy events the stormsim run processed
divided by that raw rate, i.e. what the run would cost if every event were free apart from
SimPy's own scheduling.

Run on demand (not part of the test suite)::

    make bench                               # or: .venv/bin/python bench/rollout_bench.py
    .venv/bin/python bench/rollout_bench.py --stateful --repeat 5
    .venv/bin/python bench/rollout_bench.py --profile 25   # cProfile top 25 by cumulative time

Exit code 0 whether or not the target is met (it is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import simpy

import stormsim

TARGET_WALL_S = 1.0


def role(name: str, replicas: int, image: str, stateful: bool) -> dict[str, Any]:
    return {
        "name": name,
        "replicas": replicas,
        "stateful": stateful,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "engine",
                        "image": image,
                        "resources": {"limits": {"nvidia.com/gpu": 1}},
                    }
                ]
            }
        },
    }


def build_scenario(args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark scenario as a plain mapping (inline manifest)."""
    image = "vllm/vllm-openai:v0.10.2"
    pods_per_rs = args.prefill + args.decode
    gpus_needed = args.rolesets * pods_per_rs * 2  # room for any surge up to 100%
    nodes = -(-gpus_needed // 8)
    manifest = {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": "bench"},
        "spec": {
            "replicas": args.rolesets,
            "updateStrategy": {
                "type": "RollingUpdate",
                "maxSurge": args.max_surge,
                "maxUnavailable": args.max_unavailable,
            },
            "selector": {"matchLabels": {"app": "bench"}},
            "template": {
                "metadata": {"labels": {"app": "bench"}},
                "spec": {
                    "updateStrategy": "Parallel",
                    "roles": [
                        role("prefill", args.prefill, image, args.stateful),
                        role("decode", args.decode, image, args.stateful),
                    ],
                },
            },
        },
    }
    ready = args.initial == "ready"
    at = 60.0 if ready else 600.0
    return {
        "name": "bench-rollout",
        "description": f"{args.rolesets} RoleSets x {pods_per_rs} pods, image change at {at:g} s",
        "seed": args.seed,
        "cluster": {"node_pools": [{"name": "gpu", "count": nodes, "gpus_per_node": 8}]},
        "service": {"manifest": manifest, "initial_state": args.initial},
        "events": [{"at_s": at, "kind": "set_image", "image": "vllm/vllm-openai:v0.11.0"}],
        **({"controller": {"api_call_s": args.api_call_s}} if args.api_call_s is not None else {}),
    }


def first_step_last_pod_s(res: Any, at: float) -> float:
    """When the last pod of the first rollout step was created (s after the image change):
    the pods created by the RoleSet controller for the RoleSets of the first creating pass."""
    rs = res.frames["rolesets"]
    new = rs[rs["created_at_s"] >= at]
    if new.empty:
        return float("nan")
    first = new[new["created_at_s"] <= float(new["created_at_s"].min()) + 1.0]
    pods = res.frames["pods"]
    mine = pods[pods["roleset"].isin(set(first["roleset"]))]
    return float(mine["created_at_s"].max()) - at


def raw_simpy_rate(n: int) -> tuple[float, float]:
    """Bare SimPy: one process yielding ``n`` ``env.timeout`` events.

    Returns (seconds, events/s)."""
    env = simpy.Environment()

    def proc(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        for _ in range(n):
            yield env.timeout(1.0)

    env.process(proc(env))
    t0 = time.perf_counter()
    env.run()
    dt = time.perf_counter() - t0
    return dt, n / dt


@contextmanager
def count_simpy_events() -> Iterator[list[int]]:
    """Count ``Environment.step`` calls (events processed) while the block runs."""
    counter = [0]
    original: Callable[[simpy.Environment], None] = simpy.Environment.step

    def step(self: simpy.Environment) -> None:
        counter[0] += 1
        original(self)

    simpy.Environment.step = step  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        simpy.Environment.step = original  # type: ignore[method-assign,assignment]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rolesets", type=int, default=100)
    ap.add_argument("--prefill", type=int, default=8, help="prefill pods per RoleSet")
    ap.add_argument("--decode", type=int, default=8, help="decode pods per RoleSet")
    ap.add_argument("--stateful", action="store_true", help="stateful roles (fixed slots)")
    ap.add_argument("--max-surge", default="10%")
    ap.add_argument("--max-unavailable", default="10%")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--initial",
        choices=["ready", "deploy"],
        default="ready",
        help="ready: the fleet starts deployed and the run is the rollout itself (the target's "
        "case); deploy: the fleet is first brought up through the controllers",
    )
    ap.add_argument(
        "--api-call-s",
        type=float,
        default=None,
        help="controller.api_call_s (default: the scenario default, 20 ms)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (best and median shown)")
    ap.add_argument("--simpy-events", type=int, default=1_000_000, help="raw SimPy loop size")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile, top N rows")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    scenario = stormsim.load_scenario(build_scenario(args))
    load_s = time.perf_counter() - t0

    # one untimed warm-up run that also counts the SimPy events the simulation processes
    with count_simpy_events() as counter:
        res = stormsim.run(scenario)
    n_events = counter[0]

    walls, sims = [], []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        res = stormsim.run(scenario)
        walls.append(time.perf_counter() - t0)
        sims.append(float(res.provenance["wall_time_s"]))
    best, median = min(walls), statistics.median(walls)
    sim_best = min(sims)

    raw_s, rate = raw_simpy_rate(args.simpy_events)
    equiv_s = n_events / rate

    s = res.summary
    pods_per_rs = args.prefill + args.decode
    kind = "stateful" if args.stateful else "stateless"
    print(
        f"scenario: {args.rolesets} RoleSets x {pods_per_rs} pods ({args.prefill}P+{args.decode}D, "
        f"1 GPU each, {kind}), maxSurge {args.max_surge}, maxUnavailable {args.max_unavailable}, "
        f"{s['gpus_capacity']} GPUs, seed {args.seed}"
    )
    print(
        f"  simulated: {s['sim_end_s']:.0f} s, update {s['update_duration_s']} s "
        f"(completed {s['update_completed']}), {s['n_pods_created']} pods and "
        f"{s['n_rolesets_created']} RoleSets created, controller passes "
        f"{res.provenance['controller_passes']}"
    )
    print(f"  load_scenario:                 {load_s * 1e3:8.1f} ms")
    print(
        f"  stormsim.run wall (total):     {best:8.3f} s best, {median:.3f} s median "
        f"of {len(walls)}"
    )
    print(f"    of which simulation (World): {sim_best:8.3f} s best (provenance wall_time_s)")
    print(f"    frames + KPIs + provenance:  {best - sim_best:8.3f} s")
    print(f"  SimPy events in the run:       {n_events:8d}")
    print(
        f"raw SimPy: {args.simpy_events} env.timeout events in {raw_s:.3f} s "
        f"-> {rate:,.0f} events/s"
    )
    print(f"  SimPy-equivalent time of the run's events: {equiv_s:.3f} s")
    print(
        f"  ratio stormsim.run / SimPy-equivalent: {best / equiv_s:.1f}x "
        f"(simulation only: {sim_best / equiv_s:.1f}x); stormsim processes "
        f"{n_events / sim_best:,.0f} events/s"
    )
    # the effect of slow-start batching: the same run with free API calls (untimed)
    at = 60.0 if args.initial == "ready" else 600.0
    flat_args = argparse.Namespace(**{**vars(args), "api_call_s": 0.0})
    flat = stormsim.run(stormsim.load_scenario(build_scenario(flat_args)))
    api_s = scenario.controller.api_call_s
    print(
        f"slow-start batching (controller.api_call_s {api_s * 1e3:g} ms): update "
        f"{s['update_duration_s']:.2f} s vs {flat.summary['update_duration_s']:.2f} s with "
        f"api_call_s 0; last pod of the first rollout step created "
        f"{first_step_last_pod_s(res, at):.2f} s vs {first_step_last_pod_s(flat, at):.2f} s "
        f"after the image change"
    )
    met = best <= TARGET_WALL_S
    print(f"target: stormsim.run <= {TARGET_WALL_S:.1f} s wall -> {'MET' if met else 'NOT MET'}")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        stormsim.run(scenario)
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
        print(buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
