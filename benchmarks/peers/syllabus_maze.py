"""Peer row for the maze UED benchmark: Syllabus's own PLR driving our SB3 PPO student.

Syllabus (``syllabus-rl``, RyanNavillus/Syllabus; Sullivan et al., RLC 2025) runs its PLR on a
finite ``Discrete`` task space, Procgen-style: task ``i`` is the level that our maze generator
(:func:`autocurr.envs.maze.generate_level`, 9 x 9, ``Uniform{0..20}`` walls) makes from
``numpy.random.default_rng(i)``, for ``i`` in a fixed pool of ``pool_size`` level seeds, the same
pool for every run seed (Procgen trains every seed on levels ``0..199``).

Integration (Syllabus's documented path for SB3 and PLR, see its docs page "Prioritized Level
Replay", tab "Stable Baselines 3"):

- ``CentralPrioritizedLevelReplay`` in the trainer process, wrapped by
  ``make_multiprocessing_curriculum`` (its curriculum thread answers the workers' task requests);
- each env in an SB3 ``SubprocVecEnv`` worker (fork, as Syllabus's own examples fork their
  ``AsyncVectorEnv``) is ``Monitor(GymnasiumSyncWrapper(MazeSeedTaskWrapper(maze)))``; the
  sync wrapper pulls the next task at every reset (``buffer_size=1``, its default);
- an SB3 callback feeds PLR the values, next values, rewards, dones and tasks of every vector
  step, as the docs' ``PLRCallback`` does.

The documents name two other PLR classes: ``PrioritizedLevelReplay`` (async, needs an
``Evaluator`` to recompute every value; Syllabus ships none for SB3, and it doubles inference) and
``DirectPrioritizedLevelReplay`` (broken in 0.7: its ``update`` calls a missing method). The
docs advise ``CentralPrioritizedLevelReplay`` "for better performance", and it is the one they
show with SB3.

Settings: the PPO student is exactly our trainer's (``autocurr.agents.train.ppo_settings``:
lr 3e-4, 128 steps x 8 envs, minibatch 256, 4 epochs, gamma 0.99, GAE 0.95, entropy 0.01, clip
0.2, MLP 128-128 for policy and value, one torch thread, CPU). PLR: the ``TaskSampler`` defaults
(strategy ``value_l1``, rank transform, temperature 0.1, staleness coef 0.1, power staleness
transform, rho 1.0, alpha 1.0) with these changes, each required by our setting or by a 0.7 bug:

- ``num_steps=128``, ``num_processes=8``, ``gamma=0.99``, ``gae_lambda=0.95`` (Syllabus defaults
  256 / 64 / 0.999 / 0.95): Syllabus's docs say to pass the trainer's own values.
- ``replay_schedule="fixed"`` (default ``"proportionate"``): with the default, once every level
  has been seen, ``TaskSampler.sample`` hands the non-replay draws to a Robust-PLR evaluator that
  only exists with ``robust_plr=True`` and raises ``AttributeError`` in the curriculum thread
  (peers.md §1.7 item 1), after which every worker times out. With rho = 1.0 both schedules
  sample unseen levels until the pool is covered and then return only replay levels (the default
  path discards its non-replay draws after sending them to the missing evaluator), so ``fixed``
  returns the same tasks the default intends.

Runtime workarounds for release 0.7 (no file of Syllabus is changed):

- ``np.seterr(all="raise")`` at Syllabus's import (``plr/task_sampler.py``, peers.md §1.7 item
  5): the previous numpy error state is restored right after the import, so our PPO and
  evaluation run under the same numpy settings as the other rows.
- Worker hang at shutdown (peers.md §1.7 item 4): every worker task fetch puts its wait time on
  a queue that only ``get_metrics()`` drains; the callback drains it after every rollout and
  once more before the vector env closes.
- ``CurriculumSyncWrapper.start`` installs its own SIGINT handler; the previous one is put back.

The NumPy-2 comparison bug of ``Curriculum.sample`` (peers.md §1.1) does not apply:
``CentralPrioritizedLevelReplay`` overrides ``sample``.

Pool size 4,000: the level-buffer size of dcd's MiniGrid maze configs for PLR and PLR⊥
(``mg_25b_plr.json``, ``mg_25b_robust_plr.json``; teachers-regret-ued.md §11). With rho = 1.0
Syllabus's PLR first plays every level of the pool once (4,000 episodes; 178k env steps, 15% of
the 1.2M-step budget, in the seed-1 pilot), then replays only; a much larger pool would leave
little budget for replay, a smaller one less diversity than our 1,000-level buffers that keep
admitting fresh levels.

Not reproducible bit for bit: Syllabus samples from numpy's global RNG in its curriculum thread
while SB3 uses the same RNG in the main thread (Syllabus PR #40), and the thread has no lock
against the main thread's ``update`` (peers.md §1.8).

Environment steps are counted as SB3's ``num_timesteps``, as in our runs; the held-out
evaluation is :func:`autocurr.agents.train.evaluate_model` (``summary["held_out"]`` of our runs).
"""

from __future__ import annotations

import importlib.metadata
import json
import signal
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

#: Level seeds in the pool (see the module docstring).
DEFAULT_POOL_SIZE = 4000
#: ``TaskSampler`` arguments that differ from Syllabus's defaults (see the module docstring).
TASK_SAMPLER_CHANGES: dict[str, Any] = {"replay_schedule": "fixed"}
#: ``GymnasiumSyncWrapper`` settings: Syllabus's defaults, written out for the record.
SYNC_WRAPPER_SETTINGS: dict[str, Any] = {"batch_size": 100, "buffer_size": 1}


def pool_level(task: int, size: Any = 9, max_walls: int = 20) -> Any:
    """The maze level of level seed ``task``: our DR generator seeded with ``task``."""
    from autocurr.envs.maze import generate_level

    return generate_level(np.random.default_rng(int(task)), size=size, max_walls=max_walls)


def _import_syllabus() -> dict[str, Any]:
    """Syllabus's objects, with its import-time ``np.seterr(all="raise")`` undone."""
    previous = np.geterr()
    try:
        from syllabus.core import (
            GymnasiumSyncWrapper,
            TaskWrapper,
            make_multiprocessing_curriculum,
        )
        from syllabus.curricula import CentralPrioritizedLevelReplay
        from syllabus.task_space import DiscreteTaskSpace
    finally:
        np.seterr(**previous)  # Syllabus 0.7 bug: global numpy error mode changed at import
    return {
        "GymnasiumSyncWrapper": GymnasiumSyncWrapper,
        "TaskWrapper": TaskWrapper,
        "make_multiprocessing_curriculum": make_multiprocessing_curriculum,
        "CentralPrioritizedLevelReplay": CentralPrioritizedLevelReplay,
        "DiscreteTaskSpace": DiscreteTaskSpace,
    }


def _make_task_wrapper_class(task_wrapper: type) -> type:
    class MazeSeedTaskWrapper(task_wrapper):
        """Syllabus task wrapper: task ``i`` plays :func:`pool_level` ``(i)`` at the next reset."""

        def __init__(self, env: Any, task_space: Any):
            super().__init__(env)
            self.task_space = task_space
            maze = env.unwrapped
            self._level = lru_cache(maxsize=None)(
                lambda task: pool_level(task, maze.size, maze.max_walls)
            )

        def change_task(self, new_task: Any) -> None:
            task = int(new_task)
            self.env.unwrapped.set_next_level(self._level(task))
            self.task = task

    return MazeSeedTaskWrapper


def _env_factory(pool_size: int, components: Any, env_kwargs: dict[str, Any]):
    def make_env() -> Any:
        import gymnasium as gym
        from stable_baselines3.common.monitor import Monitor

        import autocurr  # noqa: F401  (registers autocurr/Maze-v0)
        from autocurr.agents.tasks import MAZE_ENV_ID

        syllabus = _import_syllabus()
        task_space = syllabus["DiscreteTaskSpace"](pool_size)
        wrapper = _make_task_wrapper_class(syllabus["TaskWrapper"])
        env = wrapper(gym.make(MAZE_ENV_ID, **env_kwargs), task_space)
        env = syllabus["GymnasiumSyncWrapper"](
            env, task_space, components, **SYNC_WRAPPER_SETTINGS
        )
        return Monitor(env)

    return make_env


def _plr_callback(curriculum: Any, components: Any, pool_size: int):
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    class SyllabusPLRCallback(BaseCallback):
        """Syllabus's documented SB3 ``PLRCallback``, plus a record of the played tasks."""

        def __init__(self) -> None:
            super().__init__()
            self.task_counts = np.zeros(pool_size, dtype=np.int64)
            self.out_of_pool: list[Any] = []
            self.episodes: list[tuple[int, int, float]] = []  # (timesteps, task, return)

        def _on_step(self) -> bool:
            infos = self.locals["infos"]
            tasks = [info["task"] for info in infos]
            obs_tensor = self.model.policy.obs_to_tensor(self.locals["new_obs"])[0]
            with torch.no_grad():
                next_value = self.model.policy.predict_values(obs_tensor)
            curriculum.update(
                {
                    "value": self.locals["values"],
                    "next_value": next_value,
                    "rew": self.locals["rewards"],
                    "dones": self.locals["dones"],
                    "tasks": tasks,
                }
            )
            for i in np.flatnonzero(self.locals["dones"]):
                task = tasks[i]
                if isinstance(task, (int, np.integer)) and 0 <= task < pool_size:
                    self.task_counts[task] += 1
                else:
                    self.out_of_pool.append(task)
                episode_return = float(infos[i].get("episode", {}).get("r", np.nan))
                self.episodes.append((int(self.num_timesteps), int(task), episode_return))
            return True

        def _on_rollout_end(self) -> None:
            # Syllabus 0.7 bug (peers.md §1.7 item 4): workers block at exit unless the queue of
            # task wait times is drained; its log_metrics path does it through get_metrics().
            components.get_metrics()

    return SyllabusPLRCallback()


def _task_summary(counts: np.ndarray, out_of_pool: list[Any]) -> dict[str, Any]:
    """Histogram summary of the tasks played (one count per finished episode)."""
    total = int(counts.sum())
    ordered = np.sort(counts)[::-1]
    played = np.flatnonzero(counts)
    top = np.argsort(counts, kind="stable")[::-1][:10]

    def share_of_top(fraction: float) -> float:
        k = max(1, round(fraction * counts.size))
        return float(ordered[:k].sum() / total) if total else 0.0

    return {
        "pool_size": int(counts.size),
        "episodes": total,
        "distinct_tasks": int(played.size),
        "min_task": int(played.min()) if played.size else None,
        "max_task": int(played.max()) if played.size else None,
        "out_of_pool": [str(task) for task in out_of_pool[:10]],
        "out_of_pool_count": len(out_of_pool),
        "top_tasks": [[int(t), int(counts[t])] for t in top if counts[t] > 0],
        "episode_share_top_1pct": share_of_top(0.01),
        "episode_share_top_10pct": share_of_top(0.10),
        "max_count": int(ordered[0]) if ordered.size else 0,
        "median_count": float(np.median(counts)) if counts.size else 0.0,
    }


def _covered_at(episodes: list[tuple[int, int, float]], pool_size: int) -> int | None:
    """Env steps when the last level of the pool finished its first episode (None: never)."""
    seen: set[int] = set()
    for steps, task, _ in episodes:
        seen.add(task)
        if len(seen) == pool_size:
            return steps
    return None


def _training_curve(episodes: list[tuple[int, int, float]]) -> list[dict[str, Any]]:
    """Success rate (return > 0) and mean return of the training episodes, per quarter."""
    quarters = []
    n = len(episodes)
    for k in range(4):
        chunk = episodes[k * n // 4 : (k + 1) * n // 4]
        if not chunk:
            continue
        returns = np.array([r for _, _, r in chunk], dtype=np.float64)
        quarters.append(
            {
                "first_step": chunk[0][0],
                "last_step": chunk[-1][0],
                "episodes": len(chunk),
                "success_rate": float(np.mean(returns > 0)),
                "mean_return": float(np.mean(returns)),
            }
        )
    return quarters


def _versions() -> dict[str, str]:
    from autocurr.agents.train import versions

    return {**versions(), "syllabus-rl": importlib.metadata.version("syllabus-rl")}


def train_syllabus_plr(
    seed: int,
    timesteps: int,
    run_dir: Path,
    n_envs: int = 8,
    eval_episodes: int = 20,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train our SB3 PPO student on the maze with Syllabus's CentralPLR choosing level seeds
    from a pool of ``pool_size``; save ``run_dir/model.zip``; run our held-out evaluation.

    Returns a JSON-ready dict (also written to ``run_dir/summary.json``): ``total_timesteps``,
    ``steps_per_second``, ``train_time_s``, ``wall_time_s``, ``held_out`` (our summary's shape),
    ``versions`` (with ``syllabus-rl``), ``syllabus`` (every PLR and sync setting and the
    changes from Syllabus's defaults), ``ppo``, ``tasks`` (histogram summary of the played level
    seeds), ``training_curve``, ``teacher`` (``name`` and ``hyperparameters``, as our records).
    """
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from autocurr.agents.tasks import resolve_preset
    from autocurr.agents.train import TrainConfig, evaluate_model, ppo_settings

    if timesteps < 1 or n_envs < 1 or pool_size < 1 or eval_episodes < 0:
        raise ValueError("timesteps, n_envs and pool_size must be >= 1, eval_episodes >= 0")
    started_wall = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    env_kwargs = dict(env_kwargs or {})
    torch.set_num_threads(1)  # as our trainer: one intra-op thread on CPU

    config = TrainConfig(n_envs=n_envs, seed=seed, timesteps=timesteps, env_kwargs=env_kwargs)
    preset = resolve_preset(config.env_id, None, None)
    ppo = ppo_settings(config, preset)
    syllabus = _import_syllabus()
    task_space = syllabus["DiscreteTaskSpace"](pool_size)
    plr_kwargs = {
        "num_steps": ppo["n_steps"],
        "num_processes": n_envs,
        "gamma": ppo["gamma"],
        "gae_lambda": ppo["gae_lambda"],
    }
    plr = syllabus["CentralPrioritizedLevelReplay"](
        task_space, task_sampler_kwargs_dict=dict(TASK_SAMPLER_CHANGES), **plr_kwargs
    )
    curriculum = syllabus["make_multiprocessing_curriculum"](plr, start=False)
    components = curriculum.components
    # Workers fork before the curriculum thread starts, so no thread runs across the fork.
    vec_env = SubprocVecEnv(
        [_env_factory(pool_size, components, env_kwargs) for _ in range(n_envs)],
        start_method="fork",
    )
    try:
        model = PPO("MlpPolicy", vec_env, device="cpu", seed=seed, verbose=0, **ppo)
        sigint = signal.getsignal(signal.SIGINT)
        curriculum.start()
        signal.signal(signal.SIGINT, sigint)  # start() replaces the SIGINT handler
        callback = _plr_callback(plr, components, pool_size)
        started = time.perf_counter()
        model.learn(timesteps, callback=callback, progress_bar=False)
        train_seconds = time.perf_counter() - started
        model.save(run_dir / "model.zip")
        components.get_metrics()  # drain once more before the workers exit (bug #4)
    finally:
        vec_env.close()
        if curriculum.update_thread is not None:
            curriculum.stop()

    held_out = None
    if eval_episodes:
        held_out = evaluate_model(
            model, preset, episodes=eval_episodes, seed=seed, env_kwargs=env_kwargs
        )
    sampler = plr._task_sampler
    settings = {
        "curriculum": "CentralPrioritizedLevelReplay",
        "pool_size": pool_size,
        "level_of_task": "autocurr.envs.maze.generate_level(np.random.default_rng(task))",
        **plr_kwargs,
        "task_sampler": {
            key: getattr(sampler, key)
            for key in (
                "strategy",
                "replay_schedule",
                "score_transform",
                "temperature",
                "eps",
                "rho",
                "replay_prob",
                "alpha",
                "staleness_coef",
                "staleness_transform",
                "staleness_temperature",
                "max_score_coef",
            )
        },
        "sync_wrapper": {**SYNC_WRAPPER_SETTINGS, "vec_env": "SubprocVecEnv(fork)"},
        "changed_from_syllabus_defaults": {
            "num_steps": [256, plr_kwargs["num_steps"]],
            "num_processes": [64, n_envs],
            "gamma": [0.999, plr_kwargs["gamma"]],
            "gae_lambda": [0.95, plr_kwargs["gae_lambda"]],
            "replay_schedule": ["proportionate", "fixed"],
        },
        "workarounds": [
            "np.seterr restored after import (0.7 sets all='raise' at import)",
            "components.get_metrics() after every rollout (worker hang at exit otherwise)",
            "SIGINT handler restored after CurriculumSyncWrapper.start()",
            "replay_schedule='fixed' (default crashes without robust_plr once all seen)",
        ],
        "proportion_seen": float(sampler.metrics()["proportion_seen"]),
        "curriculum_samples": int(plr.num_samples),
        "curriculum_updates": int(plr.num_updates),
    }
    counts = callback.task_counts
    np.save(run_dir / "task_counts.npy", counts)
    result = {
        "method": "syllabus-plr",
        "seed": seed,
        "run_dir": str(run_dir),
        "total_timesteps": int(model.num_timesteps),
        "steps_per_second": model.num_timesteps / train_seconds,
        "train_time_s": train_seconds,
        "wall_time_s": time.perf_counter() - started_wall,
        "held_out": held_out,
        "versions": _versions(),
        "syllabus": settings,
        "teacher": {"name": "syllabus-plr", "hyperparameters": settings},
        "ppo": ppo,
        "n_envs": n_envs,
        "tasks": {
            **_task_summary(counts, callback.out_of_pool),
            "pool_covered_at_step": _covered_at(callback.episodes, pool_size),
        },
        "training_curve": _training_curve(callback.episodes),
    }
    (run_dir / "summary.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result
