"""A sum tree: O(log N) weight updates and proportional draws over N non-negative weights.

Written here rather than taken from a library because no well-kept dependency offers a mutable
categorical sampler with O(log N) updates; it is what keeps teachers out of profiles at 1M tasks.
The tree lives in a Python list: scalar reads from a list are several times cheaper than numpy
scalar indexing, and a draw is ~log2(N) of them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SumTree"]


class SumTree:
    """Weights ``w_0 .. w_{n-1} >= 0``; ``find(u)`` returns the index whose cumulative interval
    contains ``u`` in ``[0, total)``, i.e. a draw proportional to the weights for uniform ``u``."""

    def __init__(self, weights: np.ndarray):
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1 or weights.size == 0:
            raise ValueError("SumTree needs a non-empty 1-D weight vector")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("SumTree weights must be finite and non-negative")
        self.size = int(weights.size)
        self.capacity = 1 << (self.size - 1).bit_length()
        tree = np.zeros(2 * self.capacity)
        tree[self.capacity : self.capacity + self.size] = weights
        for level_start in _level_starts(self.capacity):
            # parents of [level_start, 2*level_start) are [level_start/2, level_start)
            half = level_start // 2
            tree[half:level_start] = (
                tree[level_start : 2 * level_start : 2]
                + tree[level_start + 1 : 2 * level_start : 2]
            )
        self._tree: list[float] = tree.tolist()

    @property
    def total(self) -> float:
        return self._tree[1] if self.capacity > 1 else self._tree[self.capacity]

    def weight(self, index: int) -> float:
        return self._tree[self.capacity + index]

    def weights(self) -> np.ndarray:
        return np.array(self._tree[self.capacity : self.capacity + self.size])

    def set(self, index: int, weight: float) -> None:
        """Set one weight; parents are recomputed as sums (no drift from accumulated deltas)."""
        tree = self._tree
        node = self.capacity + index
        tree[node] = weight
        node >>= 1
        while node:
            tree[node] = tree[2 * node] + tree[2 * node + 1]
            node >>= 1

    def draw_with_floor(self, u: float, floor_share: float) -> int:
        """Index drawn from ``(1 - floor_share) w_i / W + floor_share / n`` for one uniform ``u``
        in [0, 1): the same number picks the branch (uniform floor or weights) and the index."""
        if u < floor_share:
            return min(int(u / floor_share * self.size), self.size - 1)
        return self.find((u - floor_share) / (1.0 - floor_share) * self.total)

    def find(self, value: float) -> int:
        """Index ``i`` with ``sum(w[:i]) <= value < sum(w[:i+1])``, skipping zero weights."""
        tree = self._tree
        node = 1
        capacity = self.capacity
        while node < capacity:
            left = 2 * node
            left_sum = tree[left]
            if value < left_sum or tree[left + 1] <= 0.0:
                node = left
            else:
                value -= left_sum
                node = left + 1
        return min(node - capacity, self.size - 1)


def _level_starts(capacity: int) -> list[int]:
    """First node index of each tree level, from the leaves up to the root's children."""
    starts = []
    start = capacity
    while start > 1:
        starts.append(start)
        start //= 2
    return starts


class MaxTree:
    """Values ``v_0 .. v_{n-1}`` with O(log N) point updates and an O(1) ``argmax``.

    Ties between equal values go to the larger ``priority`` (one float per leaf, set with the
    value). Callers that want random tie-breaking pass fresh uniform priorities; a fixed priority
    gives a fixed tie order. Like :class:`SumTree`, written here because no dependency offers it,
    and kept in Python lists because scalar list access is the fast path in CPython.
    """

    def __init__(self, values: np.ndarray, priorities: np.ndarray | None = None):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError("MaxTree needs a non-empty 1-D value vector")
        if np.any(np.isnan(values)):
            raise ValueError("MaxTree values must not be NaN")
        if priorities is None:
            priorities = np.zeros(values.size)
        priorities = np.asarray(priorities, dtype=np.float64)
        if priorities.shape != values.shape:
            raise ValueError("MaxTree priorities must match the values' shape")
        self.size = int(values.size)
        self.capacity = 1 << (self.size - 1).bit_length()
        padded_values = np.full(self.capacity, -np.inf)
        padded_values[: self.size] = values
        padded_priorities = np.full(self.capacity, -np.inf)
        padded_priorities[: self.size] = priorities
        # winner[node] is the leaf index that wins the subtree under ``node``; built level by
        # level with numpy so a rebuild of 1M leaves stays in the tens of milliseconds.
        winners = np.zeros(2 * self.capacity, dtype=np.int64)
        level = np.arange(self.capacity, dtype=np.int64)
        winners[self.capacity :] = level
        start = self.capacity
        while start > 1:
            left, right = level[0::2], level[1::2]
            right_wins = (padded_values[right] > padded_values[left]) | (
                (padded_values[right] == padded_values[left])
                & (padded_priorities[right] > padded_priorities[left])
            )
            level = np.where(right_wins, right, left)
            start //= 2
            winners[start : 2 * start] = level
        self._values: list[float] = padded_values.tolist()
        self._priorities: list[float] = padded_priorities.tolist()
        self._winner: list[int] = winners.tolist()

    def argmax(self) -> int:
        return self._winner[1] if self.capacity > 1 else 0

    def max(self) -> float:
        return self._values[self.argmax()]

    def value(self, index: int) -> float:
        return self._values[index]

    def values(self) -> np.ndarray:
        return np.array(self._values[: self.size])

    def priorities(self) -> np.ndarray:
        return np.array(self._priorities[: self.size])

    def set(self, index: int, value: float, priority: float = 0.0) -> None:
        values, priorities, winner = self._values, self._priorities, self._winner
        values[index] = value
        priorities[index] = priority
        node = (self.capacity + index) >> 1
        while node:
            left, right = winner[2 * node], winner[2 * node + 1]
            if values[right] > values[left] or (
                values[right] == values[left] and priorities[right] > priorities[left]
            ):
                winner[node] = right
            else:
                winner[node] = left
            node >>= 1
