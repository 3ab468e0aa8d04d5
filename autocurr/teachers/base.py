"""The teacher interface shared by every curriculum algorithm.

A teacher picks tasks from a :mod:`autocurr.spaces` space and learns from one float per finished
episode (or per batch of data). It never sees an environment, a model or a tensor: integrations
compute the signal the teacher asks for (``Teacher.signal``) and report it with ``update``.

Contract kept by every subclass:
- all randomness comes from ``self.rng``, a ``numpy.random.Generator`` seeded from ``seed``;
- ``update``/``update_batch`` validate everything before changing anything, so bad input raises
  ``ValueError`` and leaves the teacher exactly as it was;
- ``state_dict()`` returns a plain picklable dict; ``load_state_dict`` restores the teacher so that
  it continues exactly as if never interrupted (same future samples for the same updates).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from autocurr.spaces import Discrete, Space, space_from_config

__all__ = [
    "SIGNALS",
    "Teacher",
    "check_int",
    "check_positive",
    "check_real",
    "check_refresh_every",
    "check_signal",
    "check_unit_interval",
]

#: Signals an integration knows how to compute for a finished episode (RL) or a batch (data):
#: ``loss`` is a per-domain training loss, ``success`` a pass rate in [0, 1] and ``advantage``
#: the mean absolute advantage of a generation batch (GRPO-style post-training).
SIGNALS = ("return", "success", "length", "loss", "score", "regret", "advantage")


def check_signal(signal: Any) -> float:
    """``signal`` as a finite float, or ``ValueError``."""
    if isinstance(signal, bool | np.bool_):
        return float(signal)
    if not isinstance(signal, numbers.Real):
        try:
            signal = float(np.asarray(signal).item())
        except (TypeError, ValueError):
            raise ValueError(f"signal must be a real number, got {signal!r}") from None
    value = float(signal)
    if not math.isfinite(value):
        raise ValueError(f"signal must be finite, got {value!r}")
    return value


def check_unit_interval(
    name: str, value: Any, *, low_open: bool = False, high_open: bool = False
) -> float:
    """``value`` as a float in [0, 1] (ends open as asked), or ``ValueError`` naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    low_ok = value > 0.0 if low_open else value >= 0.0
    high_ok = value < 1.0 if high_open else value <= 1.0
    if not (low_ok and high_ok):
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int ``>= minimum`` (bools rejected), or ``ValueError`` naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(name: str, value: Any) -> float:
    """``value`` as a finite float (bools rejected), or ``ValueError`` naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_positive(name: str, value: Any) -> float:
    """``value`` as a finite float ``> 0``, or ``ValueError`` naming ``name``."""
    value = check_real(name, value)
    if value <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def check_refresh_every(refresh_every: Any, n_tasks: int) -> int:
    """``refresh_every`` as an int >= 1 (``None``: ``max(1, n_tasks // 100)``), or ValueError."""
    if refresh_every is None:
        return max(1, n_tasks // 100)
    if (
        isinstance(refresh_every, bool)
        or not isinstance(refresh_every, numbers.Integral)
        or refresh_every < 1
    ):
        raise ValueError(f"refresh_every must be an integer >= 1, got {refresh_every!r}")
    return int(refresh_every)


class Teacher:
    """Base class of all teachers.

    Subclasses set ``name`` and ``signal`` and implement ``_sample_one``, ``_update`` and, for
    finite spaces, ``probabilities``. Hyperparameters passed to ``__init__`` must be recorded in
    ``self.hyperparameters`` so that ``state_dict`` can rebuild an identical teacher.
    """

    #: Registry name (``make_teacher(name, ...)``).
    name: ClassVar[str] = "teacher"
    #: The per-episode signal this teacher expects from integrations (one of ``SIGNALS``).
    signal: ClassVar[str] = "return"
    #: Whether the teacher needs a finite space (``Discrete`` / ``MultiDiscrete``).
    requires_finite: ClassVar[bool] = False

    def __init__(self, space: Space, seed: int | np.random.SeedSequence | None = None):
        if not isinstance(space, Space):
            raise ValueError(f"space must be an autocurr.spaces.Space, got {type(space).__name__}")
        if self.requires_finite and not space.finite:
            raise ValueError(f"teacher {self.name!r} needs a finite space, got {space!r}")
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.hyperparameters: dict[str, Any] = {}
        self.n_updates = 0

    # ----------------------------------------------------------------------------- sampling
    def sample(self, k: int | None = None) -> Any:
        """One task, or a list of ``k`` tasks when ``k`` is given."""
        if k is None:
            return self._sample_one()
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        return self._sample_many(int(k))

    def _sample_one(self) -> Any:
        raise NotImplementedError

    def _sample_many(self, k: int) -> list:
        return [self._sample_one() for _ in range(k)]

    def probabilities(self) -> np.ndarray:
        """The distribution the teacher samples from now, over ``space.index`` order."""
        raise NotImplementedError(f"{type(self).__name__} has no probability vector")

    def exploration_floor(self) -> float:
        """The probability every task is guaranteed at every step (finite spaces), or, on a
        ``Box``, the share of samples drawn uniformly over the whole box. 0 means no floor."""
        return 0.0

    # ----------------------------------------------------------------------------- updates
    def update(self, task: Any, signal: float) -> None:
        """Report the ``signal`` of one finished episode played on ``task``."""
        canonical = self.space.canonical(task)
        value = check_signal(signal)
        self._validate_signal(value)
        self._update(canonical, value)
        self.n_updates += 1

    def update_batch(self, tasks: Sequence[Any], signals: Sequence[float]) -> None:
        """``update`` for many episodes, in order; all-or-nothing on bad input."""
        tasks = list(tasks)
        checked = self._checked_integer_batch(tasks, signals)
        if checked is not None:
            for task, value in checked:
                self._update(task, value)
                self.n_updates += 1  # per item: some teachers read it inside _update
            return
        values = np.asarray(signals, dtype=object).reshape(-1).tolist()
        if len(tasks) != len(values):
            raise ValueError(
                f"update_batch got {len(tasks)} tasks but {len(values)} signals; lengths must match"
            )
        checked = []
        for position, (task, signal) in enumerate(zip(tasks, values, strict=True)):
            try:
                value = check_signal(signal)
                self._validate_signal(value)
                checked.append((self.space.canonical(task), value))
            except ValueError as error:
                raise ValueError(f"update_batch item {position}: {error}") from None
        for task, value in checked:
            self._update(task, value)
            self.n_updates += 1

    def _checked_integer_batch(
        self, tasks: list[Any], signals: Sequence[float]
    ) -> list[tuple[int, float]] | None:
        """The validated pairs of a batch of plain integer tasks on a ``Discrete`` space, checked
        in a few numpy calls (vector envs report a batch every step, and the per-item checks
        of the general path cost more than the teacher's own work); ``None`` sends the batch to
        the general path, which also words the error for bad input."""
        if type(self.space) is not Discrete or not tasks:
            return None
        if type(signals) is list and len(signals) == len(tasks) and len(tasks) <= 64:
            # Small lists (a vector env's step): plain Python beats numpy's call overhead.
            if not (
                all(type(task) is int for task in tasks)
                and all(type(value) is float and math.isfinite(value) for value in signals)
                and min(tasks) >= 0
                and max(tasks) < self.space.n
            ):
                return None
            pairs = list(zip(tasks, signals, strict=True))
        else:
            pairs = self._checked_integer_arrays(tasks, signals)
            if pairs is None:
                return None
        try:
            for _, value in pairs:
                self._validate_signal(value)
        except ValueError:
            return None
        return pairs

    def _checked_integer_arrays(
        self, tasks: list[Any], signals: Sequence[float]
    ) -> list[tuple[int, float]] | None:
        if not all(type(task) is int or isinstance(task, np.integer) for task in tasks):
            return None  # bools and floats would pass numpy's integer conversion
        try:
            task_array = np.asarray(tasks)
            raw_values = np.asarray(signals)
        except (TypeError, ValueError):
            return None
        if raw_values.dtype.kind not in "biuf":
            return None
        values = raw_values.astype(np.float64).reshape(-1)
        if (
            task_array.dtype.kind not in "iu"
            or task_array.shape != values.shape
            or task_array.min() < 0
            or task_array.max() >= self.space.n
            or not np.isfinite(values).all()
        ):
            return None
        return list(zip(task_array.tolist(), values.tolist(), strict=True))

    def _validate_signal(self, value: float) -> None:
        """Hook for teachers whose signal has a range (e.g. success in [0, 1])."""

    def _update(self, task: Any, signal: float) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------------------------- logging
    def stats(self) -> dict[str, float]:
        """Scalar internals worth logging (e.g. to TensorBoard); cheap to call."""
        return {"n_updates": float(self.n_updates)}

    # ----------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """A plain, picklable snapshot of everything that determines future behaviour."""
        return {
            "name": self.name,
            "space": self.space.to_config(),
            "hyperparameters": copy.deepcopy(self.hyperparameters),
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "n_updates": self.n_updates,
            "state": copy.deepcopy(self._get_state()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a snapshot taken by ``state_dict`` from a teacher of the same kind and space."""
        if state.get("name") != self.name:
            raise ValueError(f"state_dict is for teacher {state.get('name')!r}, not {self.name!r}")
        if space_from_config(state["space"]) != self.space:
            raise ValueError(f"state_dict space {state['space']} does not match {self.space!r}")
        if state["hyperparameters"] != self.hyperparameters:
            raise ValueError(
                f"state_dict hyperparameters {state['hyperparameters']} differ from this teacher's "
                f"{self.hyperparameters}; build the teacher with the same hyperparameters"
            )
        bit_generator = type(self.rng.bit_generator)()
        bit_generator.state = copy.deepcopy(state["rng"])
        self._set_state(copy.deepcopy(state["state"]))
        self.rng = np.random.Generator(bit_generator)
        self.n_updates = int(state["n_updates"])

    def _get_state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state: dict[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({self.space!r}{', ' if params else ''}{params})"
