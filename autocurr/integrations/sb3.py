"""Stable-Baselines3 integration: log what the teacher does, and checkpoint it with the model.

Use with environments wrapped in :class:`autocurr.CurriculumWrapper` (and SB3's ``Monitor`` for
episode returns)::

    callback = CurriculumCallback(teacher, task_labels=["easy", "hard"])
    model.learn(100_000, callback=callback)
    callback.history  # one entry per rollout

The callback only *reads* ``info["curriculum"]``, which the wrapper writes at each episode end
after updating the teacher, so the logs show exactly what the teacher was told.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    from stable_baselines3.common.callbacks import BaseCallback
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'autocurr.integrations.sb3 needs the sb3 extra: pip install "autocurr[sb3]"'
    ) from error

from autocurr.teachers import Teacher, from_state_dict

__all__ = [
    "CurriculumCallback",
    "CurriculumCheckpointCallback",
    "load_teacher_state",
    "save_teacher_state",
]

#: TensorBoard gets one scalar per task up to this many tasks (beyond it, only the histogram).
MAX_PER_TASK_SCALARS = 64
# Histograms and arrays only make sense in TensorBoard; keep them out of text/CSV/JSON loggers.
_NOT_TEXT = ("stdout", "log", "json", "csv")


def save_teacher_state(teacher: Teacher, path: str | Path) -> Path:
    """Pickle ``teacher.state_dict()`` to ``path``; :func:`load_teacher_state` rebuilds it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        pickle.dump(teacher.state_dict(), file)
    return path


def load_teacher_state(path: str | Path) -> Teacher:
    """The teacher saved by :func:`save_teacher_state` (kind, space, hyperparameters, state)."""
    with Path(path).open("rb") as file:
        return from_state_dict(pickle.load(file))


class CurriculumCallback(BaseCallback):
    """Collect each finished episode's ``(task, signal)`` and log the curriculum per rollout.

    TensorBoard keys (written at every rollout end through SB3's logger):

    - ``curriculum/p_task_<i>``: the teacher's sampling probability of task ``i`` (finite spaces
      with at most 64 tasks);
    - ``curriculum/episodes_task_<i>`` and ``curriculum/signal_task_<i>``: episodes of task ``i``
      finished in this rollout and their mean signal (the signal only when there were any);
    - ``curriculum/task_histogram``: histogram of the tasks of this rollout's episodes;
    - ``curriculum/episodes``, ``curriculum/mean_return``, ``curriculum/success_rate``;
    - ``teacher/<key>`` for every entry of ``teacher.stats()``.

    Args:
        teacher: the teacher shared by the training environments.
        task_labels: a name per task index, for plots and summaries (default ``str(task)``).
        is_success: ``is_success(episode_return) -> bool``; ``None`` logs no success rate.
    """

    def __init__(
        self,
        teacher: Teacher,
        task_labels: Sequence[str] | None = None,
        is_success: Callable[[float], bool] | None = None,
        verbose: int = 0,
    ):
        super().__init__(verbose)
        self.teacher = teacher
        self.n_tasks = teacher.space.size if teacher.space.finite else 0
        if task_labels is None:
            task_labels = [str(teacher.space.task(i)) for i in range(self.n_tasks)]
        if len(task_labels) != self.n_tasks:
            raise ValueError(f"got {len(task_labels)} task labels for {self.n_tasks} tasks")
        self.task_labels = list(task_labels)
        self.is_success = is_success
        self.history: list[dict[str, Any]] = []
        self.episodes_seen = 0
        self.episodes_per_task = np.zeros(self.n_tasks, dtype=np.int64)
        self.signal_sum_per_task = np.zeros(self.n_tasks)
        self._tasks_of_rollout = np.zeros(0, dtype=np.int64)
        self._clear_rollout()

    def _clear_rollout(self) -> None:
        self._task_indices: list[int] = []
        self._signals: list[float] = []
        self._returns: list[float] = []

    # ----------------------------------------------------------------------------- collecting
    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            outcome = info.get("curriculum")
            if outcome is not None:
                self._record_outcome(outcome["task"], outcome["signal"])
            episode = info.get("episode")  # written by SB3's Monitor
            if episode is not None:
                self._returns.append(float(episode["r"]))
        return True

    def _record_outcome(self, task: Any, signal: float) -> None:
        self.episodes_seen += 1
        self._task_indices.append(self.teacher.space.index(task) if self.n_tasks else -1)
        self._signals.append(float(signal))

    def _on_rollout_end(self) -> None:
        entry = self._close_rollout()
        self._log(entry)

    def _on_training_end(self) -> None:
        # A run stopped mid-rollout still owes its last episodes to the history.
        if self._signals or self._returns:
            self._close_rollout()

    # ----------------------------------------------------------------------------- summarising
    def _close_rollout(self) -> dict[str, Any]:
        counts, signal_sums = self._per_task_totals()
        self.episodes_per_task += counts
        self.signal_sum_per_task += signal_sums
        entry = {
            "timesteps": int(self.num_timesteps),
            "probabilities": self._probabilities(),
            "episodes": counts.tolist(),
            "mean_signal": _means_or_none(signal_sums, counts),
            "n_episodes": len(self._signals),
            "mean_signal_all": _mean_or_none(self._signals),
            "mean_return": _mean_or_none(self._returns),
            "success_rate": self._success_rate(),
        }
        self.history.append(entry)
        self._tasks_of_rollout = np.asarray(self._task_indices, dtype=np.int64)
        self._clear_rollout()
        return entry

    def _per_task_totals(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.n_tasks:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        indices = np.asarray(self._task_indices, dtype=np.int64)
        counts = np.bincount(indices, minlength=self.n_tasks)
        sums = np.bincount(indices, weights=np.asarray(self._signals), minlength=self.n_tasks)
        return counts, sums

    def _probabilities(self) -> list[float] | None:
        try:
            return [float(p) for p in self.teacher.probabilities()]
        except NotImplementedError:  # continuous spaces have a density, not a vector
            return None

    def _success_rate(self) -> float | None:
        if self.is_success is None or not self._returns:
            return None
        return float(np.mean([self.is_success(r) for r in self._returns]))

    def _log(self, entry: dict[str, Any]) -> None:
        record = self.logger.record
        if entry["probabilities"] is not None and self.n_tasks <= MAX_PER_TASK_SCALARS:
            for i, probability in enumerate(entry["probabilities"]):
                record(f"curriculum/p_task_{i}", probability)
        if self.n_tasks <= MAX_PER_TASK_SCALARS:
            per_task = zip(entry["episodes"], entry["mean_signal"], strict=True)
            for i, (count, mean) in enumerate(per_task):
                record(f"curriculum/episodes_task_{i}", count)
                if mean is not None:
                    record(f"curriculum/signal_task_{i}", mean)
        if self.n_tasks and self._tasks_of_rollout.size:
            record("curriculum/task_histogram", self._tasks_of_rollout, exclude=_NOT_TEXT)
        record("curriculum/episodes", entry["n_episodes"])
        for key in ("mean_return", "success_rate"):
            if entry[key] is not None:
                record(f"curriculum/{key}", entry[key])
        for key, value in self.teacher.stats().items():
            record(f"teacher/{key}", value)

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals and the per-rollout history."""
        return {
            "task_labels": self.task_labels,
            "episodes": int(self.episodes_seen),
            "episodes_per_task": self.episodes_per_task.tolist(),
            "mean_signal_per_task": _means_or_none(
                self.signal_sum_per_task, self.episodes_per_task
            ),
            "history": self.history,
        }


class CurriculumCheckpointCallback(BaseCallback):
    """Every ``save_freq`` environment steps, save ``<save_dir>/<steps>_steps/model.zip`` and the
    teacher beside it as ``teacher_state.pkl`` (a pickled ``teacher.state_dict()``)."""

    def __init__(self, teacher: Teacher, save_freq: int, save_dir: str | Path, verbose: int = 0):
        super().__init__(verbose)
        if save_freq < 1:
            raise ValueError(f"save_freq must be a positive number of steps, got {save_freq}")
        self.teacher = teacher
        self.save_freq = int(save_freq)
        self.save_dir = Path(save_dir)
        self.saved: list[Path] = []

    def _on_step(self) -> bool:
        # num_timesteps grows by n_envs per call, so compare multiples instead of testing equality.
        previous = self.num_timesteps - self.training_env.num_envs
        if self.num_timesteps // self.save_freq > previous // self.save_freq:
            self.saved.append(self.save(self.save_dir / f"{self.num_timesteps}_steps"))
        return True

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        _flush_outcomes(self.training_env)
        self.model.save(directory / "model.zip")
        save_teacher_state(self.teacher, directory / "teacher_state.pkl")
        if self.verbose:
            print(f"checkpoint saved to {directory}")
        return directory


def _flush_outcomes(venv: Any) -> None:
    """Deliver the outcomes a ``make_vec_env`` env still holds in its workers (batched mode), so
    a saved teacher has seen every finished episode; other vector envs hold none."""
    while venv is not None:
        flush = getattr(type(venv), "flush", None)
        if callable(flush):
            flush(venv)
            return
        venv = getattr(venv, "venv", None)


def _mean_or_none(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _means_or_none(sums: np.ndarray, counts: np.ndarray) -> list[float | None]:
    return [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]
