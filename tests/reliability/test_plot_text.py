"""User strings are drawn as written in every plot (issue 14, "hostile strings"): a scenario,
strategy, service (so revision), image and swept value named ``$\\frac{$`` renders in the
timeline, latency, heatmap, Pareto and timelines-grid plots, and every text that carries it is
literal (no mathtext)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

import stormsim
from stormsim.report import (
    plot_heatmap,
    plot_heatmap_facets,
    plot_latency,
    plot_pareto,
    plot_timeline,
    plot_timelines,
)
from stormsim.report.mpltext import plain
from tests.conftest import make_manifest, make_scenario

HOSTILE = "$\\frac{$"
IMAGE = "image"  # the swept path of the set_image event's image
SURGE = "service.manifest.spec.updateStrategy.maxSurge"
UNAV = "service.manifest.spec.updateStrategy.maxUnavailable"


def _scenario(**extra: Any) -> dict[str, Any]:
    m = make_manifest(name=f"llm{HOSTILE}", image=f"vllm:{HOSTILE}0")
    return make_scenario(
        m, name=f"x {HOSTILE} y", nodes=2, until_s=150,
        events=[{"at_s": 30, "kind": "set_image", "image": f"vllm:{HOSTILE}1"}],
        workload={"arrival": {"kind": "poisson", "rate_rps": 1},
                  "prompt_tokens": {"kind": "constant", "value": 100},
                  "output_tokens": {"kind": "constant", "value": 10}},
        **extra,
    )  # fmt: skip


def _literal(fig: Figure, at_least: int = 1) -> list[str]:
    """Draw ``fig`` (PNG); every text holding the hostile string is shown as written."""
    fig.savefig(io.BytesIO(), format="png", dpi=40)
    shown = []
    for t in fig.findobj(Text):
        text = t.get_text()
        if "\\frac" not in text:
            continue
        s, ismath = t._preprocess_math(text)  # what matplotlib will draw, and how
        assert not ismath, text
        assert HOSTILE in s, (text, s)
        shown.append(s)
    plt.close(fig)
    assert len(shown) >= at_least, shown
    return shown


def test_plain_escapes_only_dollars() -> None:
    assert plain(HOSTILE) == "\\$\\frac{\\$"
    assert plain("a\\$b") == "a\\\\$b"
    assert plain(3) == "3" and plain("50%") == "50%"


@pytest.fixture(scope="module")
def run_result() -> stormsim.RunResult:
    return stormsim.run(stormsim.load_scenario(_scenario()))


def test_timeline_title_and_revision_legends(run_result: stormsim.RunResult) -> None:
    shown = _literal(plot_timeline(run_result), at_least=3)
    assert any(s.startswith("stormsim timeline x " + HOSTILE) for s in shown)
    assert any(f"({HOSTILE}1)" in s for s in shown)  # rev 2's image tag in a legend


def test_latency_title(run_result: stormsim.RunResult) -> None:
    _literal(plot_latency(run_result))


def test_run_save_writes_every_png(run_result: stormsim.RunResult, tmp_path: Path) -> None:
    out = run_result.save(tmp_path / "out")
    assert (out / "timeline.png").stat().st_size > 0 and (out / "latency.png").stat().st_size > 0


def test_compare_timelines_grid_titles(tmp_path: Path) -> None:
    res = stormsim.compare(
        _scenario(), [f"name={HOSTILE} a,maxSurge=1", f"name={HOSTILE} b,maxSurge=2"],
        out=tmp_path / "cmp", jobs=1,
    )  # fmt: skip
    assert (tmp_path / "cmp" / "timelines.png").stat().st_size > 0
    shown = _literal(plot_timelines(res.results).flat[0].figure, at_least=2)
    assert f"{HOSTILE} a" in shown and f"{HOSTILE} b" in shown


@pytest.fixture(scope="module")
def sweep_result(tmp_path_factory: pytest.TempPathFactory) -> stormsim.SweepResult:
    grid = {SURGE: [1, 2], UNAV: [1], "events[0].image": [f"v:{HOSTILE}a", f"v:{HOSTILE}b"]}
    out = tmp_path_factory.mktemp("sweep") / "out"
    return stormsim.sweep(_scenario(), out, grid=grid, seeds=1, jobs=1)


def test_sweep_writes_every_plot(sweep_result: stormsim.SweepResult) -> None:
    assert sweep_result.out is not None
    pngs = sorted(p.name for p in sweep_result.out.glob("*.png"))
    assert "pareto.png" in pngs and "timelines.png" in pngs
    assert any(p.startswith("heatmap_") for p in pngs)


def test_heatmap_facet_titles(sweep_result: stormsim.SweepResult) -> None:
    axes = plot_heatmap_facets(sweep_result.cells, "update_duration_s", by="events[0].image")
    _literal(axes[0].figure, at_least=2)  # type: ignore[arg-type]


def test_heatmap_tick_labels_and_axis_label(sweep_result: stormsim.SweepResult) -> None:
    ax = plot_heatmap(sweep_result.cells, "update_duration_s", x="events[0].image", y=UNAV)
    shown = _literal(ax.figure, at_least=2)  # type: ignore[arg-type]
    assert f"v:{HOSTILE}a" in shown and f"v:{HOSTILE}b" in shown


def test_pareto_labels(sweep_result: stormsim.SweepResult) -> None:
    cells = sweep_result.cells
    assert cells["pareto"].any()
    _literal(plot_pareto(cells).figure)  # type: ignore[arg-type]


def test_sweep_cell_timelines(sweep_result: stormsim.SweepResult) -> None:
    cells = sweep_result.cells
    labels = cells["cell_label"].tolist()
    assert any(HOSTILE in lb for lb in labels)
    results = sweep_result.timelines(cells=[0, 1], progress=False)
    _literal(plot_timelines(results).flat[0].figure, at_least=2)
