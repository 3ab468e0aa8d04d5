"""Train an SB3 PPO student on a teacher's curriculum, then test it on held-out tasks.

This is what ``autocurr train`` and ``autocurr eval`` run; it is importable too::

    from autocurr.agents.train import TrainConfig, train
    summary = train(TrainConfig(teacher="exp3", timesteps=200_000))

Setup: ``n_envs`` copies of the environment in one ``DummyVecEnv``, each wrapped as
``Monitor(CurriculumWrapper(env, teacher, apply_task))``. All wrappers share ONE teacher object in
the learner process, so every finished episode updates the same curriculum and no state has to
cross process boundaries. :mod:`autocurr.agents.tasks` decides what a task means for each env.

PPO defaults follow the maze students of the UED literature (PAIRED, Dennis et al. 2020; PLR,
Jiang et al. 2021), shrunk to an MLP on the agent-centred view: two hidden layers of 128 for
policy and value, 128 steps per env per rollout, minibatches of 256, 4 epochs, lr 3e-4,
gamma 0.99, GAE lambda 0.95, entropy bonus 0.01. A preset may replace them for its env
(``EnvPreset.ppo_defaults``; the point mass uses SPDL / CURROT's settings); ``ppo_kwargs``
override both.

Continuous task spaces (a ``Box``, e.g. the point mass's gate): every finished episode's task,
signal and success are kept (``EpisodeLog``), written to ``sampled_tasks.csv`` and drawn in
``task_distribution.png`` as 2-D histograms of the sampled tasks per quarter of training plus
each dimension's median and 10-90% band over time.

Resuming a run (``autocurr train --resume RUN_DIR``, :func:`resume`): see
:mod:`autocurr.agents.checkpoint`, which also says what a resumed run repeats exactly and what not.

Requires the ``sb3`` extra (stable-baselines3, torch, tensorboard, matplotlib, tqdm, rich).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import autocurr
from autocurr.agents.checkpoint import (
    CHECKPOINT_DIR,
    Checkpointer,
    RunLock,
    SB3Session,
    TrainingInterrupted,
    cut_logs_after,
    find_checkpoint,
    with_rollout_boundary,
)
from autocurr.agents.evaluation import evaluate_held_out
from autocurr.agents.plots import plot_learning_curve, plot_task_distribution
from autocurr.agents.tasks import (
    LEVEL_STARTS,
    MAZE_ENV_ID,
    EnvPreset,
    HeldOutCase,
    level_preset,
    resolve_preset,
)
from autocurr.integrations.sb3 import (
    CurriculumCallback,
    CurriculumCheckpointCallback,
    save_teacher_state,
)
from autocurr.integrations.sb3_ued import UEDPPO, is_level_teacher
from autocurr.spaces import Box
from autocurr.teachers import Teacher, available, make_teacher, teacher_class

__all__ = [
    "DEFAULT_TIMESTEPS",
    "PPO_DEFAULTS",
    "EpisodeLog",
    "TrainConfig",
    "TrainingInterrupted",
    "check_config",
    "check_eval_inputs",
    "check_resume",
    "evaluate",
    "evaluate_model",
    "find_checkpoint",
    "load_run_config",
    "plot_sampled_tasks",
    "ppo_settings",
    "resume",
    "train",
]

#: Default length of ``autocurr train``: the default maze job runs about 3 minutes at ~11k
#: steps/s on 2 CPU cores. Training success climbs from ~0.35 to ~0.9 in the first ~300k steps;
#: the rest lets the teacher's distribution settle on the longest paths.
DEFAULT_TIMESTEPS = 2_000_000

PPO_DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "n_steps": 128,
    "batch_size": 256,
    "n_epochs": 4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "ent_coef": 0.01,
    "clip_range": 0.2,
    "policy_kwargs": {"net_arch": {"pi": [128, 128], "vf": [128, 128]}},
}

#: PPO arguments that ``ppo_kwargs`` may set besides the ones in ``PPO_DEFAULTS``.
#: Level generator of each regret-based teacher when ``--levels`` is not given: ACCEL grows its
#: levels from empty rooms (reference teachers-regret-ued.md §8), the others start from DR levels.
LEVEL_TEACHER_START = {"accel": "empty"}
#: Teachers whose new levels come from a learned adversary (built by ``_default_adversary``).
ADVERSARY_TEACHERS = ("paired", "repaired")

EXTRA_PPO_SETTINGS = frozenset({"vf_coef", "max_grad_norm", "normalize_advantage", "target_kl"})
DEVICES = ("auto", "cpu", "cuda")
AGENTS = ("sb3-ppo", "ppo-batched")
#: Resumable checkpoints go every 10% of the budget, but at least this often (in env steps).
MAX_CHECKPOINT_EVERY = 50_000


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved as ``config.json``)."""

    env_id: str = "autocurr/Maze-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    teacher: str = "exp3"
    teacher_kwargs: dict[str, Any] = field(default_factory=dict)
    task_param: str | None = None
    task_values: list[Any] | None = None
    timesteps: int = DEFAULT_TIMESTEPS
    n_envs: int = 8
    seed: int = 0
    device: str = "auto"
    logdir: str = "runs"
    run_name: str | None = None
    eval_episodes: int = 10
    eval_deterministic: bool = False
    progress: bool = True
    checkpoint_freq: int = 0
    #: Steps between the resumable checkpoints in ``<run>/checkpoint/`` (see :func:`resume`);
    #: ``None``: 10% of ``timesteps``, at most ``MAX_CHECKPOINT_EVERY``; ``0``: only when stopped
    #: by Ctrl-C / SIGTERM and at the end of training.
    checkpoint_every: int | None = None
    ppo_kwargs: dict[str, Any] = field(default_factory=dict)
    #: Train on the env's open-ended level space: ``"random"`` (its generator, i.e. domain
    #: randomisation for ``uniform``) or ``"empty"`` (empty rooms). ``None``: ``"empty"`` for
    #: ``accel``, ``"random"`` for the other regret-based teachers, off for the rest.
    levels: str | None = None
    #: Keyword arguments of the env's level space, e.g. ``{"solvable_mutations": True}`` or
    #: ``{"n_edits": 10}`` for the maze (:func:`autocurr.envs.maze.maze_levels`).
    level_kwargs: dict[str, Any] = field(default_factory=dict)
    #: Regret-based teachers: report the true regret from the env's known optimum instead of
    #: the teacher's score (a diagnostic upper bound; the maze only).
    oracle_score: bool = False
    #: ``"sb3-ppo"`` (SB3 PPO on a DummyVecEnv) or ``"ppo-batched"`` (the batched torch PPO of
    #: :mod:`autocurr.agents.ppo_batched` on ``BatchedMaze``; maze only, ``n_envs`` >= 64 advised).
    agent: str = "sb3-ppo"

    def validate(self) -> None:
        """Raise ``ValueError`` for settings that cannot run."""
        for name, minimum in (
            ("timesteps", 1),
            ("n_envs", 1),
            ("eval_episodes", 0),
            ("checkpoint_freq", 0),
        ):
            if getattr(self, name) < minimum:
                raise ValueError(f"{name} must be >= {minimum}, got {getattr(self, name)}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        unknown = set(self.ppo_kwargs) - set(PPO_DEFAULTS) - EXTRA_PPO_SETTINGS
        if unknown:
            raise ValueError(f"unsupported PPO settings {sorted(unknown)}")
        if self.agent not in AGENTS:
            raise ValueError(f"agent must be one of {AGENTS}, got {self.agent!r}")
        if self.level_kwargs and self.level_start() is None:
            raise ValueError("level_kwargs need a level space (--levels or a regret-based teacher)")
        if self.levels is not None and self.levels not in LEVEL_STARTS:
            raise ValueError(f"levels must be one of {LEVEL_STARTS} or None, got {self.levels!r}")
        if self.checkpoint_every is not None and self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")

    def checkpoint_interval(self) -> int:
        """Steps between resumable checkpoints; 0: only on Ctrl-C / SIGTERM and at the end."""
        if self.checkpoint_every is not None:
            return self.checkpoint_every
        return max(1, min(MAX_CHECKPOINT_EVERY, self.timesteps // 10))

    def level_start(self) -> str | None:
        """The level generator this run trains on, or None for the preset's own task space."""
        if self.levels is not None:
            return self.levels
        if self.teacher in available() and hasattr(teacher_class(self.teacher), "should_train"):
            return LEVEL_TEACHER_START.get(self.teacher, "random")
        return None

    def default_run_name(self) -> str:
        return sanitize_run_name(f"{self.env_id}-{self.teacher}-s{self.seed}")


def sanitize_run_name(name: str) -> str:
    """``"autocurr/Maze-v0-exp3-s0"`` -> ``"autocurr-Maze-v0-exp3-s0"``: safe as one directory."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if not cleaned:
        raise ValueError(f"run name {name!r} has no usable characters")
    return cleaned


# ------------------------------------------------------------------------------------ setup


def resolve_device(device: str) -> str:
    """The torch device for the PPO student.

    ``auto`` means CPU: a PPO MLP is faster on CPU than on a GPU (SB3 warns about exactly this,
    DLR-RM/stable-baselines3#1245), since every env step needs a tiny forward pass. ``cuda``
    must be available.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"--device cuda, but CUDA is not available to torch {torch.__version__} "
            "(a CPU-only build, or no GPU); use --device cpu"
        )
    return "cuda" if device == "cuda" else "cpu"


def build_teacher(config: TrainConfig, preset: EnvPreset, seed: np.random.SeedSequence) -> Teacher:
    kwargs = dict(config.teacher_kwargs)
    if config.teacher in ADVERSARY_TEACHERS and "adversary_config" not in kwargs:
        kwargs["adversary_config"] = _default_adversary(config, preset)
    try:
        return make_teacher(config.teacher, preset.space, seed=seed, **kwargs)
    except TypeError as error:  # an unexpected keyword argument
        raise ValueError(f"bad --teacher-kwargs for teacher {config.teacher!r}: {error}") from None


def _default_adversary(config: TrainConfig, preset: EnvPreset) -> tuple[str, dict[str, Any]]:
    """PAIRED's maze adversary (an SB3 PPO level builder) for the run's level space."""
    if preset.env_id != MAZE_ENV_ID:
        raise ValueError(
            f"{config.teacher} needs a level-building adversary; autocurr ships one for "
            f"{MAZE_ENV_ID} only (pass adversary_config= for other envs)"
        )
    levels = preset.space.to_config()["kwargs"]
    return (
        "autocurr.integrations.sb3_paired:make_maze_adversary",
        {
            "size": levels["size"],
            "n_walls": levels["max_walls"],
            "batch_size": config.n_envs,
            "seed": config.seed,
        },
    )


def make_curriculum_vec_env(
    preset: EnvPreset,
    teacher: Teacher,
    env_seeds: list[np.random.SeedSequence],
    monitor_dir: Path,
    env_kwargs: dict[str, Any] | None = None,
    append_monitor: bool = False,
) -> DummyVecEnv:
    """One ``Monitor(CurriculumWrapper(env))`` per seed, all sharing ``teacher``; for a
    regret-based teacher ``Monitor(TaskQueueWrapper(env))``, whose levels ``UEDPPO`` assigns.
    ``append_monitor`` continues existing Monitor CSVs (a resumed run) instead of replacing them."""
    monitor_dir.mkdir(parents=True, exist_ok=True)
    per_rollout = is_level_teacher(teacher)

    def make_env(index: int) -> gym.Env:
        env = gym.make(preset.env_id, **(env_kwargs or {}))
        apply_task = preset.make_apply_task(np.random.default_rng(env_seeds[index]))
        if per_rollout:
            env = autocurr.TaskQueueWrapper(env, apply_task=apply_task)
        else:
            env = autocurr.CurriculumWrapper(env, teacher, apply_task=apply_task)
        filename = str(monitor_dir / f"env_{index}")
        return Monitor(env, filename=filename, override_existing=not append_monitor)

    return DummyVecEnv([lambda index=index: make_env(index) for index in range(len(env_seeds))])


def ppo_settings(config: TrainConfig, preset: EnvPreset) -> dict[str, Any]:
    """PPO arguments of a run: the trainer's defaults, then the preset's, then ``ppo_kwargs``.

    A preset with ``rollout_steps`` fixes the steps per PPO iteration summed over the envs, so
    ``n_steps = rollout_steps // n_envs`` (unless ``ppo_kwargs`` sets ``n_steps``).
    """
    settings = {**PPO_DEFAULTS, **preset.ppo_defaults}
    if preset.rollout_steps is not None:
        settings["n_steps"] = max(1, preset.rollout_steps // config.n_envs)
    settings.update(config.ppo_kwargs)
    # A rollout smaller than one minibatch would make SB3 warn and truncate; use it whole.
    settings["batch_size"] = min(settings["batch_size"], settings["n_steps"] * config.n_envs)
    return settings


def build_ppo(
    vec_env: DummyVecEnv,
    config: TrainConfig,
    device: str,
    preset: EnvPreset,
    teacher: Teacher | None = None,
    antagonist_env: DummyVecEnv | None = None,
) -> PPO:
    """SB3 PPO; :class:`~autocurr.integrations.sb3_ued.UEDPPO` for a regret-based teacher;
    :class:`~autocurr.integrations.sb3_paired.PAIREDPPO` (with an antagonist on
    ``antagonist_env``) for PAIRED and REPAIRED."""
    settings = ppo_settings(config, preset)
    common = {"device": device, "seed": config.seed, "verbose": 0, **settings}
    optimal = preset.optimal_return(config.env_kwargs) if preset.optimal_return else None
    if antagonist_env is not None:
        from autocurr.integrations.sb3_paired import PAIREDPPO, maze_level_check

        return with_rollout_boundary(PAIREDPPO)(
            "MlpPolicy",
            vec_env,
            teacher=teacher,
            antagonist_env=antagonist_env,
            level_check=maze_level_check if preset.env_id == MAZE_ENV_ID else None,
            level_features=preset.level_features,
            is_success=preset.is_success,
            optimal_return=optimal,
            **common,
        )
    if teacher is not None and is_level_teacher(teacher):
        if config.oracle_score and optimal is None:
            raise ValueError(f"--oracle-score needs a known optimum; {preset.env_id} has none")
        return with_rollout_boundary(UEDPPO)(
            "MlpPolicy",
            vec_env,
            teacher=teacher,
            oracle_score=config.oracle_score,
            level_features=preset.level_features,
            is_success=preset.is_success,
            optimal_return=optimal,
            **common,
        )
    return with_rollout_boundary(PPO)("MlpPolicy", vec_env, **common)


def unique_run_dir(logdir: Path, run_name: str) -> Path:
    """``logdir/run_name``, or ``run_name-2``, ``-3``, ... if that already holds a run (so two
    runs never mix their TensorBoard files)."""
    candidate, suffix = logdir / run_name, 1
    while candidate.exists() and any(candidate.iterdir()):
        suffix += 1
        candidate = logdir / f"{run_name}-{suffix}"
    candidate.mkdir(parents=True, exist_ok=True)
    return candidate


# ------------------------------------------------------------------------------------ training


def _check_batched(config: TrainConfig, preset: EnvPreset) -> None:
    if config.env_id != MAZE_ENV_ID:
        raise ValueError(f"--agent ppo-batched trains on {MAZE_ENV_ID} only, not {config.env_id}")
    cls = teacher_class(config.teacher)
    if hasattr(cls, "scoring_due") or getattr(cls, "needs_antagonist", False):
        raise ValueError(
            f"--agent ppo-batched does not run {config.teacher!r}'s scoring rounds or "
            "antagonist yet; use the SB3 student (the default agent) for it"
        )


def _train_batched(
    config: TrainConfig,
    preset: EnvPreset,
    device: str,
    teacher: Teacher,
    run_dir: Path,
    stopper: Checkpointer,
) -> dict[str, Any]:
    """``--agent ppo-batched``: the batched torch PPO, then the same held-out evaluation.
    Its checkpoint holds the learner's snapshot (``learner.pt``, see
    :mod:`autocurr.agents.ppo_batched`) with the task sampler's RNG, and the teacher."""
    from autocurr.agents.evaluation import evaluate_held_out
    from autocurr.agents.ppo_batched import BatchedPPOConfig, policy_act, train_batched

    kwargs = config.env_kwargs
    size, max_walls = kwargs.get("size", 9), kwargs.get("max_walls", 20)
    task_to_level, bins = None, None
    if preset.space.finite:  # the maze's distance bins: one fresh level per sampled bin
        bins = preset.make_apply_task(np.random.default_rng(config.seed))
        task_to_level = lambda task: bins.level(task, size, max_walls)  # noqa: E731
    ppo = BatchedPPOConfig(
        timesteps=config.timesteps,
        n_envs=config.n_envs,
        size=size,
        max_steps=kwargs.get("max_steps", 100),
        view_size=kwargs.get("view_size", 11),
        heading=kwargs.get("heading", False),
        seed=config.seed,
        device=device,
    )
    resume_state = None
    if stopper.checkpoint is None:
        _write_json(run_dir / "config.json", _config_record(config, preset, run_dir, device))
    else:  # CPU first: the RNG states must stay CPU tensors; the rest moves to the device on load
        resume_state = torch.load(
            stopper.checkpoint / "learner.pt", map_location="cpu", weights_only=False
        )
        if bins is not None:
            bins.rng.bit_generator.state = resume_state["task_sampler_rng"]

    def writer(snapshot: Callable[[], dict[str, Any]]) -> Callable[[Path], None]:
        def write(directory: Path) -> None:
            sampler = bins.rng.bit_generator.state if bins is not None else None
            torch.save({**snapshot(), "task_sampler_rng": sampler}, directory / "learner.pt")
            save_teacher_state(teacher, directory / "teacher_state.pkl")

        return write

    at_boundary = None
    if stopper.enabled:
        at_boundary = lambda steps, snapshot: stopper.at_boundary(steps, writer(snapshot))  # noqa: E731
    stopper.start_clock()
    with stopper.signals():
        result = train_batched(
            ppo, teacher, task_to_level, resume=resume_state, at_boundary=at_boundary
        )
    if stopper.enabled and stopper.last_saved != result["steps"]:
        stopper.save(writer(result["snapshot"]), result["steps"])
    if result["stopped"] or stopper.signal_name is not None:
        raise TrainingInterrupted(run_dir, stopper.last_saved or 0, config.timesteps)
    torch.save(result["model"].state_dict(), run_dir / "model.pt")
    save_teacher_state(teacher, run_dir / "teacher_state.pkl")
    held_out = None
    if config.eval_episodes:
        model = result["model"].to("cpu")
        act = policy_act(model, "cpu", config.eval_deterministic)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            held_out = evaluate_held_out(
                act,
                preset,
                episodes=config.eval_episodes,
                seed=config.seed,
                make_env=lambda: gym.make(preset.env_id, **kwargs),
            )
        _write_json(run_dir / f"eval_{held_out['suite']}.json", held_out)
    summary = {
        "config": dataclasses.asdict(config),
        "run_dir": str(run_dir),
        "device": device,
        "versions": versions(),
        "agent": {"name": "ppo-batched", **dataclasses.asdict(ppo)},
        "total_timesteps": result["steps"],
        "train_time_s": result["seconds"],
        "steps_per_second": result["steps_per_second"],
        "teacher": _teacher_record(teacher),
        "tasks": {"task_labels": list(preset.task_labels)},
        "episodes": {"teacher_updates": int(teacher.n_updates)},
        "ued": {
            "env_steps": result["steps"],
            "steps_no_grad": result["steps_no_grad"],
            "steps_trained": result["steps"] - result["steps_no_grad"],
        },
        "training_curve": {
            key: [entry[key] for entry in result["history"]]
            for key in ("steps", "episodes", "success_rate", "mean_return")
        },
        "held_out": held_out,
        "outputs": {"model": str(run_dir / "model.pt"), "summary": str(run_dir / "summary.json")},
        "resumed_at_steps": stopper.resumed_at_steps,
    }
    _write_json(run_dir / "summary.json", summary)
    return summary


def check_config(config: TrainConfig) -> tuple[EnvPreset, str]:
    """Validate everything about ``config`` that can be checked before training starts: the
    settings, the env preset, the device and the teacher's hyperparameters (by building a
    throwaway teacher). Returns the preset and the device; raises ``ValueError``."""
    config.validate()
    if config.env_id not in gym.registry:
        raise ValueError(f"unknown gymnasium id {config.env_id!r}")
    preset = resolve_preset(config.env_id, config.task_param, config.task_values)
    try:
        gym.make(config.env_id, **config.env_kwargs).close()
    except TypeError as error:  # an unexpected keyword argument
        raise ValueError(f"bad --env-kwargs for {config.env_id}: {error}") from None
    start = config.level_start()
    if start is not None:
        preset = level_preset(preset, config.env_kwargs, start, config.level_kwargs)
    if config.agent == "ppo-batched":
        _check_batched(config, preset)
    device = resolve_device(config.device)
    build_teacher(config, preset, np.random.SeedSequence(config.seed))
    return preset, device


def train(config: TrainConfig, *, stop_at_steps: int | None = None) -> dict[str, Any]:
    """Run one training job and return its summary (also written to ``summary.json``).

    Outputs under ``<logdir>/<run name>/``: TensorBoard events, ``model.zip``,
    ``teacher_state.pkl``, ``config.json``, ``summary.json``, ``eval_<suite>.json``,
    ``learning_curve.png``, ``task_distribution.png``, ``monitor/`` (SB3 episode CSVs) and
    ``checkpoint/``, the latest resumable checkpoint (see :func:`resume`).

    The first Ctrl-C (SIGINT) or SIGTERM stops training at the next rollout boundary, saves a
    checkpoint and raises :class:`TrainingInterrupted`; a second one interrupts at once.
    ``stop_at_steps`` stops the same way at the first rollout boundary at or after that many
    steps (scripted pre-emption; the tests use it).
    """
    preset, device = check_config(config)
    run_dir = unique_run_dir(Path(config.logdir), config.run_name or config.default_run_name())
    return _run_training(config, preset, device, run_dir, None, stop_at_steps)


def resume(
    run_dir: str | Path, *, progress: bool | None = None, stop_at_steps: int | None = None
) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its checkpoint to its original budget.

    The settings come from ``run_dir/config.json`` (only ``progress`` may be changed). Restored:
    the student (policy and optimiser), the teacher's ``state_dict``, every RNG (torch, numpy
    and Python global states, which SB3 seeds and uses; the envs' and task samplers' generators),
    the envs themselves (pickled, so episodes running at the checkpoint continue), the SB3
    counters and episode buffers, the curriculum logs and the pending TensorBoard values; for
    PAIRED and REPAIRED also the antagonist (policy, optimiser, counters, envs), the regret
    history and, inside the teacher's state, the adversary's policy and optimiser. Events
    and Monitor rows a killed run wrote after its checkpoint are cut, so the logs continue
    without gaps or duplicate steps. On one machine and device a resumed run is identical to an
    uninterrupted one (tested); :mod:`autocurr.agents.checkpoint` lists the exceptions.
    """
    config, preset, device, checkpoint = check_resume(run_dir)
    if progress is not None:
        config.progress = progress
    return _run_training(config, preset, device, Path(run_dir), checkpoint, stop_at_steps)


def check_resume(run_dir: str | Path) -> tuple[TrainConfig, EnvPreset, str, Path]:
    """The saved config, preset, device and checkpoint of a run that can be resumed; raises
    ``ValueError`` saying why not (no run, no checkpoint, finished, still training)."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    preset, device = check_config(config)
    if (run_dir / "summary.json").is_file():
        raise ValueError(f"the run in {run_dir} already finished (summary.json exists)")
    with RunLock(run_dir):  # only probes: fails while another process trains this run
        checkpoint = find_checkpoint(run_dir)
    if checkpoint is None:
        raise ValueError(
            f"no checkpoint in {run_dir / CHECKPOINT_DIR}: the run stopped before its first one; "
            "start it again"
        )
    return config, preset, device, checkpoint


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` of a run, read from ``run_dir/config.json``."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise ValueError(f"{run_dir} is not a run directory (no config.json)")
    saved = json.loads(path.read_text())
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{key: value for key, value in saved.items() if key in names})


def _run_training(
    config: TrainConfig,
    preset: EnvPreset,
    device: str,
    run_dir: Path,
    checkpoint: Path | None,
    stop_at_steps: int | None,
) -> dict[str, Any]:
    if device == "cpu":
        # One intra-op thread: the policy MLP is too small to split, and the second core is
        # better left to the environments (measured: 1 thread >= 2 threads on 2 cores). The
        # batched student does use a second thread well, but benchmark jobs run two at a time.
        # Set before the teacher is built: PAIRED's adversary draws its orthogonal initial
        # weights with torch, whose QR result changes in the last bits with the thread count.
        torch.set_num_threads(1)
    teacher_seed, *env_seeds = np.random.SeedSequence(config.seed).spawn(config.n_envs + 1)
    teacher = build_teacher(config, preset, teacher_seed)
    if checkpoint is not None:
        with (checkpoint / "teacher_state.pkl").open("rb") as file:
            teacher.load_state_dict(pickle.load(file))
    with RunLock(run_dir):
        stopper = Checkpointer(run_dir, config, checkpoint, stop_at_steps, enabled=True)
        if config.agent == "ppo-batched":
            return _train_batched(config, preset, device, teacher, run_dir, stopper)
        return _train_sb3(config, preset, device, teacher, env_seeds, run_dir, stopper)


def _train_sb3(
    config: TrainConfig,
    preset: EnvPreset,
    device: str,
    teacher: Teacher,
    env_seeds: list[np.random.SeedSequence],
    run_dir: Path,
    stopper: Checkpointer,
) -> dict[str, Any]:
    state = stopper.load_state()
    if state is not None:
        cut_logs_after(run_dir, state["steps"], state["monitor_sizes"])
    vec_env = make_curriculum_vec_env(
        preset, teacher, env_seeds, run_dir / "monitor", config.env_kwargs, state is not None
    )
    antagonist_env = None
    if getattr(teacher, "needs_antagonist", False):
        # Seeds after the protagonist's, so adding the antagonist changes no other seed.
        antagonist_seeds = np.random.SeedSequence(config.seed).spawn(2 * config.n_envs + 1)
        antagonist_env = make_curriculum_vec_env(
            preset,
            teacher,
            antagonist_seeds[config.n_envs + 1 :],
            run_dir / "monitor_antagonist",
            config.env_kwargs,
            state is not None,
        )
    model = build_ppo(vec_env, config, device, preset, teacher, antagonist_env)
    model.set_logger(configure(str(run_dir), ["tensorboard"]))
    if state is None:
        _write_json(run_dir / "config.json", _config_record(config, preset, run_dir, device))

    curriculum = CurriculumCallback(teacher, preset.task_labels, preset.is_success)
    episode_log = EpisodeLog(curriculum, preset) if _needs_episode_log(preset) else None
    session = SB3Session(model, teacher, vec_env, curriculum, episode_log, run_dir)
    if state is not None:
        session.restore(state, stopper.checkpoint, device)
    if stopper.enabled:
        model.rollout_boundary = lambda iterations: stopper.at_boundary(
            int(model.num_timesteps), lambda path: session.save(path, iterations)
        )
    started = time.perf_counter()
    stopper.start_clock()
    remaining = config.timesteps - int(model.num_timesteps)
    with stopper.signals():
        if remaining > 0:
            callbacks = _callbacks(config, curriculum, episode_log, teacher, run_dir)
            model.learn(
                remaining,
                callback=CallbackList(callbacks),
                progress_bar=config.progress,
                reset_num_timesteps=state is None,
            )
    train_seconds = stopper.train_seconds()
    if stopper.enabled and stopper.last_saved != model.num_timesteps:
        # A final checkpoint: a run killed during evaluation resumes straight to it.
        iterations = model.iterations_before + model._iterations_now
        stopper.save(lambda path: session.save(path, iterations), int(model.num_timesteps))
    if stopper.stopped or stopper.signal_name is not None:  # a signal in the last rollout too
        vec_env.close()
        if antagonist_env is not None:
            antagonist_env.close()
        model.logger.close()
        raise TrainingInterrupted(run_dir, stopper.last_saved or 0, config.timesteps)
    model.save(run_dir / "model.zip")
    if antagonist_env is not None:
        model.save_antagonist(run_dir / "antagonist.zip")
        antagonist_env.close()
    save_teacher_state(teacher, run_dir / "teacher_state.pkl")
    episodes = _episode_counts(teacher, curriculum, vec_env, run_dir / "monitor")
    vec_env.close()
    model.logger.close()

    held_out = None
    if config.eval_episodes:
        held_out = evaluate_model(
            model,
            preset,
            episodes=config.eval_episodes,
            seed=config.seed,
            deterministic=config.eval_deterministic,
            env_kwargs=config.env_kwargs,
        )
        _write_json(run_dir / f"eval_{held_out['suite']}.json", held_out)
    outputs = _write_plots(curriculum, episode_log, preset, run_dir, config)
    summary = _summary(
        config,
        preset,
        teacher,
        curriculum,
        model,
        run_dir,
        device,
        train_seconds,
        stopper.seconds_before + time.perf_counter() - started,
        episodes,
        held_out,
        outputs,
    )
    if episode_log is not None and _is_box(preset):
        summary["sampled_tasks"] = episode_log.summary(outputs.get("sampled_tasks"))
    summary["resumed_at_steps"] = stopper.resumed_at_steps
    _write_json(run_dir / "summary.json", summary)
    return summary


def _callbacks(
    config: TrainConfig,
    curriculum: CurriculumCallback,
    episode_log: EpisodeLog | None,
    teacher: Teacher,
    run_dir: Path,
) -> list[BaseCallback]:
    # The episode log reads the curriculum callback's rollout entries, so it must come after it.
    callbacks: list[BaseCallback] = [curriculum]
    if episode_log is not None:
        callbacks.append(episode_log)
    if config.checkpoint_freq:
        callbacks.append(
            CurriculumCheckpointCallback(teacher, config.checkpoint_freq, run_dir / "checkpoints")
        )
    return callbacks


def _episode_counts(
    teacher: Teacher, curriculum: CurriculumCallback, vec_env: DummyVecEnv, monitor_dir: Path
) -> dict[str, int]:
    """Finished episodes as counted by the teacher, the callback and SB3's Monitor; they agree
    unless an episode went missing between the env and the teacher."""
    wrappers = [monitor.env for monitor in vec_env.envs]  # Monitor(CurriculumWrapper(env))
    return {
        "teacher_updates": int(teacher.n_updates),
        "callback": int(curriculum.episodes_seen),
        "monitor": sum(len(monitor.get_episode_rewards()) for monitor in vec_env.envs),
        "abandoned": sum(wrapper.abandoned_episodes for wrapper in wrappers),
    }


def _write_plots(
    curriculum: CurriculumCallback,
    episode_log: EpisodeLog | None,
    preset: EnvPreset,
    run_dir: Path,
    config: TrainConfig,
) -> dict[str, str]:
    outputs: dict[str, str] = {}
    if episode_log is not None and _is_box(preset):
        outputs["sampled_tasks"] = str(episode_log.write_csv(run_dir / "sampled_tasks.csv"))
    if not curriculum.history:
        return outputs
    title = f"{preset.env_id}, teacher {config.teacher}, seed {config.seed}"
    learning = plot_learning_curve(curriculum.history, run_dir / "learning_curve.png", title)
    outputs["learning_curve"] = str(learning)
    path = run_dir / "task_distribution.png"
    if preset.space.finite:
        tasks = plot_task_distribution(curriculum.history, preset.task_labels, path, title)
    elif episode_log is not None and episode_log.timesteps:
        tasks = plot_sampled_tasks(
            np.asarray(episode_log.timesteps),
            np.asarray(episode_log.tasks),
            preset,
            path,
            title,
        )
    else:
        return outputs
    outputs["task_distribution"] = str(tasks)
    return outputs


# ------------------------------------------------------------------------------------ box tasks


def _is_box(preset: EnvPreset) -> bool:
    return isinstance(preset.space, Box)


def _needs_episode_log(preset: EnvPreset) -> bool:
    return _is_box(preset) or (preset.is_success is None and bool(preset.success_key))


class EpisodeLog(BaseCallback):
    """Keep every finished episode's step count, task, signal and success.

    For presets that report success through ``info[preset.success_key]`` it also fills the
    ``success_rate`` of each rollout entry of ``curriculum.history`` (which the learning curve
    and ``summary.json`` read), and logs ``curriculum/success_rate`` to TensorBoard. For Box
    task spaces it logs, per rollout, ``curriculum/task_mean/<dim>`` and a histogram
    ``curriculum/task_<dim>`` of each task dimension.
    """

    def __init__(self, curriculum: CurriculumCallback, preset: EnvPreset, verbose: int = 0):
        super().__init__(verbose)
        self.curriculum = curriculum
        self.success_key = preset.success_key if preset.is_success is None else None
        self.box = _is_box(preset)
        dim = preset.space.dim if self.box else 1
        self.dim_names = tuple(preset.dim_names) or tuple(f"dim_{i}" for i in range(dim))
        self.timesteps: list[int] = []
        self.tasks: list[np.ndarray] = []
        self.signals: list[float] = []
        self.successes: list[bool] = []
        self._rollout_start = 0

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            outcome = info.get("curriculum")
            if outcome is None:
                continue
            self.timesteps.append(int(self.num_timesteps))
            self.tasks.append(np.atleast_1d(np.asarray(outcome["task"], dtype=np.float64)))
            self.signals.append(float(outcome["signal"]))
            if self.success_key is not None:
                self.successes.append(bool(info.get(self.success_key, False)))
        return True

    def _on_rollout_end(self) -> None:
        self._close_rollout(log=True)

    def _on_training_end(self) -> None:
        if self._rollout_start < len(self.timesteps):
            self._close_rollout(log=False)

    def _close_rollout(self, log: bool) -> None:
        start, self._rollout_start = self._rollout_start, len(self.timesteps)
        history = self.curriculum.history
        # The curriculum callback closed this rollout just before us (it runs first).
        entry = history[-1] if history and history[-1]["timesteps"] == self.num_timesteps else None
        if self.success_key is not None and start < len(self.successes):
            rate = float(np.mean(self.successes[start:]))
            if entry is not None:
                entry["success_rate"] = rate
            if log:
                self.logger.record("curriculum/success_rate", rate)
        if log and self.box and start < len(self.tasks):
            tasks = np.stack(self.tasks[start:])
            for i, name in enumerate(self.dim_names):
                key = name.replace(" ", "_")
                self.logger.record(f"curriculum/task_mean/{key}", float(tasks[:, i].mean()))
                self.logger.record(
                    f"curriculum/task_{key}", tasks[:, i], exclude=("stdout", "log", "json", "csv")
                )

    def write_csv(self, path: Path) -> Path:
        """One row per episode: timesteps, the task's dimensions, signal, success (if known)."""
        columns = ["timesteps", *(name.replace(" ", "_") for name in self.dim_names), "signal"]
        rows = [
            [str(step), *(repr(float(v)) for v in task), repr(signal)]
            for step, task, signal in zip(self.timesteps, self.tasks, self.signals, strict=True)
        ]
        if self.success_key is not None:
            columns.append("success")
            rows = [[*row, str(int(ok))] for row, ok in zip(rows, self.successes, strict=True)]
        lines = [",".join(columns), *(",".join(row) for row in rows)]
        path.write_text("\n".join(lines) + "\n")
        return path

    def summary(self, csv_path: str | None) -> dict[str, Any]:
        """Per quarter of the episodes: step range, episode count, mean task, success rate."""
        quarters = []
        n = len(self.timesteps)
        for k in range(4):
            lo, hi = k * n // 4, (k + 1) * n // 4
            if hi <= lo:
                continue
            tasks = np.stack(self.tasks[lo:hi])
            quarter = {
                "first_step": self.timesteps[lo],
                "last_step": self.timesteps[hi - 1],
                "episodes": hi - lo,
                "mean_task": tasks.mean(axis=0).round(4).tolist(),
                "std_task": tasks.std(axis=0).round(4).tolist(),
                "mean_signal": round(float(np.mean(self.signals[lo:hi])), 5),
            }
            if self.successes:
                quarter["success_rate"] = round(float(np.mean(self.successes[lo:hi])), 5)
            quarters.append(quarter)
        return {"dim_names": list(self.dim_names), "csv": csv_path, "quarters": quarters}


def plot_sampled_tasks(
    timesteps: np.ndarray,
    tasks: np.ndarray,
    preset: EnvPreset,
    path: str | Path,
    title: str,
) -> Path:
    """Where a Box teacher sent the student over training.

    Top row: a 2-D histogram of the sampled tasks (first two dimensions) in each quarter of the
    episodes, with the held-out tasks of the default suite marked. Bottom row: the median and
    the 10-90% band of each dimension over training steps.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tasks = np.asarray(tasks, dtype=np.float64).reshape(len(timesteps), -1)
    low, high = preset.space.low, preset.space.high
    names = list(preset.dim_names) or [f"dim {i}" for i in range(tasks.shape[1])]
    targets = [case.task for case in preset.held_out_cases() if case.task is not None]
    figure = Figure(figsize=(14, 7), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(2, 4, squeeze=False)
    figure.suptitle(f"{title}: sampled tasks")
    n = len(timesteps)
    for k, axis in enumerate(grid[0]):
        lo, hi = k * n // 4, (k + 1) * n // 4
        _draw_quarter(axis, tasks[lo:hi], low, high, names, targets)
        if hi > lo:
            axis.set_title(f"steps {timesteps[lo]:,}-{timesteps[hi - 1]:,} ({hi - lo} ep.)")
    bins = np.linspace(timesteps.min(), timesteps.max() + 1, min(50, max(2, n // 20)) + 1)
    which = np.clip(np.digitize(timesteps, bins) - 1, 0, len(bins) - 2)
    centres = 0.5 * (bins[:-1] + bins[1:])
    for i, axis in enumerate(grid[1]):
        if i >= tasks.shape[1]:
            axis.set_visible(False)
            continue
        _draw_band(axis, which, centres, tasks[:, i], names[i], (low[i], high[i]), targets, i)
    figure.savefig(path, dpi=90)
    return Path(path)


def _draw_quarter(
    axis: Any,
    tasks: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    names: list[str],
    targets: list[Any],
) -> None:
    if tasks.shape[1] >= 2 and len(tasks):
        axis.hist2d(
            tasks[:, 0],
            tasks[:, 1],
            bins=20,
            range=[[low[0], high[0]], [low[1], high[1]]],
            cmap="Blues",
        )
        axis.set_ylabel(names[1])
    elif len(tasks):
        axis.hist(tasks[:, 0], bins=20, range=(low[0], high[0]), color="tab:blue")
    for target in targets:
        if tasks.shape[1] >= 2:
            axis.plot(target[0], target[1], "x", color="tab:red", markersize=9, mew=2)
    axis.set_xlim(low[0], high[0])
    axis.set_xlabel(names[0])


def _draw_band(
    axis: Any,
    which: np.ndarray,
    centres: np.ndarray,
    values: np.ndarray,
    name: str,
    limits: tuple[float, float],
    targets: list[Any],
    dim: int,
) -> None:
    stats = np.full((len(centres), 3), np.nan)
    for b in range(len(centres)):
        chunk = values[which == b]
        if chunk.size:
            stats[b] = np.percentile(chunk, [10, 50, 90])
    axis.fill_between(centres, stats[:, 0], stats[:, 2], color="tab:blue", alpha=0.25)
    axis.plot(centres, stats[:, 1], color="tab:blue", label="median (band: 10-90%)")
    for value in sorted({float(target[dim]) for target in targets if len(target) > dim}):
        axis.axhline(value, color="tab:red", linestyle="--", linewidth=0.8)
    axis.set_ylim(*limits)
    axis.set_xlabel("timesteps")
    axis.set_ylabel(name)
    axis.grid(alpha=0.3)


# ------------------------------------------------------------------------------------ evaluation


def evaluate_model(
    model: PPO,
    preset: EnvPreset,
    suite: str | None = None,
    episodes: int = 10,
    seed: int = 0,
    deterministic: bool = False,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Held-out evaluation of a PPO model (see :func:`~autocurr.agents.evaluation.
    evaluate_held_out`) on ``gym.make(preset.env_id, **env_kwargs)``. Actions are sampled
    unless ``deterministic``: a greedy policy that oscillates between two maze cells never
    recovers, a sampled one can."""

    def act(observations: np.ndarray) -> np.ndarray:
        return model.predict(observations, deterministic=deterministic)[0]

    outcomes: list[tuple[tuple[float, ...], bool]] = []
    success_key = preset.success_key if preset.is_success is None else None

    def make_env() -> gym.Env:
        env = gym.make(preset.env_id, **(env_kwargs or {}))
        return env if success_key is None else _RecordSuccess(env, success_key, outcomes)

    # Seed the sampling without disturbing the caller's global torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        result = evaluate_held_out(
            act, preset, suite=suite, episodes=episodes, seed=seed, make_env=make_env
        )
    if success_key is not None:
        _fill_solve_rates(result, preset.held_out_cases(result["suite"]), outcomes)
    result["deterministic"] = deterministic
    return result


def _task_key(task: Any) -> tuple[float, ...]:
    return tuple(np.round(np.asarray(task, dtype=np.float64).ravel(), 9).tolist())


class _RecordSuccess(gym.Wrapper):
    """Append ``(task, info[key])`` to ``outcomes`` at the end of every episode, the task being
    the one passed as ``reset(options={"task": ...})``."""

    def __init__(self, env: gym.Env, key: str, outcomes: list[tuple[tuple[float, ...], bool]]):
        super().__init__(env)
        self.key = key
        self.outcomes = outcomes
        self._task: tuple[float, ...] | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        task = (kwargs.get("options") or {}).get("task")
        self._task = None if task is None else _task_key(task)
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        if (terminated or truncated) and self._task is not None:
            self.outcomes.append((self._task, bool(info.get(self.key, False))))
        return observation, reward, terminated, truncated, info


def _fill_solve_rates(
    result: dict[str, Any],
    cases: list[HeldOutCase],
    outcomes: list[tuple[tuple[float, ...], bool]],
) -> None:
    """Set each case's ``solve_rate`` from the recorded successes of its task (evaluation
    derives solve rates from returns, which cannot tell whether the point mass arrived)."""
    by_task: dict[tuple[float, ...], list[bool]] = {}
    for task, success in outcomes:
        by_task.setdefault(task, []).append(success)
    tasks = {case.name: case.task for case in cases}
    rates = []
    for row in result["cases"]:
        task = tasks.get(row["name"])
        successes = by_task.get(_task_key(task)) if task is not None else None
        if successes:
            row["solve_rate"] = float(np.mean(successes))
            rates.append(row["solve_rate"])
    if rates:
        result["mean"]["solve_rate"] = float(np.mean(rates))


def find_run_files(checkpoint: str | Path) -> tuple[Path, Path]:
    """``(model.zip, config.json)`` for a run directory, a checkpoint directory or a model file;
    ``config.json`` is looked up in the model's directory and up to two levels above it."""
    path = Path(checkpoint)
    model_path = path / "model.zip" if path.is_dir() else path
    if not model_path.is_file():
        raise ValueError(f"no model at {model_path} (pass a run directory or a model .zip)")
    for directory in [model_path.parent, *list(model_path.parent.parents)[:2]]:
        if (directory / "config.json").is_file():
            return model_path, directory / "config.json"
    raise ValueError(f"no config.json next to {model_path} or in the two directories above it")


def check_eval_inputs(
    checkpoint: str | Path, suite: str | None = None, device: str = "auto"
) -> tuple[Path, EnvPreset, dict[str, Any]]:
    """The model file, env preset and saved ``config.json`` of a run, after checking that
    ``suite`` applies to it and ``device`` exists; raises ``ValueError``."""
    model_path, config_path = find_run_files(checkpoint)
    saved = json.loads(config_path.read_text())
    preset = resolve_preset(saved["env_id"], saved.get("task_param"), saved.get("task_values"))
    if suite is not None and suite not in preset.suites:
        raise ValueError(
            f"suite {suite!r} does not apply to {preset.env_id}; choose from {list(preset.suites)}"
        )
    resolve_device(device)
    return model_path, preset, saved


def evaluate(
    checkpoint: str | Path,
    suite: str | None = None,
    episodes: int = 10,
    seed: int = 0,
    device: str = "auto",
    deterministic: bool = False,
) -> tuple[dict[str, Any], Path]:
    """Evaluate a saved run on a held-out suite and write ``eval_<suite>.json`` next to the
    model. Returns the result and the path of that file."""
    model_path, preset, saved = check_eval_inputs(checkpoint, suite, device)
    model = PPO.load(model_path, device=resolve_device(device))
    env_kwargs = saved.get("env_kwargs", {})
    result = evaluate_model(model, preset, suite, episodes, seed, deterministic, env_kwargs)
    result["checkpoint"] = str(model_path)
    out_path = model_path.parent / f"eval_{result['suite']}.json"
    _write_json(out_path, result)
    return result, out_path


# ------------------------------------------------------------------------------------ records


def versions() -> dict[str, str]:
    import stable_baselines3

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "autocurr": autocurr.__version__,
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
    }


def machine_description() -> str:
    """``"<platform>, <CPU model>, <n> cores"`` for benchmark reports."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpu = model or platform.processor() or "cpu"
    return f"{platform.platform()}, {cpu}, {os.cpu_count()} cores"


def _config_record(
    config: TrainConfig, preset: EnvPreset, run_dir: Path, device: str
) -> dict[str, Any]:
    return {
        **dataclasses.asdict(config),
        "run_name": run_dir.name,
        "run_dir": str(run_dir),
        "resolved_device": device,
        "torch_threads": torch.get_num_threads(),
        "ppo": ppo_settings(config, preset),
        "task_space": preset.space.to_config(),
        "task_labels": list(preset.task_labels),
        "task_dim_names": list(preset.dim_names),
        "task_description": preset.description,
    }


def _summary(
    config: TrainConfig,
    preset: EnvPreset,
    teacher: Teacher,
    curriculum: CurriculumCallback,
    model: PPO,
    run_dir: Path,
    device: str,
    train_seconds: float,
    wall_seconds: float,
    episodes: dict[str, int],
    held_out: dict[str, Any] | None,
    outputs: dict[str, str],
) -> dict[str, Any]:
    record = curriculum.summary()
    history = record.pop("history")
    return {
        "config": dataclasses.asdict(config),
        "run_dir": str(run_dir),
        "device": device,
        "versions": versions(),
        "total_timesteps": int(model.num_timesteps),
        "train_time_s": train_seconds,
        "wall_time_s": wall_seconds,
        "steps_per_second": model.num_timesteps / train_seconds,
        "teacher": _teacher_record(teacher),
        "tasks": record,
        "episodes": episodes,
        "training_curve": {
            key: [entry[key] for entry in history]
            for key in ("timesteps", "n_episodes", "success_rate", "mean_return")
        },
        "curriculum_history": [_rounded(entry) for entry in history],
        "held_out": held_out,
        **_ued_record(model),
        "outputs": {
            "model": str(run_dir / "model.zip"),
            "teacher_state": str(run_dir / "teacher_state.pkl"),
            "config": str(run_dir / "config.json"),
            "summary": str(run_dir / "summary.json"),
            "tensorboard": str(run_dir),
            **outputs,
        },
    }


def _ued_record(model: PPO) -> dict[str, Any]:
    """For regret-based runs: the step budget split (with / without gradient) and how each
    score correlated with true regret and success over the last level-rollouts."""
    if not isinstance(model, UEDPPO):
        return {}
    return {"ued": model.budget(), "score_correlations": model.score_correlations()}


def _teacher_record(teacher: Teacher) -> dict[str, Any]:
    return {
        "name": teacher.name,
        "signal": teacher.signal,
        "hyperparameters": teacher.hyperparameters,
        "final_probabilities": _probabilities_or_none(teacher),
        "stats": teacher.stats(),
    }


def _probabilities_or_none(teacher: Teacher) -> list[float] | None:
    try:
        return [float(p) for p in teacher.probabilities()]
    except NotImplementedError:
        return None


def _rounded(value: Any, digits: int = 5) -> Any:
    """Floats rounded to ``digits`` decimals, recursively (keeps summary.json readable)."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    return value


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
