"""Teachers on Ray: one teacher actor serving rollout workers on any number of machines.

Pieces
------
- :class:`TeacherService` owns one teacher and answers batched calls: ``sample(k)``,
  ``report(tasks, signals)`` (one ``update_batch``), ``exchange(tasks, signals, k)`` (report, then
  sample: the common case, one round trip), ``state_dict``, ``load_state_dict``, ``stats``,
  ``probabilities``. It is a plain class; ``TeacherActor`` is the same class made a Ray actor
  (built on first use, so importing this module never needs Ray). A Ray actor runs one call at a
  time, so the teacher has a single owner however many workers talk to it.
- :func:`create_teacher_actor` starts one (optionally named and detached, so workers on other
  machines find it with :func:`get_teacher_actor`).
- :class:`RemoteTeacher` is the worker-side client. It keeps a local queue of up to ``prefetch``
  tasks and a buffer of finished episodes' outcomes, so one round trip serves many episodes:
  once the queue is down to ``prefetch // 2`` tasks, the next ``report`` (or a ``next_task``
  that leaves fewer) sends every buffered outcome and asks for the tasks that fill the queue
  again, in one ``exchange`` call that does not block (the answer is collected when the queue
  runs dry, normally long after it arrived). ``report_every``
  outcomes waiting trigger an extra, also non-blocking, ``report``. ``flush()`` (also called by
  ``close()`` and on leaving a ``with`` block) blocks until the teacher has every outcome
  reported so far; there is deliberately no ``__del__``: call ``close`` or use ``with``.
- :class:`RemoteCurriculumWrapper`: a gymnasium wrapper like
  :class:`~autocurr.wrappers.CurriculumWrapper` whose teacher is a :class:`RemoteTeacher`.
- RLlib (ray 2.60 new API stack: ``env_task_fn`` and ``TaskSettableEnv`` are gone; the
  curriculum hooks are env creators and callbacks): :func:`rllib_env_creator` wraps each env an
  ``EnvRunner`` builds, sharing one client per process, and :func:`flush_remote_teachers` is an
  ``on_sample_end`` callback so every outcome of a ``sample()`` reaches the teacher before the
  runner returns. :func:`make_env_task_fn` adapts the old API stack's ``env_task_fn``.

Staleness
---------
A queue never holds more than ``prefetch`` tasks, so a task runs at the latest as the
``prefetch``-th episode its client starts after the teacher sampled it (the teacher's choices
reach the worker up to ``prefetch`` episodes late), and an outcome reaches the teacher at the
latest with the client's next exchange, ``report_every`` outcomes or ``flush``, whichever comes
first. Lower ``prefetch`` for teachers that must react fast (PLR-style replay); raise it for
throughput: about ``2 / prefetch`` round trips per episode (``prefetch=1``: one per episode).

Tasks cross process boundaries in canonical form (``space.canonical``): ints for ``Discrete``,
tuples for ``MultiDiscrete``, compact encodings for ``Levels``.
"""

from __future__ import annotations

import math
import numbers
import threading
import weakref
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from autocurr.spaces import Space
from autocurr.teachers import Teacher, from_state_dict, make_teacher
from autocurr.teachers.base import check_int, check_signal
from autocurr.wrappers import CurriculumWrapper, SignalFn

__all__ = [
    "RemoteCurriculumWrapper",
    "RemoteTeacher",
    "TeacherActor",
    "TeacherService",
    "create_teacher_actor",
    "flush_remote_teachers",
    "get_teacher_actor",
    "make_env_task_fn",
    "rllib_env_creator",
]

_INSTALL_HINT = 'autocurr.integrations.ray needs Ray: pip install "autocurr[ray]"'


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return ray


# --------------------------------------------------------------------------------- teacher side
class TeacherService:
    """One teacher behind batched calls; the body of ``TeacherActor``.

    Args:
        teacher: a :class:`~autocurr.teachers.base.Teacher`, a registry name (then ``space``,
            ``seed`` and ``hyperparameters`` build it with ``make_teacher``), or a
            ``Teacher.state_dict()`` (rebuilt with ``from_state_dict``).
        space: the task space when ``teacher`` is a name.
        seed: the teacher's seed when ``teacher`` is a name.
        **hyperparameters: passed to ``make_teacher``.

    ``call_counts()`` gives the number of calls served per method (round trips to the actor).
    """

    def __init__(
        self,
        teacher: Teacher | str | dict[str, Any],
        space: Space | None = None,
        seed: Any = None,
        **hyperparameters: Any,
    ):
        built_elsewhere = not isinstance(teacher, str)
        if built_elsewhere and (space is not None or seed is not None or hyperparameters):
            raise ValueError("space, seed and hyperparameters apply only to a teacher name")
        if isinstance(teacher, Teacher):
            self.teacher = teacher
        elif isinstance(teacher, dict):
            self.teacher = from_state_dict(teacher)
        elif isinstance(teacher, str):
            if space is None:
                raise ValueError(f"building teacher {teacher!r} by name needs a space")
            self.teacher = make_teacher(teacher, space, seed=seed, **hyperparameters)
        else:
            raise ValueError(
                f"teacher must be a Teacher, a registry name or a state_dict, got {teacher!r}"
            )
        self._calls: Counter[str] = Counter()
        self.outcomes_received = 0
        self.tasks_served = 0

    def describe(self) -> dict[str, Any]:
        """What a client needs: the teacher's name, signal and space (the object itself)."""
        self._calls["describe"] += 1
        teacher = self.teacher
        return {"name": teacher.name, "signal": teacher.signal, "space": teacher.space}

    def sample(self, k: int) -> list:
        """``k`` tasks in canonical form."""
        self._calls["sample"] += 1
        return self._sample(k)

    def report(self, tasks: Sequence[Any], signals: Sequence[float]) -> int:
        """``update_batch(tasks, signals)`` (all or nothing); returns the teacher's update count."""
        self._calls["report"] += 1
        return self._report(tasks, signals)

    def exchange(self, tasks: Sequence[Any], signals: Sequence[float], k: int) -> list:
        """``report(tasks, signals)`` then ``sample(k)``, in one round trip."""
        self._calls["exchange"] += 1
        self._report(tasks, signals)
        return self._sample(k)

    def state_dict(self) -> dict[str, Any]:
        self._calls["state_dict"] += 1
        return self.teacher.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """``Teacher.load_state_dict``: same kind, space and hyperparameters only."""
        self._calls["load_state_dict"] += 1
        self.teacher.load_state_dict(state)

    def stats(self) -> dict[str, float]:
        """The teacher's ``stats()`` plus ``outcomes_received`` and ``tasks_served``."""
        self._calls["stats"] += 1
        stats = dict(self.teacher.stats())
        stats["outcomes_received"] = float(self.outcomes_received)
        stats["tasks_served"] = float(self.tasks_served)
        return stats

    def probabilities(self) -> np.ndarray:
        self._calls["probabilities"] += 1
        return self.teacher.probabilities()

    def call_counts(self) -> dict[str, int]:
        """Calls served so far, per method (this query itself is not counted)."""
        return dict(self._calls)

    def _sample(self, k: int) -> list:
        k = check_int("k", k, 0)
        tasks = [self.teacher.space.canonical(task) for task in self.teacher.sample(k)]
        self.tasks_served += k
        return tasks

    def _report(self, tasks: Sequence[Any], signals: Sequence[float]) -> int:
        if len(tasks):
            self.teacher.update_batch(tasks, signals)
            self.outcomes_received += len(tasks)
        return self.teacher.n_updates


if TYPE_CHECKING:
    #: ``ray.remote(TeacherService)``, built on first access (see the module ``__getattr__``).
    TeacherActor: Any

_ACTOR_CLASS: Any = None


def _actor_class() -> Any:
    """``ray.remote(TeacherService)``, built once per process on first use."""
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        _ACTOR_CLASS = _import_ray().remote(TeacherService)
    return _ACTOR_CLASS


def __getattr__(name: str) -> Any:
    # ``TeacherActor`` needs Ray; build it only when asked for, with the install hint if missing.
    if name == "TeacherActor":
        return _actor_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_teacher_actor(
    teacher: Teacher | str | dict[str, Any],
    space: Space | None = None,
    *,
    seed: Any = None,
    name: str | None = None,
    namespace: str | None = None,
    lifetime: str | None = None,
    get_if_exists: bool = False,
    actor_options: dict[str, Any] | None = None,
    **hyperparameters: Any,
) -> Any:
    """Start a ``TeacherActor`` and return its handle.

    ``teacher``, ``space``, ``seed`` and ``hyperparameters`` are as for :class:`TeacherService`.
    ``name`` (with ``namespace``) lets any worker of the cluster find the actor with
    :func:`get_teacher_actor`; ``lifetime="detached"`` keeps it alive after the driver exits
    (stop it with ``ray.kill``); ``get_if_exists=True`` returns the running actor of that name
    instead of failing. ``actor_options`` go to ``.options()`` as they are (``num_cpus``,
    ``resources``, ``scheduling_strategy``, ``max_restarts``, ...).
    """
    options = dict(actor_options or {})
    for key, value in (("name", name), ("namespace", namespace), ("lifetime", lifetime)):
        if value is not None:
            options[key] = value
    if get_if_exists:
        if name is None:
            raise ValueError("get_if_exists=True needs a name")
        options["get_if_exists"] = True
    actor_class = _actor_class()
    if options:
        actor_class = actor_class.options(**options)
    return actor_class.remote(teacher, space, seed, **hyperparameters)


def get_teacher_actor(name: str, namespace: str | None = None) -> Any:
    """The handle of the named teacher actor (``ray.get_actor``), from any worker or driver."""
    return _import_ray().get_actor(name, namespace=namespace)


# --------------------------------------------------------------------------------- worker side
#: Every open client of this process, for :func:`flush_remote_teachers`.
_OPEN_CLIENTS: weakref.WeakSet[RemoteTeacher] = weakref.WeakSet()

#: How many ``report`` calls may be in flight before the client waits for the oldest one.
_MAX_REPORTS_IN_FLIGHT = 4


class RemoteTeacher:
    """Worker-side client of a ``TeacherActor``: prefetched tasks, buffered outcomes.

    Args:
        actor: the actor handle (from :func:`create_teacher_actor` or :func:`get_teacher_actor`).
        prefetch: tasks held locally; the queue is refilled, without blocking, once it is down
            to ``prefetch // 2``. A task runs at the latest as the ``prefetch``-th episode this
            client starts after the teacher sampled it.
        report_every: buffered outcomes that trigger a non-blocking ``report`` when no
            exchange has carried them yet; default ``prefetch``.
        timeout: seconds to wait for any answer from the actor (``None``: forever).

    ``next_task()`` gives the next task, ``report(task, signal)`` buffers one finished episode's
    outcome, ``flush()`` blocks until the teacher has all of them, ``close()`` flushes and drops
    the unplayed tasks (counted in ``tasks_unused``). ``sample()``/``update()`` are aliases, so
    the client can stand in for a local teacher in code that only samples and updates.
    Counters: ``round_trips`` (calls sent to the actor), ``tasks_started``,
    ``outcomes_reported`` (buffered by ``report``), ``outcomes_delivered`` (acknowledged by the
    actor). A client is thread-safe; one per process is enough for all its envs.
    """

    def __init__(
        self,
        actor: Any,
        prefetch: int = 32,
        report_every: int | None = None,
        timeout: float | None = 60.0,
    ):
        self._ray = _import_ray()
        self.actor = actor
        self.prefetch = check_int("prefetch", prefetch, 1)
        self.report_every = check_int(
            "report_every", self.prefetch if report_every is None else report_every, 1
        )
        self.timeout = timeout
        self._refill_at = self.prefetch // 2
        self._lock = threading.RLock()
        self._queue: deque[Any] = deque()
        self._tasks: list[Any] = []  # outcomes buffered, not sent yet
        self._signals: list[float] = []
        self._exchange: tuple[Any, int] | None = None  # (object ref, outcomes it carries)
        self._reports: deque[tuple[Any, int]] = deque()  # reports sent, not acknowledged yet
        self.round_trips = 0
        self.tasks_started = 0
        self.outcomes_reported = 0
        self.outcomes_delivered = 0
        self.tasks_unused = 0
        self.closed = False
        info = self._call("describe")
        self.space: Space = info["space"]
        self.signal: str = info["signal"]
        self.teacher_name: str = info["name"]
        _OPEN_CLIENTS.add(self)

    # ------------------------------------------------------------------------------ tasks
    def next_task(self) -> Any:
        """The next task to play (blocks only when the local queue is empty)."""
        with self._lock:
            self._check_open()
            if not self._queue:
                if self._exchange is None:
                    self._send_exchange()
                self._collect_exchange()
            task = self._queue.popleft()
            self.tasks_started += 1
            # Normally ``report`` refills (so the exchange carries the newest outcome); this
            # catches envs that start tasks faster than they report, e.g. many envs per client.
            if len(self._queue) < self._refill_at and self._exchange is None:
                self._send_exchange()
            return task

    def sample(self, k: int | None = None) -> Any:
        """``next_task()``, or a list of ``k`` of them."""
        if k is None:
            return self.next_task()
        return [self.next_task() for _ in range(check_int("k", k, 0))]

    # ------------------------------------------------------------------------------ outcomes
    def report(self, task: Any, signal: float) -> None:
        """Buffer the outcome of one finished episode played on ``task``."""
        with self._lock:
            self._check_open()
            task, value = self.space.canonical(task), check_signal(signal)  # both before buffering
            self._tasks.append(task)
            self._signals.append(value)
            self.outcomes_reported += 1
            if len(self._queue) <= self._refill_at and self._exchange is None:
                self._send_exchange()  # refill, carrying this outcome: one call for both
            elif len(self._tasks) >= self.report_every:
                self._send_report()

    update = report

    def flush(self) -> None:
        """Block until the teacher has received every outcome reported so far."""
        with self._lock:
            if self._tasks:
                self._send_report()
            while self._reports:
                self._collect_report()
            if self._exchange is not None:
                self._collect_exchange()

    def close(self) -> None:
        """``flush()``, then drop the unplayed tasks; later calls raise. Idempotent."""
        with self._lock:
            if self.closed:
                return
            self.flush()
            self.tasks_unused += len(self._queue)
            self._queue.clear()
            self.closed = True
            _OPEN_CLIENTS.discard(self)

    def __enter__(self) -> RemoteTeacher:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ------------------------------------------------------------------------------ queries
    def state_dict(self) -> dict[str, Any]:
        """The teacher's ``state_dict`` (call ``flush()`` first to include buffered outcomes)."""
        return self._call("state_dict")

    def stats(self) -> dict[str, float]:
        return self._call("stats")

    def probabilities(self) -> np.ndarray:
        return self._call("probabilities")

    # ------------------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this RemoteTeacher is closed")

    def _get(self, ref: Any) -> Any:
        return self._ray.get(ref, timeout=self.timeout)

    def _call(self, method: str, *args: Any) -> Any:
        self.round_trips += 1
        return self._get(getattr(self.actor, method).remote(*args))

    def _take_outcomes(self) -> tuple[list, list]:
        tasks, signals = self._tasks, self._signals
        self._tasks, self._signals = [], []
        return tasks, signals

    def _send_exchange(self) -> None:
        # Calls from one caller run on the actor in the order sent, so this exchange sees every
        # earlier report. Ask for what fills the queue now: it can only shrink before the answer
        # lands, so the queue never exceeds ``prefetch`` (the staleness bound).
        tasks, signals = self._take_outcomes()
        wanted = self.prefetch - len(self._queue)
        self._exchange = (self.actor.exchange.remote(tasks, signals, wanted), len(tasks))
        self.round_trips += 1

    def _collect_exchange(self) -> None:
        ref, carried = self._exchange
        self._exchange = None
        tasks = self._get(ref)
        self.outcomes_delivered += carried
        # The exchange ran after every report sent before it: those are done (or failed).
        while self._reports:
            self._collect_report()
        self._queue.extend(tasks)

    def _send_report(self) -> None:
        while len(self._reports) >= _MAX_REPORTS_IN_FLIGHT:
            self._collect_report()
        tasks, signals = self._take_outcomes()
        self._reports.append((self.actor.report.remote(tasks, signals), len(tasks)))
        self.round_trips += 1

    def _collect_report(self) -> None:
        ref, carried = self._reports.popleft()
        self._get(ref)
        self.outcomes_delivered += carried


def flush_remote_teachers(**_: Any) -> None:
    """Flush every open :class:`RemoteTeacher` of this process.

    Accepts and ignores keyword arguments, so it can be an RLlib callback as it is:
    ``config.callbacks(on_sample_end=flush_remote_teachers)``.
    """
    for client in list(_OPEN_CLIENTS):
        client.flush()


class RemoteCurriculumWrapper(CurriculumWrapper):
    """:class:`~autocurr.wrappers.CurriculumWrapper` for a teacher behind a :class:`RemoteTeacher`.

    Each ``reset`` plays ``teacher.next_task()`` (or ``options["task"]``); each finished episode
    is reported once with ``teacher.report`` for the task that ran; ``info["task"]`` and, at the
    episode end, ``info["curriculum"] = {"task", "signal"}`` are set as by ``CurriculumWrapper``
    (the client's ``sample``/``update`` are ``next_task``/``report``).

    Args:
        env: any gymnasium environment.
        teacher: the client; several wrapped envs of one process may share it.
        apply_task: as for ``CurriculumWrapper``.
        signal: as for ``CurriculumWrapper`` (``None``: the teacher's own signal).
        close_teacher: ``close()`` closes the client (else only flushes it, for shared clients).
    """

    teacher_types = (RemoteTeacher,)

    def __init__(
        self,
        env: gym.Env,
        teacher: RemoteTeacher,
        apply_task: Callable[[gym.Env, Any], None] | None = None,
        signal: str | SignalFn | None = None,
        close_teacher: bool = True,
    ):
        super().__init__(env, teacher, apply_task, signal)
        self.close_teacher = close_teacher

    def close(self) -> None:
        try:
            if self.close_teacher:
                self.teacher.close()
            elif not self.teacher.closed:
                self.teacher.flush()
        finally:
            super().close()


# --------------------------------------------------------------------------------- RLlib
#: One client per (actor name, namespace) per process, shared by the envs RLlib builds there.
_PROCESS_CLIENTS: dict[tuple[str, str | None], RemoteTeacher] = {}
_PROCESS_CLIENTS_LOCK = threading.Lock()


def _process_client(
    actor_name: str, namespace: str | None, prefetch: int, report_every: int | None
) -> RemoteTeacher:
    key = (actor_name, namespace)
    with _PROCESS_CLIENTS_LOCK:
        client = _PROCESS_CLIENTS.get(key)
        if client is None or client.closed:
            actor = get_teacher_actor(actor_name, namespace)
            client = RemoteTeacher(actor, prefetch=prefetch, report_every=report_every)
            _PROCESS_CLIENTS[key] = client
        return client


def rllib_env_creator(
    env_creator: Callable[[Any], gym.Env],
    actor_name: str,
    namespace: str | None = None,
    *,
    prefetch: int = 32,
    report_every: int | None = None,
    apply_task: Callable[[gym.Env, Any], None] | None = None,
    signal: str | SignalFn | None = None,
) -> Callable[[Any], gym.Env]:
    """An env creator for RLlib whose envs play the tasks of the named teacher actor.

    ``env_creator(env_config)`` builds the plain env; the result wraps it in a
    :class:`RemoteCurriculumWrapper` whose client (one per process, shared by all envs of an
    ``EnvRunner``) talks to ``get_teacher_actor(actor_name, namespace)``. Register it with
    ``ray.tune.registry.register_env("my-env", rllib_env_creator(...))`` and add
    ``config.callbacks(on_sample_end=flush_remote_teachers)`` so each ``sample()`` delivers its
    outcomes before returning.
    """

    def create(env_config: Any) -> gym.Env:
        client = _process_client(actor_name, namespace, prefetch, report_every)
        env = env_creator(env_config)
        return RemoteCurriculumWrapper(env, client, apply_task, signal, close_teacher=False)

    return create


def _metric(results: dict[str, Any], path: str) -> Any:
    value: Any = results
    for key in path.split("/"):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def make_env_task_fn(
    actor: Any,
    metric: str | Callable[[dict[str, Any]], float | None] = "env_runners/episode_return_mean",
    timeout: float | None = 60.0,
) -> Callable[[dict[str, Any], Any, Any], Any]:
    """An ``env_task_fn`` for RLlib's old API stack (removed in recent Ray; ray 2.60 rejects it).

    The documented signature is ``env_task_fn(train_results, task_settable_env, env_ctx) ->
    new_task``, called once per training iteration for each ``TaskSettableEnv``. The returned
    function reports the iteration's ``metric`` (a ``/``-separated key path into
    ``train_results``, or a callable of them; skipped when missing or not a finite number, and
    when ``get_task()`` is None) for the env's current task
    (``get_task()``) and returns a fresh task, in one ``exchange``. The signal is an average over
    the whole iteration and every task, so it is much weaker than the per-episode outcomes of
    :func:`rllib_env_creator`; prefer that on any Ray version.
    """
    ray = _import_ray()

    def env_task_fn(train_results: dict[str, Any], task_settable_env: Any, env_ctx: Any) -> Any:
        value = metric(train_results) if callable(metric) else _metric(train_results, metric)
        task = task_settable_env.get_task()
        tasks, signals = [], []
        if task is not None and isinstance(value, numbers.Real) and math.isfinite(value):
            tasks, signals = [task], [float(value)]
        return ray.get(actor.exchange.remote(tasks, signals, 1), timeout=timeout)[0]

    return env_task_fn
