"""ODM teacher: Online Data Mixing, EXP3 over data domains rewarded by their training loss.

Paper: *Efficient Online Data Mixing for Language Model Pre-Training* (Albalak, Pan, Raffel, Wang
2023, arXiv 2312.02406); official code ``alon-albalak/online-data-mixing``
(``megatron/data/data_sampling_utils.py``), as summarised in
``shared/reference/data-mixture-llm.md`` section 2.1. Written from those descriptions.

Signal: ``loss`` -- the mean training loss of a domain's examples in a step, ``>= 0`` (a domain
whose loss is high has "more information to gain"). Negative values raise ``ValueError``.
Caveat (reference section 7.1, reproduced in its pilot A): loss is not learnability; ODM favours
domains with high irreducible entropy (noise).

Rule (the paper's smoothed, importance-weighted form). ``t`` counts steps (``update_batch`` calls;
a single ``update`` is a step of one item), warm-up steps included, as the official code passes
its global iteration. With ``eps_t = min(1/K, sqrt(ln K / (K t)))`` and ``eps_0 = 1/K``:

- after step ``t``: ``pi(i) = (1 - K eps_t) exp(eps_{t-1} R_i) / sum_j exp(eps_{t-1} R_j)
  + eps_t`` (uniform before the first step);
- at step ``t``, for every arm ``i`` in the batch with mean loss ``L_i`` (several items of one arm
  are averaged): ``R_i <- alpha R_i + (1 - alpha) reward_scale L_i / pi(i)``, with ``pi`` the
  distribution the batch was drawn from (before this step). Arms absent from the step keep ``R``.
- steps ``t <= warmup`` only advance ``t``: ``R`` is not updated (the official
  ``UpdateScheduler``: update when ``iteration > warmup``).

Exploration floor: exactly ``eps_t`` per arm (``exploration_floor()``), which is ``1/K`` (uniform)
for ``t <= K ln K`` steps and decays like ``t^(-1/2)`` after that.

Defaults and sources: ``alpha = 0.9`` (smoothing of the paper form; third-party
re-implementations and the official ``SmoothedMeanWeightUpdater`` default use 0.9);
``reward_scale = 1.0``: the paper form. The official ``Exp3WeightUpdater`` instead keeps a
*cumulative* sum ``R_i += (L / 10) / pi_i`` ("so that cumulative reward doesn't explode");
``reward_scale = 0.1`` reproduces its scaling, not its cumulative sum. ``warmup = 0`` is ours: the
official 1B-model scripts use ``DATA_SAMPLING_WARMUP_STEPS = 2000``, sized for runs of tens of
thousands of steps; set it to the steps during which every domain's loss is still falling fast.

Cost: O(1) per item. The distribution changes for every arm at every step (``eps_t`` moves), so
it is cached and recomputed in one numpy pass at the first ``sample``/``probabilities`` call after
``refresh_every`` steps (default ``max(1, K // 100)``: exact for K <= 199). Importance weights use
the cached distribution, i.e. the one the data was actually drawn from.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import check_int, check_positive, check_unit_interval
from autocurr.teachers.sec import BatchStepTeacher

__all__ = ["ODMTeacher", "odm_epsilon"]


def odm_epsilon(t: int, n_arms: int) -> float:
    """``eps_t = min(1/K, sqrt(ln K / (K t)))``, with ``eps_0 = 1/K`` (1 for a single arm)."""
    if n_arms <= 1:
        return 1.0
    if t <= 0:
        return 1.0 / n_arms
    return min(1.0 / n_arms, math.sqrt(math.log(n_arms) / (n_arms * t)))


class ODMTeacher(BatchStepTeacher):
    """Online Data Mixing (EXP3 with decaying exploration); see the module docstring."""

    name = "odm"
    signal = "loss"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        alpha: float = 0.9,
        reward_scale: float = 1.0,
        warmup: int = 0,
        refresh_every: int | None = None,
    ):
        super().__init__(space, seed)
        self.alpha = check_unit_interval("alpha", alpha, high_open=True)
        self.reward_scale = check_positive("reward_scale", reward_scale)
        self.warmup = check_int("warmup", warmup, 0)
        self._init_cache(refresh_every)
        self.hyperparameters = {
            "alpha": self.alpha,
            "reward_scale": self.reward_scale,
            "warmup": self.warmup,
            "refresh_every": self.refresh_every,
        }
        self.rewards = np.zeros(space.size)
        self._set_cache(*self._distribution())

    def _validate_signal(self, value: float) -> None:
        if value < 0.0:
            raise ValueError(f"odm needs a loss >= 0, got {value!r}")

    def _step(self, arms: np.ndarray, means: np.ndarray, counts: np.ndarray) -> None:
        if self.steps + 1 <= self.warmup:  # this step is a warm-up step: only t advances
            return
        self._refresh_if_due()  # importance weights use the distribution the step was drawn from
        drawn_from = np.array([self._probability(int(arm)) for arm in arms])
        estimate = self.reward_scale * means / drawn_from
        self.rewards[arms] = self.alpha * self.rewards[arms] + (1.0 - self.alpha) * estimate

    def epsilon(self) -> float:
        """``eps_t`` for the number of steps taken so far."""
        return odm_epsilon(self.steps, self.space.size)

    def _distribution(self) -> tuple[np.ndarray, float]:
        n_arms = self.space.size
        if self.steps == 0:
            return np.ones(n_arms), 1.0
        temperature = odm_epsilon(self.steps - 1, n_arms)
        logits = temperature * self.rewards
        # (1 - K eps) softmax + eps  ==  (1 - share) w / sum(w) + share / K  with share = K eps
        return np.exp(logits - logits.max()), min(1.0, n_arms * self.epsilon())

    def stats(self) -> dict[str, float]:
        return {
            **super().stats(),
            "epsilon": self.epsilon(),
            "max_reward": float(self.rewards.max()),
        }

    def _get_state(self) -> dict[str, Any]:
        return {"rewards": self.rewards, **self._cache_state()}

    def _set_state(self, state: dict[str, Any]) -> None:
        rewards = self._checked_arrays(state, ["rewards"])["rewards"]
        self._load_cache(state)
        self.rewards = rewards
