"""What a serving pod's engine exports on ``/metrics`` at one instant, computed from the data
plane's engines on demand (nothing is kept per request or per iteration, so the plane pays
only a few counter increments for it).

The quantities are those of vLLM's exporter that AIBrix's metric registry can read
(``pkg/metrics/metrics.go`` at e3e10f9e): gauges of the queue, the running batch, the KV-cache
use and the average token throughputs, and cumulative counters (read raw by AIBrix, without a
rate). The throughput gauges are averages since the previous read of the same pod (vLLM's
logging interval; the first read averages since the pod became routable).
"""

from __future__ import annotations

from typing import NamedTuple

from stormsim.sim.serving.engines import PREFILL_Q, DecodeEngine, PrefillEngine


class EngineSample(NamedTuple):
    """One scrape of one pod's engine (a named tuple: one is built per pod and scrape)."""

    num_requests_waiting: float = 0.0
    num_requests_running: float = 0.0
    kv_cache_usage_perc: float = 0.0
    """KV-cache reservation as a fraction 0..1 (also exported as ``gpu_cache_usage_perc``)."""
    avg_prompt_throughput_toks_per_s: float = 0.0
    avg_generation_throughput_toks_per_s: float = 0.0
    http_requests_total: float = 0.0
    request_success_total: float = 0.0
    prompt_tokens_total: float = 0.0
    generation_tokens_total: float = 0.0

    def value(self, quantity: str) -> float:
        """The value of one of the fields (raises ``KeyError`` for another name)."""
        if quantity not in _FIELDS:
            raise KeyError(quantity)
        return float(getattr(self, quantity))


QUANTITIES: tuple[str, ...] = EngineSample._fields
"""The fields of :class:`EngineSample`, in order."""
_FIELDS = frozenset(QUANTITIES)

IDLE = EngineSample()
"""A listening engine with no traffic: every value 0."""


def _prefill_waiting(pe: PrefillEngine) -> int:
    return sum(1 for r in pe.queue if r.state == PREFILL_Q)


class EngineMeter:
    """Reads :class:`EngineSample` values from engines, keeping the previous read per pod
    (for the throughput gauges)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], tuple[float, int, int, float, float]] = {}
        """Per pod: (time, prompt tokens, generated tokens, prompt and generation
        throughputs) of its previous read."""

    def sample(
        self,
        key: tuple[str, int],
        since: float,
        now: float,
        prefill: PrefillEngine | None,
        decode: DecodeEngine | None,
    ) -> EngineSample:
        """``key``: (pod name, pod sequence number); ``since``: when the engines began
        serving (the first read averages from there)."""
        waiting = running = 0
        kv = 0.0
        prompt = generated = submitted = success = 0
        if prefill is not None and prefill.alive:
            waiting += _prefill_waiting(prefill)
            running += len(prefill.batch)
            prompt = prefill.prompt_tokens
            submitted = prefill.submitted
            kv = prefill.kv.frac()
        if decode is not None and decode.alive:
            generated = decode.generated(now)
            waiting += len(decode.waiting)
            running += decode.B + len(decode.pending)
            success = decode.completed
            kv = decode.kv.frac()
            if prefill is None:
                submitted = decode.completed + decode.outstanding
        last = self._last.get(key)
        if last is not None and now <= last[0]:
            # read again at the same instant (a second metric source or PodAutoscaler on
            # this pod): the gauges are those of the first read, not an average over 0 s
            tp_prompt, tp_gen = last[3], last[4]
        else:
            t0, p0, g0 = (since, 0, 0) if last is None else last[:3]
            dt = now - t0
            tp_prompt = (prompt - p0) / dt if dt > 0 else 0.0
            tp_gen = (generated - g0) / dt if dt > 0 else 0.0
            self._last[key] = (now, prompt, generated, tp_prompt, tp_gen)
        return EngineSample(  # (positional: the fields in order)
            float(waiting),
            float(max(0, running)),
            kv,
            tp_prompt,
            tp_gen,
            float(submitted),
            float(success),
            float(prompt),
            float(generated),
        )

    def forget(self, key: tuple[str, int]) -> None:
        self._last.pop(key, None)
