"""A decode engine's generated-token count (``vllm:generation_tokens_total``, and the
generation throughput a PodAutoscaler reads) equals the tokens its requests have produced.

Found by review: the hot join path did not add the member's join iteration to ``sum_join``,
so the count grew by the iteration number at every join (a decode pod of a busy run reported
millions of tokens where its requests had produced thousands)."""

from __future__ import annotations

from serving_helpers import load, scenario

from stormsim.sim.serving.engines import DECODE_RUN, DONE
from stormsim.sim.world import World


def test_generated_tokens_match_the_requests() -> None:
    data = scenario(
        roles=None,
        workload={
            "arrival": {"kind": "poisson", "rate_rps": 8},
            "prompt_tokens": {"kind": "uniform", "low": 100, "high": 800},
            "output_tokens": {"kind": "uniform", "low": 20, "high": 200},
            "start_s": 30,
        },
        until_s=400,
    )
    sc = load(data)
    w = World(sc, 1)
    plane = w.serving
    assert plane is not None
    checked = 0
    for t in (120.0, 250.0, 400.0):
        w.run(t)
        for entry in plane.pods.values():
            e = entry.decode
            if e is None:
                continue
            got = e.generated(t)
            # ground truth from the requests: completed ones in full, members by iterations
            done = sum(
                r.leave_k - r.join_k
                for r in plane.records
                if r.de is e and r.state == DONE and r.outcome == "completed"
            )
            members = [r for _, _, r in e.leaves]
            assert all(r.state == DECODE_RUN for r in members)
            k_now = e.K  # iterations completed at the engine's last boundary
            running = sum(k_now - r.join_k for r in members)
            assert e.gen_done == done
            # generated() counts the boundaries completed by t, at least those up to K
            assert got >= done + running
            assert got <= done + sum(r.leave_k - r.join_k for r in members)
            checked += 1
    assert checked >= 3
