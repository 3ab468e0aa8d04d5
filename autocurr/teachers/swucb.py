"""Sliding-window UCB (SW-UCB) teacher: UCB on the last ``window`` updates only.

Paper: *On Upper-Confidence Bound Policies for Switching Bandit Problems* (Garivier & Moulines,
ALT 2011), in the form of SMPyBandits ``Policies/SlidingWindowUCB.py`` (reference
``teachers-bandit-lp.md`` section 6).

Rule: the window holds the last ``window`` updates over all tasks together. With ``N_i`` and
``mean_i`` the count and mean reward of task ``i`` inside it and ``t`` the number of updates so
far, play ``argmax_i mean_i + sqrt(alpha * log(min(t, window)) / N_i)``; a task with no update in
the window has index ``+inf`` (ties among them go to a random order drawn once from the teacher's
rng). The exploration floor mixes in a uniform draw:
``P = (1 - epsilon) * onehot(argmax) + epsilon / K``.

Signal: as ``exp3``: ``reward="progress"`` (default) turns any real per-episode signal into
normalised learning progress (:mod:`autocurr.teachers.progress`); ``reward="signal"`` uses the
signal itself, which must lie in [0, 1].

Defaults: ``window = 1000`` and ``alpha = 1`` (SMPyBandits). Garivier & Moulines' horizon-aware
choice is ``window = 4 sqrt(T log T)`` (1214 for T = 10 000). Measured on ``DriftingBandit(10
arms, 2000-pull phases)``, ``reward="signal"``, seeds 0-2, 8 phases: the default window keeps
0.74-0.83 of each phase's pulls on the current best arm (the tests/test_bandits.py target is
0.6; window 1214 gives 0.69-0.83 over 5 phases). ``epsilon = 0.05`` (ours; SW-UCB has no floor,
see ``ucb1``).

Cost: a deque of ``(task, reward)`` pairs is the window; an update changes the entering task and
at most one leaving task, so once ``t >= window`` (``log(min(t, window))`` is then constant) both
indices are updated exactly in O(log N) and nothing else is stale. Before that, ``log t`` moves
every index and the periodic refresh of :mod:`autocurr.teachers.ucb1` applies (plus one exact
refresh when ``t`` reaches ``window``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import check_int, check_positive
from autocurr.teachers.ucb1 import IndexTeacher, check_arrays

__all__ = ["SlidingWindowUCBTeacher"]


class SlidingWindowUCBTeacher(IndexTeacher):
    """SW-UCB over a finite task space; see the module docstring for the rule and defaults."""

    name = "swucb"
    _arms_per_update = 2  # the entering and the leaving task

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        window: int = 1000,
        alpha: float = 1.0,
        epsilon: float = 0.05,
        reward: str = "progress",
        ema_alpha: float = 0.1,
        refresh_every: int | None = None,
    ):
        super().__init__(
            space,
            seed,
            epsilon=epsilon,
            reward=reward,
            ema_alpha=ema_alpha,
            refresh_every=refresh_every,
        )
        self.window = check_int("window", window, 1)
        self.alpha = check_positive("alpha", alpha)
        self.hyperparameters.update(window=self.window, alpha=self.alpha)
        n_tasks = space.size
        #: Updates and reward sums of each task inside the window.
        self.counts = np.zeros(n_tasks, dtype=np.int64)
        self.sums = np.zeros(n_tasks)
        #: The window: ``(task index, reward)`` of the last ``window`` updates, oldest first.
        self.history: deque[tuple[int, float]] = deque()
        self._rebuild()

    # ----------------------------------------------------------------------------- indices
    def _log_horizon(self) -> float:
        return math.log(min(self.t, self.window)) if self.t > 0 else 0.0

    def index_values(self) -> np.ndarray:
        values = np.full(self.counts.size, np.inf)
        inside = self.counts > 0
        counts = self.counts[inside].astype(np.float64)
        bonus = np.sqrt(self.alpha * self._log_horizon() / counts)
        values[inside] = self.sums[inside] / counts + bonus
        return values

    def _arm_index(self, index: int) -> float:
        count = int(self.counts[index])
        if count == 0:
            return math.inf
        bonus = math.sqrt(self.alpha * self._log_horizon() / count)
        return float(self.sums[index]) / count + bonus

    def _record(self, index: int, reward: float) -> tuple[int, ...]:
        self.history.append((index, reward))
        self.counts[index] += 1
        self.sums[index] += reward
        if len(self.history) <= self.window:
            return (index,)
        leaving, old_reward = self.history.popleft()
        self.counts[leaving] -= 1
        # an empty task's sum is reset exactly, so rounding from add/subtract cannot pile up
        self.sums[leaving] = self.sums[leaving] - old_reward if self.counts[leaving] else 0.0
        return (index,) if leaving == index else (index, leaving)

    def _refresh_due(self) -> bool:
        # log(min(t, window)) stops moving at t = window: one last exact refresh there
        if self.t > self.window:
            return False
        return self.t == self.window or self.pending >= self.refresh_every

    def _refresh(self) -> None:
        # Indices stop drifting at t = window, so stale tree values would stay stale for good:
        # that last refresh rebuilds every task's index.
        if self.t == self.window:
            self._rebuild()
        else:
            super()._refresh()

    # ----------------------------------------------------------------------------- state
    def stats(self) -> dict[str, float]:
        return {**super().stats(), "window_fill": len(self.history) / self.window}

    def _stats_state(self) -> dict[str, Any]:
        return {
            "counts": self.counts.copy(),
            "sums": self.sums.copy(),
            "history_tasks": np.array([task for task, _ in self.history], dtype=np.int64),
            "history_rewards": np.array([reward for _, reward in self.history]),
        }

    def _check_stats_state(self, state: dict[str, Any]) -> dict[str, Any]:
        n_tasks = self.space.size
        sums = check_arrays(state, ("sums",), n_tasks)["sums"]
        counts = np.asarray(state["counts"], dtype=np.int64)
        tasks = np.asarray(state["history_tasks"], dtype=np.int64).reshape(-1)
        rewards = np.asarray(state["history_rewards"], dtype=np.float64).reshape(-1)
        if tasks.size != rewards.size or tasks.size > self.window:
            raise ValueError("state_dict history must be task/reward pairs within the window")
        if tasks.size and (tasks.min() < 0 or tasks.max() >= n_tasks):
            raise ValueError("state_dict history_tasks must be task indices")
        if not np.all(np.isfinite(rewards)):
            raise ValueError("state_dict history_rewards must be finite")
        if counts.shape != (n_tasks,) or not np.array_equal(
            counts, np.bincount(tasks, minlength=n_tasks)
        ):
            raise ValueError("state_dict counts do not match the history")
        history = deque(zip(tasks.tolist(), rewards.tolist(), strict=True))
        return {"counts": counts, "sums": sums, "history": history}

    def _load_stats(self, stats: dict[str, Any]) -> None:
        self.counts, self.sums, self.history = stats["counts"], stats["sums"], stats["history"]
