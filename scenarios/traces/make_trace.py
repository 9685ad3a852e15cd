"""Generate ``small_trace.csv``: a small synthetic request trace in the Azure LLM inference
trace layout (as processed by Vidur: ``arrived_at`` in seconds, ``num_prefill_tokens``,
``num_decode_tokens``), used by ``scenarios/serving-trace.yaml``.

    .venv/bin/python scenarios/traces/make_trace.py   # rewrites small_trace.csv

Deterministic (seed 2024): 300 s of bursty traffic — a gamma renewal process (mean 12 req/s,
CV 2) with a 60 s burst at twice the rate — with conversation-like lengths (prompt lognormal,
median 900, p90 3000; output lognormal, median 150, p90 500). The output is committed, so the
scenario does not depend on this script at run time.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

Z90 = 1.2815515655446004


def make(seed: int = 2024, duration_s: float = 300.0) -> list[tuple[float, int, int]]:
    g = np.random.default_rng(seed)
    rows: list[tuple[float, int, int]] = []
    t = 0.0
    while True:
        rate = 24.0 if 120.0 <= t < 180.0 else 12.0
        k = 1.0 / 4.0  # CV 2
        t += float(g.gamma(k, 1.0 / (rate * k)))
        if t >= duration_s:
            break
        p = int(
            np.clip(np.rint(900 * np.exp(np.log(3000 / 900) / Z90 * g.standard_normal())), 1, 16000)
        )
        o = int(
            np.clip(np.rint(150 * np.exp(np.log(500 / 150) / Z90 * g.standard_normal())), 1, 2048)
        )
        rows.append((round(t, 6), p, o))
    return rows


def main() -> None:
    out = Path(__file__).with_name("small_trace.csv")
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arrived_at", "num_prefill_tokens", "num_decode_tokens"])
        w.writerows(make())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
