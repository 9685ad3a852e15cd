"""The serving data plane: requests through the gateway, prefill/decode engines and KV
transfer, on the pods the simulated controllers create and delete."""

from stormsim.sim.serving.plane import ServingPlane

__all__ = ["ServingPlane"]
