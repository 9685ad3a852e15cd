"""Study plots draw into given Axes and return them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

import stormsim
from stormsim.report import plot_heatmap, plot_heatmap_facets, plot_pareto, plot_timelines
from stormsim.report.sweep import value_order

from .analysis_helpers import small_scenario


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
