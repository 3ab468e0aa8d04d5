"""A fixed-capacity level buffer with the PLR replay distribution, O(log N) per operation.

Papers: *Prioritized Level Replay* (Jiang et al., ICML 2021), *Replay-Guided Adversarial
Environment Design* (Robust PLR, Jiang et al., NeurIPS 2021), *ACCEL* (Parker-Holder et al.,
ICML 2022). Formulas from the reference ``teachers-regret-ued.md`` sections 4 and 6.

Replay distribution over the ``n`` filled slots::

    P = (1 - staleness) * P_S + staleness * P_C

* ``P_S`` (score transform, temperature ``beta``):
  ``rank``: h_i = rank_i^(-1/beta), rank 1 = highest score, ties broken by slot (lower slot
  ranks higher; the same as a stable argsort of ``-scores``, as in JaxUED);
  ``power``: h_i = (max(S_i, 0) + eps)^(1/beta), eps = 1e-3 without staleness else 0 (dcd);
  ``softmax``: h_i = exp(S_i / beta); ``eps-greedy``: 1 - epsilon on the top-ranked slot plus
  epsilon / n on every slot. P_S = h / sum(h), uniform if sum(h) = 0.
* ``P_C`` (staleness): P_C(i) = (c - C_i) / sum_j (c - C_j), ``c`` the global sample counter and
  ``C_i`` the counter when slot ``i`` was last sampled or inserted; uniform if the sum is 0.
  Each :meth:`LevelBuffer.sample` increments ``c`` and stamps the drawn slot (level-replay / dcd:
  "every seed's staleness +1, the picked one reset to 0"); :meth:`LevelBuffer.tick` advances
  ``c`` for episodes on new (non-buffer) levels if the caller wants them counted.

Replacement rule (``insert``): a level already in the buffer is updated in place (score
overwritten, best return = max, ``seen`` + 1; staleness stamp kept; JaxUED ``duplicate_check``).
Free slots fill sequentially. Once full, the victim is the slot with the **lowest replay
weight** under the full mixture ``P`` (``replace="weight"``: dcd ``replay_support``, JaxUED,
minimax), or the **lowest score** (``replace="score"``, dcd's alternative; equal to the lowest
``P_S`` for rank/power/softmax). Ties pick the lowest-ranked slot (lowest score, then highest
slot). The new level replaces the victim iff its score is **strictly higher** than the victim's
*score* (JaxUED's ``<``; minimax ``>=`` and dcd ``<=`` also replace on ties). A new entry is
stamped with the current ``c`` (staleness 0, as in JaxUED).

Defaults ``transform="rank"``, ``temperature=0.3``, ``staleness=0.3``: dcd 60-block ACCEL/PLR⊥
configs, JaxUED ``examples/maze_plr.py`` and minimax ``plr.json``. ``epsilon=0.05`` for
eps-greedy: level-replay's default.

Cost (N = capacity): ``sample`` and score updates are O(log N):
* rank: an order-statistic list keeps the slots sorted by (-score, slot) — a list of sorted
  blocks of at most 2 * ``_BLOCK`` keys plus a Fenwick tree over block lengths (the
  ``sortedcontainers`` idea, written here; that package is not a dependency). Insert/remove
  bisect a block (C-level memmove of a bounded block) and update the Fenwick tree; select-by-rank
  walks the Fenwick tree. A rank is drawn by bisecting the fixed prefix sums of r^(-1/beta).
* power / softmax: a :class:`SumTree` over h_i (softmax weights are stored shifted by a reference
  score, re-based in one O(N) pass only when scores move more than 50 * beta away from it).
* staleness: a tree of per-subtree sums of C_i and counts of filled slots, in exact Python
  integers; a draw walks it with left mass ``n_left * c - sum(C_left)``.
The ``replace="weight"`` victim search needs the exact mixture argmin, one O(N log N) numpy pass
per insertion into a *full* buffer (rescoring, sampling and ``replace="score"`` stay O(log N)).
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_left, bisect_right, insort
from collections.abc import Hashable
from typing import Any

import numpy as np

from autocurr.teachers.base import check_real
from autocurr.teachers.sumtree import SumTree

__all__ = ["LevelBuffer"]

TRANSFORMS = ("rank", "power", "softmax", "eps-greedy")
_BLOCK = 256
_SOFTMAX_RANGE = 50.0  # exp(+-50) stays far from float64 overflow even summed over 1e8 slots
_STATE_VERSION = 1


class _SortedKeys:
    """Sorted multiset of comparable keys with O(log N) add/remove/select (see module doc)."""

    def __init__(self) -> None:
        self._blocks: list[list[Any]] = []
        self._maxes: list[Any] = []
        self._fenwick: list[int] = [0]
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def _rebuild(self) -> None:
        self._maxes = [block[-1] for block in self._blocks]
        tree = [0] * (len(self._blocks) + 1)
        for i, block in enumerate(self._blocks, start=1):
            tree[i] += len(block)
            parent = i + (i & -i)
            if parent < len(tree):
                tree[parent] += tree[i]
        self._fenwick = tree

    def _fenwick_add(self, block: int, delta: int) -> None:
        tree = self._fenwick
        i = block + 1
        n = len(tree)
        while i < n:
            tree[i] += delta
            i += i & -i

    def add(self, key: Any) -> None:
        self._len += 1
        if not self._blocks:
            self._blocks.append([key])
            self._rebuild()
            return
        b = min(bisect_left(self._maxes, key), len(self._blocks) - 1)
        block = self._blocks[b]
        insort(block, key)
        self._maxes[b] = block[-1]
        if len(block) > 2 * _BLOCK:
            self._blocks[b : b + 1] = [block[:_BLOCK], block[_BLOCK:]]
            self._rebuild()
        else:
            self._fenwick_add(b, 1)

    def remove(self, key: Any) -> None:
        b = bisect_left(self._maxes, key)
        block = self._blocks[b] if b < len(self._blocks) else []
        i = bisect_left(block, key)
        if i == len(block) or block[i] != key:
            raise KeyError(key)
        del block[i]
        self._len -= 1
        if block:
            self._maxes[b] = block[-1]
            self._fenwick_add(b, -1)
        else:
            del self._blocks[b]
            self._rebuild()

    def select(self, k: int) -> Any:
        """The ``k``-th smallest key (0-based)."""
        tree = self._fenwick
        pos = 0
        step = 1 << (len(tree) - 1).bit_length()
        while step:
            nxt = pos + step
            if nxt < len(tree) and tree[nxt] <= k:
                pos = nxt
                k -= tree[nxt]
            step >>= 1
        return self._blocks[pos][k]

    def first(self) -> Any:
        return self._blocks[0][0]

    def last(self) -> Any:
        return self._blocks[-1][-1]


class _StalenessTree:
    """Per-subtree sums of stamps C_i and counts of filled slots; draws i with weight c - C_i."""

    def __init__(self, capacity: int) -> None:
        self.capacity = 1 << max(0, capacity - 1).bit_length()
        self._sums = [0] * (2 * self.capacity)
        self._counts = [0] * (2 * self.capacity)

    def set(self, slot: int, stamp: int) -> None:
        sums, counts = self._sums, self._counts
        node = self.capacity + slot
        sums[node] = stamp
        counts[node] = 1
        node >>= 1
        while node:
            sums[node] = sums[2 * node] + sums[2 * node + 1]
            counts[node] = counts[2 * node] + counts[2 * node + 1]
            node >>= 1

    def total(self, clock: int) -> int:
        return self._counts[1] * clock - self._sums[1]

    def find(self, value: int, clock: int) -> int:
        """Slot whose interval of cumulative weight ``c - C_i`` contains ``value``."""
        sums, counts = self._sums, self._counts
        node = 1
        while node < self.capacity:
            left = 2 * node
            left_mass = counts[left] * clock - sums[left]
            if value < left_mass:
                node = left
            else:
                value -= left_mass
                node = left + 1
        return node - self.capacity


def _check_level(level: Any) -> Hashable:
    try:
        hash(level)
    except TypeError as exc:
        raise ValueError(f"a buffered level must be hashable (encoded), got {level!r:.80}") from exc
    return level


class LevelBuffer:
    """Fixed-capacity buffer of encoded levels with PLR replay sampling (see module doc).

    Args:
        capacity: number of slots K (>= 1).
        transform: ``"rank"``, ``"power"``, ``"softmax"`` or ``"eps-greedy"``.
        temperature: beta > 0 (the exponent 1/beta for rank/power; the divisor for softmax).
        staleness: mixing weight rho in [0, 1] of the staleness distribution.
        epsilon: uniform share in [0, 1] for ``"eps-greedy"``.
        replace: ``"weight"`` (lowest replay weight) or ``"score"`` (lowest score).

    Per slot: ``level`` (encoded, hashable), ``score``, ``stamp`` (counter when last sampled or
    inserted), ``best_return`` (max episodic return seen, None if never given), ``parent``
    (encoded or None), ``n_mutations`` and ``seen`` (times inserted or rescored).
    """

    def __init__(
        self,
        capacity: int,
        *,
        transform: str = "rank",
        temperature: float = 0.3,
        staleness: float = 0.3,
        epsilon: float = 0.05,
        replace: str = "weight",
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, numbers.Integral) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        temperature = check_real("temperature", temperature)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        staleness = check_real("staleness", staleness)
        if not 0.0 <= staleness <= 1.0:
            raise ValueError(f"staleness must be in [0, 1], got {staleness}")
        epsilon = check_real("epsilon", epsilon)
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        if replace not in ("weight", "score"):
            raise ValueError(f"replace must be 'weight' or 'score', got {replace!r}")
        self.capacity = int(capacity)
        self.transform = transform
        self.temperature = temperature
        self.staleness = staleness
        self.epsilon = epsilon
        self.replace = replace
        self.power_eps = 1e-3 if staleness == 0.0 else 0.0
        self._rank_cdf: list[float] = []
        if transform == "rank":
            ranks = np.arange(1, self.capacity + 1, dtype=np.float64)
            self._rank_cdf = np.cumsum(ranks ** (-1.0 / temperature)).tolist()
        self._reset()

    # -- storage -------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.clock = 0
        self._levels: list[Hashable] = []
        self._scores: list[float] = []
        self._stamps: list[int] = []
        self._best: list[float | None] = []
        self._parents: list[Hashable | None] = []
        self._mutations: list[int] = []
        self._seen: list[int] = []
        self._slot_of: dict[Hashable, int] = {}
        self._sorted = _SortedKeys()
        self._stale = _StalenessTree(self.capacity)
        self._weights = SumTree(np.zeros(self.capacity))
        self._softmax_ref = 0.0

    def __len__(self) -> int:
        return len(self._levels)

    def __contains__(self, level: Any) -> bool:
        try:
            return level in self._slot_of
        except TypeError:
            return False

    @property
    def full(self) -> bool:
        return len(self._levels) == self.capacity

    def levels(self) -> list[Hashable]:
        """Buffered levels in slot order (the order of :meth:`probabilities`)."""
        return list(self._levels)

    def scores(self) -> np.ndarray:
        return np.array(self._scores, dtype=np.float64)

    def entry(self, level: Hashable) -> dict[str, Any]:
        """The stored fields of ``level`` (KeyError if absent)."""
        i = self._slot_of[level]
        return {
            "slot": i,
            "level": self._levels[i],
            "score": self._scores[i],
            "stamp": self._stamps[i],
            "staleness": self.clock - self._stamps[i],
            "best_return": self._best[i],
            "parent": self._parents[i],
            "n_mutations": self._mutations[i],
            "seen": self._seen[i],
        }

    # -- transforms ------------------------------------------------------------------------------

    def _tree_weight(self, score: float) -> float:
        if self.transform == "power":
            return (max(score, 0.0) + self.power_eps) ** (1.0 / self.temperature)
        return math.exp((score - self._softmax_ref) / self.temperature)

    def _set_score(self, slot: int, score: float, *, new: bool) -> None:
        """Store ``score`` in slot and keep the sorted keys and weight tree in sync."""
        if not new:
            self._sorted.remove((-self._scores[slot], slot))
        self._scores[slot] = score
        self._sorted.add((-score, slot))
        if self.transform in ("power", "softmax"):
            if self.transform == "softmax" and self._softmax_out_of_range(score):
                self._rebuild_weights()
            else:
                self._weights.set(slot, self._tree_weight(score))

    def _softmax_out_of_range(self, score: float) -> bool:
        top = -self._sorted.first()[0]
        span = _SOFTMAX_RANGE * self.temperature
        return score - self._softmax_ref > span or top - self._softmax_ref < -span

    def _rebuild_weights(self, softmax_ref: float | None = None) -> None:
        """Recompute the weight tree in one pass (re-basing softmax at the top score). Uses the
        same scalar formula as :meth:`_tree_weight` so a rebuilt tree equals an updated one."""
        if self.transform == "softmax":
            top = max(self._scores) if self._scores else 0.0
            self._softmax_ref = top if softmax_ref is None else softmax_ref
        weights = np.zeros(self.capacity)
        weights[: len(self)] = [self._tree_weight(score) for score in self._scores]
        self._weights = SumTree(weights)

    def _score_probabilities(self) -> np.ndarray:
        n = len(self)
        scores = np.array(self._scores, dtype=np.float64)
        if self.transform in ("rank", "eps-greedy"):
            order = np.argsort(-scores, kind="stable")
            if self.transform == "eps-greedy":
                p = np.full(n, self.epsilon / n)
                p[order[0]] += 1.0 - self.epsilon
                return p
            h = np.empty(n)
            h[order] = np.arange(1, n + 1, dtype=np.float64) ** (-1.0 / self.temperature)
        elif self.transform == "power":
            h = (np.maximum(scores, 0.0) + self.power_eps) ** (1.0 / self.temperature)
        else:
            h = np.exp((scores - scores.max()) / self.temperature)
        total = h.sum()
        return h / total if total > 0 else np.full(n, 1.0 / n)

    def _staleness_probabilities(self) -> np.ndarray:
        n = len(self)
        stale = self.clock - np.array(self._stamps, dtype=np.float64)
        total = stale.sum()
        return stale / total if total > 0 else np.full(n, 1.0 / n)

    def probabilities(self) -> np.ndarray:
        """Exact replay distribution over slots ``0..len-1`` (O(N log N); for tests/logging)."""
        if not self._levels:
            return np.zeros(0)
        p = (1.0 - self.staleness) * self._score_probabilities()
        if self.staleness > 0:
            p += self.staleness * self._staleness_probabilities()
        return p

    # -- sampling --------------------------------------------------------------------------------

    def _draw_by_score(self, rng: np.random.Generator) -> int:
        n = len(self)
        if self.transform == "rank":
            u = float(rng.random()) * self._rank_cdf[n - 1]
            rank = min(bisect_right(self._rank_cdf, u, 0, n), n - 1)
            return self._sorted.select(rank)[1]
        if self.transform == "eps-greedy":
            if float(rng.random()) < self.epsilon:
                return int(rng.integers(n))
            return self._sorted.first()[1]
        total = self._weights.total
        if total > 0:
            return self._weights.find(float(rng.random()) * total)
        return int(rng.integers(n))

    def _draw_by_staleness(self, rng: np.random.Generator) -> int:
        total = self._stale.total(self.clock)
        if total > 0:
            return self._stale.find(int(rng.integers(total)), self.clock)
        return int(rng.integers(len(self)))

    def sample(self, rng: np.random.Generator) -> Hashable:
        """Draw a level from the replay distribution, advance the clock and stamp the level."""
        if not self._levels:
            raise ValueError("cannot sample from an empty LevelBuffer")
        if self.staleness > 0 and float(rng.random()) < self.staleness:
            slot = self._draw_by_staleness(rng)
        else:
            slot = self._draw_by_score(rng)
        self.clock += 1
        self._stamps[slot] = self.clock
        self._stale.set(slot, self.clock)
        return self._levels[slot]

    def tick(self, n: int = 1) -> None:
        """Advance the staleness clock by ``n`` without sampling (e.g. for new-level episodes)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"tick needs a non-negative integer, got {n!r}")
        self.clock += int(n)

    # -- insertion and updates ---------------------------------------------------------------

    def _victim(self) -> int:
        if self.replace == "score":
            return self._sorted.last()[1]
        p = self.probabilities()
        # lowest weight; among ties the lowest-ranked slot (lowest score, then highest slot)
        candidates = np.flatnonzero(p == p.min())
        return max(candidates.tolist(), key=lambda i: (-self._scores[i], i))

    def insert(
        self,
        level: Hashable,
        score: float,
        *,
        episode_return: float | None = None,
        parent: Hashable | None = None,
        n_mutations: int = 0,
    ) -> bool:
        """Add ``level`` with ``score`` by the replacement rule; returns whether it is buffered.

        A level already present is updated in place (same as :meth:`update`; ``parent`` and
        ``n_mutations`` are then ignored). Invalid arguments raise ValueError before any change.
        """
        level = _check_level(level)
        score = check_real("score", score)
        if episode_return is not None:
            episode_return = check_real("episode_return", episode_return)
        if parent is not None:
            _check_level(parent)
        if isinstance(n_mutations, bool) or not isinstance(n_mutations, numbers.Integral):
            raise ValueError(f"n_mutations must be a non-negative integer, got {n_mutations!r}")
        if n_mutations < 0:
            raise ValueError(f"n_mutations must be a non-negative integer, got {n_mutations!r}")
        if level in self._slot_of:
            self._rescore(self._slot_of[level], score, episode_return)
            return True
        if self.full:
            slot = self._victim()
            if not score > self._scores[slot]:
                return False
            del self._slot_of[self._levels[slot]]
            self._levels[slot] = level
            self._best[slot] = episode_return
            self._parents[slot] = parent
            self._mutations[slot] = int(n_mutations)
            self._seen[slot] = 1
            self._stamps[slot] = self.clock
            self._set_score(slot, score, new=False)
        else:
            slot = len(self._levels)
            self._levels.append(level)
            self._scores.append(score)
            self._stamps.append(self.clock)
            self._best.append(episode_return)
            self._parents.append(parent)
            self._mutations.append(int(n_mutations))
            self._seen.append(1)
            self._set_score(slot, score, new=True)
        self._slot_of[level] = slot
        self._stale.set(slot, self.clock)
        return True

    def update(self, level: Hashable, score: float, *, episode_return: float | None = None) -> None:
        """Overwrite the score of a buffered level (KeyError if absent); best return = max."""
        score = check_real("score", score)
        if episode_return is not None:
            episode_return = check_real("episode_return", episode_return)
        self._rescore(self._slot_of[level], score, episode_return)

    def _rescore(self, slot: int, score: float, episode_return: float | None) -> None:
        self._set_score(slot, score, new=False)
        self._seen[slot] += 1
        if episode_return is not None:
            best = self._best[slot]
            self._best[slot] = episode_return if best is None else max(best, episode_return)

    # -- state ---------------------------------------------------------------------------------

    def stats(self) -> dict[str, float]:
        if not self._levels:
            return {"buffer_size": 0.0}
        scores = np.array(self._scores)
        return {
            "buffer_size": float(len(self)),
            "buffer_score_mean": float(scores.mean()),
            "buffer_score_max": float(scores.max()),
            "buffer_mean_staleness": float(self.clock - np.mean(self._stamps)),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything that determines future behaviour, as plain Python values (levels as-is)."""
        return {
            "version": _STATE_VERSION,
            "capacity": self.capacity,
            "transform": self.transform,
            "temperature": self.temperature,
            "staleness": self.staleness,
            "epsilon": self.epsilon,
            "replace": self.replace,
            "clock": self.clock,
            "levels": list(self._levels),
            "scores": list(self._scores),
            "stamps": list(self._stamps),
            "best_returns": list(self._best),
            "parents": list(self._parents),
            "n_mutations": list(self._mutations),
            "seen": list(self._seen),
            "softmax_ref": self._softmax_ref,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output; validates everything before changing anything."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported LevelBuffer state version {state.get('version')!r}")
        for key in ("capacity", "transform", "temperature", "staleness", "epsilon", "replace"):
            if state.get(key) != getattr(self, key):
                raise ValueError(
                    f"state {key}={state.get(key)!r} does not match this buffer's "
                    f"{getattr(self, key)!r}"
                )
        columns = ("levels", "scores", "stamps", "best_returns", "parents", "n_mutations", "seen")
        n = len(state["levels"])
        if n > self.capacity or any(len(state[c]) != n for c in columns):
            raise ValueError("LevelBuffer state columns have inconsistent lengths")
        clock = state["clock"]
        if isinstance(clock, bool) or not isinstance(clock, numbers.Integral) or clock < 0:
            raise ValueError(f"state clock must be a non-negative integer, got {clock!r}")
        levels = [_check_level(level) for level in state["levels"]]
        if len(set(levels)) != n:
            raise ValueError("LevelBuffer state has duplicate levels")
        scores = [check_real("score", s) for s in state["scores"]]
        stamps = [int(s) for s in state["stamps"]]
        if any(not 0 <= s <= clock for s in stamps):
            raise ValueError("LevelBuffer state stamps must lie in [0, clock]")
        best = [None if b is None else check_real("best_return", b) for b in state["best_returns"]]
        mutations = [int(m) for m in state["n_mutations"]]
        seen = [int(s) for s in state["seen"]]
        if any(m < 0 for m in mutations) or any(s < 0 for s in seen):
            raise ValueError("LevelBuffer state counts must be non-negative")
        softmax_ref = check_real("softmax_ref", state.get("softmax_ref", 0.0))
        self._reset()
        self.clock = int(clock)
        self._levels = levels
        self._scores = scores
        self._stamps = stamps
        self._best = best
        self._parents = list(state["parents"])
        self._mutations = mutations
        self._seen = seen
        self._slot_of = {level: i for i, level in enumerate(levels)}
        for i, (score, stamp) in enumerate(zip(scores, stamps, strict=True)):
            self._sorted.add((-score, i))
            self._stale.set(i, stamp)
        if self.transform in ("power", "softmax") and n:
            self._rebuild_weights(softmax_ref)
