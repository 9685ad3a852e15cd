"""Plots, tables and reports. Reads results only.

The plotting functions are imported from their modules on first use, so importing a module of
this package that does not plot (e.g. :mod:`stormsim.report.history`) does not load matplotlib.
No module here selects a matplotlib backend: figures show inline in notebooks, and the CLI
picks a non-interactive one for its own process. The artifact writers are found by the runner
and the studies through the tables of :mod:`stormsim.plugins`, not registered at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stormsim.plugins import lazy_attributes

if TYPE_CHECKING:
    from stormsim.report.serving import plot_latency, write_latency
    from stormsim.report.sweep import (
        plot_heatmap,
        plot_heatmap_facets,
        plot_pareto,
        plot_timelines,
        write_compare_plots,
        write_sweep_plots,
    )
    from stormsim.report.timeline import plot_timeline, write_timeline

_LAZY = {
    "plot_heatmap": "stormsim.report.sweep",
    "plot_heatmap_facets": "stormsim.report.sweep",
    "plot_latency": "stormsim.report.serving",
    "plot_pareto": "stormsim.report.sweep",
    "plot_timeline": "stormsim.report.timeline",
    "plot_timelines": "stormsim.report.sweep",
    "write_compare_plots": "stormsim.report.sweep",
    "write_latency": "stormsim.report.serving",
    "write_sweep_plots": "stormsim.report.sweep",
    "write_timeline": "stormsim.report.timeline",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "plot_heatmap",
    "plot_heatmap_facets",
    "plot_latency",
    "plot_pareto",
    "plot_timeline",
    "plot_timelines",
    "write_compare_plots",
    "write_latency",
    "write_sweep_plots",
    "write_timeline",
]
