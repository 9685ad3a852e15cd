"""Executors: run many independent simulation tasks and yield their records as they finish.

* :class:`LocalExecutor`: local processes (``concurrent.futures.ProcessPoolExecutor``);
  ``jobs=1`` runs in this process (no pool). A worker that dies (killed, out of memory,
  segfault) breaks the pool: the pool is rebuilt and the runs that were in flight are retried;
  a run in flight (running or queued: at most ``2 * jobs``) during two crashes is reported as
  failed (``worker process died``).
* :class:`RayExecutor`: Ray tasks on a local Ray instance or a cluster (``address``). Ray is
  imported only when this executor is used (``pip install stormsim[ray]``); stormsim must be
  importable on the cluster's workers.

Both yield the same records (see :func:`execute`); the driver, not the workers, writes the cache,
so workers need no shared file system. ``imap``'s ``admit`` is asked about each task just before
it starts (local: as a worker frees up; Ray: all at once); a task it refuses is not run and
yields no record (see :mod:`stormsim.analysis.claims`).
"""

from __future__ import annotations

import gc
import os
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from stormsim.errors import InputError, Problem
from stormsim.runner import __version__, run
from stormsim.schema.scenario import Scenario

Record = dict[str, Any]
TaskFn = Callable[["Task"], Record]
Admit = Callable[["Task"], bool]

CRASH_LIMIT = 2
"""A run in flight during this many worker crashes is reported as failed."""


@dataclass(frozen=True)
class Task:
    """One run: a validated scenario and a seed, named by its cache key."""

    key: str
    scenario: Scenario
    seed: int
    until_s: float | None = None


def execute(task: Task) -> Record:
    """Run one task and return its record; an exception becomes ``status: failed`` with the
    error text (the traceback's last frames in ``traceback``), never a raise."""
    return _execute(task, keep=False)


def execute_keep(task: Task) -> Record:
    """As :func:`execute`, and the record keeps the whole :class:`RunResult` under ``result``
    (for timelines; never cached)."""
    return _execute(task, keep=True)


def _execute(task: Task, keep: bool) -> Record:
    t0 = time.perf_counter()
    rec: Record = {
        "key": task.key,
        "seed": task.seed,
        "stormsim_version": __version__,
        "status": "ok",
        "error": None,
        "summary": None,
        "pid": os.getpid(),
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run(task.scenario, seed=task.seed, until_s=task.until_s)
        rec["summary"] = res.summary
        if keep:
            rec["result"] = res
    except Exception as e:
        cause = e.__cause__ if e.__cause__ is not None else e
        rec["status"] = "failed"
        rec["error"] = f"{type(e).__name__}: {e}"
        rec["traceback"] = "".join(traceback.format_exception(cause)[-6:])
    rec["wall_s"] = round(time.perf_counter() - t0, 6)
    return rec


def crashed_record(task: Task, why: str) -> Record:
    """The record of a run whose worker died (not cached: a rerun retries it)."""
    return {
        "key": task.key,
        "seed": task.seed,
        "stormsim_version": __version__,
        "status": "failed",
        "error": why,
        "summary": None,
        "wall_s": None,
        "crashed": True,
    }


class Executor(Protocol):
    name: str

    def imap(
        self, tasks: Sequence[Task], fn: TaskFn = execute, admit: Admit | None = None
    ) -> Iterator[Record]:
        """Yield one record per task (per task ``admit`` accepts), in completion order."""
        ...


class LocalExecutor:
    """Local processes. ``jobs`` defaults to every core; 1 runs in this process."""

    name = "local"

    def __init__(self, jobs: int | None = None):
        if jobs is not None and jobs < 1:
            raise InputError(Problem("jobs", f"must be >= 1, not {jobs}"))
        self.jobs = jobs or os.cpu_count() or 1
        self.queued = self.jobs
        """Runs queued beyond the running ones, so a worker never waits for the driver."""

    def imap(
        self, tasks: Sequence[Task], fn: TaskFn = execute, admit: Admit | None = None
    ) -> Iterator[Record]:
        if self.jobs == 1 or len(tasks) <= 1:
            for t in tasks:
                if admit is None or admit(t):
                    yield fn(t)
            return
        todo = list(tasks)
        todo.reverse()  # pop() from the end keeps submission in task order
        crashes: dict[str, int] = {}
        while todo:
            pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(todo)))
            inflight: dict[Future[Record], Task] = {}
            broken = False
            # fork start: the workers are forked at the first submit; with the parent's objects
            # frozen, their garbage collector does not walk (and copy-on-write) the whole heap
            gc.freeze()
            try:
                while todo or inflight:
                    while todo and len(inflight) < self.jobs + self.queued:
                        t = todo[-1]
                        if admit is not None and not admit(t):
                            todo.pop()
                            continue
                        try:
                            fut = pool.submit(fn, t)
                        except BrokenProcessPool:
                            broken = True
                            break
                        todo.pop()
                        inflight[fut] = t
                    gc.unfreeze()
                    if broken and not inflight:
                        break
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        t = inflight[fut]
                        try:
                            rec = fut.result()
                        except BrokenProcessPool:
                            broken = True
                            continue
                        del inflight[fut]
                        yield rec
                    if broken:
                        break
            finally:
                gc.unfreeze()
                pool.shutdown(wait=not broken, cancel_futures=True)
            if broken:
                for t in inflight.values():
                    n = crashes[t.key] = crashes.get(t.key, 0) + 1
                    if n >= CRASH_LIMIT:
                        yield crashed_record(t, f"worker process died {n} times running this")
                    else:
                        todo.append(t)


class RayExecutor:
    """Ray tasks (one CPU each). Connects to ``address`` (``auto``, ``ray://host:10001``, ...)
    or starts a local instance with ``jobs`` CPUs, and shuts down only what it started."""

    name = "ray"

    def __init__(self, address: str | None = None, jobs: int | None = None):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InputError(
                Problem(
                    "executor",
                    "the Ray executor needs Ray: pip install 'stormsim[ray]'",
                )
            ) from None
        self.address = address
        self.jobs = jobs

    def imap(
        self, tasks: Sequence[Task], fn: TaskFn = execute, admit: Admit | None = None
    ) -> Iterator[Record]:
        import ray

        if admit is not None:
            tasks = [t for t in tasks if admit(t)]
        if not tasks:
            return

        started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if self.address:
                kwargs["address"] = self.address
            elif self.jobs:
                kwargs["num_cpus"] = self.jobs
            ray.init(**kwargs)
            started = True
        try:
            remote = ray.remote(num_cpus=1, max_retries=CRASH_LIMIT - 1)(fn)
            refs = {remote.remote(t): t for t in tasks}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as e:
                        yield crashed_record(refs[ref], f"Ray task failed: {type(e).__name__}")
        finally:
            if started:
                ray.shutdown()


def make_executor(
    executor: str | Executor = "local", jobs: int | None = None, address: str | None = None
) -> Executor:
    """An executor by name (``local`` or ``ray``), or the given one."""
    if not isinstance(executor, str):
        return executor
    if executor == "local":
        if address:
            raise InputError(Problem("address", "only the ray executor takes an address"))
        return LocalExecutor(jobs)
    if executor == "ray":
        return RayExecutor(address, jobs)
    raise InputError(Problem("executor", f"must be local or ray, not {executor!r}"))
