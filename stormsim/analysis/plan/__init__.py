"""Capacity planning (``stormsim plan``): the cheapest P/D configuration that meets the SLOs,
in steady state and during a full rollout, and the maximum load each candidate sustains
(docs/capacity-planning.md).

The search, per candidate (GPU type x prefill TP x decode TP [x RoleSet shape], or a colocated
engine TP):

1. **Analytic bracket and pruning.** The scenario's latency model (``serving.latency_model``,
   :mod:`stormsim.perf.registry`, the one the data plane uses) gives each pod's prefill and decode
   capacity at the planned request lengths. A candidate that cannot meet the SLOs even unloaded
   (the prompt at the target quantile takes longer than the TTFT SLO to prefill, or one
   decode step exceeds the TPOT SLO) is *infeasible*. The capacities at 100% utilisation give
   a lower bound of the GPUs, hence of the cost; candidates are simulated in increasing order
   of that bound and a candidate whose bound is not below the cheapest configuration found so
   far is *dominated* and never simulated. The capacities at a safe utilisation give the
   starting point of the count search.
2. **Bracketing and bisection on counts.** Attainment is monotone in the pod counts, so the
   smallest count meeting the SLOs is found by stepping from the analytic guess with doubling
   steps until the answer is bracketed, then bisecting. Pooled P/D searches the prefill count
   first with plenty of decode pods (TTFT attainment), then the decode count (joint
   attainment); replica mode and colocated engines search one count (RoleSets or engines).
3. **Seeds and confidence intervals.** Every evaluation simulates all the plan's seeds (common
   random numbers: the same arrivals and lengths for every candidate) and decides with the
   plan's ``criterion`` (every seed, the mean, or the lower end of the 95% Student-t interval).
   A run that fails is an error with its cause, never an SLO miss: the plan stops (or, with
   ``keep_going``, reports the candidate as failed and goes on).
4. **Goodput** (DistServe, Splitwise): the highest request rate at which the configuration
   still meets the attainment target, found by scaling the load (bracket, then bisection to
   ``goodput_rel_tol``), reported per configuration and per GPU.
5. **Rollout.** Each feasible candidate is rolled out (image change of every role) under each
   ``max_surge`` x ``max_unavailable`` of the plan, with traffic; attainment is measured over
   the requests arriving in the update window (every simulated fleet starts deployed and
   Ready, so what is measured is never a half-started fleet; a rollout times out after an
   estimate from the start-up distributions). For the recommendation, settings whose window
   attainment misses the target get extra RoleSets (replica) or extra pods per role (pooled),
   bisected. The rollout plan is the setting needing the fewest GPUs at peak (steady + extra +
   surge), then the shortest rollout.

Runs go through the analysis executors (local processes or Ray) and, with ``out``, a run
cache (``OUT/runs``), so an interrupted plan resumes.

Modules: :mod:`.scenario` (candidates, configurations, the simulated scenario),
:mod:`.analytic` (capacities, pruning), :mod:`.measure` (one run's metrics and :func:`judge`,
the one place a measured configuration is held against the SLOs), :mod:`.search` (evaluations
and the count search), :mod:`.recommend` (the typed :class:`Recommendation` and its rollout
and sensitivity studies), :mod:`.result` (:class:`PlanResult`, the report model) and
:mod:`.core` (:func:`plan`).
"""

from stormsim.analysis.plan.core import plan
from stormsim.analysis.plan.measure import Evaluation, Verdict, judge
from stormsim.analysis.plan.recommend import Recommendation, Rejected, RolloutChoice
from stormsim.analysis.plan.result import PlanResult, duration_text
from stormsim.analysis.plan.scenario import Candidate, Config
from stormsim.analysis.plan.search import Planner, RunFailed, min_count

__all__ = [
    "Candidate",
    "Config",
    "Evaluation",
    "PlanResult",
    "Planner",
    "Recommendation",
    "Rejected",
    "RolloutChoice",
    "RunFailed",
    "Verdict",
    "duration_text",
    "judge",
    "min_count",
    "plan",
]
