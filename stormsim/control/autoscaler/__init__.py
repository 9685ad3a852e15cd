"""AIBrix's PodAutoscaler controller (commit e3e10f9e) as pure functions over plain
snapshots: bounds and schedules (:mod:`.bounds`), the scaling context from annotations
(:mod:`.context`), the target's replicas, pod selection and write (:mod:`.target`), the scrape
outcome and cost model (:mod:`.scrape`), the 1 s metric windows (:mod:`.window`), KPA and APA
(:mod:`.algorithms`), stabilization (:mod:`.stabilize`), the decision (:mod:`.decide`) and the
HPA strategy with the Kubernetes HPA algorithm (:mod:`.hpa`). No SimPy, no clock: times are
arguments. Two profiles (``aibrix-e3e10f9e``, ``fixed-math``) are selected by argument;
``docs/aibrix/podautoscaler.md`` describes both.
"""
