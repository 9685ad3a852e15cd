"""Types for strict scenario models: numbers are numbers (no ``"4"``, no ``true``, no
``.inf``), but a YAML list is accepted where a tuple is meant."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def _tuple(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


FloatPair = Annotated[tuple[float, float], BeforeValidator(_tuple)]
IntPair = Annotated[tuple[int, int], BeforeValidator(_tuple)]
