import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autocurr
from autocurr.spaces import Box, Discrete, MultiDiscrete
from autocurr.teachers import Teacher, available, from_state_dict, make_teacher

FINITE_SPACES = [Discrete(5), MultiDiscrete([2, 3])]


def assert_same_state(a: dict, b: dict) -> None:
    assert pickle.dumps(a) == pickle.dumps(b)


def test_registry_lists_and_builds_teachers():
    assert {"uniform", "exp3"} <= set(available())
    teacher = autocurr.make_teacher("exp3", Discrete(4), seed=0, gamma=0.2)
    assert isinstance(teacher, Teacher) and teacher.gamma == 0.2
    with pytest.raises(ValueError, match="unknown teacher 'nope'"):
        make_teacher("nope", Discrete(2))
    with pytest.raises(ValueError, match="finite space"):
        make_teacher("exp3", Box([0], [1]))


@pytest.mark.parametrize("name", ["uniform", "exp3", "exp3s"])
@pytest.mark.parametrize("space", FINITE_SPACES, ids=repr)
def test_probabilities_are_a_distribution_and_samples_follow_them(name, space):
    teacher = make_teacher(name, space, seed=1)
    rng = np.random.default_rng(0)
    for _ in range(300):
        teacher.update(teacher.sample(), float(rng.random()))
    probabilities = teacher.probabilities()
    assert probabilities.shape == (space.size,)
    assert np.all(probabilities >= 0) and math.isclose(probabilities.sum(), 1.0)
    frozen = from_state_dict(teacher.state_dict())  # sampling must not depend on updates
    counts = np.bincount([space.index(t) for t in frozen.sample(20000)], minlength=space.size)
    np.testing.assert_allclose(counts / 20000, probabilities, atol=0.02)


def test_sample_returns_one_task_or_a_list():
    teacher = make_teacher("uniform", MultiDiscrete([2, 2]), seed=0)
    assert isinstance(teacher.sample(), tuple)
    tasks = teacher.sample(5)
    assert isinstance(tasks, list) and len(tasks) == 5
    assert teacher.sample(0) == []
    with pytest.raises(ValueError, match="non-negative integer"):
        teacher.sample(-1)


def test_uniform_on_a_box_samples_inside_it():
    teacher = make_teacher("uniform", Box([0.0, 10.0], [1.0, 20.0]), seed=0)
    tasks = np.array(teacher.sample(1000))
    assert tasks.shape == (1000, 2)
    assert tasks[:, 0].min() >= 0 and tasks[:, 1].max() <= 20
    teacher.update(tasks[0], 1.0)
    with pytest.raises(ValueError, match="not in Box"):
        teacher.update([2.0, 15.0], 1.0)


def test_exp3_one_step_matches_hand_computation():
    # Auer et al.: p_i = (1-g) w_i / sum w + g/K ; w_i *= exp(g * (x / p_i) / K)
    teacher = make_teacher("exp3", Discrete(3), seed=0, gamma=0.3, reward="signal")
    np.testing.assert_allclose(teacher.probabilities(), [1 / 3] * 3)
    teacher.update(0, 1.0)  # x_hat = 1 / (1/3) = 3 ; log w_0 = 0.3 * 3 / 3 = 0.3
    w0 = math.exp(0.3)
    expected = [0.7 * w0 / (w0 + 2) + 0.1] + [0.7 / (w0 + 2) + 0.1] * 2
    np.testing.assert_allclose(teacher.probabilities(), expected, rtol=1e-12)
    teacher.update(1, 0.5)  # x_hat = 0.5 / p_1 ; log w_1 = 0.3 * x_hat / 3
    w1 = math.exp(0.3 * (0.5 / expected[1]) / 3)
    total = w0 + w1 + 1
    expected = [0.7 * w0 / total + 0.1, 0.7 * w1 / total + 0.1, 0.7 / total + 0.1]
    np.testing.assert_allclose(teacher.probabilities(), expected, rtol=1e-12)


def test_exp3_progress_reward_uses_fast_and_slow_emas():
    teacher = make_teacher("exp3", Discrete(2), seed=0, gamma=0.5, ema_alpha=0.5)
    teacher.update(0, 0.0)  # first visit: both EMAs start at the signal -> progress 0
    np.testing.assert_allclose(teacher.probabilities(), [0.5, 0.5])
    teacher.update(0, 1.0)  # fast 0.5, slow 0.25 -> progress 0.25 = the max so far -> reward 1
    assert teacher.progress.ema_fast[0] == 0.5 and teacher.progress.ema_slow[0] == 0.25
    w0 = math.exp(0.5 * (1 / 0.5) / 2)
    np.testing.assert_allclose(teacher.probabilities()[0], 0.5 * w0 / (w0 + 1) + 0.25)
    assert teacher.stats()["progress_scale"] == 0.25


@pytest.mark.parametrize("name", ["uniform", "exp3", "exp3s"])
def test_state_dict_resume_is_exact(name):
    teacher = make_teacher(name, Discrete(6), seed=3)
    rng = np.random.default_rng(7)
    for _ in range(50):
        teacher.update(teacher.sample(), float(rng.random()))
    resumed = from_state_dict(pickle.loads(pickle.dumps(teacher.state_dict())))
    same_kind = make_teacher(name, Discrete(6), seed=999)
    same_kind.load_state_dict(teacher.state_dict())
    np.testing.assert_array_equal(resumed.probabilities(), teacher.probabilities())  # bitwise
    for _ in range(100):
        signal = float(rng.random())
        tasks = [t.sample() for t in (teacher, resumed, same_kind)]
        assert tasks[0] == tasks[1] == tasks[2]
        batch = [t.sample(3) for t in (teacher, resumed, same_kind)]
        assert batch[0] == batch[1] == batch[2]
        for t in (teacher, resumed, same_kind):
            t.update(tasks[0], signal)
    assert_same_state(teacher.state_dict(), resumed.state_dict())
    np.testing.assert_array_equal(teacher.probabilities(), same_kind.probabilities())


def test_load_state_dict_rejects_a_mismatched_teacher():
    state = make_teacher("exp3", Discrete(4), seed=0).state_dict()
    with pytest.raises(ValueError, match="space"):
        make_teacher("exp3", Discrete(5)).load_state_dict(state)
    with pytest.raises(ValueError, match="hyperparameters"):
        make_teacher("exp3", Discrete(4), gamma=0.9).load_state_dict(state)
    with pytest.raises(ValueError, match="'exp3', not 'uniform'"):
        make_teacher("uniform", Discrete(4)).load_state_dict(state)


@pytest.mark.parametrize("name", ["uniform", "exp3", "exp3s"])
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda t: t.update(0, float("nan")), "finite"),
        (lambda t: t.update(0, float("inf")), "finite"),
        (lambda t: t.update(0, "high"), "real number"),
        (lambda t: t.update(4, 1.0), "not in Discrete"),
        (lambda t: t.update(-1, 1.0), "not in Discrete"),
        (lambda t: t.update_batch([0, 1], [1.0]), "lengths must match"),
        (lambda t: t.update_batch([0, 1, 2], [1.0, 0.5, float("nan")]), "item 2: .*finite"),
        (lambda t: t.update_batch([0, 9], [1.0, 0.5]), "item 1: .*not in Discrete"),
        (lambda t: t.update_batch(np.array([0, 1]), [1.0, 2j]), "item 1: .*real number"),
        (lambda t: t.update_batch([0, True], [1.0, 0.5]), "item 1: .*not in Discrete"),
        (lambda t: t.update_batch(np.array([0, 1]), np.ones((2, 2))), "lengths must match"),
        (lambda t: t.update_batch([0, 1.5], [1.0, 0.5]), "item 1: .*not in Discrete"),
    ],
)
def test_bad_input_raises_and_leaves_state_unchanged(name, call, message):
    teacher = make_teacher(name, Discrete(4), seed=0)
    teacher.update_batch([0, 1, 1, 2], [0.1, 0.4, 0.9, 0.3])
    before = teacher.state_dict()
    with pytest.raises(ValueError, match=message):
        call(teacher)
    assert_same_state(before, teacher.state_dict())


def test_exp3_signal_mode_rejects_rewards_outside_unit_interval():
    teacher = make_teacher("exp3", Discrete(2), reward="signal")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        teacher.update(0, 1.5)


# tscl-* read n_updates inside their update: the batch paths must count per item too.
@pytest.mark.parametrize("name", ["exp3", "tscl-window", "tscl-naive", "lp"])
@pytest.mark.parametrize("as_arrays", [False, True])  # lists: plain-Python path; arrays: numpy
def test_update_batch_equals_sequential_updates(name, as_arrays):
    a = make_teacher(name, Discrete(4), seed=0)
    b = make_teacher(name, Discrete(4), seed=0)
    rng = np.random.default_rng(1)
    tasks, signals = rng.integers(4, size=60).tolist(), rng.random(60).round(2).tolist()
    a.update_batch(
        np.array(tasks) if as_arrays else tasks, np.array(signals) if as_arrays else signals
    )
    for task, signal in zip(tasks, signals, strict=True):
        b.update(task, signal)
    assert_same_state(a.state_dict(), b.state_dict())


@settings(max_examples=60, deadline=None)
@given(
    updates=st.lists(
        st.tuples(st.integers(0, 7), st.floats(-1e6, 1e6, allow_nan=False)), max_size=200
    ),
    gamma=st.floats(0.01, 1.0),
)
def test_exp3_probabilities_stay_valid_and_above_the_floor(updates, gamma):
    teacher = make_teacher("exp3", Discrete(8), seed=0, gamma=gamma)
    for task, signal in updates:
        teacher.update(task, signal)
    probabilities = teacher.probabilities()
    assert math.isclose(probabilities.sum(), 1.0)
    assert np.all(probabilities >= gamma / 8 * (1 - 1e-9))


def _practice_run(teacher, n_episodes: int, seed: int) -> float:
    """Tasks 0-4 are learnable (success rises with practice); 5-9 are infeasible (never succeed).

    Returns the share of episodes spent on infeasible tasks.
    """
    rng = np.random.default_rng(seed)
    practice = np.zeros(10)
    infeasible = 0
    for _ in range(n_episodes):
        task = teacher.sample()
        if task >= 5:
            infeasible += 1
            success = 0.0
        else:
            practice[task] += 1
            success = float(rng.random() < 1 / (1 + math.exp(-(practice[task] - 40) / 8)))
        teacher.update(task, success)
    return infeasible / n_episodes


def test_exp3_spends_less_time_than_uniform_on_infeasible_tasks():
    # The literature's case for learning-progress bandits: tasks with no progress lose weight.
    shares = {
        name: np.mean(
            [_practice_run(make_teacher(name, Discrete(10), seed=s), 1500, s) for s in range(3)]
        )
        for name in ("uniform", "exp3")
    }
    assert shares["uniform"] == pytest.approx(0.5, abs=0.05)
    assert shares["exp3"] < 0.4
