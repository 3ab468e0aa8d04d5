"""Regret-based curricula (PLR, PLR⊥, ACCEL, SFL) with an off-the-shelf SB3 PPO student.

:class:`UEDPPO` is SB3's ``PPO`` with level assignment per rollout::

    from autocurr.envs.maze import maze_levels
    teacher = make_teacher("plr", maze_levels(), robust=True, buffer_size=1000)
    env = DummyVecEnv([lambda: Monitor(TaskQueueWrapper(gym.make("autocurr/Maze-v0")))] * 8)
    model = UEDPPO("MlpPolicy", env, teacher=teacher)
    model.learn(1_000_000)

What happens in each PPO iteration (reference ``teachers-regret-ued.md`` §2, §7, §8, §10, §17):

1. The teacher assigns one level per env: ``sample_with_kind(n_envs)`` (PLR, ACCEL: one
   replay / new / edit decision for the whole batch) or ``sample_split(n_envs)`` (SFL's
   buffer / fresh mix). Every env is reset onto its level, and autoresets replay the **same
   level for the whole rollout** (the checklist of §17: minimax issue #6 trained on DR levels
   after the first episode). Episodes still running from the previous rollout are cut there;
   ``TaskQueueWrapper.abandoned_episodes`` counts them.
2. SB3 collects the rollout as usual; a recorder keeps the *raw* rewards and dones (SB3 adds
   ``gamma * V(terminal obs)`` to the reward of time-limit steps, which would corrupt returns).
3. Each level gets a score from :mod:`autocurr.teachers.scores` with the teacher's
   ``score_function``, PPO's ``gamma`` and ``gae_lambda``, and the rollout's values. **Episodes
   cut by the rollout boundary:** the env's last, unfinished segment is scored with its GAE
   bootstrapped from the value of the observation after the rollout and counts as one more
   episode of that level (level-replay and dcd score partial episodes the same way). Since
   every rollout starts with a reset, a cut segment has no continuation to merge with. The level
   score is the mean of its episodes' scores; a level run by several envs in one rollout pools
   all their episodes (dcd issue #7 let the last finisher win). ``update_episode(level, score,
   best finished return)`` reports it, so MaxMC sees ``R_max``. A score that is ``-inf`` (MaxMC
   on a level never finished) is not reported and is counted in ``unscored_levels``.
4. PPO's gradient step runs only if ``teacher.should_train(kind)``: PLR⊥ (``robust=True``) and
   ACCEL roll out fresh and edited levels only to score them. Those steps still count in
   ``num_timesteps``, so ``learn(total_timesteps)`` is a budget of environment steps that
   includes every scoring and child-evaluation rollout.

SFL's scoring rounds (``teacher.scoring_due()``) run before the training rollout: each
candidate is played ``rollouts_per_level`` times by the current stochastic policy without
gradient, queued per env with :meth:`TaskQueueWrapper.set_tasks`, and its successes
(``is_success(episode return)``, default return > 0) are reported with ``update``. Their env
steps are added to ``num_timesteps`` too; user callbacks do not see them.

Diagnostics (``optimal_return=`` a function level -> best achievable return, e.g. the maze's
BFS :func:`~autocurr.envs.maze.optimal_return`): for every level of every rollout, the *true
regret* ``optimal return - mean finished return`` and the value of **every** score function on
the same rollout are kept in ``score_log``; TensorBoard gets the Spearman correlation of each
score with true regret and with the success rate (``ued/spearman_regret/<score>``,
``ued/spearman_success/<score>``) over the last ``diagnostics_window`` level-rollouts.

Counters logged per iteration: ``ued/kind``, ``ued/steps_trained``, ``ued/steps_no_grad``,
``ued/grad_updates``, ``ued/score_mean``, plus the teacher's ``stats()`` through
:class:`~autocurr.integrations.sb3.CurriculumCallback` if you pass one.

Requirements: the training envs are ``TaskQueueWrapper``\\ s (under SB3's ``Monitor`` if you
like), reachable through ``VecEnv.env_method`` (``DummyVecEnv`` or ``SubprocVecEnv``), with
``n_steps`` at least the episode limit if you want every level to finish an episode per rollout.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import torch

try:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import obs_as_tensor
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'autocurr.integrations.sb3_ued needs the sb3 extra: pip install "autocurr[sb3]"'
    ) from error

from autocurr.teachers.base import Teacher
from autocurr.teachers.scores import (
    POLICY_SCORES,
    SCORE_FUNCTIONS,
    Rollout,
    episode_scores,
    pooled_level_scores,
)

__all__ = ["UEDPPO", "is_level_teacher", "spearman"]

_NEEDS_R_MAX = ("maxmc", "grounded-pvl")


def is_level_teacher(teacher: Teacher) -> bool:
    """Whether ``teacher`` assigns levels per rollout and decides which rollouts train
    (PLR, PLR⊥, ACCEL, SFL): it has ``should_train`` and ``sample_with_kind``."""
    return hasattr(teacher, "should_train") and hasattr(teacher, "sample_with_kind")


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation with average ranks for ties; NaN if either side is constant.

    Written here (20 lines) to keep scipy out of the dependencies."""
    rx, ry = _average_ranks(np.asarray(x, float)), _average_ranks(np.asarray(y, float))
    if rx.size < 2 or rx.std() == 0.0 or ry.std() == 0.0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(values.size, dtype=float)
    sorted_values = values[order]
    # Tied runs share the mean of their ranks.
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    for run in np.split(np.arange(values.size), boundaries):
        if run.size > 1:
            ranks[order[run]] = ranks[order[run]].mean()
    return ranks


class _RawStepRecorder(BaseCallback):
    """Copies each step's raw rewards and dones (before SB3's time-limit bootstrap edits them)
    and hands the finished rollout to the model before any other callback's rollout end."""

    def __init__(self) -> None:
        super().__init__()
        self.rewards: list[np.ndarray] = []
        self.dones: list[np.ndarray] = []

    def _on_rollout_start(self) -> None:
        self.rewards.clear()
        self.dones.clear()

    def _on_step(self) -> bool:
        self.rewards.append(np.array(self.locals["rewards"], dtype=np.float64))
        self.dones.append(np.array(self.locals["dones"], dtype=bool))
        return True

    def _on_rollout_end(self) -> None:
        self.model._finish_rollout(self.locals["values"])


class UEDPPO(PPO):
    """PPO whose rollouts run on levels chosen by a regret-based teacher; see the module
    docstring. Takes every ``PPO`` argument plus:

    Args:
        teacher: a PLR, PLR⊥, ACCEL or SFL teacher over a ``Levels`` space.
        is_success: ``is_success(episode_return) -> bool`` for SFL's scoring rollouts and the
            logged success rates (default: return > 0, the maze convention).
        optimal_return: ``optimal_return(level) -> float``; enables the true-regret
            diagnostics.
        diagnostics_window: level-rollouts kept for the logged correlations.
        oracle_score: report the *true* regret (``optimal_return(level)`` minus the mean return
            of the level's finished episodes; no finished episode counts as return 0) to the
            teacher instead of its score function: the "perfect regret oracle" of the SFL paper,
            a diagnostic upper bound for regret-based curation that only envs with a known
            optimum (the maze's BFS) allow.
        level_features: ``level_features(level) -> {name: value}`` (e.g. the maze's shortest
            path and wall count); their means over each rollout's levels are logged as
            ``ued/<kind>/<name>``, showing what the teacher replays, edits and generates.
    """

    def __init__(
        self,
        policy: Any,
        env: Any,
        teacher: Teacher,
        is_success: Callable[[float], bool] | None = None,
        optimal_return: Callable[[Hashable], float] | None = None,
        diagnostics_window: int = 2000,
        oracle_score: bool = False,
        level_features: Callable[[Hashable], dict[str, float]] | None = None,
        **ppo_kwargs: Any,
    ):
        if not is_level_teacher(teacher):
            raise ValueError(
                f"teacher {teacher.name!r} does not assign levels per rollout; UEDPPO takes "
                "plr, accel or sfl (use PPO with CurriculumWrapper for the others)"
            )
        if oracle_score and optimal_return is None:
            raise ValueError("oracle_score=True needs optimal_return (the level's best return)")
        super().__init__(policy, env, **ppo_kwargs)
        self.teacher = teacher
        self.oracle_score = bool(oracle_score)
        self.level_features = level_features
        self.is_success = is_success or (lambda episode_return: episode_return > 0)
        self.optimal_return = optimal_return
        self.score_log: deque[dict[str, Any]] = deque(maxlen=int(diagnostics_window))
        self.steps_trained = 0
        self.steps_no_grad = 0
        self.grad_updates = 0
        self.unscored_levels = 0
        self.rollouts_by_kind: dict[str, int] = {}
        self._levels: list[Hashable] = []
        self._kind: str | None = None
        self._train_next = True
        self._recorder = _RawStepRecorder()

    def _excluded_save_params(self) -> list[str]:
        # The teacher is saved on its own (save_teacher_state); the rest is per-run bookkeeping.
        return [
            *super()._excluded_save_params(),
            "teacher",
            "is_success",
            "optimal_return",
            "level_features",
            "score_log",
            "_recorder",
            "_levels",
        ]

    # ----------------------------------------------------------------------------- callbacks
    def _init_callback(self, callback: Any, progress_bar: bool = False) -> BaseCallback:
        # The recorder goes first so the teacher is updated before other callbacks log it.
        callbacks = [] if callback is None else callback
        if not isinstance(callbacks, list):
            callbacks = [callbacks]
        return super()._init_callback([self._recorder, *callbacks], progress_bar)

    # ----------------------------------------------------------------------------- rollouts
    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps) -> bool:
        if hasattr(self.teacher, "scoring_due") and self.teacher.scoring_due():
            self._run_scoring_round(env)
        self._assign_levels(env)
        return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)

    def _assign_levels(self, env) -> None:
        n_envs = env.num_envs
        if hasattr(self.teacher, "sample_split"):  # SFL: a buffer / fresh mix per batch
            levels, kinds = self.teacher.sample_split(n_envs)
        else:
            levels, kind = self.teacher.sample_with_kind(n_envs)
            kinds = [kind] * n_envs
        self._levels = list(levels)
        self._kind = kinds[0] if len(set(kinds)) == 1 else "mixed"
        self._train_next = all(self.teacher.should_train(kind) for kind in set(kinds))
        for index, level in enumerate(self._levels):
            env.env_method("set_tasks", [level], indices=[index])
        self._last_obs = env.reset()
        self._last_episode_starts = np.ones((n_envs,), dtype=bool)

    def _finish_rollout(self, last_values: torch.Tensor) -> None:
        steps = len(self._recorder.rewards) * self.n_envs
        if self._train_next:
            self.steps_trained += steps
        else:
            self.steps_no_grad += steps
        self.rollouts_by_kind[self._kind] = self.rollouts_by_kind.get(self._kind, 0) + 1
        self.logger.record("ued/kind", self._kind, exclude=("tensorboard",))
        if self.level_features is not None and self._levels:
            self._log_level_features()
        self.logger.record("ued/trained", float(self._train_next))
        if not self._recorder.rewards:
            return
        rollout = self._rollout(last_values)
        uses_scores = hasattr(self.teacher, "update_episode")
        if uses_scores or self.optimal_return is not None:
            self._score_levels(rollout, report=uses_scores)

    def _log_level_features(self) -> None:
        features = [self.level_features(level) for level in self._levels]
        for name in features[0]:
            value = float(np.mean([f[name] for f in features]))
            self.logger.record(f"ued/{self._kind}/{name}", value)

    def _rollout(self, last_values: torch.Tensor) -> Rollout:
        rewards = np.stack(self._recorder.rewards)
        n = rewards.shape[0]
        return Rollout(
            rewards=rewards,
            values=self.rollout_buffer.values[:n].astype(np.float64),
            dones=np.stack(self._recorder.dones),
            last_value=last_values.detach().cpu().numpy().reshape(-1).astype(np.float64),
            probs=self._action_probabilities(n) if self._needs_probs() else None,
        )

    def _needs_probs(self) -> bool:
        score = getattr(self.teacher, "score_function", None)
        return score in POLICY_SCORES or self.optimal_return is not None

    def _action_probabilities(self, n_steps: int) -> np.ndarray | None:
        observations = self.rollout_buffer.observations[:n_steps]
        flat = observations.reshape(-1, *observations.shape[2:])
        with torch.no_grad():
            distribution = self.policy.get_distribution(obs_as_tensor(flat, self.device))
        probs = getattr(distribution.distribution, "probs", None)
        if probs is None:  # continuous actions: no probability vector
            return None
        return probs.cpu().numpy().astype(np.float64).reshape(n_steps, self.n_envs, -1)

    # ----------------------------------------------------------------------------- scoring
    def _score_levels(self, rollout: Rollout, report: bool) -> None:
        best = np.array([self._best_return(level) for level in self._levels])
        pooled = {
            name: pooled_level_scores(
                self._levels,
                episode_scores(rollout, name, self.gamma, self.gae_lambda, best_returns=best),
            )
            for name in self._diagnostic_scores(rollout)
        }
        main = getattr(self.teacher, "score_function", "pvl")
        first = next(iter(pooled.values()))
        reported = []
        for level, (_, returns) in first.items():
            scores = {name: per_level[level][0] for name, per_level in pooled.items()}
            if report:
                score = self._true_regret(level, returns) if self.oracle_score else scores[main]
                reported.append(self._report(level, score, returns))
            if self.optimal_return is not None and returns:
                self._log_level(level, scores, returns)
        valid = [s for s in reported if s is not None]
        if valid:
            self.logger.record("ued/score_mean", float(np.mean(valid)))
        self._log_correlations()

    def _diagnostic_scores(self, rollout: Rollout) -> list[str]:
        main = getattr(self.teacher, "score_function", "pvl")
        if self.optimal_return is None:
            return [main]
        names = [name for name in SCORE_FUNCTIONS if name not in POLICY_SCORES]
        if rollout.probs is not None:
            names += list(POLICY_SCORES)
        return [main, *(name for name in names if name != main)]

    def _best_return(self, level: Hashable) -> float:
        getter = getattr(self.teacher, "best_return", None)
        value = getter(level) if getter is not None else None
        return -math.inf if value is None else float(value)

    def _report(self, level: Hashable, score: float, returns: list[float]) -> float | None:
        if not math.isfinite(score):
            self.unscored_levels += 1
            return None
        self.teacher.update_episode(level, score, max(returns) if returns else None)
        return score

    def _true_regret(self, level: Hashable, returns: list[float]) -> float:
        return float(self.optimal_return(level)) - (float(np.mean(returns)) if returns else 0.0)

    def _log_level(self, level: Hashable, scores: dict[str, float], returns: list[float]) -> None:
        mean_return = float(np.mean(returns))
        self.score_log.append(
            {
                "timesteps": int(self.num_timesteps),
                "level": level,
                "kind": self._kind,
                "true_regret": self._true_regret(level, returns),
                "success_rate": float(np.mean([self.is_success(r) for r in returns])),
                "mean_return": mean_return,
                "scores": scores,
            }
        )

    def _log_correlations(self) -> None:
        if len(self.score_log) < 20:
            return
        regret = [entry["true_regret"] for entry in self.score_log]
        success = [entry["success_rate"] for entry in self.score_log]
        for name in self.score_log[-1]["scores"]:
            values = [entry["scores"].get(name, math.nan) for entry in self.score_log]
            if not all(math.isfinite(v) for v in values):
                continue
            self.logger.record(f"ued/spearman_regret/{name}", spearman(values, regret))
            self.logger.record(f"ued/spearman_success/{name}", spearman(values, success))

    def score_correlations(self) -> dict[str, dict[str, float]]:
        """Spearman correlation of each score with true regret and with the success rate over
        ``score_log`` (empty without ``optimal_return``); NaN where a score was not finite."""
        if not self.score_log:
            return {}
        regret = [entry["true_regret"] for entry in self.score_log]
        success = [entry["success_rate"] for entry in self.score_log]
        result = {}
        for name in self.score_log[-1]["scores"]:
            values = np.array([entry["scores"].get(name, math.nan) for entry in self.score_log])
            keep = np.isfinite(values)
            result[name] = {
                "true_regret": spearman(values[keep], np.asarray(regret)[keep]),
                "success_rate": spearman(values[keep], np.asarray(success)[keep]),
                "levels": int(keep.sum()),
            }
        return result

    # ----------------------------------------------------------------------------- SFL scoring
    def _run_scoring_round(self, env) -> None:
        """Play every owed scoring rollout of the teacher's open round without gradient."""
        self.teacher.levels_to_score()
        owed = [level for level, n in self.teacher.pending_scoring() for _ in range(n)]
        n_envs = env.num_envs
        queues = [owed[i::n_envs] for i in range(n_envs)]
        for index, queue in enumerate(queues):
            if queue:
                env.env_method("set_tasks", queue, indices=[index])
        remaining = [len(queue) for queue in queues]
        observations = env.reset()
        returns = np.zeros(n_envs)
        steps = 0
        self.policy.set_training_mode(False)
        while any(remaining):
            with torch.no_grad():
                actions, _, _ = self.policy(obs_as_tensor(observations, self.device))
            observations, rewards, dones, infos = env.step(actions.cpu().numpy())
            steps += n_envs
            returns += rewards
            for index in np.flatnonzero(dones):
                if remaining[index]:
                    remaining[index] -= 1
                    success = float(self.is_success(float(returns[index])))
                    self.teacher.update(infos[index]["task"], success)
                returns[index] = 0.0
        self.num_timesteps += steps
        self.steps_no_grad += steps
        self.logger.record("ued/scoring_steps", steps)

    # ----------------------------------------------------------------------------- training
    def train(self) -> None:
        if not self._train_next:
            self.logger.record("ued/steps_trained", self.steps_trained)
            self.logger.record("ued/steps_no_grad", self.steps_no_grad)
            return
        super().train()
        self.grad_updates += 1
        self.logger.record("ued/steps_trained", self.steps_trained)
        self.logger.record("ued/steps_no_grad", self.steps_no_grad)
        self.logger.record("ued/grad_updates", self.grad_updates)

    def budget(self) -> dict[str, int]:
        """Environment steps with and without gradient, PPO iterations trained, rollouts per
        kind and levels whose score was not finite."""
        return {
            "env_steps": int(self.num_timesteps),
            "steps_trained": int(self.steps_trained),
            "steps_no_grad": int(self.steps_no_grad),
            "grad_updates": int(self.grad_updates),
            "unscored_levels": int(self.unscored_levels),
            **{f"rollouts_{kind}": n for kind, n in self.rollouts_by_kind.items()},
        }
