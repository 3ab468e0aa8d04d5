"""Thompson-sampling teacher (Beta or Gaussian posteriors), with discounting for drifting rewards.

Papers: *Taming non-stationary bandits: a Bayesian approach* (Raj & Kalyani, 2017; discounted
Thompson sampling), in the form of SMPyBandits ``Policies/Posterior/DiscountedBeta.py``; TSCL's
"sample a plausible progress per task" idea (Matiisen et al., 2017). Reference
``teachers-bandit-lp.md`` section 7.

Rule: keep, per task, discounted statistics of its rewards: after ``t`` updates
``N_i = sum_s gamma^(t-s) 1{I_s = i}``, ``S_i = sum_s gamma^(t-s) r_s 1{I_s = i}`` and
``Q_i = sum_s gamma^(t-s) r_s^2 1{I_s = i}`` (``gamma = discount``; ``discount = 1`` is plain,
stationary Thompson sampling). Draw one plausible mean ``theta_i`` per task from its posterior and
play the argmax, with the exploration floor ``P = (1 - epsilon) * onehot(argmax) + epsilon / K``.

- ``likelihood="beta"`` (rewards in [0, 1], e.g. success or normalised progress):
  ``theta_i ~ Beta(1 + S_i, 1 + N_i - S_i)``: prior Beta(1, 1), a reward ``r`` counts as ``r``
  successes and ``1 - r`` failures (SMPyBandits' fractional update), every count discounted by
  ``gamma`` per step.
- ``likelihood="gaussian"`` (real rewards, e.g. raw returns with ``reward="signal"``): flat prior
  on the mean, so ``theta_i ~ Normal(S_i / N_i, sigma_i^2 / N_i)`` with the variance
  ``sigma_i^2 = (N_i v_i + prior_variance) / (N_i + 1)``: the discounted sample variance
  ``v_i = Q_i / N_i - (S_i / N_i)^2`` pooled with one pseudo-observation of ``prior_variance``
  (default 0.25, the largest variance of a reward in [0, 1]; set it to the square of the return
  scale for raw returns). A task never updated has ``theta = +inf`` (tried once each, in a random
  order drawn once from the teacher's rng). This is our construction (the reference names the
  discounted sufficient statistics, not a prior); with ``reward="signal"`` it accepts any finite
  signal, not only [0, 1].

Draws are cached. The exact TS distribution (the probability that each task's draw is the
largest) has no closed form, so the teacher keeps one draw per task in a max tree:
``probabilities()`` is the distribution of the *next* sample given those draws,
``(1 - epsilon) * onehot(argmax) + epsilon / K``, and ``sample()`` follows it exactly. The updated
task is redrawn from its new posterior at every update, and every task is redrawn in one
vectorised pass every ``refresh_every`` updates (default ``max(1, N // 100)``), so with
``N <= 199`` each update is followed by fresh draws for every task: exact Thompson sampling when
samples and updates alternate. Samples taken between two updates share the same draws, so a
batch ``sample(k)`` returns the argmax task (plus the ``epsilon`` draws), as UCB would. (Redrawing
only the winner after each sample was tried and rejected: the losers' stale low draws stay, so
the batch keeps returning one task instead of spreading as Thompson sampling would.)

Signal: as ``exp3``: ``reward="progress"`` (default) turns any real per-episode signal into
normalised learning progress in [0, 1] (:mod:`autocurr.teachers.progress`); ``reward="signal"``
uses the signal itself (in [0, 1] for ``beta``).

Defaults: the registered teacher is the *discounted* variant (the issue asks for discounting;
a teacher's reward, learning progress, drifts by construction). ``discount = 0.99`` is ours (the
``gamma`` of SMPyBandits' D-UCB): SMPyBandits' discounted-Beta value 0.95 ("empirically a
reasonable value for short-term non-stationary experiments") remembers ~20 pulls, too few for
10 tasks, whose posteriors relax back to the uniform prior between visits. Measured on
``DriftingBandit(10 arms, 2000-pull phases)``, ``reward="signal"``, seeds 0-2, share of pulls
on the current best arm per phase: 0.95 gives 0.31-0.39; 0.99 gives 0.64-0.72 over 8 phases
(the tests/test_bandits.py target is 0.6); 0.995 gives 0.74-0.81; ``discount = 1`` (stationary
TS) falls to 0.01-0.25 by the third phase. ``epsilon = 0.05`` (ours; Thompson sampling has no
floor, see ``ucb1``).

Cost: statistics are stored as of each task's last update and discounted lazily
(``gamma^(t - last)`` when read); sample O(1) (argmax), update O(log N) plus the amortised
refresh (O(N / refresh_every) numpy work and O(log N) tree work per update). A refresh draws one
Beta variable per task (~70 ns each); tasks whose discounted count has fallen below 1e-9 are at
the prior to within 1e-9 in total variation and draw a uniform number instead (~20x cheaper).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import check_positive, check_unit_interval
from autocurr.teachers.ducb import check_last_pulls, decay_since
from autocurr.teachers.ucb1 import IndexTeacher, check_arrays

__all__ = ["ThompsonTeacher"]

LIKELIHOODS = ("beta", "gaussian")
# Discounted counts below this are drawn from the prior itself (see index_values).
_PRIOR_COUNT = 1e-9


class ThompsonTeacher(IndexTeacher):
    """(Discounted) Thompson sampling over a finite task space; see the module docstring."""

    name = "thompson"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        likelihood: str = "beta",
        discount: float = 0.99,
        prior_variance: float = 0.25,
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
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood = likelihood
        self.discount = check_unit_interval("discount", discount, low_open=True)
        self.prior_variance = check_positive("prior_variance", prior_variance)
        self.hyperparameters.update(
            likelihood=likelihood, discount=self.discount, prior_variance=self.prior_variance
        )
        n_tasks = space.size
        #: Discounted N_i, S_i and Q_i of each task as of its ``last_pull``.
        self.counts = np.zeros(n_tasks)
        self.sums = np.zeros(n_tasks)
        self.squares = np.zeros(n_tasks)
        #: The clock value ``t`` at each task's last update (0: never updated).
        self.last_pull = np.zeros(n_tasks, dtype=np.int64)
        self._rebuild()

    # ----------------------------------------------------------------------------- posteriors
    def _decay(self) -> np.ndarray:
        return decay_since(self.discount, self.t, self.last_pull)

    def beta_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """``(1 + S_i, 1 + N_i - S_i)`` for every task now (the ``beta`` posterior)."""
        decay = self._decay()
        successes = self.sums * decay
        return 1.0 + successes, 1.0 + self.counts * decay - successes

    def gaussian_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of every task's mean reward now (``gaussian``);
        ``(nan, inf)`` for tasks never updated."""
        decay = self._decay()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            means = self.sums / self.counts
            variances = np.maximum(self.squares / self.counts - means * means, 0.0)
            counts = self.counts * decay
            pooled = (counts * variances + self.prior_variance) / (counts + 1.0)
            deviations = np.sqrt(pooled / counts)
        deviations[counts == 0.0] = np.inf
        return means, deviations

    def index_values(self) -> np.ndarray:
        if self.likelihood == "beta":
            a, b = self.beta_parameters()
            # Beta(1 + s, 1 + f) with s + f < 1e-9 is U(0, 1) to within 1e-9 in total variation:
            # draw those uniformly, ~20x cheaper. With discounting, that is most tasks of a
            # large space (0.99^2100 < 1e-9).
            at_prior = (a - 1.0) + (b - 1.0) < _PRIOR_COUNT
            draws = np.empty(a.size)
            draws[at_prior] = self.rng.random(int(at_prior.sum()))
            informed = ~at_prior
            draws[informed] = self.rng.beta(a[informed], b[informed])
            return draws
        means, deviations = self.gaussian_parameters()
        draws = means + deviations * self.rng.standard_normal(means.size)
        draws[~np.isfinite(deviations)] = np.inf
        return draws

    def _arm_index(self, index: int) -> float:
        count = float(self.counts[index])
        decay = self.discount ** (self.t - int(self.last_pull[index]))
        total = float(self.sums[index])
        if self.likelihood == "beta":
            successes = total * decay
            return float(self.rng.beta(1.0 + successes, 1.0 + count * decay - successes))
        discounted = count * decay
        if discounted == 0.0:
            return math.inf
        mean = total / count
        variance = max(float(self.squares[index]) / count - mean * mean, 0.0)
        pooled = (discounted * variance + self.prior_variance) / (discounted + 1.0)
        deviation = math.sqrt(pooled / discounted)
        if deviation == math.inf:  # forgotten: treated as untried, as in index_values
            return math.inf
        return mean + deviation * float(self.rng.standard_normal())

    def _record(self, index: int, reward: float) -> tuple[int]:
        decay = self.discount ** (self.t - int(self.last_pull[index]))
        self.counts[index] = float(self.counts[index]) * decay + 1.0
        self.sums[index] = float(self.sums[index]) * decay + reward
        self.squares[index] = float(self.squares[index]) * decay + reward * reward
        self.last_pull[index] = self.t
        return (index,)

    # ----------------------------------------------------------------------------- signal
    def _validate_signal(self, value: float) -> None:
        if self.likelihood == "beta":
            super()._validate_signal(value)

    # ----------------------------------------------------------------------------- state
    def _stats_state(self) -> dict[str, Any]:
        return {
            "counts": self.counts.copy(),
            "sums": self.sums.copy(),
            "squares": self.squares.copy(),
            "last_pull": self.last_pull.copy(),
        }

    def _check_stats_state(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        arrays = check_arrays(state, ("counts", "sums", "squares"), self.space.size)
        if np.any(arrays["counts"] < 0.0) or np.any(arrays["squares"] < 0.0):
            raise ValueError("state_dict counts and squares must be >= 0")
        arrays["last_pull"] = check_last_pulls(state, self.space.size)
        return arrays

    def _load_stats(self, stats: dict[str, np.ndarray]) -> None:
        self.counts, self.sums = stats["counts"], stats["sums"]
        self.squares, self.last_pull = stats["squares"], stats["last_pull"]
