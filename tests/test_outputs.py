"""The output contract of DESIGN.md: what ``stormsim run`` and ``RunResult.save`` write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import stormsim
import stormsim.runner
from stormsim.cli import app

KPI_KEYS = {
    "update_duration_s",
    "update_completed",
    "rolesets_max",
    "rolesets_ready_min",
    "capacity_availability_frac",
    "full_outage_s",
    "gpus_allocated_peak",
    "surge_gpus_peak",
    "surge_gpu_hours",
    "pods_pending_max_s",
}
SUMMARY_KEYS = KPI_KEYS | {"scenario", "seed", "stormsim_version"}
PROVENANCE_KEYS = {"stormsim_version", "seed", "scenario_hash", "wall_time_s", "exception"}
COLUMNS = {
    "timeseries": [
        "t_s",
        "rolesets_total",
        "rolesets_ready",
        "rolesets_updated",
        "rolesets_terminating",
        "pods_total",
        "pods_ready",
        "gpus_allocated",
        "gpus_capacity",
    ],
    "pods": [
        "pod",
        "roleset",
        "role",
        "revision",
        "node",
        "gpus",
        "created_at_s",
        "scheduled_at_s",
        "ready_at_s",
        "deleted_at_s",
        "gone_at_s",
    ],
    "rolesets": ["roleset", "revision", "created_at_s", "ready_at_s", "deleted_at_s", "gone_at_s"],
    "events": ["t_s", "source", "verb", "kind", "name", "revision", "detail"],
    "revisions": ["name", "revision", "created_at_s", "deleted_at_s"],
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROLLOUT = [{"at_s": 30, "kind": "set_image", "image": "vllm/vllm-openai:v0.11.0"}]

runner = CliRunner()


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def check_results_dir(out: Path, fmt: str = "parquet", plots: bool = True) -> dict[str, Any]:
    """Assert ``out`` holds the documented files; return the summary."""
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS, SUMMARY_KEYS - set(summary)
    assert summary["stormsim_version"] == stormsim.__version__
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov) >= PROVENANCE_KEYS, PROVENANCE_KEYS - set(prov)
    assert prov["seed"] == summary["seed"]
    assert prov["exception"] is None
    assert (out / "scenario.resolved.yaml").is_file()
    for name, cols in COLUMNS.items():
        f = out / f"{name}.{fmt}"
        assert f.is_file(), f
        df = _read(f)
        missing = [c for c in cols if c not in df.columns]
        assert not missing, f"{f.name} lacks {missing}"
        if name != "revisions":
            assert len(df) > 0, f
    other = "csv" if fmt == "parquet" else "parquet"
    assert not list(out.glob(f"*.{other}"))
    if plots:
        assert (out / "timeline.png").read_bytes()[:8] == PNG_MAGIC
    else:
        assert not (out / "timeline.png").exists()
    return summary


@pytest.fixture
def scenario_file(tmp_path: Path, make_scenario: Any, write_scenario: Any) -> Path:
    return write_scenario(tmp_path / "in", make_scenario(events=ROLLOUT))


def test_cli_run_writes_the_output_contract(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["run", str(scenario_file), "--out", "out"])
    assert res.exit_code == 0, res.output
    summary = check_results_dir(tmp_path / "out")
    assert summary["scenario"] == "test"
    assert summary["seed"] == 1
    assert summary["update_completed"] is True
    assert res.stdout.rstrip().endswith("results: out")


def test_cli_run_csv(scenario_file: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["run", str(scenario_file), "--out", str(tmp_path / "csv"), "--format", "csv"]
    )
    assert res.exit_code == 0, res.output
    check_results_dir(tmp_path / "csv", "csv")


def test_cli_seed_overrides_the_scenario(scenario_file: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["run", str(scenario_file), "--out", str(tmp_path / "o"), "--seed", "77", "--no-plots"]
    )
    assert res.exit_code == 0, res.output
    summary = check_results_dir(tmp_path / "o", plots=False)
    assert summary["seed"] == 77
    assert "(seed 77)" in res.stdout


def test_save_writes_the_output_contract(scenario_file: Path, tmp_path: Path) -> None:
    result = stormsim.run(stormsim.load_scenario(scenario_file))
    out = result.save(tmp_path / "a" / "b")
    assert out == tmp_path / "a" / "b"
    summary = check_results_dir(out)
    assert summary == json.loads(json.dumps(result.summary))
    for name in COLUMNS:
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / f"{name}.parquet"),
            result.frames[name].reset_index(drop=True),
            check_dtype=False,
        )
    result.save(tmp_path / "c", format="csv", plots=False)
    check_results_dir(tmp_path / "c", "csv", plots=False)
    with pytest.raises(stormsim.InputError, match="must be parquet or csv"):
        result.save(tmp_path / "d", format="xlsx")  # type: ignore[arg-type]
    assert not (tmp_path / "d").exists()


def test_resolved_scenario_reloads_and_gives_the_same_run(
    scenario_file: Path, tmp_path: Path
) -> None:
    first = stormsim.run(stormsim.load_scenario(scenario_file))
    out = first.save(tmp_path / "r1", plots=False)
    again = stormsim.load_scenario(out / "scenario.resolved.yaml")
    assert again.seed == first.seed
    assert again.service.manifest == first.scenario.service.manifest
    second = stormsim.run(again)
    assert second.summary == first.summary
    for name, df in first.frames.items():
        pd.testing.assert_frame_equal(second.frames[name], df, obj=name)
    # resolving is idempotent: the resolved scenario of the resolved scenario is the same
    out2 = second.save(tmp_path / "r2", plots=False)
    assert (out2 / "scenario.resolved.yaml").read_text() == (
        out / "scenario.resolved.yaml"
    ).read_text()


def test_unseeded_run_records_its_seed(
    make_scenario: Any, write_scenario: Any, tmp_path: Path
) -> None:
    path = write_scenario(tmp_path, make_scenario(seed=None, events=ROLLOUT))
    first = stormsim.run(path)
    assert isinstance(first.summary["seed"], int)
    out = first.save(tmp_path / "o", plots=False)
    second = stormsim.run(out / "scenario.resolved.yaml")
    assert second.summary == first.summary


def test_save_replaces_an_existing_directory(scenario_file: Path, tmp_path: Path) -> None:
    result = stormsim.run(stormsim.load_scenario(scenario_file))
    out = tmp_path / "res"
    out.mkdir()
    (out / "stale.txt").write_text("old run")
    (out / "summary.json").write_text("{}")
    (out / "provenance.json").write_text("{}")  # the markers of a results directory
    result.save(out, plots=False)
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "summary.json").read_text())["scenario"] == "test"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "res"]  # no temp dirs left


def test_failed_save_leaves_the_old_directory(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = stormsim.run(stormsim.load_scenario(scenario_file))
    out = tmp_path / "res"
    out.mkdir()
    (out / "summary.json").write_text('{"old": true}')
    (out / "provenance.json").write_text("{}")

    def broken(res: stormsim.RunResult, d: Path) -> None:
        (d / "partial.png").write_bytes(b"")
        raise RuntimeError("disk full")

    monkeypatch.setattr(stormsim.runner, "ARTIFACT_WRITERS", [broken])
    with pytest.raises(RuntimeError, match="disk full"):
        result.save(out)
    assert json.loads((out / "summary.json").read_text()) == {"old": True}
    assert sorted(p.name for p in out.iterdir()) == ["provenance.json", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "res"]


def test_default_scenario_without_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["run", "--no-plots"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "results" / "default-3x1p1d-image-update"
    summary = check_results_dir(out, plots=False)
    assert summary["scenario"] == "default-3x1p1d-image-update"
    assert summary["seed"] == 42
    assert summary["update_completed"] is True


def test_validate_and_schema_on_the_default_scenario() -> None:
    res = runner.invoke(app, ["validate", str(stormsim.default_scenario_path())])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("ok: default-3x1p1d-image-update: StormService llm-1p1d")
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0
    schema = json.loads(res.stdout)
    assert "$defs" in schema and "Scenario" not in schema["$defs"]
    assert schema["$defs"]["Service"]["properties"]["manifest"]["anyOf"][0]["type"] == "string"


def test_make_demo_command_line(tmp_path: Path) -> None:
    """``make demo`` runs ``.venv/bin/stormsim run --out results/demo``."""
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    out = tmp_path / "demo"
    proc = subprocess.run(
        [str(exe), "run", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = check_results_dir(out)
    assert summary["update_completed"] is True
    assert f"results: {out}" in proc.stdout
