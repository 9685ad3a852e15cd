"""The performance layer: pure mathematics and data of serving performance, below ``sim``.

* :mod:`stormsim.perf.registry`: the :class:`~stormsim.perf.registry.LatencyModel` interface
  (iteration times in seconds) and the registry of latency models by name;
* :mod:`stormsim.perf.latency`: the roofline latency model (``EngineCost``) and the model
  arithmetic it rests on (parameters, weight and KV bytes, KV capacity);
* :mod:`stormsim.perf.catalog`: the GPU and model catalog (packaged plus scenario entries);
* :mod:`stormsim.perf.lengths`: the request length distributions (``draw_lengths``).

No SimPy and no pandas here (``tests/test_layers.py``): the serving data plane (``sim``) and
the planner (``analysis``) both build on it, so they time an iteration the same way.
"""
