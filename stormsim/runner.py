"""``run(scenario) -> RunResult``: build the world, run it, collect frames and KPIs.

``RunResult.save(dir)`` writes the output contract atomically: everything goes to a temporary
sibling directory that replaces ``dir`` only once complete. Artifacts that need higher layers
(plots) are written by :data:`ARTIFACT_WRITERS`, a static table of the report layer's writers
by dotted name (:mod:`stormsim.plugins`), resolved only when ``save(plots=True)`` runs; the
runner itself never imports plotting code.

Importing this module loads neither pandas nor matplotlib: the frames and KPIs are built (and
pandas imported) inside :func:`run`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from stormsim._version import __version__
from stormsim.control.horizon import settle_cap_s
from stormsim.errors import InputError, Problem, SimulationError
from stormsim.perf.startup import resolve_startup
from stormsim.plugins import ARTIFACT_WRITERS
from stormsim.schema.loader import StormsimWarning, load_scenario
from stormsim.schema.scenario import Scenario, scenario_dump
from stormsim.schema.yamlio import dump_yaml
from stormsim.sim.autoscaling import has_autoscalers
from stormsim.sim.world import World

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ARTIFACT_WRITERS", "FRAME_NAMES", "RunResult", "__version__", "run", "scenario_hash"]

FRAME_NAMES = ("timeseries", "pods", "rolesets", "events", "revisions", "status", "rollouts")


@dataclass
class RunResult:
    """Everything one run produced. ``summary`` is the flat KPI dict of ``summary.json``
    (its ``warnings``: every warning of loading and running the scenario, as text, also in
    ``warnings``);
    ``frames`` the DataFrames by name (``timeseries``, ``pods``, ``rolesets``, ``events``,
    ``revisions``, ``status``, ``rollouts``)."""

    scenario: Scenario
    seed: int
    summary: dict[str, Any]
    frames: dict[str, pd.DataFrame]
    provenance: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def save(
        self,
        out: str | Path,
        format: Literal["parquet", "csv"] = "parquet",
        plots: bool = True,
        force: bool = False,
    ) -> Path:
        """Write the results directory atomically and return its path.

        An existing ``out`` is replaced only when it is empty or a stormsim results directory
        (it holds :data:`RESULT_MARKERS`); any other directory is an input error unless
        ``force``. A failed write (read-only or full file system) raises :class:`InputError`
        and leaves the old results as they were. Temporaries left by a killed save are removed.
        """
        if format not in ("parquet", "csv"):
            raise InputError(Problem("format", f"must be parquet or csv, not {format!r}"))
        out = Path(out)
        check_replaceable(out, force)
        try:
            return self._save(out, format, plots)
        except OSError as e:
            raise InputError(
                Problem("out", f"cannot write results to {out}: {_oserror(e)}")
            ) from None

    def _save(self, out: Path, format: str, plots: bool) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temporaries(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        try:
            (tmp / "summary.json").write_text(json.dumps(self.summary, indent=2) + "\n")
            (tmp / "scenario.resolved.yaml").write_text(dump_yaml(self.resolved_scenario()))
            for name, df in self.frames.items():
                if format == "parquet":
                    df.to_parquet(tmp / f"{name}.parquet", index=False)
                else:
                    df.to_csv(tmp / f"{name}.csv", index=False)
            if plots:
                for writer in ARTIFACT_WRITERS:
                    writer(self, tmp)
            # written last: a directory holding it is complete
            (tmp / "provenance.json").write_text(json.dumps(self.provenance, indent=2) + "\n")
            old = None
            if out.exists():
                old = out.with_name(f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
                os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                if old is not None:
                    os.replace(old, out)
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out

    def resolved_scenario(self) -> dict[str, Any]:
        data = scenario_dump(self.scenario)
        data["seed"] = self.seed
        return data


RESULT_MARKERS = ("summary.json", "provenance.json")
"""Files that make a directory a stormsim results directory (one :meth:`RunResult.save` may
replace)."""


def is_results_dir(path: Path) -> bool:
    """Whether ``path`` is a directory written by :meth:`RunResult.save`."""
    return path.is_dir() and all((path / m).is_file() for m in RESULT_MARKERS)


def check_replaceable(out: Path, force: bool = False) -> None:
    """Raise :class:`InputError` unless saving to ``out`` may replace what is there: nothing,
    an empty directory or a stormsim results directory (anything else only with ``force``;
    never the current directory or one of its parents, nor the root)."""
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise InputError(Problem("out", f"{out} exists and is not a directory"))
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path(resolved.anchor):
        raise InputError(
            Problem("out", f"{out} is the current directory or one of its parents; refusing "
                    "to replace it")
        )  # fmt: skip
    if force or is_results_dir(out):
        return
    try:
        empty = not any(out.iterdir())
    except OSError as e:
        raise InputError(Problem("out", f"cannot read {out}: {_oserror(e)}")) from None
    if not empty:
        raise InputError(
            Problem("out", f"{out} exists and is not a stormsim results directory (no "
                    f"{' and '.join(RESULT_MARKERS)}); choose another --out, or pass --force "
                    "to replace it and delete its files")
        )  # fmt: skip


_TEMP = re.compile(r"\.(?:tmp|old)-(\d+)-[A-Za-z0-9_]+$")
_LEGACY_TEMP = re.compile(r"\.[a-z0-9_]{8}$")
LEGACY_TEMP_AGE_S = 600.0


def clean_stale_temporaries(out: Path) -> list[Path]:
    """Remove the temporary siblings ``.NAME.tmp-PID-*`` / ``.NAME.old-PID-*`` of ``out`` whose
    process is gone (a save killed half-way), and the ``.NAME.XXXXXXXX`` ones of earlier
    versions once older than :data:`LEGACY_TEMP_AGE_S`. Returns what was removed."""
    removed: list[Path] = []
    prefix = f".{out.name}"
    try:
        siblings = [p for p in out.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for p in siblings:
        rest = p.name[len(prefix) :]
        m = _TEMP.match(rest)
        if m is not None:
            stale = not _alive(int(m.group(1)))
        elif _LEGACY_TEMP.match(rest):
            try:
                stale = time.time() - p.stat().st_mtime > LEGACY_TEMP_AGE_S
            except OSError:
                continue
        else:
            continue
        if stale and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # perhaps another thread of this process is saving there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _oserror(e: OSError) -> str:
    return e.strerror or type(e).__name__


def scenario_hash(scenario: Scenario, seed: int) -> str:
    """Stable hash of the resolved scenario and seed (cache keys, provenance)."""
    data = scenario_dump(scenario)
    data["seed"] = seed
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


CHECK_UNTIL_S = 1e-9
""":func:`check` builds the world and runs it to this instant: every check ``run`` makes at
t = 0 (catalog models and GPU types, trace files, the fleet fitting the cluster for
``initial_state: ready``), and no simulation beyond."""


def check(
    scenario: Scenario | str | Path, seed: int | None = None, until_s: float | None = None
) -> Scenario:
    """Raise :class:`InputError` for every problem :func:`run` would find before simulating,
    with the same messages; return the scenario. ``until_s`` is the end :func:`run` would be
    given (None: the scenario's own)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    _check_end(scenario, until_s)
    seed = seed if seed is not None else (scenario.seed if scenario.seed is not None else 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        world = World(scenario, seed)
        try:
            world.env.run(until=CHECK_UNTIL_S)
        except InputError:
            raise
        except Exception as e:
            raise SimulationError(f"simulation failed at t=0 s: {type(e).__name__}: {e}") from e
    return scenario


class RunWatch(Protocol):
    """Something that shows a run's progress (the command line's progress bar). The run
    calls :meth:`start` when the simulation begins, :meth:`phase` when it moves on to
    building its results, and :meth:`stop` when it returns or fails. ``now()`` reads the
    simulated time (s) and may be called from another thread; ``end_s`` is the run's end
    (None: when the service settles)."""

    def start(self, now: Callable[[], float], end_s: float | None) -> None: ...
    def phase(self, name: str) -> None: ...
    def stop(self) -> None: ...


def run(
    scenario: Scenario | str | Path,
    seed: int | None = None,
    until_s: float | None = None,
    watch: RunWatch | None = None,
) -> RunResult:
    """Simulate one scenario.

    ``seed`` overrides the scenario's; with neither, a seed is drawn and recorded in the
    summary. ``until_s`` overrides the scenario's end time. ``watch`` is told how the run
    progresses (:class:`RunWatch`).
    """
    try:
        return _run(scenario, seed, until_s, watch)
    finally:
        if watch is not None:
            watch.stop()


def _run(
    scenario: Scenario | str | Path,
    seed: int | None,
    until_s: float | None,
    watch: RunWatch | None,
) -> RunResult:
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = resolve_startup(scenario)  # model-aware start-up defaults, shown when saved
    if seed is not None and seed < 0:
        raise InputError(Problem("seed", f"must be >= 0 (got {seed})"))
    if until_s is not None and until_s <= 0:
        raise InputError(Problem("until_s", f"must be > 0 (got {until_s})"))
    if seed is None:
        seed = scenario.seed if scenario.seed is not None else secrets.randbits(32)
    until = until_s if until_s is not None else scenario.until_s
    unbounded = _unbounded_workload(scenario)
    _check_end(scenario, until_s)
    from stormsim.metrics.frames import build_frames  # pandas: imported when frames are made
    from stormsim.metrics.kpis import compute_kpis, node_kpis, rollout_kpis, rollouts
    from stormsim.metrics.requests import add_request_results
    from stormsim.metrics.truncation import end_of_run_warnings

    t0 = time.perf_counter()
    world = World(scenario, seed)
    error: str | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if watch is not None:
                env = world.env
                watch.start(lambda: float(env.now), until)
            end = world.run(until, settle_cap_s=settle_cap_s(scenario))
            if world.serving is not None:
                world.serving.finish(end)
        except InputError:
            raise
        except Exception as e:  # the run failed: report it, never swallow it
            error = f"{type(e).__name__}: {e}"
            raise SimulationError(f"simulation failed at t={world.env.now:g} s: {error}") from e
    wall = time.perf_counter() - t0
    if watch is not None:
        watch.phase("frames and KPIs")
    rec = world.recorder
    frames = build_frames(rec, autoscaling=has_autoscalers(scenario))
    frames["rollouts"] = rollouts(rec.template_changes, rec.settled_changes, end)
    frames["rollouts"] = rollout_kpis(frames, end)
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": seed,
        "stormsim_version": __version__,
        "warnings": [],  # filled in below, once the run's end is known
    }
    summary.update(compute_kpis(frames, end))
    if scenario.workload is not None:  # serving data plane: requests frames and KPIs
        serving = scenario.serving
        add_request_results(
            frames,
            summary,
            rec.requests,
            scenario.workload.slo,
            end,
            serving.series_bin_s if serving is not None else 10.0,
        )
    if "nodes" in frames:  # a node autoscaler: node KPIs
        summary.update(node_kpis(frames, end))
    if has_autoscalers(scenario):  # autoscaling KPIs (after the request frames they read)
        from stormsim.metrics.autoscaling import add_autoscaling_results

        slo = scenario.workload.slo if scenario.workload is not None else None
        add_autoscaling_results(
            frames, summary, end, slo.attainment_frac if slo is not None else 0.99
        )
    ran = [str(w.message) for w in caught]
    for w in caught:  # recorded to keep them; shown as usual
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    ending = end_of_run_warnings(frames, summary, end, until is not None, scenario)
    for msg in ending:
        warnings.warn(msg, StormsimWarning, stacklevel=2)
    if until is None and unbounded and not scenario.events:
        msg = (
            f"the workload has no end (no stop_s, max_requests or trace), and neither has the "
            f"run (no until_s, no events): it stopped when the service settled, at "
            f"t={end:,.0f} s, and its request KPIs cover the traffic up to then only; set "
            f"until_s (or --until) to choose how long the traffic runs"
        )
        warnings.warn(msg, StormsimWarning, stacklevel=2)
        ending = [*ending, msg]
    all_warnings = [*scenario.load_warnings, *ran, *ending]
    summary["warnings"] = all_warnings
    provenance = {
        "stormsim_version": __version__,
        "source_hash": source_hash(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": _versions(),
        "seed": seed,
        "scenario_hash": scenario_hash(scenario, seed),
        "wall_time_s": round(wall, 6),
        "sim_end_s": end,
        "controller_passes": {name: c.passes for name, c in world.controllers.items()},
        "exception": error,
    }
    return RunResult(scenario, seed, summary, frames, provenance, all_warnings)


@functools.cache
def source_hash() -> str:
    """SHA-256 (first 16 hex digits) of the installed package's code and data files (their
    paths and bytes, in path order): two runs with the same version but different code (an
    unreleased change, a local edit) tell themselves apart, with or without git."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo"):
            h.update(f.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _check_end(scenario: Scenario, until_s: float | None) -> None:
    """Raise :class:`InputError` when the run would have no sensible end: PodAutoscalers with
    a workload that never ends and no ``until_s`` (the argument, else the scenario's)."""
    until = until_s if until_s is not None else scenario.until_s
    if until is None and _unbounded_workload(scenario) and has_autoscalers(scenario):
        raise InputError(
            Problem(
                "until_s",
                "is needed: the workload has no end (no stop_s, max_requests or trace) and "
                "PodAutoscalers keep acting, so the run would stop at the first instant the "
                "service is settled (often before any traffic); set until_s (or --until), or "
                "end the workload",
            )
        )


def _unbounded_workload(scenario: Scenario) -> bool:
    """Whether the scenario's traffic never ends by itself (no trace, ``stop_s`` or
    ``max_requests``)."""
    wl = scenario.workload
    return (
        wl is not None
        and wl.arrival.kind != "trace"
        and wl.stop_s is None
        and wl.max_requests is None
    )


def _versions() -> dict[str, str]:
    """Installed versions of the packages behind the results, read from their distribution
    metadata (without importing them: a run without plots never loads matplotlib)."""
    out = {}
    for dist in ("simpy", "numpy", "pandas", "pydantic", "pyarrow", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[dist] = "missing"
    return out
