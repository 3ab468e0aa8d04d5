"""Learnability teacher: prefer arms whose prompt groups have a high success variance p (1 - p).

Paper: *Learning to Reason at the Frontier of Learnability* (Foster, Sims, Forkel, Fellows,
Foerster 2025, arXiv 2502.12272, "LILO"): for advantage-based RL the expected policy improvement
on a question scales with its success variance ``p (1 - p)``, so training questions are chosen by
it (rejection sampling of the batch in the paper). Here the same score ranks *arms* (difficulty
levels, categories), per ``shared/reference/data-mixture-llm.md`` sections 1.2, 2.7 and 7.3.

Signal: ``success`` -- the pass rate ``p`` in [0, 1] of **one prompt group** (G rollouts of one
prompt). Anything outside [0, 1] raises ``ValueError``. The score is computed per group and then
averaged, ``E_x[p_x (1 - p_x)]``: the arm-level ``p_bar (1 - p_bar)`` would rate an arm that is
half solved and half dead as maximally learnable (reference section 1.2).

Rule (one ``update_batch`` call = one generation batch; a single ``update`` is a batch of one):

- per group ``g(p) = p (1 - p)^(1 + skew)`` (``skew = 0``: the paper's ``p (1 - p)``);
- ``m(c)`` = mean of ``g`` over arm ``c``'s groups in the batch;
  ``S(c) <- alpha m(c) + (1 - alpha) S(c)``, and ``S(c) = m(c)`` at the arm's first batch; arms
  absent from a batch keep ``S`` (the floor revisits them);
- ``pi(c) = (1 - epsilon) w(c) / sum_j w(j) + epsilon / K`` with ``w(c) = S(c)`` for arms seen
  at least once and ``w(c) = max_p g(p)`` (the largest possible score, 0.25 for ``skew = 0``) for
  arms never seen, so that each is tried early.

Ties and infeasible arms (reference teacher rule 2): an arm whose groups are all solved
(``p = 1``) or all failed (``p = 0``) scores exactly 0 and is sampled with the floor
``epsilon / K`` only -- never more. If every arm scores 0 (nothing learnable anywhere) the
distribution is uniform, the only tie break left.

``skew > 0`` moves the peak of ``g`` from ``p = 1/2`` to ``p = 1/(2 + skew)``: the asymmetric
"prefer p < 0.5" score the reference's pilot suggests for nested difficulty levels (section 7.3),
where the symmetric score keeps polishing a nearly solved level instead of moving to the frontier.
Measured (``benchmarks/grpo_levels.py``, 100k rollouts, 10 seeds, main SGD student): mean pass
over levels 0.845 (``skew = 0``) vs 0.931 (``skew = 1``) with junk arms (uniform 0.264), 0.842 vs
0.933 nested (uniform 0.465); with an Adam student (5 seeds) both lose the nested regime to
uniform (0.77x, 0.79x) and tie with junk (1.03x, 1.05x). Kept at the paper's 0 by default.

Defaults: ``skew = 0`` (paper). ``alpha = 0.5`` and ``epsilon = 0.05`` are ours: the paper scores
questions from fresh rollouts and has no arm-level smoothing or floor; 0.5 matches SEC's EMA
(SEC README) so the two signals can be compared under the same smoothing, and ``0.05 / K`` is the
reference's mandatory minimum floor (section 6).

Cost: O(1) per item; the cached distribution is recomputed in one numpy pass at the first
``sample``/``probabilities`` call after ``refresh_every`` batches (default ``max(1, K // 100)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import check_real, check_unit_interval
from autocurr.teachers.sec import BatchStepTeacher

__all__ = ["LearnabilityTeacher", "learnability_score"]


def learnability_score(p: np.ndarray | float, skew: float = 0.0) -> np.ndarray | float:
    """``p (1 - p)^(1 + skew)`` per prompt group (``skew = 0``: success variance)."""
    return p * (1.0 - p) ** (1.0 + skew)


def max_learnability_score(skew: float) -> float:
    """The largest value of :func:`learnability_score`, reached at ``p = 1 / (2 + skew)``."""
    return float(learnability_score(1.0 / (2.0 + skew), skew))


class LearnabilityTeacher(BatchStepTeacher):
    """Per-group success variance ``E[p (1 - p)]`` per arm; see the module docstring."""

    name = "learnability"
    signal = "success"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        alpha: float = 0.5,
        epsilon: float = 0.05,
        skew: float = 0.0,
        refresh_every: int | None = None,
    ):
        super().__init__(space, seed)
        self.alpha = check_unit_interval("alpha", alpha, low_open=True)
        self.epsilon = check_unit_interval("epsilon", epsilon, low_open=True)
        self.skew = check_real("skew", skew)
        if self.skew < 0.0:
            raise ValueError(f"skew must be >= 0, got {skew!r}")
        self._init_cache(refresh_every)
        self.hyperparameters = {
            "alpha": self.alpha,
            "epsilon": self.epsilon,
            "skew": self.skew,
            "refresh_every": self.refresh_every,
        }
        self.scores = np.zeros(space.size)
        self.seen = np.zeros(space.size, dtype=bool)
        self._untried_weight = max_learnability_score(self.skew)
        self._set_cache(self._distribution()[0], self.epsilon)

    def _validate_signal(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"learnability needs a group pass rate in [0, 1], got {value!r}")

    def _item_values(self, values: np.ndarray) -> np.ndarray:
        return learnability_score(values, self.skew)

    def _step(self, arms: np.ndarray, means: np.ndarray, counts: np.ndarray) -> None:
        first = ~self.seen[arms]
        smoothed = self.alpha * means + (1.0 - self.alpha) * self.scores[arms]
        self.scores[arms] = np.where(first, means, smoothed)
        self.seen[arms] = True

    def _distribution(self) -> tuple[np.ndarray, float]:
        return np.where(self.seen, self.scores, self._untried_weight), self.epsilon

    def stats(self) -> dict[str, float]:
        seen = self.seen
        return {
            **super().stats(),
            "mean_score": float(self.scores[seen].mean()) if seen.any() else 0.0,
            "zero_score_fraction": float(np.mean(seen & (self.scores <= 0.0))),
        }

    def _get_state(self) -> dict[str, Any]:
        return {"scores": self.scores, "seen": self.seen, **self._cache_state()}

    def _set_state(self, state: dict[str, Any]) -> None:
        scores = self._checked_arrays(state, ["scores"])["scores"]
        seen = np.asarray(state["seen"], dtype=bool)
        if seen.shape != scores.shape or np.any(scores < 0.0):
            raise ValueError("state_dict scores must be >= 0 and match seen's shape")
        self._load_cache(state)
        self.scores, self.seen = scores, seen
