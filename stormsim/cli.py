"""The ``stormsim`` command line. Parsing, printing and exit codes only: every verb is one
call of the Python API (``stormsim.run``, ``stormsim.load_scenario``, ...).

Exit codes: 0 ok, 2 invalid input (one line per problem, no traceback), 1 simulation failure.

Start-up is kept short (``bench/startup_bench.py``): this module imports only typer, rich and
the light parts of stormsim; each verb imports what it needs (pydantic for scenarios, pandas for
frames, matplotlib for plots) when it runs. :func:`main` makes matplotlib's backend ``Agg`` for
the CLI's own process (it only writes image files); the library itself never picks a backend.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

import stormsim
from stormsim.analysis.paths import parse_value
from stormsim.errors import InputError, Problem, SimulationError
from stormsim.metrics import catalogue
from stormsim.report.runprogress import SimProgress
from stormsim.runner import check
from stormsim.schema.names import printable, safe_dirname

app = typer.Typer(
    name="stormsim",
    help="Simulate AIBrix StormService rollouts of P/D LLM inference fleets in virtual time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# not a terminal (a pipe, a file, CI logs): wide enough that tables never wrap mid-word
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

T = TypeVar("T")


def _print_version(value: bool) -> None:
    if value:
        out.print(f"stormsim {stormsim.__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Simulate AIBrix StormService rollouts of P/D LLM inference fleets in virtual time."""


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
        except OSError as e:  # the file system refused (read-only, full, no permission)
            where = str(e.filename) if e.filename is not None else ""
            failure = InputError(Problem(where, e.strerror or f"{type(e).__name__}: {e}"))
    for w in caught:
        if issubclass(w.category, stormsim.StormsimWarning):
            err.print(f"warning: {printable(str(w.message))}", markup=False)
        else:  # not ours: let Python's filters decide (printed once, as usual)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if isinstance(failure, InputError):
        for p in failure.problems:
            err.print(f"error: {printable(str(p))}", markup=False)
        raise typer.Exit(2)
    if failure is not None:
        err.print(f"simulation failed: {printable(str(failure))}", markup=False)
        raise typer.Exit(1)
    return result


def _locate(e: InputError, scenario: Path) -> InputError:
    """Lines of the scenario file for problems with a field path (not a ``--option``)."""
    from stormsim.schema.loader import locate

    options = [p for p in e.problems if p.path.startswith("-")]
    fields = [p for p in e.problems if not p.path.startswith("-")]
    located = locate(InputError(fields), scenario).problems if fields else []
    return InputError([*located, *options])


def _fmt(v: Any) -> str:
    """4 significant digits; more when a value below 1 would print as 1 (an attainment of
    0.99995 is not 1)."""
    if v is None:
        return "-"
    if isinstance(v, float):
        text, digits = f"{v:.4g}", 4
        while v < 1.0 and float(text) >= 1.0 and digits < 17:
            digits += 1
            text = f"{v:.{digits}g}"
        return text
    return str(v)


def _plural(n: int, word: str) -> str:
    """``1 RoleSet``, ``2 RoleSets``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _overrides(items: list[str]) -> dict[str, Any]:
    """``PATH=VALUE`` strings -> {path: parsed value}; a malformed one is an input error."""
    out: dict[str, Any] = {}
    for item in items:
        path, sep, value = item.partition("=")
        if not sep or not path.strip():
            raise InputError(Problem("--set", f"expected PATH=VALUE, got {item!r}"))
        out[path.strip()] = parse_value(value)
    return out


def _positive(value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be greater than 0, got {value:g}")
    return value


KPI_ROWS = catalogue.labels("run")
MULTI_ROLLOUT_ROWS = catalogue.labels("run-multi")
TRAFFIC_ROWS = catalogue.labels("run-traffic")
NODE_ROWS = catalogue.labels("run-nodes")
AUTOSCALING_ROWS = catalogue.labels("run-autoscaling")


@app.command()
def run(
    scenario: Annotated[
        Path | None,
        typer.Argument(help="Scenario YAML. Omit to run the embedded default scenario."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Results directory (default: results/NAME).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Root seed (overrides the scenario's).", min=0)
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="Frame file format.")] = Format.parquet,
    until: Annotated[
        float | None,
        typer.Option("--until", help="End of the simulation (s, > 0).", callback=_positive),
    ] = None,
    plots: Annotated[
        bool,
        typer.Option(
            "--plots/--no-plots", help="Write timeline.png (and latency.png with traffic)."
        ),
    ] = True,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="PATH=VALUE: override a scenario field by dotted path (manifest fields too, "
            "e.g. service.manifest.spec.updateStrategy.maxSurge=2). Repeatable.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace the output directory even if it is not a stormsim results directory "
            "(its files are deleted).",
        ),
    ] = False,
) -> None:
    """Simulate a scenario and write its results (summary.json, frames, timeline.png)."""
    path = scenario or stormsim.default_scenario_path()

    def go() -> tuple[stormsim.RunResult, Path]:
        if until is not None and until <= 0:
            raise InputError(Problem("--until", f"must be greater than 0, got {until:g}"))
        if set_:  # warned as the scenario that runs, not as the file before the overrides
            from stormsim.analysis.variants import override_warned

            sc = override_warned(path, _overrides(set_))
        else:
            sc = stormsim.load_scenario(path)
        try:
            res = stormsim.run(sc, seed=seed, until_s=until, watch=SimProgress(f"run {sc.name}"))
        except InputError as e:
            from stormsim.schema.loader import locate

            raise locate(e, path) from None
        target = out_dir or Path("results") / safe_dirname(sc.name)
        with err.status("writing results …") if err.is_terminal else nullcontext():
            return res, res.save(target, format=format.value, plots=plots, force=force)

    res, saved = _guard(go)
    s = res.summary
    title = Text(f"{printable(str(s['scenario']))}  (seed {s['seed']})")
    table = Table(title=title, show_header=False)
    rows = list(KPI_ROWS)
    if (s.get("n_rollouts") or 0) > 1:
        rows += MULTI_ROLLOUT_ROWS
    if "requests_arrived" in s:
        rows += TRAFFIC_ROWS
    if "node_hours" in s:
        rows += NODE_ROWS
    if "scale_events" in s:
        rows += AUTOSCALING_ROWS
    for key, label in rows:
        table.add_row(label, _fmt(s.get(key)))
    out.print(table)
    out.print(f"results: {saved}", markup=False)


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")]) -> None:
    """Check a scenario, its manifests and traces, the catalog names and that a ready fleet
    fits, as `run` does before simulating."""

    def go() -> stormsim.Scenario:
        sc = stormsim.load_scenario(scenario)
        try:
            return check(sc)
        except InputError as e:
            raise _locate(e, scenario) from None

    sc = _guard(go)
    roles = sc.service.manifest.spec.template.spec.roles
    pas = ""
    if sc.autoscalers:
        names = ", ".join(
            f"{printable(p.name)} ({p.spec.scaling_strategy}"
            + (f" {printable(p.spec.role_name)}" if p.spec.role_name else "")
            + ")"
            for p in sc.autoscalers
        )
        pas = f", PodAutoscalers {names}"
    out.print(
        f"ok: {printable(sc.name)}: StormService {sc.service.manifest.name} "
        f"({_plural(sc.service.manifest.spec.replicas, 'RoleSet')}, roles "
        f"{', '.join(f'{r.name}x{r.replicas}' for r in roles)}), "
        f"{_plural(len(sc.events), 'event')}" + pas,
        markup=False,
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    from stormsim.api import scenario_json_schema

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
    import pandas as pd

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


class Executor(StrEnum):
    local = "local"
    ray = "ray"


def _study_table(title: str, columns: list[str], rows: list[tuple[str, list[Any]]]) -> Table:
    import pandas as pd

    table = Table(title=Text(printable(title)))
    table.add_column("", no_wrap=True)
    for c in columns:
        table.add_column(c, justify="right", overflow="fold")
    for label, values in rows:
        table.add_row(label, *[_fmt(None if pd.isna(v) else v) for v in values])
    return table


def _interrupted(where: Path) -> typer.Exit:
    err.print(
        f"interrupted: finished runs are kept in {where / 'runs'}; run the same command again "
        "to resume",
        markup=False,
    )
    return typer.Exit(130)


JobsOpt = Annotated[
    int | None, typer.Option("--jobs", "-j", help="Parallel runs (default: every core).", min=1)
]
ExecutorOpt = Annotated[
    Executor, typer.Option("--executor", help="local processes or a Ray cluster.")
]
AddressOpt = Annotated[
    str | None, typer.Option("--address", help="Ray cluster address (default: start one).")
]


RequireOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--require",
        "-r",
        help="A requirement on a summary KPI, e.g. 'window_ttft_p99_s<=2' (<=, >=, <, >). "
        "Repeatable; added to the workload's SLO and the scenario's require: list.",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="PATH=VALUE: override a scenario field for every run (as `run --set`). Repeatable.",
    ),
]


def _requirements_line(reqs: list[Any]) -> str:
    return "requirements: " + (
        ", ".join(f"{r.text} ({r.source})" for r in reqs) if reqs else "none"
    )


def _print_recommendations(recs: list[tuple[str, str | None, dict[str, Any]]]) -> None:
    if not recs:  # (the study's scenario has no events: no rollout to recommend for)
        out.print("rollout recommendations: none (the scenario has no events, so no rollout)",
                  markup=False)  # fmt: skip
        return
    for objective, label, values in recs:
        if label is None:
            out.print(f"{objective}: none (no feasible setting completed its rollout)",
                      markup=False)  # fmt: skip
            continue
        detail = ", ".join(f"{k} {_fmt(v)}" for k, v in values.items())
        out.print(f"{objective}: {label}  ({detail})", markup=False)


@app.command()
def compare(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")],
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            "--strategy",
            "-s",
            help="A strategy, e.g. 'name=safe,maxSurge=1,maxUnavailable=0,roleset=Parallel' "
            "(keys: name, type, maxSurge, maxUnavailable, roleset, ROLE.maxSurge, "
            "ROLE.maxUnavailable, ROLE.type, or a dotted scenario path). Repeat the option; "
            "replaces the scenario's compare: section. See docs/analysis.md.",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed shared by every strategy.")] = None,
    until: Annotated[
        float | None,
        typer.Option("--until", help="End of the simulation (s, > 0).", callback=_positive),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory (default: results/NAME-compare)."),
    ] = None,
    jobs: JobsOpt = None,
    executor: ExecutorOpt = Executor.local,
    address: AddressOpt = None,
    set_: SetOpt = None,
    require: RequireOpt = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write timelines.png.")] = True,
) -> None:
    """Run a scenario under several update strategies (same seed, in parallel) and tabulate
    the KPIs, which strategies meet the requirements, and the recommended ones."""

    def go() -> stormsim.CompareResult:
        sc = stormsim.load_scenario(scenario)
        target = out_dir or Path("results") / safe_dirname(sc.name, "-compare")
        try:
            return stormsim.compare(
                sc, strategy, seed=seed, until_s=until, out=target, plots=plots,
                progress=None, jobs=jobs, executor=executor.value, address=address,
                overrides=_overrides(set_ or []), require=require,
            )  # fmt: skip
        except InputError as e:
            raise _locate(e, scenario) from None

    res = _guard(go)
    t = res.table
    rows = [(k, t[k].tolist()) for k in ["status", "feasible", "violated", *res.kpis]]
    out.print(_study_table(f"{res.scenario.name}  (seed {res.seed})", t["strategy"].tolist(), rows))
    for _, r in t[t["same_as"].notna()].iterrows():
        out.print(
            f"note: {r['strategy']} resolves to the same AIBrix budgets as {r['same_as']}: "
            "simulated once, reported for both",
            markup=False,
        )
    out.print(_requirements_line(res.requirements), markup=False)
    _print_recommendations(res.recommendations())
    for _, r in t[t["status"] != "ok"].iterrows():
        err.print(f"strategy {r['strategy']} failed: {r['error']}", markup=False)
    out.print(f"results: {res.out}", markup=False)
    if (t["status"] != "ok").any():
        raise typer.Exit(1)


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (its sweep: section).")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output and cache directory (default: results/NAME-sweep)."),
    ] = None,
    jobs: JobsOpt = None,
    executor: ExecutorOpt = Executor.local,
    address: AddressOpt = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="PATH=V1,V2,...: sweep a dotted path over values (added to or replacing the "
            "scenario's sweep.grid entry for PATH). Repeatable.",
        ),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option("--seeds", help="Seeds per parameter combination.", min=1)
    ] = None,
    until: Annotated[
        float | None,
        typer.Option("--until", help="End of each simulation (s, > 0).", callback=_positive),
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore finished runs in DIR.")] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Re-run runs that failed before.")
    ] = False,
    require: RequireOpt = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write the PNGs.")] = True,
) -> None:
    """Sweep scenario fields (grid x samples x seeds), resumable, in parallel; write runs.parquet,
    cells.parquet and plots. See docs/analysis.md."""
    parsed: dict[str, list[Any]] = {}
    for g in grid or []:
        path, eq, values = g.partition("=")
        if not eq or not path.strip() or not values.strip():
            err.print(f"error: --grid {g!r}: expected PATH=V1,V2,...", markup=False)
            raise typer.Exit(2)
        parsed[path.strip()] = [parse_value(v) for v in values.split(",")]
    sc = _guard(lambda: stormsim.load_scenario(scenario))
    target = out_dir or Path("results") / safe_dirname(sc.name, "-sweep")

    def go() -> stormsim.SweepResult:
        try:
            return stormsim.sweep(
                sc,
                target,
                grid=parsed or None,
                seeds=seeds,
                until_s=until,
                jobs=jobs,
                executor=executor.value,
                address=address,
                fresh=fresh,
                retry_failed=retry_failed,
                progress=None,
                plots=plots,
                require=require,
            )
        except InputError as e:
            raise _locate(e, scenario) from None

    try:
        res = _guard(go)
    except KeyboardInterrupt:
        raise _interrupted(target) from None
    out.print(
        f"{res.plan.scenario.name}: {len(res.cells)} cells x {len(res.plan.seeds)} seeds = "
        f"{res.plan.n_runs} runs ({res.n_executed} run, {res.n_cached} cached, "
        f"{res.n_failed} failed) in {res.wall_s:.1f} s on {res.executor}",
        markup=False,
    )
    cells = res.cells
    n_feasible = int(cells["feasible"].fillna(False).astype(bool).sum())
    n_unknown = int(cells["feasible"].isna().sum())
    shared = int(cells["same_as"].notna().sum())
    out.print(
        f"{_requirements_line(res.plan.requirements)}; {n_feasible} of {len(cells)} cells "
        f"feasible" + (f", {n_unknown} unknown (failed runs)" if n_unknown else ""),
        markup=False,
    )
    if shared:
        out.print(
            f"note: {shared} cells resolve to the same AIBrix budgets as an earlier cell "
            "(column same_as): simulated once, reported for each",
            markup=False,
        )
    _print_recommendations(res.recommendations())
    front = cells[cells["pareto"]].head(12) if "pareto" in cells else cells[:0]
    if len(front):
        kpis = [k for k in catalogue.names("pareto") if f"{k}_mean" in front]
        table = Table(title="Pareto-optimal feasible cells (means over seeds)")
        table.add_column("cell")
        for k in kpis:
            table.add_column(k, justify="right")
        for _, r in front.iterrows():
            table.add_row(str(r["cell_label"]), *[_fmt(r[f"{k}_mean"]) for k in kpis])
        out.print(table)
    for _, r in res.failures().head(10).iterrows():
        err.print(f"run {r['key']} (cell {r['cell']}, seed {r['seed']}) failed: {r['error']}",
                  markup=False)  # fmt: skip
    out.print(f"results: {res.out}", markup=False)
    if res.n_failed:
        raise typer.Exit(1)


@app.command()
def plan(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML with a plan: section.")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output and cache directory (default: results/NAME-plan)."),
    ] = None,
    jobs: JobsOpt = None,
    executor: ExecutorOpt = Executor.local,
    address: AddressOpt = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore finished runs in DIR.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No search log.")] = False,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="On a failed run, mark its candidate failed and search the others (exit 0 "
            "with a recommendation) instead of stopping with exit 1.",
        ),
    ] = False,
    require: RequireOpt = None,
) -> None:
    """Capacity planning: the cheapest P/D configuration meeting the plan's SLOs in steady
    state and during a rollout; write plan.html, plan.md, candidates.parquet. Exit 1 when a
    run failed (unless --keep-going) or no candidate meets the SLOs. See
    docs/capacity-planning.md."""
    sc = _guard(lambda: stormsim.load_scenario(scenario))
    target = out_dir or Path("results") / safe_dirname(sc.name, "-plan")

    def log(msg: str) -> None:
        err.print(msg, markup=False)

    try:
        res = _guard(
            lambda: stormsim.plan(
                sc, out=target, jobs=jobs, executor=executor.value, address=address,
                fresh=fresh, progress=None if quiet else log, keep_going=keep_going,
                require=require,
            )
        )  # fmt: skip
    except KeyboardInterrupt:
        raise _interrupted(target) from None
    for f in res.failures:
        err.print(f"error: failed: {f}", markup=False)
    out.print(res.summary_text(), markup=False)
    for w in res.recommendation.why[1:] if res.recommendation is not None else ():
        out.print(f"  - {w}", markup=False)
    for n in res.notes:
        err.print(f"note: {n}", markup=False)
    out.print(
        f"{res.n_runs} runs ({res.n_failed} failed, {res.n_cached} cached) in "
        f"{res.wall_s:.1f} s; report: {target / 'plan.html'}",
        markup=False,
    )
    if res.stopped or res.recommendation is None:
        raise typer.Exit(1)


# typer may vendor its own click: find its UsageError through a public exception class
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


def _int_list(text: str, flag: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(
            Problem(flag, f"expected comma-separated integers, got {text!r}")
        ) from None
    if not vals:
        raise InputError(Problem(flag, "empty list"))
    return vals


@app.command("latency")
def latency_cmd(
    model: Annotated[str, typer.Option(help="Catalog model name.")] = "llama-3.1-8b",
    model_file: Annotated[
        Path | None, typer.Option(help="YAML with one architecture (inline model format).")
    ] = None,
    gpu: Annotated[str, typer.Option(help="Catalog GPU type.")] = "H100-80GB",
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline stages (of --tp GPUs each).")] = 1,
    nodes: Annotated[int, typer.Option(help="Nodes the engine's GPUs spread over.")] = 1,
    prefill: Annotated[str | None, typer.Option(help="Prompt lengths, e.g. 512,1024.")] = None,
    cached: Annotated[int, typer.Option(help="Cached tokens before each prompt chunk.")] = 0,
    decode_batch: Annotated[int | None, typer.Option(help="Decode batch (sequences).")] = None,
    context: Annotated[int | None, typer.Option(help="Context tokens per sequence.")] = None,
    latency_model: Annotated[
        str | None, typer.Option("--latency-model", "--model-name", help="roofline|calibrated")
    ] = None,
    calibration: Annotated[Path | None, typer.Option(help="Calibration file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    grid: Annotated[bool, typer.Option(help="Decode table over batch sizes and contexts.")] = False,
) -> None:
    """Predicted time of one iteration, part by part."""
    from stormsim.perf.query import latency, read_model_file
    from stormsim.report.latency import breakdown_table, grid_table

    def go() -> None:
        arch = read_model_file(model_file) if model_file else model
        cal = str(calibration) if calibration else None
        if grid:
            if prefill is not None or decode_batch is not None:
                raise InputError(Problem("--grid", "--grid takes no --prefill / --decode-batch"))
            batches, ctxs = [1, 8, 32, 128, 256], [128, 1024, 4096, 16384]
            ms = [
                [
                    latency(
                        arch,
                        gpu,
                        tp,
                        decode_batch=b,
                        context=c,
                        latency_model=latency_model,
                        calibration=cal,
                        pp=pp,
                        nodes=nodes,
                    ).total_s
                    * 1e3
                    for c in ctxs
                ]
                for b in batches
            ]
            if as_json:
                print(json.dumps({"batch": batches, "context": ctxs, "decode_ms": ms}))
            else:
                out.print(
                    grid_table(
                        f"decode iteration ms: {model} on {tp} x {gpu}"
                        + (f", {pp} pipeline stages" if pp > 1 else "")
                        + (f", over {nodes} nodes" if nodes > 1 else ""),
                        [str(b) for b in batches],
                        [str(c) for c in ctxs],
                        ms,
                    )
                )
            return
        res = latency(
            arch,
            gpu,
            tp,
            prefill=_int_list(prefill, "--prefill") if prefill is not None else None,
            cached=cached,
            decode_batch=decode_batch,
            context=context,
            latency_model=latency_model,
            calibration=cal,
            pp=pp,
            nodes=nodes,
        )
        if as_json:
            print(json.dumps(res.to_json()))
        else:
            out.print(breakdown_table(res))

    _guard(go)


@app.command()
def calibrate(
    profiles: Annotated[
        list[Path], typer.Argument(help="Profile CSVs (Vidur format or iteration times).")
    ],
    gpu: Annotated[str, typer.Option(help="Catalog GPU type the profiles were measured on.")],
    out_file: Annotated[Path, typer.Option("--out", help="Calibration YAML to write.")],
    model: Annotated[str | None, typer.Option(help="Model of iteration-time profiles.")] = None,
    model_file: Annotated[
        Path | None, typer.Option(help="Architecture YAML of iteration-time profiles.")
    ] = None,
) -> None:
    """Fit the calibrated latency model's coefficients for a GPU from measured profiles."""
    from stormsim.perf.calibrate import calibrate as run_calibrate
    from stormsim.perf.query import read_model_file
    from stormsim.report.latency import error_table

    def go() -> None:
        arch = read_model_file(model_file) if model_file else model
        res = run_calibrate(profiles, gpu, out_file, arch)
        out.print(error_table(res.errors))
        out.print(f"wrote {out_file}", markup=False)

    _guard(go)


def main() -> None:
    """Entry point: bad command-line arguments give one ``error:`` line and exit 2.

    The command draws with matplotlib's non-interactive ``Agg`` backend (it only writes PNG
    files, and must not need a display): ``MPLBACKEND`` is set while it runs, for this process
    and the worker processes it starts, and restored afterwards; never on import."""
    previous = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        _main()
    finally:
        if previous is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = previous


def _main() -> None:
    try:
        rv = app(standalone_mode=False)
    except _USAGE_ERROR as exc:
        e = exc
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
            err.print(ctx.get_help(), markup=False)
        else:
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            fmt = getattr(e, "format_message", None)
            msg = fmt() if callable(fmt) else str(e)
            msg = msg.replace("Value error, ", "")
            err.print(f"error: {msg}{hint}", markup=False)
        raise SystemExit(2) from None
    except typer.Abort:
        err.print("aborted", markup=False)
        raise SystemExit(130) from None
    except Exception as e:  # a bug: say so in one line; the traceback on request
        if os.environ.get("STORMSIM_TRACEBACK"):
            raise
        err.print(
            f"internal error: {type(e).__name__}: {e} "
            "(a bug in stormsim; set STORMSIM_TRACEBACK=1 for the traceback)",
            markup=False,
        )
        raise SystemExit(1) from None
    raise SystemExit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
