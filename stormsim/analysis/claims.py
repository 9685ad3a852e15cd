"""Claims: several stormsim processes sharing one run cache compute each run once.

A process about to run a task first *claims* it: it creates ``DIR/runs/<key>.claim`` atomically
(written and locked under a temporary name, then hard-linked into place, which fails if the
claim exists) and holds an exclusive ``fcntl`` lock on it for as long as it owns the run. The
file names the owner (pid, host, start time) for people and for the fallback below. When the
record is in the cache, the owner removes the claim.

Another process that finds the claim held waits for the owner's record instead of computing the
run again; meanwhile it runs what nobody has claimed. A claim whose lock can be taken belongs to
a process that is gone (the kernel releases a killed process's locks; an NFSv4 server does so
when the client's lease expires): the claim is *stale* and the taker continues the run. So a
sweep killed with SIGKILL never blocks the next one.

Where the file system has no locks (``ENOLCK``), liveness falls back to the owner's pid on the
same host (a claim from another host then counts as live until :data:`FOREIGN_STALE_S` after its
last write); two processes taking over the same stale claim at once may then both run it,
which costs time, not correctness: records are written atomically and are the same.

:func:`coordinated` runs a list of tasks on an executor this way and yields every record,
computed here or by another process.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from stormsim.analysis.cache import RunCache
from stormsim.analysis.executors import Executor, Record, Task, TaskFn
from stormsim.runner import __version__

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

CLAIM_SUFFIX = ".claim"
FOREIGN_STALE_S = 3600.0
"""Without file locks: a claim from another host is stale this long after its last write."""
POLL_S = (0.1, 2.0)
"""First and longest wait between looks at claims held by other processes (s)."""


def _owner_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Claims:
    """The claims this process holds in one run cache directory (a context manager that
    releases every held claim on exit). ``take`` is idempotent for a held key."""

    def __init__(self, cache: RunCache):
        self.dir = cache.dir
        self.held: dict[str, int] = {}
        self.locking = fcntl is not None
        self.owners: dict[str, str] = {}
        """key -> ``pid N on HOST`` of the live owner seen last by :meth:`take`."""

    def path(self, key: str) -> Path:
        return self.dir / f"{key}{CLAIM_SUFFIX}"

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release_all()

    # ---------------------------------------------------------------- locking
    def _lock(self, fd: int) -> bool:
        """Take the exclusive lock of ``fd`` without waiting: False if another process has it."""
        if not self.locking:
            return True
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                return False
            self.locking = False  # ENOLCK and the like: no locks on this file system
        return True

    def _owner(self, fd: int) -> dict[str, Any]:
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _alive_without_locks(self, fd: int) -> bool:
        owner = self._owner(fd)
        pid, host = owner.get("pid"), owner.get("host")
        if isinstance(pid, int) and host == socket.gethostname():
            return _pid_alive(pid)
        return time.time() - os.fstat(fd).st_mtime < FOREIGN_STALE_S

    # ---------------------------------------------------------------- claiming
    def take(self, key: str) -> bool:
        """Claim ``key``: True if this process now holds it (new, already held, or taken over
        from a process that is gone), False if a live process holds it."""
        if key in self.held:
            return True
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self.path(key)
        for _ in range(100):  # each retry follows another process's progress
            if self._create(key, target):
                return True
            state = self._take_over(key, target)
            if state is not None:
                return state
        return False  # pragma: no cover - a hundred lost races: call it held

    def _create(self, key: str, target: Path) -> bool:
        tmp = self.dir / f".{target.name}.{os.getpid()}.{time.monotonic_ns()}"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            self._lock(fd)  # a fresh private file: nobody else can hold its lock
            os.write(fd, _owner_text().encode("utf-8"))
            try:
                os.link(tmp, target)
            except FileExistsError:
                os.close(fd)
                return False
            except OSError:  # no hard links on this file system: create it in place
                os.close(fd)
                return self._create_in_place(key, target)
            self.held[key] = fd
            return True
        except BaseException:
            if key not in self.held:
                os.close(fd)
            raise
        finally:
            tmp.unlink(missing_ok=True)

    def _create_in_place(self, key: str, target: Path) -> bool:
        """Without hard links: create the claim itself; between its creation and its lock
        another process may take it for stale, and then that process owns it."""
        try:
            fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        if not self._lock(fd):
            os.close(fd)
            return False
        os.write(fd, _owner_text().encode("utf-8"))
        self.held[key] = fd
        return True

    def _take_over(self, key: str, target: Path) -> bool | None:
        """True: taken over; False: held by a live process; None: it changed, try again."""
        try:
            fd = os.open(target, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            if not self._lock(fd) or (not self.locking and self._alive_without_locks(fd)):
                owner = self._owner(fd)
                self.owners[key] = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
                os.close(fd)
                return False
            # the owner is gone; is this still the claim (not one removed since we opened it)?
            try:
                same = os.stat(target).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                return None
            if not self.locking:  # without locks: replace the file, racing the other takers
                os.close(fd)
                target.unlink(missing_ok=True)
                return None
            os.ftruncate(fd, 0)
            os.pwrite(fd, _owner_text().encode("utf-8"), 0)
        except BaseException:
            if key not in self.held:
                os.close(fd)
            raise
        self.held[key] = fd
        self.owners.pop(key, None)
        return True

    def release(self, key: str) -> None:
        """Give up a held claim (after its record is in the cache, or on the way out)."""
        fd = self.held.pop(key, None)
        if fd is None:
            return
        try:
            self.path(key).unlink(missing_ok=True)
        finally:
            os.close(fd)  # closing releases the lock

    def release_all(self) -> None:
        for key in list(self.held):
            self.release(key)


def _mtime_ns(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def coordinated(
    tasks: Sequence[Task],
    executor: Executor,
    fn: TaskFn,
    cache: RunCache,
    *,
    store: Callable[[Record], bool],
    say: Callable[[str], None] | None = None,
) -> Iterator[tuple[Record, bool]]:
    """Run ``tasks`` (distinct keys, none reusable from ``cache``) on ``executor``, in step with
    other processes using the same cache; yield ``(record, computed_here)`` for every task.

    A task is claimed just before it starts. If its record appeared since this call began
    (another process finished it), that record is used; if a live process holds its claim,
    the task is left to that process and its record is waited for (a claim released without a
    record, or left behind by a process that died, is taken over and the task run here).
    ``store(record)`` writes a computed record to the cache (True) or not (False: a failed or
    crashed run that the caller does not cache); the claim is released after it."""
    before = {t.key: _mtime_ns(cache.path(t.key)) for t in tasks}
    by_key = {t.key: t for t in tasks}

    def arrived(key: str) -> Record | None:
        """A record of ``key`` written since this call began, by any process."""
        if _mtime_ns(cache.path(key)) == before[key]:
            return None
        rec = cache.get(key)
        if rec is None or rec.get("stormsim_version") != __version__:
            return None
        return rec

    elsewhere: list[str] = []  # keys a live process holds
    found: list[Record] = []  # records another process finished since we began

    with Claims(cache) as claims:

        def admit(t: Task) -> bool:
            if not claims.take(t.key):
                elsewhere.append(t.key)
                return False
            done = arrived(t.key)
            if done is not None:
                claims.release(t.key)
                found.append(done)
                return False
            return True

        pending = list(tasks)
        while pending:
            for rec in executor.imap(pending, fn, admit=admit):
                while found:
                    yield found.pop(), False
                key = str(rec["key"])
                try:
                    store(rec)
                finally:
                    claims.release(key)
                yield rec, True
            while found:
                yield found.pop(), False
            pending = []
            if elsewhere and say is not None:
                owners = sorted({claims.owners.get(k, "?") for k in elsewhere})
                say(
                    f"{len(elsewhere)} run(s) are being computed by another stormsim process "
                    f"({', '.join(owners)}) in {cache.dir}: waiting for their results"
                )
            pause = POLL_S[0]
            while elsewhere and not pending:
                time.sleep(pause)
                pause = min(POLL_S[1], pause * 2)
                for key in list(elsewhere):
                    done = arrived(key)
                    if done is not None:
                        elsewhere.remove(key)
                        if claims.take(key):  # its owner is gone: tidy its claim away
                            claims.release(key)
                        yield done, False
                    elif claims.take(key):  # released without a record, or its owner died
                        elsewhere.remove(key)
                        pending.append(by_key[key])
