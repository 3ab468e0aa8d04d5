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
gamma 0.99, GAE lambda 0.95, entropy bonus 0.01.

Requires the ``sb3`` extra (stable-baselines3, torch, tensorboard, matplotlib, tqdm, rich).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import re
import time
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
from autocurr.agents.evaluation import evaluate_held_out
from autocurr.agents.plots import plot_learning_curve, plot_task_distribution
from autocurr.agents.tasks import EnvPreset, resolve_preset
from autocurr.integrations.sb3 import (
    CurriculumCallback,
    CurriculumCheckpointCallback,
    save_teacher_state,
)
from autocurr.teachers import Teacher, make_teacher

__all__ = [
    "DEFAULT_TIMESTEPS",
    "PPO_DEFAULTS",
    "TrainConfig",
    "check_config",
    "check_eval_inputs",
    "evaluate",
    "evaluate_model",
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
EXTRA_PPO_SETTINGS = frozenset({"vf_coef", "max_grad_norm", "normalize_advantage", "target_kl"})
DEVICES = ("auto", "cpu", "cuda")


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
    ppo_kwargs: dict[str, Any] = field(default_factory=dict)

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
    try:
        return make_teacher(config.teacher, preset.space, seed=seed, **config.teacher_kwargs)
    except TypeError as error:  # an unexpected keyword argument
        raise ValueError(f"bad --teacher-kwargs for teacher {config.teacher!r}: {error}") from None


def make_curriculum_vec_env(
    preset: EnvPreset,
    teacher: Teacher,
    env_seeds: list[np.random.SeedSequence],
    monitor_dir: Path,
    env_kwargs: dict[str, Any] | None = None,
) -> DummyVecEnv:
    """One ``Monitor(CurriculumWrapper(env))`` per seed, all sharing ``teacher``."""
    monitor_dir.mkdir(parents=True, exist_ok=True)

    def make_env(index: int) -> gym.Env:
        env = gym.make(preset.env_id, **(env_kwargs or {}))
        apply_task = preset.make_apply_task(np.random.default_rng(env_seeds[index]))
        env = autocurr.CurriculumWrapper(env, teacher, apply_task=apply_task)
        return Monitor(env, filename=str(monitor_dir / f"env_{index}"))

    return DummyVecEnv([lambda index=index: make_env(index) for index in range(len(env_seeds))])


def build_ppo(vec_env: DummyVecEnv, config: TrainConfig, device: str) -> PPO:
    settings = {**PPO_DEFAULTS, **config.ppo_kwargs}
    # A rollout smaller than one minibatch would make SB3 warn and truncate; use it whole.
    settings["batch_size"] = min(settings["batch_size"], settings["n_steps"] * vec_env.num_envs)
    return PPO("MlpPolicy", vec_env, device=device, seed=config.seed, verbose=0, **settings)


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
    device = resolve_device(config.device)
    build_teacher(config, preset, np.random.SeedSequence(config.seed))
    return preset, device


def train(config: TrainConfig) -> dict[str, Any]:
    """Run one training job and return its summary (also written to ``summary.json``).

    Outputs under ``<logdir>/<run name>/``: TensorBoard events, ``model.zip``,
    ``teacher_state.pkl``, ``config.json``, ``summary.json``, ``eval_<suite>.json``,
    ``learning_curve.png``, ``task_distribution.png`` and ``monitor/`` (SB3 episode CSVs).
    """
    preset, device = check_config(config)
    teacher_seed, *env_seeds = np.random.SeedSequence(config.seed).spawn(config.n_envs + 1)
    teacher = build_teacher(config, preset, teacher_seed)
    run_dir = unique_run_dir(Path(config.logdir), config.run_name or config.default_run_name())
    if device == "cpu":
        # One intra-op thread: the policy MLP is too small to split, and the second core is
        # better left to the environments (measured: 1 thread >= 2 threads on 2 cores).
        torch.set_num_threads(1)

    vec_env = make_curriculum_vec_env(
        preset, teacher, env_seeds, run_dir / "monitor", config.env_kwargs
    )
    model = build_ppo(vec_env, config, device)
    model.set_logger(configure(str(run_dir), ["tensorboard"]))
    _write_json(run_dir / "config.json", _config_record(config, preset, run_dir, device, model))

    curriculum = CurriculumCallback(teacher, preset.task_labels, preset.is_success)
    started = time.perf_counter()
    model.learn(
        config.timesteps,
        callback=CallbackList(_callbacks(config, curriculum, teacher, run_dir)),
        progress_bar=config.progress,
    )
    train_seconds = time.perf_counter() - started
    model.save(run_dir / "model.zip")
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
    outputs = _write_plots(curriculum, preset, run_dir, config)
    summary = _summary(
        config,
        preset,
        teacher,
        curriculum,
        model,
        run_dir,
        device,
        train_seconds,
        time.perf_counter() - started,
        episodes,
        held_out,
        outputs,
    )
    _write_json(run_dir / "summary.json", summary)
    return summary


def _callbacks(
    config: TrainConfig, curriculum: CurriculumCallback, teacher: Teacher, run_dir: Path
) -> list[BaseCallback]:
    callbacks: list[BaseCallback] = [curriculum]
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
    curriculum: CurriculumCallback, preset: EnvPreset, run_dir: Path, config: TrainConfig
) -> dict[str, str]:
    if not curriculum.history:
        return {}
    title = f"{preset.env_id}, teacher {config.teacher}, seed {config.seed}"
    learning = plot_learning_curve(curriculum.history, run_dir / "learning_curve.png", title)
    tasks = plot_task_distribution(
        curriculum.history, preset.task_labels, run_dir / "task_distribution.png", title
    )
    return {"learning_curve": str(learning), "task_distribution": str(tasks)}


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

    # Seed the sampling without disturbing the caller's global torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        result = evaluate_held_out(
            act,
            preset,
            suite=suite,
            episodes=episodes,
            seed=seed,
            make_env=lambda: gym.make(preset.env_id, **(env_kwargs or {})),
        )
    result["deterministic"] = deterministic
    return result


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


def _config_record(
    config: TrainConfig, preset: EnvPreset, run_dir: Path, device: str, model: PPO
) -> dict[str, Any]:
    return {
        **dataclasses.asdict(config),
        "run_name": run_dir.name,
        "run_dir": str(run_dir),
        "resolved_device": device,
        "torch_threads": torch.get_num_threads(),
        "ppo": {**PPO_DEFAULTS, **config.ppo_kwargs, "batch_size": model.batch_size},
        "task_space": preset.space.to_config(),
        "task_labels": list(preset.task_labels),
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
        "teacher": {
            "name": teacher.name,
            "signal": teacher.signal,
            "hyperparameters": teacher.hyperparameters,
            "final_probabilities": _probabilities_or_none(teacher),
            "stats": teacher.stats(),
        },
        "tasks": record,
        "episodes": episodes,
        "training_curve": {
            key: [entry[key] for entry in history]
            for key in ("timesteps", "n_episodes", "success_rate", "mean_return")
        },
        "curriculum_history": [_rounded(entry) for entry in history],
        "held_out": held_out,
        "outputs": {
            "model": str(run_dir / "model.zip"),
            "teacher_state": str(run_dir / "teacher_state.pkl"),
            "config": str(run_dir / "config.json"),
            "summary": str(run_dir / "summary.json"),
            "tensorboard": str(run_dir),
            **outputs,
        },
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
