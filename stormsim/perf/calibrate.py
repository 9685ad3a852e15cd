"""``stormsim calibrate`` as one call: read profiles, fit, write the calibration file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stormsim.errors import InputError, Problem
from stormsim.perf.calibration import Calibration, builtin_calibration, dump_calibration
from stormsim.perf.fit import (
    ErrorRow,
    _summary,
    allreduce_ratios,
    attention_ratios,
    fit,
    fit_iterations,
    iteration_points,
    layer_ratios,
    read_profiles,
)
from stormsim.schema.serving import ModelArch


@dataclass(frozen=True)
class CalibrateResult:
    calibration: Calibration
    errors: list[ErrorRow]


def calibrate(
    profiles: list[Path], gpu: str, out: Path | None = None, model: str | ModelArch | None = None
) -> CalibrateResult:
    """Fit coefficients for catalog GPU ``gpu`` from ``profiles`` (parts without data keep the
    packaged calibration's values); iteration-time profiles need ``model``. Writes ``out``
    (YAML) when given, only after the fit succeeded."""
    from stormsim.perf.catalog import Catalog, _norm
    from stormsim.schema.serving import Serving

    cat = Catalog(Serving())
    spec = cat.gpu(gpu, "--gpu")
    name = next((k for k, v in cat.gpus.items() if v == spec), _norm(gpu))
    base = builtin_calibration(name)
    prof = read_profiles(list(profiles))
    iters, prof.iterations = prof.iterations, []
    src = "stormsim calibrate " + " ".join(p.name for p in profiles)
    cal = fit(prof, gpu, spec, base=base, source=src)
    errors = layer_ratios(prof, cal, spec) + attention_ratios(prof, cal, spec)
    errors += allreduce_ratios(prof, cal)
    if iters:
        if model is None:
            raise InputError(
                Problem("--model", "iteration-time profiles need --model or --model-file")
            )
        arch = cat.model(model, "--model")
        prof.iterations = iters
        cal = fit_iterations(prof, arch, spec, cal)
        pts = iteration_points(prof, arch, spec, cal)
        errors.append(
            _summary("iteration", "measured", 0, [(p + cal.overhead_s) / y for p, y, _ in pts])
        )
    if out is not None:
        out.write_text(f"# {src}\n" + dump_calibration(cal), encoding="utf-8")
    return CalibrateResult(cal, errors)
