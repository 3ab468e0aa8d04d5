"""The simulated GRPO difficulty-level student (envs/grpo_levels.py) and its teacher loop."""

from __future__ import annotations

import numpy as np
import pytest

from autocurr.envs.grpo_levels import (
    GenerationBatch,
    GRPOLevelsStudent,
    grpo_advantages,
    run_grpo_curriculum,
    teacher_feedback,
)
from autocurr.teachers import make_teacher


def test_pass_rate_is_the_product_of_per_token_probabilities():
    student = GRPOLevelsStudent(n_levels=3, vocab=4, rng=0)
    student.targets = np.array([0, 1, 2])
    student.logits = np.log(
        np.array([[6.0, 1.0, 1.0, 2.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 3.0, 5.0]])
    )
    accuracy = np.array([0.6, 0.25, 0.3])
    np.testing.assert_allclose(student.token_accuracy(), accuracy)
    np.testing.assert_allclose(student.pass_rates(), np.cumprod(accuracy))
    # the sampled verifier agrees with the product (Monte Carlo, 3 000 groups of 8 per level)
    for level in range(3):
        _, rewards = student.generate(np.full(3000, level))
        expected = np.prod(accuracy[: level + 1])
        standard_error = np.sqrt(expected * (1 - expected) / rewards.size)
        assert abs(rewards.mean() - expected) < 4 * standard_error


def test_grpo_advantages_are_group_normalised_with_the_unbiased_std():
    rewards = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    advantages = grpo_advantages(rewards)
    std = np.std([1, 0, 0, 0], ddof=1)  # 0.5
    np.testing.assert_allclose(advantages[0], np.array([0.75, -0.25, -0.25, -0.25]) / (std + 1e-4))
    np.testing.assert_array_equal(advantages[1:], 0.0)  # solved / failed groups: no signal


def test_junk_arms_give_constant_rewards_and_never_move_the_policy():
    student = GRPOLevelsStudent(n_solved=2, n_unsolvable=2, rng=0)
    assert [student.kind(a) for a in (0, 5, 6, 7, 8, 9)] == [
        "level", "level", "solved", "solved", "unsolvable", "unsolvable",
    ]  # fmt: skip
    batch = student.train_step([6, 7, 8, 9, 6])
    np.testing.assert_array_equal(batch.rewards[[0, 1, 4]], 1.0)
    np.testing.assert_array_equal(batch.rewards[[2, 3]], 0.0)
    np.testing.assert_array_equal(batch.advantages, 0.0)
    np.testing.assert_array_equal(student.logits, 0.0)
    assert student.rollouts == 5 * 8 and student.steps == 1


def test_train_step_is_the_policy_gradient_of_the_group_advantages():
    student = GRPOLevelsStudent(n_levels=2, vocab=3, group_size=2, learning_rate=0.5, rng=0)
    student.targets = np.array([1, 2])
    tokens = np.array([[[1, 2], [0, 2]]])  # one level-2 prompt: rollout 0 right, rollout 1 wrong
    rewards = np.array([[1.0, 0.0]])
    student.generate = lambda arms: (tokens, rewards)
    policy = student.policy()
    student.train_step([1])
    a = 0.5 / (np.std([1.0, 0.0], ddof=1) + 1e-4)  # advantages +a and -a
    expected = np.zeros((2, 3))
    for rollout, sign in ((0, 1.0), (1, -1.0)):
        for position in range(2):
            onehot = np.eye(3)[tokens[0, rollout, position]]
            expected[position] += sign * a * (onehot - policy[position])
    np.testing.assert_allclose(student.logits, 0.5 * expected / 2)  # mean over 2 rollouts


def test_teacher_feedback_is_one_update_batch_with_the_right_signal():
    batch = GenerationBatch(
        np.array([2, 0, 2]),
        np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]),
        np.array([[0.7, -0.7], [0.0, 0.0], [0.0, 0.0]]),
    )
    calls = []

    class Spy:
        def __init__(self, signal):
            self.signal = signal

        def update_batch(self, tasks, signals):
            calls.append((list(tasks), [float(s) for s in signals]))

    teacher_feedback(Spy("advantage"), batch)
    teacher_feedback(Spy("success"), batch)
    assert calls == [([0, 2], [0.0, 0.35]), ([2, 0, 2], [0.5, 1.0, 0.0])]


def test_run_feeds_one_step_per_generation_batch():
    student = GRPOLevelsStudent(n_solved=1, n_unsolvable=1, rng=0)
    teacher = make_teacher("sec", student.space, seed=0)
    result = run_grpo_curriculum(student, teacher, 20, prompts_per_step=4, record_every=5)
    assert teacher.steps == 20 and student.rollouts == 20 * 4 * 8 == result["rollouts"]
    assert len(result["history"]) == 4
    assert result["mean_pass"] == pytest.approx(np.mean(result["pass_rates"]))
    assert sum(result["arm_share"]) == pytest.approx(1.0)


def test_sec_beats_uniform_in_the_junk_regime():
    """A tiny seeded run (200 steps, 3 seeds): SEC at its defaults avoids some of the junk arms'
    zero-advantage groups; with the benchmark's student that is worth ~1.4x uniform's mean pass
    (benchmarks/grpo_levels.py); here the margin asked for is 1.15x."""

    def mean_pass(name: str) -> float:
        scores = []
        for seed in range(3):
            student = GRPOLevelsStudent(n_solved=2, n_unsolvable=2, learning_rate=0.3, rng=seed)
            teacher = make_teacher(name, student.space, seed=1000 + seed)
            scores.append(run_grpo_curriculum(student, teacher, 200)["mean_pass"])
        return float(np.mean(scores))

    uniform, sec = mean_pass("uniform"), mean_pass("sec")
    assert sec > 1.15 * uniform, (sec, uniform)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="normalization"):
        GRPOLevelsStudent(normalization="tokens")
    with pytest.raises(ValueError, match="optimizer"):
        GRPOLevelsStudent(optimizer="rmsprop")
    with pytest.raises(ValueError, match="arms"):
        GRPOLevelsStudent().train_step([6])
