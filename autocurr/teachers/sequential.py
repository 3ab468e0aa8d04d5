"""Sequential teacher: hand-written stages of tasks, advanced by stopping rules.

Source: Syllabus's ``SequentialCurriculum`` (RyanNavillus/Syllabus @ 2d3b9bd), as described in
``shared/reference/teachers-bandit-lp.md`` section 3: a list of stages, each a task list or a
single task, and a stopping condition per stage written ``<metric><op><value>`` and joined with
``&`` / ``|``. Written from that description; the metric set is ours (see below).

Signal: ``success`` -- a success flag or any score per finished episode; only the ``success`` /
``mean_signal`` metrics read it (any finite value is accepted).

Rule:

- the teacher is always in one stage; it samples ``P = (1 - epsilon) U(stage tasks) +
  epsilon U(all tasks)``. ``epsilon = 0`` is the pure schedule of the reference;
- every ``update`` adds one to ``episodes`` (episodes since the stage began, whatever task they
  were on) and ``total_episodes`` (all episodes); an outcome on one of the stage's tasks also
  enters the stage's window of its last ``window`` outcomes. Outcomes on tasks outside the stage
  (exploration) never enter the window;
- then the current stage's condition is evaluated and, if true, the teacher moves to the next
  stage (at most one stage per update) with fresh ``episodes`` and an empty window. After the last
  stage it stays there, or goes back to the first with ``should_loop=True`` (the last stage then
  needs a condition as well).

Conditions (parsed strictly at construction; a malformed one raises ``ValueError`` naming it):
``<metric> <op> <value>`` with metrics ``episodes``, ``total_episodes``, ``success`` and
``mean_signal`` (the last two are the same number: the mean of the window, defined only once the
window is full -- before that any comparison on them is false), operators ``< > <= >= ==``, and
combinators ``&`` (binds tighter) and ``|``; no parentheses. Example:
``"success>=0.8 | episodes>=5000"``.

Defaults: ``window = 100`` (Syllabus's and our choice of a success-rate window: a mean over 100
Bernoulli outcomes has a standard error of at most 0.05); ``epsilon = 0.05`` is *our* choice, the
same hard floor the other teachers keep (a pure schedule never revisits earlier stages, so
forgetting goes unnoticed); ``should_loop = False`` (Syllabus).

Measured (``ChainStudent(n_feasible=10, n_infeasible=0)``, seeds 0-7): one chain task per stage,
advancing on ``"success>=0.8"`` with ``window=20``, then a last stage of all chain tasks (TSCL's
"naive" manual curriculum) masters the chain in ~570 episodes, against ~2100 for uniform sampling
and 450 for the oracle. Without the last all-tasks stage it is no better than uniform (2000-5300,
seeds 0-3): a task left at ~0.8 success reaches mastery (0.9) only through the epsilon floor.

Cost: ``sample`` and ``update`` are O(1): each stage keeps an index list (sampling draws one
position in it) and a set for membership; the window mean is a running sum, recomputed exactly
from the window every ``window`` outcomes so rounding cannot drift.
"""

from __future__ import annotations

import math
import numbers
import re
from collections import deque
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import Teacher, check_unit_interval

__all__ = ["SequentialTeacher", "parse_condition"]

METRICS = ("episodes", "total_episodes", "success", "mean_signal")
_COMPARE = {
    "<": lambda x, y: x < y,
    ">": lambda x, y: x > y,
    "<=": lambda x, y: x <= y,
    ">=": lambda x, y: x >= y,
    "==": lambda x, y: x == y,
}
_ATOM = re.compile(
    r"^\s*(total_episodes|episodes|success|mean_signal)\s*(<=|>=|==|<|>)\s*"
    r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*$"
)

#: A parsed condition: OR over clauses, each clause an AND of ``(metric, op, value)``.
Condition = list[list[tuple[str, str, float]]]


def parse_condition(rule: str) -> Condition:
    """Parse ``"success>=0.8 | episodes>=5000"``; ``ValueError`` naming ``rule`` if malformed."""
    if not isinstance(rule, str):
        raise ValueError(f"stopping condition must be a string, got {rule!r}")
    clauses: Condition = []
    for clause_text in rule.split("|"):
        clause = []
        for atom_text in clause_text.split("&"):
            match = _ATOM.match(atom_text)
            if match is None:
                raise ValueError(
                    f"malformed stopping condition {rule!r}: {atom_text.strip()!r} is not "
                    f"'<metric><op><value>' with metric in {METRICS} and op in "
                    f"{tuple(_COMPARE)}"
                )
            metric, op, value = match.groups()
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"malformed stopping condition {rule!r}: {value} is not finite")
            clause.append((metric, op, number))
        clauses.append(clause)
    return clauses


class SequentialTeacher(Teacher):
    """Stages of tasks advanced by stopping rules; see the module docstring."""

    name = "sequential"
    signal = "success"
    requires_finite = True

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        stages: list | None = None,
        conditions: list[str] | None = None,
        window: int = 100,
        epsilon: float = 0.05,
        should_loop: bool = False,
    ):
        super().__init__(space, seed)
        if not isinstance(should_loop, bool):
            raise ValueError(f"should_loop must be a bool, got {should_loop!r}")
        if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        self.epsilon = check_unit_interval("epsilon", epsilon)
        self.window = int(window)
        self.should_loop = should_loop
        self._stage_tasks = self._parse_stages(stages)
        n_conditions = len(self._stage_tasks) - (0 if should_loop else 1)
        conditions = [] if conditions is None else list(conditions)
        if len(conditions) != n_conditions:
            raise ValueError(
                f"conditions must hold {n_conditions} rules for {len(self._stage_tasks)} stages "
                f"(one per stage{'' if should_loop else ' but the last'}), got {len(conditions)}"
            )
        self._conditions = [parse_condition(rule) for rule in conditions]
        self._stage_indices = [[space.index(task) for task in tasks] for tasks in self._stage_tasks]
        self._stage_sets = [frozenset(indices) for indices in self._stage_indices]
        self.hyperparameters = {
            "stages": [[_plain(task) for task in tasks] for tasks in self._stage_tasks],
            "conditions": conditions,
            "window": self.window,
            "epsilon": self.epsilon,
            "should_loop": self.should_loop,
        }
        self._enter_stage(0)

    def _parse_stages(self, stages: Any) -> list[list[Any]]:
        if stages is None:
            raise ValueError("stages is required: a list of stages, each a task or a task list")
        if isinstance(stages, str | bytes) or not hasattr(stages, "__iter__"):
            raise ValueError(f"stages must be a list of stages, got {stages!r}")
        parsed = []
        for number, stage in enumerate(stages):
            tasks = [stage] if self.space.contains(stage) else self._task_list(number, stage)
            canonical = []
            for task in tasks:
                try:
                    canonical.append(self.space.canonical(task))
                except ValueError:
                    message = f"stage {number}: task {task!r} is not in {self.space!r}"
                    raise ValueError(message) from None
            if not canonical:
                raise ValueError(f"stage {number} has no tasks")
            if len(set(canonical)) != len(canonical):
                raise ValueError(f"stage {number} lists a task more than once: {stage!r}")
            parsed.append(canonical)
        if not parsed:
            raise ValueError("stages must hold at least one stage")
        return parsed

    @staticmethod
    def _task_list(number: int, stage: Any) -> list:
        if isinstance(stage, str | bytes) or not hasattr(stage, "__iter__"):
            raise ValueError(f"stage {number} is neither a task nor a list of tasks: {stage!r}")
        return list(stage)

    # ----------------------------------------------------------------------------- stages
    def _enter_stage(self, stage: int) -> None:
        self.stage = stage
        self.stage_episodes = 0
        self._outcomes: deque[float] = deque(maxlen=self.window)
        self._outcome_sum = 0.0
        self._since_exact_sum = 0

    def window_mean(self) -> float | None:
        """Mean of the stage's window, or ``None`` until the window is full."""
        if len(self._outcomes) < self.window:
            return None
        return self._outcome_sum / self.window

    def _metric(self, metric: str) -> float | None:
        if metric == "episodes":
            return float(self.stage_episodes)
        if metric == "total_episodes":
            return float(self.n_updates + 1)  # the base class counts this update after _update
        return self.window_mean()

    def _holds(self, condition: Condition) -> bool:
        for clause in condition:
            values = [(self._metric(metric), op, bound) for metric, op, bound in clause]
            if all(v is not None and _COMPARE[op](v, bound) for v, op, bound in values):
                return True
        return False

    def _update(self, task: Any, signal: float) -> None:
        self.stage_episodes += 1
        if self.space.index(task) in self._stage_sets[self.stage]:
            self._record(signal)
        if self.stage < len(self._conditions) and self._holds(self._conditions[self.stage]):
            following = self.stage + 1
            self._enter_stage(following % len(self._stage_tasks) if self.should_loop else following)

    def _record(self, signal: float) -> None:
        if len(self._outcomes) == self.window:
            self._outcome_sum -= self._outcomes[0]
        self._outcomes.append(signal)
        self._outcome_sum += signal
        self._since_exact_sum += 1
        if self._since_exact_sum >= self.window:  # bound the running sum's rounding drift
            self._outcome_sum = math.fsum(self._outcomes)
            self._since_exact_sum = 0

    # ----------------------------------------------------------------------------- sampling
    def _draw_index(self) -> int:
        # One uniform number picks the branch and the task, so draws follow probabilities().
        u = self.rng.random()
        if u < self.epsilon:
            n_tasks = self.space.size
            return min(int(u / self.epsilon * n_tasks), n_tasks - 1)
        indices = self._stage_indices[self.stage]
        position = int((u - self.epsilon) / (1.0 - self.epsilon) * len(indices))
        return indices[min(position, len(indices) - 1)]

    def _sample_one(self) -> Any:
        return self.space.task(self._draw_index())

    def probabilities(self) -> np.ndarray:
        indices = self._stage_indices[self.stage]
        probabilities = np.full(self.space.size, self.epsilon / self.space.size)
        probabilities[indices] += (1.0 - self.epsilon) / len(indices)
        return probabilities

    def exploration_floor(self) -> float:
        return self.epsilon / self.space.size

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        filled = len(self._outcomes)
        return {
            **super().stats(),
            "stage": float(self.stage),
            "stage_episodes": float(self.stage_episodes),
            "window_mean": self._outcome_sum / filled if filled else 0.0,
            "window_fill": filled / self.window,
        }

    def _get_state(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "stage_episodes": self.stage_episodes,
            "outcomes": list(self._outcomes),
            "outcome_sum": self._outcome_sum,
            "since_exact_sum": self._since_exact_sum,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        stage = int(state["stage"])
        stage_episodes = int(state["stage_episodes"])
        outcomes = [float(x) for x in state["outcomes"]]
        outcome_sum = float(state["outcome_sum"])
        since_exact_sum = int(state["since_exact_sum"])
        if not 0 <= stage < len(self._stage_tasks):
            raise ValueError(f"state_dict stage {stage} is out of range")
        if stage_episodes < 0 or since_exact_sum < 0:
            raise ValueError("state_dict counters must be >= 0")
        if len(outcomes) > self.window or len(outcomes) > stage_episodes:
            raise ValueError("state_dict window holds more outcomes than the stage has seen")
        if not all(math.isfinite(x) for x in [*outcomes, outcome_sum]):
            raise ValueError("state_dict window holds non-finite values")
        self.stage = stage
        self.stage_episodes = stage_episodes
        self._outcomes = deque(outcomes, maxlen=self.window)
        self._outcome_sum = outcome_sum
        self._since_exact_sum = since_exact_sum


def _plain(task: Any) -> Any:
    """A canonical task as plain Python (tuples become lists, so a stage stays a list)."""
    return list(task) if isinstance(task, tuple) else task
