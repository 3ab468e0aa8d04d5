"""Uniform teacher: domain randomization, the baseline every curriculum is measured against.

Paper: *Domain Randomization for Transferring Deep Neural Networks from Simulation to the Real
World* (Tobin et al., 2017); the "Random" teacher of TeachMyAgent (Romac et al., 2021).
Signal: none is needed (updates are validated and counted, nothing else).
Defaults: no hyperparameters. Works on every space, including ``Box``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autocurr.spaces import Discrete, Space
from autocurr.teachers.base import Teacher

__all__ = ["UniformTeacher"]


class UniformTeacher(Teacher):
    """Samples every task with equal probability (uniform density on a ``Box``)."""

    name = "uniform"
    signal = "return"

    def __init__(self, space: Space, seed: int | np.random.SeedSequence | None = None):
        super().__init__(space, seed)

    def _sample_one(self) -> Any:
        return self.space.sample(self.rng)

    def _sample_many(self, k: int) -> list:
        if not self.space.finite:
            return [self.space.sample(self.rng) for _ in range(k)]
        # One vectorised draw: vector envs refill many task queues at once.
        indices = self.rng.integers(self.space.size, size=k)
        if type(self.space) is Discrete:
            return indices.tolist()  # a Discrete task is its index
        return [self.space.task(int(i)) for i in indices]

    def probabilities(self) -> np.ndarray:
        if not self.space.finite:
            raise NotImplementedError("a Box has a density, not a probability vector")
        return np.full(self.space.size, 1.0 / self.space.size)

    def exploration_floor(self) -> float:
        return 1.0 / self.space.size if self.space.finite else 1.0

    def _update(self, task: Any, signal: float) -> None:
        pass
