"""The KPI catalogue (``stormsim/metrics/catalogue.py``) is the one definition of every KPI: the
README glossary, the summary of real runs (with and without traffic, with and without
rollouts), the ``rollouts`` frame, the CLI tables and the study columns must agree with it."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from analysis.analysis_helpers import small_scenario

import stormsim
from stormsim import cli
from stormsim.analysis import study
from stormsim.analysis.sweep import PARETO_MAXIMIZE, PARETO_MINIMIZE
from stormsim.metrics import catalogue, glossary
from stormsim.metrics.catalogue import BY_NAME, CATALOGUE, IDENTITY, REQUEST, ROLLOUT, names
from stormsim.report import sweep as report_sweep

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
OPTIONAL = {"nodes", "autoscaling"}
"""KPI groups present only with a node autoscaler / with PodAutoscalers."""
WORKLOAD = {
    "arrival": {"kind": "poisson", "rate_rps": 4},
    "prompt_tokens": {"kind": "constant", "value": 256},
    "output_tokens": {"kind": "constant", "value": 16},
    "start_s": 60,
}


def _glossary_section(text: str) -> str:
    i = text.index(glossary.BEGIN) + len(glossary.BEGIN)
    return text[i : text.index(glossary.END, i)]


def test_readme_glossary_is_generated_from_the_catalogue() -> None:
    text = README.read_text(encoding="utf-8")
    assert glossary.splice(text, glossary.render()) == text, (
        "README KPI glossary differs from the catalogue: run python -m stormsim.metrics.glossary"
    )
    keys = set(re.findall(r"^\| ([^|]+) \|", _glossary_section(text), flags=re.M))
    listed = {k for cell in keys for k in re.findall(r"`([a-z0-9_]+)`", cell)}
    assert listed == set(BY_NAME)
    # and the check mode of the generator agrees
    assert glossary.main(["--check"]) == 0


def test_glossary_check_fails_on_a_stale_readme(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    stale = tmp_path / "README.md"
    stale.write_text(text.replace("| `surge_gpu_hours` |", "| `surge_gpu_hour` |"))
    assert glossary.main(["--check", "--readme", str(stale)]) == 1
    assert glossary.main(["--readme", str(stale)]) == 0
    assert stale.read_text() == text


def test_summary_keys_of_a_run_with_rollouts_without_traffic() -> None:
    res = stormsim.run(small_scenario())
    assert list(res.summary) == [k.name for k in (*IDENTITY, *ROLLOUT)]
    ro = res.frames["rollouts"]
    fixed = ["rollout", "event_index", "action", "started_at_s", "ended_at_s", "duration_s"]
    assert list(ro.columns) == [*fixed, "outcome", *names("rollouts")]


def test_summary_keys_of_a_run_without_rollouts() -> None:
    res = stormsim.run(small_scenario(events=[], until_s=200))
    s = res.summary
    assert list(s) == [k.name for k in (*IDENTITY, *ROLLOUT)]
    for k in ROLLOUT:
        if k.scope == "window" and not k.run_fallback:
            assert s[k.name] is None, k.name
        else:
            assert s[k.name] is not None, k.name


def test_summary_and_compare_columns_with_traffic() -> None:
    sc = small_scenario(workload=WORKLOAD, until_s=400)
    res = stormsim.compare(
        sc,
        [{"name": "surge", "maxSurge": 1, "maxUnavailable": 0}, {"name": "unav", "maxSurge": 0}],
        plots=False,
        progress=False,
    )
    for r in res.results.values():
        assert r is not None
        # node and autoscaling KPIs only with a node autoscaler / PodAutoscalers
        assert list(r.summary) == [k.name for k in CATALOGUE if k.group not in OPTIONAL]
        assert r.summary["requests_arrived"] > 0
    assert res.kpis == [k for k in names("compare") if BY_NAME[k].group not in OPTIONAL]


def test_summary_keys_with_a_node_autoscaler() -> None:
    sc = small_scenario(workload=WORKLOAD, until_s=400)
    sc["cluster"] = {
        "node_pools": [{"name": "h100", "count": 1, "max_nodes": 2, "gpus_per_node": 8}],
        "node_autoscaler": {"kind": "karpenter"},
    }
    res = stormsim.compare(sc, [{"name": "surge", "maxSurge": 1}], plots=False, progress=False)
    r = res.results["surge"]
    assert r is not None
    assert list(r.summary) == [k.name for k in CATALOGUE if k.group != "autoscaling"]
    assert res.kpis == [k for k in names("compare") if BY_NAME[k].group != "autoscaling"]
    assert [k for k, _ in cli.NODE_ROWS] == list(names("run-nodes"))


def test_cli_tables_derive_from_the_catalogue() -> None:
    assert [(k.name, k.label) for k in CATALOGUE if "run" in k.tables] == cli.KPI_ROWS
    assert [k for k, _ in cli.MULTI_ROLLOUT_ROWS] == ["n_rollouts", "update_rolling_time_s"]
    assert [k for k, _ in cli.TRAFFIC_ROWS] == list(names("run-traffic"))
    for table in ("run", "run-multi", "run-traffic"):
        labels = [BY_NAME[n].label for n in names(table)]
        assert None not in labels and len(set(labels)) == len(labels), table


def test_study_columns_derive_from_the_catalogue() -> None:
    assert study.NOT_KPIS == ("scenario", "seed", "stormsim_version", "warnings")
    assert names("compare", group="rollout") == study.HEADLINE_KPIS
    assert names("heatmap", group="rollout") == report_sweep.HEATMAP_KPIS
    assert PARETO_MINIMIZE == ("update_duration_s", "surge_gpu_hours")
    assert PARETO_MAXIMIZE == ("capacity_availability_frac",)
    for k in CATALOGUE:
        assert report_sweep.higher_is_better(k.name) == (k.better == "higher"), k.name
    # every KPI a study ranks by says which way is better
    for table in ("heatmap", "pareto"):
        assert all(BY_NAME[n].better for n in names(table)), table


def test_catalogue_entries_are_well_formed() -> None:
    units = {"s", "fraction", "GPUs", "GPU-hours", "RoleSets", "pods", "requests", "req/s"}
    units |= {"bool", "count", "text", "node-hours", "nodes"}
    for k in CATALOGUE:
        assert k.unit in units, k.name
        assert k.definition and k.tables[0] == "summary", k.name
        assert k.name.endswith("_s") == (k.unit == "s"), k.name
        assert not k.name.endswith("_frac") or k.unit == "fraction", k.name
    # one prefix for the update window: no KPI is named rollout_* any more
    assert not [k.name for k in CATALOGUE if k.name.startswith("rollout")]
    for old, new in catalogue.RENAMED.items():
        assert old not in BY_NAME and new in BY_NAME
    assert [k.name for k in REQUEST if k.scope == "window"][-1] == "request_availability_frac"
    with pytest.raises(KeyError):
        names("no-such-table")


def test_catalogue_is_plain_data() -> None:
    """No pandas (nor anything of stormsim) at import: only the standard library."""
    tree = ast.parse((ROOT / "stormsim" / "metrics" / "catalogue.py").read_text())
    imported: set[Any] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= {"__future__", "dataclasses", "typing"}


def test_cli_run_prints_the_catalogue_rows(tmp_path: Path) -> None:
    """Through the real interface: the rows ``stormsim run`` prints are the catalogue's ``run``
    table, in order, with the summary's values."""
    import json
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("stormsim")
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    out = tmp_path / "r"
    res = subprocess.run(
        [str(exe), "run", "--out", str(out), "--no-plots", "--format", "csv"],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 0, res.stderr
    rows = [
        [c.strip() for c in line.strip("│").split("│")]
        for line in res.stdout.splitlines()
        if line.startswith("│")
    ]
    assert [label for label, _ in rows] == [BY_NAME[n].label for n in names("run")]
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == [k.name for k in (*IDENTITY, *ROLLOUT)]
    assert rows[0][1] == f"{summary['update_duration_s']:.4g}"
