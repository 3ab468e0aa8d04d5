"""ADR: automatic domain randomization -- a box of tasks that grows where the learner succeeds.

Paper: *Solving Rubik's Cube with a Robot Hand* (OpenAI / Akkaya et al., 2019; arXiv 1910.07113),
Algorithm 1, as implemented in TeachMyAgent ``algos/adr.py`` with the narrowing clamp of the
IsaacGymEnvs DeXtreme ADR (``shared/reference/teachers-bandit-lp.md`` section 13). Written from
that description.

Signal: ``return`` -- any real per-episode performance, compared with ``low_threshold`` and
``high_threshold`` in the same units (for a success flag or a success rate in [0, 1], e.g. 0.2 and
0.8; TeachMyAgent used returns 0 and 180, DeXtreme 5 and 20 consecutive successes).

Rule: each dimension ``i`` has a current range ``[lo_i, hi_i]`` inside the box, starting as the
single point ``initial`` (default: the box centre; TeachMyAgent starts at the mean of its
expert-knowledge initial distribution, or a random point without one -- pass your easiest task as
``initial``). A sample is:

- with probability ``epsilon`` a uniform task of the whole box (ours, see below);
- otherwise ``U(lo, hi)``; then with probability ``boundary_prob`` one dimension is drawn uniformly
  and pinned to a side drawn uniformly among the sides not yet at the box's bound (no pinning if
  both are). The teacher records each pinned task it hands out together with its (dimension,
  side), keyed by the task rounded to float32 (so a task that went through a float32 environment
  parameter still matches; identical tasks are counted separately, first in first out).

An update whose task matches a recorded pinned task appends the performance to that side's queue
(whether or not the boundary has moved since); any other update leaves ADR unchanged (ADR learns
from boundary episodes only). When a queue holds ``queue_length`` results its mean ``m`` is
compared: ``m >= high_threshold`` widens that side by ``step_i`` (clipped to the box);
``m <= low_threshold`` narrows it by ``step_i`` but never past ``initial_i`` (DeXtreme clamps at the
initial range; TeachMyAgent clamps at the opposite side); in between nothing moves. The queue is
cleared in all three cases. TeachMyAgent detects boundary episodes by exact float equality with
the current boundary, which breaks as soon as the task is copied through float32 or the boundary
moves before the result comes back (batched rollouts); the record of handed-out tasks does not.
Pinned tasks that are never reported stay recorded; at most ``max_pending`` (10 000) are kept,
the oldest dropped first.

Progress metric (``stats()["entropy"]``): ADR entropy ``H = mean_i log(hi_i - lo_i)`` in nats per
dimension, over dimensions whose box has a non-zero range, with widths floored at 1e-12.

Defaults: ``boundary_prob = 0.5`` and ``queue_length = 10`` (TeachMyAgent class defaults; its
benchmark used 0.7 / 10); ``step = 0.1`` times each dimension's range (TeachMyAgent's benchmark
step 0.1 is absolute; the same on a unit box); the thresholds have no default -- they depend on the
reward scale, so a teacher built without them raises ``ValueError``. ``epsilon = 0.05`` is ours:
the project keeps an exploration floor in every teacher, and uniform episodes cost ADR nothing but
those episodes (their results are not used).

Measured (ours): HypercubeUnlock(dim=2, rng=seed) with ``initial=[0, 0]``, thresholds 0 / 0.5,
other defaults: 50 / 46 % of cells mastered after 20k episodes (seeds 0 / 1; uniform: 3) -- an
axis-aligned box grows towards the unlocked corner but cannot follow the diagonal frontier.

Cost: ``sample`` and ``update`` O(d) (plus a dict lookup); ~10 us each on the 2-core machine.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from autocurr.spaces import Box, Space
from autocurr.teachers.base import Teacher, check_int, check_real, check_unit_interval

__all__ = ["ADRTeacher"]

_LOW, _HIGH = 0, 1
_SIDE_NAMES = ("low", "high")
_MIN_WIDTH = 1e-12


class ADRTeacher(Teacher):
    """Automatic domain randomization over a ``Box``; see the module docstring."""

    name = "adr"
    signal = "return"
    requires_finite = False

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        low_threshold: float | None = None,
        high_threshold: float | None = None,
        initial: float | Sequence[float] | None = None,
        step: float | Sequence[float] | None = None,
        boundary_prob: float = 0.5,
        queue_length: int = 10,
        epsilon: float = 0.05,
        max_pending: int = 10_000,
    ):
        super().__init__(space, seed)
        if not isinstance(space, Box):
            raise ValueError(f"teacher {self.name!r} needs a Box space, got {space!r}")
        if low_threshold is None or high_threshold is None:
            raise ValueError(
                "adr needs low_threshold and high_threshold in the units of the reported signal "
                "(e.g. 0.2 and 0.8 for a success rate in [0, 1])"
            )
        self.low_threshold = check_real("low_threshold", low_threshold)
        self.high_threshold = check_real("high_threshold", high_threshold)
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold must be <= high_threshold, got {low_threshold!r} > "
                f"{high_threshold!r}"
            )
        box_range = space.high - space.low
        if initial is None:
            start = (space.low + space.high) / 2.0
        else:
            start = self._vector("initial", initial)
            if not space.contains(start):
                raise ValueError(f"initial must lie inside {space!r}, got {initial!r}")
        if step is None:
            steps = 0.1 * box_range
        else:
            steps = self._vector("step", step)
            if np.any(steps < 0.0):
                raise ValueError(f"step must be >= 0, got {step!r}")
        self.initial = start
        self.step = steps
        self.boundary_prob = check_unit_interval("boundary_prob", boundary_prob)
        self.queue_length = check_int("queue_length", queue_length, 1)
        self.epsilon = check_unit_interval("epsilon", epsilon)
        self.max_pending = check_int("max_pending", max_pending, 1)
        self.hyperparameters = {
            "low_threshold": self.low_threshold,
            "high_threshold": self.high_threshold,
            "initial": None if initial is None else start.tolist(),
            "step": None if step is None else steps.tolist(),
            "boundary_prob": self.boundary_prob,
            "queue_length": self.queue_length,
            "epsilon": self.epsilon,
            "max_pending": self.max_pending,
        }
        self.lo = start.copy()
        self.hi = start.copy()
        dim = space.dim
        self.queues = [[deque(), deque()] for _ in range(dim)]  # queues[i][side]
        #: task bytes -> (dim, side) of each pinned task handed out and not yet reported.
        self._pending: OrderedDict[bytes, list[tuple[int, int]]] = OrderedDict()
        self._n_pending = 0
        self.n_widen = 0
        self.n_narrow = 0
        self.n_boundary_updates = 0

    def _vector(self, name: str, value: Any) -> np.ndarray:
        try:
            array = np.array(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number or {self.space.dim} numbers") from None
        if array.size == 1:
            array = np.repeat(array, self.space.dim)
        if array.shape != (self.space.dim,) or not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be a finite number or {self.space.dim} numbers")
        return array

    # ----------------------------------------------------------------------------- sampling
    def exploration_floor(self) -> float:
        return self.epsilon

    def _sample_one(self) -> np.ndarray:
        if self.rng.random() < self.epsilon:
            return self.space.sample(self.rng)
        task = self.rng.uniform(self.lo, self.hi)
        if self.rng.random() < self.boundary_prob:
            dim = int(self.rng.integers(self.space.dim))
            open_sides = [
                side
                for side, (bound, limit) in enumerate(
                    ((self.lo[dim], self.space.low[dim]), (self.hi[dim], self.space.high[dim]))
                )
                if bound != limit
            ]
            if open_sides:
                side = open_sides[int(self.rng.integers(len(open_sides)))]
                task[dim] = self.lo[dim] if side == _LOW else self.hi[dim]
                self._remember(task, dim, side)
        return task

    @staticmethod
    def _key(task: np.ndarray) -> bytes:
        return task.astype(np.float32).tobytes()

    def _remember(self, task: np.ndarray, dim: int, side: int) -> None:
        key = self._key(task)
        self._pending.setdefault(key, []).append((dim, side))
        self._pending.move_to_end(key)
        self._n_pending += 1
        while self._n_pending > self.max_pending:
            _, dropped = self._pending.popitem(last=False)
            self._n_pending -= len(dropped)

    def boundary_of(self, task: Any) -> tuple[int, str] | None:
        """``(dimension, "low" | "high")`` that the next update of ``task`` will be credited to,
        or ``None`` if ``task`` is not a pinned task handed out and not yet reported."""
        entries = self._pending.get(self._key(self.space.canonical(task)))
        if not entries:
            return None
        dim, side = entries[0]
        return dim, _SIDE_NAMES[side]

    # ----------------------------------------------------------------------------- updates
    def _update(self, task: Any, signal: float) -> None:
        key = self._key(task)
        entries = self._pending.get(key)
        if not entries:
            return  # not a boundary episode: ADR learns nothing from it
        dim, side = entries.pop(0)
        self._n_pending -= 1
        if not entries:
            del self._pending[key]
        self.n_boundary_updates += 1
        queue = self.queues[dim][side]
        queue.append(signal)
        if len(queue) >= self.queue_length:
            self._move_boundary(dim, side, sum(queue) / len(queue))
            queue.clear()

    def _move_boundary(self, dim: int, side: int, mean: float) -> None:
        step = float(self.step[dim])
        if mean >= self.high_threshold:
            self.n_widen += 1
            if side == _LOW:
                self.lo[dim] = max(self.lo[dim] - step, self.space.low[dim])
            else:
                self.hi[dim] = min(self.hi[dim] + step, self.space.high[dim])
        elif mean <= self.low_threshold:
            self.n_narrow += 1
            if side == _LOW:
                self.lo[dim] = min(self.lo[dim] + step, self.initial[dim])
            else:
                self.hi[dim] = max(self.hi[dim] - step, self.initial[dim])

    # ----------------------------------------------------------------------------- logging/state
    def entropy(self) -> float:
        """ADR entropy ``mean_i log(hi_i - lo_i)`` over the box's non-degenerate dimensions."""
        free = self.space.high > self.space.low
        if not free.any():
            return 0.0
        widths = np.maximum(self.hi - self.lo, _MIN_WIDTH)[free]
        return float(np.mean(np.log(widths)))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the current ranges ``(lo, hi)``."""
        return self.lo.copy(), self.hi.copy()

    def stats(self) -> dict[str, float]:
        box_range = self.space.high - self.space.low
        free = box_range > 0
        share = float(np.mean((self.hi - self.lo)[free] / box_range[free])) if free.any() else 1.0
        return {
            **super().stats(),
            "entropy": self.entropy(),
            "mean_width_share": share,
            "n_widen": float(self.n_widen),
            "n_narrow": float(self.n_narrow),
            "n_boundary_updates": float(self.n_boundary_updates),
            "pending_boundary_tasks": float(self._n_pending),
        }

    def _get_state(self) -> dict[str, Any]:
        return {
            "lo": self.lo.tolist(),
            "hi": self.hi.tolist(),
            "queues": [[list(q) for q in sides] for sides in self.queues],
            "pending": [
                [np.frombuffer(key, dtype=np.float32).tolist(), [list(e) for e in entries]]
                for key, entries in self._pending.items()
            ],
            "counters": [self.n_widen, self.n_narrow, self.n_boundary_updates],
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        dim = self.space.dim
        lo = np.array(state["lo"], dtype=np.float64)
        hi = np.array(state["hi"], dtype=np.float64)
        if lo.shape != (dim,) or hi.shape != (dim,):
            raise ValueError("state_dict lo/hi do not match the box dimension")
        if not (self.space.contains(lo) and self.space.contains(hi) and np.all(lo <= hi)):
            raise ValueError("state_dict lo/hi must lie inside the box with lo <= hi")
        queues = [[deque(float(v) for v in q) for q in sides] for sides in state["queues"]]
        if len(queues) != dim or any(len(sides) != 2 for sides in queues):
            raise ValueError("state_dict queues do not match the box dimension")
        if any(len(q) >= self.queue_length for sides in queues for q in sides):
            raise ValueError("state_dict queues must be shorter than queue_length")
        pending: OrderedDict[bytes, list[tuple[int, int]]] = OrderedDict()
        n_pending = 0
        for values, entries in state["pending"]:
            task = np.array(values, dtype=np.float32)
            parsed = [(int(d), int(s)) for d, s in entries]
            if task.shape != (dim,) or not parsed:
                raise ValueError("state_dict pending tasks are invalid")
            if any(not (0 <= d < dim and s in (_LOW, _HIGH)) for d, s in parsed):
                raise ValueError("state_dict pending (dimension, side) pairs are invalid")
            pending[self._key(task)] = parsed
            n_pending += len(parsed)
        n_widen, n_narrow, n_boundary = (int(c) for c in state["counters"])
        self.lo, self.hi = lo, hi
        self.queues = queues
        self._pending = pending
        self._n_pending = n_pending
        self.n_widen, self.n_narrow, self.n_boundary_updates = n_widen, n_narrow, n_boundary
