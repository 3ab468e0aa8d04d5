"""PLR / PLR⊥ teacher over the maze Levels space."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from autocurr.envs.maze import maze_levels, shortest_path_length
from autocurr.spaces import Box, Discrete, Levels
from autocurr.teachers.plr import PLRTeacher

SPACE = maze_levels(size=9, max_walls=20)


def fresh_levels(n: int, seed: int = 123) -> list[bytes]:
    """``n`` distinct encoded maze levels."""
    rng = np.random.default_rng(seed)
    levels: list[bytes] = []
    while len(levels) < n:
        level = SPACE.sample(rng)
        if level not in levels:
            levels.append(level)
    return levels


def filled(n_levels: int, scores=None, **hyperparameters) -> tuple[PLRTeacher, list[bytes]]:
    teacher = PLRTeacher(SPACE, seed=0, **hyperparameters)
    levels = fresh_levels(n_levels)
    scores = range(n_levels) if scores is None else scores
    for level, score in zip(levels, scores, strict=True):
        teacher.update(level, float(score))
    return teacher, levels


def path_score(task: bytes) -> float:
    """Toy stand-in for regret: BFS shortest path length / 16 (levels are always solvable)."""
    return shortest_path_length(SPACE.decode(task)) / 16.0


# -- construction -------------------------------------------------------------------------------


def test_defaults_and_api_surface():
    teacher = PLRTeacher(SPACE, seed=0)
    assert teacher.signal == "score" and not teacher.requires_finite
    assert teacher.score_function == "pvl"
    assert teacher.hyperparameters["buffer_size"] == 4000
    assert teacher.exploration_floor() == pytest.approx(0.5) and teacher.exploration_floor() > 0
    assert teacher.replay_probability() == 0.0  # empty buffer: only new levels
    with pytest.raises(NotImplementedError):
        teacher.probabilities()
    assert PLRTeacher(SPACE, replay_prob=0.95).exploration_floor() == pytest.approx(0.05)


@pytest.mark.parametrize("space", [Discrete(4), Box([0.0], [1.0])])
def test_rejects_spaces_that_are_not_levels(space):
    with pytest.raises(ValueError, match="Levels"):
        PLRTeacher(space)


@pytest.mark.parametrize(
    "bad",
    [
        {"score": "bogus"},
        {"transform": "max"},
        {"temperature": 0.0},
        {"temperature": math.nan},
        {"staleness": 1.5},
        {"replay_prob": -0.1},
        {"buffer_size": 0},
        {"buffer_size": 2.5},
        {"min_fill": 2.0},
        {"robust": "yes"},
        {"schedule": "sometimes"},
        {"replace": "oldest"},
    ],
)
def test_rejects_bad_hyperparameters(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        PLRTeacher(SPACE, **bad)


# -- replay decision ----------------------------------------------------------------------------


def test_no_replay_before_min_fill_then_replay_prob():
    teacher, _ = filled(4, buffer_size=10, min_fill=0.5, replay_prob=0.8)
    kinds = [teacher.sample_with_kind()[1] for _ in range(300)]
    assert set(kinds) == {"new"}  # 4 / 10 < min_fill
    teacher.update(fresh_levels(5)[4], 1.0)  # 5 / 10 reaches min_fill
    assert teacher.replay_probability() == pytest.approx(0.8)
    kinds = [teacher.sample_with_kind()[1] for _ in range(3000)]
    share = kinds.count("replay") / len(kinds)
    assert abs(share - 0.8) < 4 * math.sqrt(0.8 * 0.2 / 3000)
    assert teacher.stats()["replay_share"] == pytest.approx(share * 3000 / 3300)


def test_proportionate_schedule_caps_replay_by_fill():
    teacher, _ = filled(5, buffer_size=10, min_fill=0.5, replay_prob=0.8, schedule="proportionate")
    assert teacher.replay_probability() == pytest.approx(0.5)
    kinds = [teacher.sample_with_kind()[1] for _ in range(3000)]
    assert abs(kinds.count("replay") / 3000 - 0.5) < 4 * math.sqrt(0.25 / 3000)


def test_min_fill_zero_replays_once_one_level_is_buffered():
    teacher, levels = filled(1, min_fill=0.0, replay_prob=1.0)
    assert teacher.exploration_floor() == 0.0
    assert [teacher.sample() for _ in range(5)] == [levels[0]] * 5


def test_one_decision_per_batch_and_kinds_are_exact():
    teacher, _ = filled(6, buffer_size=10, min_fill=0.5)
    for _ in range(200):
        clock = teacher.buffer.clock
        stamps = {level: teacher.buffer.entry(level)["stamp"] for level in teacher.buffer.levels()}
        batch, kind = teacher.sample_with_kind(4)
        assert kind == teacher.last_sample_kind and len(batch) == 4
        assert teacher.buffer.clock == clock + 4  # every sampled level ages the buffer
        if kind == "replay":
            assert all(task in stamps for task in batch)
            assert all(teacher.buffer.entry(task)["staleness"] < 4 for task in batch)
        else:
            after = {level: teacher.buffer.entry(level)["stamp"] for level in stamps}
            assert after == stamps  # nothing was drawn from the buffer
    assert teacher.sample_with_kind(0) == ([], None)


def test_samples_are_valid_encoded_maze_levels():
    teacher, _ = filled(5, buffer_size=10, min_fill=0.5)
    seen_kinds = set()
    for _ in range(100):
        task, kind = teacher.sample_with_kind()
        seen_kinds.add(kind)
        assert isinstance(task, bytes) and SPACE.canonical(task) == task
        assert shortest_path_length(SPACE.decode(task)) is not None
        teacher.update(task, path_score(task))
    assert seen_kinds == {"replay", "new"}


def test_robust_flag_only_changes_which_rollouts_train():
    plain, _ = filled(6, buffer_size=10)
    robust, _ = filled(6, buffer_size=10, robust=True)
    assert [plain.sample_with_kind() for _ in range(50)] == [
        robust.sample_with_kind() for _ in range(50)
    ]
    assert plain.should_train("new") and plain.should_train("replay")
    assert robust.should_train("replay") and not robust.should_train("new")
    assert robust.should_train() == (robust.last_sample_kind == "replay")
    with pytest.raises(ValueError, match="kind"):
        robust.should_train("mutate")
    with pytest.raises(ValueError, match="kind"):
        PLRTeacher(SPACE, robust=True).should_train()  # nothing sampled yet


# -- updates and the buffer ---------------------------------------------------------------------


def test_updates_fill_the_buffer_with_the_replacement_rule():
    teacher, levels = filled(3, scores=[1.0, 2.0, 3.0], buffer_size=3, staleness=0.0)
    low, high = fresh_levels(5)[3:]
    teacher.update(low, 0.5)  # not above the lowest score: rejected
    assert low not in teacher.buffer and len(teacher.buffer) == 3
    teacher.update(high, 2.5)  # replaces the lowest-score level
    assert high in teacher.buffer and levels[0] not in teacher.buffer
    teacher.update(levels[1], 7.0)  # a buffered level is rescored in place
    assert teacher.buffer.entry(levels[1])["score"] == 7.0 and len(teacher.buffer) == 3
    assert teacher.n_updates == 6
    teacher.update(SPACE.decode(levels[2]), 0.0)  # level objects are canonicalised
    assert teacher.buffer.entry(levels[2])["score"] == 0.0


def test_update_episode_tracks_best_return():
    teacher, levels = filled(2, buffer_size=4)
    assert teacher.best_return(levels[0]) is None
    teacher.update_episode(levels[0], 0.3, episode_return=0.4)
    teacher.update_episode(levels[0], 0.2, episode_return=0.1)
    assert teacher.best_return(levels[0]) == 0.4
    assert teacher.buffer.entry(levels[0])["score"] == 0.2
    assert teacher.best_return(fresh_levels(3)[2]) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda t, lv: t.update(lv, math.nan),
        lambda t, lv: t.update(lv, math.inf),
        lambda t, lv: t.update(b"junk", 1.0),
        lambda t, lv: t.update_batch([lv, lv], [1.0, math.nan]),
        lambda t, lv: t.update_episode(lv, math.nan, episode_return=1.0),
        lambda t, lv: t.update_episode(lv, 1.0, episode_return=math.nan),
        lambda t, lv: t.update_episode(b"junk", 1.0),
    ],
)
def test_bad_updates_raise_and_change_nothing(call):
    teacher, levels = filled(3, buffer_size=3)
    before = pickle.dumps(teacher.state_dict())
    with pytest.raises(ValueError):
        call(teacher, levels[0])
    assert pickle.dumps(teacher.state_dict()) == before


# -- replay distribution through the teacher ----------------------------------------------------


def test_high_score_level_is_replayed_most():
    teacher, levels = filled(10, scores=[10.0] + [0.1] * 9, buffer_size=10, replay_prob=1.0)
    counts = {level: 0 for level in levels}
    for _ in range(2000):
        counts[teacher.sample()] += 1
    others = [counts[level] for level in levels[1:]]
    assert counts[levels[0]] > 4 * max(others)  # measured 1226 vs at most 161


def test_staleness_brings_back_low_score_levels():
    scores = np.linspace(1.0, 0.0, 20)
    greedy, levels = filled(20, scores=scores, buffer_size=20, replay_prob=1.0, temperature=0.1,
                            staleness=0.0)
    stale, _ = filled(20, scores=scores, buffer_size=20, replay_prob=1.0, temperature=0.1,
                      staleness=0.3)
    greedy_seen = {greedy.sample() for _ in range(2000)}
    last_seen = {level: 0 for level in levels}
    longest_gap = 0
    for step in range(1, 2001):
        task = stale.sample()
        longest_gap = max(longest_gap, step - last_seen[task])
        last_seen[task] = step
    assert levels[-1] not in greedy_seen  # rank 20 has weight 20^-10 without staleness
    assert all(2000 - seen < 400 for seen in last_seen.values())  # everyone comes back
    assert longest_gap < 400


def test_fresh_levels_age_the_buffer():
    teacher, levels = filled(3, buffer_size=100)  # below min_fill: every sample is new
    teacher.sample(7)
    assert teacher.buffer.entry(levels[0])["staleness"] == 7
    assert teacher.stats()["buffer_mean_staleness"] == pytest.approx(7.0)


def test_stats_are_finite_scalars():
    for teacher in (PLRTeacher(SPACE, seed=0), filled(5, buffer_size=10)[0]):
        teacher.sample(3)
        stats = teacher.stats()
        assert {"buffer_fill", "buffer_score_mean", "buffer_score_max", "replay_share",
                "buffer_mean_staleness"} <= set(stats)
        assert all(isinstance(v, float) and math.isfinite(v) for v in stats.values())


# -- state --------------------------------------------------------------------------------------


def run(teacher: PLRTeacher, steps: int) -> list:
    trace = []
    for _ in range(steps):
        task, kind = teacher.sample_with_kind()
        teacher.update_episode(task, path_score(task), episode_return=0.5)
        trace.append((task, kind))
    return trace


@pytest.mark.parametrize("transform", ["rank", "power", "softmax"])
def test_state_round_trip_gives_identical_future(transform):
    teacher = PLRTeacher(SPACE, seed=3, buffer_size=16, transform=transform, robust=True)
    run(teacher, 60)
    state = pickle.loads(pickle.dumps(teacher.state_dict()))
    assert Levels.from_config(state["space"]) == SPACE
    twin = PLRTeacher(SPACE, seed=99, **state["hyperparameters"])
    twin.load_state_dict(state)
    assert twin.stats() == teacher.stats()
    assert run(twin, 80) == run(teacher, 80)


def test_bad_state_leaves_teacher_unchanged():
    teacher = PLRTeacher(SPACE, seed=3, buffer_size=16)
    run(teacher, 30)
    good = teacher.state_dict()
    other = PLRTeacher(SPACE, seed=4, buffer_size=16)
    before = pickle.dumps(other.state_dict())
    for corrupt in (
        {"last_sample_kind": "mutate"},
        {"n_new": -1},
        {"buffer": {**good["state"]["buffer"], "clock": -5}},
        {"buffer": {**good["state"]["buffer"], "levels": [b"junk"] * len(teacher.buffer)}},
    ):
        bad = {**good, "state": {**good["state"], **corrupt}}
        with pytest.raises(ValueError):
            other.load_state_dict(bad)
        assert pickle.dumps(other.state_dict()) == before


# -- behaviour on a toy -------------------------------------------------------------------------


def test_replayed_levels_score_higher_than_fresh_ones():
    """Score = shortest path / 16 stands in for regret: replay should favour long-path mazes."""
    teacher = PLRTeacher(SPACE, seed=1, buffer_size=50)
    scores = {"replay": [], "new": []}
    for _ in range(800):
        task, kind = teacher.sample_with_kind()
        score = path_score(task)
        scores[kind].append(score)
        teacher.update(task, score)
    replay_mean, new_mean = np.mean(scores["replay"]), np.mean(scores["new"])
    assert len(scores["replay"]) > 200 and len(scores["new"]) > 200
    assert replay_mean > new_mean + 0.25, (replay_mean, new_mean)


def practice_on_learnable_levels(teacher_name: str, robust: bool, episodes: int = 3000) -> float:
    """A simulated student over 10,000 levels: 10% learnable (competence +0.05 per trained
    episode, true regret 1 - competence), the rest solved already or impossible (regret 0 either
    way). Each episode reports the level's true regret; returns the competence gained in all."""
    from autocurr import make_teacher

    space = Levels(lambda rng: int(rng.integers(10_000)))
    kwargs = {"robust": robust, "buffer_size": 200} if teacher_name == "plr" else {}
    teacher = make_teacher(teacher_name, space, seed=3, **kwargs)
    competence: dict[int, float] = {}
    for _ in range(episodes):
        level = teacher.sample()
        learnable = level % 10 == 0
        trains = teacher.should_train() if hasattr(teacher, "should_train") else True
        if learnable and trains:
            competence[level] = min(1.0, competence.get(level, 0.0) + 0.05)
        regret = 1.0 - competence.get(level, 0.0) if learnable else 0.0
        teacher.update(level, regret)
    return sum(competence.values())


def test_replaying_high_regret_levels_gives_more_practice_than_domain_randomization():
    """The PLR claim on a student with known structure: with regret as the score, replay sends
    the student back to the levels it can still learn, which uniform sampling (DR) visits only
    10% of the time. PLR⊥ trains on replays only and still beats DR."""
    uniform = practice_on_learnable_levels("uniform", robust=False)
    plr = practice_on_learnable_levels("plr", robust=False)
    robust = practice_on_learnable_levels("plr", robust=True)
    assert uniform == pytest.approx(0.05 * 3000 * 0.1, rel=0.25)  # ~300 learnable episodes
    assert plr > 3 * uniform and robust > 2 * uniform, (uniform, plr, robust)
