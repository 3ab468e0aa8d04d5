"""SEC teacher: Self-Evolving Curriculum, a Boltzmann bandit over difficulty levels or categories.

Paper: *Self-Evolving Curriculum for LLM Reasoning* (Chen et al. 2025, arXiv 2505.14970); rule as
described in ``shared/reference/data-mixture-llm.md`` section 2.6 (verl-based SEC code found in
public copies; the official repository was not located). Written from that description.

Signal: ``advantage`` -- the mean absolute advantage ``|A|`` of a generation batch's samples from
one arm (level/category), ``>= 0``. With GRPO's per-group std normalisation and binary rewards a
group with pass rate ``p`` has ``E|A| = 2 sqrt(p (1 - p))``: 0 for solved or dead prompts, 1 at
``p = 0.5``. Negative values raise ``ValueError``.

Rule (one ``update_batch`` call = one generation batch = one TD(0) step):

- ``r_t(c)`` = mean of the signals reported for arm ``c`` in the batch (integrations send one
  mean per arm; several items of one arm are averaged);
- ``Q_{t+1}(c) = alpha r_t(c) + (1 - alpha) Q_t(c)`` for the arms in the batch; with
  ``decay_unseen=True`` (default, the SEC code's behaviour) arms absent from the batch get
  ``r_t(c) = 0``, so unsampled arms decay towards 0 (pessimistic); with ``False`` they keep Q;
- ``pi(c) = (1 - epsilon) exp(Q(c) / tau) / sum_j exp(Q(j) / tau) + epsilon / K``.

A single ``update(task, signal)`` is a batch of one. An empty ``update_batch`` changes nothing.
``Q`` starts at 0 for every arm (uniform distribution).

Defaults and sources: ``alpha = 0.5`` and ``tau = 1.0`` (SEC README, Countdown with Qwen2.5-3B;
the README uses ``tau = 0.4`` for MATH and ``0.2`` for its 2-D variant; the code's own defaults
are ``alpha = 0.1``, ``tau = 1.0``). ``epsilon = 0.05`` is ours: SEC has no uniform floor, and
the reference's teacher rules (section 6) make a floor of at least ``0.05 / K`` mandatory.
Because Boltzmann weights never reach 0, an arm with ``Q = 0`` (solved or unsolvable) keeps
``exp(0) / sum_j exp(Q_j / tau)`` -- with ``tau = 1`` and ``|A| <= 1`` that is at least
``1 / (1 + (K - 1) e)`` of the softmax share; lower ``tau`` is what pushes junk arms towards the
floor.

Measured (``benchmarks/grpo_levels.py``, ``docs/benchmarks/grpo_levels/report.md``; simulated GRPO
levels, 100k rollouts, 10 seeds): with the main (SGD) student and 2 solved + 2 unsolvable junk
arms the defaults reach 1.41x uniform's mean pass over levels while still drawing 35% junk
prompts (uniform 40%); ``tau = 0.2`` reaches 3.03x at a 10% junk share (nested, no junk: 1.27x
and 1.84x). With an Adam student (5 seeds) ``tau = 0.2`` loses to uniform (0.70x nested, 0.95x
junk) and the defaults give 1.00x / 1.14x, so the defaults stay the README's.

Cost: O(1) per item. The decay of unseen arms is kept lazily as one global scale
(``Q = scale * q``; the arms in a batch are adjusted against it; ``q`` is renormalised in one
numpy pass when the scale falls below 1e-150, about every 500 batches at ``alpha = 0.5``). The
distribution itself changes for every arm at every batch, so it is cached and recomputed in one
numpy pass at the first ``sample``/``probabilities`` call after ``refresh_every`` batches
(default ``max(1, K // 100)``: exact for K <= 199).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import (
    Teacher,
    check_positive,
    check_refresh_every,
    check_signal,
    check_unit_interval,
)
from autocurr.teachers.sumtree import SumTree

__all__ = ["BatchStepTeacher", "SECTeacher"]

# q is folded into Q (scale reset to 1) once the lazy decay scale falls below this.
_MIN_SCALE = 1e-150
_ONE = np.ones(1, dtype=np.int64)


class BatchStepTeacher(Teacher):
    """Shared machinery of the data teachers (``odm``, ``doremi``, ``sec``, ``learnability``).

    - ``update_batch`` is **one step**: it validates every item, groups them by arm and calls
      ``_step(arms, means, counts)`` once (``arms`` sorted and unique, ``means`` the mean signal
      of each arm's items). ``update`` is a step with one item. ``n_updates`` counts items, as
      for every teacher; ``steps`` counts steps.
    - Sampling draws from a cached distribution ``(1 - share) w / sum(w) + share / K`` held in a
      :class:`SumTree` (O(log K) per draw); subclasses return ``(w, share)`` from
      ``_distribution()`` and the cache is recomputed at the first ``sample``/``probabilities``
      call after ``refresh_every`` steps.
    """

    requires_finite = True

    def _init_cache(self, refresh_every: Any) -> None:
        self.refresh_every = check_refresh_every(refresh_every, self.space.size)
        self.steps = 0
        #: Steps since the cached distribution was last recomputed.
        self.pending = 0
        n_tasks = self.space.size
        self._set_cache(np.ones(n_tasks), 1.0 if n_tasks > 0 else 0.0)

    # ----------------------------------------------------------------------------- updates
    def update_batch(self, tasks: Sequence[Any], signals: Sequence[float]) -> None:
        """One step with every item of a batch (see the class docstring); all-or-nothing."""
        tasks = list(tasks)
        values = np.asarray(signals, dtype=object).reshape(-1).tolist()
        if len(tasks) != len(values):
            raise ValueError(
                f"update_batch got {len(tasks)} tasks but {len(values)} signals; lengths must match"
            )
        indices, checked = [], []
        for position, (task, signal) in enumerate(zip(tasks, values, strict=True)):
            try:
                value = check_signal(signal)
                self._validate_signal(value)
                indices.append(self.space.index(self.space.canonical(task)))
                checked.append(value)
            except ValueError as error:
                raise ValueError(f"update_batch item {position}: {error}") from None
        if not checked:
            return
        self._apply(np.asarray(indices, dtype=np.int64), np.asarray(checked, dtype=np.float64))
        self.n_updates += len(checked)

    def _update(self, task: Any, signal: float) -> None:
        # a step of one item, without the grouping's cost
        values = self._item_values(np.array([signal]))
        self._step(np.array([self.space.index(task)]), values, _ONE)
        self.steps += 1
        self.pending += 1

    def _apply(self, indices: np.ndarray, values: np.ndarray) -> None:
        arms, inverse, counts = np.unique(indices, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=self._item_values(values)) / counts
        self._step(arms, means, counts)
        self.steps += 1
        self.pending += 1

    def _item_values(self, values: np.ndarray) -> np.ndarray:
        """Per-item transform applied before the per-arm mean (identity by default)."""
        return values

    def _step(self, arms: np.ndarray, means: np.ndarray, counts: np.ndarray) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------------------------- sampling
    def _distribution(self) -> tuple[np.ndarray, float]:
        """``(weights, share)``: the distribution is ``(1 - share) w / sum(w) + share / K``."""
        raise NotImplementedError

    def _set_cache(self, weights: np.ndarray, share: float) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (self.space.size,):
            raise ValueError("state_dict cached weights do not match the number of tasks")
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"state_dict share must be in [0, 1], got {share!r}")
        tree = SumTree(weights)
        if tree.total <= 0.0:
            tree = SumTree(np.ones(weights.size))  # nothing scores: uniform is the only tie break
        self._tree = tree
        self._share = float(share)

    def _refresh_if_due(self) -> None:
        if self.pending >= self.refresh_every:
            self._set_cache(*self._distribution())
            self.pending = 0

    def probabilities(self) -> np.ndarray:
        """The distribution the next ``sample`` draws from (recomputed first if due)."""
        self._refresh_if_due()
        weights, share = self._tree.weights(), self._share
        return (1.0 - share) * weights / weights.sum() + share / weights.size

    def exploration_floor(self) -> float:
        self._refresh_if_due()
        return self._share / self.space.size

    def _probability(self, index: int) -> float:
        """Probability of ``index`` under the cached distribution, in O(1)."""
        share = self._share
        return (1.0 - share) * self._tree.weight(index) / self._tree.total + share / self._tree.size

    def _sample_one(self) -> Any:
        self._refresh_if_due()
        return self.space.task(self._tree.draw_with_floor(self.rng.random(), self._share))

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        probabilities = self.probabilities()
        return {
            **super().stats(),
            "steps": float(self.steps),
            "entropy": -float(np.sum(probabilities * np.log(probabilities + 1e-300))),
            "max_probability": float(probabilities.max()),
        }

    def _cache_state(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "pending": self.pending,
            "weights": self._tree.weights(),
            "share": self._share,
        }

    def _check_counters(self, state: dict[str, Any]) -> tuple[int, int]:
        steps, pending = int(state["steps"]), int(state["pending"])
        if steps < 0 or pending < 0:
            raise ValueError("state_dict steps and pending must be >= 0")
        return steps, pending

    def _checked_arrays(self, state: dict[str, Any], keys: Sequence[str]) -> dict[str, np.ndarray]:
        arrays = {key: np.asarray(state[key], dtype=np.float64) for key in keys}
        for key, array in arrays.items():
            if array.shape != (self.space.size,) or not np.all(np.isfinite(array)):
                raise ValueError(f"state_dict {key} must be {self.space.size} finite floats")
        return arrays

    def _load_cache(self, state: dict[str, Any]) -> None:
        """Validate and install the cache and counters (call after validating everything else)."""
        steps, pending = self._check_counters(state)
        self._set_cache(np.asarray(state["weights"], dtype=np.float64), float(state["share"]))
        self.steps, self.pending = steps, pending


class SECTeacher(BatchStepTeacher):
    """Self-Evolving Curriculum (TD(0) on mean |advantage|, Boltzmann); see the module doc."""

    name = "sec"
    signal = "advantage"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        alpha: float = 0.5,
        tau: float = 1.0,
        epsilon: float = 0.05,
        decay_unseen: bool = True,
        refresh_every: int | None = None,
    ):
        super().__init__(space, seed)
        self.alpha = check_unit_interval("alpha", alpha, low_open=True)
        self.tau = check_positive("tau", tau)
        self.epsilon = check_unit_interval("epsilon", epsilon)
        if not isinstance(decay_unseen, bool):
            raise ValueError(f"decay_unseen must be a bool, got {decay_unseen!r}")
        self.decay_unseen = decay_unseen
        self._init_cache(refresh_every)
        self.hyperparameters = {
            "alpha": self.alpha,
            "tau": self.tau,
            "epsilon": self.epsilon,
            "decay_unseen": self.decay_unseen,
            "refresh_every": self.refresh_every,
        }
        self.q = np.zeros(space.size)
        #: ``Q = scale * q``: the decay of unseen arms, applied lazily.
        self.scale = 1.0
        self._set_cache(np.ones(space.size), self.epsilon)

    def _validate_signal(self, value: float) -> None:
        if value < 0.0:
            raise ValueError(f"sec needs a mean absolute advantage >= 0, got {value!r}")

    def values(self) -> np.ndarray:
        """The current ``Q`` per arm."""
        return self.scale * self.q

    def _step(self, arms: np.ndarray, means: np.ndarray, counts: np.ndarray) -> None:
        keep = 1.0 - self.alpha
        if not self.decay_unseen:
            self.q[arms] = self.alpha * means + keep * self.q[arms]
            return
        if keep == 0.0:  # alpha = 1: Q is this batch's reward, 0 for absent arms
            self.q[:] = 0.0
            self.q[arms] = means
            self.scale = 1.0
            return
        if self.scale * keep < _MIN_SCALE:
            self.q *= self.scale
            self.scale = 1.0
        self.scale *= keep
        self.q[arms] += self.alpha * means / self.scale

    def _distribution(self) -> tuple[np.ndarray, float]:
        logits = self.values() / self.tau
        return np.exp(logits - logits.max()), self.epsilon

    def stats(self) -> dict[str, float]:
        values = self.values()
        return {**super().stats(), "mean_q": float(values.mean()), "max_q": float(values.max())}

    def _get_state(self) -> dict[str, Any]:
        return {"q": self.q, "scale": self.scale, **self._cache_state()}

    def _set_state(self, state: dict[str, Any]) -> None:
        q = self._checked_arrays(state, ["q"])["q"]
        scale = float(state["scale"])
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"state_dict scale must be in (0, 1], got {scale!r}")
        self._load_cache(state)
        self.q, self.scale = q, scale
