"""Stochastic and adversarial bandit teachers: exp3ix, ucb1, ducb, swucb, thompson.

Hand-computed single steps, input validation, exact state round-trips, the partial refresh, and
the drifting-bandit targets (reference ``teachers-bandit-lp.md`` section 19.5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from autocurr import make_teacher
from autocurr.envs import DriftingBandit, run_curriculum
from autocurr.spaces import Discrete, MultiDiscrete
from autocurr.teachers import from_state_dict
from autocurr.teachers.ducb import DiscountedUCBTeacher
from autocurr.teachers.exp3ix import Exp3IXTeacher
from autocurr.teachers.swucb import SlidingWindowUCBTeacher
from autocurr.teachers.thompson import ThompsonTeacher
from autocurr.teachers.ucb1 import IndexTeacher, UCB1Teacher

NAMES = ("exp3ix", "ucb1", "ducb", "swucb", "thompson")
CLASSES = {
    "exp3ix": Exp3IXTeacher,
    "ucb1": UCB1Teacher,
    "ducb": DiscountedUCBTeacher,
    "swucb": SlidingWindowUCBTeacher,
    "thompson": ThompsonTeacher,
}
#: One configuration per code path worth round-tripping.
CONFIGS = [
    ("exp3ix", {}),
    ("exp3ix", {"horizon": 500, "reward": "signal"}),
    ("ucb1", {}),
    ("ducb", {"gamma": 0.9}),
    ("swucb", {"window": 60}),
    ("thompson", {}),
    ("thompson", {"likelihood": "gaussian", "discount": 0.97, "reward": "signal"}),
    ("thompson", {"discount": 1.0, "reward": "signal"}),
]


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_same_state(a[key], b[key])
        elif isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
        else:
            assert a[key] == b[key], key


def play(teacher, steps: int, rng: np.random.Generator) -> list:
    """Alternate sample/update with rewards in [0, 1] that depend on the task."""
    tasks = []
    for _ in range(steps):
        task = teacher.sample()
        index = teacher.space.index(task)
        teacher.update(task, float(rng.random() < (index % 7) / 7))
        tasks.append(task)
    return tasks


# ------------------------------------------------------------------------ hand-computed steps
def test_exp3ix_one_step_matches_hand_computation():
    teacher = Exp3IXTeacher(Discrete(3), seed=0, horizon=100, epsilon=0.0, reward="signal")
    eta = math.sqrt(2 * math.log(3) / (3 * 100))
    teacher.update(0, 0.25)  # loss 0.75, p_0 = 1/3, gamma = eta / 2
    loss_estimate = 0.75 / (1 / 3 + eta / 2)
    weights = np.array([math.exp(-eta * loss_estimate), 1.0, 1.0])
    np.testing.assert_allclose(teacher.probabilities(), weights / weights.sum(), rtol=1e-12)
    assert teacher.exploration_floor() == 0.0


def naive_exp3ix(n_tasks, epsilon, pulls, horizon=None):
    """EXP3-IX with the floor and the restart-free doubling trick, O(K) per step."""
    losses = np.zeros(n_tasks)
    for t, (task, reward) in enumerate(pulls, start=1):
        epoch = t // n_tasks
        horizon_now = horizon or (n_tasks if epoch == 0 else n_tasks * 2 ** int(math.log2(epoch)))
        eta = math.sqrt(2 * math.log(n_tasks) / (n_tasks * horizon_now))
        weights = np.exp(-eta * (losses - losses.min()))
        p = (1 - epsilon) * weights / weights.sum() + epsilon / n_tasks
        losses[task] += (1 - reward) / (p[task] + eta / 2)
    t = len(pulls) + 1
    epoch = t // n_tasks
    horizon_now = horizon or (n_tasks if epoch == 0 else n_tasks * 2 ** int(math.log2(epoch)))
    eta = math.sqrt(2 * math.log(n_tasks) / (n_tasks * horizon_now))
    weights = np.exp(-eta * (losses - losses.min()))
    return (1 - epsilon) * weights / weights.sum() + epsilon / n_tasks


@pytest.mark.parametrize("horizon", [None, 50])
def test_exp3ix_matches_the_naive_rule_over_a_random_run(horizon):
    rng = np.random.default_rng(3)
    pulls = [(int(rng.integers(6)), float(rng.random())) for _ in range(300)]
    teacher = Exp3IXTeacher(Discrete(6), seed=0, horizon=horizon, epsilon=0.1, reward="signal")
    teacher.update_batch(*zip(*pulls, strict=True))
    expected = naive_exp3ix(6, 0.1, pulls, horizon)
    np.testing.assert_allclose(teacher.probabilities(), expected, rtol=1e-9)


def test_ucb1_index_matches_hand_computation():
    teacher = UCB1Teacher(Discrete(3), seed=0, reward="signal", epsilon=0.1)
    teacher.update_batch([0, 1, 0, 2], [1.0, 0.0, 0.5, 1.0])  # t = 4, n = (2, 1, 1)
    bonus = math.sqrt(2 * math.log(4))
    expected = [0.75 + bonus / math.sqrt(2), 0.0 + bonus, 1.0 + bonus]
    np.testing.assert_allclose(teacher.index_values(), expected, rtol=1e-12)
    np.testing.assert_allclose(teacher.probabilities(), [0.1 / 3, 0.1 / 3, 0.9 + 0.1 / 3])


def test_ucb1_first_round_visits_every_task_once_in_a_seeded_random_order():
    orders = set()
    for seed in range(4):
        teacher = UCB1Teacher(Discrete(6), seed=seed, epsilon=0.0, reward="signal")
        order = []
        for _ in range(6):
            task = teacher.sample()
            teacher.update(task, 0.0)
            order.append(task)
        assert sorted(order) == list(range(6))
        orders.add(tuple(order))
    assert len(orders) > 1


def test_ducb_discounted_index_matches_hand_computation():
    teacher = DiscountedUCBTeacher(Discrete(3), seed=0, gamma=0.5, reward="signal")
    teacher.update_batch([0, 1, 0], [1.0, 0.0, 0.0])
    # t = 3: N = (0.25 + 1, 0.5, 0), X = (0.25, 0, 0), n(gamma) = 1 + 0.5 + 0.25
    np.testing.assert_allclose(teacher.discounted_counts(), [1.25, 0.5, 0.0])
    np.testing.assert_allclose(teacher.discounted_sums(), [0.25, 0.0, 0.0])
    log_n = math.log(1.75)
    expected = [0.25 / 1.25 + math.sqrt(log_n / 2.5), math.sqrt(log_n / 1.0), math.inf]
    np.testing.assert_allclose(teacher.index_values(), expected, rtol=1e-12)
    assert teacher.probabilities().argmax() == 2  # the untried task


def test_ducb_forgets_a_long_absent_task_to_an_infinite_bonus():
    teacher = DiscountedUCBTeacher(Discrete(2), seed=0, gamma=0.5, epsilon=0.0, reward="signal")
    teacher.update(0, 1.0)
    teacher.update_batch([1] * 1200, [1.0] * 1200)  # 0.5^1200 underflows to 0
    assert teacher.index_values()[0] == math.inf
    assert teacher.sample() == 0


def test_swucb_forgets_a_pull_that_left_the_window():
    teacher = SlidingWindowUCBTeacher(Discrete(3), seed=0, window=3, reward="signal")
    teacher.update_batch([0, 1, 1], [1.0, 0.0, 1.0])
    assert teacher.index_values()[0] < math.inf
    teacher.update(2, 0.5)  # task 0's only pull leaves the window
    log_window = math.log(3)
    expected = [math.inf, 0.5 + math.sqrt(log_window / 2), 0.5 + math.sqrt(log_window)]
    np.testing.assert_allclose(teacher.index_values(), expected, rtol=1e-12)
    assert teacher.counts.tolist() == [0, 2, 1] and teacher.sums[0] == 0.0
    assert teacher.probabilities().argmax() == 0


def test_thompson_beta_posterior_counts_after_discounting():
    teacher = ThompsonTeacher(Discrete(3), seed=0, discount=0.5, reward="signal")
    teacher.update_batch([0, 0, 1], [1.0, 0.25, 0.5])
    # t = 3: task 0 has S = 1 * 0.5^2 + 0.25 * 0.5, F = 0 + 0.75 * 0.5; task 1 S = F = 0.5
    a, b = teacher.beta_parameters()
    np.testing.assert_allclose(a, [1.375, 1.5, 1.0])
    np.testing.assert_allclose(b, [1.375, 1.5, 1.0])


def test_thompson_gaussian_posterior_and_real_valued_returns():
    teacher = ThompsonTeacher(
        Discrete(2), seed=0, likelihood="gaussian", discount=0.5, reward="signal"
    )
    teacher.update_batch([0, 0], [10.0, 20.0])  # N = 1.5, S = 25, Q = 450: mean 50/3
    means, deviations = teacher.gaussian_parameters()
    mean = 25 / 1.5
    variance = 450 / 1.5 - mean**2
    pooled = (1.5 * variance + 0.25) / 2.5
    assert means[0] == pytest.approx(mean)
    assert deviations[0] == pytest.approx(math.sqrt(pooled / 1.5))
    assert deviations[1] == math.inf and teacher.sample() == 1  # untried task first


def test_thompson_samples_between_updates_share_the_cached_draws():
    teacher = ThompsonTeacher(Discrete(4), seed=0, epsilon=0.0, reward="signal")
    for _ in range(40):  # two equally good tasks, two bad ones
        teacher.update_batch([0, 1, 2, 3], [1.0, 1.0, 0.0, 0.0])
    assert len(set(teacher.sample(50))) == 1
    winners = []
    for _ in range(400):  # with an update after each sample the draws are fresh every time
        task = teacher.sample()
        winners.append(task)
        teacher.update(task, 1.0 if task < 2 else 0.0)
    counts = np.bincount(winners, minlength=4)
    assert counts[0] > 100 and counts[1] > 100 and counts[2:].sum() < 20


# ------------------------------------------------------------------------ distribution contract
@pytest.mark.parametrize("name", NAMES)
def test_probabilities_floor_and_sampling_agree(name):
    teacher = CLASSES[name](Discrete(5), seed=0, epsilon=0.2, reward="signal")
    play(teacher, 60, np.random.default_rng(0))
    probabilities = teacher.probabilities()
    assert probabilities.sum() == pytest.approx(1.0)
    assert probabilities.min() >= teacher.exploration_floor() - 1e-12
    assert teacher.exploration_floor() == pytest.approx(0.2 / 5)
    if name == "thompson":  # draws change after every sample: see the next test
        return
    draws = np.bincount(teacher.sample(20000), minlength=5) / 20000
    np.testing.assert_allclose(draws, probabilities, atol=0.015)


def test_thompson_next_sample_follows_probabilities():
    teacher = ThompsonTeacher(Discrete(5), seed=0, epsilon=0.3, reward="signal")
    play(teacher, 60, np.random.default_rng(0))
    probabilities = teacher.probabilities()
    state = teacher.state_dict()
    firsts = []
    for seed in range(3000):  # same draws, fresh randomness for the next sample
        clone = from_state_dict(state)
        clone.rng = np.random.default_rng(seed)
        firsts.append(clone.sample())
    draws = np.bincount(firsts, minlength=5) / len(firsts)
    np.testing.assert_allclose(draws, probabilities, atol=0.03)


@pytest.mark.parametrize("name", NAMES)
def test_multidiscrete_tasks(name):
    teacher = make_teacher(name, MultiDiscrete([2, 3]), seed=0)
    task = teacher.sample()
    assert isinstance(task, tuple) and len(task) == 2
    teacher.update(task, 0.7)
    assert all(isinstance(v, float) for v in teacher.stats().values())


# ------------------------------------------------------------------------ validation
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_signals_raise_and_leave_the_state_unchanged(name, bad):
    teacher = make_teacher(name, Discrete(4), seed=0)
    play(teacher, 10, np.random.default_rng(0))
    before = teacher.state_dict()
    with pytest.raises(ValueError):
        teacher.update(0, bad)
    with pytest.raises(ValueError):
        teacher.update_batch([0, 1], [0.5, bad])
    assert_same_state(before, teacher.state_dict())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_signal_mode_needs_the_unit_interval(name, bad):
    teacher = make_teacher(name, Discrete(4), seed=0, reward="signal")
    before = teacher.state_dict()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        teacher.update(1, bad)
    assert_same_state(before, teacher.state_dict())
    make_teacher(name, Discrete(4), seed=0).update(1, bad)  # progress mode takes any real


def test_gaussian_thompson_takes_real_signals():
    teacher = ThompsonTeacher(Discrete(3), seed=0, likelihood="gaussian", reward="signal")
    teacher.update(0, -250.0)
    assert teacher.counts[0] == 1.0


@pytest.mark.parametrize(
    ("name", "hyperparameters"),
    [
        ("exp3ix", {"horizon": 0}),
        ("exp3ix", {"epsilon": 1.0}),
        ("exp3ix", {"reward": "raw"}),
        ("ucb1", {"epsilon": -0.1}),
        ("ucb1", {"refresh_every": 0}),
        ("ducb", {"gamma": 0.0}),
        ("ducb", {"alpha": -1.0}),
        ("swucb", {"window": 0}),
        ("swucb", {"alpha": math.nan}),
        ("thompson", {"likelihood": "poisson"}),
        ("thompson", {"discount": 1.5}),
        ("thompson", {"prior_variance": 0.0}),
    ],
)
def test_bad_hyperparameters_raise(name, hyperparameters):
    with pytest.raises(ValueError, match=next(iter(hyperparameters))):
        make_teacher(name, Discrete(4), **hyperparameters)


@pytest.mark.parametrize("name", NAMES)
def test_bad_state_dict_leaves_the_teacher_unchanged(name):
    teacher = make_teacher(name, Discrete(4), seed=0)
    play(teacher, 12, np.random.default_rng(0))
    before = teacher.state_dict()
    broken = teacher.state_dict()
    key = "losses" if name == "exp3ix" else "counts"
    broken["state"][key] = np.zeros(3)
    with pytest.raises(ValueError):
        teacher.load_state_dict(broken)
    assert_same_state(before, teacher.state_dict())


# ------------------------------------------------------------------------ persistence
@pytest.mark.parametrize(("name", "hyperparameters"), CONFIGS)
@pytest.mark.parametrize("n_tasks", [5, 1000])  # 1000: refresh every 10 updates
def test_state_dict_round_trip_gives_identical_futures(name, hyperparameters, n_tasks):
    teacher = make_teacher(name, Discrete(n_tasks), seed=1, **hyperparameters)
    rng = np.random.default_rng(0)
    play(teacher, 1237, rng)  # not a multiple of refresh_every: mid refresh cycle
    if isinstance(teacher, IndexTeacher):
        assert teacher.pending > 0 or n_tasks < 200 or name == "swucb"
    resumed = from_state_dict(teacher.state_dict())
    assert_same_state(teacher.state_dict(), resumed.state_dict())
    state = rng.bit_generator.state
    first = play(teacher, 300, rng)
    rng.bit_generator.state = state
    assert play(resumed, 300, rng) == first
    np.testing.assert_array_equal(teacher.probabilities(), resumed.probabilities())


# ------------------------------------------------------------------------ partial refresh
@pytest.mark.parametrize(
    ("name", "hyperparameters"),
    [
        ("ucb1", {}),
        ("ducb", {"gamma": 0.995}),
        ("swucb", {"window": 2500}),
        ("thompson", {}),
        ("thompson", {"likelihood": "gaussian"}),
    ],
)
def test_partial_refresh_picks_what_a_full_rebuild_would(monkeypatch, name, hyperparameters):
    # 400 tasks: refresh every 4 updates, top-5 (top-9 for swucb) partial refreshes
    partial = make_teacher(name, Discrete(400), seed=2, **hyperparameters)
    full = make_teacher(name, Discrete(400), seed=2, **hyperparameters)
    monkeypatch.setattr(full, "_refresh", full._rebuild)
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    expected = play(full, 3000, rng)
    rng.bit_generator.state = state
    assert play(partial, 3000, rng) == expected


def test_small_spaces_are_exact_every_update():
    teacher = DiscountedUCBTeacher(Discrete(50), seed=0, gamma=0.95, epsilon=0.0, reward="signal")
    rng = np.random.default_rng(1)
    for _ in range(400):
        task = teacher.sample()
        assert teacher.index_values()[task] == teacher.index_values().max()
        teacher.update(task, float(rng.random() < task / 50))


# ------------------------------------------------------------------------ drifting bandit
PHASES = 8  # T = 16 000 pulls, Y = 7 switches
HORIZON, SWITCHES = 2000 * PHASES, PHASES - 1


def best_arm_shares(name, seed, **hyperparameters):
    student = DriftingBandit(n_arms=10, phase_length=2000, rng=seed)
    teacher = make_teacher(name, student.task_space, seed=seed, reward="signal", **hyperparameters)
    return run_curriculum(student, teacher, 2000 * PHASES)["best_arm_share_per_phase"]


# Garivier & Moulines' horizon-aware discount for D-UCB: 1 - sqrt(Y / T) / 4 (about 0.9948).
DUCB_GAMMA = 1 - math.sqrt(SWITCHES / HORIZON) / 4
# Auer et al.'s EXP3.S tuning (Corollary 8): alpha = 1/T,
# gamma = sqrt(K (S ln(K T) + e) / ((e - 1) T)) with S switches (about 0.18)
EXP3S_GAMMA = math.sqrt(
    10 * (SWITCHES * math.log(10 * HORIZON) + math.e) / ((math.e - 1) * HORIZON)
)


@pytest.mark.parametrize(
    ("name", "hyperparameters"),
    [
        ("ducb", {"gamma": DUCB_GAMMA}),
        ("swucb", {}),
        ("thompson", {}),
        # Graves et al.'s decoupled learning rate (exp3s's eta): Auer et al.'s horizon-tuned
        # gamma = 0.18, alpha = 1/T (EXP3S_GAMMA) only keeps ~0.4 of pulls on the best arm.
        ("exp3s", {"gamma": 0.15, "eta": 0.06, "alpha": 1e-4}),
    ],
)
def test_non_stationary_teachers_follow_the_best_arm_in_every_phase(name, hyperparameters):
    for seed in range(3):
        shares = best_arm_shares(name, seed, **hyperparameters)
        assert len(shares) == PHASES
        assert min(shares) >= 0.6, (seed, shares)


def test_exp3s_with_auer_et_al_tuning_alone_does_not_track():
    shares = best_arm_shares("exp3s", 0, gamma=EXP3S_GAMMA, alpha=1 / HORIZON)
    assert min(shares) < 0.6


def test_ucb1_is_the_negative_control():
    # UCB1's counts pile up on each phase's best arm, so later switches take ever longer.
    for seed in range(3):
        shares = best_arm_shares("ucb1", seed)
        assert min(shares) < 0.6, (seed, shares)


def test_thompson_with_a_short_memory_does_not_track():
    # SMPyBandits' discount 0.95 remembers ~20 pulls: too few for 10 arms (why 0.99 is default).
    shares = best_arm_shares("thompson", 0, discount=0.95)
    assert max(shares) < 0.6
