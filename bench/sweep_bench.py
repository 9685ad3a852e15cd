"""Sweep benchmark: a 48-run sweep on 2 cores vs 1 core, and the Ray executor's overhead.

Run on demand (not by the test suite)::

    .venv/bin/python bench/sweep_bench.py            # local 1 vs 2 processes, then Ray
    .venv/bin/python bench/sweep_bench.py --no-ray --repeat 3

The sweep (through the public API, ``stormsim.sweep``): the 2P1D Llama-70B service of
``scenarios/sweep-surge-unavailable-strategy.yaml`` scaled to 16 RoleSets (256 GPUs) on 36
eight-GPU nodes, maxSurge [0, 1, 25%, 50%] x maxUnavailable [1, 2, 25%] x 4 seeds = 48 runs of
about 0.2-0.5 s each, every run written to a fresh cache directory (as a real sweep does).

Prints the wall time with ``jobs=1`` (in-process) and ``jobs=2`` (two worker processes), the
speed-up (target >= 1.8x on 2 cores), then the same sweep on a local Ray instance with 2 CPUs:
the Ray start-up time, the wall time, and the per-run overhead against the local executor,
``(wall_ray - wall_local) * jobs / runs`` (CPU-seconds lost per run), also measured on 48 tiny
runs (about 10 ms each) where dispatch dominates. Measurements are interleaved in rounds
(``--repeat``, best of each kept) and the load average is printed: on a machine shared with
other work the speed-up is bounded by the CPU actually free, not by stormsim.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import stormsim

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "sweep-surge-unavailable-strategy.yaml"
SS = "service.manifest.spec"
GRID: dict[str, list[Any]] = {
    f"{SS}.replicas": [16],
    "cluster.node_pools[h100].count": [36],
    f"{SS}.updateStrategy.maxSurge": [0, 1, "25%", "50%"],
    f"{SS}.updateStrategy.maxUnavailable": [1, 2, "25%"],
    f"{SS}.template.spec.updateStrategy": ["Parallel"],
}
SEEDS = 4
TINY_GRID: dict[str, list[Any]] = {
    f"{SS}.updateStrategy.maxSurge": [0, 1, 2, 3],
    f"{SS}.updateStrategy.maxUnavailable": [0, 1, 2],
}


def timed_sweep(scenario: Any, grid: dict[str, list[Any]], seeds: int, **kw: Any) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    try:
        t0 = time.perf_counter()
        res = stormsim.sweep(
            scenario, tmp, grid=grid, seeds=seeds, plots=False, progress=False, **kw
        )
        wall = time.perf_counter() - t0
        assert res.n_executed == len(res.runs) == 48, (res.n_executed, len(res.runs))
        assert res.n_failed == 0, res.failures()
        return wall
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="processes of the parallel run")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (best kept)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray executor")
    args = ap.parse_args()

    scenario = stormsim.load_scenario(SCENARIO)
    tiny = stormsim.default_scenario()
    print(
        f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, stormsim {stormsim.__version__}"
    )
    print(f"sweep: 48 runs (12 cells x {SEEDS} seeds), 16 RoleSets x 2P1D each")

    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes share these cores)")
    timed_sweep(tiny, TINY_GRID, 4, jobs=1)  # warm-up (imports, caches)
    ray: Any = None
    t_init = 0.0
    if not args.no_ray:
        try:
            import ray
        except ImportError:
            print("ray: not installed (pip install 'stormsim[ray]'), skipped")
    if ray is not None:
        t0 = time.perf_counter()
        ray.init(
            num_cpus=args.jobs,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        t_init = time.perf_counter() - t0
        timed_sweep(tiny, TINY_GRID, 4, executor="ray")  # warm the Ray workers
    # interleaved rounds (best of each kept), so a change in the machine's load hits all alike
    t1s, tjs, trs, tiny_ls, tiny_rs = [], [], [], [], []
    try:
        for _ in range(args.repeat):
            t1s.append(timed_sweep(scenario, GRID, SEEDS, jobs=1))
            tjs.append(timed_sweep(scenario, GRID, SEEDS, jobs=args.jobs))
            tiny_ls.append(timed_sweep(tiny, TINY_GRID, 4, jobs=args.jobs))
            if ray is not None:
                trs.append(timed_sweep(scenario, GRID, SEEDS, executor="ray"))
                tiny_rs.append(timed_sweep(tiny, TINY_GRID, 4, executor="ray"))
    finally:
        if ray is not None:
            ray.shutdown()
    t1, tj, tiny_local = min(t1s), min(tjs), min(tiny_ls)
    speedup = t1 / tj
    verdict = "meets" if speedup >= 1.8 else "MISSES"
    print(f"local jobs=1          : {t1:7.2f} s  ({t1 / 48 * 1000:6.1f} ms/run)")
    print(f"local jobs={args.jobs}          : {tj:7.2f} s")
    print(f"speed-up              : {speedup:7.2f}x  (target >= 1.8x: {verdict})")
    print(f"tiny runs, local j={args.jobs}   : {tiny_local:7.2f} s")
    if ray is not None:
        tr, tiny_ray = min(trs), min(tiny_rs)
        print(f"ray start-up          : {t_init:7.2f} s  (once, when stormsim starts Ray itself)")
        print(
            f"ray ({args.jobs} CPUs)          : {tr:7.2f} s  (speed-up vs jobs=1: {t1 / tr:.2f}x)"
        )
        over = (tr - tj) * args.jobs / 48 * 1000
        print(f"ray overhead per run  : {over:7.1f} ms CPU vs local (runs of ~{t1 / 48e-3:.0f} ms)")
        over_tiny = (tiny_ray - tiny_local) * args.jobs / 48 * 1000
        print(
            f"tiny runs, ray        : {tiny_ray:7.2f} s  -> overhead {over_tiny:.1f} ms CPU per run"
        )
    print(f"load average after : {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
