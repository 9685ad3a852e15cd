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

import typer
from rich.console import Console
from rich.table import Table

import stormsim
from stormsim.api import scenario_json_schema
from stormsim.errors import InputError, SimulationError

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
    """Run ``fn``; turn input errors into exit 2 and simulation failures into exit 1."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", stormsim.StormsimWarning)
        try:
            result = fn()
        except InputError as e:
            for p in e.problems:
                err.print(f"error: {p}", markup=False)
            raise typer.Exit(2) from None
        except SimulationError as e:
            err.print(f"simulation failed: {e}", markup=False)
            raise typer.Exit(1) from None
        finally:
            for w in caught:
                if issubclass(w.category, stormsim.StormsimWarning):
                    err.print(f"warning: {w.message}", markup=False)
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
    seed: Annotated[int | None, typer.Option(help="Root seed (overrides the scenario's).")] = None,
    format: Annotated[Format, typer.Option("--format", help="Frame file format.")] = Format.parquet,
    until: Annotated[
        float | None, typer.Option("--until", help="End of the simulation (s).", min=0)
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write timeline.png.")] = True,
) -> None:
    """Simulate a scenario and write its results (summary.json, frames, timeline.png)."""
    path = scenario or stormsim.default_scenario_path()

    def go() -> tuple[stormsim.RunResult, Path]:
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


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
