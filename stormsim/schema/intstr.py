"""Kubernetes int-or-string values, read as ``k8s.io/apimachinery/pkg/util/intstr`` does.

A percent string is ``strconv.Atoi`` of the text before a trailing ``%``: an optional ``+`` or
``-`` and ASCII digits, nothing else (no spaces, no ``_``, no non-ASCII digits), within int64.
"""

from __future__ import annotations

import re

_ATOI = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INT64 = 2**63


def atoi(s: str) -> int:
    """Go's ``strconv.Atoi`` (64-bit): ``ValueError`` for anything it rejects."""
    if _ATOI.fullmatch(s) is None:
        raise ValueError(f'strconv.Atoi: parsing "{s}": invalid syntax')
    v = int(s)
    if not -_INT64 <= v < _INT64:
        raise ValueError(f'strconv.Atoi: parsing "{s}": value out of range')
    return v


def percent(s: str) -> int:
    """The N of an ``"N%"`` string, as intstr parses it; ``ValueError`` when it is not one."""
    if not s.endswith("%"):
        raise ValueError(f"invalid type: string is not a percentage: {s!r}")
    return atoi(s[:-1])
