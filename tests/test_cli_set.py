"""``stormsim run --set PATH=VALUE`` and ``stormsim.override``: quick what-ifs by dotted path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import stormsim
from stormsim.cli import app


def test_override_changes_the_manifest_and_revalidates() -> None:
    sc = stormsim.override(
        stormsim.default_scenario(), {"service.manifest.spec.updateStrategy.maxSurge": 2}
    )
    assert sc.service.manifest.spec.update_strategy.max_surge == 2
    s = stormsim.run(sc).summary
    assert s["rolesets_max"] == 5  # replicas 3 + maxSurge 2
    with pytest.raises(stormsim.InputError) as e:
        stormsim.override(stormsim.default_scenario(), {"cluster.node_pools[0].count": -1})
    assert e.value.problems[0].path == "cluster.node_pools[0].count"


def test_cli_set(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        ["run", "--no-plots", "--out", str(out), "--set", "service.manifest.spec.replicas=2"],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_rolesets_created"] == 4  # 2 initial + 2 replaced
    bad = runner.invoke(app, ["run", "--out", str(tmp_path / "x"), "--set", "oops"])
    assert bad.exit_code == 2
    assert not (tmp_path / "x").exists()
