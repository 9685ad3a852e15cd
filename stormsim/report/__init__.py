"""Plots, tables and reports. Reads results only."""

from stormsim.report.timeline import plot_timeline, write_timeline
from stormsim.runner import ARTIFACT_WRITERS

if write_timeline not in ARTIFACT_WRITERS:
    ARTIFACT_WRITERS.append(write_timeline)

__all__ = ["plot_timeline", "write_timeline"]
