"""Task spaces: what a teacher may choose from.

Teachers see tasks and floats only, so these spaces are small, dependency-free cousins of
``gymnasium.spaces`` (which would drag gymnasium into teacher code). Finite spaces expose a flat
index: ``index(task)`` maps a task to ``0..size-1`` and ``task(i)`` maps back, which is what
array-based teachers store their statistics against.

Canonical task values:
- ``Discrete(n)``: a Python ``int`` in ``[0, n)``.
- ``MultiDiscrete(nvec)``: a ``tuple`` of ints (hashable, so it can key a dict).
- ``Box(low, high)``: a 1-D ``float64`` numpy array.
- ``Levels(generator, ...)``: the level's compact encoding, usually ``bytes`` (see :class:`Levels`).
"""

from __future__ import annotations

import importlib
import numbers
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

__all__ = ["Box", "Discrete", "Levels", "MultiDiscrete", "Space", "space_from_config"]


class Space:
    """Base class. ``finite`` spaces support ``size``, ``index`` and ``task``."""

    finite: bool = False

    def contains(self, task: Any) -> bool:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def canonical(self, task: Any) -> Any:
        """``task`` in canonical form; ``ValueError`` if it is not in the space."""
        raise NotImplementedError

    def to_config(self) -> dict:
        """A plain dict that :func:`space_from_config` turns back into an equal space."""
        raise NotImplementedError


def _as_int(value: Any) -> int | None:
    """``value`` as an int if it is an integral number (not bool, not a float with a fraction)."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    return None


class Discrete(Space):
    """``n`` tasks named ``0 .. n-1``."""

    finite = True

    def __init__(self, n: int):
        n_int = _as_int(n)
        if n_int is None or n_int < 1:
            raise ValueError(f"Discrete(n) needs a positive integer n, got {n!r}")
        self.n = n_int

    @property
    def size(self) -> int:
        return self.n

    def contains(self, task: Any) -> bool:
        value = _as_int(task)
        return value is not None and 0 <= value < self.n

    def canonical(self, task: Any) -> int:
        if not self.contains(task):
            raise ValueError(f"task {task!r} is not in {self!r}")
        return int(task)

    def index(self, task: Any) -> int:
        return self.canonical(task)

    def task(self, index: int) -> int:
        return self.canonical(index)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.n))

    def to_config(self) -> dict:
        return {"type": "Discrete", "n": self.n}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Discrete) and other.n == self.n

    def __hash__(self) -> int:
        return hash(("Discrete", self.n))

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class MultiDiscrete(Space):
    """Tuples ``(t_0, .., t_{d-1})`` with ``0 <= t_j < nvec[j]``; flat index in row-major order."""

    finite = True

    def __init__(self, nvec: Sequence[int]):
        values = [_as_int(v) for v in np.atleast_1d(np.asarray(nvec, dtype=object)).tolist()]
        if not values or any(v is None or v < 1 for v in values):
            raise ValueError(f"MultiDiscrete(nvec) needs positive integers, got {nvec!r}")
        self.nvec = tuple(values)
        self._strides = np.cumprod((1, *self.nvec[:0:-1]))[::-1].astype(np.int64)

    @property
    def size(self) -> int:
        return int(np.prod(self.nvec, dtype=np.int64))

    def contains(self, task: Any) -> bool:
        try:
            values = [_as_int(v) for v in task]
        except TypeError:
            return False
        return len(values) == len(self.nvec) and all(
            v is not None and 0 <= v < n for v, n in zip(values, self.nvec, strict=True)
        )

    def canonical(self, task: Any) -> tuple[int, ...]:
        if not self.contains(task):
            raise ValueError(f"task {task!r} is not in {self!r}")
        return tuple(int(v) for v in task)

    def index(self, task: Any) -> int:
        return int(np.dot(self.canonical(task), self._strides))

    def task(self, index: int) -> tuple[int, ...]:
        i = _as_int(index)
        if i is None or not 0 <= i < self.size:
            raise ValueError(f"index {index!r} is out of range for {self!r}")
        return tuple(int(v) for v in np.unravel_index(i, self.nvec))

    def sample(self, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(v) for v in rng.integers(self.nvec))

    def to_config(self) -> dict:
        return {"type": "MultiDiscrete", "nvec": list(self.nvec)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiDiscrete) and other.nvec == self.nvec

    def __hash__(self) -> int:
        return hash(("MultiDiscrete", self.nvec))

    def __repr__(self) -> str:
        return f"MultiDiscrete({list(self.nvec)})"


class Box(Space):
    """Continuous parameters: vectors ``x`` with ``low <= x <= high`` elementwise (closed box)."""

    finite = False

    def __init__(self, low: float | Sequence[float], high: float | Sequence[float]):
        low_arr = np.atleast_1d(np.asarray(low, dtype=np.float64))
        high_arr = np.atleast_1d(np.asarray(high, dtype=np.float64))
        if low_arr.ndim != 1 or high_arr.ndim != 1:
            raise ValueError("Box bounds must be scalars or 1-D sequences")
        if low_arr.shape != high_arr.shape:
            raise ValueError(
                "Box bounds have different lengths: "
                f"low {low_arr.shape[0]}, high {high_arr.shape[0]}"
            )
        if not (np.all(np.isfinite(low_arr)) and np.all(np.isfinite(high_arr))):
            raise ValueError("Box bounds must be finite (no NaN or inf)")
        if np.any(low_arr > high_arr):
            raise ValueError(f"Box needs low <= high, got low={low_arr}, high={high_arr}")
        self.low = low_arr
        self.high = high_arr
        self.low.flags.writeable = False
        self.high.flags.writeable = False

    @property
    def dim(self) -> int:
        return int(self.low.shape[0])

    def contains(self, task: Any) -> bool:
        try:
            x = np.asarray(task, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        if x.ndim == 0:
            x = x.reshape(1)
        return (
            x.shape == self.low.shape
            and bool(np.all(np.isfinite(x)))
            and bool(np.all(x >= self.low))
            and bool(np.all(x <= self.high))
        )

    def canonical(self, task: Any) -> np.ndarray:
        if not self.contains(task):
            raise ValueError(f"task {task!r} is not in {self!r}")
        return np.array(task, dtype=np.float64).reshape(self.low.shape)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high)

    def to_config(self) -> dict:
        return {"type": "Box", "low": self.low.tolist(), "high": self.high.tolist()}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Box)
            and np.array_equal(other.low, self.low)
            and np.array_equal(other.high, self.high)
        )

    def __hash__(self) -> int:
        return hash(("Box", tuple(self.low), tuple(self.high)))

    def __repr__(self) -> str:
        return f"Box(low={self.low.tolist()}, high={self.high.tolist()})"


def _identity(value: Any) -> Any:
    return value


def _dotted_path(func: Callable) -> str | None:
    """``"module:qualname"`` if importing that path gives back ``func`` itself, else None."""
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    try:
        found = _import_path(f"{module}:{qualname}")
    except ValueError:
        return None
    return f"{module}:{qualname}" if found == func else None


def _import_path(path: str) -> Any:
    """The object named by ``"module:attr.attr"``; ValueError if it cannot be imported."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise ValueError(f"expected a 'module:name' path, got {path!r}")
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {path!r}: {exc}") from exc
    return obj


class Levels(Space):
    """An open-ended space of levels: made by ``generator``, edited by ``mutator``.

    Args:
        generator: ``generator(rng) -> level`` draws a fresh level (domain randomisation, or an
            empty room for ACCEL) using only the numpy Generator it is given.
        mutator: optional ``mutator(rng, level) -> level`` (e.g. k random edits), used by
            :meth:`mutate`.
        encode: ``encode(level) -> bytes``, a compact form; equal levels must give equal bytes.
            Default: identity (the generator then must return hashable, immutable values).
        decode: inverse of ``encode``; must raise ``ValueError`` (or ``TypeError``) on input
            that is not an encoded level. Default: identity.
        factory: optional ``("module:function", kwargs)`` that rebuilds an equal space, recorded
            by helpers such as ``autocurr.envs.maze.maze_levels`` so that :meth:`to_config` works
            for spaces built from closures or ``functools.partial``.

    Tasks are the **encoded** form (``bytes`` for the maze): ``sample`` returns it, and
    ``canonical`` maps a level object *or* its encoding to it. Bytes are hashable, so buffers and
    teachers can key dicts by them, and they cost a few dozen bytes to send to a worker process;
    whoever runs the level (the env wrapper) calls :meth:`decode` to get the level object.

    ``contains(task)`` is true iff the task decodes (or, for a level object, encodes and decodes
    back). The space is not finite, so it has no ``size``/``index``.

    Config (``to_config``/``space_from_config``): the space holds callables, so there is no
    registry entry for it. If a ``factory`` was given, the config is ``{"type": "Levels",
    "factory": path, "kwargs": {...}}``; otherwise each callable must be a module-level function
    importable as ``"module:qualname"`` and the config stores those paths. Anything else (a
    lambda, a closure, a bound method of an instance) makes ``to_config`` raise ``ValueError``.
    """

    finite = False

    def __init__(
        self,
        generator: Callable[[np.random.Generator], Any],
        mutator: Callable[[np.random.Generator, Any], Any] | None = None,
        encode: Callable[[Any], Hashable] | None = None,
        decode: Callable[[Hashable], Any] | None = None,
        factory: tuple[str, dict] | None = None,
    ):
        for name, func in (
            ("generator", generator),
            ("mutator", mutator),
            ("encode", encode),
            ("decode", decode),
        ):
            if func is not None and not callable(func):
                raise ValueError(f"Levels {name} must be callable, got {func!r}")
        if generator is None:
            raise ValueError("Levels needs a generator")
        if factory is not None:
            path, kwargs = factory
            if not isinstance(path, str) or not isinstance(kwargs, dict):
                raise ValueError("Levels factory must be a ('module:function', kwargs) pair")
            factory = (path, dict(kwargs))
        self.generator = generator
        self.mutator = mutator
        self._encode = encode if encode is not None else _identity
        self._decode = decode if decode is not None else _identity
        self.factory = factory

    # -- level <-> task ------------------------------------------------------------------------

    def encode(self, level: Any) -> Hashable:
        return self._encode(level)

    def decode(self, task: Any) -> Any:
        """The level object for a task (``ValueError`` if the task is not an encoded level)."""
        try:
            return self._decode(task)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"task {task!r:.80} is not in {self!r}: {exc}") from exc

    def canonical(self, task: Any) -> Hashable:
        """The encoding of ``task`` (an encoded level or a level object), re-encoded after
        decoding so every accepted input maps to one normal form. ValueError otherwise."""
        if isinstance(task, bytearray | memoryview):
            task = bytes(task)
        try:
            level = self._decode(task)
        except (TypeError, ValueError):
            try:
                level = self._decode(self._encode(task))
            except (TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"task {task!r:.80} is not in {self!r}") from exc
        encoded = self._encode(level)
        try:
            hash(encoded)
        except TypeError as exc:
            raise ValueError(f"encoded level {encoded!r:.80} is not hashable") from exc
        return encoded

    def contains(self, task: Any) -> bool:
        try:
            self.canonical(task)
        except ValueError:
            return False
        return True

    # -- generation ----------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> Hashable:
        """A fresh level from the generator, encoded."""
        return self._encode(self.generator(rng))

    def mutate(self, rng: np.random.Generator, task: Any) -> Hashable:
        """An edited copy of ``task`` (encoded). ValueError if the space has no mutator."""
        if self.mutator is None:
            raise ValueError(f"{self!r} has no mutator")
        return self._encode(self.mutator(rng, self.decode(self.canonical(task))))

    # -- config --------------------------------------------------------------------------------

    def to_config(self) -> dict:
        if self.factory is not None:
            path, kwargs = self.factory
            return {"type": "Levels", "factory": path, "kwargs": dict(kwargs)}
        config: dict[str, Any] = {"type": "Levels"}
        for name, func in (
            ("generator", self.generator),
            ("mutator", self.mutator),
            ("encode", self._encode),
            ("decode", self._decode),
        ):
            if func is None or func is _identity:
                config[name] = None
                continue
            path = _dotted_path(func)
            if path is None:
                raise ValueError(
                    f"Levels.to_config: {name} {func!r} is not an importable module-level "
                    "function; use module-level functions or pass factory=('module:function', "
                    "kwargs) to Levels"
                )
            config[name] = path
        return config

    @classmethod
    def from_config(cls, config: dict) -> Levels:
        if "factory" in config:
            space = _import_path(config["factory"])(**config.get("kwargs", {}))
            if not isinstance(space, Levels):
                raise ValueError(f"factory {config['factory']!r} did not return a Levels space")
            return space
        funcs = {
            name: None if config.get(name) is None else _import_path(config[name])
            for name in ("generator", "mutator", "encode", "decode")
        }
        return cls(**funcs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Levels):
            return False
        if self.factory is not None or other.factory is not None:
            return self.factory == other.factory
        return (
            self.generator == other.generator
            and self.mutator == other.mutator
            and self._encode == other._encode
            and self._decode == other._decode
        )

    def __hash__(self) -> int:
        if self.factory is not None:
            return hash(("Levels", self.factory[0], repr(sorted(self.factory[1].items()))))
        return hash(("Levels", self.generator))

    def __repr__(self) -> str:
        if self.factory is not None:
            args = ", ".join(f"{k}={v!r}" for k, v in self.factory[1].items())
            return f"Levels({self.factory[0]}({args}))"
        return f"Levels(generator={getattr(self.generator, '__qualname__', self.generator)!r})"


def space_from_config(config: dict) -> Space:
    """Inverse of ``Space.to_config``."""
    kind = config.get("type")
    if kind == "Discrete":
        return Discrete(config["n"])
    if kind == "MultiDiscrete":
        return MultiDiscrete(config["nvec"])
    if kind == "Box":
        return Box(config["low"], config["high"])
    if kind == "Levels":
        return Levels.from_config(config)
    raise ValueError(f"unknown space type {kind!r}")
