"""Start-up cost of the command line and of ``import stormsim`` (on demand; not a test).

    .venv/bin/python bench/startup_bench.py              # 11 rounds
    .venv/bin/python bench/startup_bench.py --repeat 21

Each command is run as a whole new process (``subprocess.run``, output discarded) and timed
with ``time.perf_counter()`` around it. The commands are run round-robin, ``--repeat`` rounds,
after one warm-up round (so the OS file cache is warm), and each one's median is reported minus
the median of ``python -c pass`` measured in the same rounds: what remains is stormsim's own
start-up (its imports and work), not the interpreter's. Targets (issue 10, on 2 cores):
``stormsim --help`` <= 0.3 s and ``stormsim validate scenarios/default.yaml`` <= 0.6 s.
The CPU time of each process (user + system, from ``getrusage(RUSAGE_CHILDREN)``) is printed
too, minus that of ``python -c pass``: unlike wall time it hardly changes when other jobs load
the machine, so it is the figure to compare when the machine is busy.
The exit code is 0 either way: it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
STORMSIM = str(Path(PY).parent / "stormsim")

# label -> (argv, target in seconds above `python -c pass`, or None)
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "python -c pass": ([PY, "-c", "pass"], None),
    "python -c 'import stormsim'": ([PY, "-c", "import stormsim"], None),
    "stormsim --help": ([STORMSIM, "--help"], 0.3),
    "stormsim --version": ([STORMSIM, "--version"], None),
    "stormsim validate scenarios/default.yaml": (
        [STORMSIM, "validate", "scenarios/default.yaml"],
        0.6,
    ),
}
BASELINE = "python -c pass"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _time(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one run of ``argv`` from the repository root."""
    c0 = _cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, _cpu() - c0, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=11, help="timed rounds (default 11)")
    args = ap.parse_args()
    if not Path(STORMSIM).exists():
        raise SystemExit(f"no {STORMSIM}: run this with the virtualenv's python (make test)")
    walls: dict[str, list[float]] = {label: [] for label in COMMANDS}
    cpus: dict[str, list[float]] = {label: [] for label in COMMANDS}
    failed: dict[str, int] = {}
    for round_ in range(args.repeat + 1):
        for label, (argv, _) in COMMANDS.items():
            if label in failed:
                continue
            w, c, rc = _time(argv)
            if rc != 0:  # reported, not timed: a failing command's time means nothing
                failed[label] = rc
            elif round_:  # round 0 warms the file cache
                walls[label].append(w)
                cpus[label].append(c)
    base = statistics.median(walls[BASELINE])
    base_cpu = statistics.median(cpus[BASELINE])
    print(
        f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, "
        f"median of {args.repeat} rounds, whole-process wall times"
    )
    print(
        f"{'command':44s} {'median':>8s} {'- pass':>8s} {'target':>8s} {'ratio':>7s}"
        f" {'cpu-pass':>9s}"
    )
    for label, (_, target) in COMMANDS.items():
        if label in failed:
            print(f"{label:44s} failed (exit {failed[label]})")
            continue
        med = statistics.median(walls[label])
        own = med - base
        cpu = statistics.median(cpus[label])
        if label == BASELINE:
            print(f"{label:44s} {med:8.3f} {'':>8s} {'':>8s} {'':>7s} {cpu:9.3f} (itself)")
            continue
        tgt = f"{target:8.2f}" if target is not None else f"{'-':>8s}"
        ratio = f"{own / target:6.2f}x" if target is not None else f"{'':>7s}"
        met = ("  met" if own <= target else "  NOT met") if target is not None else ""
        print(f"{label:44s} {med:8.3f} {own:8.3f} {tgt} {ratio:>7s} {cpu - base_cpu:9.3f}{met}")
    print("ratio = (median - median of `python -c pass`) / target; <= 1 meets the target")
    print("cpu-pass = median CPU seconds (user + system) minus that of `python -c pass`")


if __name__ == "__main__":
    main()
