"""ACCEL: PLR⊥ plus random edits of replayed levels, growing complexity from simple levels.

Paper: *Evolving Curricula with Regret-Based Environment Design* (ACCEL; Parker-Holder et al.,
ICML 2022). Rules from ``shared/reference/teachers-regret-ued.md`` sections 8, 11 and 12; written
from those descriptions, not ported. Built on :class:`~autocurr.teachers.plr.PLRTeacher` with
``robust=True`` forced (PLR⊥): gradients come from replayed levels only.

Signal ``score``: one float per finished episode, the level's score from
:mod:`autocurr.teachers.scores` (default ``"pvl"``, positive value loss), exactly as for PLR.

Sampling state machine (one decision per ``sample`` call; ``sample(k)`` is one batch)::

    after a "replay" batch           -> the next batch is "edit"   (always; JaxUED maze_plr.py,
                                                                    dcd level_editor_prob = 1.0)
    otherwise (start, after "new" or -> "replay" with the PLR probability (replay_prob once the
               after "edit")             buffer fill reaches min_fill), else "new"

* **replay**: levels drawn from the buffer's replay distribution (as PLR). Train on them.
* **new**: fresh levels from the space's generator. The paper's generator makes *simple*
  levels: ``maze_levels(start="empty")`` (empty rooms, reference §8: "maze: DR generator with 0
  walls"; dcd's maze config); the teacher cannot check this. JaxUED's maze example draws them
  from the random generator instead (``start="random"``), which on our maze kept ACCEL's tail on
  random levels at DR's level (BENCHMARKS.md, the heading runs). Rolled out only to be scored.
* **edit**: children of the levels of the most recent replay batch (the ``batch`` base of JaxUED
  and minimax; dcd's ``easy`` base is not implemented). Child ``i`` of a ``k``-batch edits parent
  ``i mod len(parents)``: ``n_edits`` successive calls of ``space.mutate``. Children are rolled
  out **without gradient** (``should_train("edit")`` is False), scored, and reported with
  ``update`` like any level: the buffer inserts them by its replacement rule (free slot, or
  replace the victim iff the score is strictly higher), recording ``parent`` and
  ``n_mutations = parent's n_mutations + n_edits`` (generator levels have 0). The teacher
  remembers the lineage of the last ``buffer_size`` children it made (FIFO); a child reported
  after it was forgotten is inserted as a root (no parent, 0 mutations).

``n_edits`` counts **mutator applications**, each one ``space.mutate`` call. The maze mutator
(``maze_levels(n_edits=m)``) makes ``m`` cell edits per call, so a child is at most
``n_edits * m`` edits from its parent. Default ``n_edits=1`` with ``maze_levels``'s default
``m = 5`` gives 5 edits per child, the maze default of dcd (``mg_60b_uni_accel_empty.json``) and
JaxUED (``examples/maze_plr.py``); minimax ``accel.json`` uses 20, dcd Bipedal 3 (reference §11).
To count single edits build the space with ``maze_levels(start="empty", n_edits=1)`` and set the
teacher's ``n_edits``.

Defaults (``PLRTeacher`` keywords, overridable): ``replay_prob=0.8``, ``temperature=0.3``,
``staleness=0.3``, ``buffer_size=4000``, ``min_fill=0.5``, ``score="pvl"``, rank transform --
dcd's 60-block maze ACCEL config ``mg_60b_uni_accel_empty.json`` (reference §11; JaxUED's
maze_plr.py uses the same β/ρ/p/K/min fill with MaxMC). The other PLR keywords keep PLR's
defaults (``schedule="fixed"``, ``replace="score"``; see :mod:`autocurr.teachers.plr`).

``exploration_floor()``: the long-run share of sampled batches that are *not* trained on -- fresh
plus edited levels -- with equal batch sizes. Each replay batch (probability ``p``) is followed
by one edit batch, so the replay share is ``p / (1 + p)`` and the floor is ``1 / (1 + p)``
(0.556 at ``p = 0.8``; 1 before the buffer reaches ``min_fill``, which only raises it).

Cost: as PLR per replayed or new level; an edited level costs ``n_edits`` mutator calls plus one
lineage-dict insertion (O(1)); ``update`` adds one dict lookup.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable
from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import check_signal
from autocurr.teachers.plr import NEW, REPLAY, PLRTeacher

__all__ = ["ACCELTeacher"]

EDIT = "edit"
KINDS = (REPLAY, NEW, EDIT)

#: dcd 60-block maze ACCEL (``mg_60b_uni_accel_empty.json``), reference §11.
ACCEL_DEFAULTS = {
    "score": "pvl",
    "transform": "rank",
    "temperature": 0.3,
    "staleness": 0.3,
    "replay_prob": 0.8,
    "buffer_size": 4000,
    "min_fill": 0.5,
}


class ACCELTeacher(PLRTeacher):
    """ACCEL over a :class:`~autocurr.spaces.Levels` space with a mutator; see the module
    docstring. ``plr_kwargs`` are :class:`PLRTeacher` keywords (``robust`` must stay True)."""

    name = "accel"
    signal = "score"
    requires_finite = False

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        n_edits: int = 1,
        **plr_kwargs: Any,
    ):
        robust = plr_kwargs.pop("robust", True)
        if robust is not True:
            raise ValueError(f"robust must be True for ACCEL (PLR⊥), got {robust!r}")
        if isinstance(n_edits, bool) or not isinstance(n_edits, numbers.Integral) or n_edits < 1:
            raise ValueError(f"n_edits must be a positive integer, got {n_edits!r}")
        super().__init__(space, seed, robust=True, **{**ACCEL_DEFAULTS, **plr_kwargs})
        if getattr(space, "mutator", None) is None:
            raise ValueError(
                f"teacher {self.name!r} needs a space with a mutator (e.g. "
                f"autocurr.envs.maze.maze_levels(start='empty')), got {space!r}"
            )
        self.n_edits = int(n_edits)
        self.hyperparameters["n_edits"] = self.n_edits
        #: Levels of the last replay batch, to be edited by the next ``sample`` call.
        self.pending_parents: list[Hashable] = []
        # child -> (parent, n_mutations) for the most recent children, oldest first (FIFO).
        self._lineage: dict[Hashable, tuple[Hashable, int]] = {}
        self.n_edited = 0  # children handed out

    # ----------------------------------------------------------------------------- sampling
    def next_kind(self) -> str | None:
        """``"edit"`` if the next ``sample`` call edits the last replay batch, else None (the
        replay/new decision is random and made at sampling time)."""
        return EDIT if self.pending_parents else None

    def _draw(self, kind: str, k: int) -> list[Hashable]:
        if kind == EDIT:
            return self._edit(k)
        tasks = super()._draw(kind, k)
        if kind == REPLAY:
            self.pending_parents = list(tasks)
        return tasks

    def _edit(self, k: int) -> list[Hashable]:
        parents = self.pending_parents
        children = []
        for i in range(k):
            parent = parents[i % len(parents)]
            child = parent
            for _ in range(self.n_edits):
                child = self.space.mutate(self.rng, child)
            if child != parent:  # a no-op edit just replays the parent's level unchanged
                self._remember(child, parent)
            children.append(child)
        self.buffer.tick(k)
        self.pending_parents = []
        self.n_edited += k
        self.last_sample_kind = EDIT
        return children

    def _remember(self, child: Hashable, parent: Hashable) -> None:
        base = self.buffer.entry(parent)["n_mutations"] if parent in self.buffer else 0
        self._lineage.pop(child, None)  # re-made child: move to the newest end
        self._lineage[child] = (parent, base + self.n_edits)
        if len(self._lineage) > self.buffer.capacity:
            del self._lineage[next(iter(self._lineage))]

    def _next_draw_kind(self) -> str:
        return EDIT if self.pending_parents else self._decide()

    def _sample_one(self) -> Hashable:
        return self._draw(self._next_draw_kind(), 1)[0]

    def _sample_many(self, k: int) -> list[Hashable]:
        if k == 0:
            return []
        return self._draw(self._next_draw_kind(), k)

    def should_train(self, kind: str | None = None) -> bool:
        """Whether an integration may take gradient steps on rollouts of a ``kind`` sample
        (default: the last one): only ``"replay"`` (PLR⊥); ``"new"`` and ``"edit"`` are scored
        without gradient."""
        kind = self.last_sample_kind if kind is None else kind
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return kind == REPLAY

    def exploration_floor(self) -> float:
        return 1.0 / (1.0 + self.replay_prob)

    # ----------------------------------------------------------------------------- updates
    def _insert(self, task: Hashable, score: float, episode_return: float | None) -> None:
        parent, n_mutations = self._lineage.get(task, (None, 0))
        self.buffer.insert(
            task, score, episode_return=episode_return, parent=parent, n_mutations=n_mutations
        )

    def _update(self, task: Any, signal: float) -> None:
        self._insert(task, signal, None)

    def update_episode(self, task: Any, score: float, episode_return: float | None = None) -> None:
        """``update`` that also records the episode's return (``R_max`` for MaxMC); children
        keep their lineage. Validates everything before changing anything."""
        canonical = self.space.canonical(task)
        value = check_signal(score)
        if episode_return is not None:
            try:
                episode_return = check_signal(episode_return)
            except ValueError as error:
                raise ValueError(f"episode_return: {error}") from None
        self._insert(canonical, value, episode_return)
        self.n_updates += 1

    def lineage(self, task: Any) -> tuple[Hashable | None, int]:
        """``(parent, n_mutations)`` of a level: from the buffer if buffered, else from the
        remembered children, else ``(None, 0)``."""
        canonical = self.space.canonical(task)
        if canonical in self.buffer:
            entry = self.buffer.entry(canonical)
            return entry["parent"], entry["n_mutations"]
        return self._lineage.get(canonical, (None, 0))

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        stats = super().stats()
        n_sampled = self.n_replayed + self.n_new + self.n_edited
        mutations = self.buffer.state_dict()["n_mutations"] if len(self.buffer) else [0]
        stats.update(
            {
                "replay_share": self.n_replayed / n_sampled if n_sampled else 0.0,
                "edit_share": self.n_edited / n_sampled if n_sampled else 0.0,
                "buffer_mean_mutations": float(np.mean(mutations)),
                "buffer_max_mutations": float(np.max(mutations)),
            }
        )
        return stats

    def _get_state(self) -> dict[str, Any]:
        state = super()._get_state()
        state.update(
            {
                "pending_parents": list(self.pending_parents),
                "lineage": [[c, p, m] for c, (p, m) in self._lineage.items()],
                "n_edited": self.n_edited,
            }
        )
        return state

    def _set_state(self, state: dict[str, Any]) -> None:
        # Validate ACCEL's part first; PLRTeacher._set_state validates its part before mutating.
        kind = state["last_sample_kind"]
        if kind not in (*KINDS, None):
            raise ValueError(f"last_sample_kind must be one of {KINDS} or None, got {kind!r}")
        parents = [self._canonical_level(level) for level in state["pending_parents"]]
        lineage: dict[Hashable, tuple[Hashable, int]] = {}
        for row in state["lineage"]:
            child, parent, n_mutations = row
            if isinstance(n_mutations, bool) or not isinstance(n_mutations, numbers.Integral):
                raise ValueError(f"lineage n_mutations must be an integer, got {n_mutations!r}")
            if n_mutations < 1:
                raise ValueError(f"lineage n_mutations must be >= 1, got {n_mutations!r}")
            lineage[self._canonical_level(child)] = (
                self._canonical_level(parent),
                int(n_mutations),
            )
        if len(lineage) != len(state["lineage"]) or len(lineage) > self.buffer.capacity:
            raise ValueError("lineage has duplicate children or more entries than buffer_size")
        n_edited = state["n_edited"]
        if isinstance(n_edited, bool) or not isinstance(n_edited, numbers.Integral) or n_edited < 0:
            raise ValueError(f"n_edited must be a non-negative integer, got {n_edited!r}")
        super()._set_state({**state, "last_sample_kind": None})
        self.last_sample_kind = kind
        self.pending_parents = parents
        self._lineage = lineage
        self.n_edited = int(n_edited)

    def _canonical_level(self, level: Any) -> Hashable:
        if self.space.canonical(level) != level:
            raise ValueError(f"level {level!r:.80} in the state is not a canonical task")
        return level
