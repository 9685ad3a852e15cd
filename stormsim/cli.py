"""The ``stormsim`` command line. Parsing, printing and exit codes only: every verb is one
call of the Python API (``stormsim.run``, ``stormsim.load_scenario``, ...).

Exit codes: 0 ok, 2 invalid input (one line per problem, no traceback), 1 simulation failure.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

import stormsim
from stormsim.api import scenario_json_schema
from stormsim.errors import InputError, Problem, SimulationError

app = typer.Typer(
    name="stormsim",
    help="Simulate AIBrix StormService rollouts of P/D LLM inference fleets in virtual time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

T = TypeVar("T")


class Format(StrEnum):
    parquet = "parquet"
    csv = "csv"


def _guard(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn input errors into exit 2 and simulation failures into exit 1.

    Input warnings are printed first (``warning: ...``), then one ``error: ...`` line per
    problem."""
    failure: InputError | SimulationError | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", stormsim.StormsimWarning)
        try:
            result = fn()
        except (InputError, SimulationError) as e:
            failure = e
    for w in caught:
        if issubclass(w.category, stormsim.StormsimWarning):
            err.print(f"warning: {w.message}", markup=False)
        else:  # not ours: let Python's filters decide (printed once, as usual)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if isinstance(failure, InputError):
        for p in failure.problems:
            err.print(f"error: {p}", markup=False)
        raise typer.Exit(2)
    if failure is not None:
        err.print(f"simulation failed: {failure}", markup=False)
        raise typer.Exit(1)
    return result


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


KPI_ROWS = [
    ("update_duration_s", "update duration (s)"),
    ("update_completed", "update completed"),
    ("rolesets_max", "RoleSets max (incl. terminating)"),
    ("rolesets_ready_min", "RoleSets ready min"),
    ("capacity_availability_frac", "capacity availability"),
    ("full_outage_s", "full outage (s)"),
    ("gpus_allocated_peak", "GPUs allocated peak"),
    ("surge_gpus_peak", "surge GPUs peak"),
    ("surge_gpu_hours", "surge GPU-hours"),
    ("pods_pending_max_s", "longest pod pending (s)"),
]


@app.command()
def run(
    scenario: Annotated[
        Path | None,
        typer.Argument(help="Scenario YAML. Omit to run the embedded default scenario."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Results directory [default: results/NAME]")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Root seed (overrides the scenario's).", min=0)
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="Frame file format.")] = Format.parquet,
    until: Annotated[
        float | None, typer.Option("--until", help="End of the simulation (s).", min=0)
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write timeline.png.")] = True,
) -> None:
    """Simulate a scenario and write its results (summary.json, frames, timeline.png)."""
    path = scenario or stormsim.default_scenario_path()

    def go() -> tuple[stormsim.RunResult, Path]:
        if until is not None and until <= 0:
            raise InputError(Problem("--until", f"must be greater than 0, got {until:g}"))
        sc = stormsim.load_scenario(path)
        res = stormsim.run(sc, seed=seed, until_s=until)
        target = out_dir or Path("results") / sc.name
        return res, res.save(target, format=format.value, plots=plots)

    res, saved = _guard(go)
    s = res.summary
    table = Table(title=f"{s['scenario']}  (seed {s['seed']})", show_header=False)
    for key, label in KPI_ROWS:
        table.add_row(label, _fmt(s.get(key)))
    out.print(table)
    out.print(f"results: {saved}", markup=False)


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")]) -> None:
    """Check a scenario and its manifests without simulating."""
    sc = _guard(lambda: stormsim.load_scenario(scenario))
    roles = sc.service.manifest.spec.template.spec.roles
    out.print(
        f"ok: {sc.name}: StormService {sc.service.manifest.name} "
        f"({sc.service.manifest.spec.replicas} RoleSets, roles "
        f"{', '.join(f'{r.name}x{r.replicas}' for r in roles)}), {len(sc.events)} events",
        markup=False,
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2) + "\n")


rollout_app = typer.Typer(help="Inspect the rollouts of a results directory.", no_args_is_help=True)
app.add_typer(rollout_app, name="rollout")


@rollout_app.command("history")
def rollout_history_cmd(
    results_dir: Annotated[Path, typer.Argument(help="A results directory of `stormsim run`.")],
    all_revisions: Annotated[
        bool, typer.Option("--all", help="Include revisions removed by the history limit.")
    ] = False,
) -> None:
    """List the ControllerRevisions of a run, like `kubectl rollout history`."""
    from stormsim.report.history import rollout_history

    df = _guard(lambda: rollout_history(results_dir, include_deleted=all_revisions))
    rows = [("REVISION", "NAME", "CREATED(s)", "STATE", "CHANGE-CAUSE")]
    for _, r in df.iterrows():
        state = "current" if r["current"] else ("deleted" if pd.notna(r["deleted_at_s"]) else "")
        rows.append(
            (str(r["revision"]), r["name"], f"{r['created_at_s']:g}", state, r["change_cause"])
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True))
        out.print(f"{line}  {row[4]}", markup=False)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
