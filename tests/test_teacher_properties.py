"""Properties every registered teacher keeps, checked with hypothesis over random update streams.

- ``probabilities()`` stays a distribution that respects ``exploration_floor()`` (finite spaces);
  samples stay inside the space (all spaces);
- NaN / inf signals and tasks outside the space raise ``ValueError`` and change nothing;
- a ``state_dict`` round trip gives identical future samples for identical future updates.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autocurr.envs.maze import maze_levels
from autocurr.spaces import Box, Levels, MultiDiscrete
from autocurr.teachers import available, from_state_dict, make_teacher

FINITE_SPACE = MultiDiscrete([2, 3])  # 6 tasks, tuple-valued: exercises canonical/index
BOX_SPACE = Box([0.0, -1.0], [1.0, 1.0])
LEVEL_SPACE = maze_levels()
RANDOM_ADVERSARY = (
    "autocurr.teachers.paired:RandomLevelAdversary",
    {"space": LEVEL_SPACE.to_config()},
)
#: Hyperparameters a teacher needs to be built at all, or to reach its interesting states
#: within a short stream (e.g. GMM fits after 12 episodes instead of 250).
HYPERPARAMETERS = {
    "sequential": {
        "stages": [[(0, 0), (0, 1)], [(1, 0)], [(1, 1), (1, 2)]],
        "conditions": ["success>=0.5", "episodes>=4"],
        "window": 3,
    },
    "adr": {"low_threshold": 0.2, "high_threshold": 0.8, "queue_length": 3},
    "alp-gmm": {"fit_rate": 12, "min_k": 1, "max_k": 2},
    "riac": {"max_region_size": 10},
    "tscl-naive": {"window": 3},
    "plr": {"buffer_size": 8},  # replay starts within a short stream
    "accel": {"buffer_size": 8},  # replay and edits within a short stream
    # PAIRED's adversary is a learned policy; a random-level adversary keeps these tests cheap.
    "paired": {"adversary_config": RANDOM_ADVERSARY},
    "repaired": {"adversary_config": RANDOM_ADVERSARY, "buffer_size": 8},
}
#: Teachers that only take regrets for the levels their adversary just proposed (PAIRED):
#: updates go to their own latest batch, and they have no exploration floor (the adversary's
#: entropy bonus is all the exploration PAIRED has).
BATCH_ONLY = {"paired"}
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def build(name: str, seed: int = 0):
    """The teacher over the finite test space, else over the box or a maze level space."""
    hyperparameters = HYPERPARAMETERS.get(name, {})
    for space in (FINITE_SPACE, BOX_SPACE, LEVEL_SPACE):
        try:
            return make_teacher(name, space, seed=seed, **hyperparameters)
        except ValueError as error:
            if not any(kind in str(error) for kind in ("finite", "Box", "Levels")):
                raise
    raise AssertionError(f"{name} accepts none of the test spaces")


def same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def snapshot(teacher) -> bytes:
    return pickle.dumps(teacher.state_dict())


def equal_states(a, b) -> bool:
    """Value equality of two state dicts (pickle bytes also encode object identity, which a
    round trip need not preserve)."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(equal_states(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(equal_states, a, b))
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=True)
        )
    return pickle.dumps(a) == pickle.dumps(b)


def feed(teacher, signals: list[float], own_tasks: list[bool], rng: np.random.Generator):
    """Updates on the teacher's own samples, or on arbitrary tasks of the space."""
    for signal, own in zip(signals, own_tasks, strict=True):
        own = own or teacher.name in BATCH_ONLY
        task = teacher.sample() if own else teacher.space.sample(rng)
        teacher.update(task, signal)


def check_distribution(teacher) -> None:
    if not teacher.space.finite:
        return
    probabilities = teacher.probabilities()
    assert probabilities.shape == (teacher.space.size,)
    assert np.all(np.isfinite(probabilities)) and np.all(probabilities >= 0.0)
    assert math.isclose(float(probabilities.sum()), 1.0, rel_tol=1e-9)
    floor = teacher.exploration_floor()
    assert 0.0 <= floor <= 1.0 / teacher.space.size + 1e-12
    assert probabilities.min() >= floor * (1.0 - 1e-9)


signals_strategy = st.lists(st.floats(0.0, 1.0), min_size=0, max_size=60)


@pytest.mark.parametrize("name", available())
@SETTINGS
@given(signals=signals_strategy, data=st.data())
def test_distribution_stays_valid_and_samples_stay_in_the_space(name, signals, data):
    teacher = build(name)
    own = data.draw(st.lists(st.booleans(), min_size=len(signals), max_size=len(signals)))
    rng = np.random.default_rng(len(signals))
    check_distribution(teacher)
    for signal, mine in zip(signals, own, strict=True):
        feed(teacher, [signal], [mine], rng)
        check_distribution(teacher)
    assert all(teacher.space.contains(task) for task in teacher.sample(20))
    if name not in BATCH_ONLY:
        assert teacher.exploration_floor() > 0.0, "every teacher keeps an exploration floor"


@pytest.mark.parametrize("name", available())
@SETTINGS
@given(signals=signals_strategy, bad=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_bad_input_raises_and_changes_nothing(name, signals, bad):
    teacher = build(name)
    feed(teacher, signals, [True] * len(signals), np.random.default_rng(0))
    task = teacher.sample()
    after_sample = snapshot(teacher)
    if isinstance(teacher.space, Levels):
        outside = b"not a maze level"
    else:
        outside = (5, 5) if teacher.space.finite else np.array([2.0, 0.0])
    attempts = [
        lambda: teacher.update(task, bad),
        lambda: teacher.update(outside, 0.5),
        lambda: teacher.update_batch([task, task], [0.5, bad]),
        lambda: teacher.update_batch([task, outside], [0.5, 0.5]),
        lambda: teacher.update_batch([task], [0.5, 0.5]),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError):
            attempt()
        assert snapshot(teacher) == after_sample


@pytest.mark.parametrize("name", available())
@SETTINGS
@given(signals=signals_strategy, future=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_state_dict_round_trip_gives_identical_future_samples(name, signals, future):
    teacher = build(name, seed=1)
    feed(teacher, signals, [True] * len(signals), np.random.default_rng(2))
    resumed = from_state_dict(pickle.loads(pickle.dumps(teacher.state_dict())))
    for signal in future:
        tasks = [t.sample() for t in (teacher, resumed)]
        assert same(tasks[0], tasks[1])
        batches = [t.sample(2) for t in (teacher, resumed)]
        assert same(batches[0], batches[1])
        for t in (teacher, resumed):
            if name in BATCH_ONLY:  # regrets for the pending batch only
                t.update_batch(batches[0], [signal, signal])
            else:
                t.update(tasks[0], signal)
    if teacher.space.finite:
        np.testing.assert_array_equal(teacher.probabilities(), resumed.probabilities())
    assert equal_states(teacher.state_dict(), resumed.state_dict())
