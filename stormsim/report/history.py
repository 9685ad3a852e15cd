"""``kubectl rollout history`` for a results directory: the ControllerRevisions of a run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stormsim.errors import InputError, Problem
from stormsim.sim.autoscaling import SOURCE as AUTOSCALER_SOURCE


def _frame(results_dir: Path, name: str) -> pd.DataFrame:
    for ext, reader in (("parquet", pd.read_parquet), ("csv", pd.read_csv)):
        path = results_dir / f"{name}.{ext}"
        if path.exists():
            return reader(path)
    raise InputError(Problem("RESULTS_DIR", f"{results_dir} has no {name}.parquet or {name}.csv"))


def rollout_history(results_dir: str | Path, include_deleted: bool = False) -> pd.DataFrame:
    """ControllerRevisions of a run, by revision number: ``revision``, ``name``,
    ``created_at_s``, ``deleted_at_s``, ``change_cause`` (the scenario event that made the
    template, ``autoscale: <write>`` for a PodAutoscaler's write of a pooled role's replicas,
    or ``initial manifest``) and ``current`` (the revision the service ended on).

    Like ``kubectl rollout history``, revisions removed by ``revisionHistoryLimit`` are left
    out unless ``include_deleted``.
    """
    d = Path(results_dir)
    if not d.is_dir():
        raise InputError(Problem("RESULTS_DIR", f"not a results directory: {d}"))
    revs = _frame(d, "revisions")
    events = _frame(d, "events")
    status = _frame(d, "status")
    # what can make a new template: a scenario event, or a PodAutoscaler's write of a pooled
    # role's replicas (its /scale writes change spec.replicas, never the template)
    role_write = (
        (events["source"] == AUTOSCALER_SOURCE)
        & (events["verb"] == "scale")
        & events["detail"].astype(str).str.contains(": role ", regex=False)
    )
    scen = events[(events["source"] == "scenario") | role_write].sort_values("t_s", kind="stable")
    bumps = events[
        (events["kind"] == "ControllerRevision") & (events["verb"] == "update")
    ].sort_values("t_s", kind="stable")
    causes = []
    for _, r in revs.iterrows():
        # the template was last (re)applied when created, or when a rollback bumped it
        made = bumps[bumps["name"] == r["name"]]
        at = float(made["t_s"].iloc[-1]) if len(made) else float(r["created_at_s"])
        before = scen[(scen["t_s"] <= at) & (scen["verb"] != "pause") & (scen["verb"] != "resume")]
        if before.empty:
            causes.append("")
            continue
        last = before.iloc[-1]
        detail = last["detail"] if isinstance(last["detail"], str) else ""
        if last["source"] == AUTOSCALER_SOURCE:
            causes.append(f"autoscale: {detail}")
        elif last["verb"] == "apply" and detail == "initial manifest":
            causes.append("initial manifest")
        else:
            causes.append(f"{last['verb']}: {detail}" if detail else str(last["verb"]))
    out = revs.assign(change_cause=causes)
    current = status["current_revision"].iloc[-1] if len(status) else ""
    # by identity: a revision deleted by the history limit and re-created under its old name
    # is two rows, only the live one current
    out["current"] = (out["name"] == current) & out["deleted_at_s"].isna()
    if not include_deleted:
        out = out[out["deleted_at_s"].isna()]
    cols = ["revision", "name", "created_at_s", "deleted_at_s", "change_cause", "current"]
    return out.sort_values("revision")[cols].reset_index(drop=True)
