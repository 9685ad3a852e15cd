"""A finite workload (trace replay) runs to its end by default, even when the rollout settles
first: every request arrives and ends."""

from __future__ import annotations

from serving_helpers import scenario

import stormsim


def test_trace_replay_is_complete_without_until(tmp_path):
    trace = tmp_path / "t.csv"
    rows = [f"{10 + 2.0 * i},{200 + i % 300},{20 + i % 50}" for i in range(200)]
    trace.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n" + "\n".join(rows) + "\n")
    data = scenario(
        workload={"arrival": {"kind": "trace", "path": str(trace), "offset_s": 40}},
        strategy={"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0},
        events=[{"at_s": 60, "kind": "set_image", "image": "v2"}],
    )
    del data["until_s"]
    res = stormsim.run(stormsim.load_scenario(data))
    s = res.summary
    assert s["update_completed"] is True
    assert s["update_ended_at_s"] < 200  # the rollout settles long before the trace ends
    assert s["requests_arrived"] == 200
    assert s["requests_in_flight"] == 0
    last = res.frames["requests"]["arrived_at_s"].max()
    assert last == 40 + 2.0 * 199
    assert last <= s["sim_end_s"] < last + 60  # stops once the last request has ended
