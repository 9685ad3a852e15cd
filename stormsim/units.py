"""Tiny unit helpers. Simulated time is seconds as float everywhere."""

from __future__ import annotations

import math


def parse_quantity(value: object) -> float:
    """Parse a Kubernetes resource quantity (``1``, ``"2"``, ``"500m"``, ``"16Gi"``) to a float.

    CPU millis give fractions (``"500m"`` -> 0.5); binary/decimal suffixes give plain units
    (``"1Gi"`` -> 1073741824). Raises ``ValueError`` on anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    s = str(value).strip()
    suffixes = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "Pi": 2**50,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "P": 1e15,
        "m": 1e-3,
    }
    for suf, mult in suffixes.items():
        if s.endswith(suf):
            return float(s[: -len(suf)]) * mult
    return float(s)


def round_half_away(x: float) -> int:
    """Round half away from zero (Go's ``math.Round``), unlike Python's banker's rounding."""
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)


def format_duration(s: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = max(0.0, s)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"
