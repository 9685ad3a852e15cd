"""The GPU and model catalog (``stormsim/data/catalog.yaml``) plus scenario-defined entries."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

from stormsim.errors import InputError, Problem
from stormsim.schema.serving import GpuSpec, ModelArch, Serving

GPU_ALIASES = {"a100": "a100-80gb", "h100": "h100-80gb", "h200-141gb": "h200", "b200-180gb": "b200"}


@lru_cache(maxsize=1)
def builtin() -> tuple[dict[str, GpuSpec], dict[str, ModelArch]]:
    """The packaged catalog, validated once."""
    text = resources.files("stormsim").joinpath("data/catalog.yaml").read_text(encoding="utf-8")
    data: Any = YAML(typ="safe").load(text)
    gpus = {k: GpuSpec.model_validate(v) for k, v in data["gpus"].items()}
    models = {k: ModelArch.model_validate(v) for k, v in data["models"].items()}
    return gpus, models


def _norm(name: str) -> str:
    return name.strip().lower()


class Catalog:
    """Look-ups by case-insensitive name; scenario entries override packaged ones."""

    def __init__(self, serving: Serving):
        gpus, models = builtin()
        self.gpus = {_norm(k): v for k, v in gpus.items()}
        self.gpus.update({_norm(k): v for k, v in serving.gpus.items()})
        self.models = {_norm(k): v for k, v in models.items()}
        self.models.update({_norm(k): v for k, v in serving.models.items()})

    def gpu(self, name: str, where: str = "cluster.node_pools[].gpu_type") -> GpuSpec:
        key = _norm(name)
        key = GPU_ALIASES.get(key, key)
        spec = self.gpus.get(key)
        if spec is None:
            raise InputError(
                Problem(
                    where,
                    f"unknown GPU type {name!r}: known {', '.join(sorted(self.gpus))}; "
                    "add it under serving.gpus",
                )
            )
        return spec

    def model(self, name: str | ModelArch, where: str = "serving.model") -> ModelArch:
        if isinstance(name, ModelArch):
            return name
        spec = self.models.get(_norm(name))
        if spec is None:
            raise InputError(
                Problem(
                    where,
                    f"unknown model {name!r}: known {', '.join(sorted(self.models))}; "
                    "add it under serving.models or give the architecture inline",
                )
            )
        return spec
