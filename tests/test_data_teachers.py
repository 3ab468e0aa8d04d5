"""The data teachers of issue 6: ``odm``, ``doremi``, ``sec`` and ``learnability``.

Hand-computed one- and two-step updates, state round trips, bad input, and small behavioural
checks (junk arms lose mass; the loss/excess teachers tilt to the highest loss/excess).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from autocurr.spaces import Discrete, MultiDiscrete
from autocurr.teachers import from_state_dict, make_teacher
from autocurr.teachers.doremi import DoReMiTeacher
from autocurr.teachers.learnability import LearnabilityTeacher, learnability_score
from autocurr.teachers.odm import ODMTeacher, odm_epsilon
from autocurr.teachers.sec import SECTeacher

NAMES = ("odm", "doremi", "sec", "learnability")


def softmax(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max())
    return e / e.sum()


# ================================================================================= ODM
def odm_probabilities(rewards, t: int) -> np.ndarray:
    """Paper form: (1 - K eps_t) softmax(eps_{t-1} R) + eps_t."""
    k = len(rewards)
    eps = min(1 / k, math.sqrt(math.log(k) / (k * t)))
    prev = 1 / k if t == 1 else min(1 / k, math.sqrt(math.log(k) / (k * (t - 1))))
    return (1 - k * eps) * softmax(prev * np.asarray(rewards)) + eps


def test_odm_epsilon_schedule():
    assert odm_epsilon(0, 4) == 0.25
    assert odm_epsilon(1, 4) == 0.25  # sqrt(ln 4 / 4) = 0.59 > 1/4
    assert odm_epsilon(100, 4) == pytest.approx(math.sqrt(math.log(4) / 400))
    assert odm_epsilon(5, 1) == 1.0


def test_odm_steps_match_hand_computation():
    teacher = ODMTeacher(Discrete(3), seed=0)  # alpha 0.9
    np.testing.assert_allclose(teacher.probabilities(), [1 / 3] * 3)
    teacher.update(0, 2.0)  # pi = 1/3: R_0 = 0.1 * 2 / (1/3) = 0.6; eps_1 = 1/3 -> uniform
    np.testing.assert_allclose(teacher.rewards, [0.6, 0, 0])
    np.testing.assert_allclose(teacher.probabilities(), [1 / 3] * 3)
    # one step with two items of arm 1 (mean loss 1.5) and one of arm 2
    teacher.update_batch([1, 1, 2], [1.0, 2.0, 3.0])
    assert teacher.steps == 2 and teacher.n_updates == 4
    np.testing.assert_allclose(teacher.rewards, [0.6, 0.45, 0.9])
    rewards = [0.6, 0.45, 0.9]
    for t in (3, 4, 5):  # eps_t < 1/3 from t = 4 on: the distribution tilts
        before = teacher.probabilities()
        teacher.update(2, 3.0)
        rewards[2] = 0.9 * rewards[2] + 0.1 * 3.0 / before[2]
        np.testing.assert_allclose(teacher.rewards, rewards, rtol=1e-12)
        np.testing.assert_allclose(teacher.probabilities(), odm_probabilities(rewards, t))
        assert teacher.exploration_floor() == pytest.approx(odm_epsilon(t, 3))
    assert teacher.probabilities().argmax() == 2


def test_odm_warmup_and_reward_scale():
    teacher = ODMTeacher(Discrete(2), seed=0, warmup=2, reward_scale=0.1, alpha=0.5)
    teacher.update(0, 5.0)
    teacher.update(1, 5.0)
    np.testing.assert_array_equal(teacher.rewards, [0.0, 0.0])  # warm-up: only t advances
    assert teacher.steps == 2
    teacher.update(0, 5.0)  # R_0 = 0.5 * 0.1 * 5 / 0.5
    np.testing.assert_allclose(teacher.rewards, [0.5, 0.0])


def test_odm_tilts_to_the_highest_loss_arm():
    teacher = ODMTeacher(Discrete(4), seed=0)
    rng = np.random.default_rng(0)
    losses = np.array([1.0, 2.0, 3.0, 6.0])
    for _ in range(600):
        arms = teacher.sample(8)
        teacher.update_batch(arms, losses[arms] + rng.normal(0, 0.1, size=8).clip(-0.5, 0.5))
    probabilities = teacher.probabilities()
    # a mild tilt: the smoothed importance-weighted estimate L / pi falls as pi grows
    assert np.all(np.diff(probabilities) > 0) and probabilities[3] > 0.27


# ================================================================================= DoReMi
def test_doremi_steps_match_hand_computation():
    teacher = DoReMiTeacher(Discrete(3), seed=0, eta=1.0, smoothing=0.1)
    teacher.update_batch([0, 0, 1], [1.0, 3.0, 0.5])  # lambda = [2, 0.5, 0 (initial)]
    alpha_1 = 0.9 * softmax(np.log([1 / 3] * 3) + np.array([2.0, 0.5, 0.0])) + 0.1 / 3
    np.testing.assert_allclose(teacher.probabilities(), alpha_1, rtol=1e-12)
    teacher.update(2, -1.0)  # negative excess clipped; arms 0 and 1 keep their lambda
    np.testing.assert_allclose(teacher.excess, [2.0, 0.5, 0.0])
    alpha_2 = 0.9 * softmax(np.log(alpha_1) + np.array([2.0, 0.5, 0.0])) + 0.1 / 3
    np.testing.assert_allclose(teacher.probabilities(), alpha_2, rtol=1e-12)
    np.testing.assert_allclose(teacher.average_probabilities(), (alpha_1 + alpha_2) / 2)
    assert teacher.exploration_floor() == pytest.approx(0.1 / 3)


def test_doremi_reference_loss_and_initial_excess():
    teacher = DoReMiTeacher(
        Discrete(3), seed=0, reference_loss=[1.0, 2.0, 3.0], initial_excess=0.5, smoothing=0.1
    )
    np.testing.assert_allclose(teacher.average_probabilities(), [1 / 3] * 3)
    teacher.update_batch([0, 1], [1.5, 1.0])  # excess [0.5, 0 (clipped), 0.5 (initial)]
    np.testing.assert_allclose(teacher.excess, [0.5, 0.0, 0.5])
    expected = 0.9 * softmax([0.5, 0.0, 0.5]) + 0.1 / 3
    np.testing.assert_allclose(teacher.probabilities(), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="reference_loss"):
        DoReMiTeacher(Discrete(3), reference_loss=[1.0, 2.0])
    with pytest.raises(ValueError, match="reference_loss"):
        DoReMiTeacher(Discrete(2), reference_loss=[1.0, math.nan])


def test_doremi_tilts_to_the_highest_excess():
    excess = np.array([0.0, 0.1, 0.2, 0.5])
    for hyperparameters, least in (({}, 0.95), ({"eta": 0.1, "smoothing": 0.05}, 0.4)):
        teacher = DoReMiTeacher(Discrete(4), seed=0, **hyperparameters)
        for _ in range(200):
            arms = sorted(set(teacher.sample(8)))
            teacher.update_batch(arms, excess[arms])
        probabilities = teacher.probabilities()
        # defaults (eta = 1): the online collapse of reference pitfall 7.2
        assert np.all(np.diff(probabilities) > 0) and probabilities[3] > least
        assert probabilities.min() >= teacher.exploration_floor() * (1 - 1e-9)
        assert teacher.average_probabilities().argmax() == 3


# ================================================================================= SEC
def test_sec_steps_match_hand_computation():
    teacher = SECTeacher(Discrete(3), seed=0, alpha=0.5, tau=1.0, epsilon=0.1)
    np.testing.assert_allclose(teacher.probabilities(), [1 / 3] * 3)
    teacher.update_batch([0, 0, 1], [0.4, 0.8, 0.2])  # r = [0.6, 0.2, 0]
    np.testing.assert_allclose(teacher.values(), [0.3, 0.1, 0.0])
    np.testing.assert_allclose(teacher.probabilities(), 0.9 * softmax([0.3, 0.1, 0.0]) + 0.1 / 3)
    teacher.update(1, 1.0)  # a batch of one: the absent arms decay (r = 0)
    np.testing.assert_allclose(teacher.values(), [0.15, 0.55, 0.0])
    np.testing.assert_allclose(teacher.probabilities(), 0.9 * softmax([0.15, 0.55, 0.0]) + 0.1 / 3)
    assert teacher.exploration_floor() == pytest.approx(0.1 / 3)


def test_sec_without_decay_and_with_temperature():
    teacher = SECTeacher(Discrete(3), seed=0, tau=0.2, epsilon=0.0, decay_unseen=False)
    teacher.update_batch([0, 1], [0.6, 0.2])
    teacher.update(1, 1.0)
    np.testing.assert_allclose(teacher.values(), [0.3, 0.55, 0.0])
    np.testing.assert_allclose(teacher.probabilities(), softmax(np.array([0.3, 0.55, 0.0]) / 0.2))


def test_sec_lazy_decay_matches_the_direct_rule_over_many_batches():
    teacher = SECTeacher(Discrete(5), seed=0, alpha=0.7)
    rng = np.random.default_rng(1)
    q = np.zeros(5)
    for _ in range(2000):  # the lazy scale is renormalised several times
        arm = int(rng.integers(5))
        value = float(rng.random())
        teacher.update(arm, value)
        reward = np.zeros(5)
        reward[arm] = value
        q = 0.7 * reward + 0.3 * q
    np.testing.assert_allclose(teacher.values(), q, rtol=1e-9, atol=1e-300)


# ================================================================================= learnability
def test_learnability_steps_match_hand_computation():
    teacher = LearnabilityTeacher(Discrete(4), seed=0)  # alpha 0.5, epsilon 0.05
    teacher.update_batch([0, 0, 1, 2], [0.5, 1.0, 0.25, 0.0])
    np.testing.assert_allclose(teacher.scores, [0.125, 0.1875, 0.0, 0.0])
    weights = np.array([0.125, 0.1875, 0.0, 0.25])  # arm 3 never seen: optimistic 0.25
    expected = 0.95 * weights / weights.sum() + 0.05 / 4
    np.testing.assert_allclose(teacher.probabilities(), expected, rtol=1e-12)
    teacher.update(0, 0.5)  # S_0 = 0.5 * 0.25 + 0.5 * 0.125
    np.testing.assert_allclose(teacher.scores, [0.1875, 0.1875, 0.0, 0.0])
    assert teacher.probabilities()[2] == pytest.approx(0.05 / 4)  # all-failed arm: floor only


def test_learnability_skew_prefers_the_frontier():
    assert learnability_score(0.5) == 0.25
    teacher = LearnabilityTeacher(Discrete(2), seed=0, skew=1.0, epsilon=0.1)
    teacher.update_batch([0, 1], [0.25, 0.75])  # p (1 - p)^2: 0.140625 vs 0.046875
    np.testing.assert_allclose(teacher.scores, [0.140625, 0.046875])
    assert teacher.probabilities()[0] == pytest.approx(0.9 * 0.75 + 0.05)
    untried = LearnabilityTeacher(Discrete(2), skew=1.0)
    assert untried._distribution()[0][0] == pytest.approx(4 / 27)


def test_learnability_all_zero_scores_fall_back_to_uniform():
    teacher = LearnabilityTeacher(Discrete(3), seed=0)
    teacher.update_batch([0, 1, 2], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(teacher.probabilities(), [1 / 3] * 3)


# ================================================================================= junk arms
def run_junk_levels(teacher, n_batches: int = 150, seed: int = 0) -> float:
    """Arms 0 (always solved) and 1 (unsolvable) are junk; arms 2..5 are learnable levels with
    fixed pass rates. Feeds the teacher as the GRPO integration does (one update_batch per
    generation batch: per-level mean |A| for sec, per-group pass rates otherwise). Returns the
    share of prompts drawn from the junk arms."""
    rng = np.random.default_rng(seed)
    pass_rate = np.array([1.0, 0.0, 0.3, 0.5, 0.6, 0.4])
    junk = 0
    for _ in range(n_batches):
        arms = [int(a) for a in teacher.sample(16)]
        junk += sum(a <= 1 for a in arms)
        rates = rng.binomial(8, pass_rate[arms]) / 8
        if teacher.name == "sec":
            abs_advantage = 2 * np.sqrt(rates * (1 - rates))  # per group, GRPO-normalised
            levels = sorted(set(arms))
            means = [abs_advantage[np.array(arms) == level].mean() for level in levels]
            teacher.update_batch(levels, means)
        else:
            teacher.update_batch(arms, rates)
    return junk / (16 * n_batches)


def test_junk_arms_get_at_most_the_floor():
    uniform_share = run_junk_levels(make_teacher("uniform", Discrete(6), seed=0))
    assert uniform_share == pytest.approx(2 / 6, abs=0.03)

    learnability = LearnabilityTeacher(Discrete(6), seed=0)
    share = run_junk_levels(learnability)
    floor = learnability.exploration_floor()
    np.testing.assert_allclose(learnability.probabilities()[:2], [floor, floor])
    assert share < 2 * floor + 0.02  # the first batch tries every arm once

    sec_sharp = SECTeacher(Discrete(6), seed=0, tau=0.2)
    share_sharp = run_junk_levels(sec_sharp)
    assert np.all(sec_sharp.probabilities()[:2] <= sec_sharp.exploration_floor() + 0.005)
    assert share_sharp < 0.1

    # Boltzmann at tau = 1 never drives Q = 0 arms to the floor, but they lose most of their mass
    sec = SECTeacher(Discrete(6), seed=0)
    assert run_junk_levels(sec) < 0.6 * uniform_share
    assert np.all(sec.probabilities()[:2] < 0.6 / 6)


# ================================================================================= shared contract
def build(name: str, seed: int = 0, space=None):
    return make_teacher(name, space or Discrete(5), seed=seed)


def feed(teacher, rng: np.random.Generator, n_batches: int) -> None:
    for _ in range(n_batches):
        arms = teacher.sample(int(rng.integers(1, 6)))
        teacher.update_batch(arms, rng.random(len(arms)))


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_identically(name):
    rng = np.random.default_rng(3)
    teacher = build(name, seed=1, space=MultiDiscrete([2, 3]))
    feed(teacher, rng, 40)
    resumed = from_state_dict(pickle.loads(pickle.dumps(teacher.state_dict())))
    np.testing.assert_array_equal(resumed.probabilities(), teacher.probabilities())
    for _ in range(40):
        tasks = [t.sample(4) for t in (teacher, resumed)]
        assert tasks[0] == tasks[1]
        signals = rng.random(4)
        for t in (teacher, resumed):
            t.update_batch(tasks[0], signals)
            t.update(tasks[0][0], float(signals[0]))
    np.testing.assert_array_equal(resumed.probabilities(), teacher.probabilities())
    assert pickle.dumps(resumed.state_dict()) == pickle.dumps(teacher.state_dict())


@pytest.mark.parametrize("name", NAMES)
def test_update_batch_is_one_step(name):
    teacher = build(name)
    teacher.update_batch([0, 1, 1, 3], [0.2, 0.4, 0.6, 0.1])
    teacher.update(2, 0.5)
    assert teacher.steps == 2 and teacher.n_updates == 5
    teacher.update_batch([], [])
    assert teacher.steps == 2


BAD_INPUT = {
    "odm": [(0, -0.5, "loss >= 0")],
    "doremi": [],
    "sec": [(0, -0.1, "advantage >= 0")],
    "learnability": [(0, 1.5, r"\[0, 1\]"), (0, -0.1, r"\[0, 1\]")],
}


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_and_changes_nothing(name):
    teacher = build(name)
    feed(teacher, np.random.default_rng(0), 5)
    before = pickle.dumps(teacher.state_dict())
    attempts = [(0, math.nan, "finite"), (9, 0.5, "not in Discrete"), *BAD_INPUT[name]]
    for task, signal, message in attempts:
        with pytest.raises(ValueError, match=message):
            teacher.update(task, signal)
        with pytest.raises(ValueError, match=f"item 1: .*{message}"):
            teacher.update_batch([1, task], [0.5, signal])
        assert pickle.dumps(teacher.state_dict()) == before
    with pytest.raises(ValueError, match="lengths must match"):
        teacher.update_batch([0, 1], [0.5])
    assert pickle.dumps(teacher.state_dict()) == before


@pytest.mark.parametrize(
    "name, hyperparameters",
    [
        ("odm", {"alpha": 1.0}),
        ("odm", {"warmup": -1}),
        ("odm", {"reward_scale": 0.0}),
        ("doremi", {"eta": 0.0}),
        ("doremi", {"smoothing": 0.0}),
        ("doremi", {"initial_excess": -1.0}),
        ("sec", {"tau": 0.0}),
        ("sec", {"alpha": 0.0}),
        ("sec", {"decay_unseen": 1}),
        ("learnability", {"epsilon": 0.0}),
        ("learnability", {"skew": -0.5}),
        ("learnability", {"refresh_every": 0}),
    ],
)
def test_bad_hyperparameters_raise(name, hyperparameters):
    with pytest.raises(ValueError, match=next(iter(hyperparameters))):
        make_teacher(name, Discrete(3), **hyperparameters)


@pytest.mark.parametrize("name", NAMES)
def test_samples_follow_probabilities(name):
    teacher = build(name, seed=2)
    feed(teacher, np.random.default_rng(1), 30)
    probabilities = teacher.probabilities()
    frozen = from_state_dict(teacher.state_dict())
    counts = np.bincount(frozen.sample(20000), minlength=5)
    np.testing.assert_allclose(counts / 20000, probabilities, atol=0.02)
