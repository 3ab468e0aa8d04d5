"""PLR level scores: regret estimates and policy-uncertainty scores computed from a rollout.

Papers: *Prioritized Level Replay* (Jiang, Grefenstette, Rocktäschel, ICML 2021) for the value-loss
and policy-uncertainty scores; *Replay-Guided Adversarial Environment Design* (Jiang et al.,
NeurIPS 2021) for positive value loss and MaxMC. Formulas from
``shared/reference/teachers-regret-ued.md`` section 3; written from those definitions, not ported.

Pure numpy; used by the PLR-family teachers (whose signal is ``score``) and by integrations that
turn a PPO rollout into one score per episode or per level.

Notation, per episode of ``L`` steps inside the rollout: ``delta_t = r_t + gamma V(s_{t+1}) -
V(s_t)`` (``V(s_{t+1}) = 0`` after the episode's last step), GAE ``A_t = sum_k (gamma lambda)^(k-t)
delta_k`` over the episode's remaining steps, ``R_max`` = best (undiscounted) episode return seen on
the level. Every score is a mean over the episode's ``L`` steps (PLR's ``1/T sum_t``):

======================  ====================================================================
``pvl``                 ``mean max(A_t, 0)`` -- positive value loss (Robust PLR, ACCEL)
``l1vl``                ``mean |A_t|`` -- L1 value loss, "GAE magnitude" (PLR paper's best)
``gae``                 ``mean A_t`` -- signed (``gae`` in level-replay/dcd; rarely useful)
``maxmc``               ``mean (R_max - V(s_t))`` -- can be negative (use the rank transform)
``grounded-pvl``        ``mean max(R_max - V(s_t), 0)`` (dcd, REPAIRED on CarRacing)
``one-step-td``         ``mean |delta_t|`` -- with gamma and the usual sign (level-replay's
                        version drops gamma and swaps the V terms: a known bug, not copied)
``entropy``             ``mean H(pi(.|s_t)) / log|A|`` -- normalised when ``|A|`` is known
                        (level-replay); ``H = -sum_a pi log pi`` (dcd's version has an
                        operator-precedence bug, not copied)
``least-confidence``    ``mean (1 - max_a pi(a|s_t))``
``min-margin``          ``mean (1 - (pi_(1) - pi_(2)))`` = ``1 - mean (pi_(1) - pi_(2))``
======================  ====================================================================

Sources disagree on two points; we follow the PLR papers / JaxUED and note the alternative:

- MaxMC averages ``R_max - V(s_t)`` over *all* steps (JaxUED, minimax, dcd for sparse rewards);
  dcd's dense-reward variant uses ``R_max - V(s_0)`` only.
- ``R_max`` for the rollout is ``max(best_returns[env], returns of the episodes finished on that env
  in this rollout)`` -- JaxUED's rule, which assumes each env keeps **one level for the whole
  rollout** (reference section 2 and the checklist of section 17). Unfinished (cut) segments never
  count towards ``R_max``. A level with no return ever recorded has no MaxMC: its score is
  ``-inf`` (JaxUED's value for levels without a completed episode; the rank transform ranks it
  last).

Conventions (check them against your rollout collector):

- ``dones[t]`` is True when the episode ended **after** step ``t`` (gymnasium's ``terminated or
  truncated`` returned by the step taken at ``t``); ``values[t + 1]`` then belongs to a new episode
  and is never used for step ``t``. Stable-Baselines3 stores ``episode_starts[t]`` (obs ``t`` is the
  first of an episode) instead: convert with :func:`dones_from_episode_starts`.
- A time-limit truncation is treated like a termination (no bootstrap from the value of the final
  observation), as JaxUED and dcd do by default.
- The segment of an env after its last ``done`` is **cut by the rollout boundary**. It is scored on
  its partial segment with GAE bootstrapped from ``last_value`` (the value of the observation after
  the rollout), as level-replay and dcd do; it is returned with ``finished=False`` so the caller can
  drop it (JaxUED and minimax score completed episodes only) or merge it with its continuation in
  the next rollout by the step-weighted mean of :func:`merge_partial_score` (level-replay/dcd).
- The first segment of an env may continue an episode cut at the end of the previous rollout; that
  is only known to the caller (an env reset to a level at the rollout start begins fresh).
- Scores are per episode; :func:`level_scores` averages an env's episode scores into one level score
  (mean of per-episode time averages, as JaxUED/minimax do).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "SCORE_FUNCTIONS",
    "EpisodeScore",
    "Rollout",
    "Segment",
    "dones_from_episode_starts",
    "episode_scores",
    "gae",
    "level_scores",
    "merge_partial_score",
    "pooled_level_scores",
    "td_errors",
]

# Tolerance for action probabilities summing to one (float32 softmax outputs).
_PROB_TOL = 1e-4


# --------------------------------------------------------------------------------------------------
# Input validation


def _finite_array(name: str, value: Any, allow_neg_inf: bool = False) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, got {value!r}") from error
    bad = np.isnan(array) | (array == np.inf)
    if not allow_neg_inf:
        bad |= array == -np.inf
    if bad.any():
        raise ValueError(f"{name} must be finite, got non-finite values at {np.argwhere(bad)[:3]}")
    return array


def _bool_array(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must be booleans or 0/1, got dtype {array.dtype}")
    return array.astype(bool)


def _check_discount(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def _check_time_major(rewards: Any, values: Any, dones: Any, last_value: Any):
    """The four core arrays as float/bool arrays of shape (T, n_envs) and (n_envs,)."""
    rewards = _finite_array("rewards", rewards)
    values = _finite_array("values", values)
    dones = _bool_array("dones", dones)
    last_value = _finite_array("last_value", last_value)
    if rewards.ndim not in (1, 2) or rewards.shape[0] == 0:
        raise ValueError(
            f"rewards must have shape (T,) or (T, n_envs) with T >= 1, got {rewards.shape}"
        )
    for name, array in (("values", values), ("dones", dones)):
        if array.shape != rewards.shape:
            raise ValueError(f"{name} has shape {array.shape}, rewards {rewards.shape}")
    if rewards.ndim == 1:
        rewards, values, dones = rewards[:, None], values[:, None], dones[:, None]
        if last_value.shape not in ((), (1,)):
            raise ValueError(
                f"last_value must be a scalar for 1-D rollouts, got shape {last_value.shape}"
            )
    elif last_value.shape != (rewards.shape[1],):
        raise ValueError(
            f"last_value must have shape ({rewards.shape[1]},), got {last_value.shape}"
        )
    return rewards, values, dones, last_value.reshape(rewards.shape[1])


# --------------------------------------------------------------------------------------------------
# TD errors and GAE


def dones_from_episode_starts(episode_starts: Any, last_dones: Any) -> np.ndarray:
    """Convert Stable-Baselines3's ``episode_starts`` to this module's done-after-step ``dones``.

    SB3's ``RolloutBuffer.episode_starts[t]`` says observation ``t`` opens an episode, i.e. the
    episode ended after step ``t - 1``; ``last_dones`` (the ``dones`` SB3 passes to
    ``compute_returns_and_advantage``) says whether it ended after the last step. So
    ``dones[t] = episode_starts[t + 1]`` and ``dones[T - 1] = last_dones``.
    """
    starts = _bool_array("episode_starts", episode_starts)
    last = _bool_array("last_dones", last_dones)
    if starts.ndim not in (1, 2) or starts.shape[0] == 0:
        raise ValueError(f"episode_starts must have shape (T,) or (T, n_envs), got {starts.shape}")
    if last.shape != starts.shape[1:]:
        raise ValueError(f"last_dones must have shape {starts.shape[1:]}, got {last.shape}")
    return np.concatenate([starts[1:], last[None]], axis=0)


def td_errors(rewards, values, dones, last_value, gamma: float = 0.99) -> np.ndarray:
    """One-step TD errors ``delta_t = r_t + gamma (1 - done_t) V_{t+1} - V_t``, shape of rewards.

    ``V_T = last_value`` (the bootstrap for episodes cut by the rollout end).
    """
    gamma = _check_discount("gamma", gamma)
    squeeze = np.ndim(rewards) == 1
    rewards, values, dones, last_value = _check_time_major(rewards, values, dones, last_value)
    deltas = _td_errors(rewards, values, dones, last_value, gamma)
    return deltas[:, 0] if squeeze else deltas


def _td_errors(rewards, values, dones, last_value, gamma) -> np.ndarray:
    next_values = np.concatenate([values[1:], last_value[None]], axis=0)
    return rewards + gamma * np.where(dones, 0.0, next_values) - values


def gae(rewards, values, dones, last_value, gamma: float = 0.99, lam: float = 0.95) -> np.ndarray:
    """Generalised advantage estimates, shape of ``rewards`` ((T,) or (T, n_envs)).

    ``A_t = delta_t + gamma lam (1 - done_t) A_{t+1}``, with ``A_T = 0`` and ``V_T = last_value``:
    the recursion restarts at every episode boundary, so nothing leaks across one, and an episode
    cut by the rollout end is bootstrapped from ``last_value``. Defaults gamma 0.99, lambda 0.95
    (PPO's usual values; the PLR repositories use gamma 0.99-0.999 and lambda 0.95-0.98).
    """
    gamma = _check_discount("gamma", gamma)
    lam = _check_discount("lam", lam)
    squeeze = np.ndim(rewards) == 1
    rewards, values, dones, last_value = _check_time_major(rewards, values, dones, last_value)
    advantages = _gae(_td_errors(rewards, values, dones, last_value, gamma), dones, gamma * lam)
    return advantages[:, 0] if squeeze else advantages


def _gae(deltas: np.ndarray, dones: np.ndarray, decay: float) -> np.ndarray:
    advantages = np.empty_like(deltas)
    running = np.zeros(deltas.shape[1])
    continues = ~dones
    for t in range(deltas.shape[0] - 1, -1, -1):  # backward over time, vectorised over envs
        running = deltas[t] + decay * continues[t] * running
        advantages[t] = running
    return advantages


# --------------------------------------------------------------------------------------------------
# Rollouts and episode segments


@dataclass(frozen=True)
class Rollout:
    """One rollout of ``T`` steps on ``n_envs`` envs, validated on construction.

    ``rewards``, ``values``, ``dones``: shape (T,) or (T, n_envs) (stored as (T, n_envs));
    ``last_value``: V of the observation after the last step, scalar or (n_envs,);
    ``entropies`` (optional): policy entropy per step, shape of ``rewards``;
    ``probs`` (optional): action probabilities, (T, A) or (T, n_envs, A) (stored 3-D);
    ``n_actions`` (optional): the number of discrete actions, for normalising ``entropy`` when
    ``probs`` is not given (``probs`` implies it).
    """

    rewards: np.ndarray
    values: np.ndarray
    dones: np.ndarray
    last_value: np.ndarray
    entropies: np.ndarray | None = None
    probs: np.ndarray | None = None
    n_actions: int | None = None

    def __post_init__(self) -> None:
        one_env = np.ndim(self.rewards) == 1
        rewards, values, dones, last_value = _check_time_major(
            self.rewards, self.values, self.dones, self.last_value
        )
        entropies = None
        if self.entropies is not None:
            entropies = _finite_array("entropies", self.entropies)
            if entropies.shape != np.shape(self.rewards):
                raise ValueError(
                    f"entropies has shape {entropies.shape}, rewards {np.shape(self.rewards)}"
                )
            entropies = entropies.reshape(rewards.shape)
        probs = None if self.probs is None else self._checked_probs(one_env, rewards.shape)
        n_actions = self.n_actions
        if n_actions is not None and (
            isinstance(n_actions, bool)
            or not isinstance(n_actions, int | np.integer)
            or n_actions < 1
        ):
            raise ValueError(f"n_actions must be a positive int, got {n_actions!r}")
        if probs is not None:
            if n_actions is not None and n_actions != probs.shape[-1]:
                raise ValueError(f"n_actions={n_actions} but probs has {probs.shape[-1]} actions")
            n_actions = probs.shape[-1]
        for name, value in (
            ("rewards", rewards),
            ("values", values),
            ("dones", dones),
            ("last_value", last_value),
            ("entropies", entropies),
            ("probs", probs),
            ("n_actions", n_actions),
        ):
            object.__setattr__(self, name, value)

    def _checked_probs(self, one_env: bool, shape: tuple[int, int]) -> np.ndarray:
        probs = _finite_array("probs", self.probs)
        expected_ndim = 2 if one_env else 3
        if (
            probs.ndim != expected_ndim
            or probs.shape[:-1] != shape[: expected_ndim - 1]
            or probs.shape[-1] == 0
        ):
            raise ValueError(
                f"probs must have shape (T{'' if one_env else ', n_envs'}, A) "
                f"matching rewards {shape[: expected_ndim - 1]}, got {probs.shape}"
            )
        probs = probs.reshape(*shape, probs.shape[-1])
        if (probs < 0).any() or (probs > 1).any():
            raise ValueError("probs must lie in [0, 1]")
        sums = probs.sum(axis=-1)
        if np.abs(sums - 1.0).max() > _PROB_TOL:
            raise ValueError(
                f"probs must sum to 1 over actions, got sums in [{sums.min()}, {sums.max()}]"
            )
        return probs

    @property
    def n_envs(self) -> int:
        return self.rewards.shape[1]

    @property
    def n_steps(self) -> int:
        return self.rewards.shape[0]


@dataclass(frozen=True)
class Segment:
    """The per-step arrays of one episode segment, as a score function sees them."""

    advantages: np.ndarray
    td_errors: np.ndarray
    values: np.ndarray
    entropies: np.ndarray | None
    probs: np.ndarray | None  # (L, A)
    n_actions: int | None
    best_return: float  # R_max of the level; -inf when none is known


class EpisodeScore(NamedTuple):
    """One scored episode segment: steps ``start`` (inclusive) to ``end`` (exclusive) of env
    ``env_index``; ``finished`` is False for the segment cut by the rollout end."""

    env_index: int
    start: int
    end: int
    score: float
    episode_return: float
    finished: bool


# --------------------------------------------------------------------------------------------------
# Score functions


def _positive_value_loss(segment: Segment) -> float:
    return float(np.maximum(segment.advantages, 0.0).mean())


def _l1_value_loss(segment: Segment) -> float:
    return float(np.abs(segment.advantages).mean())


def _signed_gae(segment: Segment) -> float:
    return float(segment.advantages.mean())


def _max_mc(segment: Segment) -> float:
    if segment.best_return == -math.inf:
        return -math.inf
    return float((segment.best_return - segment.values).mean())


def _grounded_positive_value_loss(segment: Segment) -> float:
    if segment.best_return == -math.inf:
        return -math.inf
    return float(np.maximum(segment.best_return - segment.values, 0.0).mean())


def _one_step_td(segment: Segment) -> float:
    return float(np.abs(segment.td_errors).mean())


def _entropy(segment: Segment) -> float:
    if segment.entropies is not None:
        entropies = segment.entropies
    else:
        probs = segment.probs
        # 0 log 0 = 0: mask zeros before the log.
        logs = np.log(np.where(probs > 0, probs, 1.0))
        entropies = -(probs * logs).sum(axis=-1)
    if segment.n_actions is None:
        return float(entropies.mean())
    if segment.n_actions == 1:
        return 0.0
    return float(entropies.mean() / math.log(segment.n_actions))


def _least_confidence(segment: Segment) -> float:
    return float((1.0 - segment.probs.max(axis=-1)).mean())


def _min_margin(segment: Segment) -> float:
    probs = segment.probs
    if probs.shape[-1] == 1:
        return 0.0  # one action: margin 1 - 0
    top_two = np.sort(probs, axis=-1)[:, -2:]
    return float((1.0 - (top_two[:, 1] - top_two[:, 0])).mean())


#: Score name -> function(Segment) -> float. Higher score = replay the level sooner.
SCORE_FUNCTIONS: dict[str, Callable[[Segment], float]] = {
    "pvl": _positive_value_loss,
    "l1vl": _l1_value_loss,
    "gae": _signed_gae,
    "maxmc": _max_mc,
    "grounded-pvl": _grounded_positive_value_loss,
    "one-step-td": _one_step_td,
    "entropy": _entropy,
    "least-confidence": _least_confidence,
    "min-margin": _min_margin,
}

_NEEDS_PROBS = ("least-confidence", "min-margin")
#: Scores computed from the policy's action distribution: a rollout for them needs ``probs`` (or
#: ``entropies`` for ``entropy``), which a student records only when its teacher asks.
POLICY_SCORES = ("entropy", *_NEEDS_PROBS)
_NEEDS_BEST_RETURN = ("maxmc", "grounded-pvl")


def _check_score_inputs(score: str, rollout: Rollout) -> None:
    if score not in SCORE_FUNCTIONS:
        raise ValueError(f"unknown score {score!r}; choose one of {sorted(SCORE_FUNCTIONS)}")
    if score in _NEEDS_PROBS and rollout.probs is None:
        raise ValueError(f"score {score!r} needs the action probabilities (rollout probs)")
    if score == "entropy" and rollout.entropies is None and rollout.probs is None:
        raise ValueError("score 'entropy' needs rollout entropies or probs")


def _as_rollout(rollout: Rollout | Mapping[str, Any]) -> Rollout:
    if isinstance(rollout, Rollout):
        return rollout
    if isinstance(rollout, Mapping):
        try:
            return Rollout(**rollout)
        except TypeError as error:  # missing or unknown keys
            raise ValueError(f"bad rollout keys: {error}") from error
    raise ValueError(f"rollout must be a Rollout or a mapping, got {type(rollout).__name__}")


def _check_best_returns(best_returns: Any, n_envs: int) -> np.ndarray:
    if best_returns is None:
        return np.full(n_envs, -np.inf)
    best = _finite_array("best_returns", best_returns, allow_neg_inf=True)
    allowed = [(n_envs,), ()] if n_envs == 1 else [(n_envs,)]
    if best.shape not in allowed:
        raise ValueError(f"best_returns must have shape ({n_envs},), got {best.shape}")
    return best.reshape(n_envs)


def _segment_bounds(dones: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, end, finished) for each episode segment of one env's ``dones`` (T,)."""
    ends = np.flatnonzero(dones) + 1
    bounds = []
    start = 0
    for end in ends:
        bounds.append((start, int(end), True))
        start = int(end)
    if start < dones.shape[0]:
        bounds.append((start, dones.shape[0], False))
    return bounds


def episode_scores(
    rollout: Rollout | Mapping[str, Any],
    score: str = "pvl",
    gamma: float = 0.99,
    gae_lambda: float = 0.95,
    best_returns: Any = None,
    include_unfinished: bool = True,
) -> list[EpisodeScore]:
    """Score every episode segment of ``rollout`` with ``SCORE_FUNCTIONS[score]``.

    ``rollout``: a :class:`Rollout` or a mapping of its fields. ``best_returns``: per env, the best
    episode return recorded on its level before this rollout (``-inf`` or ``None``: none yet);
    used by ``maxmc`` and ``grounded-pvl`` only, combined with the returns of the episodes that
    finish in this rollout (see the module docstring). Segments cut by the rollout end are
    returned with ``finished=False`` unless ``include_unfinished=False``. Ordered by env, then
    time.
    """
    rollout = _as_rollout(rollout)
    _check_score_inputs(score, rollout)
    best = _check_best_returns(best_returns, rollout.n_envs)
    if not isinstance(include_unfinished, bool):
        raise ValueError(f"include_unfinished must be a bool, got {include_unfinished!r}")
    gamma = _check_discount("gamma", gamma)
    gae_lambda = _check_discount("gae_lambda", gae_lambda)
    deltas = _td_errors(rollout.rewards, rollout.values, rollout.dones, rollout.last_value, gamma)
    advantages = _gae(deltas, rollout.dones, gamma * gae_lambda)
    score_fn = SCORE_FUNCTIONS[score]

    results = []
    for env in range(rollout.n_envs):
        bounds = _segment_bounds(rollout.dones[:, env])
        returns = [float(rollout.rewards[s:e, env].sum()) for s, e, _ in bounds]
        finished_returns = [r for r, (_, _, done) in zip(returns, bounds, strict=True) if done]
        best_return = max([float(best[env]), *finished_returns])
        for (start, end, finished), episode_return in zip(bounds, returns, strict=True):
            if not finished and not include_unfinished:
                continue
            segment = Segment(
                advantages=advantages[start:end, env],
                td_errors=deltas[start:end, env],
                values=rollout.values[start:end, env],
                entropies=None if rollout.entropies is None else rollout.entropies[start:end, env],
                probs=None if rollout.probs is None else rollout.probs[start:end, env],
                n_actions=rollout.n_actions,
                best_return=best_return,
            )
            results.append(
                EpisodeScore(env, start, end, score_fn(segment), episode_return, finished)
            )
    return results


def level_scores(
    episodes: list[EpisodeScore],
    n_envs: int,
    include_unfinished: bool = False,
    incomplete_value: float = -math.inf,
) -> np.ndarray:
    """One score per env: the mean of its episodes' scores (JaxUED/minimax rule).

    By default only finished episodes count and an env without one gets ``incomplete_value``
    (``-inf``: JaxUED's "never inserted"); ``include_unfinished=True`` counts the cut segment as
    one more episode.
    """
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive int, got {n_envs!r}")
    totals = np.zeros(n_envs)
    counts = np.zeros(n_envs, dtype=np.int64)
    for episode in episodes:
        if not 0 <= episode.env_index < n_envs:
            raise ValueError(f"episode env_index {episode.env_index} outside [0, {n_envs})")
        if episode.finished or include_unfinished:
            totals[episode.env_index] += episode.score
            counts[episode.env_index] += 1
    means = totals / np.maximum(counts, 1)  # -inf scores (MaxMC without R_max) stay -inf
    return np.where(counts > 0, means, incomplete_value)


def merge_partial_score(
    partial_score: float, partial_steps: int, new_score: float, new_steps: int
) -> float:
    """Step-weighted mean of a cut segment's score and its continuation's (level-replay/dcd):
    ``partial + (new - partial) * new_steps / (partial_steps + new_steps)``."""
    for name, steps in (("partial_steps", partial_steps), ("new_steps", new_steps)):
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
            raise ValueError(f"{name} must be a non-negative int, got {steps!r}")
    if partial_steps + new_steps == 0:
        raise ValueError("partial_steps + new_steps must be positive")
    if new_steps == 0:
        return float(partial_score)
    if partial_steps == 0:
        return float(new_score)
    return float(
        partial_score + (new_score - partial_score) * new_steps / (partial_steps + new_steps)
    )


def pooled_level_scores(
    levels: Sequence[Hashable], episodes: list[EpisodeScore]
) -> dict[Hashable, tuple[float, list[float]]]:
    """Per distinct level of a rollout (``levels[env]`` ran on env ``env``): the mean score of
    all its episode segments over every env that ran it (cut segments included; ``-inf`` if it
    has none), and the returns of its finished episodes. Pooling replaces dcd's "last finisher
    wins" when one level runs on several envs in a rollout."""
    envs_of: dict[Hashable, list[int]] = {}
    for env, level in enumerate(levels):
        envs_of.setdefault(level, []).append(env)
    pooled = {}
    for level, envs in envs_of.items():
        mine = [e for e in episodes if e.env_index in envs]
        score = float(np.mean([e.score for e in mine])) if mine else -math.inf
        pooled[level] = (score, [e.episode_return for e in mine if e.finished])
    return pooled
