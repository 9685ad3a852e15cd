"""Records -> tidy pandas DataFrames (the frames of the README's output reference)."""

from __future__ import annotations

from itertools import chain

import numpy as np
import pandas as pd

from stormsim.sim.recorder import (
    AUTOSCALING_FIELDS,
    COUNTERS,
    EVENT_FIELDS,
    NODE_FIELDS,
    POD_FIELDS,
    REVISION_FIELDS,
    ROLESET_FIELDS,
    STATUS_FIELDS,
    Recorder,
)

TIMESERIES_FIXED = (
    "t_s",
    *COUNTERS,
    "capacity_frac",
)


_CAPACITY_SUFFIXES = (".pods_desired", ".pods_ready")
"""The ``role.<name>.*`` counters :func:`capacity_frac` reads."""


def capacity_frac(ts: pd.DataFrame) -> pd.Series:
    """Serving capacity as a fraction of desired: per role min(1, ready pods / desired pods),
    then the minimum over roles with desired > 0 (P without D serves nothing); 1 when nothing
    is desired."""
    roles = [
        c[len("role.") : -len(".pods_desired")]
        for c in ts.columns
        if c.endswith(".pods_desired") and c.startswith("role.")
    ]
    out = np.ones(len(ts))
    for r in roles:
        desired = ts[f"role.{r}.pods_desired"].to_numpy(dtype=float)
        ready = ts.get(f"role.{r}.pods_ready", pd.Series(np.zeros(len(ts)))).to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(
                desired > 0, np.minimum(1.0, ready / np.where(desired > 0, desired, 1)), 1.0
            )
        out = np.minimum(out, frac)
    return pd.Series(np.asarray(out, dtype=float), index=ts.index)


def timeseries_frame(rec: Recorder) -> pd.DataFrame:
    """One row per sample: ``t_s``, the fixed counters, ``capacity_frac``, then the other
    counters sorted by name; a counter missing from a (sparse) row is 0, counters are rounded
    to integers. Built as one dense integer block filled from the sparse rows by column index
    (a long autoscaled run has thousands of columns, nearly all 0)."""
    counters = [c for c in rec.columns if c != "capacity_frac"]
    present = set(counters)
    fixed = [c for c in COUNTERS if c in present]
    order = fixed + sorted(present.difference(fixed))
    col_of = {c: j for j, c in enumerate(order)}
    rows = rec.rows
    n, total = len(rows), sum(map(len, rows))
    # the non-zero cells: row, column and value of every entry of every row
    r = np.repeat(np.arange(n), np.fromiter(map(len, rows), np.intp, count=n))
    c = np.fromiter(map(col_of.__getitem__, chain.from_iterable(rows)), np.intp, count=total)
    v = np.fromiter(chain.from_iterable(map(dict.values, rows)), np.float64, count=total)
    v[np.isnan(v)] = 0.0
    if not np.isfinite(v).all():
        raise ValueError("time-series counters must be finite")
    block = np.zeros((n, len(order)), np.int64)
    block[r, c] = np.round(v).astype(np.int64)
    df = pd.DataFrame(block, columns=order, copy=False)
    df.insert(0, "t_s", rec.rows_t)
    # the capacity from the counters as recorded (before rounding): only the role columns
    roles = [k for k in order if k.startswith("role.") and k.endswith(_CAPACITY_SUFFIXES)]
    sub = np.full(len(order), -1, np.intp)
    sub[[col_of[k] for k in roles]] = np.arange(len(roles))
    keep = sub[c] >= 0
    role_block = np.zeros((n, len(roles)))
    role_block[r[keep], sub[c[keep]]] = v[keep]
    cap = capacity_frac(pd.DataFrame(role_block, columns=roles, copy=False))
    df.insert(1 + len(fixed), "capacity_frac", cap.to_numpy())
    return df


def _records(records: list[dict[str, object]], fields: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame(records, columns=list(fields))
    for c in fields:
        if c.endswith("_s"):
            df[c] = df[c].astype("float64")
    return df


def pods_frame(rec: Recorder) -> pd.DataFrame:
    df = _records(list(rec.pod_records), POD_FIELDS)
    df["slot"] = df["slot"].astype("Int64")
    df["gpus"] = df["gpus"].fillna(0).astype("int64")
    return df


def rolesets_frame(rec: Recorder) -> pd.DataFrame:
    df = _records(list(rec.roleset_records), ROLESET_FIELDS)
    df["index"] = df["index"].astype("Int64")
    return df


def events_frame(rec: Recorder) -> pd.DataFrame:
    df = pd.DataFrame(rec.events, columns=list(EVENT_FIELDS))
    df["t_s"] = df["t_s"].astype("float64")
    return df


def revisions_frame(rec: Recorder) -> pd.DataFrame:
    df = _records(list(rec.revision_records), REVISION_FIELDS)
    df["revision"] = df["revision"].astype("Int64")
    return df


def status_frame(rec: Recorder) -> pd.DataFrame:
    """One row per StormService status write: the StormService counts, conditions, revisions
    and ``role.<name>.<count>`` columns from ``status.roleStatuses``."""
    df = pd.DataFrame(rec.status, columns=list(STATUS_FIELDS))
    df["t_s"] = df["t_s"].astype("float64")
    roles = pd.DataFrame(rec.status_roles, index=df.index) if len(df) else pd.DataFrame()
    if len(roles.columns):
        roles = roles.fillna(0).astype("int64")
        df = pd.concat([df, roles[sorted(roles.columns)]], axis=1)
    return df


def nodes_frame(rec: Recorder) -> pd.DataFrame:
    """One row per node (with a node autoscaler): pool, GPUs, origin and its lifecycle times."""
    df = _records(list(rec.node_records), NODE_FIELDS)
    df["gpus"] = df["gpus"].fillna(0).astype("int64")
    return df


def autoscaling_frame(rec: Recorder) -> pd.DataFrame:
    """One row per autoscaler reconcile and metric source (README: ``autoscaling``)."""
    df = pd.DataFrame(rec.autoscaling, columns=list(AUTOSCALING_FIELDS))
    for c in ("t_s", "target_value", "value", "stable", "panic", "scrape_s"):
        df[c] = df[c].astype("float64")
    for c in (
        "recommendation",
        "min_replicas",
        "max_replicas",
        "target_replicas",
        "written_replicas",
    ):
        df[c] = df[c].astype("Int64")
    for c in ("desired", "current", "ready"):  # null: a reconcile that made no decision
        df[c] = df[c].astype("Int64")
    return df


def build_frames(rec: Recorder, autoscaling: bool = False) -> dict[str, pd.DataFrame]:
    """The frames of one run (``autoscaling`` only when the scenario has autoscalers)."""
    frames = {
        "timeseries": timeseries_frame(rec),
        "pods": pods_frame(rec),
        "rolesets": rolesets_frame(rec),
        "events": events_frame(rec),
        "revisions": revisions_frame(rec),
        "status": status_frame(rec),
    }
    if rec.nodes_tracked:
        frames["nodes"] = nodes_frame(rec)
    if autoscaling:
        frames["autoscaling"] = autoscaling_frame(rec)
    return frames
