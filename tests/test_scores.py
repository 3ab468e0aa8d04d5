"""PLR score functions on hand-made trajectories (reference teachers-regret-ued.md sections 3, 18).

The main fixture: 2 envs, T = 5, gamma = lambda = 0.5 (so gamma * lambda = 0.25 and the numbers
stay exact). Env 0 finishes an episode after step 1 and is cut by the rollout end after steps
2-4; env 1 has a single-step episode, a 3-step episode and a single-step episode ending exactly at
the rollout end. Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from autocurr.teachers.scores import (
    SCORE_FUNCTIONS,
    EpisodeScore,
    Rollout,
    dones_from_episode_starts,
    episode_scores,
    gae,
    level_scores,
    merge_partial_score,
    td_errors,
)

GAMMA = LAM = 0.5

UNIFORM = [1 / 3, 1 / 3, 1 / 3]
ONE_HOT = [1.0, 0.0, 0.0]
HALF = [0.5, 0.5, 0.0]
SKEW = [0.6, 0.3, 0.1]
LN3 = math.log(3)
H_SKEW = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1))


def make_rollout(**overrides) -> dict:
    fields = {
        # columns: env 0, env 1
        "rewards": [[0, 1], [1, 0], [0, 0], [0, 3], [2, 1]],
        "values": [[0.5, 0.0], [0.5, 1.0], [1.0, 2.0], [0.0, 2.0], [1.0, 0.0]],
        "dones": [[0, 1], [1, 0], [0, 0], [0, 1], [0, 1]],
        "last_value": [2.0, 5.0],  # env 1 ends at T - 1, so 5.0 must never be used
        "probs": [
            [UNIFORM, ONE_HOT],
            [ONE_HOT, UNIFORM],
            [HALF, SKEW],
            [SKEW, HALF],
            [UNIFORM, ONE_HOT],
        ],
    }
    fields.update(overrides)
    return fields


# Hand computation (delta_t = r_t + 0.5 (1 - done_t) V_{t+1} - V_t, A_t = delta_t + 0.25 A_{t+1}):
# env 0, episode [0, 2): delta = [0 + 0.25 - 0.5, 1 - 0.5] = [-0.25, 0.5]  (V_2 = 1 not used)
#                        A = [-0.25 + 0.25 * 0.5, 0.5] = [-0.125, 0.5]
# env 0, cut [2, 5):     delta = [0 + 0 - 1, 0 + 0.5 - 0, 2 + 0.5 * 2 - 1] = [-1, 0.5, 2]
#                        A = [-1 + 0.25, 0.5 + 0.25 * 2, 2] = [-0.75, 1, 2]
# env 1, [0, 1): delta = A = [1]
# env 1, [1, 4): delta = [0 + 1 - 1, 0 + 1 - 2, 3 - 2] = [0, -1, 1]
#                A = [0 + 0.25 * -0.75, -1 + 0.25, 1] = [-0.1875, -0.75, 1]
# env 1, [4, 5): delta = A = [1]  (done at T - 1: last_value 5 not used)
EXPECTED_DELTAS = [[-0.25, 1], [0.5, 0], [-1, -1], [0.5, 1], [2, 1]]
EXPECTED_ADVANTAGES = [[-0.125, 1], [0.5, -0.1875], [-0.75, -0.75], [1, 1], [2, 1]]
SEGMENTS = [(0, 0, 2, 1.0, True), (0, 2, 5, 2.0, False),
            (1, 0, 1, 1.0, True), (1, 1, 4, 3.0, True), (1, 4, 5, 1.0, True)]

EXPECTED = {
    "pvl": [0.5 / 2, 3 / 3, 1, 1 / 3, 1],
    "l1vl": [0.625 / 2, 3.75 / 3, 1, 1.9375 / 3, 1],
    "gae": [0.375 / 2, 2.25 / 3, 1, 0.0625 / 3, 1],
    "one-step-td": [0.75 / 2, 3.5 / 3, 1, 2 / 3, 1],
    "entropy": [(1 + 0) / 2, (math.log(2) / LN3 + H_SKEW / LN3 + 1) / 3, 0,
                (1 + H_SKEW / LN3 + math.log(2) / LN3) / 3, 0],
    "least-confidence": [(2 / 3 + 0) / 2, (0.5 + 0.4 + 2 / 3) / 3, 0, (2 / 3 + 0.4 + 0.5) / 3, 0],
    # 1 - (p1 - p2): uniform 1, one-hot 0, half 1, skew 0.7
    "min-margin": [(1 + 0) / 2, (1 + 0.7 + 1) / 3, 0, (1 + 0.7 + 1) / 3, 0],
    # best_returns [1.5, 0.5]: env 0 R_max = max(1.5, 1) = 1.5 (the cut return 2 does not count);
    # env 1 R_max = max(0.5, 1, 3, 1) = 3.
    "maxmc": [(1.0 + 1.0) / 2, (0.5 + 1.5 + 0.5) / 3, 3, (2 + 1 + 1) / 3, 3],
    "grounded-pvl": [(1.0 + 1.0) / 2, (0.5 + 1.5 + 0.5) / 3, 3, (2 + 1 + 1) / 3, 3],
}


def test_every_registered_score_has_a_hand_computed_case():
    assert set(SCORE_FUNCTIONS) == set(EXPECTED)


def test_td_errors_and_gae_match_the_hand_computation():
    rollout = make_rollout()
    args = (rollout["rewards"], rollout["values"], rollout["dones"], rollout["last_value"])
    np.testing.assert_allclose(td_errors(*args, gamma=GAMMA), EXPECTED_DELTAS)
    np.testing.assert_allclose(gae(*args, gamma=GAMMA, lam=LAM), EXPECTED_ADVANTAGES)


@pytest.mark.parametrize("score", sorted(EXPECTED))
def test_episode_scores_match_the_hand_computation(score):
    episodes = episode_scores(make_rollout(), score=score, gamma=GAMMA, gae_lambda=LAM,
                              best_returns=[1.5, 0.5])
    assert [(e.env_index, e.start, e.end, e.episode_return, e.finished) for e in episodes] \
        == SEGMENTS
    assert all(isinstance(e, EpisodeScore) for e in episodes)
    np.testing.assert_allclose([e.score for e in episodes], EXPECTED[score], atol=1e-12)


def test_gae_matches_a_per_episode_sum_on_random_rollouts():
    rng = np.random.default_rng(0)
    n_steps, n_envs, gamma, lam = 20, 3, 0.9, 0.8
    rewards = rng.normal(size=(n_steps, n_envs))
    values = rng.normal(size=(n_steps, n_envs))
    dones = rng.random((n_steps, n_envs)) < 0.25
    last_value = rng.normal(size=n_envs)
    advantages = gae(rewards, values, dones, last_value, gamma, lam)
    for env in range(n_envs):
        start = 0
        ends = [*list(np.flatnonzero(dones[:, env]) + 1), n_steps]
        for end in ends:
            if end <= start:
                continue
            finished = bool(dones[end - 1, env])
            # V after each step, inside the episode only: 0 after a terminal step, last_value
            # after a cut segment's final step.
            bootstrap = 0.0 if finished else last_value[env]
            next_values = [*values[start + 1:end, env], bootstrap]
            deltas = [rewards[t, env] + gamma * next_values[t - start] - values[t, env]
                      for t in range(start, end)]
            for t in range(start, end):
                expected = sum((gamma * lam) ** (k - t) * deltas[k - start] for k in range(t, end))
                assert advantages[t, env] == pytest.approx(expected, abs=1e-10)
            start = end


def test_one_dimensional_rollouts_are_a_single_env():
    rollout = {"rewards": [0.0, 0.0, 0.0], "values": [0.0, 0.0, 0.0], "dones": [0, 0, 0],
               "last_value": 1.0}
    # Bootstrap at the rollout end: delta_2 = gamma * 1, A_t = gamma (gamma lambda)^(2 - t).
    np.testing.assert_allclose(gae(**rollout, gamma=0.5, lam=0.5), [0.5 / 16, 0.5 / 4, 0.5])
    assert td_errors(**rollout, gamma=0.5).shape == (3,)
    (episode,) = episode_scores(rollout, score="gae", gamma=0.5, gae_lambda=0.5)
    assert (episode.env_index, episode.start, episode.end, episode.finished) == (0, 0, 3, False)
    assert episode.score == pytest.approx((0.5 / 16 + 0.5 / 4 + 0.5) / 3)


def test_bootstrap_reaches_only_the_cut_segment():
    base = episode_scores(make_rollout(), score="l1vl", gamma=GAMMA, gae_lambda=LAM)
    moved = episode_scores(make_rollout(last_value=[-7.0, 100.0]), score="l1vl", gamma=GAMMA,
                           gae_lambda=LAM)
    changed = [a.score != b.score for a, b in zip(base, moved, strict=True)]
    # only env 0's cut segment uses last_value; env 1 ended exactly at the rollout end
    assert changed == [False, True, False, False, False]


def test_no_value_leaks_across_an_episode_boundary():
    rollout = make_rollout()
    values = np.array(rollout["values"])
    values[2, 0] = 50.0  # first value of env 0's second episode
    values[1, 1] = -50.0  # first value of env 1's second episode
    base = episode_scores(rollout, score="pvl", gamma=GAMMA, gae_lambda=LAM)
    moved = episode_scores(make_rollout(values=values), score="pvl", gamma=GAMMA, gae_lambda=LAM)
    assert base[0].score == moved[0].score  # env 0's first episode
    assert base[2].score == moved[2].score  # env 1's single-step first episode


def test_single_step_episodes_score_their_own_step():
    rollout = {"rewards": [[2.0]], "values": [[0.5]], "dones": [[True]], "last_value": [9.0]}
    expected = {"pvl": 1.5, "l1vl": 1.5, "gae": 1.5, "one-step-td": 1.5}
    for score, value in expected.items():
        (episode,) = episode_scores(rollout, score=score)
        assert episode.score == pytest.approx(value)
        assert episode.finished and episode.episode_return == 2.0
    negative = {"rewards": [[-1.0]], "values": [[0.5]], "dones": [[True]], "last_value": [0.0]}
    assert episode_scores(negative, score="pvl")[0].score == 0.0
    assert episode_scores(negative, score="gae")[0].score == pytest.approx(-1.5)
    assert episode_scores(negative, score="l1vl")[0].score == pytest.approx(1.5)


def test_maxmc_can_be_negative_and_grounded_pvl_clips_it():
    rollout = {"rewards": [1.0], "values": [3.0], "dones": [1], "last_value": 0.0}
    assert episode_scores(rollout, score="maxmc")[0].score == pytest.approx(-2.0)
    assert episode_scores(rollout, score="grounded-pvl")[0].score == 0.0


def test_maxmc_without_any_recorded_return_is_minus_infinity():
    rollout = {"rewards": [1.0, 1.0], "values": [0.0, 0.0], "dones": [0, 0], "last_value": 0.0}
    (episode,) = episode_scores(rollout, score="maxmc")
    assert episode.score == -math.inf and not episode.finished
    (episode,) = episode_scores(rollout, score="maxmc", best_returns=[-math.inf])
    assert episode.score == -math.inf
    (episode,) = episode_scores(rollout, score="maxmc", best_returns=[4.0])
    assert episode.score == pytest.approx(4.0)
    # best_returns=None: R_max comes from this rollout's finished episodes only
    scores = episode_scores(make_rollout(), score="maxmc", gamma=GAMMA, gae_lambda=LAM)
    # env 0: R_max = 1 (episode [0, 2)); env 1: R_max = 3
    np.testing.assert_allclose([e.score for e in scores],
                               [0.5, (0 + 1 + 0) / 3, 3, 4 / 3, 3])


def test_entropy_uses_given_entropies_and_normalises_by_log_actions():
    rollout = {"rewards": [0.0, 0.0], "values": [0.0, 0.0], "dones": [0, 1], "last_value": 0.0,
               "entropies": [0.2, 0.6]}
    assert episode_scores(rollout, score="entropy")[0].score == pytest.approx(0.4)
    rollout["n_actions"] = 4
    assert episode_scores(rollout, score="entropy")[0].score == pytest.approx(0.4 / math.log(4))
    rollout["n_actions"] = 1
    assert episode_scores(rollout, score="entropy")[0].score == 0.0
    # given entropies win over probs (the policy's own numbers)
    rollout.update(n_actions=None, probs=[UNIFORM, UNIFORM])
    assert episode_scores(rollout, score="entropy")[0].score == pytest.approx(0.4 / LN3)


def test_exclude_unfinished_and_level_scores():
    episodes = episode_scores(make_rollout(), score="pvl", gamma=GAMMA, gae_lambda=LAM,
                              include_unfinished=False)
    assert [(e.env_index, e.start) for e in episodes] == [(0, 0), (1, 0), (1, 1), (1, 4)]
    np.testing.assert_allclose(level_scores(episodes, n_envs=2), [0.25, (1 + 1 / 3 + 1) / 3])
    everything = episode_scores(make_rollout(), score="pvl", gamma=GAMMA, gae_lambda=LAM)
    np.testing.assert_allclose(level_scores(everything, 2, include_unfinished=True),
                               [(0.25 + 1) / 2, (1 + 1 / 3 + 1) / 3])
    cut_only = [e for e in everything if not e.finished]
    assert level_scores(cut_only, 2).tolist() == [-math.inf, -math.inf]
    assert level_scores(cut_only, 2, incomplete_value=0.0).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="env_index"):
        level_scores(everything, n_envs=1)


def test_merge_partial_score_is_the_step_weighted_mean():
    assert merge_partial_score(1.0, 2, 4.0, 1) == pytest.approx(2.0)
    assert merge_partial_score(1.0, 0, 4.0, 3) == 4.0
    assert merge_partial_score(1.0, 3, 4.0, 0) == 1.0
    with pytest.raises(ValueError, match="positive"):
        merge_partial_score(1.0, 0, 4.0, 0)
    with pytest.raises(ValueError, match="new_steps"):
        merge_partial_score(1.0, 1, 4.0, -1)


def test_episode_starts_adapter_matches_sb3_semantics():
    starts = [[1, 0], [0, 1], [1, 0]]
    dones = dones_from_episode_starts(starts, last_dones=[0, 1])
    assert dones.tolist() == [[False, True], [True, False], [False, True]]
    assert dones_from_episode_starts([1, 0, 0], last_dones=True).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="last_dones"):
        dones_from_episode_starts(starts, last_dones=[0])


def test_rollout_dataclass_is_accepted_and_stored_two_dimensional():
    rollout = Rollout(**make_rollout())
    assert (rollout.n_steps, rollout.n_envs, rollout.n_actions) == (5, 2, 3)
    assert rollout.probs.shape == (5, 2, 3)
    one = Rollout(rewards=[1.0], values=[0.0], dones=[True], last_value=0.0, probs=[UNIFORM])
    assert one.rewards.shape == (1, 1) and one.probs.shape == (1, 1, 3)
    assert episode_scores(rollout, "l1vl", gamma=GAMMA, gae_lambda=LAM) == \
        episode_scores(make_rollout(), "l1vl", gamma=GAMMA, gae_lambda=LAM)


@pytest.mark.parametrize(
    ("overrides", "kwargs", "match"),
    [
        ({"values": [[0.0, 0.0]] * 4}, {}, "values has shape"),
        ({"rewards": [[0, 1], [1, 0], [0, 0], [0, 3], [np.nan, 1]]}, {}, "rewards must be finite"),
        ({"values": [[0.0, 0.0]] * 4 + [[np.inf, 0.0]]}, {}, "values must be finite"),
        ({"last_value": [2.0, -np.inf]}, {}, "last_value must be finite"),
        ({"last_value": 2.0}, {}, "last_value must have shape"),
        ({"dones": [[0, 2]] * 5}, {}, "dones must be booleans"),
        ({"rewards": [], "values": [], "dones": [], "last_value": 0.0}, {}, "T >= 1"),
        ({"probs": [[SKEW, [0.5, 0.4, 0.0]]] * 5}, {}, "sum to 1"),
        ({"probs": [[[1.5, -0.5, 0.0], ONE_HOT]] * 5}, {}, r"\[0, 1\]"),
        ({"probs": [UNIFORM] * 5}, {}, "probs must have shape"),
        ({"n_actions": 4}, {}, "n_actions=4"),
        ({"entropies": [1.0] * 5}, {}, "entropies has shape"),
        ({}, {"score": "value_l1"}, "unknown score"),
        ({"probs": None}, {"score": "least-confidence"}, "action probabilities"),
        ({"probs": None}, {"score": "min-margin"}, "action probabilities"),
        ({"probs": None}, {"score": "entropy"}, "entropies or probs"),
        ({}, {"gamma": 1.5}, "gamma"),
        ({}, {"gae_lambda": -0.1}, "gae_lambda"),
        ({}, {"score": "maxmc", "best_returns": [1.0]}, "best_returns must have shape"),
        ({}, {"score": "maxmc", "best_returns": [1.0, np.nan]}, "best_returns must be finite"),
        ({}, {"include_unfinished": 1}, "include_unfinished"),
    ],
)
def test_bad_input_raises_a_named_value_error(overrides, kwargs, match):
    with pytest.raises(ValueError, match=match):
        episode_scores(make_rollout(**overrides), **kwargs)


def test_bad_rollout_containers_raise_value_error():
    with pytest.raises(ValueError, match="bad rollout keys"):
        episode_scores({"rewards": [1.0], "values": [0.0], "dones": [1]})
    with pytest.raises(ValueError, match="mapping"):
        episode_scores([1.0, 0.0])
    with pytest.raises(ValueError, match="lam"):
        gae([1.0], [0.0], [1], 0.0, gamma=0.9, lam=2.0)


def test_pooled_level_scores_pool_envs_that_ran_the_same_level():
    from autocurr.teachers.scores import EpisodeScore, pooled_level_scores

    episodes = [
        EpisodeScore(0, 0, 3, 0.2, 0.9, True),
        EpisodeScore(0, 3, 8, 0.4, 0.0, False),  # cut by the rollout end: counts, no return
        EpisodeScore(1, 0, 8, 0.6, 0.5, True),
        EpisodeScore(2, 0, 8, 1.0, 0.7, True),
    ]
    pooled = pooled_level_scores([b"a", b"b", b"a"], episodes)
    score_a, returns_a = pooled[b"a"]
    assert score_a == pytest.approx((0.2 + 0.4 + 1.0) / 3) and returns_a == [0.9, 0.7]
    assert pooled[b"b"] == (pytest.approx(0.6), [0.5])
    assert pooled_level_scores([b"c"], [])[b"c"][0] == -math.inf
