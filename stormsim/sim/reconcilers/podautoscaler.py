"""The PodAutoscaler controller in the world (:mod:`stormsim.sim.autoscaling`): watches
PodAutoscalers with no predicate, so its own status writes enqueue it again at once, as
AIBrix's ``For(&PodAutoscaler{})`` does; the 10 s resync is a process of the world."""

from __future__ import annotations

from datetime import UTC, datetime

from stormsim.sim.autoscaling import SOURCE, AutoscalingEnv, PodAutoscalerReconciler
from stormsim.sim.controllers import ControllerContext, Reconcile, Registration, Watch
from stormsim.sim.store import PA


def _setup(ctx: ControllerContext) -> Reconcile:
    env = ctx.autoscaling
    if env is None:
        # a world built without autoscaling inputs: the defaults, no metrics
        env = AutoscalingEnv("aibrix-e3e10f9e", datetime(2026, 8, 3, tzinfo=UTC), True, None)
    return PodAutoscalerReconciler(ctx, env)


REGISTRATION = Registration(
    name=SOURCE,
    stream="podautoscaler",
    kind=PA,
    watches=(Watch(PA, lambda _ctx, pa: pa.name),),
    setup=_setup,
)
