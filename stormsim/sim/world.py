"""The simulated world: the parts of one simulation, wired together.

``World(scenario, seed, recorder).run()`` simulates one scenario. Every write goes through
the :class:`~stormsim.sim.store.Store`, whose listeners are, in order: the counters and
records (:mod:`.stats`), the controllers' watches (:mod:`.controllers`, registered in
:mod:`.reconcilers`) and settle detection (:mod:`.settle`). Controller actions are applied by
:mod:`.actions`, pods live through :mod:`.pods` (scheduler and kubelet in :mod:`.cluster`),
the scenario's events run in :mod:`.events` (faults in :mod:`.faults`, the ready fleet in
:mod:`.fleet`), and traffic flows through the serving data plane (:mod:`.serving`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from stormsim.control.autoscaler.scrape import ScrapeCosts
from stormsim.schema.aibrix import GPU_RESOURCE
from stormsim.schema.scenario import Scenario
from stormsim.sim.actions import Actions
from stormsim.sim.autoscaling import SOURCE as PA_CONTROLLER
from stormsim.sim.autoscaling import AutoscalingEnv, PodValue, Resync, has_autoscalers
from stormsim.sim.clock import Clock
from stormsim.sim.cluster import build_nodes
from stormsim.sim.controllers import Controller, ControllerContext, Manager
from stormsim.sim.events import ScenarioEvents
from stormsim.sim.faults import FaultContext
from stormsim.sim.nodescaler import NodeScaler
from stormsim.sim.pods import Pods
from stormsim.sim.reconcilers import REGISTRATIONS
from stormsim.sim.recorder import Recorder
from stormsim.sim.rng import Durations, Sampler, stream
from stormsim.sim.serving import ServingPlane
from stormsim.sim.settle import Settle
from stormsim.sim.stats import Observer, TimeSeries
from stormsim.sim.store import LaggedView, Store

SETTLE_CAP_S = 3600.0
"""Default run end: this long after the last event if the service never settles."""


class World:
    """One simulation. Build it, then call :meth:`run`."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        recorder: Recorder | None = None,
        pod_value: PodValue | None = None,
    ):
        """``pod_value``: replaces the engines' metrics as the autoscalers read them
        (``(pod, registry key) -> value``; tests feed constant inputs through it)."""
        self.scenario = scenario
        self.seed = seed
        self.env = Clock()
        self.recorder = recorder or Recorder()
        self.store = Store()
        self.nodes = build_nodes(scenario.cluster)
        service = scenario.service.manifest.name
        role_names = scenario.all_role_names()
        gpus = float(sum(n.capacity.get(GPU_RESOURCE, 0) for n in self.nodes))
        self.series = TimeSeries(self.env, self.recorder, gpus, role_names)
        # serving data plane: traffic through the routable pods
        self.serving = (
            ServingPlane(
                self.env,
                scenario,
                seed,
                self.recorder.requests,
                self.store.pods,
                {n.name: n for n in self.nodes},
                self.store,
            )
            if scenario.workload is not None
            else None
        )
        self.pods = Pods(
            self.env,
            self.store,
            self.recorder,
            self.nodes,
            Durations(scenario.timing, seed),
            self.serving,
        )
        self.scheduler = self.pods.scheduler
        self.kubelet = self.pods.kubelet
        ctl_cfg = scenario.controller
        self.actions = Actions(self.env, self.store, self.recorder, self.pods, ctl_cfg.api_call_s)
        latency = scenario.timing.reconcile_latency_s
        ctl_rng = Sampler(seed, "controllers")
        asc = scenario.autoscaling
        self.autoscaling = AutoscalingEnv(
            asc.profile,
            asc.start,
            asc.follow_up_reconciles,
            self.serving,
            pod_value,
            ScrapeCosts(asc.scrape_rtt_s, asc.scrape_failure_s, asc.reconcile_timeout_s),
            asc.resync_period_s,
            asc.hpa_sync_period_s,
            asc.hpa_tolerance,
            asc.history_record_interval_s,
            asc.hpa_cpu_initialization_period_s,
            asc.hpa_initial_readiness_delay_s,
        )
        self.manager = Manager(
            ControllerContext(
                self.store,
                self.env,
                self.recorder,
                scenario.controller.profile,
                service,
                self.actions.apply_pass,
                self.actions.busy_s,
                ctl_cfg.cache_lag_s,
                view=LaggedView(self.env, self.store, ctl_cfg.cache_lag_s)
                if ctl_cfg.cache_lag_s > 0
                else None,
                autoscaling=self.autoscaling,
            ),
            REGISTRATIONS,
            lambda key: ctl_rng.draw(latency, key),
        )
        self.controllers: dict[str, Controller] = self.manager.controllers
        """The controllers by name, in registration order."""
        pa_ctl = self.controllers[PA_CONTROLLER]
        pa_ctl.busy = pa_ctl.reconcile.busy  # type: ignore[attr-defined]
        if has_autoscalers(scenario):
            Resync(self.env, self.store, pa_ctl.add, asc.resync_period_s)
        self.settle = Settle(self.env, self.store, self.recorder, service)
        self.store.listeners += [
            Observer(self.store, self.series, role_names).on_change,
            self.manager.on_change,
            self.settle.on_change,
        ]
        self.nodescaler = (
            NodeScaler(
                self.env, scenario.cluster, seed, self.store, self.pods, self.recorder, self.series
            )
            if scenario.cluster.node_autoscaler is not None
            else None
        )
        """The node autoscaler, when the cluster has autoscaled node pools."""
        if self.serving is not None:
            self.serving.nodes = self.scheduler.by_name  # nodes the autoscaler adds, too
        faults = FaultContext(
            self.env,
            self.store,
            self.recorder,
            self.nodes,
            self.pods,
            self.series,
            stream(seed, "faults"),
        )
        self.events = ScenarioEvents(scenario, self.actions, faults, self.settle)
        self.env.process(self.events.process())

    @property
    def now(self) -> float:
        return self.env.now

    def is_settled(self) -> bool:
        """Whether the service is settled now (see :meth:`.settle.Settle.is_settled`)."""
        return self.settle.is_settled()

    # ------------------------------------------------------------------------- run
    def run(self, until_s: float | None = None, settle_cap_s: float = SETTLE_CAP_S) -> float:
        """Run to ``until_s``, or (``None``) until the service settles after the last event,
        capped at the last event + ``settle_cap_s``. Returns the end time (s)."""
        keep = self.serving.long_lived if self.serving is not None else None
        if keep is not None:
            keep.start()
        try:
            if until_s is not None:
                self.env.run(until=until_s)
            else:
                last = max((e.at_s for e in self.scenario.events), default=0.0)
                cap = self.env.timeout(last + settle_cap_s)
                self.env.run(until=self.env.any_of([self.settle.settled, cap]))
                if self._finite_workload() and not cap.processed:
                    self._run_until_drained()
        finally:
            if keep is not None:
                keep.stop()
        self.series.flush()
        return float(self.env.now)

    def _finite_workload(self) -> bool:
        wl = self.scenario.workload
        return (
            self.serving is not None
            and wl is not None
            and (wl.arrival.kind == "trace" or wl.stop_s is not None or wl.max_requests is not None)
        )

    def _run_until_drained(self) -> None:
        """A finite workload (a trace, ``stop_s`` or ``max_requests``) runs on after the
        service settles until every request has arrived and ended, so a replay is complete;
        capped an hour after its last arrival (when known) or after now."""
        plane = self.serving
        assert plane is not None
        done = self.env.event()

        def poll() -> Generator[simpy.Event, Any, None]:
            while not plane.drained():
                yield self.env.timeout(1.0)
            done.succeed()

        self.env.process(poll())
        hint = plane.last_arrival_hint_s
        horizon = max(self.env.now, hint if hint is not None else self.env.now)
        cap = self.env.timeout(horizon - self.env.now + SETTLE_CAP_S)
        self.env.run(until=self.env.any_of([done, cap]))
