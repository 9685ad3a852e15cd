"""``plan --require`` / ``plan.require``: requirements on summary KPIs besides the SLO, the
same notion as in ``compare`` and ``sweep``; a configuration meets them when every seed's run
does, update-window KPIs only in the rollout phase."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import stormsim
from stormsim.analysis.plan import Candidate, Config, Evaluation, judge
from stormsim.analysis.requirements import parse_requirement
from stormsim.errors import InputError

REPLICA = Candidate("pd", "H100-80GB", 4, 4, (1, 1))


def _ev(kpis: list[dict[str, float]], reqs: list[str], phase: str = "steady") -> Evaluation:
    recs = [
        {
            "seed": i + 1,
            "status": "ok",
            "summary": {"attainment_frac": 0.99, "update_completed": True, "kpis": k},
        }
        for i, k in enumerate(kpis)
    ]
    parsed = tuple(parse_requirement(r, "--require") for r in reqs)
    return Evaluation(Config(REPLICA, 1, 1, 4), 1.0, phase, None, recs, "min", 0.95, parsed)  # type: ignore[arg-type]


def test_judge_holds_every_seed_to_the_requirements() -> None:
    assert judge(_ev([{"ttft_p99_s": 0.4}, {"ttft_p99_s": 0.5}], ["ttft_p99_s<=0.5"])).ok
    v = judge(_ev([{"ttft_p99_s": 0.4}, {"ttft_p99_s": 0.6}], ["ttft_p99_s<=0.5"]))
    assert not v.ok and v.reason == "ttft_p99_s<=0.5 not met (seed 2: 0.6)"
    v = judge(_ev([{}], ["ttft_p99_s<0.5"]))
    assert not v.ok and "not measured" in v.reason
    assert not judge(_ev([{"ttft_p99_s": 0.5}], ["ttft_p99_s<0.5"])).ok  # strict


def test_update_window_kpis_are_held_only_in_the_rollout_phase() -> None:
    reqs = ["update_duration_s<=60"]
    assert judge(_ev([{}], reqs, phase="steady")).ok  # no update in a steady-state run
    assert not judge(_ev([{}], reqs, phase="rollout")).ok
    assert not judge(_ev([{"update_duration_s": 61.0}], reqs, phase="rollout")).ok
    assert judge(_ev([{"update_duration_s": 59.0}], reqs, phase="rollout")).ok


def test_unknown_kpi_is_an_input_error(tiny_plan_file: Path) -> None:
    with pytest.raises(InputError, match=r"--require.*unknown KPI 'ttft_p99'"):
        stormsim.plan(tiny_plan_file, require=["ttft_p99<=1"])


def test_plan_require_in_yaml_is_validated(tmp_path: Path, tiny_plan_file: Path) -> None:
    data = yaml.safe_load(tiny_plan_file.read_text())
    data["plan"]["require"] = ["ttft_p99_s=>1"]
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=r"plan\.require"):
        stormsim.load_scenario(p)


def _own_copy(out: Path, tmp_path: Path) -> Path:
    """A new output directory holding the session plan's run cache (the session's own output
    directory is read by other tests and must not be overwritten)."""
    mine = tmp_path / "plan"
    shutil.copytree(out / "runs", mine / "runs")
    return mine


def test_requirements_change_the_answer(
    tiny_plan: tuple[stormsim.PlanResult, Path], tiny_plan_file: Path, tmp_path: Path
) -> None:
    """Same runs (the cache of the session's plan), judged with requirements: a lenient one
    keeps the recommendation, an impossible one leaves none and says why."""
    base, shared = tiny_plan
    out = _own_copy(shared, tmp_path)
    assert base.recommendation is not None
    lenient = stormsim.plan(tiny_plan_file, out=out, require=["ttft_p99_s<=1000"])
    assert lenient.recommendation is not None
    assert lenient.recommendation.label == base.recommendation.label
    assert lenient.requirements == ["ttft_p99_s<=1000"]
    assert lenient.n_runs == 0  # nothing re-simulated: requirements only judge
    strict = stormsim.plan(tiny_plan_file, out=out, require=["ttft_p99_s<=0.000001"])
    assert strict.recommendation is None
    assert "requirements ttft_p99_s<=1e-06" in strict.summary_text()
    reasons = set(strict.probes["verdict"].dropna())
    assert any("ttft_p99_s<=1e-06 not met" in r for r in reasons), reasons


def test_cli_require_exit_1_when_unmet(
    tiny_plan: tuple[stormsim.PlanResult, Path], tiny_plan_file: Path, tmp_path: Path
) -> None:
    out = _own_copy(tiny_plan[1], tmp_path)
    cmd = [sys.executable, "-m", "stormsim.cli", "plan", str(tiny_plan_file), "--out", str(out),
           "--quiet", "--require", "ttft_p99_s<=0.000001"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1, p.stderr
    assert "requirements ttft_p99_s<=1e-06" in p.stdout
    assert "Traceback" not in p.stderr
    bad = subprocess.run([*cmd[:-1], "nonsense"], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
