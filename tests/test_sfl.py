"""SFL (Sampling For Learnability) teacher over the maze Levels space."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from autocurr.envs.maze import maze_levels
from autocurr.spaces import Box, Discrete
from autocurr.teachers.sfl import SFLTeacher, learnability

SPACE = maze_levels(size=9, max_walls=20)


def score_round(teacher: SFLTeacher, successes_per_level: list[list[float]]) -> list[bytes]:
    """Open a round and report the given per-rollout outcomes, candidate by candidate."""
    candidates = teacher.levels_to_score()
    assert len(candidates) == len(successes_per_level)  # no duplicate draws in these tests
    for level, outcomes in zip(candidates, successes_per_level, strict=True):
        for success in outcomes:
            teacher.update(level, success)
    return candidates


def teacher_with_buffer(**hyperparameters) -> tuple[SFLTeacher, list[bytes]]:
    """A teacher whose buffer holds the two p = 0.5 candidates of a 4-candidate round."""
    hp = {"n_score_levels": 4, "rollouts_per_level": 2, "buffer_size": 10, **hyperparameters}
    teacher = SFLTeacher(SPACE, seed=0, **hp)
    candidates = score_round(teacher, [[1, 0], [1, 1], [0, 1], [0, 0]])
    return teacher, [candidates[0], candidates[2]]


# -- construction -------------------------------------------------------------------------------


def test_defaults_and_api_surface():
    teacher = SFLTeacher(SPACE, seed=0)
    assert teacher.signal == "success" and not teacher.requires_finite
    assert teacher.hyperparameters == {
        "n_score_levels": 500,
        "rollouts_per_level": 4,
        "buffer_size": 100,
        "buffer_fraction": 0.5,
        "update_period": 640,
    }
    assert teacher.exploration_floor() == pytest.approx(0.5)
    assert SFLTeacher(SPACE, buffer_fraction=0.8).exploration_floor() == pytest.approx(0.2)
    assert teacher.scoring_due()  # score before the first training sample
    with pytest.raises(NotImplementedError):
        teacher.probabilities()


@pytest.mark.parametrize("space", [Discrete(4), Box([0.0], [1.0])])
def test_rejects_spaces_that_are_not_levels(space):
    with pytest.raises(ValueError, match="Levels"):
        SFLTeacher(space)


@pytest.mark.parametrize(
    "bad",
    [
        {"n_score_levels": 0},
        {"n_score_levels": 2.5},
        {"rollouts_per_level": 0},
        {"rollouts_per_level": True},
        {"buffer_size": -1},
        {"buffer_fraction": 1.5},
        {"buffer_fraction": math.nan},
        {"update_period": 0},
    ],
)
def test_rejects_bad_hyperparameters(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        SFLTeacher(SPACE, **bad)


# -- learnability and selection -----------------------------------------------------------------


def test_learnability_arithmetic():
    assert learnability(0.5) == 0.25
    assert learnability(0.0) == 0.0 and learnability(1.0) == 0.0
    assert learnability(0.25) == learnability(0.75) == pytest.approx(0.1875)


def test_half_solved_levels_are_kept_and_solved_or_hopeless_ones_are_not():
    teacher = SFLTeacher(SPACE, seed=0, n_score_levels=3, rollouts_per_level=4, buffer_size=3)
    candidates = score_round(teacher, [[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    assert not teacher.round_open and teacher.n_rounds == 1
    assert teacher.buffer == [candidates[0]]
    assert teacher.buffer_scores == [0.25]


def test_round_with_no_learnable_level_empties_the_buffer():
    teacher, _ = teacher_with_buffer()
    score_round(teacher, [[1, 1], [1, 1], [0, 0], [0, 0]])
    assert teacher.buffer == []
    levels, kinds = teacher.sample_split(20)
    assert kinds == ["new"] * 20 and len(levels) == 20


def test_top_k_by_learnability_with_earlier_candidate_winning_ties():
    outcomes = [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1], [0, 1, 0, 1]]
    # learnabilities: 0, 0.1875, 0.25, 0.1875, 0, 0.25
    cases = [(1, [2]), (2, [2, 5]), (3, [2, 5, 1]), (4, [2, 5, 1, 3]), (10, [2, 5, 1, 3])]
    for k, expected in cases:
        teacher = SFLTeacher(SPACE, seed=1, n_score_levels=6, rollouts_per_level=4, buffer_size=k)
        candidates = score_round(teacher, outcomes)
        assert teacher.buffer == [candidates[i] for i in expected]
        assert teacher.buffer_scores == sorted(teacher.buffer_scores, reverse=True)


def test_fractional_successes_average():
    teacher = SFLTeacher(SPACE, seed=0, n_score_levels=1, rollouts_per_level=2)
    score_round(teacher, [[0.25, 0.75]])
    assert teacher.buffer_scores == [0.25]


def test_new_round_replaces_the_buffer():
    teacher, old = teacher_with_buffer()
    new = score_round(teacher, [[0, 0], [0, 1], [1, 1], [0, 0]])
    assert teacher.buffer == [new[1]] and old[0] not in teacher.buffer


# -- scoring-round bookkeeping ------------------------------------------------------------------


def test_round_bookkeeping_closes_after_the_last_rollout():
    teacher = SFLTeacher(SPACE, seed=2, n_score_levels=3, rollouts_per_level=2, update_period=5)
    candidates = teacher.levels_to_score()
    assert len(candidates) == 3 and teacher.round_open
    assert teacher.levels_to_score() == candidates  # idempotent while the round is open
    assert teacher.pending_scoring() == [(level, 2) for level in candidates]
    assert all(SPACE.contains(level) for level in candidates)

    teacher.update(candidates[0], 1.0)
    teacher.update(candidates[0], 0.0)
    teacher.update(candidates[0], 1.0)  # beyond its quota: a training episode
    teacher.update(SPACE.sample(np.random.default_rng(9)), 1.0)  # not a candidate
    assert teacher.pending_scoring() == [(candidates[1], 2), (candidates[2], 2)]
    assert teacher.n_score_episodes == 2 and teacher.n_train_episodes == 2
    assert teacher.stats()["scoring_pending"] == 4.0

    for level in candidates[1:]:
        teacher.update(level, 0.0)
        teacher.update(level, 0.0)
    assert not teacher.round_open and teacher.n_rounds == 1
    assert teacher.pending_scoring() == [] and teacher.buffer == [candidates[0]]
    assert teacher.n_score_episodes == 6 and teacher.n_updates == 8

    # update_period counts training levels handed out since the round closed.
    assert not teacher.scoring_due()
    teacher.sample(3)
    teacher.sample()
    assert not teacher.scoring_due()
    teacher.sample_split(1)
    assert teacher.scoring_due()
    # An update on an old candidate outside any round is only a training episode.
    teacher.update(candidates[0], 0.0)
    assert teacher.n_train_episodes == 3 and teacher.buffer == [candidates[0]]


def test_finish_scoring_ranks_partial_rounds():
    teacher = SFLTeacher(SPACE, seed=3, n_score_levels=4, rollouts_per_level=4)
    teacher.finish_scoring()  # nothing open: no-op
    assert teacher.n_rounds == 0
    candidates = teacher.levels_to_score()
    teacher.update(candidates[0], 1.0)
    teacher.update(candidates[0], 0.0)  # p = 0.5 from 2 of 4 rollouts
    teacher.update(candidates[1], 1.0)  # p = 1
    teacher.update(candidates[3], 0.0)
    teacher.update(candidates[3], 0.0)
    teacher.update(candidates[3], 1.0)  # p = 1/3
    # candidates[2] never played: dropped
    teacher.finish_scoring()
    assert not teacher.round_open and teacher.n_rounds == 1
    assert teacher.buffer == [candidates[0], candidates[3]]
    assert teacher.buffer_scores == pytest.approx([0.25, 2 / 9])
    assert teacher.levels_to_score() != candidates  # a new round draws fresh levels


def test_should_train_by_kind():
    teacher, _ = teacher_with_buffer()
    assert teacher.should_train("buffer") and teacher.should_train("new")
    assert not teacher.should_train("score")
    _, kind = teacher.sample_with_kind(4)
    assert kind in ("buffer", "new") and teacher.should_train()
    with pytest.raises(ValueError, match="kind"):
        teacher.should_train("replay")
    assert teacher.sample_with_kind(0) == ([], None)


# -- mixing -------------------------------------------------------------------------------------


def test_empty_buffer_gives_only_fresh_levels():
    teacher = SFLTeacher(SPACE, seed=4, buffer_fraction=1.0)
    kinds = {teacher.sample_with_kind(2)[1] for _ in range(50)}
    assert kinds == {"new"}


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 1.0])
def test_buffer_share_matches_buffer_fraction(fraction):
    teacher, kept = teacher_with_buffer(buffer_fraction=fraction)
    n = 4000
    n_buffer = 0
    for _ in range(n):
        (level,), kind = teacher.sample_with_kind(1)
        if kind == "buffer":
            n_buffer += 1
            assert level in kept
    sigma = math.sqrt(n * fraction * (1 - fraction))
    assert abs(n_buffer - n * fraction) <= 4 * sigma + 1e-9
    assert teacher.stats()["buffer_share"] == pytest.approx(n_buffer / n)


def test_buffer_levels_are_drawn_uniformly():
    teacher, kept = teacher_with_buffer(buffer_fraction=1.0)
    draws = teacher.sample(2000)
    share = draws.count(kept[0]) / len(draws)
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / 2000)


def test_sample_split_gives_the_expected_share_per_batch():
    teacher, kept = teacher_with_buffer()
    levels, kinds = teacher.sample_split(256)
    assert kinds == ["buffer"] * 128 + ["new"] * 128  # SFL's 128 + 128 batch
    assert all(level in kept for level in levels[:128])
    teacher, _ = teacher_with_buffer(buffer_fraction=0.3)
    counts = [teacher.sample_split(5)[1].count("buffer") for _ in range(2000)]
    assert set(counts) <= {1, 2}
    assert np.mean(counts) == pytest.approx(1.5, abs=4 * 0.5 / math.sqrt(2000))
    assert teacher.sample_split(0) == ([], [])
    with pytest.raises(ValueError, match="k"):
        teacher.sample_split(-1)


# -- validation and state -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1, 1.5, "x"])
def test_bad_updates_raise_and_change_nothing(bad):
    teacher = SFLTeacher(SPACE, seed=5, n_score_levels=3, rollouts_per_level=2)
    candidates = teacher.levels_to_score()
    teacher.update(candidates[0], 1.0)
    before = pickle.dumps(teacher.state_dict())
    with pytest.raises(ValueError):
        teacher.update(candidates[0], bad)
    with pytest.raises(ValueError):
        teacher.update_batch([candidates[1], candidates[2]], [1.0, bad])
    assert pickle.dumps(teacher.state_dict()) == before


def drive(teacher: SFLTeacher, rng: np.random.Generator, steps: int) -> list:
    """Interleave scoring rounds and training samples; return everything the teacher handed out."""
    out = []
    for _ in range(steps):
        if teacher.scoring_due():
            for level, owed in teacher.pending_scoring() or [
                (level, teacher.rollouts_per_level) for level in teacher.levels_to_score()
            ]:
                for _ in range(owed):
                    teacher.update(level, float(rng.random() < 0.5))
            out.append(list(teacher.buffer))
        out.append(teacher.sample_with_kind(3))
        out.append(teacher.sample_split(4))
    return out


def test_state_round_trip_gives_identical_future_samples():
    hp = {"n_score_levels": 6, "rollouts_per_level": 3, "buffer_size": 3, "update_period": 10}
    teacher = SFLTeacher(SPACE, seed=6, **hp)
    drive(teacher, np.random.default_rng(0), 8)
    # Leave a round half done so the open-round state travels too.
    candidates = teacher.levels_to_score()
    teacher.update(candidates[0], 1.0)
    teacher.update(candidates[1], 0.0)
    state = pickle.loads(pickle.dumps(teacher.state_dict()))
    twin = SFLTeacher(SPACE, seed=123, **hp)
    twin.load_state_dict(state)
    assert twin.pending_scoring() == teacher.pending_scoring()
    assert twin.stats() == teacher.stats()
    assert drive(twin, np.random.default_rng(1), 12) == drive(
        teacher, np.random.default_rng(1), 12
    )
    assert pickle.dumps(twin.state_dict()) == pickle.dumps(teacher.state_dict())


def test_bad_state_leaves_teacher_unchanged():
    teacher, _ = teacher_with_buffer()
    good = teacher.state_dict()
    other = SFLTeacher(SPACE, seed=9, **teacher.hyperparameters)
    other.levels_to_score()
    before = pickle.dumps(other.state_dict())
    corruptions = [
        lambda s: s["state"].update(buffer_scores=[0.3, 0.25]),
        lambda s: s["state"].update(buffer=[b"not a level", s["state"]["buffer"][1]]),
        lambda s: s["state"].update(round_open="yes"),
        lambda s: s["state"].update(candidates=[[s["state"]["buffer"][0], 1, 0.0]]),
        lambda s: s["state"].update(n_rounds=-1),
        lambda s: s["state"].update(last_sample_kind="score"),
        lambda s: s["state"].update(
            round_open=True, candidates=[[s["state"]["buffer"][0], 2, 1.0]]
        ),
        lambda s: s["state"].update(
            round_open=True, candidates=[[s["state"]["buffer"][0], 1, 3.0]]
        ),
    ]
    for corrupt in corruptions:
        bad = pickle.loads(pickle.dumps(good))
        corrupt(bad)
        with pytest.raises((ValueError, TypeError)):
            other.load_state_dict(bad)
        assert pickle.dumps(other.state_dict()) == before


def test_stats_are_finite_scalars():
    teacher, _ = teacher_with_buffer()
    teacher.sample(5)
    stats = teacher.stats()
    assert stats["buffer_size"] == 2.0 and stats["buffer_learnability_mean"] == 0.25
    assert stats["n_rounds"] == 1.0 and stats["n_score_episodes"] == 8.0
    assert all(isinstance(v, float) and math.isfinite(v) for v in stats.values())
