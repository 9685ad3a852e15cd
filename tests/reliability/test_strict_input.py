"""Lax and out-of-range values are rejected at load (exit 2 at the CLI), as the Kubernetes API
server or client would: quantities, int32 bounds, sizes the simulator cannot run, numbers that
are not numbers, control characters in names, int-or-percent read like Go's strconv.Atoi."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

import stormsim
from stormsim.control.fenceposts import fenceposts_or_zero, resolve_fenceposts
from stormsim.errors import InputError
from stormsim.schema.intstr import atoi
from stormsim.schema.quantity import parse_quantity
from tests.conftest import make_manifest, make_scenario


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1), ("500m", Decimal("0.5")), ("16Gi", 16 * 2**30), ("1e3", 1000), ("1E3", 1000),
        (".5", Decimal("0.5")), ("5.", 5), ("+1", 1), ("2Ei", 2 * 2**60), ("100n", Decimal("1e-7")),
        ("3u", Decimal("3e-6")), ("1k", 1000), ("2M", 2_000_000), ("1P", 10**15), ("1E", 10**18),
        (4, 4), (1.5, Decimal("1.5")),
    ],
)  # fmt: skip
def test_quantities_parse_like_the_kubernetes_client(text: object, value: object) -> None:
    assert parse_quantity(text) == Decimal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["", "abc", "inf", "NaN", " 1", "1 ", "1_0", "1 Gi", "1.2.3", "١", "Gi", "e3", "1e", "1ki",
     "1KB", "0x10", True, None, float("inf"), float("nan"), "1e1000"],
)  # fmt: skip
def test_quantities_kubernetes_rejects_are_rejected(text: object) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize("text", ["50", "+50", "-50", "007"])
def test_atoi_accepts_what_go_accepts(text: str) -> None:
    assert atoi(text) == int(text)


@pytest.mark.parametrize("text", [" 50", "50 ", "5_0", "٥٠", "", "+", "5.0", "9" * 30])
def test_atoi_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        atoi(text)


@pytest.mark.parametrize("text", [" 50%", "5_0%", "٥٠%", "50 %"])
def test_percent_strings_go_rejects_resolve_to_zero_as_in_aibrix(text: str) -> None:
    with pytest.raises(ValueError):
        resolve_fenceposts(text, 0, 4)
    assert fenceposts_or_zero(text, 0, 4) == (0, 0)


def _load(mutate: Any) -> list[str]:
    m = make_manifest()
    sc = make_scenario(m)
    mutate(sc, sc["service"]["manifest"])
    with pytest.raises(InputError) as info:
        stormsim.load_scenario(copy.deepcopy(sc))
    return [str(p) for p in info.value.problems]


def _container(m: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = m["spec"]["template"]["spec"]["roles"][0]["template"]["spec"]["containers"][
        0
    ]
    return c


def _gpu(value: object) -> Any:
    return lambda sc, m: _container(m)["resources"]["limits"].__setitem__("nvidia.com/gpu", value)


CASES: list[tuple[str, Any, str]] = [
    ("gpu abc", _gpu("abc"), "not a Kubernetes quantity: 'abc'"),
    ("gpu empty", _gpu(""), "not a Kubernetes quantity: ''"),
    ("gpu inf", _gpu("inf"), "not a Kubernetes quantity: 'inf'"),
    ("gpu NaN", _gpu("NaN"), "not a Kubernetes quantity: 'NaN'"),
    ("gpu true", _gpu(True), "not a quantity: True"),
    ("gpu 1e30", _gpu("1e30"), "at most 1024"),
    ("gpu fraction", _gpu("500m"), "must be a whole number"),
    ("gpu negative", _gpu(-1), "greater than or equal to 0"),
    (
        "memory junk",
        lambda sc, m: _container(m)["resources"].__setitem__("requests", {"memory": "lots"}),
        "not a Kubernetes quantity: 'lots'",
    ),
    (
        "gpu requests != limits",
        lambda sc, m: _container(m)["resources"].__setitem__("requests", {"nvidia.com/gpu": 2}),
        "requests must equal limits",
    ),
    (
        "template without spec",
        lambda sc, m: m["spec"]["template"]["spec"]["roles"][0]["template"].pop("spec"),
        "pod template spec needs 'containers'",
    ),
    (
        "replicas 2^64",
        lambda sc, m: m["spec"].__setitem__("replicas", 2**64),
        "less than or equal to 2147483647",
    ),
    (
        "role replicas 1e12",
        lambda sc, m: m["spec"]["template"]["spec"]["roles"][0].__setitem__("replicas", 10**12),
        "less than or equal to 2147483647",
    ),
    (
        "fleet too big",
        lambda sc, m: m["spec"].__setitem__("replicas", 10**6),
        "at most 1,000,000 pods",
    ),
    (
        "scale too big",
        lambda sc, m: sc.__setitem__("events", [{"at_s": 1, "kind": "scale", "replicas": 10**7}]),
        "at most 1,000,000 pods",
    ),
    (
        "10^7 nodes",
        lambda sc, m: sc["cluster"]["node_pools"][0].__setitem__("count", 10**7),
        "less than or equal to 100000",
    ),
    (
        "negative maxSurge",
        lambda sc, m: m["spec"]["updateStrategy"].__setitem__("maxSurge", -1),
        "greater than or equal to 0",
    ),
    (
        "negative percent",
        lambda sc, m: m["spec"]["updateStrategy"].__setitem__("maxSurge", "-50%"),
        "greater than or equal to 0%",
    ),
    (
        "inf event time",
        lambda sc, m: sc.__setitem__("events", [{"at_s": float("inf"), "kind": "pause"}]),
        "finite number",
    ),
    ("inf until", lambda sc, m: sc.__setitem__("until_s", float("inf")), "finite number"),
    (
        "true for a number",
        lambda sc, m: sc["cluster"]["node_pools"][0].__setitem__("count", True),
        "valid integer",
    ),
    (
        "numeric string",
        lambda sc, m: sc["cluster"]["node_pools"][0].__setitem__("count", "2"),
        "valid integer",
    ),
    (
        "string duration",
        lambda sc, m: sc["timing"].__setitem__("model_load_s", "3"),
        "model_load_s",
    ),
    ("NUL in name", lambda sc, m: sc.__setitem__("name", "a\x00b"), "name"),
    ("newline in name", lambda sc, m: sc.__setitem__("name", "a\nb"), "name"),
]


@pytest.mark.parametrize(("case", "mutate", "message"), CASES, ids=[c[0] for c in CASES])
def test_lax_or_out_of_range_input_is_an_input_error(case: str, mutate: Any, message: str) -> None:
    problems = _load(mutate)
    assert any(message in p for p in problems), problems
