"""TSCL teachers: pick the task whose score curve is steepest (Teacher-Student Curriculum Learning).

Paper: *Teacher-Student Curriculum Learning* (Matiisen, Oliver, Cohen, Schulman; arXiv 1707.00183,
IEEE TNNLS), rules and defaults as in the TSCL repository's ``addition/addition_rnn_teacher.py``
(``shared/reference/teachers-bandit-lp.md`` section 4). Written from that description.

Signal: ``score`` -- one per-task score per finished episode (success, accuracy, return; any
finite real, magnitudes up to 1e100). Each variant turns a task's score history into a value
``Q_a``; the policy then prefers large ``Q`` (or large ``|Q|`` with ``absolute=True``, so that
forgetting -- a falling score -- is revisited too).

Variants (``x`` = the task's newest score observation, ``t`` = the teacher's update counter):

- ``tscl-online``: ``s = x - prev_a``; ``Q_a <- Q_a + alpha (s - Q_a)``; ``prev_a <- x``. As in
  TSCL ``prev`` starts at 0, so a first visit contributes ``s = x``. (TSCL maps NaN deltas of
  unobserved tasks to 0; here only the played task is observed and NaN signals are rejected.)
- ``tscl-naive``: the distribution stays fixed for ``window`` observations (a cycle); then, for
  every task observed in the cycle, ``slope`` = OLS slope of its ``(t, x)`` points in the cycle
  (1 if it has fewer than 2) and ``Q_a <- Q_a + alpha (slope - Q_a)``. Tasks not observed in the
  cycle keep ``Q_a`` (in TSCL every task is scored at every step, so this case does not arise
  there; touching them all would cost O(N) per cycle).
- ``tscl-window``: a FIFO of the task's last ``window`` points ``(t, x)``; ``Q_a`` = their OLS
  slope, or 1 with fewer than 2 points (forces initial exploration).
- ``tscl-sampling``: a FIFO of the task's last ``window`` deltas ``x - prev_a`` (``prev`` from 0);
  ``Q_a`` = one delta drawn uniformly from the FIFO (1 while it is empty). TSCL's "Thompson"
  policy is this draw followed by epsilon-greedy.

Policies (``policy=``): ``"epsilon-greedy"`` (default): ``p = (1 - eps) onehot(argmax v) + eps/N``;
``"boltzmann"``: ``p = (1 - eps) softmax(v / temperature) + eps/N``, with ``v = |Q|`` or ``Q``.
TSCL's Boltzmann policy has no ``eps`` term; we add it so that every policy keeps the exploration
floor ``eps / N`` (``exploration_floor()``); ``epsilon=0`` gives TSCL's pure softmax.

Aggregation (``aggregate``, ours): the TSCL rule sees the mean of ``aggregate`` consecutive scores
of a task as one observation (its ``t`` is the update counter when the last of them arrives).
TSCL scored each step on 4096 validation samples; slopes and deltas of single Bernoulli outcomes
are noise (reference section 4 "signal caveat" and lesson 1). ``aggregate=1`` is the paper's
per-observation rule.

Ties: among tasks with equal values the least recently updated one wins (round-robin; tasks never
updated come first, in a random order drawn from ``self.rng``). TSCL draws a uniform tie-break at
every step, which a MaxTree cannot do in O(log N); round-robin gives each tied task the same share
with less variance. (Fresh random priorities at each update are *not* fair: a task that draws a
low priority starves. On the chain benchmark below that made Window 1.8x slower: 11 469 vs 6 324
episodes, aggregate 1.) The (1 - eps) mass reaches tasks without signal only when *no* task has
signal (reference lesson 2): any nonzero value beats every all-zero history (Online's Q of a task
that ever changed decays but never returns to exactly 0), and Window/Sampling give unseen tasks
the value 1, so each is tried first. Locked and infeasible tasks look identical (all-zero
histories), so when no task has signal the rotation visits both; on the chain this costs about
6 practices x 20 infeasible tasks per unlocked task, ~2 300 infeasible episodes in all, which is
why the fastest settings keep an infeasible share near 0.37 (slower settings dilute it below 0.3).
``tie_break="silent-first"`` (ours; default ``"round-robin"``, the rule above) puts tasks whose
every score so far was 0 ahead of all tasks that ever scored, round-robin within each group: a
mastered task whose window is flat (slope exactly 0) then no longer takes turns with the locked
tasks, so unlocks are found sooner, at the price of a higher infeasible share. On the chain
benchmark below (seeds 0-4) ``tie_break="silent-first", window=15, aggregate=2, epsilon=0.1`` is
the fastest setting we found: 5 367 episodes, 0.34x uniform, infeasible share 0.44 (seeds 0-9:
5 344 vs uniform 15 883, 0.34x); window 10-12 and epsilon 0.15 give 0.34-0.36x.

Defaults: ``epsilon = 0.1``, ``temperature = 0.0004``, ``alpha = 0.1``, ``window = 10`` (TSCL
addition argparse; Window's epsilon and window are ours, see below). Ours, tuned on
``ChainStudent(20 feasible, 20 infeasible, "bernoulli")``, seeds 0-4, mean episodes until all
feasible tasks are mastered (uniform: 15 811): ``absolute = True`` (TSCL default off; its readme
runs both) and ``aggregate = 3`` (Window: 6, see below):

    aggregate:              1            2            3            5            10
    Window   absolute=True  6324 (0.42)  6688 (0.39)  6322 (0.37)  7554 (0.36)  9601 (0.34)
    Window   absolute=False 13169 (0.53) 7694 (0.51)  6742 (0.45)  6945 (0.38)  9355 (0.34)
    Sampling absolute=True  6874 (0.42)  7122 (0.40)  7469 (0.39)  8897 (0.38)
    Sampling absolute=False 7357 (0.44)  7612 (0.42)  8093 (0.40)  8663 (0.39)

(infeasible share in brackets; ``window = 10``, ``epsilon = 0.1``). ``aggregate = 3`` is the
fastest Window setting with a lower infeasible share than 1; Sampling is ~9% slower at 3 than at 1.

Window's defaults are ``epsilon = 0.05``, ``window = 25``, ``aggregate = 6`` -- tuned by us on
the same benchmark, seeds 0-4, for the issue's target of <= 0.6x uniform's episodes at an
infeasible share < 0.3 (TSCL: ``epsilon = 0.1``, ``window = 10``, per-observation slopes):
9 017 episodes (0.57x uniform) at an infeasible share of 0.27 (seeds 0-9: 0.57x, 0.27).
Each unlock of the next chain task costs the tie rotation ~6.5 tries on every all-zero task, so
an outcome-only teacher spends ~2 500 infeasible episodes; a share < 0.3 therefore needs >= ~8 300
episodes (0.53x), and only slower, more aggregated settings reach it. Neighbouring settings
(seeds 0-4, episodes/uniform and share): window 20 + aggregate 6 + eps 0.02 0.54x/0.30, window
20 + aggregate 7 + eps 0.05 0.57x/0.29, window 20 + aggregate 8 + eps 0.1 0.62x/0.28. For speed
without the share constraint pass ``window=10, aggregate=3, epsilon=0.1`` (0.40x, share 0.37) or
``aggregate=1`` (0.42x). Sampling keeps the TSCL window/epsilon and ``aggregate = 3``: none of
window 10-30 x aggregate 3-12 x epsilon 0.02-0.1 brought its infeasible share below 0.3 (best
trade-off window 20, aggregate 8, eps 0.02: 0.67x at 0.31), so it stays on its fast setting.
A finer sweep (teacher seed = student seed as in ``benchmarks/students.py``, uniform 15 790)
found one benchmark setting that meets the target on seeds 0-4, ``window = 15, aggregate = 9,
epsilon = 0.02``: 0.54x at a share of 0.287 -- but only just: on seeds 0-9 it gives 0.58x at
0.301. Its neighbours are as marginal: window 16 or 18 (aggregate 9, epsilon 0.02) meet it on
seeds 0-4 (0.59x/0.293, 0.60x/0.281) but not on seeds 0-9 (0.62x/0.304, 0.605x/0.284); window 15
with aggregate 10 meets it on seeds 0-9 (0.60x/0.293) but not on 0-4 (0.603x/0.297); the rest
of window 12-30 x aggregate 7-14 x epsilon 0.01-0.1 misses. Sampling's drawn delta of a
mastered or plateaued task is often exactly 0, which ties it with the all-zero tasks and sends
the rotation to infeasible tasks. Also tried, none better:
``tie_break="silent-first"`` (window 10-30 x aggregate 2-10 x epsilon 0.02-0.1: share >= 0.31
at <= 0.62x, 0.26 at 0.69x), Boltzmann with temperature 4e-4-0.1 (share >= 0.34 below 0.9x),
``absolute=False`` (share >= 0.32 below 0.56x) and ``refresh_every`` 3-30 (no share below 0.3
under 0.7x).
On this benchmark Online is 3-4x *slower* than uniform (any task whose Q ever moved keeps beating
the all-zero tasks, so mastered tasks hog the argmax), Naive ~1.2x slower, matching the
reference's prototype; Boltzmann (T = 0.0004) Window 11 559, Sampling 8 417 (aggregate 3).

Where TSCL does not help (``benchmarks/students.py`` profiles, seeds 0-4): with noisy *scores*
(``observation="noisy"``, sigma 0.05) or a forgetting student (decay 1e-4 per episode) Window needs
2-3.8x uniform's episodes, whatever its window/aggregate/epsilon (seeds 0-2, four settings tried):
the noise of mastered tasks keeps winning the |slope| argmax, and a forgotten task's slope is only
refreshed when it is played again, so replay rests on the epsilon floor. Prefer ``lp`` or
``thompson`` there.

Cost: O(log N) per sample and update. Epsilon-greedy samples with one uniform draw: below eps a
uniform task, else the argmax of a :class:`MaxTree` (O(1)); Boltzmann samples from a
:class:`SumTree` over ``exp((v - shift) / temperature)``, rebuilt around a new shift only when the
largest value drifts more than ``300 * temperature`` from it. Window slopes are O(window). The
Sampling teacher caches one drawn delta per task: the updated task's draw is renewed at its update,
and all draws are renewed together (one numpy pass and a tree rebuild) every ``refresh_every``
observations: default ``max(1, N // 100)`` below 10 000 tasks (exact per-step resampling as in
TSCL for N < 200), ``N // 10`` from 10 000 tasks on, because a MaxTree rebuild takes ~40-70 ms
at N = 100 000 on a 2-core CPU. Draws of untouched tasks are at most ``refresh_every``
observations old; staleness costs speed (chain: refresh every 4 observations instead of every
one took 14% more episodes).
Measured per call at N = 100 000 (``aggregate=1``, the costliest case; 2-core CPU, shared):
sample 2 us (eps-greedy) / 4-6 us (Boltzmann); update 6-15 us (Online, Naive, Window),
13-15 us (Sampling, refresh amortised in); Boltzmann Window ~25 us under load.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import Teacher, check_int, check_unit_interval
from autocurr.teachers.sumtree import MaxTree, SumTree

__all__ = [
    "TsclNaiveTeacher",
    "TsclOnlineTeacher",
    "TsclSamplingTeacher",
    "TsclWindowTeacher",
    "ols_slope",
]

POLICIES = ("epsilon-greedy", "boltzmann")
#: Orders among tied values: least recently updated first, or silent (all-zero) tasks first.
TIE_BREAKS = ("round-robin", "silent-first")
# Priority lead of silent tasks under "silent-first"; priorities otherwise lie in (-n_updates-1, 1).
_SILENT_LEAD = 1e12
#: Value of a task whose history is too short for a slope (TSCL).
UNSEEN_VALUE = 1.0
#: Scores beyond this magnitude are rejected: their slopes and deltas could overflow.
MAX_SCORE = 1e100
# Boltzmann weights are exp((v - shift) / T); the tree is rebuilt when max v leaves shift +- this*T.
_SHIFT_LIMIT = 300.0
# Tuned on the chain benchmark (module docstring); TSCL's own defaults would be False and 1.
DEFAULT_ABSOLUTE = True
DEFAULT_AGGREGATE = 3
# Window's own defaults, tuned on the chain benchmark for an infeasible share below 0.3 (module
# docstring); TSCL's are epsilon 0.1, window 10, aggregate 1.
WINDOW_DEFAULTS = {"epsilon": 0.05, "window": 25, "aggregate": 6}


def ols_slope(times: list[float], scores: list[float]) -> float:
    """Least-squares slope of ``scores`` against ``times`` (design ``[t, 1]``); 1 below 2 points."""
    n = len(times)
    if n < 2:
        return UNSEEN_VALUE
    t_mean = sum(times) / n
    x_mean = sum(scores) / n
    covariance = 0.0
    variance = 0.0
    for t, x in zip(times, scores, strict=True):
        dt = t - t_mean
        covariance += dt * (x - x_mean)
        variance += dt * dt
    return covariance / variance if variance > 0.0 else 0.0


class _TsclTeacher(Teacher):
    """Shared machinery: aggregation, values in a MaxTree, the two policies, persistence."""

    signal = "score"
    requires_finite = True

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None,
        policy: str,
        epsilon: float,
        temperature: float,
        absolute: bool,
        aggregate: int,
        tie_break: str = "round-robin",
    ):
        super().__init__(space, seed)
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, numbers.Real)
            or not math.isfinite(float(temperature))
            or float(temperature) <= 0.0
        ):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        if not isinstance(absolute, bool | np.bool_):
            raise ValueError(f"absolute must be a bool, got {absolute!r}")
        self.policy = policy
        self.epsilon = check_unit_interval("epsilon", epsilon)
        self.temperature = float(temperature)
        self.absolute = bool(absolute)
        self.aggregate = check_int("aggregate", aggregate, 1)
        self.hyperparameters = {
            "policy": self.policy,
            "epsilon": self.epsilon,
            "temperature": self.temperature,
            "absolute": self.absolute,
            "aggregate": self.aggregate,
            "tie_break": tie_break,
        }
        self.tie_break = tie_break
        n_tasks = space.size
        self.aggregate_sum = np.zeros(n_tasks)
        self.aggregate_count = np.zeros(n_tasks, dtype=np.int64)
        #: whether the task ever returned a nonzero score (tasks without are "silent")
        self.signalled = np.zeros(n_tasks, dtype=bool)

    def _init_values(self, values: np.ndarray) -> None:
        """Policy inputs at start; random priorities break the initial ties."""
        priorities = self.rng.random(values.size)
        if self.tie_break == "silent-first":
            priorities += _SILENT_LEAD  # every task is silent at the start
        self._build_trees(values, priorities)

    # ----------------------------------------------------------------------------- values
    def policy_value(self, raw: float) -> float:
        return abs(raw) if self.absolute else raw

    def _make_trees(
        self,
        values: np.ndarray,
        priorities: np.ndarray,
        weights: np.ndarray | None = None,
        shift: float | None = None,
    ) -> tuple[MaxTree, SumTree | None, float]:
        """A MaxTree over the values and, for Boltzmann, a SumTree of exp((v - shift) / T)."""
        max_tree = MaxTree(values, priorities)
        if self.policy != "boltzmann":
            return max_tree, None, 0.0
        if weights is None:
            shift = max_tree.max()
            weights = np.exp((np.asarray(values) - shift) / self.temperature)
        return max_tree, SumTree(weights), float(shift)

    def _build_trees(self, values: np.ndarray, priorities: np.ndarray) -> None:
        self._max_tree, self._sum_tree, self._shift = self._make_trees(values, priorities)

    def _set_value(self, index: int, value: float) -> None:
        """New policy input for one task; it goes to the back of the tie queue. O(log N)."""
        self._max_tree.set(index, value, self._queue_priority(index))
        if self.policy != "boltzmann":
            return
        top = self._max_tree.max()
        if abs(top - self._shift) > _SHIFT_LIMIT * self.temperature:
            # rare: O(N) rebuild so exp() neither overflows nor underflows to an all-zero tree
            self._build_trees(self._max_tree.values(), self._max_tree.priorities())
        else:
            self._sum_tree.set(index, math.exp((value - self._shift) / self.temperature))

    def _queue_priority(self, index: int) -> float:
        # Later updates get lower priorities: among tied values the least recently updated task
        # wins (round-robin); tasks updated at the same step are ordered at random. Under
        # "silent-first" tasks with an all-zero history go before every task that ever scored.
        priority = -(self.n_updates + self.rng.random())
        if self.tie_break == "silent-first" and not self.signalled[index]:
            priority += _SILENT_LEAD
        return priority

    def values(self) -> np.ndarray:
        """The policy inputs ``v`` (``|Q|`` or ``Q``) per task, in ``space.index`` order."""
        return self._max_tree.values()

    # ----------------------------------------------------------------------------- sampling
    def probabilities(self) -> np.ndarray:
        n_tasks = self.space.size
        if self.policy == "boltzmann":
            weights = self._sum_tree.weights()
            return (1.0 - self.epsilon) * weights / weights.sum() + self.epsilon / n_tasks
        p = np.full(n_tasks, self.epsilon / n_tasks)
        p[self._max_tree.argmax()] += 1.0 - self.epsilon
        return p

    def exploration_floor(self) -> float:
        return self.epsilon / self.space.size

    def _draw_index(self) -> int:
        # One uniform number decides the branch and the task, so draws follow probabilities().
        u = self.rng.random()
        n_tasks = self._max_tree.size
        if u < self.epsilon:
            return min(int(u / self.epsilon * n_tasks), n_tasks - 1)
        if self.policy == "boltzmann":
            share = (u - self.epsilon) / (1.0 - self.epsilon)
            return self._sum_tree.find(min(share, 1.0) * self._sum_tree.total)
        return self._max_tree.argmax()

    def _sample_one(self) -> Any:
        return self.space.task(self._draw_index())

    # ----------------------------------------------------------------------------- updates
    def _validate_signal(self, value: float) -> None:
        if abs(value) > MAX_SCORE:
            raise ValueError(f"{self.name} needs a score within +-{MAX_SCORE:g}, got {value!r}")

    def _update(self, task: Any, signal: float) -> None:
        index = self.space.index(task)
        if signal != 0.0:
            self.signalled[index] = True
        if self.aggregate > 1:
            total = float(self.aggregate_sum[index]) + signal
            count = int(self.aggregate_count[index]) + 1
            if count < self.aggregate:
                self.aggregate_sum[index] = total
                self.aggregate_count[index] = count
                return
            self.aggregate_sum[index] = 0.0
            self.aggregate_count[index] = 0
            signal = total / count
        self._observe(index, signal)

    def _observe(self, index: int, score: float) -> None:
        """The variant's rule for one (aggregated) score observation of task ``index``."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        values = self.values()
        return {
            **super().stats(),
            "max_value": float(values.max()),
            "mean_value": float(values.mean()),
            "max_probability": float(self.probabilities().max()),
        }

    def _get_state(self) -> dict[str, Any]:
        state = {
            "aggregate_sum": self.aggregate_sum.copy(),
            "aggregate_count": self.aggregate_count.copy(),
            "signalled": self.signalled.copy(),
            "values": self._max_tree.values(),
            "priorities": self._max_tree.priorities(),
            **self._variant_state(),
        }
        if self.policy == "boltzmann":
            # the leaves themselves, so a resumed tree is bit-identical to the live one
            state["weights"] = self._sum_tree.weights()
            state["shift"] = self._shift
        return state

    def _set_state(self, state: dict[str, Any]) -> None:
        n_tasks = self.space.size
        arrays = {
            key: np.asarray(state[key], dtype=np.float64)
            for key in ("aggregate_sum", "values", "priorities")
        }
        count = np.asarray(state["aggregate_count"], dtype=np.int64)
        signalled = np.asarray(state["signalled"], dtype=bool)
        if any(a.shape != (n_tasks,) for a in (*arrays.values(), count, signalled)):
            raise ValueError("state_dict arrays do not match the number of tasks")
        if not all(np.all(np.isfinite(a)) for a in arrays.values()):
            raise ValueError("state_dict values must be finite")
        if np.any(count < 0) or np.any(count >= self.aggregate):
            raise ValueError("state_dict aggregate_count out of range")
        variant = self._check_variant_state(state)
        weights = shift = None
        if self.policy == "boltzmann":
            weights = np.asarray(state["weights"], dtype=np.float64)
            shift = float(state["shift"])
            if weights.shape != (n_tasks,) or not math.isfinite(shift):
                raise ValueError("state_dict Boltzmann weights do not match the number of tasks")
        trees = self._make_trees(arrays["values"], arrays["priorities"], weights, shift)
        self._max_tree, self._sum_tree, self._shift = trees
        self.aggregate_sum = arrays["aggregate_sum"]
        self.aggregate_count = count
        self.signalled = signalled
        self._load_variant_state(variant)

    def _variant_state(self) -> dict[str, Any]:
        return {}

    def _check_variant_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Validated copies of the variant's state entries (no mutation)."""
        return {}

    def _load_variant_state(self, variant: dict[str, Any]) -> None:
        pass

    def _check_vector(self, state: dict[str, Any], key: str) -> np.ndarray:
        array = np.asarray(state[key], dtype=np.float64)
        if array.shape != (self.space.size,) or not np.all(np.isfinite(array)):
            raise ValueError(f"state_dict {key} must be finite with one entry per task")
        return array


# ================================================================================= Online
class TsclOnlineTeacher(_TsclTeacher):
    """TSCL Online: EMA of score deltas per task; see the module docstring."""

    name = "tscl-online"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        policy: str = "epsilon-greedy",
        epsilon: float = 0.1,
        temperature: float = 0.0004,
        alpha: float = 0.1,
        absolute: bool = DEFAULT_ABSOLUTE,
        aggregate: int = DEFAULT_AGGREGATE,
        tie_break: str = "round-robin",
    ):
        super().__init__(space, seed, policy, epsilon, temperature, absolute, aggregate, tie_break)
        self.alpha = check_unit_interval("alpha", alpha, low_open=True)
        self.hyperparameters["alpha"] = self.alpha
        self.q = np.zeros(space.size)
        self.previous = np.zeros(space.size)
        self._init_values(np.zeros(space.size))

    def _observe(self, index: int, score: float) -> None:
        delta = score - float(self.previous[index])
        self.previous[index] = score
        q = float(self.q[index])
        q += self.alpha * (delta - q)
        self.q[index] = q
        self._set_value(index, self.policy_value(q))

    def _variant_state(self) -> dict[str, Any]:
        return {"q": self.q.copy(), "previous": self.previous.copy()}

    def _check_variant_state(self, state: dict[str, Any]) -> dict[str, Any]:
        return {key: self._check_vector(state, key) for key in ("q", "previous")}

    def _load_variant_state(self, variant: dict[str, Any]) -> None:
        self.q = variant["q"]
        self.previous = variant["previous"]


# ================================================================================= Naive
class TsclNaiveTeacher(_TsclTeacher):
    """TSCL Naive: fixed distribution for a cycle, then EMA of per-task slopes."""

    name = "tscl-naive"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        policy: str = "epsilon-greedy",
        epsilon: float = 0.1,
        temperature: float = 0.0004,
        alpha: float = 0.1,
        window: int = 10,
        absolute: bool = DEFAULT_ABSOLUTE,
        aggregate: int = DEFAULT_AGGREGATE,
        tie_break: str = "round-robin",
    ):
        super().__init__(space, seed, policy, epsilon, temperature, absolute, aggregate, tie_break)
        self.alpha = check_unit_interval("alpha", alpha, low_open=True)
        self.window = check_int("window", window, 1)
        self.hyperparameters.update(alpha=self.alpha, window=self.window)
        self.q = np.zeros(space.size)
        #: observations ``(task index, t, score)`` of the running cycle
        self.cycle: list[tuple[int, int, float]] = []
        self._init_values(np.zeros(space.size))

    def _observe(self, index: int, score: float) -> None:
        self.cycle.append((index, self.n_updates, score))
        if len(self.cycle) < self.window:
            return
        points: dict[int, tuple[list[float], list[float]]] = {}
        for task, t, x in self.cycle:
            times, scores = points.setdefault(task, ([], []))
            times.append(float(t))
            scores.append(x)
        self.cycle = []
        for task in sorted(points):
            q = float(self.q[task])
            q += self.alpha * (ols_slope(*points[task]) - q)
            self.q[task] = q
            self._set_value(task, self.policy_value(q))

    def _variant_state(self) -> dict[str, Any]:
        return {"q": self.q.copy(), "cycle": [tuple(item) for item in self.cycle]}

    def _check_variant_state(self, state: dict[str, Any]) -> dict[str, Any]:
        cycle = []
        for task, t, x in state["cycle"]:
            if not 0 <= int(task) < self.space.size or not math.isfinite(float(x)):
                raise ValueError("state_dict cycle entry is invalid")
            cycle.append((int(task), int(t), float(x)))
        if len(cycle) >= self.window:
            raise ValueError("state_dict cycle is longer than the window")
        return {"q": self._check_vector(state, "q"), "cycle": cycle}

    def _load_variant_state(self, variant: dict[str, Any]) -> None:
        self.q = variant["q"]
        self.cycle = variant["cycle"]


# ================================================================================= FIFO helpers
class _FifoTeacher(_TsclTeacher):
    """A ring buffer of the last ``window`` entries per task, in (N, window) arrays."""

    _fifo_keys: tuple[str, ...] = ()

    def _init_fifo(self, window: int) -> None:
        self.window = check_int("window", window, 2 if self.name == "tscl-window" else 1)
        self.hyperparameters["window"] = self.window
        n_tasks = self.space.size
        for key in self._fifo_keys:
            setattr(self, key, np.zeros((n_tasks, self.window)))
        self.fifo_count = np.zeros(n_tasks, dtype=np.int64)
        self.fifo_head = np.zeros(n_tasks, dtype=np.int64)

    def _push(self, index: int, *entries: float) -> int:
        """Store one entry per FIFO array for task ``index``; returns the filled length."""
        slot = int(self.fifo_head[index])
        for key, entry in zip(self._fifo_keys, entries, strict=True):
            getattr(self, key)[index, slot] = entry
        self.fifo_head[index] = (slot + 1) % self.window
        count = min(int(self.fifo_count[index]) + 1, self.window)
        self.fifo_count[index] = count
        return count

    def _variant_state(self) -> dict[str, Any]:
        state = {key: getattr(self, key).copy() for key in self._fifo_keys}
        state.update(fifo_count=self.fifo_count.copy(), fifo_head=self.fifo_head.copy())
        return state

    def _check_variant_state(self, state: dict[str, Any]) -> dict[str, Any]:
        shape = (self.space.size, self.window)
        checked = {key: np.asarray(state[key], dtype=np.float64) for key in self._fifo_keys}
        if any(a.shape != shape or not np.all(np.isfinite(a)) for a in checked.values()):
            raise ValueError("state_dict FIFO arrays must be finite, one row per task")
        count = np.asarray(state["fifo_count"], dtype=np.int64)
        head = np.asarray(state["fifo_head"], dtype=np.int64)
        if count.shape != shape[:1] or head.shape != shape[:1]:
            raise ValueError("state_dict FIFO counters do not match the number of tasks")
        if (
            np.any(count < 0)
            or np.any(count > self.window)
            or np.any(head < 0)
            or np.any(head >= self.window)
        ):
            raise ValueError("state_dict FIFO counters out of range")
        checked.update(fifo_count=count, fifo_head=head)
        return checked

    def _load_variant_state(self, variant: dict[str, Any]) -> None:
        for key, value in variant.items():
            setattr(self, key, value)


# ================================================================================= Window
class TsclWindowTeacher(_FifoTeacher):
    """TSCL Window: OLS slope of each task's last ``window`` (t, score) points."""

    name = "tscl-window"
    _fifo_keys = ("times", "scores")

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        policy: str = "epsilon-greedy",
        epsilon: float = WINDOW_DEFAULTS["epsilon"],
        temperature: float = 0.0004,
        window: int = WINDOW_DEFAULTS["window"],
        absolute: bool = DEFAULT_ABSOLUTE,
        aggregate: int = WINDOW_DEFAULTS["aggregate"],
        tie_break: str = "round-robin",
    ):
        super().__init__(space, seed, policy, epsilon, temperature, absolute, aggregate, tie_break)
        self._init_fifo(window)
        self._init_values(np.full(space.size, self.policy_value(UNSEEN_VALUE)))

    def slope(self, index: int) -> float:
        """OLS slope of task ``index``'s stored points (1 with fewer than 2). O(window)."""
        count = int(self.fifo_count[index])
        times = self.times[index, :count].tolist()
        scores = self.scores[index, :count].tolist()
        return ols_slope(times, scores)

    def _observe(self, index: int, score: float) -> None:
        self._push(index, float(self.n_updates), score)
        self._set_value(index, self.policy_value(self.slope(index)))


# ================================================================================= Sampling
class TsclSamplingTeacher(_FifoTeacher):
    """TSCL Sampling: one delta drawn per task from its last ``window`` score deltas."""

    name = "tscl-sampling"
    _fifo_keys = ("deltas",)

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        policy: str = "epsilon-greedy",
        epsilon: float = 0.1,
        temperature: float = 0.0004,
        window: int = 10,
        absolute: bool = DEFAULT_ABSOLUTE,
        aggregate: int = DEFAULT_AGGREGATE,
        refresh_every: int | None = None,
        tie_break: str = "round-robin",
    ):
        super().__init__(space, seed, policy, epsilon, temperature, absolute, aggregate, tie_break)
        self._init_fifo(window)
        if refresh_every is None:
            refresh_every = max(1, space.size // 100) if space.size < 10_000 else space.size // 10
        self.refresh_every = check_int("refresh_every", refresh_every, 1)
        self.hyperparameters["refresh_every"] = self.refresh_every
        self.previous = np.zeros(space.size)
        #: observations since all draws were last renewed
        self.pending = 0
        self._init_values(np.full(space.size, self.policy_value(UNSEEN_VALUE)))

    def draw(self, index: int) -> float:
        """One delta drawn uniformly from task ``index``'s FIFO (1 while it is empty)."""
        count = int(self.fifo_count[index])
        if count == 0:
            return UNSEEN_VALUE
        return float(self.deltas[index, min(int(self.rng.random() * count), count - 1)])

    def draw_all(self) -> np.ndarray:
        """One draw per task in one numpy pass."""
        slots = (self.rng.random(self.fifo_count.size) * self.fifo_count).astype(np.int64)
        slots = np.minimum(slots, np.maximum(self.fifo_count - 1, 0))
        draws = self.deltas[np.arange(self.fifo_count.size), slots]
        return np.where(self.fifo_count > 0, draws, UNSEEN_VALUE)

    def _observe(self, index: int, score: float) -> None:
        self._push(index, score - float(self.previous[index]))
        self.previous[index] = score
        self.pending += 1
        if self.pending >= self.refresh_every:
            draws = self.draw_all()
            values = np.abs(draws) if self.absolute else draws
            priorities = self._max_tree.priorities()
            priorities[index] = self._queue_priority(index)
            self._build_trees(values, priorities)
            self.pending = 0
        else:
            self._set_value(index, self.policy_value(self.draw(index)))

    def _variant_state(self) -> dict[str, Any]:
        return {
            **super()._variant_state(),
            "previous": self.previous.copy(),
            "pending": self.pending,
        }

    def _check_variant_state(self, state: dict[str, Any]) -> dict[str, Any]:
        checked = super()._check_variant_state(state)
        pending = int(state["pending"])
        if not 0 <= pending < self.refresh_every:
            raise ValueError(f"state_dict pending must be in [0, refresh_every), got {pending}")
        checked.update(previous=self._check_vector(state, "previous"), pending=pending)
        return checked
