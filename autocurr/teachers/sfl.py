"""Sampling For Learnability (SFL) over an open-ended space of levels.

Paper: *No Regrets: Investigating and Improving Regret Approximations for Curriculum Discovery*
(Rutherford, Beukman et al., NeurIPS 2024; code ``amacrutherford/sampling-for-learnability``).
Rule from ``shared/reference/teachers-regret-ued.md`` sections 3, 10, 11, 12 and 19; written
from those descriptions, not ported.

Signal ``success``: one float in [0, 1] per finished episode (1 = solved; the SFL code counts an
episode as solved when its reward is > 0). Anything else raises ``ValueError`` and changes nothing.

Rule. Training alternates with **scoring rounds**:

1. A round draws ``n_score_levels`` fresh levels from the generator (``space.sample``; duplicates
   within a round are dropped, so a round on a tiny space may hold fewer candidates). Each
   candidate is played ``rollouts_per_level`` times by the current policy **without gradient
   steps**. Its success rate ``p`` (mean of the reported successes) gives the learnability
   ``p * (1 - p)``: 0.25 at ``p = 0.5``, 0 for levels always or never solved.
2. When every candidate has all its rollouts (or ``finish_scoring()`` closes the round early) the
   buffer is **replaced** by the ``buffer_size`` candidates of highest learnability (ties: the
   earlier candidate wins). Candidates with learnability 0 are never kept -- our choice, so that
   a round where the student solves nothing (or everything) leaks no replays into hopeless or
   mastered levels (the SFL code keeps the top K whatever their score); an empty buffer means
   every training sample is fresh.
3. Training samples: with probability ``buffer_fraction`` a ``sample`` call replays levels drawn
   uniformly from the buffer (kind ``"buffer"``), otherwise it hands out fresh generator levels
   (kind ``"new"``); one decision covers a whole ``sample(k)`` call, as in :mod:`plr`.
   ``sample_split(k)`` reproduces SFL's per-batch split instead: about ``buffer_fraction * k``
   buffer levels (stochastic rounding) followed by fresh ones, with a kind per level. The student
   trains on both kinds; ``should_train("score")`` is False.

Integration loop (the teacher never runs anything itself)::

    while env_steps < budget:
        if teacher.scoring_due():
            for level in teacher.levels_to_score():
                for _ in range(teacher.rollouts_per_level):
                    success, steps = rollout(level, train=False)
                    env_steps += steps            # scoring rollouts count in the budget (§17, §19)
                    teacher.update(level, success)
            # the round closes itself after the last rollout
        levels, kinds = teacher.sample_split(n_envs)  # or sample_with_kind(k)
        env_steps += train_on(levels)              # updates for training episodes are optional

``scoring_due()`` is true before the first training sample and then once ``update_period``
training levels have been handed out since the last round closed. ``update(level, success)``
counts toward the open round iff the level is a candidate that still lacks rollouts; any other
update is a training episode, which SFL does not use (it only counts it). ``pending_scoring()``
lists the rollouts still owed (e.g. after resuming from a checkpoint mid-round). Scoring episodes
are counted in ``stats()["n_score_episodes"]``; env steps are the integration's to count.

Defaults (reference §19, the recommended small "MiniMaze-UED" benchmark): ``n_score_levels=500``,
``rollouts_per_level=4``, ``buffer_size=100``, ``buffer_fraction=0.5``. ``update_period=640``
training levels = "every 20 PPO updates" x 32 envs, one level per env per rollout as in the SFL
code (our translation of updates into levels). The paper's MiniGrid config (§10, §11) scores
25,000 levels with 2000-step rollouts every 100 updates of 256 envs (``update_period=25600``),
keeps 1000 and also trains on a 50/50 mix; it does **not** count the scoring steps in its budget.

``exploration_floor()`` is the guaranteed share of fresh generator levels among training samples,
``1 - buffer_fraction`` (1 while the buffer is empty). ``probabilities()`` does not exist: the
space is open-ended.

Cost: ``sample`` and ``update`` are O(1) (uniform draw from a list; dict lookups), plus the
generator and ``canonical`` calls. Closing a round is one O(M log K) selection over its M
candidates, i.e. O(log K) amortised over the M x rollouts_per_level updates that close it.
"""

from __future__ import annotations

import heapq
import math
import numbers
from collections.abc import Hashable
from typing import Any

import numpy as np

from autocurr.spaces import Levels, Space
from autocurr.teachers.base import Teacher, check_int, check_unit_interval

__all__ = ["SFLTeacher", "learnability"]

BUFFER = "buffer"
NEW = "new"
SCORE = "score"
_KINDS = (BUFFER, NEW, SCORE)


def learnability(success_rate: float) -> float:
    """SFL's score ``p * (1 - p)`` for a success rate ``p`` in [0, 1]."""
    return success_rate * (1.0 - success_rate)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


class SFLTeacher(Teacher):
    """SFL over a :class:`~autocurr.spaces.Levels` space; see the module docstring."""

    name = "sfl"
    signal = "success"
    requires_finite = False

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        n_score_levels: int = 500,
        rollouts_per_level: int = 4,
        buffer_size: int = 100,
        buffer_fraction: float = 0.5,
        update_period: int = 640,
    ):
        super().__init__(space, seed)
        if not isinstance(space, Levels):
            raise ValueError(
                f"teacher {self.name!r} needs an open-ended Levels space (e.g. "
                f"autocurr.envs.maze.maze_levels()), got {space!r}"
            )
        self.n_score_levels = check_int("n_score_levels", n_score_levels, 1)
        self.rollouts_per_level = check_int("rollouts_per_level", rollouts_per_level, 1)
        self.buffer_size = check_int("buffer_size", buffer_size, 1)
        self.buffer_fraction = check_unit_interval("buffer_fraction", buffer_fraction)
        self.update_period = check_int("update_period", update_period, 1)
        self.hyperparameters = {
            "n_score_levels": self.n_score_levels,
            "rollouts_per_level": self.rollouts_per_level,
            "buffer_size": self.buffer_size,
            "buffer_fraction": self.buffer_fraction,
            "update_period": self.update_period,
        }
        self._reset_state()

    def _reset_state(self) -> None:
        # Buffer: levels kept by the last closed round, and their learnability (same order).
        self.buffer: list[Hashable] = []
        self.buffer_scores: list[float] = []
        # Open round: candidates in draw order; outcomes[level] = [n_rollouts, success_sum].
        self.candidates: list[Hashable] = []
        self.outcomes: dict[Hashable, list] = {}
        self.n_pending = 0  # rollouts still owed to the open round
        self.round_open = False
        self.n_rounds = 0  # closed rounds
        self.samples_since_round = 0  # training levels handed out since the last round closed
        self.n_buffer_samples = 0
        self.n_new_samples = 0
        self.n_score_episodes = 0
        self.n_train_episodes = 0
        #: The kind of the last ``sample`` call: ``"buffer"``, ``"new"`` or None.
        self.last_sample_kind: str | None = None

    # ----------------------------------------------------------------------------- scoring
    def scoring_due(self) -> bool:
        """Whether the integration should run a scoring round before the next training sample:
        a round is open, none has closed yet, or ``update_period`` levels were handed out."""
        return (
            self.round_open or self.n_rounds == 0 or self.samples_since_round >= self.update_period
        )

    def levels_to_score(self) -> list[Hashable]:
        """The candidates of the open round, opening a new round (fresh generator levels) if
        none is open. Each is to be played ``rollouts_per_level`` times without training."""
        if not self.round_open:
            self._open_round()
        return list(self.candidates)

    def _open_round(self) -> None:
        candidates = list(
            dict.fromkeys(self.space.sample(self.rng) for _ in range(self.n_score_levels))
        )
        self.candidates = candidates
        self.outcomes = {level: [0, 0.0] for level in candidates}
        self.n_pending = len(candidates) * self.rollouts_per_level
        self.round_open = True

    def pending_scoring(self) -> list[tuple[Hashable, int]]:
        """``(level, rollouts still owed)`` for every candidate of the open round that lacks some
        (empty when no round is open)."""
        owed = (
            (level, self.rollouts_per_level - self.outcomes[level][0]) for level in self.candidates
        )
        return [(level, n) for level, n in owed if n > 0]

    def finish_scoring(self) -> None:
        """Close the open round now: candidates with at least one rollout are ranked by the
        success rate over the rollouts they got; the others are dropped. No-op if none is open."""
        if self.round_open:
            self._close_round()

    def _close_round(self) -> None:
        scored = []
        for position, level in enumerate(self.candidates):
            n, successes = self.outcomes[level]
            if n == 0:
                continue
            score = learnability(successes / n)
            if score > 0.0:
                # Earlier candidates win ties: the key is larger for a smaller position.
                scored.append((score, -position, level))
        best = heapq.nlargest(self.buffer_size, scored)
        self.buffer = [level for _, _, level in best]
        self.buffer_scores = [score for score, _, _ in best]
        self.candidates, self.outcomes = [], {}
        self.n_pending = 0
        self.round_open = False
        self.n_rounds += 1
        self.samples_since_round = 0

    def _validate_signal(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"success must be in [0, 1], got {value!r}")

    def _update(self, task: Any, signal: float) -> None:
        record = self.outcomes.get(task) if self.round_open else None
        if record is None or record[0] >= self.rollouts_per_level:
            self.n_train_episodes += 1  # SFL learns nothing from training episodes
            return
        record[0] += 1
        record[1] += signal
        self.n_score_episodes += 1
        self.n_pending -= 1
        if self.n_pending == 0:
            self._close_round()

    # ----------------------------------------------------------------------------- sampling
    def _decide(self) -> str:
        # No rng draw while replay is impossible: the generator alone consumes the stream then.
        if self.buffer and self.buffer_fraction > 0.0 and self.rng.random() < self.buffer_fraction:
            return BUFFER
        return NEW

    def _draw(self, kind: str, k: int) -> list[Hashable]:
        if kind == BUFFER:
            picks = self.rng.integers(len(self.buffer), size=k)
            tasks = [self.buffer[int(i)] for i in picks]
            self.n_buffer_samples += k
        else:
            tasks = [self.space.sample(self.rng) for _ in range(k)]
            self.n_new_samples += k
        self.samples_since_round += k
        return tasks

    def _sample_one(self) -> Hashable:
        return self._sample_many(1)[0]

    def _sample_many(self, k: int) -> list[Hashable]:
        if k == 0:
            return []
        kind = self._decide()
        self.last_sample_kind = kind
        return self._draw(kind, k)

    def sample_with_kind(self, k: int | None = None) -> tuple[Any, str | None]:
        """``(sample(k), kind)``: kind ``"buffer"`` or ``"new"`` (None when ``k == 0``)."""
        tasks = self.sample(k)
        return tasks, (None if k == 0 else self.last_sample_kind)

    def sample_split(self, k: int) -> tuple[list[Hashable], list[str]]:
        """SFL's batch: about ``buffer_fraction * k`` buffer levels (stochastic rounding, so the
        expected share is exact) then fresh ones; returns ``(levels, kinds)``."""
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        k = int(k)
        n_buffer = 0
        if self.buffer and k and self.buffer_fraction > 0.0:
            expected = self.buffer_fraction * k
            n_buffer = math.floor(expected)
            if self.rng.random() < expected - n_buffer:
                n_buffer += 1
        levels = self._draw(BUFFER, n_buffer) if n_buffer else []
        if k - n_buffer:
            levels += self._draw(NEW, k - n_buffer)
        kinds = [BUFFER] * n_buffer + [NEW] * (k - n_buffer)
        if kinds:
            self.last_sample_kind = kinds[-1]
        return levels, kinds

    def should_train(self, kind: str | None = None) -> bool:
        """Whether an integration may take gradient steps on rollouts of ``kind`` (default: the
        last sample's): buffer and fresh levels yes, scoring rollouts never."""
        kind = self.last_sample_kind if kind is None else kind
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        return kind != SCORE

    def exploration_floor(self) -> float:
        return 1.0 - self.buffer_fraction

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        n_sampled = self.n_buffer_samples + self.n_new_samples
        scores = self.buffer_scores
        return {
            **super().stats(),
            "buffer_size": float(len(self.buffer)),
            "buffer_learnability_mean": float(sum(scores) / len(scores)) if scores else 0.0,
            "buffer_learnability_min": float(scores[-1]) if scores else 0.0,
            "buffer_share": self.n_buffer_samples / n_sampled if n_sampled else 0.0,
            "n_rounds": float(self.n_rounds),
            "n_score_episodes": float(self.n_score_episodes),
            "n_train_episodes": float(self.n_train_episodes),
            "scoring_pending": float(self.n_pending),
        }

    def _get_state(self) -> dict[str, Any]:
        return {
            "buffer": list(self.buffer),
            "buffer_scores": list(self.buffer_scores),
            "round_open": self.round_open,
            "candidates": [
                [level, self.outcomes[level][0], self.outcomes[level][1]]
                for level in self.candidates
            ],
            "n_rounds": self.n_rounds,
            "samples_since_round": self.samples_since_round,
            "n_buffer_samples": self.n_buffer_samples,
            "n_new_samples": self.n_new_samples,
            "n_score_episodes": self.n_score_episodes,
            "n_train_episodes": self.n_train_episodes,
            "last_sample_kind": self.last_sample_kind,
        }

    def _check_level(self, level: Any) -> Hashable:
        if self.space.canonical(level) != level:
            raise ValueError(f"level {level!r:.80} in the state is not a canonical task")
        return level

    def _set_state(self, state: dict[str, Any]) -> None:
        buffer = [self._check_level(level) for level in state["buffer"]]
        scores = [float(s) for s in state["buffer_scores"]]
        if len(buffer) != len(scores) or len(buffer) > self.buffer_size:
            raise ValueError("buffer and buffer_scores must have equal lengths <= buffer_size")
        if any(not 0.0 < s <= 0.25 for s in scores):
            raise ValueError(f"buffer learnabilities must be in (0, 0.25], got {scores}")
        round_open = state["round_open"]
        if not isinstance(round_open, bool):
            raise ValueError(f"round_open must be True or False, got {round_open!r}")
        candidates, outcomes = [], {}
        for level, n, successes in state["candidates"]:
            level = self._check_level(level)
            n = _count("candidate rollout count", n)
            successes = float(successes)
            if level in outcomes or n > self.rollouts_per_level or not 0.0 <= successes <= n:
                raise ValueError(f"bad scoring record for candidate {level!r:.80}")
            candidates.append(level)
            outcomes[level] = [n, successes]
        if candidates and not round_open:
            raise ValueError("candidates given but no scoring round is open")
        kind = state["last_sample_kind"]
        if kind not in (BUFFER, NEW, None):
            raise ValueError(f"last_sample_kind must be 'buffer', 'new' or None, got {kind!r}")
        counters = {
            key: _count(key, state[key])
            for key in (
                "n_rounds",
                "samples_since_round",
                "n_buffer_samples",
                "n_new_samples",
                "n_score_episodes",
                "n_train_episodes",
            )
        }
        pending = sum(self.rollouts_per_level - outcomes[level][0] for level in candidates)
        if round_open and pending == 0:
            raise ValueError("an open scoring round must still owe rollouts")
        # All checks passed: mutate.
        self.buffer, self.buffer_scores = buffer, scores
        self.round_open = round_open
        self.candidates, self.outcomes = candidates, outcomes
        self.n_pending = pending
        self.last_sample_kind = kind
        for key, value in counters.items():
            setattr(self, key, value)
