"""EXP3.S teacher: EXP3 with a fixed share, so it can follow a best task that moves.

Paper: *The Nonstochastic Multiarmed Bandit Problem* (Auer, Cesa-Bianchi, Freund, Schapire, 2002),
Section 8; used as a curriculum teacher by Graves et al. (2017).

Rule: ``p_i = (1 - gamma) * w_i / W + gamma / K`` with ``W = sum_j w_j``; after task ``j`` gave
reward ``x`` in [0, 1], for *every* task ``i``:
``w_i <- w_i * exp(gamma * x_hat_i / K) + (e * alpha / K) * W``, with ``x_hat_j = x / p_j`` and
``x_hat_i = 0`` otherwise. The shared term keeps every weight within
reach of the leader, which is what lets the teacher leave a task once its progress dries up (plain
EXP3 freezes there). Note: SMPyBandits applies the share to the pulled arm only, which is not
EXP3.S; here it goes to all arms.

Learning rate: Auer et al. tie it to the mixing, ``exp(gamma * x_hat / K)``. ``eta`` (default
``None``: that rule) decouples them as in Graves et al.'s (2017) EXP3.S teacher,
``w_j <- w_j * exp(eta * x_hat_j)``: with one ``gamma`` a bandit cannot both learn fast and keep a
small uniform share, which is what tracking a moving best task needs (see the tests' DriftingBandit
case: ``gamma = 0.15, eta = 0.06, alpha = 1e-4`` keeps >= 0.63 of pulls on the best of 10 arms in
every 2 000-pull phase, seeds 0-4, where Auer et al.'s horizon-tuned ``gamma = 0.18, alpha = 1/T``
keeps ~0.4 and no (gamma, alpha) pair of 0.05-0.5 x 1e-6-1e-2 reached 0.6; found by a small grid
over gamma 0.1-0.15, eta 0.04-0.06, alpha 1e-4-2e-4).

Signal: as ``exp3`` (learning progress from fast/slow EMAs by default, or a reward in [0, 1]).
Defaults: ``gamma = sqrt(ln K / K)`` and ``alpha = 1e-3``, the horizon-free choices of the
SMPyBandits implementation (Auer et al. tune ``alpha = 1/T`` for a known horizon ``T``: pass it).
Measured by us on ``ChainStudent(20 feasible, 20 infeasible, "bernoulli")``, seeds 0-4 (uniform:
15 811 episodes to mastery, infeasible share 0.5): the defaults need 0.87x uniform's episodes at an
infeasible share of 0.46. No setting of gamma 0.05-0.6 x alpha 3e-5-1e-2 x ema_alpha 0.1-0.5 is
both fast and selective: the share falls below 0.3 only with alpha <= 3e-5 (>= 1.05x uniform), and
the fastest setting (gamma 0.6, alpha 1e-3, ema_alpha 0.5: 0.71x) keeps a share of 0.44 -- the
share term spreads weight evenly, over infeasible tasks too. The decoupled ``eta`` solves that
(tuned by us, teacher seed = student seed as in ``benchmarks/students.py``, uniform 15 790): the
benchmark setting ``gamma = 0.15, eta = 0.2, alpha = 1.5e-3, ema_alpha = 0.7`` needs 0.55x
uniform's episodes at a share of 0.284 (seeds 0-4; seeds 0-9: 0.57x, 0.285). A small uniform mix
keeps the share low while a large ``eta`` lets the progress signal move the weights fast. Found by
a grid over gamma 0.02-0.15 x eta 1e-3-0.3 x alpha 1e-5-4e-3 x ema_alpha 0.1-0.9; every
neighbour with gamma 0.15, alpha 1.5e-3, eta 0.15-0.3 and ema_alpha 0.5-0.9 also meets the
target (0.55-0.6x, 0.28-0.295); alpha 1e-5 starves the tasks unlocked later (> 3x uniform),
1e-4 is slow (>= 0.89x), alpha >= 3e-3 lifts the share above 0.3. The defaults stay the
literature's horizon-free ones: the tuned gamma and eta are absolute numbers fitted to K = 40
tasks, not rules in K.
Cost: O(log K) per sample and update. Weights are kept as ``w_i = u_i + B``: the share adds the
same amount to every weight, so it goes into the scalar ``B`` and only the pulled task's ``u_j``
changes in the sum tree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import check_unit_interval
from autocurr.teachers.exp3 import Exp3Teacher
from autocurr.teachers.sumtree import SumTree

__all__ = ["Exp3STeacher"]

# Weights are divided by their total once it exceeds this, long before float overflow.
_RESCALE_ABOVE = 1e150


class Exp3STeacher(Exp3Teacher):
    """EXP3.S over a finite task space; see the module docstring for the rule and defaults."""

    name = "exp3s"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        gamma: float | None = None,
        alpha: float = 1e-3,
        reward: str = "progress",
        ema_alpha: float = 0.1,
        eta: float | None = None,
    ):
        self.alpha = check_unit_interval("alpha", alpha, high_open=True)
        super().__init__(space, seed, gamma=gamma, reward=reward, ema_alpha=ema_alpha)
        if eta is not None:
            if isinstance(eta, bool) or not isinstance(eta, int | float) or not 0.0 < eta < 1e6:
                raise ValueError(f"eta must be a positive real number, got {eta!r}")
            eta = float(eta)
        #: learning rate on x_hat; Auer et al.'s gamma / K unless given (Graves et al.'s form)
        self.eta = self.gamma / space.size if eta is None else eta
        self.hyperparameters["alpha"] = self.alpha
        self.hyperparameters["eta"] = eta

    # ----------------------------------------------------------------------------- weights
    def _init_weights(self, n_tasks: int) -> None:
        self._set_weights(np.ones(n_tasks), 0.0)  # w_i = 1, no log-weights

    def _set_weights(self, own: np.ndarray, offset: float) -> None:
        self._tree = SumTree(own)
        self._offset = float(offset)

    def _total(self) -> float:
        return self._tree.total + self._tree.size * self._offset

    def weights(self) -> np.ndarray:
        """The current EXP3.S weights ``w_i`` (up to a common scale)."""
        return self._tree.weights() + self._offset

    def probabilities(self) -> np.ndarray:
        weights = self.weights()
        return (1.0 - self.gamma) * weights / weights.sum() + self.gamma / weights.size

    def _probability(self, index: int) -> float:
        share = (self._tree.weight(index) + self._offset) / self._total()
        return (1.0 - self.gamma) * share + self.gamma / self._tree.size

    def _draw_index(self) -> int:
        u = self.rng.random()
        n_tasks = self._tree.size
        if u < self.gamma:
            return min(int(u / self.gamma * n_tasks), n_tasks - 1)
        value = (u - self.gamma) / (1.0 - self.gamma) * self._total()
        if value < self._tree.total:
            return self._tree.find(value)
        # The offset part of the mass is spread evenly over all tasks.
        return min(int((value - self._tree.total) / self._offset), n_tasks - 1)

    def _update(self, task: Any, signal: float) -> None:
        index = self.space.index(task)
        reward = self.bandit_reward(index, signal)
        n_tasks = self._tree.size
        growth_minus_one = math.expm1(self.eta * reward / self._probability(index))
        share = math.e * self.alpha / n_tasks * self._total()
        own = self._tree.weight(index)
        # w_j * m + share - (B + share) = u_j * m + B * (m - 1): no cancellation when B dominates.
        self._tree.set(index, own * (1.0 + growth_minus_one) + self._offset * growth_minus_one)
        self._offset += share
        total = self._total()
        if total > _RESCALE_ABOVE:
            self._set_weights(self._tree.weights() / total, self._offset / total)

    # ----------------------------------------------------------------------------- state
    def stats(self) -> dict[str, float]:
        shared = self._offset * self._tree.size / self._total()
        return {**super().stats(), "shared_weight_fraction": shared}

    _array_keys = ("own_weights",)

    def _weight_state(self) -> dict[str, Any]:
        return {"own_weights": self._tree.weights(), "shared_weight": self._offset}

    def _load_weight_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self._set_weights(arrays["own_weights"], float(state["shared_weight"]))
