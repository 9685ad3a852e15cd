"""The command lines the notebooks show run as shown (found by review: the autoscaler notebook
showed a ``--grid`` in list syntax that exits 2). Each is read from the notebook itself, so the
text and this test cannot drift apart, and run with a short ``--until``."""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "autoscaler-tuning.ipynb"


def _cells(kind: str) -> list[str]:
    nb = json.loads(NOTEBOOK.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def test_the_autoscaler_notebook_sweep_command_runs(tmp_path: Path) -> None:
    commands = [
        m for text in _cells("markdown") for m in re.findall(r"`(stormsim sweep [^`]*)`", text)
    ]
    assert len(commands) == 1, commands
    args = shlex.split(commands[0])
    out = tmp_path / "out"
    p = subprocess.run(
        [sys.executable, "-m", "stormsim.cli", *args[1:], "--until", "60", "--out", str(out),
         "--no-plots", "--jobs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    cells = pd.read_parquet(out / "cells.parquet")
    target = "autoscalers[0].spec.metricsSources[0].targetValue"
    # the notebook's own study: its targets (strings, as the field) under both profiles
    code = "\n".join(_cells("code"))
    m = re.search(r"^targets = (\[.*\])$", code, re.M)
    assert m is not None
    targets = ast.literal_eval(m.group(1))
    assert sorted(set(cells[target])) == sorted(targets)
    assert set(cells["autoscaling.profile"]) == {"aibrix-e3e10f9e", "fixed-math"}
    assert len(cells) == 2 * len(targets) and (cells["n_failed"] == 0).all()
