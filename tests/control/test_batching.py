"""Slow-start batch sizes (AIBrix ``slowStartBatch``), computed by hand."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stormsim.control.batching import POD_BURST, POD_INITIAL, ROLESET_INITIAL, slow_start_sizes


@pytest.mark.parametrize(
    ("n", "sizes"),
    [
        (0, []),
        (1, [1]),
        (16, [1, 2, 4, 8, 1]),
        (17, [1, 2, 4, 8, 2]),
        (100, [1, 2, 4, 8, 16, 32, 37]),
        (1000, [1, 2, 4, 8, 16, 32, 64, 128, 256, 489]),
        (2000, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 977]),
    ],
)
def test_roleset_sizes_start_at_one(n: int, sizes: list[int]) -> None:
    assert slow_start_sizes(n, ROLESET_INITIAL) == sizes


@pytest.mark.parametrize(
    ("n", "sizes"),
    [
        (1, [1]),
        (16, [16]),
        (17, [16, 1]),
        (100, [16, 32, 52]),
        (1000, [16, 32, 64, 128, 256, 500, 4]),
        (2000, [16, 32, 64, 128, 256, 500, 500, 500, 4]),
    ],
)
def test_pod_sizes_start_at_16_capped_at_500(n: int, sizes: list[int]) -> None:
    assert slow_start_sizes(n, POD_INITIAL, POD_BURST) == sizes


def test_cap_one_is_one_by_one() -> None:
    assert slow_start_sizes(3, 1, 1) == [1, 1, 1]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        slow_start_sizes(3, 0)
    with pytest.raises(ValueError):
        slow_start_sizes(3, 1, 0)


@given(st.integers(0, 5000), st.integers(1, 64), st.one_of(st.none(), st.integers(1, 600)))
def test_sizes_sum_and_bounds(n: int, initial: int, cap: int | None) -> None:
    sizes = slow_start_sizes(n, initial, cap)
    assert sum(sizes) == n
    assert all(1 <= s <= (cap if cap is not None else n) for s in sizes)
    # doubling until the cap, then flat, except the last remainder
    for a, b in itertools.pairwise(sizes[:-1]):
        assert b == (a * 2 if cap is None else min(a * 2, cap))


def test_rounds_of_a_pass() -> None:
    from stormsim.control.batching import batch_rounds

    class A: ...

    class B: ...

    class E: ...

    rules: dict[type, tuple[int, int | None]] = {A: (1, None), B: (16, 500)}
    kinds: list[type] = [E, A, A, A, A, E, B, B, A]
    keys: list[object | None] = [None, None, None, None, None, None, "x", "y", None]
    # E free in round 0; A x4 -> batches 1, 2, 1 (rounds 0, 1, 2); E with round 2;
    # B "x" and B "y" are separate calls (rounds 3, 4); the last A round 5
    assert batch_rounds(keys, rules, kinds) == [0, 0, 1, 1, 2, 2, 3, 4, 5]
