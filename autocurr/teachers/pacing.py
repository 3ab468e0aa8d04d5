"""Ordering schedules: curriculum, anti-curriculum, random curriculum and cyclical pacing.

Papers: *When Do Curricula Work in Federated Learning?* (Vahidian et al., 2022) -- curriculum,
anti-curriculum and random-curriculum orderings under a pacing function -- and *Cyclical
Curriculum Learning* (Kesgin & Amasyali, IEEE TNNLS 2023). ``shared/reference/seed-papers.md``
names both but gives no formulas; the pacing functions below are those of *When Do Curricula
Work?* (Wu, Dyer & Neyshabur, ICLR 2021), whose family the federated-learning paper uses, read from
that paper's released code (google-research/understanding-curricula, ``utils/utils.py``).

Signal: none -- the schedule depends only on time (updates are validated and counted).

Rule. Tasks are ranked ``order`` (easiest first; default: space index order). At time ``t``
(the number of updates received so far) the first ``k(t) = clip(floor(g(t) N), 1, N)`` tasks of
the ranked list are available and sampled uniformly, mixed with an ``epsilon`` floor over all
tasks: ``P = (1 - epsilon) U(prefix) + epsilon U(all)``. With ``s = t / (a T)`` (``T = total``,
``a`` = fraction of ``total`` after which all tasks are used, ``b`` = initial fraction), the pacing
fraction ``g(t)`` is ``1`` for ``s >= 1`` and otherwise

- ``linear``:      ``b + (1 - b) s``
- ``quadratic``:   ``b + (1 - b) s^2``
- ``root``:        ``b + (1 - b) s^(1/2)``
- ``step``:        ``b`` (then everything at ``s = 1``: ``b + floor(s)``)
- ``exponential``: ``b + (1 - b) (exp(c s) - 1) / (exp(c) - 1)``, ``c = 10``
- ``logarithmic``: ``b + (1 - b) (1 + ln(s + exp(-c)) / c)``, ``c = 10``

(Wu et al. write these as dataset sizes ``int(N g(t))``; the clip to at least one task is ours,
for ``b = 0``.) The orderings: ``curriculum`` uses ``order``; ``anti-curriculum`` its reverse
(hardest first); ``random-curriculum`` a permutation of it drawn from the teacher's ``rng`` at
construction (saved in the state). ``cyclical`` alternates between the curriculum subset and all
data: with period ``P`` updates, ``t mod P < P / 2`` uses the curriculum prefix ``k(t)`` and the
rest of the cycle all tasks. The reference gives only the idea of Cyclical Curriculum Learning
("training-set size oscillates between curriculum and vanilla"), so this two-phase cycle is our
reading of it; the authors' released code (CyclicalCurriculum/Cyclical-Curriculum,
``example/utils.py``) instead steps a data fraction geometrically from a start size up to an end
size and back down, by a multiplier per epoch -- not implemented here.

Defaults (our choices; the papers tune them per dataset): ``pacing = "linear"``; ``a = 0.8`` and
``b = 0.2`` (from Wu et al.'s grid ``a in {0.01, 0.1, 0.2, 0.4, 0.8, 1.6}``,
``b in {0.0025, 0.1, 0.2, 0.4, 0.8}``): a fifth of the tasks at the start, all of them after 80% of
``total``; ``total = 100 N`` updates (about twice the 45 episodes per task a ChainStudent oracle
needs); ``period = max(2, total // 10)`` (ten cycles over the pace); ``epsilon = 0.05``, the hard
floor the other teachers keep.

Cost: ``sample`` is O(1) (one random number; the prefix length is a closed-form function of
``t``); ``update`` is O(1); ``probabilities`` is O(N).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import Teacher, check_int, check_unit_interval

__all__ = [
    "PACINGS",
    "AntiCurriculumTeacher",
    "CurriculumTeacher",
    "CyclicalTeacher",
    "RandomCurriculumTeacher",
    "pacing_fraction",
]

PACINGS = ("linear", "quadratic", "root", "step", "exponential", "logarithmic")
#: Steepness of the exponential and logarithmic pacing functions (Wu et al.'s code).
_CURVATURE = 10.0


def pacing_fraction(pacing: str, t: float, total: float, a: float, b: float) -> float:
    """``g(t)``: the fraction of the ranked tasks available after ``t`` updates (see module doc)."""
    if pacing not in PACINGS:
        raise ValueError(f"pacing must be one of {PACINGS}, got {pacing!r}")
    s = t / (a * total)
    if s >= 1.0:
        return 1.0
    if pacing == "linear":
        growth = s
    elif pacing == "quadratic":
        growth = s * s
    elif pacing == "root":
        growth = math.sqrt(s)
    elif pacing == "step":
        growth = 0.0
    elif pacing == "exponential":
        growth = math.expm1(_CURVATURE * s) / math.expm1(_CURVATURE)
    else:  # logarithmic
        growth = 1.0 + math.log(s + math.exp(-_CURVATURE)) / _CURVATURE
    return min(1.0, b + (1.0 - b) * growth)


class CurriculumTeacher(Teacher):
    """Easy-to-hard ordering under a pacing function; see the module docstring."""

    name = "curriculum"
    signal = "return"
    requires_finite = True
    #: How the ranked list is turned into the sampling order ("given", "reversed", "random").
    ordering: ClassVar[str] = "given"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        order: list[int] | None = None,
        pacing: str = "linear",
        total: int | None = None,
        a: float = 0.8,
        b: float = 0.2,
        epsilon: float = 0.05,
    ):
        super().__init__(space, seed)
        n_tasks = space.size
        ranked = self._check_order(order, n_tasks)
        if pacing not in PACINGS:
            raise ValueError(f"pacing must be one of {PACINGS}, got {pacing!r}")
        total = 100 * n_tasks if total is None else check_int("total", total, 1)
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not 0.0 < float(a) < math.inf:
            raise ValueError(f"a must be a finite real number > 0, got {a!r}")
        self.pacing = pacing
        self.total = total
        self.a = float(a)
        self.b = check_unit_interval("b", b)
        self.epsilon = check_unit_interval("epsilon", epsilon)
        self.hyperparameters = {
            "order": None if order is None else ranked.tolist(),
            "pacing": pacing,
            "total": total,
            "a": self.a,
            "b": self.b,
            "epsilon": self.epsilon,
        }
        self._set_order(self._arrange(ranked))

    @staticmethod
    def _check_order(order: Any, n_tasks: int) -> np.ndarray:
        if order is None:
            return np.arange(n_tasks, dtype=np.int64)
        values = np.asarray(order, dtype=object).reshape(-1).tolist()
        if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
            raise ValueError(f"order must be a list of task indices, got {order!r}")
        ranked = np.asarray(values, dtype=np.int64)
        if ranked.size != n_tasks or not np.array_equal(np.sort(ranked), np.arange(n_tasks)):
            raise ValueError(
                f"order must be a permutation of the {n_tasks} task indices 0..{n_tasks - 1}"
            )
        return ranked

    def _arrange(self, ranked: np.ndarray) -> np.ndarray:
        """The sampling order built from the ranked list (subclasses reverse or shuffle it)."""
        return ranked

    def _set_order(self, sampling_order: np.ndarray) -> None:
        self._order = sampling_order
        self._order_list: list[int] = sampling_order.tolist()

    # ----------------------------------------------------------------------------- schedule
    def fraction(self, t: int | None = None) -> float:
        """The pacing fraction ``g(t)`` (default: now, ``t = n_updates``)."""
        t = self.n_updates if t is None else t
        return pacing_fraction(self.pacing, t, self.total, self.a, self.b)

    def available(self, t: int | None = None) -> int:
        """How many tasks of the sampling order are available at time ``t`` (default: now)."""
        n_tasks = self._order.size
        # the 1e-9 keeps g = k/N from rounding down to k - 1 tasks
        return min(n_tasks, max(1, math.floor(self.fraction(t) * n_tasks + 1e-9)))

    # ----------------------------------------------------------------------------- sampling
    def _draw_index(self) -> int:
        # One uniform number picks the branch and the task, so draws follow probabilities().
        u = self.rng.random()
        n_tasks = self._order.size
        if u < self.epsilon:
            return min(int(u / self.epsilon * n_tasks), n_tasks - 1)
        prefix = self.available()
        position = int((u - self.epsilon) / (1.0 - self.epsilon) * prefix)
        return self._order_list[min(position, prefix - 1)]

    def _sample_one(self) -> Any:
        return self.space.task(self._draw_index())

    def probabilities(self) -> np.ndarray:
        n_tasks = self._order.size
        prefix = self.available()
        probabilities = np.full(n_tasks, self.epsilon / n_tasks)
        probabilities[self._order[:prefix]] += (1.0 - self.epsilon) / prefix
        return probabilities

    def exploration_floor(self) -> float:
        return self.epsilon / self._order.size

    def _update(self, task: Any, signal: float) -> None:
        pass  # time is n_updates, which the base class advances

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        return {
            **super().stats(),
            "pacing_fraction": self.fraction(),
            "available": float(self.available()),
        }

    def _get_state(self) -> dict[str, Any]:
        return {"order": self._order}

    def _set_state(self, state: dict[str, Any]) -> None:
        sampling_order = self._check_order(state["order"], self.space.size)
        self._set_order(sampling_order)


class AntiCurriculumTeacher(CurriculumTeacher):
    """Hard-to-easy: the pacing runs over the reversed ranking."""

    name = "anti-curriculum"

    def _arrange(self, ranked: np.ndarray) -> np.ndarray:
        return ranked[::-1].copy()


class RandomCurriculumTeacher(CurriculumTeacher):
    """The pacing runs over a random permutation of the ranking drawn at construction."""

    name = "random-curriculum"

    def _arrange(self, ranked: np.ndarray) -> np.ndarray:
        return self.rng.permutation(ranked)


class CyclicalTeacher(CurriculumTeacher):
    """Alternates the curriculum prefix (first half of each period) with all tasks."""

    name = "cyclical"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        period: int | None = None,
        **hyperparameters: Any,
    ):
        super().__init__(space, seed, **hyperparameters)
        self.period = max(2, self.total // 10) if period is None else check_int("period", period, 1)
        if self.period < 2:
            raise ValueError(f"period must be >= 2 to hold two phases, got {period!r}")
        self.hyperparameters["period"] = self.period

    def in_curriculum_phase(self, t: int | None = None) -> bool:
        """Whether time ``t`` (default: now) falls in the first, curriculum half of its period."""
        t = self.n_updates if t is None else t
        return 2 * (t % self.period) < self.period

    def available(self, t: int | None = None) -> int:
        if not self.in_curriculum_phase(t):
            return self._order.size
        return super().available(t)

    def stats(self) -> dict[str, float]:
        return {**super().stats(), "curriculum_phase": float(self.in_curriculum_phase())}
