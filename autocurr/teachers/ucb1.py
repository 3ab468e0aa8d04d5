"""UCB1 teacher, and the argmax-of-indices machinery shared by the UCB and Thompson teachers.

Paper: *Finite-time Analysis of the Multiarmed Bandit Problem* (Auer, Cesa-Bianchi, Fischer, 2002).

Rule: try every task once, then play ``argmax_i mean_i + sqrt(2 ln t / n_i)``, where ``t`` is the
number of updates so far, ``n_i`` the updates on task ``i`` and ``mean_i`` their average reward.
Untried tasks have index ``+inf``; ties (between them, or between equal finite indices) go to a
random per-task priority drawn once from the teacher's rng, so the first round visits the tasks in
a random order. The exploration floor ``epsilon`` mixes in a uniform draw:
``P = (1 - epsilon) * onehot(argmax) + epsilon / K``.

UCB1 assumes stationary rewards. As a teacher its reward (learning progress) drifts by
construction, and UCB1 keeps replaying tasks whose progress has dried up: use ``ducb``, ``swucb``
or ``thompson``. It is the negative control of the drifting-bandit benchmark (reference
``teachers-bandit-lp.md`` sections 6 and 19.5).

Signal: as ``exp3``: ``reward="progress"`` (default) turns any real per-episode signal into
normalised ``|fast EMA - slow EMA|`` learning progress (:mod:`autocurr.teachers.progress`,
``ema_alpha = 0.1``); ``reward="signal"`` uses the signal itself, which must lie in [0, 1].

Defaults: ``epsilon = 0.05`` (ours, not from the paper, which has no floor: the low end of
TeachMyAgent's 5-20% random share; on ``DriftingBandit(10 arms)`` it costs ~5% of pulls on the
best arm, which the drifting-bandit targets of ``ducb``/``swucb``/``thompson`` tolerate).

Cost, shared by every teacher built on :class:`IndexTeacher`: the tasks' indices sit in a
:class:`~autocurr.teachers.sumtree.MaxTree`, so ``sample`` is O(1) (argmax) and ``update`` O(log N)
(the updated task's index is recomputed exactly). Indices that drift for *every* task at every
step (``ln t`` here, the discount in ``ducb``/``thompson``) are recomputed in one numpy pass every
``refresh_every`` updates (default ``max(1, N // 100)``, as ``lp``); only the top
``refresh_every + 1`` of them (twice that for ``swucb``) and any stale value that could compete
are then written into the tree, which picks the same argmax as a rebuild would
(``IndexTeacher._refresh``) at a fraction of the cost. With ``N <= 199`` the indices are exact
at every sample; otherwise the other tasks' indices are up to ``refresh_every`` updates stale.
For UCB-style bonuses, which only grow between a task's updates, a stale index is a slight
underestimate.

Negative control, measured (tests/test_bandits.py; ``DriftingBandit(10 arms, 2000-pull phases)``,
``reward="signal"``, 8 phases, seeds 0-2): the lowest per-phase share of pulls on the current
best arm is 0.27, 0.08 and 0.34 (phase 0 ~0.8: UCB1 is fine until the counts pile up).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import Teacher, check_refresh_every, check_unit_interval
from autocurr.teachers.progress import REWARD_MODES, ProgressSignal, check_bandit_signal
from autocurr.teachers.sumtree import MaxTree

__all__ = ["IndexTeacher", "UCB1Teacher"]


class IndexTeacher(Teacher):
    """Plays ``argmax_i index_i`` with an ``epsilon`` uniform floor (see the module docstring).

    Subclasses keep per-task statistics and implement ``index_values`` (every task's exact index
    now, vectorised), ``_arm_index`` (one task's exact index now), ``_record`` (fold one reward
    into the statistics at time ``self.t``; returns the tasks whose index changed) and the
    ``_stats_state`` / ``_check_stats_state`` / ``_load_stats`` persistence triple.
    """

    signal = "return"
    requires_finite = True
    #: How many tasks' indices one update can change (sizes the partial refresh).
    _arms_per_update = 1

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None,
        *,
        epsilon: float,
        reward: str,
        ema_alpha: float,
        refresh_every: int | None,
    ):
        super().__init__(space, seed)
        n_tasks = space.size
        if reward not in REWARD_MODES:
            raise ValueError(f"reward must be one of {REWARD_MODES}, got {reward!r}")
        self.epsilon = check_unit_interval("epsilon", epsilon)
        self.reward_mode = reward
        self.ema_alpha = check_unit_interval("ema_alpha", ema_alpha, low_open=True)
        self.refresh_every = check_refresh_every(refresh_every, n_tasks)
        self.hyperparameters = {
            "epsilon": self.epsilon,
            "reward": reward,
            "ema_alpha": self.ema_alpha,
            "refresh_every": self.refresh_every,
        }
        self.progress = ProgressSignal(n_tasks, self.ema_alpha)
        #: The bandit clock: updates folded in so far.
        self.t = 0
        #: Updates since the cached indices were last recomputed for every task.
        self.pending = 0
        # A fixed random priority per task: the deliberate tie order (e.g. among untried tasks).
        self._priorities = self.rng.random(n_tasks)
        self._priority_list: list[float] = self._priorities.tolist()

    # ----------------------------------------------------------------------------- indices
    def index_values(self) -> np.ndarray:
        """Every task's exact index now (the cached tree may be up to ``refresh_every`` stale)."""
        raise NotImplementedError

    def _arm_index(self, index: int) -> float:
        raise NotImplementedError

    def _record(self, index: int, reward: float) -> Iterable[int]:
        raise NotImplementedError

    def _rebuild(self) -> None:
        """Put every task's exact index into a fresh tree (construction, and small spaces)."""
        values = self.index_values()
        self._tree = MaxTree(values, self._priorities)
        self._cached = values
        self.pending = 0

    def _refresh(self) -> None:
        """Bring the tree's argmax up to date with every task's exact index, in O(N) numpy work
        plus O(k log N) tree updates for the ``k`` tasks that can win before the next refresh.

        A full rebuild costs ~0.2 us per task in Python lists, too slow to repeat every N / 100
        updates. Instead only the top ``k = arms_per_update * refresh_every + 1`` tasks by
        (exact index, priority) get their exact index in the tree, and any stale tree value at
        or above the k-th largest index (the just-updated task, an old Thompson draw) is
        replaced by its exact index; every other tree value is then below the top k in the
        tree's own order. At most ``k - 1`` tasks change before the next refresh, so a
        refreshed top-k task always remains and beats every stale value: the argmax sequence is
        the one a full rebuild would give (tests/test_bandits.py checks it).
        """
        values = self.index_values()
        n_tasks = values.size
        width = self._arms_per_update * self.refresh_every + 1
        if 4 * width >= n_tasks:
            self._rebuild()
            return
        threshold = np.partition(values, n_tasks - width)[n_tasks - width]
        above = np.flatnonzero(values > threshold)
        tied = np.flatnonzero(values == threshold)
        needed = width - above.size
        if tied.size > needed:  # ties at the threshold go by priority, as in the tree
            tied = tied[np.argpartition(-self._priorities[tied], needed - 1)[:needed]]
        # the top `width` by (index, priority), and every stale value that could compete, less
        # those whose value did not change (e.g. untried: inf stays inf)
        differs = values != self._cached
        top = np.concatenate([above, tied])
        stale = np.flatnonzero(differs & (self._cached >= threshold))
        changed = np.union1d(top[differs[top]], stale)
        tree, priorities = self._tree, self._priority_list
        for arm, value in zip(changed.tolist(), values[changed].tolist(), strict=True):
            tree.set(arm, value, priorities[arm])
        self._cached[changed] = values[changed]
        self.pending = 0

    def _set_index(self, arm: int, value: float) -> None:
        self._tree.set(arm, value, self._priority_list[arm])
        self._cached[arm] = value

    def _refresh_due(self) -> bool:
        return self.pending >= self.refresh_every

    # ----------------------------------------------------------------------------- sampling
    def probabilities(self) -> np.ndarray:
        n_tasks = self.space.size
        probabilities = np.full(n_tasks, self.epsilon / n_tasks)
        probabilities[self._tree.argmax()] += 1.0 - self.epsilon
        return probabilities

    def exploration_floor(self) -> float:
        return self.epsilon / self.space.size

    def _draw_index(self) -> tuple[int, bool]:
        """A task drawn from ``probabilities()``, and whether it came from the argmax branch."""
        u = self.rng.random()
        if u < self.epsilon:
            n_tasks = self._tree.size
            return min(int(u / self.epsilon * n_tasks), n_tasks - 1), False
        return self._tree.argmax(), True

    def _sample_one(self) -> Any:
        return self.space.task(self._draw_index()[0])

    # ----------------------------------------------------------------------------- updates
    def _validate_signal(self, value: float) -> None:
        check_bandit_signal(self.name, self.reward_mode, value)

    def bandit_reward(self, index: int, signal: float) -> float:
        """Reward in [0, 1] for task ``index``; updates the progress statistics in place."""
        return self.progress.bandit_reward(index, signal, self.reward_mode)

    def _update(self, task: Any, signal: float) -> None:
        index = self.space.index(task)
        reward = self.bandit_reward(index, signal)
        self.t += 1
        changed = self._record(index, reward)
        self.pending += 1
        if self._refresh_due():
            self._refresh()
            return
        for arm in changed:
            self._set_index(arm, self._arm_index(arm))

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        return {
            **super().stats(),
            "best_index": float(self._tree.max()),
            "best_task_updates": float(self.progress.visits[self._tree.argmax()]),
            "tried_fraction": float(np.mean(self.progress.visits > 0)),
            "progress_scale": self.progress.scale,
        }

    def _get_state(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "pending": self.pending,
            "priorities": self._priorities.copy(),
            "cached_indices": self._cached.copy(),
            "progress_signal": self.progress.state(),
            **self._stats_state(),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        # Validate everything (shapes, values, the tree) before changing anything.
        n_tasks = self.space.size
        t, pending = int(state["t"]), int(state["pending"])
        if t < 0 or pending < 0:
            raise ValueError(f"state_dict t and pending must be >= 0, got {t} and {pending}")
        priorities = np.asarray(state["priorities"], dtype=np.float64)
        cached = np.asarray(state["cached_indices"], dtype=np.float64)
        if priorities.shape != (n_tasks,) or cached.shape != (n_tasks,):
            raise ValueError("state_dict arrays do not match the number of tasks")
        tree = MaxTree(cached, priorities)
        progress = ProgressSignal(n_tasks, self.ema_alpha)
        progress.load(state["progress_signal"])
        stats = self._check_stats_state(state)
        self.t, self.pending = t, pending
        self._priorities, self._priority_list = priorities, priorities.tolist()
        self._tree, self._cached = tree, cached
        self.progress = progress
        self._load_stats(stats)

    def _stats_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _check_stats_state(self, state: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _load_stats(self, stats: Any) -> None:
        raise NotImplementedError


def check_arrays(state: dict[str, Any], keys: Iterable[str], n_tasks: int) -> dict[str, np.ndarray]:
    """``state[key]`` as finite float arrays of length ``n_tasks``, or ValueError."""
    arrays = {key: np.asarray(state[key], dtype=np.float64) for key in keys}
    for key, array in arrays.items():
        if array.shape != (n_tasks,):
            raise ValueError(f"state_dict {key} does not match the number of tasks")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"state_dict {key} must be finite")
    return arrays


class UCB1Teacher(IndexTeacher):
    """UCB1 over a finite task space; see the module docstring for the rule and defaults."""

    name = "ucb1"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
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
        self.counts = np.zeros(space.size)
        self.sums = np.zeros(space.size)
        self._rebuild()

    def index_values(self) -> np.ndarray:
        pulled = self.counts > 0
        values = np.full(self.counts.size, np.inf)
        counts = self.counts[pulled]
        log_t = math.log(self.t) if self.t > 0 else 0.0
        values[pulled] = self.sums[pulled] / counts + np.sqrt(2.0 * log_t / counts)
        return values

    def _arm_index(self, index: int) -> float:
        count = float(self.counts[index])
        if count == 0.0:
            return math.inf
        return float(self.sums[index]) / count + math.sqrt(2.0 * math.log(self.t) / count)

    def _record(self, index: int, reward: float) -> tuple[int]:
        self.counts[index] += 1.0
        self.sums[index] += reward
        return (index,)

    def _stats_state(self) -> dict[str, Any]:
        return {"counts": self.counts.copy(), "sums": self.sums.copy()}

    def _check_stats_state(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        return check_arrays(state, ("counts", "sums"), self.space.size)

    def _load_stats(self, stats: dict[str, np.ndarray]) -> None:
        self.counts, self.sums = stats["counts"], stats["sums"]
