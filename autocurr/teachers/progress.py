"""Absolute learning progress per task from fast/slow EMAs: the signal module bandits share.

Design lesson 4 of ``shared/reference/teachers-bandit-lp.md``: keep the *signal* (what counts as
progress) apart from the *bandit core* (how to pick a task from it). Any bandit teacher given
``reward="progress"`` turns each task's raw per-episode signal into

``progress = |fast EMA - slow EMA|`` of that task's signals (Kanitscheider et al., 2021; the slow
EMA smooths the fast one; ``alpha = 0.1`` is their and Syllabus's default),

divided by the largest progress seen so far, so the bandit reward lies in [0, 1]. The EMAs are the
"aggregate before differencing" step: differences of single Bernoulli outcomes are pure noise.
Both EMAs start at a task's first signal, so a task that is constant from the start never shows
progress. Each update is O(1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["REWARD_MODES", "ProgressSignal", "check_bandit_signal"]

#: How a bandit turns a task's signal into its reward.
REWARD_MODES = ("progress", "signal")


def check_bandit_signal(teacher_name: str, mode: str, value: float) -> None:
    """``reward="signal"`` means the signal already is a reward in [0, 1]."""
    if mode == "signal" and not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{teacher_name} with reward='signal' needs a signal in [0, 1], got {value!r}"
        )


class ProgressSignal:
    """Per-task fast/slow EMAs of a raw signal and the normalised absolute progress between them."""

    def __init__(self, n_tasks: int, ema_alpha: float):
        self.ema_alpha = float(ema_alpha)
        self.ema_fast = np.zeros(n_tasks)
        self.ema_slow = np.zeros(n_tasks)
        self.visits = np.zeros(n_tasks, dtype=np.int64)
        self.scale = 0.0

    def reward(self, index: int, signal: float) -> float:
        """Record ``signal`` for task ``index``; return its progress in [0, 1]."""
        alpha = self.ema_alpha
        if self.visits[index] == 0:
            fast = slow = signal
        else:
            fast = float(self.ema_fast[index]) + alpha * (signal - float(self.ema_fast[index]))
            slow = float(self.ema_slow[index]) + alpha * (fast - float(self.ema_slow[index]))
        self.ema_fast[index] = fast
        self.ema_slow[index] = slow
        self.visits[index] += 1
        progress = abs(fast - slow)
        self.scale = max(self.scale, progress)
        return progress / self.scale if self.scale > 0.0 else 0.0

    def bandit_reward(self, index: int, signal: float, mode: str) -> float:
        """The bandit's reward for task ``index``: the signal itself or its progress."""
        if mode == "signal":
            self.visits[index] += 1
            return signal
        return self.reward(index, signal)

    def progress(self) -> np.ndarray:
        """Unnormalised ``|fast - slow|`` for every task."""
        return np.abs(self.ema_fast - self.ema_slow)

    def state(self) -> dict[str, Any]:
        return {
            "ema_fast": self.ema_fast.copy(),
            "ema_slow": self.ema_slow.copy(),
            "visits": self.visits.copy(),
            "scale": self.scale,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`; validates shapes and values before changing anything."""
        n_tasks = self.visits.size
        fast = np.asarray(state["ema_fast"], dtype=np.float64)
        slow = np.asarray(state["ema_slow"], dtype=np.float64)
        visits = np.asarray(state["visits"], dtype=np.int64)
        scale = float(state["scale"])
        if any(a.shape != (n_tasks,) for a in (fast, slow, visits)):
            raise ValueError("progress state arrays do not match the number of tasks")
        if not (np.all(np.isfinite(fast)) and np.all(np.isfinite(slow))) or not scale >= 0.0:
            raise ValueError("progress state must be finite with a non-negative scale")
        self.ema_fast, self.ema_slow, self.visits, self.scale = fast, slow, visits, scale
