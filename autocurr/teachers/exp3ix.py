"""EXP3-IX teacher: EXP3 with implicit exploration, a lower-variance loss estimate.

Paper: *Explore no more: Improved high-probability regret bounds for non-stochastic bandits*
(Neu, NeurIPS 2015); reference ``teachers-bandit-lp.md`` section 5.

Rule: loss ``l = 1 - reward``; play ``p_i = (1 - epsilon) * w_i / sum_j w_j + epsilon / K``;
after task ``I`` gave loss ``l``: ``l_hat_I = l / (p_I + gamma)`` (zero for the other tasks) and
``w_I <- w_I * exp(-eta * l_hat_I)``, with ``eta = sqrt(2 log K / (K T))`` and ``gamma = eta / 2``
(Neu's Theorem 1 tuning for a horizon ``T``). The ``gamma`` in the denominator is the "implicit
exploration": it biases the estimate down but caps it at ``1 / gamma``, which is what gives the
high-probability bounds.

Deviation: EXP3-IX has no uniform mixing; ``epsilon`` (default 0.01, ours) adds the exploration
floor every autocurr teacher keeps, and ``p_I`` above is the actual sampling probability including
it. ``epsilon = 0`` is Neu's algorithm.

Horizon: ``horizon=T`` fixes ``eta`` for a known number of updates. The default ``horizon=None``
is anytime by the doubling trick *without restarts*: updates ``1 .. 2K - 1`` use ``T = K`` and
updates ``K 2^m .. K 2^(m+1) - 1`` (m >= 1) use ``T = K 2^m``, so ``eta`` shrinks by sqrt(2) each
time the clock doubles; the cumulative loss estimates are kept, not reset: a curriculum should
not forget what it has learnt each time the clock doubles. (Starting at ``T = K`` rather than 1:
the first ``K`` updates are needed to touch every task anyway, and it keeps the rebuilds O(1)
amortised.) The weights are ``w_i = exp(-eta * L_i)`` with ``L_i`` the cumulative
estimated loss, so changing ``eta`` needs only a rebuild of the sum tree.

Signal: as ``exp3``: ``reward="progress"`` (default) turns any real per-episode signal into
normalised learning progress (:mod:`autocurr.teachers.progress`); ``reward="signal"`` uses the
signal itself, which must lie in [0, 1].

Cost: ``sample`` and ``update`` are O(log K) through a sum tree over the weights. The tree is
rebuilt (O(K)) when ``eta`` changes (at ``t = K 2^m``: O(1) amortised) and when every weight has
shrunk below 1e-150 of the last rebuild's leader (a fresh shift keeps ``exp`` from underflowing;
an update lowers one log-weight by at most ``eta / gamma = 2``, so this happens at most once per
~170 K updates).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import check_unit_interval
from autocurr.teachers.exp3 import FlooredTreeBandit
from autocurr.teachers.progress import REWARD_MODES, ProgressSignal
from autocurr.teachers.sumtree import SumTree

__all__ = ["Exp3IXTeacher"]

# Rebuild the tree around the current best task once the total weight falls below this.
_REBUILD_BELOW = 1e-150


class Exp3IXTeacher(FlooredTreeBandit):
    """EXP3-IX over a finite task space; see the module docstring for the rule and defaults."""

    name = "exp3ix"
    signal = "return"
    requires_finite = True

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        horizon: int | None = None,
        epsilon: float = 0.01,
        reward: str = "progress",
        ema_alpha: float = 0.1,
    ):
        super().__init__(space, seed)
        if horizon is not None and (
            isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1
        ):
            raise ValueError(f"horizon must be None or an integer >= 1, got {horizon!r}")
        if reward not in REWARD_MODES:
            raise ValueError(f"reward must be one of {REWARD_MODES}, got {reward!r}")
        self.horizon = None if horizon is None else int(horizon)
        self.epsilon = check_unit_interval("epsilon", epsilon, high_open=True)
        self.reward_mode = reward
        self.ema_alpha = check_unit_interval("ema_alpha", ema_alpha, low_open=True)
        self.hyperparameters = {
            "horizon": self.horizon,
            "epsilon": self.epsilon,
            "reward": reward,
            "ema_alpha": self.ema_alpha,
        }
        n_tasks = space.size
        self.progress = ProgressSignal(n_tasks, self.ema_alpha)
        #: Cumulative estimated losses ``L_i``; the weights are ``exp(-eta * L_i)``.
        self.losses = np.zeros(n_tasks)
        #: Updates folded in so far.
        self.t = 0
        self._build_tree()

    # ----------------------------------------------------------------------------- rates
    def current_horizon(self) -> int:
        """The ``T`` in force for the next update (``horizon``, or ``2^m`` by doubling)."""
        if self.horizon is not None:
            return self.horizon
        n_tasks = self.space.size
        epoch = (self.t + 1) // n_tasks  # the next update is number t + 1
        return n_tasks if epoch == 0 else n_tasks << (epoch.bit_length() - 1)

    def learning_rate(self) -> float:
        """``eta = sqrt(2 log K / (K T))`` for the current ``T`` (``gamma = eta / 2``)."""
        n_tasks = self.space.size
        if n_tasks == 1:
            return 0.0
        return math.sqrt(2.0 * math.log(n_tasks) / (n_tasks * self.current_horizon()))

    # ----------------------------------------------------------------------------- sampling
    def _build_tree(self, reference: float | None = None) -> None:
        # Leaves are exp(-eta (L_i - reference)); the reference (the smallest loss by default)
        # keeps exp() in range. math.exp, as in _update, so a resumed tree is bit-identical.
        eta = self.learning_rate()
        reference = float(self.losses.min()) if reference is None else reference
        try:
            leaves = [math.exp(-eta * (loss - reference)) for loss in self.losses.tolist()]
        except OverflowError:
            raise ValueError("loss reference too far above the losses") from None
        self._tree = SumTree(np.array(leaves))
        self._eta, self._reference = eta, reference

    def weights(self) -> np.ndarray:
        """The current weights ``w_i`` (up to a common scale)."""
        return self._tree.weights()

    @property
    def _floor_share(self) -> float:
        return self.epsilon

    # ----------------------------------------------------------------------------- updates
    def _update(self, task: Any, signal: float) -> None:
        index = self.space.index(task)
        loss = 1.0 - self.bandit_reward(index, signal)
        implicit = self._eta / 2.0
        estimate = loss / (self._probability(index) + implicit)
        self.losses[index] += estimate
        self.t += 1
        if self.learning_rate() != self._eta:
            self._build_tree()  # a new doubling epoch
            return
        self._tree.set(index, math.exp(-self._eta * (float(self.losses[index]) - self._reference)))
        if self._tree.total < _REBUILD_BELOW:
            self._build_tree()

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        probabilities = self.probabilities()
        return {
            **super().stats(),
            "entropy": -float(np.sum(probabilities * np.log(probabilities + 1e-300))),
            "max_probability": float(probabilities.max()),
            "learning_rate": self._eta,
            "progress_scale": self.progress.scale,
        }

    def _get_state(self) -> dict[str, Any]:
        return {
            "losses": self.losses.copy(),
            "t": self.t,
            "reference": self._reference,
            "progress_signal": self.progress.state(),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        n_tasks = self.space.size
        losses = np.asarray(state["losses"], dtype=np.float64)
        if losses.shape != (n_tasks,) or not np.all(np.isfinite(losses)) or np.any(losses < 0):
            raise ValueError("state_dict losses must be finite, >= 0 and one per task")
        t = int(state["t"])
        reference = float(state["reference"])
        if t < 0 or not math.isfinite(reference):
            raise ValueError("state_dict t must be >= 0 and reference finite")
        progress = ProgressSignal(n_tasks, self.ema_alpha)
        progress.load(state["progress_signal"])
        previous = (self.losses, self.t)
        self.losses, self.t = losses, t
        try:
            self._build_tree(reference=reference)  # validates; mutates the tree only on success
        except ValueError:
            self.losses, self.t = previous
            raise
        self.progress = progress
