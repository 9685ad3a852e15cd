"""Small statistics for study tables: Student-t confidence intervals and Pareto fronts."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

# two-sided 95% Student-t quantiles t_{0.975, df}, df = 1..30
_T975 = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
]  # fmt: skip
_T975_TAIL = [(40, 2.021), (60, 2.000), (120, 1.980)]


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (table, then
    interpolation in 1/df towards the normal 1.960)."""
    if df < 1:
        return math.nan
    if df <= 30:
        return _T975[df - 1]
    pts = [(30, _T975[-1]), *_T975_TAIL, (math.inf, 1.959964)]
    for (d0, t0), (d1, t1) in itertools.pairwise(pts):
        if df <= d1:
            x0, x1, x = 1 / d0, (1 / d1 if d1 != math.inf else 0.0), 1 / df
            return t0 + (t1 - t0) * (x0 - x) / (x0 - x1)
    return 1.959964  # pragma: no cover


def mean_ci95(values: Sequence[float] | np.ndarray) -> tuple[float, float, float, int]:
    """Mean, 95% CI low and high (Student t over the non-NaN values), and their count.
    One value gives a NaN interval; none gives NaN everywhere."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(x.mean())
    if n == 1:
        return m, math.nan, math.nan, 1
    half = t975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return m, m - half, m + half, n


def pareto_mask(
    df: pd.DataFrame, minimize: Sequence[str] = (), maximize: Sequence[str] = ()
) -> pd.Series:
    """True for the rows no other row dominates (at least as good in every objective and
    better in one). Rows with a missing objective are never on the front."""
    cols = list(minimize) + list(maximize)
    sign = np.array([1.0] * len(minimize) + [-1.0] * len(maximize))
    vals = df[cols].to_numpy(dtype=float) * sign if cols else np.zeros((len(df), 0))
    ok = ~np.isnan(vals).any(axis=1)
    mask = np.zeros(len(df), dtype=bool)
    idx = np.flatnonzero(ok)
    for i in idx:
        others = vals[idx]
        dominated = ((others <= vals[i]).all(axis=1) & (others < vals[i]).any(axis=1)).any()
        mask[i] = not dominated
    return pd.Series(mask, index=df.index, name="pareto")
