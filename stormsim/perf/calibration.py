"""Calibration files of the calibrated latency model (the schema and loader live in
:mod:`stormsim.schema.calibration`, which the scenario loader validates with)."""

from stormsim.schema.calibration import (
    BUILTIN,
    ELEMENTWISE_KINDS,
    AllReduceCoef,
    AllReduceFit,
    Calibration,
    DecodeAttentionCoef,
    ElementwiseCoef,
    GemmCoef,
    PrefillAttentionCoef,
    builtin_calibration,
    dump_calibration,
    load_calibration,
    parse_calibration,
)

__all__ = [
    "BUILTIN",
    "ELEMENTWISE_KINDS",
    "AllReduceCoef",
    "AllReduceFit",
    "Calibration",
    "DecodeAttentionCoef",
    "ElementwiseCoef",
    "GemmCoef",
    "PrefillAttentionCoef",
    "builtin_calibration",
    "dump_calibration",
    "load_calibration",
    "parse_calibration",
]
