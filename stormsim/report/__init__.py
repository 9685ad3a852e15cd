"""Plots, tables and reports. Reads results only."""

from stormsim.analysis.compare import COMPARE_ARTIFACT_WRITERS
from stormsim.analysis.sweep import SWEEP_ARTIFACT_WRITERS
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
from stormsim.runner import ARTIFACT_WRITERS

if write_timeline not in ARTIFACT_WRITERS:
    ARTIFACT_WRITERS.append(write_timeline)
if write_latency not in ARTIFACT_WRITERS:
    ARTIFACT_WRITERS.append(write_latency)
if write_sweep_plots not in SWEEP_ARTIFACT_WRITERS:
    SWEEP_ARTIFACT_WRITERS.append(write_sweep_plots)
if write_compare_plots not in COMPARE_ARTIFACT_WRITERS:
    COMPARE_ARTIFACT_WRITERS.append(write_compare_plots)

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
