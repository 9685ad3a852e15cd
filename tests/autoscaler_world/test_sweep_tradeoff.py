"""A sweep over autoscaler settings draws GPU-hours against SLO attainment
(``autoscaling_tradeoff.png``): one point per cell, labelled, and the attainment target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from stormsim.report.sweep import plot_autoscaling_tradeoff

ROOT = Path(__file__).resolve().parents[2]
PATH = "autoscalers[0].spec.metricsSources[0].targetValue"


def test_sweep_over_a_target_value_draws_the_tradeoff(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    proc = subprocess.run(
        [
            str(exe), "sweep", str(ROOT / "scenarios" / "autoscale-apa-diurnal.yaml"),
            "-g", f'{PATH}="0.3","0.6"', "--until", "600", "-j", "1", "--out", "sw",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    png = tmp_path / "sw" / "autoscaling_tradeoff.png"
    assert png.stat().st_size > 10_000
    cells = pd.read_parquet(tmp_path / "sw" / "cells.parquet")
    ax = plot_autoscaling_tradeoff(cells, 0.99)
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["targetValue=0.3", "targetValue=0.6"]
    xs = sorted(x for line in ax.lines for x in line.get_xdata() if line.get_marker() in "ox")
    assert xs == sorted(cells["gpu_hours_mean"])
    assert any(list(line.get_ydata()) == [0.99, 0.99] for line in ax.lines)  # the target
    plt.close(ax.figure)
