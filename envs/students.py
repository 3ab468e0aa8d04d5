"""Simulated students with known structure: cheap, pure-numpy benchmarks for teachers.

A curriculum only helps when the task set has structure (prerequisites, an infeasible mass,
distractor dimensions); on an unstructured set uniform sampling is already optimal. These students
build that structure in, know the "right" curriculum, and run thousands of episodes per second, so
tests can check that a teacher beats uniform sampling and stays below an oracle upper bound.

Designs followed:

- TeachMyAgent's skill-specific challenges (Romac, Portelas et al., ICML 2021): *mostly
  infeasible* (``n_infeasible`` / ``infeasible_fraction``), *mostly trivial* (``trivial``),
  *forgetting student* (``forgetting``) and irrelevant parameters (``distractor_dims``);
- Teacher-Student Curriculum Learning (Matiisen et al., 2017): tasks of increasing difficulty that
  are learnable only once their predecessor is partly learned, observed as Bernoulli successes or a
  noisy score (like a validation accuracy);
- the teachDeepRL toy environment (Portelas et al., CoRL 2019): a hypercube of cells unlocked
  outward from the origin;
- ``shared/reference/teachers-bandit-lp.md`` section 19 (SyntheticChainStudent, HypercubeUnlock,
  BanditStudentMock), whose calibrated constants are the defaults here.

Rules and constants
-------------------

:class:`ChainStudent` (tasks ``Discrete(n)``, ``n = n_feasible + n_infeasible + trivial``)
    Feasible tasks form ``n_chains`` prerequisite chains of (near-)equal length. Each task has a
    competence ``c`` in [0, 1] (0 at the start). An episode on task ``k`` first draws the outcome
    from the competence *before* practice, then practises:
    ``c_k += rate * (1 - c_k)`` if ``k`` is learnable, else nothing. A task is learnable if it is
    first in its chain or its predecessor has ``c >= gate``. Infeasible tasks never improve
    (``c = 0`` forever); trivial tasks have ``c = 1`` forever. With ``forgetting > 0`` every chain
    task *not* practised in an episode decays ``c *= 1 - forgetting``. Observation ``"bernoulli"``
    returns ``1.0`` with probability ``c`` else ``0.0``; ``"noisy"`` returns
    ``clip(c + N(0, noise_std), 0, 1)``. Mastered means ``c >= mastery``. Defaults: ``rate 0.05``,
    ``gate 0.6``, ``mastery 0.9``, ``noise_std 0.05``: a task needs 18 practices to open its
    successor and 45 to be mastered, so the oracle needs ``45 * n_feasible`` episodes (900 for
    20) and uniform sampling about 16 000 on 20 feasible + 20 infeasible tasks. ``rate`` may also
    be a sequence of ``n_feasible`` per-task rates, in internal chain order (chain 0 first to
    last, then chain 1, ...): uneven difficulty along the chain (the "rugged difficulty" scenario
    of ``benchmarks/students.py``); ``rates[t]`` holds the rate of task id ``t`` (0 off-chain).
    Task ids are shuffled with ``rng``: ``task_of[i]`` is the id of internal task ``i``, where
    internal order is chain 0 (first to last), chain 1, ..., infeasible tasks, trivial tasks;
    ``chain[t]`` / ``position[t]`` give a task id's chain (-1 if not a chain task) and place.

:class:`HypercubeUnlock` (tasks ``Box([0, 1]^(dim + distractor_dims))``)
    The first ``dim`` coordinates select a cell of a ``cells_per_dim^dim`` grid
    (``floor(x * cells_per_dim)``, the upper face belonging to the last cell); distractor
    coordinates are ignored. Each cell holds a practice count ``n`` in ``0..steps_to_max``
    (competence ``n / steps_to_max``). An episode returns the competence before practice, then adds
    one practice if the cell is learnable: the origin cell always, any other cell once a neighbour
    one step closer to the origin (index minus one along some axis) is mastered
    (``n >= mastery_steps``). Cells in the infeasible corner block (all indices
    ``>= cells_per_dim - side``, ``side = round(cells_per_dim * infeasible_fraction ** (1/dim))``)
    never learn. Defaults: ``steps_to_max 100``, ``mastery_steps 75`` (teachDeepRL's toy env), so
    the oracle masters all 100 cells of the 2-D grid in 7 500 episodes while uniform sampling
    masters about 3% after 20 000.

:class:`DriftingBandit` (tasks ``Discrete(n_arms)``)
    Time ``t`` counts pulls. Phase ``t // phase_length`` has one best arm with mean ``best_mean``
    (0.8); every other arm has mean ``other_mean`` (0.3). The best arm of phase ``p`` is
    ``schedule[p % n_arms]`` with ``schedule`` an ``rng`` permutation, so it changes at every phase
    boundary. ``pull(arm)`` returns a Bernoulli reward (``1.0`` w.p. the arm's mean, else ``0.0``).

Oracles (:class:`ChainOracle`, :class:`HypercubeOracle`, :class:`DriftingOracle`, or
:func:`oracle_for`) read the student's hidden state and always pick a productive task; they are
sanity upper bounds, not registered teachers. :func:`run_curriculum` runs the
sample / episode / update loop and returns metrics.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from autocurr.spaces import Box, Discrete
from autocurr.teachers.base import Teacher, check_int, check_unit_interval

__all__ = [
    "ChainOracle",
    "ChainStudent",
    "DriftingBandit",
    "DriftingOracle",
    "HypercubeOracle",
    "HypercubeUnlock",
    "oracle_for",
    "run_curriculum",
]

_OBSERVATIONS = ("bernoulli", "noisy")


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return np.random.default_rng(rng)


# ================================================================================= ChainStudent
class ChainStudent:
    """Prerequisite chains of tasks plus infeasible and trivial ones; see the module docstring."""

    def __init__(
        self,
        n_feasible: int = 20,
        n_infeasible: int = 20,
        n_chains: int = 1,
        observation: str = "bernoulli",
        forgetting: float = 0.0,
        trivial: int = 0,
        rng: np.random.Generator | int | None = None,
        *,
        rate: float | Sequence[float] = 0.05,
        gate: float = 0.6,
        mastery: float = 0.9,
        noise_std: float = 0.05,
    ):
        self.n_feasible = check_int("n_feasible", n_feasible, 1)
        self.n_infeasible = check_int("n_infeasible", n_infeasible, 0)
        self.n_trivial = check_int("trivial", trivial, 0)
        self.n_chains = check_int("n_chains", n_chains, 1)
        if self.n_chains > self.n_feasible:
            raise ValueError(f"n_chains ({n_chains}) cannot exceed n_feasible ({n_feasible})")
        if observation not in _OBSERVATIONS:
            raise ValueError(f"observation must be one of {_OBSERVATIONS}, got {observation!r}")
        self.observation = observation
        self.forgetting = check_unit_interval("forgetting", forgetting, high_open=True)
        self.gate = check_unit_interval("gate", gate)
        self.mastery = check_unit_interval("mastery", mastery, low_open=True)
        self.noise_std = float(noise_std)
        if self.noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        self.rng = _generator(rng)

        n = self.n_feasible + self.n_infeasible + self.n_trivial
        self.n_tasks = n
        self._space = Discrete(n)
        #: ``task_of[i]``: the public id of internal task ``i`` (internal order in module doc).
        self.task_of = self.rng.permutation(n).astype(np.int64)
        #: ``internal_of[t]``: the internal index of public task id ``t``.
        self.internal_of = np.argsort(self.task_of).astype(np.int64)

        self.chain = np.full(n, -1, dtype=np.int64)
        self.position = np.full(n, -1, dtype=np.int64)
        self.predecessor = np.full(n, -1, dtype=np.int64)
        #: per chain, the public task ids from first to last.
        self.chains: list[np.ndarray] = []
        start = 0
        for c, length in enumerate(
            np.diff(np.linspace(0, self.n_feasible, self.n_chains + 1).round().astype(int))
        ):
            ids = self.task_of[start : start + length]
            self.chains.append(ids.copy())
            self.chain[ids] = c
            self.position[ids] = np.arange(length)
            self.predecessor[ids[1:]] = ids[:-1]
            start += length
        self.infeasible_mask = np.zeros(n, dtype=bool)
        self.infeasible_mask[
            self.task_of[self.n_feasible : self.n_feasible + self.n_infeasible]
        ] = True
        self.trivial_mask = np.zeros(n, dtype=bool)
        self.trivial_mask[self.task_of[self.n_feasible + self.n_infeasible :]] = True
        self.chain_mask = self.chain >= 0
        #: the scalar ``rate``, or ``None`` when per-task rates were given.
        self.rate: float | None = None
        #: learning rate per public task id (0 for infeasible and trivial tasks).
        self.rates = np.zeros(n)
        if isinstance(rate, numbers.Real):
            self.rate = check_unit_interval("rate", rate, low_open=True)
            self.rates[self.chain_mask] = self.rate
        else:
            per_task = [check_unit_interval("rate", r, low_open=True) for r in rate]
            if len(per_task) != self.n_feasible:
                raise ValueError(
                    f"rate needs one value per feasible task ({self.n_feasible}), "
                    f"got {len(per_task)}"
                )
            self.rates[self.task_of[: self.n_feasible]] = per_task
        self._rate_of = self.rates.tolist()
        #: tasks that are or can become mastered (chain tasks and trivial tasks).
        self.feasible_mask = ~self.infeasible_mask
        self._competence = np.where(self.trivial_mask, 1.0, 0.0)
        self._pred = self.predecessor.tolist()
        self._is_chain = self.chain_mask.tolist()
        self.episodes = 0

    @property
    def task_space(self) -> Discrete:
        return self._space

    @property
    def competence(self) -> np.ndarray:
        """Competence per public task id (a copy)."""
        return self._competence.copy()

    def learnable(self, task: int) -> bool:
        """Whether practising ``task`` now raises its competence."""
        if not self._is_chain[task]:
            return False
        pred = self._pred[task]
        return pred < 0 or self._competence[pred] >= self.gate

    def learnable_mask(self) -> np.ndarray:
        pred_ok = np.where(
            self.predecessor >= 0, self._competence[self.predecessor] >= self.gate, True
        )
        return self.chain_mask & pred_ok

    def episode(self, task: int) -> float:
        """Play one episode on ``task``: returns the outcome, then practises the task."""
        task = self._space.canonical(task)
        c = float(self._competence[task])
        if self.observation == "bernoulli":
            outcome = 1.0 if self.rng.random() < c else 0.0
        else:
            outcome = min(1.0, max(0.0, c + self.noise_std * self.rng.standard_normal()))
        learn = self.learnable(task)
        if self.forgetting > 0.0:
            self._competence[self.chain_mask] *= 1.0 - self.forgetting
            if self._is_chain[task]:
                self._competence[task] = c  # the practised task does not decay
        if learn:
            self._competence[task] = c + self._rate_of[task] * (1.0 - c)
        self.episodes += 1
        return outcome

    def is_infeasible(self, task: int) -> bool:
        return bool(self.infeasible_mask[int(task)])

    def mastered(self) -> np.ndarray:
        """Boolean per public task id: competence >= ``mastery``."""
        return self._competence >= self.mastery

    def all_feasible_mastered(self) -> bool:
        return bool(np.all(self._competence[self.feasible_mask] >= self.mastery))

    def fraction_mastered(self) -> float:
        """Share of feasible (chain + trivial) tasks that are mastered."""
        return float(np.mean(self._competence[self.feasible_mask] >= self.mastery))


# ============================================================================= HypercubeUnlock
class HypercubeUnlock:
    """Grid cells of [0, 1]^dim unlocked outward from the origin; see the module docstring."""

    def __init__(
        self,
        dim: int = 2,
        cells_per_dim: int = 10,
        distractor_dims: int = 0,
        infeasible_fraction: float = 0.0,
        rng: np.random.Generator | int | None = None,
        *,
        steps_to_max: int = 100,
        mastery_steps: int = 75,
    ):
        self.dim = check_int("dim", dim, 1)
        self.cells_per_dim = check_int("cells_per_dim", cells_per_dim, 1)
        self.distractor_dims = check_int("distractor_dims", distractor_dims, 0)
        self.infeasible_fraction = check_unit_interval(
            "infeasible_fraction", infeasible_fraction, high_open=True
        )
        self.steps_to_max = check_int("steps_to_max", steps_to_max, 1)
        self.mastery_steps = check_int("mastery_steps", mastery_steps, 1)
        if self.mastery_steps > self.steps_to_max:
            raise ValueError("mastery_steps cannot exceed steps_to_max")
        self.rng = _generator(rng)  # unused by the dynamics; kept for API symmetry
        self._space = Box(
            np.zeros(self.dim + self.distractor_dims), np.ones(self.dim + self.distractor_dims)
        )
        shape = (self.cells_per_dim,) * self.dim
        self.shape = shape
        self.n_cells = int(np.prod(shape))
        self.counts = np.zeros(shape, dtype=np.int64)
        side = round(self.cells_per_dim * self.infeasible_fraction ** (1.0 / self.dim))
        if side >= self.cells_per_dim:
            side = self.cells_per_dim - 1  # the origin cell stays feasible
        self.infeasible_side = int(side)
        grid = np.indices(shape)
        low = self.cells_per_dim - self.infeasible_side
        self.infeasible_cells = (
            np.all(grid >= low, axis=0) if self.infeasible_side > 0 else np.zeros(shape, bool)
        )
        self.feasible_cells = ~self.infeasible_cells
        self.episodes = 0

    @property
    def task_space(self) -> Box:
        return self._space

    def cell_of(self, task: Any) -> tuple[int, ...]:
        """Grid cell of a task (distractor coordinates are ignored)."""
        x = np.asarray(task, dtype=np.float64)
        if x.shape != (self._space.dim,) or not (np.all(x >= 0.0) and np.all(x <= 1.0)):
            raise ValueError(f"task {task!r} is not in {self._space!r}")
        idx = np.minimum(
            (x[: self.dim] * self.cells_per_dim).astype(np.int64), self.cells_per_dim - 1
        )
        return tuple(idx.tolist())

    def mastered_cells(self) -> np.ndarray:
        return self.counts >= self.mastery_steps

    def learnable(self, cell: tuple[int, ...]) -> bool:
        if self.infeasible_cells[cell]:
            return False
        if not any(cell):
            return True
        for axis, i in enumerate(cell):
            if i > 0:
                below = list(cell)
                below[axis] = i - 1
                if self.counts[tuple(below)] >= self.mastery_steps:
                    return True
        return False

    def learnable_cells(self) -> np.ndarray:
        mastered = self.mastered_cells()
        out = np.zeros(self.shape, dtype=bool)
        out[(0,) * self.dim] = True
        for axis in range(self.dim):
            upper = [slice(None)] * self.dim
            lower = [slice(None)] * self.dim
            upper[axis] = slice(1, None)
            lower[axis] = slice(None, -1)
            out[tuple(upper)] |= mastered[tuple(lower)]
        return out & self.feasible_cells

    def episode(self, task: Any) -> float:
        """Return the cell's competence before practice, then practise the cell."""
        cell = self.cell_of(task)
        n = int(self.counts[cell])
        if n < self.steps_to_max and self.learnable(cell):
            self.counts[cell] = n + 1
        self.episodes += 1
        return n / self.steps_to_max

    def is_infeasible(self, task: Any) -> bool:
        return bool(self.infeasible_cells[self.cell_of(task)])

    def fraction_mastered(self) -> float:
        """Share of all grid cells (infeasible ones included) that are mastered."""
        return float(np.mean(self.mastered_cells()))

    def all_feasible_mastered(self) -> bool:
        return bool(np.all(self.mastered_cells()[self.feasible_cells]))


# ============================================================================== DriftingBandit
class DriftingBandit:
    """Bernoulli arms whose best arm moves at every phase boundary; see the module docstring."""

    def __init__(
        self,
        n_arms: int = 10,
        phase_length: int = 2000,
        rng: np.random.Generator | int | None = None,
        *,
        best_mean: float = 0.8,
        other_mean: float = 0.3,
    ):
        self.n_arms = check_int("n_arms", n_arms, 2)
        self.phase_length = check_int("phase_length", phase_length, 1)
        self.best_mean = check_unit_interval("best_mean", best_mean)
        self.other_mean = check_unit_interval("other_mean", other_mean)
        if self.best_mean <= self.other_mean:
            raise ValueError("best_mean must exceed other_mean")
        self.rng = _generator(rng)
        self._space = Discrete(self.n_arms)
        #: best arm of phase p is ``schedule[p % n_arms]``.
        self.schedule = self.rng.permutation(self.n_arms).astype(np.int64)
        self.t = 0

    @property
    def task_space(self) -> Discrete:
        return self._space

    def phase(self, t: int | None = None) -> int:
        return (self.t if t is None else int(t)) // self.phase_length

    def best_arm(self, t: int | None = None) -> int:
        """Best arm at pull ``t`` (default: the next pull)."""
        return int(self.schedule[self.phase(t) % self.n_arms])

    def means(self, t: int | None = None) -> np.ndarray:
        out = np.full(self.n_arms, self.other_mean)
        out[self.best_arm(t)] = self.best_mean
        return out

    def pull(self, arm: int) -> float:
        arm = self._space.canonical(arm)
        mean = self.best_mean if arm == self.best_arm() else self.other_mean
        self.t += 1
        return 1.0 if self.rng.random() < mean else 0.0

    def episode(self, task: int) -> float:
        """Alias of :meth:`pull` so :func:`run_curriculum` treats every student alike."""
        return self.pull(task)


# ==================================================================================== oracles
class _Oracle(Teacher):
    signal = "return"

    def __init__(self, student: Any, seed: int | np.random.SeedSequence | None = None):
        super().__init__(student.task_space, seed)
        self.student = student

    def _update(self, task: Any, signal: float) -> None:
        pass  # the oracle reads the student's state directly


class ChainOracle(_Oracle):
    """Picks, uniformly over chains, each chain's first unmastered task (always learnable).

    When every chain task is mastered (possible only to lose again under forgetting) it replays
    the chain task with the lowest competence.
    """

    name = "chain_oracle"
    requires_finite = True

    def __init__(self, student: ChainStudent, seed: int | np.random.SeedSequence | None = None):
        if not isinstance(student, ChainStudent):
            raise ValueError("ChainOracle needs a ChainStudent")
        super().__init__(student, seed)

    def _candidates(self) -> list[int]:
        s = self.student
        competence = s._competence
        out = []
        for ids in s.chains:
            below = np.flatnonzero(competence[ids] < s.mastery)
            if below.size:
                out.append(int(ids[below[0]]))
        if not out:
            chain_ids = np.flatnonzero(s.chain_mask)
            out = [int(chain_ids[np.argmin(competence[chain_ids])])]
        return out

    def _sample_one(self) -> int:
        candidates = self._candidates()
        return candidates[int(self.rng.integers(len(candidates)))]

    def probabilities(self) -> np.ndarray:
        p = np.zeros(self.space.size)
        candidates = self._candidates()
        p[candidates] = 1.0 / len(candidates)
        return p


class HypercubeOracle(_Oracle):
    """Samples a uniform point in a uniformly chosen learnable, unmastered cell.

    Distractor coordinates are uniform. Once every feasible cell is mastered it samples uniformly
    over feasible cells.
    """

    name = "hypercube_oracle"

    def __init__(self, student: HypercubeUnlock, seed: int | np.random.SeedSequence | None = None):
        if not isinstance(student, HypercubeUnlock):
            raise ValueError("HypercubeOracle needs a HypercubeUnlock")
        super().__init__(student, seed)

    def _sample_one(self) -> np.ndarray:
        s = self.student
        frontier = s.learnable_cells() & ~s.mastered_cells()
        cells = np.argwhere(frontier if frontier.any() else s.feasible_cells)
        cell = cells[int(self.rng.integers(len(cells)))]
        x = self.rng.random(s.dim + s.distractor_dims)
        x[: s.dim] = (cell + x[: s.dim]) / s.cells_per_dim
        return np.clip(x, 0.0, 1.0)


class DriftingOracle(_Oracle):
    """Always pulls the current best arm."""

    name = "drifting_oracle"
    requires_finite = True

    def __init__(self, student: DriftingBandit, seed: int | np.random.SeedSequence | None = None):
        if not isinstance(student, DriftingBandit):
            raise ValueError("DriftingOracle needs a DriftingBandit")
        super().__init__(student, seed)

    def _sample_one(self) -> int:
        return self.student.best_arm()

    def probabilities(self) -> np.ndarray:
        p = np.zeros(self.space.size)
        p[self.student.best_arm()] = 1.0
        return p


def oracle_for(student: Any, seed: int | np.random.SeedSequence | None = None) -> Teacher:
    """The oracle teacher matching ``student``'s type."""
    for student_cls, oracle_cls in (
        (ChainStudent, ChainOracle),
        (HypercubeUnlock, HypercubeOracle),
        (DriftingBandit, DriftingOracle),
    ):
        if isinstance(student, student_cls):
            return oracle_cls(student, seed=seed)
    raise ValueError(f"no oracle for {type(student).__name__}")


# ============================================================================== run_curriculum
def run_curriculum(
    student: Any, teacher: Any, n_episodes: int, stop_when_mastered: bool = False
) -> dict[str, Any]:
    """Loop ``teacher.sample() -> student.episode(task) -> teacher.update(task, signal)``.

    Returns a dict with ``episodes`` (episodes run), ``episodes_to_mastery`` (first episode count
    at which every feasible task/cell was mastered, else ``None``; always ``None`` for a
    :class:`DriftingBandit`), ``infeasible_share`` (share of samples on infeasible tasks),
    ``fraction_mastered`` (the student's ``fraction_mastered()`` at the end) and, for a
    :class:`DriftingBandit`, ``best_arm_share_per_phase`` (share of pulls on the then-best arm in
    each phase touched) and ``best_arm_share`` (over all pulls).
    """
    n_episodes = check_int("n_episodes", n_episodes, 0)
    if isinstance(student, DriftingBandit):
        phases = -(-(student.t + n_episodes) // student.phase_length)
        on_best = np.zeros(phases, dtype=np.int64)
        pulls = np.zeros(phases, dtype=np.int64)
        for _ in range(n_episodes):
            task = teacher.sample()
            phase = student.phase()
            pulls[phase] += 1
            on_best[phase] += int(task) == student.best_arm()
            teacher.update(task, student.pull(task))
        touched = pulls > 0
        return {
            "episodes": n_episodes,
            "episodes_to_mastery": None,
            "infeasible_share": 0.0,
            "fraction_mastered": None,
            "best_arm_share_per_phase": (on_best[touched] / pulls[touched]).tolist(),
            "best_arm_share": float(on_best.sum() / max(1, pulls.sum())),
        }

    to_mastery = 0 if student.all_feasible_mastered() else None
    infeasible = 0
    done = 0
    for _ in range(n_episodes):
        if stop_when_mastered and to_mastery is not None:
            break
        task = teacher.sample()
        infeasible += student.is_infeasible(task)
        signal = student.episode(task)
        teacher.update(task, signal)
        done += 1
        if to_mastery is None and student.all_feasible_mastered():
            to_mastery = done
    return {
        "episodes": done,
        "episodes_to_mastery": to_mastery,
        "infeasible_share": infeasible / done if done else 0.0,
        "fraction_mastered": student.fraction_mastered(),
    }
