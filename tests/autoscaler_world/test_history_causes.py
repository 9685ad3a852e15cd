"""``stormsim rollout history`` of a pooled role scaled by a PodAutoscaler: each revision the
autoscaler's writes made says so (``autoscale: ...``), not ``initial manifest``; a write back
to an earlier value bumps that revision's number, and the event does not call it a rollback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import stormsim
from stormsim.cli import app
from stormsim.report.history import rollout_history
from tests.autoscaler_world.helpers import autoscaler, scenario, service


def test_autoscaler_revisions_name_their_cause(tmp_path: Path) -> None:
    svc = service(1, {"prefill": 4, "decode": 2}, updateStrategy={"type": "InPlaceUpdate"})
    pa = autoscaler("KPA", "1", 1, 8, role="prefill", metric="num_requests_waiting")
    # no traffic: every pod reads 0, so the KPA halves the prefill role 4 -> 2 -> 1
    sc = scenario(svc, [pa], until_s=60.0, profile="fixed-math")
    res = stormsim.run(sc)
    out = res.save(tmp_path / "results", plots=False)
    hist = rollout_history(out, include_deleted=True)
    assert len(hist) >= 2
    assert hist["change_cause"].iloc[0] == "initial manifest"
    later = list(hist["change_cause"].iloc[1:])
    assert all(c.startswith("autoscale: pa: role prefill replicas=") for c in later), later
    r = CliRunner().invoke(app, ["rollout", "history", "--all", str(out)])
    assert r.exit_code == 0, r.output
    assert "autoscale:" in r.output
    ev = res.frames["events"]
    assert not ev["detail"].astype(str).str.contains("rollback").any()
