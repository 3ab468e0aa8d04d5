"""EXP3 teacher: an adversarial bandit over tasks rewarded by learning progress.

Paper: *The Nonstochastic Multiarmed Bandit Problem* (Auer, Cesa-Bianchi, Freund, Schapire, 2002),
used as a curriculum teacher by Graves et al. (2017) and Matiisen et al. (TSCL, 2017).

Rule (Auer et al., Fig. 1): ``p_i = (1 - gamma) * w_i / sum_j w_j + gamma / K``; after task ``i``
gave reward ``x`` in [0, 1]: ``x_hat = x / p_i`` and ``w_i <- w_i * exp(gamma * x_hat / K)``.
The ``gamma / K`` term is the exploration floor: no task ever drops below it.

Signal: with ``reward="progress"`` (default) the teacher takes any real per-episode signal (episodic
return or success) and turns it into absolute learning progress, ``|fast EMA - slow EMA|`` of that
task's signals (Kanitscheider et al., 2021; ``alpha = 0.1`` is their and Syllabus's default; the
slow EMA smooths the fast one). Averaging before differencing matters: single-episode differences of
Bernoulli outcomes are pure noise. Progress is divided by the largest progress seen so far so the
bandit reward lies in [0, 1]. With ``reward="signal"`` the signal itself is the reward and must lie
in [0, 1] (e.g. a success flag, or a loss-derived reward as in Online Data Mixing).

Defaults: ``gamma = sqrt(ln K / K)`` (capped to [0.01, 1]), the horizon-free choice of the
SMPyBandits EXP3 implementation; ``ema_alpha = 0.1``.
Cost: ``sample`` and ``update`` are O(log K) through a sum tree over the weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import Teacher, check_unit_interval
from autocurr.teachers.progress import REWARD_MODES, ProgressSignal, check_bandit_signal
from autocurr.teachers.sumtree import SumTree

__all__ = ["Exp3Teacher"]

# The tree is rebuilt around the largest log-weight once one outgrows the last shift by this much.
_LOG_WEIGHT_SHIFT = 500.0


class FlooredTreeBandit(Teacher):
    """Sampling shared by EXP3 and EXP3-IX: a :class:`SumTree` of weights (``self._tree``) mixed
    with a uniform share ``_floor_share`` (EXP3's ``gamma``, EXP3-IX's ``epsilon``), and the
    bandit reward from the shared progress module (``self.progress``, ``self.reward_mode``)."""

    @property
    def _floor_share(self) -> float:
        raise NotImplementedError

    def probabilities(self) -> np.ndarray:
        weights, share = self._tree.weights(), self._floor_share
        return (1.0 - share) * weights / weights.sum() + share / weights.size

    def exploration_floor(self) -> float:
        return self._floor_share / self.space.size

    def _probability(self, index: int) -> float:
        share = self._floor_share
        return (1.0 - share) * self._tree.weight(index) / self._tree.total + share / self._tree.size

    def _draw_index(self) -> int:
        return self._tree.draw_with_floor(self.rng.random(), self._floor_share)

    def _sample_one(self) -> Any:
        return self.space.task(self._draw_index())

    def _validate_signal(self, value: float) -> None:
        check_bandit_signal(self.name, self.reward_mode, value)

    def bandit_reward(self, index: int, signal: float) -> float:
        """Reward in [0, 1] for task ``index``; updates the progress statistics in place."""
        return self.progress.bandit_reward(index, signal, self.reward_mode)


class Exp3Teacher(FlooredTreeBandit):
    """EXP3 over a finite task space; see the module docstring for the rule and defaults."""

    name = "exp3"
    signal = "return"
    requires_finite = True

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        gamma: float | None = None,
        reward: str = "progress",
        ema_alpha: float = 0.1,
    ):
        super().__init__(space, seed)
        n_tasks = space.size
        if gamma is None:
            gamma = (
                min(1.0, max(0.01, math.sqrt(math.log(n_tasks) / n_tasks))) if n_tasks > 1 else 1.0
            )
        if reward not in REWARD_MODES:
            raise ValueError(f"reward must be one of {REWARD_MODES}, got {reward!r}")
        self.gamma = check_unit_interval("gamma", gamma, low_open=True)
        self.reward_mode = reward
        self.ema_alpha = check_unit_interval("ema_alpha", ema_alpha, low_open=True)
        self.hyperparameters = {"gamma": self.gamma, "reward": reward, "ema_alpha": self.ema_alpha}
        self.progress = ProgressSignal(n_tasks, self.ema_alpha)
        self._init_weights(n_tasks)

    def _init_weights(self, n_tasks: int) -> None:
        self.log_weights = np.zeros(n_tasks)
        self._build_tree()

    # ----------------------------------------------------------------------------- sampling
    def _build_tree(self, shift: float | None = None) -> None:
        # The tree holds exp(log_w - shift); shifting keeps exp() finite as weights grow.
        # math.exp, as in _update, so a resumed teacher's tree is bit-identical to the live one.
        self._shift = float(self.log_weights.max()) if shift is None else shift
        leaves = [math.exp(w - self._shift) for w in self.log_weights.tolist()]
        self._tree = SumTree(np.array(leaves))

    @property
    def _floor_share(self) -> float:
        return self.gamma

    # ----------------------------------------------------------------------------- updates
    def _update(self, task: Any, signal: float) -> None:
        index = self.space.index(task)
        reward = self.bandit_reward(index, signal)
        probability = self._probability(index)
        self.log_weights[index] += self.gamma * (reward / probability) / self.log_weights.size
        if self.log_weights[index] - self._shift > _LOG_WEIGHT_SHIFT:
            self._build_tree()  # O(K), but at most once per ~500 units of log-weight growth
        else:
            self._tree.set(index, math.exp(self.log_weights[index] - self._shift))

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        probabilities = self.probabilities()
        entropy = -float(np.sum(probabilities * np.log(probabilities)))
        return {
            **super().stats(),
            "entropy": entropy,
            "max_probability": float(probabilities.max()),
            "progress_scale": self.progress.scale,
            "mean_progress": float(np.mean(self.progress.progress())),
        }

    def _get_state(self) -> dict[str, Any]:
        return {"progress_signal": self.progress.state(), **self._weight_state()}

    def _set_state(self, state: dict[str, Any]) -> None:
        n_tasks = self.space.size
        arrays = {key: np.asarray(state[key], dtype=np.float64) for key in self._array_keys}
        if any(a.shape != (n_tasks,) for a in arrays.values()):
            raise ValueError("state_dict arrays do not match the number of tasks")
        progress = ProgressSignal(n_tasks, self.ema_alpha)
        progress.load(state["progress_signal"])
        self._load_weight_state(state, arrays)
        self.progress = progress

    # Subclasses with another weight representation override these three.
    _array_keys = ("log_weights",)

    def _weight_state(self) -> dict[str, Any]:
        return {"log_weights": self.log_weights, "weight_shift": self._shift}

    def _load_weight_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.log_weights = arrays["log_weights"]
        self._build_tree(shift=float(state["weight_shift"]))
