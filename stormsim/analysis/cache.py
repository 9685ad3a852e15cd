"""The run cache of a study: one small JSON file per finished run, written atomically.

``DIR/runs/<key>.json`` where ``key`` is :func:`stormsim.runner.scenario_hash` of the run's
resolved scenario and seed. A record holds the run's status (``ok`` / ``failed``), error,
summary and wall time. The driver writes a record the moment its run finishes (write to a temp
file in the same directory, fsync, rename), so an interruption loses at most the runs in
flight; a truncated or unreadable record is treated as missing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

RUNS_DIR = "runs"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class RunCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.dir = self.root / RUNS_DIR

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored record of ``key``, or None (absent or unreadable)."""
        try:
            rec = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or rec.get("key") != key or "status" not in rec:
            return None
        return rec

    def put(self, record: dict[str, Any]) -> Path:
        """Store one record atomically."""
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self.path(str(record["key"]))
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=self.dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, default=str)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def keys(self) -> set[str]:
        if not self.dir.is_dir():
            return set()
        return {p.stem for p in self.dir.glob("*.json")}
