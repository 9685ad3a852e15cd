"""Kubernetes resource quantities, parsed as ``k8s.io/apimachinery/pkg/api/resource``'s
``ParseQuantity`` does: the whole grammar, nothing more.

::

    quantity   ::= sign? number suffix
    number     ::= digits | digits "." digits? | "." digits
    suffix     ::= "" | binarySI | decimalSI | ("e" | "E") sign? digits
    binarySI   ::= Ki | Mi | Gi | Ti | Pi | Ei
    decimalSI  ::= n | u | m | k | M | G | T | P | E

No spaces, no ``inf``/``NaN``, no ``_`` separators, no Unicode digits; an empty string is an
error. A YAML integer or finite float is accepted (the API server receives JSON numbers), a
boolean is not.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<bin>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exp>[eE][+-]?[0-9]+)|(?P<dec>[numkMGTPE]?))",
    re.ASCII,
)
MAX_EXPONENT = 100
"""Decimal exponents beyond this are rejected (Kubernetes caps quantities far below; a
simulator has no use for them)."""


def parse_quantity(value: object) -> Decimal:
    """The exact value of a Kubernetes quantity; ``ValueError`` (with the reason) otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a quantity: {value!r}")
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise ValueError(f"not a quantity: {value!r}")
    m = _QUANTITY.fullmatch(value)
    if m is None:
        raise ValueError(
            f"not a Kubernetes quantity: {value!r} (a number with an optional suffix "
            "Ki/Mi/Gi/Ti/Pi/Ei, n/u/m/k/M/G/T/P/E or an exponent, e.g. 500m, 16Gi, 1e3)"
        )
    try:
        num = Decimal(m["num"])
        if m["bin"]:
            return num * _BINARY[m["bin"]]
        if m["exp"]:
            exp = int(m["exp"][1:])
            if abs(exp) > MAX_EXPONENT:
                raise ValueError(f"quantity {value!r}: exponent out of range")
            return num.scaleb(exp)
        return num * _DECIMAL[m["dec"] or ""]
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise ValueError(f"not a Kubernetes quantity: {value!r}") from None
