"""Study plots draw into given Axes and return them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

import stormsim
from stormsim.report import plot_heatmap, plot_heatmap_facets, plot_pareto, plot_timelines
from stormsim.report.sweep import value_order

from .analysis_helpers import UNAV, small_scenario


def test_value_order() -> None:
    assert value_order(["50%", 1, "25%", 0, "Parallel", 1]) == [0, 1, "25%", "50%", "Parallel"]
    assert value_order(["Sequential", "Parallel"]) == ["Sequential", "Parallel"]


def test_plots_take_and_return_axes() -> None:
    res = stormsim.sweep(small_scenario(), jobs=1)
    _, ax = plt.subplots()
    assert plot_heatmap(res.cells, "surge_gpu_hours", ax=ax) is ax
    assert ax.get_xlabel() == "maxSurge" and ax.get_ylabel() == "maxUnavailable"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "50%"]
    assert plot_pareto(res.cells, ax=ax) is ax
    axes = plot_heatmap_facets(res.cells, "capacity_availability_frac")
    assert len(axes) == 1
    with pytest.raises(ValueError, match="no KPI"):
        plot_heatmap(res.cells, "nope")
    cmp = stormsim.compare(small_scenario(), ["baseline", "name=fast,maxSurge=2"])
    _, grid = plt.subplots(2, 2)
    assert plot_timelines(cmp.results, axes=grid) is not None
    assert grid[0, 1].get_title() == "fast"
    plt.close("all")


def test_colour_scales_start_at_zero() -> None:
    import numpy as np

    from stormsim.report.sweep import colour_range

    # a 2 ms spread is not stretched to best-vs-worst
    assert colour_range("window_ttft_p99_s", np.array([0.502, 0.504])) == (0.0, 0.504)
    assert colour_range("capacity_availability_frac", np.array([0.7, 0.72])) == (0.0, 1.0)
    assert colour_range("x", np.array([])) == (None, None)


def test_heatmap_marks_infeasible_cells_and_pareto_shows_them_apart() -> None:
    from matplotlib.patches import Rectangle

    res = stormsim.sweep(small_scenario(), jobs=1, plots=False, require=["surge_gpus_peak<=1"])
    n_bad = int((~res.cells["feasible"].astype(bool)).sum())
    _, ax = plt.subplots()
    plot_heatmap(res.cells, "update_duration_s", ax=ax)
    hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch() == "///"]
    assert len(hatched) == n_bad + 1  # one per infeasible cell, and the legend's
    assert "infeasible" in [t.get_text() for t in ax.get_legend().get_texts()]
    _, ax = plt.subplots()
    plot_pareto(res.cells, ax=ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"infeasible: breaks a requirement ({n_bad})" in labels
    # constant parameters are in the title, not repeated in every label
    one = res.cells[res.cells[UNAV] == 1].reset_index(drop=True)
    _, ax = plt.subplots()
    plot_pareto(one, ax=ax)
    assert ax.get_title().endswith("maxUnavailable=1")
    assert all("maxUnavailable" not in t.get_text() for t in ax.texts)
    plt.close("all")


def test_compare_timelines_grid_shares_axes_and_has_labels() -> None:
    import numpy as np

    names = [f"name=s{k},maxSurge={k}" for k in range(5)]
    sc = stormsim.override(
        small_scenario(until_s=300), {"workload": {"arrival": {"kind": "poisson", "rate_rps": 2}}}
    )
    cmp = stormsim.compare(sc, names, jobs=1)
    axes = plot_timelines(cmp.results)
    assert axes.shape == (3, 5)
    fig = axes[0, 0].figure
    assert fig.get_size_inches()[0] < 16  # at most 4 blocks a row
    assert len({axes[2, j].get_ylim() for j in range(5)}) == 1  # one TTFT axis
    for j in range(5):
        assert axes[2, j].get_ylabel().startswith("TTFT p99")
        assert axes[0, j].get_title() == f"s{j}"
        slo = [ln for ln in axes[2, j].get_lines() if np.allclose(ln.get_ydata(), 1.0)]
        assert slo, "the SLO line (1 s) is drawn on every TTFT panel"
    plt.close("all")


def test_revision_labels_name_numbers_and_image_tags() -> None:
    from stormsim.report.revlabels import image_tag, revision_labels

    assert image_tag("vllm/vllm-openai:v0.11.0") == "v0.11.0"
    assert image_tag("registry:5000/img") == "img"
    r = stormsim.run(stormsim.load_scenario(small_scenario()))
    labels = sorted(revision_labels(r.frames["revisions"], r.scenario).values())
    assert labels == ["rev 1 (v0.10.2)", "rev 2 (v0.11.0)"]
