"""Names from user input turned into things that are safe to use: directory names, terminal text.

A scenario's ``name`` is free text (it is shown in tables and titles); the default results
directory ``results/<name>`` uses :func:`safe_dirname`, which always gives one harmless path
component, so no name can make a run write outside ``results/``.
"""

from __future__ import annotations

import hashlib
import re

MAX_DIRNAME_BYTES = 100
"""Longest directory name derived from a scenario name (bytes; file systems allow 255, and the
temporary siblings of a results directory add a prefix and a suffix)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_dirname(name: str, suffix: str = "") -> str:
    """One path component for ``name`` + ``suffix``: characters other than ASCII letters,
    digits and ``. _ + -`` become ``-``; leading dots and dashes are dropped (no ``.``, ``..``
    or hidden name); an empty or over-long result gets a short hash of ``name`` so distinct
    names stay distinct. At most :data:`MAX_DIRNAME_BYTES` bytes."""
    stem = _UNSAFE.sub("-", name).lstrip(".-")
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    limit = MAX_DIRNAME_BYTES - len(suffix)
    if not stem:
        stem = f"scenario-{digest}"
    elif len(stem) > limit:
        stem = f"{stem[: limit - 9].rstrip('.-')}-{digest}"
    return stem + suffix


def printable(text: str) -> str:
    """``text`` with control characters (ANSI escapes, NUL, newlines) shown as ``\\xNN``
    escapes, for printing user-supplied strings to a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
