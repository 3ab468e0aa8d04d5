"""A simulated GRPO student over difficulty levels with a binary verifier (pure numpy).

The setting of LLM post-training curricula (SEC, learnability, DAPO's filtering), shrunk to a few
dozen parameters so a teacher can be benchmarked over many seeds in seconds. Design from
``shared/reference/data-mixture-llm.md`` section 8.2 (pilot B).

Student
-------
- Level ``L`` (``1..n_levels``) asks for ``L`` tokens; the verifier returns reward 1 iff every one
  of them equals the level's target, else 0. The policy samples token ``j`` from
  ``softmax(theta[j])`` (``vocab`` tokens), independently per position, so the pass rate of level
  ``L`` is ``prod_{j < L} pi_j(target_j)`` (:meth:`GRPOLevelsStudent.pass_rates`). Random policy:
  ``vocab^-L``, so hard levels start with all-failed, zero-advantage groups.
- **Nested difficulty:** all levels share the per-position logits ``theta`` and targets (target
  ``j`` is the same for every level that asks for token ``j``), so a hard level contains the easy
  levels' skills and practice on level ``L`` trains positions ``0..L-1``. The prompts of one
  level are interchangeable: their success law is the level's, and the per-group statistics
  differ only through sampling noise.
- **Junk arms** (``n_solved``, ``n_unsolvable``): prompts whose verifier accepts everything
  (always solved) or nothing (never solvable). Their groups have reward std 0, hence advantage 0:
  they cost rollouts and teach nothing (what DAPO's dynamic sampling filters out).
- Arms: ``Discrete(n_levels + n_solved + n_unsolvable)``; arm ``i < n_levels`` is level ``i + 1``,
  then the always-solved arms, then the unsolvable ones (:meth:`GRPOLevelsStudent.kind`).

GRPO step (:meth:`GRPOLevelsStudent.train_step`, one generation batch = one optimizer step)
-----------------------------------------------------------------------------------------------
For each prompt (one arm per prompt) ``G = group_size`` rollouts; rewards ``r`` (``P x G``);
advantages ``A = (r - mean_g r) / (std_g r + 1e-4)`` per group with the unbiased std (TRL's
``GRPOTrainer`` defaults, ``scale_rewards="group"``; a group with std 0 has ``A = 0``). The
policy gradient of every rollout, ``A sum_j (onehot(y_j) - pi_j)`` over its tokens, is summed and
divided by all ``P x G`` rollouts of the batch (``normalization="batch"``: zero-advantage groups
dilute the step, as in a trainer's mean over the batch's tokens) or by the rollouts with a
non-zero advantage (``"active"``), then applied by plain SGD (``optimizer="sgd"``:
``theta += learning_rate * gradient``) or Adam (``"adam"``, betas 0.9/0.999, eps 1e-8). There is
no KL term and no clipping (one update per generation batch, so the importance ratio is 1).

Defaults: ``n_levels = 6``, ``vocab = 8``, ``group_size = 8`` (pilot B). ``normalization =
"batch"``, ``optimizer = "sgd"`` and ``learning_rate = 0.11`` are ours: the rate is calibrated on
*uniform* sampling in the nested regime so that uniform ends near pilot B's mean pass (0.47) after
100k rollouts (measured 0.465 over 10 seeds), not on any teacher. The other two settings are
robustness variants in ``benchmarks/grpo_levels.py``; which one a claim used must be named, as the
value of a curriculum depends on it (see ``docs/benchmarks/grpo_levels/report.md``).

Pilot B's "M prompts per level" has no counterpart here: the prompts of a level are
interchangeable in this student, so an arm is sampled directly.

:func:`run_grpo_curriculum` runs the teacher/student loop and feeds the teacher exactly as a GRPO
trainer integration does: per generation batch ONE ``update_batch`` call, with the per-level mean
``|A|`` for ``signal == "advantage"`` teachers (SEC) and one pass rate per prompt group otherwise
(learnability; ``success``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autocurr.spaces import Discrete
from autocurr.teachers.base import check_int, check_positive

__all__ = [
    "GRPOLevelsStudent",
    "GenerationBatch",
    "grpo_advantages",
    "run_grpo_curriculum",
    "teacher_feedback",
]

#: How the summed policy gradient is divided: by all rollouts of the batch (``"batch"``, TRL's
#: mean over the batch's tokens) or by the rollouts with a non-zero advantage (``"active"``).
NORMALIZATIONS = ("batch", "active")
OPTIMIZERS = ("sgd", "adam")
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
#: Added to the group std before dividing (TRL's GRPOTrainer).
ADVANTAGE_EPSILON = 1e-4


def grpo_advantages(rewards: np.ndarray) -> np.ndarray:
    """``(r - mean) / (std + 1e-4)`` per row (group) of ``rewards``, unbiased std (TRL)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    mean = rewards.mean(axis=1, keepdims=True)
    std = rewards.std(axis=1, ddof=1, keepdims=True) if rewards.shape[1] > 1 else 0.0 * mean
    return (rewards - mean) / (std + ADVANTAGE_EPSILON)


class GenerationBatch:
    """One generation batch: ``arms`` (``P``), ``rewards`` and ``advantages`` (``P x G``)."""

    def __init__(self, arms: np.ndarray, rewards: np.ndarray, advantages: np.ndarray):
        self.arms = arms
        self.rewards = rewards
        self.advantages = advantages

    @property
    def pass_rates(self) -> np.ndarray:
        """Pass rate of each prompt group."""
        return self.rewards.mean(axis=1)

    def mean_abs_advantage(self) -> tuple[list[int], list[float]]:
        """``(arms, means)``: the mean ``|A|`` over each arm's samples in this batch (SEC)."""
        per_group = np.abs(self.advantages).mean(axis=1)
        arms, inverse = np.unique(self.arms, return_inverse=True)
        means = np.bincount(inverse, weights=per_group) / np.bincount(inverse)
        return arms.tolist(), means.tolist()


class GRPOLevelsStudent:
    """Per-position softmax policy trained by GRPO on nested difficulty levels; see the module
    docstring."""

    def __init__(
        self,
        n_levels: int = 6,
        vocab: int = 8,
        n_solved: int = 0,
        n_unsolvable: int = 0,
        group_size: int = 8,
        learning_rate: float = 0.11,
        normalization: str = "batch",
        optimizer: str = "sgd",
        rng: np.random.Generator | int | None = None,
    ):
        self.n_levels = check_int("n_levels", n_levels, 1)
        self.vocab = check_int("vocab", vocab, 2)
        self.n_solved = check_int("n_solved", n_solved, 0)
        self.n_unsolvable = check_int("n_unsolvable", n_unsolvable, 0)
        self.group_size = check_int("group_size", group_size, 2)
        self.learning_rate = check_positive("learning_rate", learning_rate)
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
            )
        self.normalization = normalization
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        self.optimizer = optimizer
        self.rng = np.random.default_rng(rng)
        self.n_arms = self.n_levels + self.n_solved + self.n_unsolvable
        self.space = Discrete(self.n_arms)
        self.targets = self.rng.integers(self.vocab, size=self.n_levels)
        self.logits = np.zeros((self.n_levels, self.vocab))
        self._first_moment = np.zeros_like(self.logits)
        self._second_moment = np.zeros_like(self.logits)
        self.rollouts = 0
        self.steps = 0

    # ----------------------------------------------------------------------------- structure
    def kind(self, arm: int) -> str:
        """``"level"``, ``"solved"`` (always solved) or ``"unsolvable"``."""
        if not 0 <= arm < self.n_arms:
            raise ValueError(f"arm must be in [0, {self.n_arms}), got {arm!r}")
        if arm < self.n_levels:
            return "level"
        return "solved" if arm < self.n_levels + self.n_solved else "unsolvable"

    def is_junk(self, arm: int) -> bool:
        return self.kind(arm) != "level"

    def policy(self) -> np.ndarray:
        """``pi[j, v]``: probability of token ``v`` at position ``j``."""
        shifted = self.logits - self.logits.max(axis=1, keepdims=True)
        weights = np.exp(shifted)
        return weights / weights.sum(axis=1, keepdims=True)

    def token_accuracy(self) -> np.ndarray:
        """``pi_j(target_j)`` per position."""
        return self.policy()[np.arange(self.n_levels), self.targets]

    def pass_rates(self) -> np.ndarray:
        """Exact pass rate of each level under the sampling policy: ``prod_{j < L} pi_j``."""
        return np.cumprod(self.token_accuracy())

    # ----------------------------------------------------------------------------- GRPO
    def generate(self, arms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(tokens, rewards)`` for ``G`` rollouts of one prompt of each arm: tokens
        ``P x G x n_levels`` (only the first ``L`` count for level ``L``), rewards ``P x G``."""
        arms = np.asarray(arms, dtype=np.int64)
        n_prompts, group = arms.size, self.group_size
        cumulative = np.cumsum(self.policy(), axis=1)
        u = self.rng.random((n_prompts, group, self.n_levels, 1))
        tokens = np.minimum((u > cumulative).sum(axis=-1), self.vocab - 1)
        correct = tokens == self.targets
        lengths = np.minimum(arms + 1, self.n_levels)
        needed = np.arange(self.n_levels) < lengths[:, None, None]
        rewards = np.all(correct | ~needed, axis=-1).astype(np.float64)
        rewards[arms >= self.n_levels] = 0.0
        rewards[(arms >= self.n_levels) & (arms < self.n_levels + self.n_solved)] = 1.0
        return tokens, rewards

    def train_step(self, arms: Any) -> GenerationBatch:
        """Generate ``G`` rollouts for each prompt's arm, then one GRPO policy-gradient step."""
        arms = np.asarray(arms, dtype=np.int64).reshape(-1)
        if arms.size == 0 or arms.min() < 0 or arms.max() >= self.n_arms:
            raise ValueError(f"arms must be a non-empty sequence in [0, {self.n_arms})")
        tokens, rewards = self.generate(arms)
        advantages = grpo_advantages(rewards)
        advantages[arms >= self.n_levels] = 0.0  # junk: the verifier ignores the tokens
        lengths = np.minimum(arms + 1, self.n_levels)
        used = (np.arange(self.n_levels) < lengths[:, None, None]).astype(np.float64)
        # d log pi(y_j) / d theta_j = onehot(y_j) - pi_j, weighted by A, over used positions
        weight = advantages[:, :, None] * used  # P x G x positions
        onehots = np.zeros((self.n_levels, self.vocab))
        positions = np.broadcast_to(np.arange(self.n_levels), tokens.shape)
        np.add.at(onehots, (positions.ravel(), tokens.ravel()), weight.ravel())
        gradient = onehots - weight.sum(axis=(0, 1))[:, None] * self.policy()
        if self.normalization == "batch":
            denominator = rewards.size
        else:  # "active": only rollouts with a non-zero advantage count
            denominator = max(1, int(np.count_nonzero(advantages)))
        self._apply_gradient(gradient / denominator)
        self.rollouts += rewards.size
        self.steps += 1
        return GenerationBatch(arms, rewards, advantages)

    def _apply_gradient(self, gradient: np.ndarray) -> None:
        """Gradient *ascent* on the GRPO objective: plain SGD or Adam (Kingma & Ba defaults)."""
        if self.optimizer == "sgd":
            self.logits += self.learning_rate * gradient
            return
        beta1, beta2 = ADAM_BETAS
        self._first_moment = beta1 * self._first_moment + (1.0 - beta1) * gradient
        self._second_moment = beta2 * self._second_moment + (1.0 - beta2) * gradient**2
        t = self.steps + 1
        m_hat = self._first_moment / (1.0 - beta1**t)
        v_hat = self._second_moment / (1.0 - beta2**t)
        self.logits += self.learning_rate * m_hat / (np.sqrt(v_hat) + ADAM_EPSILON)


def teacher_feedback(teacher: Any, batch: GenerationBatch) -> None:
    """Report one generation batch to ``teacher`` with ONE ``update_batch`` call: the per-arm
    mean ``|A|`` if ``teacher.signal == "advantage"``, else one pass rate per prompt group."""
    if teacher.signal == "advantage":
        arms, means = batch.mean_abs_advantage()
        teacher.update_batch(arms, means)
    else:
        teacher.update_batch(batch.arms.tolist(), batch.pass_rates.tolist())


def run_grpo_curriculum(
    student: GRPOLevelsStudent,
    teacher: Any,
    n_steps: int,
    prompts_per_step: int = 16,
    record_every: int = 0,
) -> dict[str, Any]:
    """``n_steps`` generation batches of ``prompts_per_step`` prompts drawn by ``teacher``.

    Returns ``mean_pass`` (mean exact pass rate over the levels at the end), ``hardest_pass``,
    ``pass_rates`` (per level), ``junk_share`` (share of prompts drawn from junk arms),
    ``arm_share`` (per arm), ``rollouts``, and, with ``record_every > 0``, ``history``: a list of
    ``(rollouts, mean_pass)`` every ``record_every`` steps.
    """
    n_steps = check_int("n_steps", n_steps, 0)
    prompts_per_step = check_int("prompts_per_step", prompts_per_step, 1)
    counts = np.zeros(student.n_arms, dtype=np.int64)
    history = []
    for step in range(n_steps):
        arms = np.array([int(arm) for arm in teacher.sample(prompts_per_step)], dtype=np.int64)
        counts += np.bincount(arms, minlength=student.n_arms)
        teacher_feedback(teacher, student.train_step(arms))
        if record_every and (step + 1) % record_every == 0:
            history.append((student.rollouts, float(student.pass_rates().mean())))
    pass_rates = student.pass_rates()
    junk = counts[student.n_levels :].sum()
    return {
        "mean_pass": float(pass_rates.mean()),
        "hardest_pass": float(pass_rates[-1]),
        "pass_rates": pass_rates.tolist(),
        "junk_share": float(junk / max(1, counts.sum())),
        "arm_share": (counts / max(1, counts.sum())).tolist(),
        "rollouts": student.rollouts,
        "history": history,
    }
