"""Resumable checkpoints of ``autocurr train`` runs: saving, finding and restoring them.

:mod:`autocurr.agents.train` drives a run; this module holds what makes it resumable: the
:class:`Checkpointer` that saves at rollout boundaries and stops on Ctrl-C / SIGTERM, the
:class:`RolloutBoundary` mixin that gives SB3's PPO those boundaries, :class:`SB3Session` (what
an SB3 run's checkpoint holds and how it is put back), the :class:`RunLock` that keeps two
processes off one run, and the atomic write / repair of ``RUN_DIR/checkpoint/``
(:func:`find_checkpoint`).

Resuming a run (``autocurr train --resume RUN_DIR``, :func:`~autocurr.agents.train.resume`)
-------------------------------------------------------------------------------------------
``RUN_DIR/checkpoint/`` is rewritten every ``--checkpoint-every`` steps (default 10% of the budget,
at most 50k), at the end of training, and when the first Ctrl-C (SIGINT) or SIGTERM stops the run
(exit status 130; a second Ctrl-C aborts without saving). Checkpoints are taken only at rollout
boundaries: after a PPO update, before the teacher is asked for the next rollout's tasks. A
checkpoint is written into ``checkpoint.new/`` and swapped in, so a kill while saving leaves the
previous one (:func:`find_checkpoint` repairs an interrupted swap). It holds ``model.zip`` (policy
and Adam state; ``autocurr eval --checkpoint RUN_DIR/checkpoint`` works on it), the teacher's
``state_dict`` (``teacher_state.pkl``), ``state.pkl`` (SB3 counters, ``_last_obs`` and episode
buffers, UEDPPO's counters, the curriculum callbacks' history, TensorBoard values recorded but not
yet written, the Monitor and curriculum-wrapper state of every env, the envs themselves with their
``apply_task`` samplers (pickled), the Monitor CSV sizes, and the torch / numpy / Python global RNG
states that SB3 seeds and draws actions and minibatches from), ``config.json`` and ``meta.json``.
PAIRED and REPAIRED runs add ``antagonist.zip`` (the antagonist PPO's policy and Adam state) and,
in ``state.pkl``, the antagonist's SB3 counters and episode buffers, its envs and Monitors (as
the protagonist's) and PAIREDPPO's counters and regret history; the level-building adversary
(policy, Adam state, minibatch generator) is part of the teacher's ``state_dict``.

What is exact, on the same machine, device and library versions: the teacher state at resume
equals the checkpoint's, so its next samples are the same, and a stopped-and-resumed run ends
identical to an uninterrupted one (teacher state, weights, curriculum history, TensorBoard
values). ``tests/test_resume.py`` checks this for exp3, PLR, PAIRED and REPAIRED with SB3 (for
PAIRED / REPAIRED the antagonist's weights, Monitor rows and regret history, and the adversary
inside the teacher) and exp3 with the batched student; uniform, ACCEL, SFL and PLR on the
batched student were checked the same way by hand, and so was a PAIRED CLI run killed (SIGKILL,
then SIGINT) and resumed twice.

Episodes running at the checkpoint continue in the resumed process (the regret-based teachers
and the batched student start every rollout with a reset anyway): each finished episode is
reported to the teacher once, none is lost. What a killed run logged after its
last checkpoint (TensorBoard events, Monitor CSV rows) is cut when resuming, so the resumed
process logs those steps once; its events go to a second events file in the same directory.

Not exact: wall-clock values (``time/fps``, ``time/time_elapsed``, Monitor's ``t`` column, which
keeps counting through the pause); ``train_time_s`` in the summary adds up the processes' training
time. An env that cannot be pickled, or pickles only its constructor arguments (gymnasium's
``EzPickle``, e.g. MuJoCo), restarts its episodes on resume: the episodes cut there are never
reported to the teacher (counted in ``episodes.abandoned``) and the run then departs from the
uninterrupted one, though the teacher state at resume is still exact. On CUDA, kernels that are
not deterministic may make the runs drift apart even though every state is restored.
``autocurr train`` steps its envs in one ``DummyVecEnv``; with a ``SubprocVecEnv`` the envs'
state would have to be fetched from the workers, which this code does not do.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import autocurr
from autocurr.integrations.sb3 import CurriculumCallback, save_teacher_state
from autocurr.teachers import Teacher

__all__ = [
    "CHECKPOINT_DIR",
    "CHECKPOINT_FORMAT",
    "Checkpointer",
    "RolloutBoundary",
    "RunLock",
    "SB3Session",
    "TrainingInterrupted",
    "cut_logs_after",
    "find_checkpoint",
    "with_rollout_boundary",
]

#: The resumable checkpoint of a run: ``<run>/checkpoint/`` (written whole, then swapped in).
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FORMAT = 1
#: SB3 model attributes that carry a run's progress (``model.zip`` has the policy and optimiser);
#: the PAIRED antagonist's are saved the same way (its policy and optimiser in ``antagonist.zip``).
_SB3_FIELDS = (
    "num_timesteps",
    "_n_updates",
    "_episode_num",
    "_current_progress_remaining",
    "_last_obs",
    "_last_episode_starts",
    "_last_original_obs",
    "ep_info_buffer",
    "ep_success_buffer",
)
#: The protagonist's: SB3's, then UEDPPO's counters and diagnostics window, then PAIREDPPO's
#: (each saved only where the model has it).
_MODEL_FIELDS = (
    *_SB3_FIELDS,
    "steps_trained",
    "steps_no_grad",
    "grad_updates",
    "unscored_levels",
    "rollouts_by_kind",
    "score_log",
    "antagonist_steps",
    "antagonist_grad_updates",
    "regret_history",
)
_MONITOR_FIELDS = (
    "t_start",
    "rewards",
    "needs_reset",
    "episode_returns",
    "episode_lengths",
    "episode_times",
    "total_steps",
    "current_reset_info",
)
#: Curriculum wrapper attributes rebuilt with the env rather than restored.
_WRAPPER_REBUILT = frozenset({"env", "teacher", "apply_task", "signal_fn"})
_CALLBACK_FIELDS = {
    "curriculum": (
        "history",
        "episodes_seen",
        "episodes_per_task",
        "signal_sum_per_task",
        "_tasks_of_rollout",
    ),
    "episode_log": ("timesteps", "tasks", "signals", "successes", "_rollout_start"),
}


class _RunSettings(Protocol):
    """What :class:`Checkpointer` reads of a run's ``TrainConfig``."""

    timesteps: int
    agent: str
    teacher: str

    def checkpoint_interval(self) -> int: ...


# ------------------------------------------------------------------------------------ stopping


class TrainingInterrupted(Exception):
    """Training was stopped (Ctrl-C, SIGTERM or ``stop_at_steps``) at a rollout boundary after
    saving a checkpoint; ``autocurr train --resume <run_dir>`` continues it."""

    def __init__(self, run_dir: Path, steps: int, total: int):
        self.run_dir, self.steps, self.total = run_dir, steps, total
        super().__init__(
            f"stopped at {steps:,} of {total:,} steps; checkpoint saved in "
            f"{run_dir / CHECKPOINT_DIR}. Continue with: autocurr train --resume {run_dir}"
        )


class Checkpointer:
    """Saves the resumable checkpoint at rollout boundaries and stops training when asked.

    A checkpoint is due at the first rollout boundary past each multiple of
    ``config.checkpoint_interval()`` steps, and when a stop is requested by the first SIGINT /
    SIGTERM or by ``stop_at_steps``. Boundaries are the only safe points: the PPO update is done
    and the teacher has not been asked for the next rollout's tasks yet. ``enabled`` is False
    for a run that cannot be resumed: the trainers then save no checkpoint, and :meth:`signals`
    leaves SIGINT and SIGTERM alone.
    """

    def __init__(
        self,
        run_dir: Path,
        config: _RunSettings,
        checkpoint: Path | None,
        stop_at_steps: int | None,
        enabled: bool,
    ):
        self.run_dir = run_dir
        self.config = config
        self.interval = config.checkpoint_interval()
        self.enabled = enabled
        self.checkpoint = checkpoint
        self.stop_at_steps = stop_at_steps
        self.signal_name: str | None = None
        self.stopped = False
        meta = _read_meta(checkpoint) if checkpoint is not None else None
        self.last_saved: int | None = meta["steps"] if meta else None
        self.seconds_before = float(meta["train_seconds"]) if meta else 0.0
        self.resumed_at_steps: list[int] = (
            [*meta["resumed_at_steps"], meta["steps"]] if meta else []
        )
        self._clock = time.perf_counter()

    def load_state(self) -> dict[str, Any] | None:
        if self.checkpoint is None:
            return None
        with (self.checkpoint / "state.pkl").open("rb") as file:
            return pickle.load(file)

    def start_clock(self) -> None:
        self._clock = time.perf_counter()

    def train_seconds(self) -> float:
        """Training time of this run so far, earlier processes included."""
        return self.seconds_before + time.perf_counter() - self._clock

    def at_boundary(self, steps: int, write: Callable[[Path], None]) -> bool:
        """Save if due or stopping; return False to stop training here."""
        stop = self.signal_name is not None or (
            self.stop_at_steps is not None and steps >= self.stop_at_steps
        )
        last = self.last_saved or 0
        due = self.interval > 0 and steps // self.interval > last // self.interval
        if (due or stop) and steps != self.last_saved:
            self.save(write, steps)
        self.stopped = stop
        return not stop

    def save(self, write: Callable[[Path], None], steps: int) -> Path:
        meta = {
            "format": CHECKPOINT_FORMAT,
            "steps": int(steps),
            "total_timesteps": int(self.config.timesteps),
            "agent": self.config.agent,
            "teacher": self.config.teacher,
            "train_seconds": self.train_seconds(),
            "resumed_at_steps": self.resumed_at_steps,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "autocurr": autocurr.__version__,
        }

        def write_all(directory: Path) -> None:
            write(directory)
            shutil.copyfile(self.run_dir / "config.json", directory / "config.json")

        path = _write_checkpoint(self.run_dir, write_all, meta)
        self.last_saved = int(steps)
        return path

    def signals(self) -> _StopSignals:
        return _StopSignals(self) if self.enabled else _StopSignals(None)

    def on_signal(self, signum: int, frame: Any) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now, without a checkpoint
        self.signal_name = signal.Signals(signum).name
        print(
            f"\nautocurr train: {self.signal_name}: stopping at the end of this rollout to save "
            "a checkpoint (press Ctrl-C again to abort without one)",
            file=sys.stderr,
            flush=True,
        )


class RunLock:
    """An exclusive ``flock`` on ``run_dir/.lock`` while a process trains the run, so a resume
    cannot start while the run is still training. The OS drops the lock when the process ends,
    even by SIGKILL. No guard where ``fcntl`` is missing (Windows)."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / ".lock"
        self._file: Any = None

    def __enter__(self) -> RunLock:
        try:
            import fcntl
        except ImportError:
            return self
        self._file = self.path.open("w")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            raise ValueError(
                f"another process is training the run in {self.path.parent}; stop it first "
                "(Ctrl-C saves a checkpoint)"
            ) from None
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._file is not None:
            self._file.close()


class _StopSignals:
    """While active (main thread only), SIGINT and SIGTERM call ``checkpointer.on_signal``."""

    def __init__(self, checkpointer: Checkpointer | None):
        self.checkpointer = checkpointer
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if self.checkpointer is not None and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self.checkpointer.on_signal)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


# ------------------------------------------------------------------------------------ boundaries


class RolloutBoundary:
    """Mixin for SB3 on-policy algorithms: ``rollout_boundary(iterations)`` runs before every
    rollout, after the previous PPO update and before the teacher is asked for anything (UEDPPO
    samples its levels inside ``collect_rollouts``); when it returns False, ``learn`` stops there.
    ``iterations_before`` continues ``time/iterations`` across a resumed run."""

    rollout_boundary: Callable[[int], bool] | None = None
    iterations_before = 0
    _iterations_now = 0

    def _setup_learn(self, *args: Any, **kwargs: Any) -> Any:
        self._iterations_now = 0
        return super()._setup_learn(*args, **kwargs)

    def collect_rollouts(self, env: Any, callback: Any, rollout_buffer: Any, n_rollout_steps: int):
        hook = self.rollout_boundary
        if hook is not None and not hook(self.iterations_before + self._iterations_now):
            return False
        self._iterations_now += 1
        return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)

    def dump_logs(self, iteration: int = 0) -> None:
        super().dump_logs(self.iterations_before + iteration)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "rollout_boundary"]


_BOUNDARY_CLASSES: dict[type, type] = {}


def with_rollout_boundary(cls: type) -> type:
    """``cls`` with :class:`RolloutBoundary` mixed in (same name; one subclass per class)."""
    if cls not in _BOUNDARY_CLASSES:
        namespace = {"__doc__": cls.__doc__, "__module__": cls.__module__}
        _BOUNDARY_CLASSES[cls] = type(cls.__name__, (RolloutBoundary, cls), namespace)
    return _BOUNDARY_CLASSES[cls]


# ------------------------------------------------------------------------------------ sb3 state


class SB3Session:
    """What an SB3 run's checkpoint holds besides ``model.zip`` and the teacher, and how it is
    put back into freshly built objects of the same configuration."""

    def __init__(
        self,
        model: PPO,
        teacher: Teacher,
        vec_env: DummyVecEnv,
        curriculum: CurriculumCallback,
        episode_log: BaseCallback | None,
        run_dir: Path,
    ):
        self.model = model
        self.teacher = teacher
        self.vec_env = vec_env
        self.callbacks = {"curriculum": curriculum, "episode_log": episode_log}
        self.run_dir = run_dir

    def save(self, directory: Path, iterations: int) -> None:
        model = self.model
        _flush_tensorboard(model)
        model.save(directory / "model.zip")
        save_teacher_state(self.teacher, directory / "teacher_state.pkl")
        state = {
            "steps": int(model.num_timesteps),
            "iterations": int(iterations),
            "model": _fields(model, _MODEL_FIELDS),
            "logger": {
                "values": dict(model.logger.name_to_value),
                "counts": dict(model.logger.name_to_count),
                "excluded": dict(model.logger.name_to_excluded),
            },
            "callbacks": {
                key: {name: getattr(callback, name) for name in _CALLBACK_FIELDS[key]}
                for key, callback in self.callbacks.items()
                if callback is not None
            },
            **_vec_env_state(self.vec_env),
            "monitor_sizes": _monitor_sizes(self.vec_env, self.run_dir),
            "rng": _global_rng_states(),
        }
        if getattr(model, "antagonist", None) is not None:
            state["antagonist"] = _save_antagonist(model, directory)
            state["monitor_sizes"].update(_monitor_sizes(model.antagonist_env, self.run_dir))
        with (directory / "state.pkl").open("wb") as file:
            pickle.dump(state, file)

    def restore(self, state: dict[str, Any], checkpoint: Path, device: str) -> None:
        model = self.model
        model.set_parameters(str(checkpoint / "model.zip"), exact_match=True, device=device)
        for name, value in state["model"].items():
            setattr(model, name, value)
        model.iterations_before = state["iterations"]
        # SB3 seeded the envs' next reset when it built the model; the original run used those
        # seeds at its first reset, long ago.
        self.vec_env._reset_seeds()
        self.vec_env._reset_options()
        _restore_envs(self.vec_env, state, model)
        logger = model.logger
        logger.name_to_value.update(state["logger"]["values"])
        logger.name_to_count.update(state["logger"]["counts"])
        logger.name_to_excluded.update(state["logger"]["excluded"])
        for key, fields in state["callbacks"].items():
            for name, value in fields.items():
                setattr(self.callbacks[key], name, value)
        if "antagonist" in state:
            _restore_antagonist(model, state["antagonist"], checkpoint, device)
        _set_global_rng_states(state["rng"])  # last: building the objects above drew from them


def _fields(model: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(model, name) for name in names if hasattr(model, name)}


def _vec_env_state(vec_env: DummyVecEnv) -> dict[str, Any]:
    envs, not_exact = _pickled_envs(vec_env)
    return {
        "wrappers": [_wrapper_state(monitor) for monitor in vec_env.envs],
        "envs": envs,
        "envs_not_exact": not_exact,
    }


def _save_antagonist(model: Any, directory: Path) -> dict[str, Any]:
    """PAIREDPPO's antagonist: policy and Adam state to ``antagonist.zip``; its SB3 counters and
    episode buffers, whether its learning session was started, and its envs (as the
    protagonist's) into the returned part of ``state.pkl``. The protagonist's PAIRED counters
    and regret history are in ``_MODEL_FIELDS``; the adversary is in the teacher's state."""
    antagonist = model.antagonist
    antagonist.save(directory / "antagonist.zip")
    return {
        "model": _fields(antagonist, _SB3_FIELDS),
        "started": bool(model.antagonist_started),
        **_vec_env_state(model.antagonist_env),
    }


def _restore_antagonist(model: Any, saved: dict[str, Any], checkpoint: Path, device: str) -> None:
    antagonist, vec_env = model.antagonist, model.antagonist_env
    if saved["started"]:
        # The original run started the antagonist's session (one reset of fresh envs, seeded
        # from its PPO seed) at its first rollout; start it now, so it is not done again later,
        # and put the saved state over what it set.
        model.start_antagonist()
        vec_env._reset_seeds()
        vec_env._reset_options()
    antagonist.set_parameters(str(checkpoint / "antagonist.zip"), exact_match=True, device=device)
    for name, value in saved["model"].items():
        setattr(antagonist, name, value)
    _restore_envs(vec_env, saved, antagonist)


def _flush_tensorboard(model: PPO) -> None:
    for output in model.logger.output_formats:
        writer = getattr(output, "writer", None)
        if writer is not None:
            writer.flush()


def _wrapper_state(monitor: Monitor) -> dict[str, Any]:
    wrapper = monitor.env  # the CurriculumWrapper / TaskQueueWrapper
    return {
        "monitor": {name: getattr(monitor, name) for name in _MONITOR_FIELDS},
        "wrapper": {k: v for k, v in vars(wrapper).items() if k not in _WRAPPER_REBUILT},
    }


def _pickled_envs(vec_env: DummyVecEnv) -> tuple[bytes | None, str | None]:
    """The envs under the curriculum wrappers with their ``apply_task`` (and its RNG), pickled;
    or ``None`` and the reason they cannot be."""
    from gymnasium.utils import EzPickle

    pairs = [(monitor.env.env, monitor.env.apply_task) for monitor in vec_env.envs]
    if any(isinstance(env.unwrapped, EzPickle) for env, _ in pairs):
        return None, "the env pickles its constructor arguments (EzPickle), not its state"
    try:
        return pickle.dumps(pairs), None
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        return None, f"the env or its apply_task cannot be pickled ({error})"


def _restore_envs(vec_env: DummyVecEnv, state: dict[str, Any], model: PPO) -> None:
    for monitor, saved in zip(vec_env.envs, state["wrappers"], strict=True):
        for name, value in saved["monitor"].items():
            setattr(monitor, name, value)
        for name, value in saved["wrapper"].items():
            setattr(monitor.env, name, value)
    if state["envs"] is None:
        # SB3 resets every env when learn() starts: the episodes running at the checkpoint end
        # there, unreported, and the wrappers count them in ``abandoned_episodes``.
        model._last_obs = None
        message = f"episodes running at the checkpoint restart ({state['envs_not_exact']})"
        print(f"autocurr train: {message}", file=sys.stderr)
        return
    for monitor, (env, apply_task) in zip(vec_env.envs, pickle.loads(state["envs"]), strict=True):
        monitor.env.env.close()
        monitor.env.env, monitor.env.apply_task = env, apply_task


def _monitor_sizes(vec_env: DummyVecEnv, run_dir: Path) -> dict[str, int]:
    """Byte size of each Monitor CSV (relative to the run directory) at the checkpoint."""
    sizes = {}
    for monitor in vec_env.envs:
        writer = monitor.results_writer
        if writer is not None:
            writer.file_handler.flush()
            path = Path(writer.file_handler.name)
            sizes[os.path.relpath(path, run_dir)] = path.stat().st_size
    return sizes


def cut_logs_after(run_dir: Path, steps: int, monitor_sizes: dict[str, int]) -> None:
    """Drop what a killed run logged after its checkpoint at ``steps``: the resumed run logs it
    again, so keeping it would duplicate episodes and TensorBoard steps."""
    for relative, size in monitor_sizes.items():
        path = run_dir / relative
        if path.is_file() and path.stat().st_size > size:
            with path.open("r+b") as file:
                file.truncate(size)
    _cut_event_files(run_dir, steps)


def _cut_event_files(run_dir: Path, last_step: int) -> None:
    """Rewrite the run's TensorBoard event files without the events after ``last_step`` (and
    without a record torn by a kill). Readers that honour SessionLog purges would hide them
    anyway; rewriting keeps every reader (e.g. a pandas export) free of duplicate steps."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        records = list(RawEventFileLoader(str(path)).Load())
        kept = [record for record in records if Event.FromString(record).step <= last_step]
        temporary = run_dir / ".events-cut.tmp"  # no "tfevents" in the name: TB ignores it
        with temporary.open("wb") as file:
            writer = RecordWriter(file)
            for record in kept:
                writer.write(record)
            writer.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)


def _global_rng_states() -> dict[str, Any]:
    """Python's, numpy's and torch's global RNG states: SB3 seeds all three and draws actions
    (torch) and minibatch orders (numpy) from them."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - SB3's global state, not ours
        "torch": torch.get_rng_state(),
        "cuda": cuda,
    }


def _set_global_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])  # noqa: NPY002
    torch.set_rng_state(states["torch"])
    if states.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# ------------------------------------------------------------------------------------ directory


def _write_checkpoint(run_dir: Path, write: Callable[[Path], None], meta: dict) -> Path:
    """Write a checkpoint into ``checkpoint.new/``, then swap it for ``checkpoint/``: a kill at
    any moment leaves at least one complete checkpoint (``find_checkpoint`` repairs the swap)."""
    final = run_dir / CHECKPOINT_DIR
    fresh, stale = (run_dir / f"{CHECKPOINT_DIR}{suffix}" for suffix in (".new", ".old"))
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    write(fresh)
    # meta.json is written last: it marks the directory complete.
    (fresh / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    _fsync_tree(fresh)
    if final.exists():
        shutil.rmtree(stale, ignore_errors=True)
        final.rename(stale)
    fresh.rename(final)
    _fsync_directory(run_dir)
    shutil.rmtree(stale, ignore_errors=True)
    return final


def find_checkpoint(run_dir: str | Path) -> Path | None:
    """``run_dir/checkpoint`` (the newest complete one, after repairing a swap that a kill
    interrupted), or None if the run has none."""
    run_dir = Path(run_dir)
    final = run_dir / CHECKPOINT_DIR
    candidates = []
    for suffix in ("", ".new", ".old"):
        path = run_dir / f"{CHECKPOINT_DIR}{suffix}"
        meta = _read_meta(path)
        if meta is not None:
            candidates.append((meta["steps"], path == final, path))
    if not candidates:
        return None
    best = max(candidates)[2]
    if best != final:
        shutil.rmtree(final, ignore_errors=True)
        best.rename(final)
    for suffix in (".new", ".old"):
        shutil.rmtree(run_dir / f"{CHECKPOINT_DIR}{suffix}", ignore_errors=True)
    return final


def _read_meta(checkpoint: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((checkpoint / "meta.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{checkpoint} has checkpoint format {meta.get('format')}; this autocurr "
            f"({autocurr.__version__}) reads format {CHECKPOINT_FORMAT}"
        )
    return meta


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with path.open("rb") as file:
                os.fsync(file.fileno())
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; the renames are still atomic
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
