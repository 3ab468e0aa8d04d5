"""PAIRED and REPAIRED: levels built by a learned adversary that is rewarded with regret.

Papers: *Emergent Complexity and Zero-shot Transfer via Unsupervised Environment Design*
(PAIRED; Dennis et al., NeurIPS 2020) and *Replay-Guided Adversarial Environment Design*
(REPAIRED, Robust PLR; Jiang et al., NeurIPS 2021). Rules from
``shared/reference/teachers-regret-ued.md`` sections 2, 9, 11 and 12; written from those
descriptions, not ported.

Three learners: the protagonist (the student), the antagonist (a second student allied with the
teacher) and the **adversary**, an RL policy that builds each level step by step. The teacher
here owns only the adversary, through the :class:`LevelAdversary` protocol; the students live in
the integration (:class:`autocurr.integrations.sb3_paired.PAIREDPPO`, whose
``PPOLevelAdversary`` is an SB3 PPO adversary for the maze). This module stays numpy-only.

Signal ``regret`` (both teachers' adversary reward), one float per proposed level, computed by
the integration from both students' rollouts on that level::

    regret = max over the antagonist's finished episodes of their return
             - mean over the protagonist's finished episodes of their return

A student that finished no episode on the level contributes 0 for its term. This is dcd's and
JaxUED's PAIRED estimate without dcd's clipping at 0 (JaxUED ``maze_paired.py`` does not clip;
reference §9), so any finite float is accepted, negative included. An unsolvable level gives 0
regret automatically (both returns 0).

:class:`PAIREDTeacher` (``paired``) rule:

* ``sample(k)`` = ``adversary.propose(k, self.rng)``: every level is "new"
  (``sample_with_kind`` returns ``(levels, "new")``), and both students train on them
  (``should_train`` is always True). The batch becomes the *pending* batch; proposing again
  before it is complete drops it (counted in ``stats()["dropped_batches"]``).
* ``update(level, regret)`` fills the regret of one occurrence of ``level`` in the pending batch
  (a level proposed twice needs two regrets); a level with no open occurrence raises
  ``ValueError`` and changes nothing. ``update_regrets(levels, regrets)`` is the batch form
  (all validated first). Once every level of the batch has its regret the teacher calls
  ``adversary.learn(levels, regrets)`` once, in proposal order: one adversary policy update per
  batch (dcd, JaxUED: one adversary PPO update per student rollout).
* ``exploration_floor()`` is 0: PAIRED has no exploration floor beyond the adversary's entropy
  bonus (teacher entropy 0.05 in minimax ``paired.json``, reference §11).

:class:`REPAIREDTeacher` (``repaired``): PLR⊥ (``robust=True`` forced, reference §7) whose
**new** levels come from the adversary instead of ``space.sample``. Buffer scores come from the
protagonist's rollouts exactly as for PLR (``update_episode(level, score, episode_return)``).
``update_regrets(levels, regrets)`` forwards the regrets to the adversary only for the last
"new" batch; after a replay batch they are ignored, because dcd's REPAIRED trains the adversary
on the levels it built itself only. Simplification: dcd keeps separate level samplers for the
protagonist and the antagonist by default; here one buffer, scored by the protagonist, serves
both students. Defaults: the dcd 25-block REPAIRED config (``mg_25b_repaired.json``, reference
§11): ``score="maxmc"``, rank transform, ``temperature=0.1``, ``staleness=0.3``,
``replay_prob=0.95``, ``buffer_size=4000``, ``min_fill=0.5``; every other PLR keyword keeps
PLR's default and all are overridable. ``exploration_floor()`` is PLR's ``1 - replay_prob``
(the share of adversary batches).

The adversary: ``adversary=`` an object, or ``adversary_config=("module:factory", kwargs)``
that builds one (recorded in ``hyperparameters["adversary_config"]`` so ``from_state_dict``
rebuilds it; an adversary passed as an object records its own ``config()``). The adversary's
``state_dict`` is part of the teacher's state, so a round trip continues exactly.
:class:`RandomLevelAdversary` proposes domain-randomisation levels (``space.sample``) and learns
nothing: a baseline (PAIRED with it is DR with two students) and a cheap adversary for tests.

Cost: ``sample`` costs the adversary's ``propose`` plus one canonicalisation per level;
``update`` is O(k) in the batch size k (a scan of the pending batch), and a completed batch
costs one ``learn``.
"""

from __future__ import annotations

import copy
import importlib
import math
from collections.abc import Hashable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from autocurr.spaces import Levels, Space, space_from_config
from autocurr.teachers.base import Teacher, check_signal
from autocurr.teachers.plr import NEW, REPLAY, PLRTeacher

__all__ = ["LevelAdversary", "PAIREDTeacher", "REPAIREDTeacher", "RandomLevelAdversary"]

_NEEDS_ADVERSARY = (
    "{name} needs an adversary: pass adversary=<LevelAdversary> or "
    "adversary_config=('module:factory', kwargs); `autocurr train --teacher {name}` builds one "
    "(autocurr.integrations.sb3_paired.PPOLevelAdversary)"
)


@runtime_checkable
class LevelAdversary(Protocol):
    """What PAIRED / REPAIRED need from the level-building adversary.

    * ``propose(k, rng)``: ``k`` levels (tasks of the teacher's space, i.e. canonical encoded
      bytes for the maze) built by the current policy, using ``rng`` for any randomness so the
      teacher's seed decides them. The adversary remembers what it needs to learn from them.
    * ``learn(levels, regrets)``: one policy update from the regret of each level of the last
      proposal (same order); regret is the adversary's reward.
    * ``state_dict()``: plain Python / numpy values (weights as numpy arrays) determining its
      future behaviour; ``load_state_dict(state)`` restores it.
    * ``config()``: ``("module:factory", kwargs)`` such that ``factory(**kwargs)`` builds an
      equal adversary (before ``load_state_dict``), as ``Levels``' factory path.
    """

    def propose(self, k: int, rng: np.random.Generator) -> list[Hashable]: ...

    def learn(self, levels: list[Hashable], regrets: list[float]) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def config(self) -> tuple[str, dict[str, Any]]: ...


class RandomLevelAdversary:
    """A non-learning adversary: ``propose`` draws ``space.sample(rng)`` levels (domain
    randomisation) and ``learn`` only counts calls. A baseline and a cheap stand-in for tests;
    with it PAIRED is *not* PAIRED (nothing is learned from regret).

    Args:
        space: a ``Levels`` space or its ``to_config()`` dict.
    """

    def __init__(self, space: Space | dict[str, Any]):
        self.space = space if isinstance(space, Space) else space_from_config(space)
        if not isinstance(self.space, Levels):
            raise ValueError(f"RandomLevelAdversary needs a Levels space, got {self.space!r}")
        self.n_learn_calls = 0

    def propose(self, k: int, rng: np.random.Generator) -> list[Hashable]:
        return [self.space.sample(rng) for _ in range(k)]

    def learn(self, levels: list[Hashable], regrets: list[float]) -> None:
        self.n_learn_calls += 1

    def state_dict(self) -> dict[str, Any]:
        return {"n_learn_calls": self.n_learn_calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.n_learn_calls = int(state["n_learn_calls"])

    def config(self) -> tuple[str, dict[str, Any]]:
        return ("autocurr.teachers.paired:RandomLevelAdversary", {"space": self.space.to_config()})


def _import_factory(path: str) -> Any:
    """The callable named by ``"module:qualname"``; ValueError if it cannot be imported."""
    module_name, _, qualname = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"cannot import adversary factory {path!r}: {error}") from error
    if not callable(target):
        raise ValueError(f"adversary factory {path!r} is not callable")
    return target


def _check_config(config: Any) -> tuple[str, dict[str, Any]]:
    if (
        not isinstance(config, tuple | list)
        or len(config) != 2
        or not isinstance(config[0], str)
        or config[0].count(":") != 1
        or not isinstance(config[1], dict)
    ):
        raise ValueError(
            f"adversary_config must be a ('module:factory', kwargs) pair, got {config!r}"
        )
    return (config[0], copy.deepcopy(dict(config[1])))


def build_adversary(
    name: str, adversary: Any, adversary_config: Any
) -> tuple[LevelAdversary, tuple[str, dict[str, Any]] | None]:
    """The adversary object and the config recorded for ``from_state_dict`` (None if an object
    was given whose ``config()`` is unavailable)."""
    if adversary is None:
        if adversary_config is None:
            raise ValueError(_NEEDS_ADVERSARY.format(name=name))
        config = _check_config(adversary_config)
        adversary = _import_factory(config[0])(**copy.deepcopy(config[1]))
    elif adversary_config is not None:
        config = _check_config(adversary_config)
    else:
        try:
            config = _check_config(adversary.config())
        except (AttributeError, NotImplementedError, ValueError):
            config = None
    missing = [
        method
        for method in ("propose", "learn", "state_dict", "load_state_dict")
        if not callable(getattr(adversary, method, None))
    ]
    if missing:
        raise ValueError(f"adversary {adversary!r} lacks LevelAdversary methods {missing}")
    return adversary, config


def _checked_regrets(values: Sequence[Any]) -> list[float]:
    checked = []
    for position, value in enumerate(np.asarray(values, dtype=object).reshape(-1).tolist()):
        try:
            checked.append(check_signal(value))
        except ValueError as error:
            raise ValueError(f"regret {position}: {error}") from None
    return checked


def _fill_slots(
    pending: list[Hashable], filled: list[float | None], levels: list[Hashable]
) -> list[int]:
    """Positions of the open occurrences of ``levels`` in ``pending``, in order (first open
    occurrence each); ValueError if a level has none left. Does not mutate anything."""
    taken: set[int] = set()
    slots = []
    for level in levels:
        for position, candidate in enumerate(pending):
            if candidate == level and filled[position] is None and position not in taken:
                taken.add(position)
                slots.append(position)
                break
        else:
            raise ValueError(
                f"level {level!r:.60} has no open slot in the pending adversary batch "
                f"({len(pending)} levels, {sum(f is None for f in filled)} without regret)"
            )
    return slots


class PAIREDTeacher(Teacher):
    """PAIRED over a :class:`~autocurr.spaces.Levels` space; see the module docstring."""

    name = "paired"
    signal = "regret"
    requires_finite = False
    #: Integrations must run a second student (the antagonist) for the regret.
    needs_antagonist = True

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        adversary: LevelAdversary | None = None,
        adversary_config: tuple[str, dict[str, Any]] | None = None,
    ):
        super().__init__(space, seed)
        if not isinstance(space, Levels):
            raise ValueError(
                f"teacher {self.name!r} needs an open-ended Levels space (e.g. "
                f"autocurr.envs.maze.maze_levels()), got {space!r}"
            )
        self.adversary, config = build_adversary(self.name, adversary, adversary_config)
        self.hyperparameters = {"adversary_config": config}
        self._pending: list[Hashable] = []
        self._regrets: list[float | None] = []
        self.n_batches = 0  # batches proposed
        self.n_learned = 0  # adversary updates
        self.n_dropped = 0  # batches replaced before every regret arrived
        self.last_regret_mean = 0.0

    # ----------------------------------------------------------------------------- sampling
    def _propose(self, k: int) -> list[Hashable]:
        levels = [self.space.canonical(level) for level in self.adversary.propose(k, self.rng)]
        if len(levels) != k:
            raise ValueError(f"adversary proposed {len(levels)} levels, asked for {k}")
        if any(regret is None for regret in self._regrets):
            self.n_dropped += 1
        self._pending = list(levels)
        self._regrets = [None] * k
        self.n_batches += 1
        return levels

    def _sample_one(self) -> Hashable:
        return self._propose(1)[0]

    def _sample_many(self, k: int) -> list[Hashable]:
        return self._propose(k) if k else []

    def sample_with_kind(self, k: int | None = None) -> tuple[Any, str | None]:
        """``(sample(k), "new")`` (kind None when ``k == 0``)."""
        tasks = self.sample(k)
        return tasks, (None if k == 0 else NEW)

    def should_train(self, kind: str | None = None) -> bool:
        """Always True: both students train on the adversary's levels."""
        return True

    def exploration_floor(self) -> float:
        """0: PAIRED has no exploration floor beyond the adversary's entropy bonus."""
        return 0.0

    @property
    def pending_levels(self) -> list[Hashable]:
        """The levels of the last proposed batch still waiting for a regret (with repeats)."""
        return [lv for lv, r in zip(self._pending, self._regrets, strict=True) if r is None]

    # ----------------------------------------------------------------------------- updates
    def _update(self, task: Any, signal: float) -> None:
        (slot,) = _fill_slots(self._pending, self._regrets, [task])
        self._regrets[slot] = signal
        self._maybe_learn()

    def update_regrets(self, levels: Sequence[Any], regrets: Sequence[float]) -> None:
        """Report the regret of several pending levels; all validated before any change."""
        levels = [self.space.canonical(level) for level in levels]
        values = _checked_regrets(regrets)
        if len(levels) != len(values):
            raise ValueError(f"got {len(levels)} levels but {len(values)} regrets")
        slots = _fill_slots(self._pending, self._regrets, levels)
        for slot, value in zip(slots, values, strict=True):
            self._regrets[slot] = value
        self.n_updates += len(values)
        self._maybe_learn()

    def update_batch(self, tasks: Sequence[Any], signals: Sequence[float]) -> None:
        self.update_regrets(tasks, signals)

    def _maybe_learn(self) -> None:
        if not self._pending or any(regret is None for regret in self._regrets):
            return
        levels, regrets = self._pending, [float(r) for r in self._regrets]
        self._pending, self._regrets = [], []
        self.adversary.learn(list(levels), regrets)
        self.n_learned += 1
        self.last_regret_mean = float(np.mean(regrets))

    # ----------------------------------------------------------------------------- logging/state
    def stats(self) -> dict[str, float]:
        return {
            **super().stats(),
            "adversary_updates": float(self.n_learned),
            "dropped_batches": float(self.n_dropped),
            "regret_mean": self.last_regret_mean,
        }

    def _get_state(self) -> dict[str, Any]:
        return {
            "pending": list(self._pending),
            "regrets": list(self._regrets),
            "counters": [self.n_batches, self.n_learned, self.n_dropped],
            "last_regret_mean": self.last_regret_mean,
            "adversary": self.adversary.state_dict(),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        pending = [self.space.canonical(level) for level in state["pending"]]
        regrets = list(state["regrets"])
        if len(pending) != len(regrets):
            raise ValueError("pending levels and regrets differ in length")
        regrets = [None if r is None else check_signal(r) for r in regrets]
        counters = [int(c) for c in state["counters"]]
        if len(counters) != 3 or min(counters) < 0:
            raise ValueError(f"counters must be 3 non-negative integers, got {counters}")
        last_mean = float(state["last_regret_mean"])
        if not math.isfinite(last_mean):
            raise ValueError("last_regret_mean must be finite")
        self.adversary.load_state_dict(state["adversary"])
        self._pending, self._regrets = pending, regrets
        self.n_batches, self.n_learned, self.n_dropped = counters
        self.last_regret_mean = last_mean


class REPAIREDTeacher(PLRTeacher):
    """REPAIRED: PLR⊥ with an adversary as its generator; see the module docstring."""

    name = "repaired"
    signal = "score"
    requires_finite = False
    needs_antagonist = True

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        adversary: LevelAdversary | None = None,
        adversary_config: tuple[str, dict[str, Any]] | None = None,
        score: str = "maxmc",
        temperature: float = 0.1,
        staleness: float = 0.3,
        replay_prob: float = 0.95,
        buffer_size: int = 4000,
        min_fill: float = 0.5,
        robust: bool = True,
        **plr_kwargs: Any,
    ):
        if robust is not True:
            raise ValueError(f"repaired is PLR⊥: robust must be True, got {robust!r}")
        super().__init__(
            space,
            seed,
            score=score,
            temperature=temperature,
            staleness=staleness,
            replay_prob=replay_prob,
            buffer_size=buffer_size,
            min_fill=min_fill,
            robust=True,
            **plr_kwargs,
        )
        self.adversary, config = build_adversary(self.name, adversary, adversary_config)
        self.hyperparameters["adversary_config"] = config
        self._pending_new: list[Hashable] = []
        self.n_learned = 0
        self.n_ignored_regret_batches = 0
        self.last_regret_mean = 0.0

    def _draw(self, kind: str, k: int) -> list[Hashable]:
        if kind != NEW:
            self._pending_new = []
            return super()._draw(kind, k)
        levels = [self.space.canonical(level) for level in self.adversary.propose(k, self.rng)]
        if len(levels) != k:
            raise ValueError(f"adversary proposed {len(levels)} levels, asked for {k}")
        self.buffer.tick(k)
        self.n_new += k
        self.last_sample_kind = NEW
        self._pending_new = list(levels)
        return levels

    def update_regrets(self, levels: Sequence[Any], regrets: Sequence[float]) -> None:
        """The regrets of the whole last batch, in sampling order. Forwarded to the adversary
        (one ``learn``) iff that batch was "new"; after a replay batch they are ignored."""
        levels = [self.space.canonical(level) for level in levels]
        values = _checked_regrets(regrets)
        if len(levels) != len(values):
            raise ValueError(f"got {len(levels)} levels but {len(values)} regrets")
        if self.last_sample_kind == REPLAY or not self._pending_new:
            self.n_ignored_regret_batches += 1
            return
        if levels != self._pending_new:
            raise ValueError(
                "update_regrets needs the levels of the last new batch in sampling order "
                f"({len(self._pending_new)} levels)"
            )
        self._pending_new = []
        self.adversary.learn(levels, values)
        self.n_learned += 1
        self.last_regret_mean = float(np.mean(values))

    def stats(self) -> dict[str, float]:
        return {
            **super().stats(),
            "adversary_updates": float(self.n_learned),
            "regret_mean": self.last_regret_mean,
        }

    def _get_state(self) -> dict[str, Any]:
        return {
            **super()._get_state(),
            "pending_new": list(self._pending_new),
            "adversary_counters": [self.n_learned, self.n_ignored_regret_batches],
            "last_regret_mean": self.last_regret_mean,
            "adversary": self.adversary.state_dict(),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        pending = [self.space.canonical(level) for level in state["pending_new"]]
        counters = [int(c) for c in state["adversary_counters"]]
        if len(counters) != 2 or min(counters) < 0:
            raise ValueError(f"adversary_counters must be 2 non-negative integers: {counters}")
        last_mean = float(state["last_regret_mean"])
        if not math.isfinite(last_mean):
            raise ValueError("last_regret_mean must be finite")
        before = self.adversary.state_dict()
        self.adversary.load_state_dict(state["adversary"])
        try:
            super()._set_state(state)
        except (ValueError, KeyError, TypeError):
            self.adversary.load_state_dict(before)  # leave the teacher as it was
            raise
        self._pending_new = pending
        self.n_learned, self.n_ignored_regret_batches = counters
        self.last_regret_mean = last_mean
