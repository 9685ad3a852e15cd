"""Every notebook executes end to end in a Jupyter kernel (on a small case, via
STORMSIM_NOTEBOOK_SMALL), shows its figures inline (the kernel's own matplotlib backend, and
``%matplotlib inline`` in the notebooks): every cell that plots has an ``image/png`` output;
and is committed without outputs."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


PLOTTING = re.compile(r"\bplot_\w+\(|\bplt\.(subplots|figure|show)\b")
"""A code cell that draws: it must show at least one figure."""


def _check_tradeoffs(text: str, out: Path) -> None:
    assert "6 cells x 2 seeds" in text and "0 failed" in text
    assert (out / "cells.parquet").exists()
    assert os.listdir(out / "runs")
    # the latency question, answered with a requirement on the update-window p99 TTFT
    assert "window_ttft_p99_s<=2 (sweep.require[0])" in text
    assert "fastest feasible rollout: maxSurge=2, maxUnavailable=1" in text
    assert re.search(r"answer: maxSurge=2, maxUnavailable=1 .* needs 16 spare GPUs", text)
    assert (out / "traffic" / "cells.parquet").exists()


def _check_planning(text: str, out: Path) -> None:
    assert "recommended:" in text
    assert "recommendation holds with fresh seeds: True" in text
    assert "cheaper rejected configuration fails with fresh seeds: True" in text
    assert (out / "plan.html").is_file()


def _check_autoscaler(text: str, out: Path) -> None:
    assert "4 runs, 0 failed" in text
    assert (out / "cells.parquet").exists()
    assert "slo_attainment_frac" in text and "gpu_hours" in text


CHECKS: dict[str, Callable[[str, Path], None]] = {
    "maxsurge_maxunavailable_tradeoffs.ipynb": _check_tradeoffs,
    "capacity_planning.ipynb": _check_planning,
    "autoscaler-tuning.ipynb": _check_autoscaler,
}
FIGURES = {
    "maxsurge_maxunavailable_tradeoffs.ipynb": 6,
    "capacity_planning.ipynb": 3,
    "autoscaler-tuning.ipynb": 2,
}
"""Inline figures (``image/png`` outputs) each notebook shows."""


def test_every_notebook_is_checked() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_is_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_executes(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv("STORMSIM_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("STORMSIM_NOTEBOOK_OUT", str(out))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel picks its inline backend
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    plotting = [c for c in nb.cells if c.cell_type == "code" and PLOTTING.search(c.source)]
    assert plotting
    for c in plotting:
        kinds = [o.get("output_type") for o in c.outputs]
        assert any("image/png" in o.get("data", {}) for o in c.outputs), (c.source, kinds)
    text = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    CHECKS[name](text, out)
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(images) == FIGURES[name]
