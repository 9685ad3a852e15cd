"""A decode engine wakes up (retries the admission of what waits for its KV cache or a batch
slot) at most once per batch change: at overload, wake-ups stay a small constant per request.

Before the fix, a wake-up replaced by an earlier one (the batch changed sooner than planned)
still ran and re-armed one of its own at the next batch change; these duplicate chains
multiplied, to hundreds of wake-ups per request on an overloaded disaggregated service."""

from __future__ import annotations

import pytest
from serving_helpers import role, run_world, scenario


def _overloaded(colocated: bool, seed: int) -> dict:
    roles = [role("worker")] if colocated else [role("prefill", 2), role("decode")]
    data = scenario(
        roles=roles,
        workload={
            "arrival": {"kind": "poisson", "rate_rps": 60},
            "prompt_tokens": {"kind": "uniform", "low": 50, "high": 1000},
            "output_tokens": {"kind": "uniform", "low": 20, "high": 400},
            "start_s": 40,
            "max_requests": 400,
        },
        # a small KV cache: requests wait for decode KV most of the run
        serving={"engine": {"kv_cache_tokens": 8000, "max_num_seqs": 16}},
        seed=seed,
    )
    del data["until_s"]
    return data


@pytest.mark.parametrize("colocated", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_wakeups_per_request_are_bounded_at_overload(colocated: bool, seed: int) -> None:
    w = run_world(_overloaded(colocated, seed))
    plane = w.serving
    assert plane is not None
    reqs = w.recorder.requests
    n = len(reqs)
    assert n == 400
    assert all(r.outcome == "completed" for r in reqs)
    # it was overloaded: requests queued far longer than a prefill
    assert max(r.first_token - r.arrived_at for r in reqs) > 5.0
    assert plane.n_wakes > 0  # requests did wait for KV (the wake-ups were exercised)
    # each request changes its decode batch twice (joins, leaves); a wake-up runs at most at
    # each change, plus one per prefill that paused the batch while a wake-up was due
    assert plane.n_wakes <= 3 * n
    # every plane calendar entry (arrivals excluded): prefill iterations, transfers, wake-ups
    # (stale ones included), a few per request
    assert plane.n_entries <= 8 * n
