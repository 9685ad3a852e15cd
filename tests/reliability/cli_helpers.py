"""Helpers for the reliability tests: run the real ``stormsim`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def stormsim(
    *args: str, cwd: Path, timeout: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m stormsim.cli ARGS`` in ``cwd``; never hangs longer than ``timeout``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    env.pop("STORMSIM_TRACEBACK", None)
    return subprocess.run(
        [sys.executable, "-c", "from stormsim.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        input=stdin,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]
