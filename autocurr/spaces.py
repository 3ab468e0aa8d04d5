"""Task spaces: what a teacher may choose from.

Teachers see tasks and floats only, so these spaces are small, dependency-free cousins of
``gymnasium.spaces`` (which would drag gymnasium into teacher code). Finite spaces expose a flat
index: ``index(task)`` maps a task to ``0..size-1`` and ``task(i)`` maps back, which is what
array-based teachers store their statistics against.

Canonical task values:
- ``Discrete(n)``: a Python ``int`` in ``[0, n)``.
- ``MultiDiscrete(nvec)``: a ``tuple`` of ints (hashable, so it can key a dict).
- ``Box(low, high)``: a 1-D ``float64`` numpy array.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Box", "Discrete", "MultiDiscrete", "Space"]


class Space:
    """Base class. ``finite`` spaces support ``size``, ``index`` and ``task``."""

    finite: bool = False

    def contains(self, task: Any) -> bool:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def canonical(self, task: Any) -> Any:
        """``task`` in canonical form; ``ValueError`` if it is not in the space."""
        raise NotImplementedError

    def to_config(self) -> dict:
        """A plain dict that :func:`space_from_config` turns back into an equal space."""
        raise NotImplementedError


def _as_int(value: Any) -> int | None:
    """``value`` as an int if it is an integral number (not bool, not a float with a fraction)."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    return None


class Discrete(Space):
    """``n`` tasks named ``0 .. n-1``."""

    finite = True

    def __init__(self, n: int):
        n_int = _as_int(n)
        if n_int is None or n_int < 1:
            raise ValueError(f"Discrete(n) needs a positive integer n, got {n!r}")
        self.n = n_int

    @property
    def size(self) -> int:
        return self.n

    def contains(self, task: Any) -> bool:
        value = _as_int(task)
        return value is not None and 0 <= value < self.n

    def canonical(self, task: Any) -> int:
        if not self.contains(task):
            raise ValueError(f"task {task!r} is not in {self!r}")
        return int(task)

    def index(self, task: Any) -> int:
        return self.canonical(task)

    def task(self, index: int) -> int:
        return self.canonical(index)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.n))

    def to_config(self) -> dict:
        return {"type": "Discrete", "n": self.n}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Discrete) and other.n == self.n

    def __hash__(self) -> int:
        return hash(("Discrete", self.n))

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class MultiDiscrete(Space):
    """Tuples ``(t_0, .., t_{d-1})`` with ``0 <= t_j < nvec[j]``; flat index in row-major order."""

    finite = True

    def __init__(self, nvec: Sequence[int]):
        values = [_as_int(v) for v in np.atleast_1d(np.asarray(nvec, dtype=object)).tolist()]
        if not values or any(v is None or v < 1 for v in values):
            raise ValueError(f"MultiDiscrete(nvec) needs positive integers, got {nvec!r}")
        self.nvec = tuple(values)
        self._strides = np.cumprod((1, *self.nvec[:0:-1]))[::-1].astype(np.int64)

    @property
    def size(self) -> int:
        return int(np.prod(self.nvec, dtype=np.int64))

    def contains(self, task: Any) -> bool:
        try:
            values = [_as_int(v) for v in task]
        except TypeError:
            return False
        return len(values) == len(self.nvec) and all(
            v is not None and 0 <= v < n for v, n in zip(values, self.nvec, strict=True)
        )

    def canonical(self, task: Any) -> tuple[int, ...]:
        if not self.contains(task):
            raise ValueError(f"task {task!r} is not in {self!r}")
        return tuple(int(v) for v in task)

    def index(self, task: Any) -> int:
        return int(np.dot(self.canonical(task), self._strides))

    def task(self, index: int) -> tuple[int, ...]:
        i = _as_int(index)
        if i is None or not 0 <= i < self.size:
            raise ValueError(f"index {index!r} is out of range for {self!r}")
        return tuple(int(v) for v in np.unravel_index(i, self.nvec))

    def sample(self, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(v) for v in rng.integers(self.nvec))

    def to_config(self) -> dict:
        return {"type": "MultiDiscrete", "nvec": list(self.nvec)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiDiscrete) and other.nvec == self.nvec

    def __hash__(self) -> int:
        return hash(("MultiDiscrete", self.nvec))

    def __repr__(self) -> str:
        return f"MultiDiscrete({list(self.nvec)})"


class Box(Space):
    """Continuous parameters: vectors ``x`` with ``low <= x <= high`` elementwise (closed box)."""

    finite = False

    def __init__(self, low: float | Sequence[float], high: float | Sequence[float]):
        low_arr = np.atleast_1d(np.asarray(low, dtype=np.float64))
        high_arr = np.atleast_1d(np.asarray(high, dtype=np.float64))
        if low_arr.ndim != 1 or high_arr.ndim != 1:
            raise ValueError("Box bounds must be scalars or 1-D sequences")
        if low_arr.shape != high_arr.shape:
            raise ValueError(
                "Box bounds have different lengths: "
                f"low {low_arr.shape[0]}, high {high_arr.shape[0]}"
            )
        if not (np.all(np.isfinite(low_arr)) and np.all(np.isfinite(high_arr))):
            raise ValueError("Box bounds must be finite (no NaN or inf)")
        if np.any(low_arr > high_arr):
            raise ValueError(f"Box needs low <= high, got low={low_arr}, high={high_arr}")
        self.low = low_arr
        self.high = high_arr
        self.low.flags.writeable = False
        self.high.flags.writeable = False

    @property
    def dim(self) -> int:
        return int(self.low.shape[0])

    def contains(self, task: Any) -> bool:
        try:
            x = np.asarray(task, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        if x.ndim == 0:
            x = x.reshape(1)
        return (
            x.shape == self.low.shape
            and bool(np.all(np.isfinite(x)))
            and bool(np.all(x >= self.low))
            and bool(np.all(x <= self.high))
        )

    def canonical(self, task: Any) -> np.ndarray:
        if not self.contains(task):
            raise ValueError(f"task {task!r} is not in {self!r}")
        return np.array(task, dtype=np.float64).reshape(self.low.shape)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high)

    def to_config(self) -> dict:
        return {"type": "Box", "low": self.low.tolist(), "high": self.high.tolist()}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Box)
            and np.array_equal(other.low, self.low)
            and np.array_equal(other.high, self.high)
        )

    def __hash__(self) -> int:
        return hash(("Box", tuple(self.low), tuple(self.high)))

    def __repr__(self) -> str:
        return f"Box(low={self.low.tolist()}, high={self.high.tolist()})"


def space_from_config(config: dict) -> Space:
    """Inverse of ``Space.to_config``."""
    kind = config.get("type")
    if kind == "Discrete":
        return Discrete(config["n"])
    if kind == "MultiDiscrete":
        return MultiDiscrete(config["nvec"])
    if kind == "Box":
        return Box(config["low"], config["high"])
    raise ValueError(f"unknown space type {kind!r}")
