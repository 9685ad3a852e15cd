"""Upper bounds on sizes: what the Kubernetes API server enforces, and what stormsim can
simulate on one machine (a clear error, with the bound, instead of a run that never ends).
"""

from __future__ import annotations

INT32_MAX = 2**31 - 1
"""Kubernetes ``int32`` fields (``replicas``, ``podGroupSize``, ``revisionHistoryLimit``)."""

MAX_GPUS_PER_POD = 1024
"""GPUs one pod may ask for (no node has more)."""

MAX_NODES = 100_000
"""Nodes of a simulated cluster."""

MAX_GPUS_PER_NODE = 1024
"""GPUs of one node."""

MAX_PODS = 1_000_000
"""Pods of a simulated fleet (RoleSets x pods per RoleSet, at any scale the scenario asks
for): beyond this a run would not finish in reasonable time or memory."""

NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"
"""Pattern of names: no NUL, newline, escape or other control character."""
