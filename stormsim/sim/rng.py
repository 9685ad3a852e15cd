"""Named random streams derived from one root seed (numpy ``SeedSequence``).

Each stream (``"startup"``, ``"controllers"``, ...) is independent of the others, so changing a
controller setting does not shift the draws of another stream (common random numbers).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from stormsim.perf.lengths import lognormal_sigma
from stormsim.schema.scenario import Duration, Exponential, Lognormal, Timing, Uniform


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator for ``name`` under ``seed`` (stable across runs and versions)."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),))
    )


class Sampler:
    """Draws durations (seconds) from scenario duration specs on one stream.

    Constants cost no draw, so a scenario with constant durations consumes no randomness.
    Draws are buffered in blocks for speed; the sequence is the same as drawing one by one
    from a fresh generator per (stream, spec) key.
    """

    def __init__(self, seed: int, name: str):
        self.seed = seed
        self.name = name
        self._gens: dict[str, np.random.Generator] = {}

    def _gen(self, key: str) -> np.random.Generator:
        g = self._gens.get(key)
        if g is None:
            g = self._gens[key] = stream(self.seed, f"{self.name}/{key}")
        return g

    def draw(self, spec: Duration, key: str = "") -> float:
        if isinstance(spec, int | float):
            return float(spec)
        g = self._gen(key)
        if isinstance(spec, Lognormal):
            sigma = lognormal_sigma(spec.median_s, spec.p90_s)
            return float(spec.median_s * math.exp(sigma * g.standard_normal()))
        if isinstance(spec, Uniform):
            return float(g.uniform(spec.low_s, spec.high_s))
        if isinstance(spec, Exponential):
            return float(g.exponential(spec.mean_s))
        raise TypeError(f"not a duration: {spec!r}")  # pragma: no cover


class Durations:
    """The scenario's lifecycle durations (``timing``), drawn on the ``startup`` stream:
    ``durations(role, key)`` -> seconds, e.g. ``durations("decode", "image_pull_s")``."""

    def __init__(self, timing: Timing, seed: int):
        self.timing = timing
        self.sampler = Sampler(seed, "startup")

    def __call__(self, role: str, key: str) -> float:
        return self.sampler.draw(self.timing.for_role(role, key), f"{key}/{role}")
