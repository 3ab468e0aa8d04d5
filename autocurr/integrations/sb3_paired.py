"""PAIRED and REPAIRED with SB3 PPO students and an SB3 PPO level-building adversary.

Papers: PAIRED (Dennis et al., NeurIPS 2020) and REPAIRED (Jiang et al., NeurIPS 2021,
"Replay-Guided Adversarial Environment Design"); reference ``teachers-regret-ued.md`` §9, §11.
The teachers are :mod:`autocurr.teachers.paired`; this module adds the learners::

    from autocurr.envs.maze import maze_levels
    from autocurr.teachers.paired import PAIREDTeacher
    adversary = make_maze_adversary(size=9, n_walls=20, batch_size=8, seed=0)
    teacher = PAIREDTeacher(maze_levels(), seed=0, adversary=adversary)
    model = make_paired_model(lambda: gym.make("autocurr/Maze-v0"), 8, teacher, seed=0,
                              level_check=maze_level_check)
    model.learn(1_000_000)

:class:`PAIREDPPO` (a :class:`~autocurr.integrations.sb3_ued.UEDPPO`) is the **protagonist**; it
owns an **antagonist** ``PPO`` (same policy class and PPO settings) on a second vec env with the
same number of envs. Each PPO iteration:

1. the teacher assigns one level per env (``sample_with_kind``: the adversary's batch for
   PAIRED; a replay or adversary batch for REPAIRED), and the protagonist collects its rollout
   on them, each env replaying its level for the whole rollout (as UEDPPO);
2. UEDPPO reports PLR scores from the protagonist's rollout (REPAIRED's buffer; PAIRED has no
   buffer), then the antagonist plays the same levels for the same number of steps;
3. per level, from the raw episode returns (``info["curriculum"]["signal"]`` written by
   ``TaskQueueWrapper``; SB3's rewards carry a time-limit bootstrap)::

       regret = max antagonist finished return - mean protagonist finished return

   with 0 for a student that finished no episode on the level (envs sharing a level pool their
   episodes), and ``teacher.update_regrets(levels, regrets)`` (one regret per env);
4. both students train iff ``teacher.should_train(kind)`` (always for PAIRED; replay batches
   only for REPAIRED, which is PLR⊥).

``num_timesteps`` counts the env steps of **both** students (an equal-budget comparison counts
every student step); the adversary's design steps are not maze steps and are not counted. Logged:
``paired/regret_mean``, ``paired/protagonist_return``, ``paired/antagonist_return``,
``paired/antagonist_steps`` and, with ``level_check=`` (e.g. :func:`maze_level_check`),
``paired/solvable_share``.

:class:`PPOLevelAdversary` implements the ``LevelAdversary`` protocol with an SB3 ``PPO`` on a
``DummyVecEnv`` of ``k`` :class:`~autocurr.envs.maze_design.MazeDesignEnv` (goal, start, then
one wall per step; MLP policy). Actions are sampled from the policy's probabilities with the
teacher's numpy ``rng``, so proposals follow the teacher's seed; the minibatch order of its PPO
update comes from a generator seeded with ``seed`` (no global RNG is read or seeded; the initial
weights are drawn under ``torch.random.fork_rng`` from ``seed``). The regret is the reward of the
last design step (no bootstrap). Defaults: ``learning_rate=1e-4``, ``gamma=0.995``,
``ent_coef=0.05`` (minimax ``paired.json``: lr, γ and *teacher* entropy 0.05; reference §11),
``gae_lambda=0.95`` (dcd's λ), ``n_epochs=5`` with one minibatch of the whole batch
(``batch_size * episode length`` samples; dcd's PPO uses 5 epochs x 1 minibatch), ``n_steps``
= the design episode length, ``clip_range=0.2`` (SB3's default). Our choices: the MLP adversary
(the literature's uses a CNN + LSTM and a random noise input) and no regret normalisation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

try:
    from stable_baselines3 import PPO
    from stable_baselines3.common.buffers import RolloutBuffer
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.utils import obs_as_tensor
    from stable_baselines3.common.vec_env import DummyVecEnv
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'autocurr.integrations.sb3_paired needs the sb3 extra: pip install "autocurr[sb3]"'
    ) from error

from autocurr.envs.maze import MazeLevel, is_solvable
from autocurr.envs.maze_design import MazeDesignEnv
from autocurr.integrations.sb3_ued import UEDPPO, _RawStepRecorder
from autocurr.teachers.base import Teacher
from autocurr.wrappers import TaskQueueWrapper

__all__ = [
    "PAIREDPPO",
    "PPOLevelAdversary",
    "make_maze_adversary",
    "make_paired_model",
    "maze_level_check",
    "paired_regret",
]

#: Adversary PPO defaults; see the module docstring for their sources.
ADVERSARY_PPO_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-4,
    "gamma": 0.995,
    "gae_lambda": 0.95,
    "ent_coef": 0.05,
    "n_epochs": 5,
    "clip_range": 0.2,
}


def maze_level_check(task: Hashable) -> bool:
    """Whether an encoded maze level is solvable (for ``PAIREDPPO(level_check=...)``)."""
    return is_solvable(MazeLevel.decode(task))


def paired_regret(antagonist_returns: Sequence[float], protagonist_returns: Sequence[float]):
    """PAIRED's regret estimate: the antagonist's best finished return minus the protagonist's
    mean finished return; a side with no finished episode contributes 0."""
    best = max(antagonist_returns) if len(antagonist_returns) else 0.0
    mean = float(np.mean(protagonist_returns)) if len(protagonist_returns) else 0.0
    return float(best) - mean


# ------------------------------------------------------------------------------------- adversary
class _SeededRolloutBuffer(RolloutBuffer):
    """A RolloutBuffer whose minibatch order comes from its own seeded generator instead of
    numpy's global one, so the adversary's update is reproducible from its state."""

    def __init__(self, *args: Any, shuffle_seed: int | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.shuffle_rng = np.random.default_rng(shuffle_seed)

    def get(self, batch_size: int | None = None):
        total = self.buffer_size * self.n_envs
        if not self.generator_ready:
            for name in ("observations", "actions", "values", "log_probs", "advantages", "returns"):
                setattr(self, name, self.swap_and_flatten(getattr(self, name)))
            self.generator_ready = True
        order = self.shuffle_rng.permutation(total)
        step = total if batch_size is None else int(batch_size)
        for start in range(0, total, step):
            yield self._get_samples(order[start : start + step])


def _sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``probs`` by inverse CDF with ``rng``."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0])[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=1), probs.shape[1] - 1).astype(np.int64)


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, dict):
        return {key: _to_numpy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_numpy(item) for item in value)
    return value


def _to_torch(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {key: _to_torch(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_torch(item) for item in value)
    return value


#: UEDPPO arguments and run-level settings the antagonist's PPO does not take.
_PROTAGONIST_ONLY = (
    "is_success",
    "optimal_return",
    "diagnostics_window",
    "oracle_score",
    "level_features",
    "tensorboard_log",
    "seed",
)
_PENDING_ARRAYS = ("observations", "actions", "values", "log_probs", "episode_starts")


class PPOLevelAdversary:
    """PAIRED's adversary for the maze: SB3 PPO on ``batch_size`` :class:`MazeDesignEnv`.

    Implements :class:`autocurr.teachers.paired.LevelAdversary`; see the module docstring.

    Args:
        size: maze side (int or ``(height, width)``), as the student's levels.
        n_walls: wall placements per level.
        batch_size: levels per ``propose`` (the students' number of envs).
        seed: initial weights and minibatch order (None: unseeded).
        device: torch device of the adversary policy.
        **ppo_kwargs: PPO arguments overriding ``ADVERSARY_PPO_DEFAULTS`` (``n_steps`` and
            ``batch_size`` are fixed by the design episode).
    """

    def __init__(
        self,
        size: int | Sequence[int] = 9,
        n_walls: int = 20,
        batch_size: int = 32,
        seed: int | None = None,
        device: str = "cpu",
        **ppo_kwargs: Any,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        for fixed in ("n_steps", "batch_size", "seed", "env"):
            if fixed in ppo_kwargs:
                raise ValueError(f"{fixed} is fixed by PPOLevelAdversary, do not pass it")
        size = list(size) if isinstance(size, tuple | list) else int(size)
        self._config_kwargs = {
            "size": size,
            "n_walls": int(n_walls),
            "batch_size": int(batch_size),
            "seed": seed,
            "device": device,
            **ppo_kwargs,
        }
        self.batch_size = int(batch_size)
        design = partial(MazeDesignEnv, tuple(size) if isinstance(size, list) else size, n_walls)
        self.env = DummyVecEnv([design] * self.batch_size)
        self.episode_length = self.env.envs[0].episode_length
        settings = {**ADVERSARY_PPO_DEFAULTS, **ppo_kwargs}
        build = partial(
            PPO,
            "MlpPolicy",
            self.env,
            n_steps=self.episode_length,
            batch_size=self.batch_size * self.episode_length,
            device=device,
            verbose=0,
            seed=None,  # SB3's seed would reseed the global RNGs
            rollout_buffer_class=_SeededRolloutBuffer,
            rollout_buffer_kwargs={"shuffle_seed": seed},
            **settings,
        )
        if seed is None:
            self.model = build()
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                self.model = build()
        self.model.set_logger(Logger(folder=None, output_formats=[]))
        self._pending: list[bytes] | None = None
        self.n_updates = 0

    # ----------------------------------------------------------------------------- protocol
    def propose(self, k: int, rng: np.random.Generator) -> list[bytes]:
        """``k`` (= ``batch_size``) encoded levels built by sampling the current policy."""
        if k != self.batch_size:
            raise ValueError(f"this adversary proposes batches of {self.batch_size}, not {k}")
        model, buffer = self.model, self.model.rollout_buffer
        policy = model.policy
        policy.set_training_mode(False)
        buffer.reset()
        observations = self.env.reset()
        starts = np.ones(k, dtype=bool)
        infos: list[dict[str, Any]] = []
        for _ in range(self.episode_length):
            with torch.no_grad():
                obs_tensor = obs_as_tensor(observations, model.device)
                probs = policy.get_distribution(obs_tensor).distribution.probs
                actions = _sample_categorical(probs.cpu().numpy().astype(np.float64), rng)
                action_tensor = torch.as_tensor(actions, device=model.device)
                values, log_probs, _ = policy.evaluate_actions(obs_tensor, action_tensor)
            next_observations, _, dones, infos = self.env.step(actions)
            buffer.add(observations, actions.reshape(-1, 1), np.zeros(k), starts, values, log_probs)
            observations, starts = next_observations, dones
        levels = [info["level"].encode() for info in infos]
        self._pending = list(levels)
        return levels

    def learn(self, levels: list[Hashable], regrets: list[float]) -> None:
        """One PPO update with each level's regret as the reward of its last design step."""
        if self._pending is None or [bytes(level) for level in levels] != self._pending:
            raise ValueError("learn() needs exactly the levels of the last propose(), in order")
        regrets = np.asarray(regrets, dtype=np.float32).reshape(-1)
        if regrets.shape != (self.batch_size,) or not np.all(np.isfinite(regrets)):
            raise ValueError(f"learn() needs {self.batch_size} finite regrets, got {regrets}")
        buffer = self.model.rollout_buffer
        buffer.rewards[:] = 0.0
        buffer.rewards[-1] = regrets
        last_values = torch.zeros(self.batch_size, device=self.model.device)
        buffer.compute_returns_and_advantage(last_values, np.ones(self.batch_size, dtype=bool))
        self.model.policy.set_training_mode(True)
        self.model.train()
        self._pending = None
        self.n_updates += 1

    def goal_probabilities(self) -> np.ndarray:
        """The policy's distribution over goal cells (the first design step)."""
        observation = self.env.envs[0].reset()[0][None]
        with torch.no_grad():
            obs_tensor = obs_as_tensor(observation, self.model.device)
            probs = self.model.policy.get_distribution(obs_tensor).distribution.probs
        return probs.cpu().numpy()[0].astype(np.float64)

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        buffer = self.model.rollout_buffer
        pending = None
        if self._pending is not None:
            pending = {"levels": list(self._pending)}
            pending.update({name: getattr(buffer, name).copy() for name in _PENDING_ARRAYS})
        return {
            "policy": _to_numpy(self.model.policy.state_dict()),
            "optimizer": _to_numpy(self.model.policy.optimizer.state_dict()),
            "shuffle_rng": buffer.shuffle_rng.bit_generator.state,
            "pending": pending,
            "n_updates": self.n_updates,
            "ppo_n_updates": int(self.model._n_updates),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        policy = self.model.policy
        weights = {key: torch.from_numpy(np.array(value)) for key, value in state["policy"].items()}
        policy.load_state_dict(weights)  # raises on a shape or key mismatch
        policy.optimizer.load_state_dict(_to_torch(state["optimizer"]))
        buffer = self.model.rollout_buffer
        bit_generator = type(buffer.shuffle_rng.bit_generator)()
        bit_generator.state = state["shuffle_rng"]
        buffer.shuffle_rng = np.random.Generator(bit_generator)
        buffer.reset()
        pending = state["pending"]
        if pending is None:
            self._pending = None
        else:
            for name in _PENDING_ARRAYS:
                getattr(buffer, name)[...] = pending[name]
            buffer.pos, buffer.full = buffer.buffer_size, True
            self._pending = [bytes(level) for level in pending["levels"]]
        self.n_updates = int(state["n_updates"])
        self.model._n_updates = int(state["ppo_n_updates"])

    def config(self) -> tuple[str, dict[str, Any]]:
        return ("autocurr.integrations.sb3_paired:make_maze_adversary", dict(self._config_kwargs))


def make_maze_adversary(
    size: int | Sequence[int] = 9,
    n_walls: int = 20,
    batch_size: int = 32,
    seed: int | None = None,
    **ppo_kwargs: Any,
) -> PPOLevelAdversary:
    """The factory recorded by :meth:`PPOLevelAdversary.config` (``adversary_config`` path)."""
    return PPOLevelAdversary(size, n_walls, batch_size, seed, **ppo_kwargs)


# ------------------------------------------------------------------------------------- students
def _gather_returns(infos: Sequence[dict[str, Any]], returns: list[list[float]]) -> None:
    for index, info in enumerate(infos):
        curriculum = info.get("curriculum")
        if curriculum is not None:
            returns[index].append(float(curriculum["signal"]))


class _ProtagonistRecorder(_RawStepRecorder):
    """UEDPPO's raw-step recorder that also keeps each env's finished-episode returns."""

    def __init__(self) -> None:
        super().__init__()
        self.returns: list[list[float]] = []

    def _on_rollout_start(self) -> None:
        super()._on_rollout_start()
        self.returns = [[] for _ in range(self.model.n_envs)]

    def _on_step(self) -> bool:
        _gather_returns(self.locals["infos"], self.returns)
        return super()._on_step()


class _AntagonistRecorder(BaseCallback):
    """Each env's finished-episode returns during one antagonist rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.returns: list[list[float]] = []

    def _on_rollout_start(self) -> None:
        self.returns = [[] for _ in range(self.model.n_envs)]

    def _on_step(self) -> bool:
        _gather_returns(self.locals["infos"], self.returns)
        return True


class PAIREDPPO(UEDPPO):
    """The protagonist PPO of PAIRED / REPAIRED, owning the antagonist; see the module doc.

    Takes every ``UEDPPO`` / ``PPO`` argument plus:

    Args:
        antagonist_env: a VecEnv of ``TaskQueueWrapper`` envs (``Monitor`` on top is fine) with
            as many envs as ``env``.
        antagonist: a ready ``PPO`` for the antagonist (its env is set to ``antagonist_env``);
            default: a ``PPO`` with this model's policy and PPO settings (seed + 1).
        level_check: ``level_check(level) -> bool`` for ``paired/solvable_share`` (e.g.
            :func:`maze_level_check`); None: not logged.
    """

    def __init__(
        self,
        policy: Any,
        env: Any,
        teacher: Teacher,
        antagonist_env: Any,
        antagonist: PPO | None = None,
        level_check: Callable[[Hashable], bool] | None = None,
        **ppo_kwargs: Any,
    ):
        if not callable(getattr(teacher, "update_regrets", None)):
            raise ValueError(
                f"teacher {teacher.name!r} takes no regrets; PAIREDPPO needs paired or repaired"
            )
        super().__init__(policy, env, teacher=teacher, **ppo_kwargs)
        if antagonist_env.num_envs != self.n_envs:
            raise ValueError(
                f"antagonist_env has {antagonist_env.num_envs} envs, the protagonist {self.n_envs}"
            )
        if antagonist is None:
            antagonist_kwargs = {
                key: value for key, value in ppo_kwargs.items() if key not in _PROTAGONIST_ONLY
            }
            seed = ppo_kwargs.get("seed")
            antagonist = PPO(
                policy,
                antagonist_env,
                seed=None if seed is None else int(seed) + 1,
                **antagonist_kwargs,
            )
        else:
            antagonist.set_env(antagonist_env)
        antagonist.set_logger(Logger(folder=None, output_formats=[]))
        self.antagonist = antagonist
        self.antagonist_env = antagonist_env
        self.level_check = level_check
        self.antagonist_steps = 0
        self.antagonist_grad_updates = 0
        # The regrets reported per iteration, the last 10,000 (bounded for long runs).
        self.regret_history: deque[list[float]] = deque(maxlen=10_000)
        self._recorder = _ProtagonistRecorder()
        self._antagonist_recorder = _AntagonistRecorder()
        self._antagonist_callback: BaseCallback | None = None
        self._antagonist_played = False

    def _excluded_save_params(self) -> list[str]:
        return [
            *super()._excluded_save_params(),
            "antagonist",
            "antagonist_env",
            "level_check",
            "regret_history",
            "_antagonist_recorder",
            "_antagonist_callback",
        ]

    def save_antagonist(self, path: Any) -> None:
        """Save the antagonist ``PPO`` (``PPO.load(path)`` reads it back)."""
        self.antagonist.save(path)

    # ----------------------------------------------------------------------------- rollouts
    def _finish_rollout(self, last_values: torch.Tensor) -> None:
        super()._finish_rollout(last_values)  # PLR scores from the protagonist (REPAIRED)
        self._antagonist_played = False
        n_steps = len(self._recorder.rewards)
        if not self._levels or n_steps == 0:
            return
        antagonist_returns = self._run_antagonist(n_steps)
        self._report_regrets(self._recorder.returns, antagonist_returns)

    @property
    def antagonist_started(self) -> bool:
        """Whether the antagonist's learning session (:meth:`start_antagonist`) has begun."""
        return self._antagonist_callback is not None

    def start_antagonist(self) -> None:
        """Begin the antagonist's learning session once: SB3's ``_setup_learn`` (its callback,
        zeroed counters and a first reset of its envs). The first rollout does it; a resumed
        run calls it before putting the antagonist's saved state back."""
        if self._antagonist_callback is None:
            _, self._antagonist_callback = self.antagonist._setup_learn(
                total_timesteps=1, callback=self._antagonist_recorder, tb_log_name="antagonist"
            )

    def _run_antagonist(self, n_steps: int) -> list[list[float]]:
        antagonist, env = self.antagonist, self.antagonist_env
        self.start_antagonist()
        for index, level in enumerate(self._levels):
            env.env_method("set_tasks", [level], indices=[index])
        antagonist._last_obs = env.reset()
        antagonist._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
        before = antagonist.num_timesteps
        antagonist.collect_rollouts(
            env, self._antagonist_callback, antagonist.rollout_buffer, n_rollout_steps=n_steps
        )
        steps = antagonist.num_timesteps - before
        self._antagonist_played = True
        self.num_timesteps += steps
        self.antagonist_steps += steps
        if self._train_next:
            self.steps_trained += steps
        else:
            self.steps_no_grad += steps
        self.logger.record("paired/antagonist_steps", self.antagonist_steps)
        return self._antagonist_recorder.returns

    def _report_regrets(
        self, protagonist_returns: list[list[float]], antagonist_returns: list[list[float]]
    ) -> None:
        groups: dict[Hashable, list[int]] = {}
        for index, level in enumerate(self._levels):
            groups.setdefault(level, []).append(index)
        per_level = {}
        for level, envs in groups.items():
            protagonist = [r for i in envs for r in protagonist_returns[i]]
            antagonist = [r for i in envs for r in antagonist_returns[i]]
            per_level[level] = (
                paired_regret(antagonist, protagonist),
                float(np.mean(protagonist)) if protagonist else 0.0,
                max(antagonist) if antagonist else 0.0,
            )
        regrets = [per_level[level][0] for level in self._levels]
        self.teacher.update_regrets(list(self._levels), regrets)
        self.regret_history.append(regrets)
        self.logger.record("paired/regret_mean", float(np.mean(regrets)))
        self.logger.record(
            "paired/protagonist_return", float(np.mean([v[1] for v in per_level.values()]))
        )
        self.logger.record(
            "paired/antagonist_return", float(np.mean([v[2] for v in per_level.values()]))
        )
        if self.level_check is not None:
            solvable = [bool(self.level_check(level)) for level in self._levels]
            self.logger.record("paired/solvable_share", float(np.mean(solvable)))

    # ----------------------------------------------------------------------------- training
    def train(self) -> None:
        trained = self._train_next
        super().train()
        if trained and self._antagonist_played:
            self.antagonist._current_progress_remaining = self._current_progress_remaining
            self.antagonist.train()
            self.antagonist_grad_updates += 1
            self.logger.record("paired/antagonist_grad_updates", self.antagonist_grad_updates)

    def budget(self) -> dict[str, int]:
        """UEDPPO's budget plus the antagonist's env steps and PPO iterations trained (its steps
        are already inside ``env_steps``)."""
        return {
            **super().budget(),
            "antagonist_steps": int(self.antagonist_steps),
            "antagonist_grad_updates": int(self.antagonist_grad_updates),
        }


def make_paired_model(
    make_env: Callable[[], Any],
    n_envs: int,
    teacher: Teacher,
    seed: int | None = None,
    level_check: Callable[[Hashable], bool] | None = None,
    policy: Any = "MlpPolicy",
    **ppo_kwargs: Any,
) -> PAIREDPPO:
    """Both students' vec envs (each env ``Monitor(TaskQueueWrapper(make_env()))``) and the
    :class:`PAIREDPPO` over them. The teacher's adversary must propose ``n_envs`` levels."""

    def wrapped() -> Monitor:
        return Monitor(TaskQueueWrapper(make_env()))

    env = DummyVecEnv([wrapped] * int(n_envs))
    antagonist_env = DummyVecEnv([wrapped] * int(n_envs))
    return PAIREDPPO(
        policy,
        env,
        teacher=teacher,
        antagonist_env=antagonist_env,
        level_check=level_check,
        seed=seed,
        **ppo_kwargs,
    )
