"""A workload without an end and a run without one: an error with autoscalers (the run would
stop at the first calm instant), a warning otherwise (found by review: a run stopped at
0.1 s, before any traffic, and said nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from serving_helpers import scenario

import stormsim
from stormsim.errors import InputError


def _no_end(**kw: Any) -> dict[str, Any]:
    data = scenario(**kw)
    data.pop("until_s")
    data["service"]["initial_state"] = "ready"
    return data


def _pa() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling.aibrix.ai/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": {"name": "llm-kpa"},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "orchestration.aibrix.ai/v1alpha1",
                "kind": "StormService",
                "name": "llm",
            },
            "minReplicas": 1,
            "maxReplicas": 4,
            "scalingStrategy": "KPA",
            "metricsSources": [
                {
                    "metricSourceType": "pod",
                    "protocolType": "http",
                    "port": "8000",
                    "path": "/metrics",
                    "targetMetric": "num_requests_running",
                    "targetValue": "8",
                }
            ],
        },
    }


def test_autoscalers_with_an_endless_workload_need_until(tmp_path: Path) -> None:
    data = _no_end()
    data["autoscalers"] = [_pa()]
    with pytest.raises(InputError, match=r"until_s.*is needed"):
        stormsim.run(stormsim.load_scenario(data))
    # with an end it runs
    data["until_s"] = 120
    assert stormsim.run(stormsim.load_scenario(data)).summary["sim_end_s"] == 120
    # the command line: exit 2, one line, nothing written
    del data["until_s"]
    path = tmp_path / "s.yaml"
    with path.open("w") as f:
        YAML().dump(data, f)
    out = tmp_path / "out"
    p = subprocess.run(
        [sys.executable, "-m", "stormsim.cli", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2
    assert "until_s" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists()


def test_an_endless_workload_without_events_or_until_is_warned() -> None:
    with pytest.warns(stormsim.StormsimWarning, match="stopped when the service settled"):
        res = stormsim.run(stormsim.load_scenario(_no_end()))
    assert any("stopped when the service settled" in w for w in res.summary["warnings"])
    # an end (stop_s) or a rollout to settle after: no such warning
    data = _no_end()
    data["workload"]["stop_s"] = 60
    res = stormsim.run(stormsim.load_scenario(data))
    assert not any("stopped when the service settled" in w for w in res.summary["warnings"])


def test_validate_rejects_what_run_rejects(tmp_path: Path) -> None:
    """``stormsim validate`` applies run's until_s check: the same line and exit 2 (found by
    review: validate said ok to a scenario run refused); with until_s it says ok."""
    data = _no_end()
    data["autoscalers"] = [_pa()]
    path = tmp_path / "s.yaml"
    with path.open("w") as f:
        YAML().dump(data, f)

    def cli(verb: str) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-m", "stormsim.cli", verb, str(path)]
        if verb == "run":
            args += ["--out", str(tmp_path / "out")]
        return subprocess.run(args, capture_output=True, text=True, check=False)

    ran, validated = cli("run"), cli("validate")
    assert (ran.returncode, validated.returncode) == (2, 2), validated.stdout
    errors = [ln for ln in validated.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == [ln for ln in ran.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: until_s")
    assert "is needed" in errors[0] and "ok:" not in validated.stdout
    data["until_s"] = 120
    with path.open("w") as f:
        YAML().dump(data, f)
    ok = cli("validate")
    assert ok.returncode == 0 and ok.stdout.startswith("ok: "), ok.stderr
