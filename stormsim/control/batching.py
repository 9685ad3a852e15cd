"""Slow-start batching of a controller's API writes (pure).

AIBrix issues many creates or deletes of one pass through ``slowStartBatch``
(``pkg/controller/util``/``pkg/controller/roleset`` at commit e3e10f9e): the first batch has
``initial`` calls, each further batch twice the previous one, the last batch whatever is
left; the calls of a batch run concurrently and the next batch starts when the batch is
done. RoleSet creates, deletes and updates by the StormService controller start at 1; pod
creates and deletes by the RoleSet controller start at 16 and are capped at 500 calls per
batch (``PodBurst``); PodSets go one by one (batches of 1, no growth).

In Go the loop stops at the first batch that has an error; stormsim simulates no API
errors, so every batch of a pass goes out.
"""

from __future__ import annotations

ROLESET_INITIAL = 1
"""First slow-start batch of the StormService controller's RoleSet writes."""
POD_INITIAL = 16
"""First slow-start batch of the RoleSet controller's pod creates and deletes."""
POD_BURST = 500
"""At most this many pod calls in one batch (``PodBurst``)."""


def slow_start_sizes(n: int, initial: int, cap: int | None = None) -> list[int]:
    """Batch sizes for ``n`` calls: ``initial``, ``2·initial``, ``4·initial``, … (each at
    most ``cap`` when given), the last batch holding the remainder.

    Invariants: the sizes sum to ``n``; every size is >= 1 and <= ``cap``; ``n == 0`` gives
    no batch. ``initial`` must be >= 1.
    """
    if initial < 1:
        raise ValueError(f"initial batch size must be >= 1, got {initial}")
    if cap is not None and cap < 1:
        raise ValueError(f"batch cap must be >= 1, got {cap}")
    sizes: list[int] = []
    size = initial
    left = n
    while left > 0:
        b = min(size, left) if cap is None else min(size, left, cap)
        sizes.append(b)
        left -= b
        size *= 2
    return sizes


def batch_rounds(
    keys: list[object | None], rules: dict[type, tuple[int, int | None]], kinds: list[type]
) -> list[int]:
    """The API round (0 = the first) each action of a pass goes out in.

    ``kinds[i]`` is the type of action ``i`` and ``keys[i]`` groups it (a run of consecutive
    actions with the same type and key is one ``slowStartBatch`` call, e.g. the pod creates of
    one role). Types in ``rules`` (``type -> (initial, cap)``) are batched: every batch after
    the pass's first batched call starts a new round. Other actions (events, statuses,
    revisions) cost no round: they go out with the round before them (round 0 when first).
    Rounds never decrease along the list.
    """
    rounds: list[int] = []
    r = 0
    used = False
    i = 0
    n = len(kinds)
    while i < n:
        rule = rules.get(kinds[i])
        if rule is None:
            rounds.append(r)
            i += 1
            continue
        j = i
        while j < n and kinds[j] is kinds[i] and keys[j] == keys[i]:
            j += 1
        for size in slow_start_sizes(j - i, rule[0], rule[1]):
            if used:
                r += 1
            used = True
            rounds.extend([r] * size)
        i = j
    return rounds
