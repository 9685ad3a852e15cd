"""Request length distributions: integer token counts drawn from a scenario's ``Length`` spec.

Pure numpy on a generator the caller owns, so the serving data plane (one named stream per
length kind) and the planner (a fixed-seed sample) draw with the same code. Lengths are >= 1.
"""

from __future__ import annotations

import math

import numpy as np

from stormsim.schema.serving import ConstantLen, EmpiricalLen, Length, LognormalLen, UniformLen

Z90 = 1.2815515655446004  # standard normal 90th percentile


def lognormal_sigma(median: float, p90: float) -> float:
    """σ of the lognormal with this median and 90th percentile (0 when ``p90 <= median``)."""
    return max(0.0, math.log(p90 / median) / Z90)


def draw_lengths(spec: Length, g: np.random.Generator, n: int) -> np.ndarray:
    """``n`` integer lengths >= 1 from ``spec``.

    * ``constant``: ``value`` each (no draw);
    * ``uniform``: integers in ``[low, high]`` inclusive;
    * ``lognormal``: ``median · exp(σ·z)`` rounded to the nearest integer, with σ from the
      median and p90, clipped to ``[1, max]``;
    * ``empirical``: ``values`` drawn uniformly with replacement."""
    if isinstance(spec, ConstantLen):
        return np.full(n, spec.value, dtype=np.int64)
    if isinstance(spec, UniformLen):
        return g.integers(spec.low, spec.high + 1, size=n, dtype=np.int64)
    if isinstance(spec, LognormalLen):
        sigma = lognormal_sigma(spec.median, spec.p90)
        x = np.rint(spec.median * np.exp(sigma * g.standard_normal(n)))
        hi = spec.max if spec.max is not None else np.iinfo(np.int64).max
        return np.clip(x, 1, hi).astype(np.int64)
    if isinstance(spec, EmpiricalLen):
        vals = np.asarray(spec.values, dtype=np.int64)
        return vals[g.integers(0, len(vals), size=n)]
    raise TypeError(f"not a length distribution: {spec!r}")  # pragma: no cover
