"""An engine's parallelism against the GPUs of its serving instance: every GPU of the
instance (a pod, or a ``podGroupSize > 1`` PodSet's pods) holds one shard of the model, so
``tensor_parallel × pipeline_parallel`` must equal ``pod GPUs × podGroupSize``.

Pipeline stages: ``serving.roles.<role>.pipeline_parallel``, else the engine's command line
(``--pipeline-parallel-size``), else 1. Tensor parallel: ``serving.roles.<role>.tensor_parallel``,
else derived as the instance's GPUs ÷ stages (which must then divide them). Checked for every
role that serves (not ``kind: none``; a role without GPUs serves only with an explicit
``kind``) in the initial manifest and in every ``apply`` manifest."""

from __future__ import annotations

from typing import Any

from stormsim.schema.aibrix import GPU_RESOURCE
from stormsim.schema.scenario import Apply, Scenario

Path = tuple[str | int, ...]


def parallel_problems(s: Scenario) -> list[tuple[Path, str]]:
    """(field path, message) for every serving role whose parallelism does not fit its
    instance's GPUs (nothing without a ``serving`` section)."""
    serving = s.serving
    if serving is None:
        return []
    manifests: list[tuple[Path, str, Any]] = [
        (("service", "manifest"), "service.manifest", s.service.manifest)
    ]
    for i, ev in enumerate(s.events):
        if isinstance(ev, Apply) and ev.manifest is not None:
            manifests.append((("events", i, "manifest"), f"events[{i}].manifest", ev.manifest))
    out: list[tuple[Path, str]] = []
    seen: set[tuple[str, int, int | None, int]] = set()
    for base, where, m in manifests:
        for j, r in enumerate(m.spec.template.spec.roles):
            over = serving.roles.get(r.name)
            gpus = r.template.gpus
            kind = over.kind if over is not None else None
            if kind == "none" or (kind is None and gpus <= 0):
                continue
            group = r.group_size
            total = max(1, gpus) * group
            pp_arg = r.template.pipeline_parallel_arg()
            if over is not None and over.pipeline_parallel:
                pp, pp_from = over.pipeline_parallel, f"pipeline_parallel {over.pipeline_parallel}"
            elif pp_arg:
                pp, pp_from = pp_arg, f"{pp_arg} pipeline stages (the engine's command line)"
            else:
                pp, pp_from = 1, "pipeline_parallel 1 (the default)"
            tp = over.tensor_parallel if over is not None else None
            if (r.name, total, tp, pp) in seen:
                continue  # the same role again in a later manifest
            seen.add((r.name, total, tp, pp))
            gpus_of = (
                f"an instance of role {r.name!r} ({where}: {gpus} {GPU_RESOURCE} per pod × "
                f"podGroupSize {group})"
            )
            if tp is not None and tp * pp != total:
                out.append(
                    (
                        ("serving", "roles", r.name, "tensor_parallel"),
                        f"tensor_parallel {tp} × {pp_from} = {tp * pp} GPUs, but {gpus_of} "
                        f"has {total}: each GPU of the instance holds one shard of the engine",
                    )
                )
            elif tp is None and total % pp:
                path: Path = (
                    ("serving", "roles", r.name, "pipeline_parallel")
                    if over is not None and over.pipeline_parallel
                    else (*base, "spec", "template", "spec", "roles", j)
                )
                out.append(
                    (
                        path,
                        f"{pp_from} does not divide the {total} GPUs of {gpus_of}: "
                        "tensor_parallel is not set, so it is derived from the pod as the "
                        "instance's GPUs ÷ the pipeline stages",
                    )
                )
    return out
