"""Hand-designed schedules: the sequential teacher and the pacing (ordering) teachers."""

import math
import pickle

import numpy as np
import pytest

from autocurr.envs import ChainStudent, run_curriculum
from autocurr.spaces import Discrete, MultiDiscrete
from autocurr.teachers.pacing import (
    AntiCurriculumTeacher,
    CurriculumTeacher,
    CyclicalTeacher,
    RandomCurriculumTeacher,
    pacing_fraction,
)
from autocurr.teachers.sequential import SequentialTeacher, parse_condition
from autocurr.teachers.uniform import UniformTeacher

PACING_CLASSES = [
    CurriculumTeacher,
    AntiCurriculumTeacher,
    RandomCurriculumTeacher,
    CyclicalTeacher,
]


def rebuild(teacher):
    """What ``from_state_dict`` does, without going through the registry."""
    state = teacher.state_dict()
    clone = type(teacher)(teacher.space, **state["hyperparameters"])
    clone.load_state_dict(state)
    return clone


def stage_after_each(teacher, updates):
    """The teacher's stage after each ``(task, signal)`` update."""
    stages = []
    for task, signal in updates:
        teacher.update(task, signal)
        stages.append(teacher.stage)
    return stages


def two_stages(rule, window, **kwargs):
    return SequentialTeacher(
        Discrete(3), seed=0, stages=[[0], [1]], conditions=[rule], window=window, **kwargs
    )


# ------------------------------------------------------------------------------ sequential
@pytest.mark.parametrize(
    ("outcomes", "switch_at"),
    [
        ([1, 1, 1, 1, 0, 1], 5),  # the window fills at update 5 with mean 4/5 = 0.8
        ([1, 1, 1, 1, 1], 5),  # a full window is required even when every outcome succeeded
        ([0, 0, 1, 1, 1, 1, 1], 6),  # update 5: [0,0,1,1,1] = 0.6; update 6: [0,1,1,1,1] = 0.8
        ([0, 1, 0, 1, 1, 1, 1, 1], 6),  # update 6: [1,0,1,1,1]
        ([0, 0, 0, 1, 1, 1, 1, 1], 7),  # updates 5, 6, 7: 0.4, 0.6, 0.8
    ],
)
def test_success_rule_switches_at_the_exact_update(outcomes, switch_at):
    teacher = two_stages("success>=0.8", window=5, epsilon=0.0)
    stages = stage_after_each(teacher, [(0, x) for x in outcomes])
    assert stages == [0] * (switch_at - 1) + [1] * (len(outcomes) - switch_at + 1)


def test_outcomes_outside_the_stage_do_not_enter_the_window():
    teacher = two_stages("success>=0.8", window=5)
    updates = [(0, 1.0)] * 4 + [(2, 1.0), (1, 1.0), (2, 0.0)] + [(0, 1.0)]
    assert stage_after_each(teacher, updates) == [0] * 7 + [1]
    stats = teacher.stats()
    assert stats["stage"] == 1 and stats["stage_episodes"] == 0 and stats["window_fill"] == 0


def test_or_rule_switches_on_whichever_holds_first():
    teacher = two_stages("episodes>=3 | success>=1", window=2)
    assert stage_after_each(teacher, [(0, 1.0), (0, 1.0)]) == [0, 1]
    teacher = two_stages("episodes>=3 | success>=1", window=2)
    assert stage_after_each(teacher, [(0, 0.0), (0, 1.0), (0, 1.0)]) == [0, 0, 1]
    teacher = two_stages("episodes>=3 | success>=1", window=2)  # episodes count exploration too
    assert stage_after_each(teacher, [(2, 1.0), (2, 1.0), (2, 1.0)]) == [0, 0, 1]


def test_and_binds_tighter_than_or():
    rule = "episodes>=4 & success>=0.5 | total_episodes>=10"
    assert parse_condition(rule) == [
        [("episodes", ">=", 4.0), ("success", ">=", 0.5)],
        [("total_episodes", ">=", 10.0)],
    ]
    teacher = two_stages(rule, window=2)
    stages = stage_after_each(teacher, [(0, 1.0), (0, 1.0), (0, 1.0), (0, 1.0)])
    assert stages == [0, 0, 0, 1]
    teacher = two_stages(rule, window=2)
    assert stage_after_each(teacher, [(0, 0.0)] * 10) == [0] * 9 + [1]


def test_total_episodes_last_stage_and_loop():
    space = Discrete(3)
    teacher = SequentialTeacher(
        space, stages=[0, 1, 2], conditions=["total_episodes>=2", "total_episodes>=5"]
    )
    assert stage_after_each(teacher, [(0, 0.0)] * 7) == [0, 1, 1, 1, 2, 2, 2]
    looping = SequentialTeacher(
        space, stages=[0, [1, 2]], conditions=["episodes==2", "episodes==1"], should_loop=True
    )
    assert stage_after_each(looping, [(0, 0.0)] * 6) == [0, 1, 0, 0, 1, 0]


def test_mean_signal_is_the_window_mean_of_any_signal():
    teacher = two_stages("mean_signal<-1.5", window=3)
    assert stage_after_each(teacher, [(0, -1.0), (0, -2.0), (0, -1.0)]) == [0, 0, 0]
    assert teacher.stats()["window_mean"] == pytest.approx(-4 / 3)
    assert stage_after_each(teacher, [(0, -2.0)]) == [1]  # [-2, -1, -2]: -5/3 < -1.5


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "succes>=0.8",
        "success=>0.8",
        "success=0.8",
        "success>=",
        ">=0.8",
        "success>=0.8 |",
        "& episodes>=3",
        "success>=abc",
        "success>=nan",
        "success>=inf",
        "(success>=0.8)",
        "success>=0.8 episodes>=3",
        "steps>=10",
    ],
)
def test_malformed_rules_raise_naming_the_rule(rule):
    with pytest.raises(ValueError, match="malformed stopping condition") as error:
        two_stages(rule, window=5)
    assert repr(rule) in str(error.value)


def test_bad_stage_lists_raise():
    space = Discrete(4)
    with pytest.raises(ValueError, match="stages is required"):
        SequentialTeacher(space)
    with pytest.raises(ValueError, match="conditions must hold 1 rules"):
        SequentialTeacher(space, stages=[0, 1])
    with pytest.raises(ValueError, match="conditions must hold 2 rules"):
        SequentialTeacher(space, stages=[0, 1], conditions=["episodes>=1"], should_loop=True)
    with pytest.raises(ValueError, match="stage 1 has no tasks"):
        SequentialTeacher(space, stages=[0, []], conditions=["episodes>=1"])
    with pytest.raises(ValueError, match="stage 0: task 7 is not in"):
        SequentialTeacher(space, stages=[[0, 7]])
    with pytest.raises(ValueError, match="more than once"):
        SequentialTeacher(space, stages=[[0, 0]])
    with pytest.raises(ValueError, match="window"):
        SequentialTeacher(space, stages=[0], window=0)
    with pytest.raises(ValueError, match="epsilon"):
        SequentialTeacher(space, stages=[0], epsilon=1.5)


def test_multidiscrete_stages_accept_single_tasks_and_lists():
    space = MultiDiscrete([2, 3])
    teacher = SequentialTeacher(
        space, seed=0, stages=[(0, 1), [(1, 0), (1, 2)]], conditions=["episodes>=1"], epsilon=0.0
    )
    assert teacher.sample(5) == [(0, 1)] * 5
    teacher.update((0, 1), 1.0)
    assert set(teacher.sample(50)) == {(1, 0), (1, 2)}
    assert rebuild(teacher).hyperparameters == teacher.hyperparameters


@pytest.mark.parametrize("epsilon", [0.0, 0.05, 0.3])
def test_sequential_probabilities_are_exact(epsilon):
    space = Discrete(6)
    teacher = SequentialTeacher(
        space, seed=3, stages=[[1, 4], 5], conditions=["episodes>=1"], epsilon=epsilon
    )
    probabilities = teacher.probabilities()
    expected = np.full(6, epsilon / 6)
    expected[[1, 4]] += (1 - epsilon) / 2
    np.testing.assert_allclose(probabilities, expected)
    assert math.isclose(probabilities.sum(), 1.0)
    assert probabilities.min() >= teacher.exploration_floor() - 1e-15
    assert teacher.exploration_floor() == pytest.approx(epsilon / 6)
    counts = np.bincount(teacher.sample(20000), minlength=6)
    np.testing.assert_allclose(counts / 20000, probabilities, atol=0.015)


def test_sequential_state_round_trip_mid_stage_with_a_partial_window():
    space = Discrete(5)
    teacher = SequentialTeacher(
        space,
        seed=11,
        stages=[[0, 1], [2, 3], 4],
        conditions=["success>=0.7", "success>=0.6 | episodes>=40"],
        window=10,
        epsilon=0.2,
    )
    rng = np.random.default_rng(0)
    for _ in range(8):
        teacher.update(teacher.sample(), float(rng.random() < 0.3))
    assert teacher.stage == 0 and 0 < teacher.stats()["window_fill"] < 1
    clone = rebuild(teacher)
    assert pickle.dumps(clone.state_dict()) == pickle.dumps(teacher.state_dict())
    stages = []
    for _ in range(300):
        task, twin = teacher.sample(), clone.sample()
        assert task == twin
        signal = float(rng.random() < 0.8)
        teacher.update(task, signal)
        clone.update(twin, signal)
        stages.append(teacher.stage)
        assert clone.stage == teacher.stage
    assert stages[-1] == 2  # the round trip was taken before a stage change


def test_sequential_bad_signal_leaves_state_unchanged():
    teacher = two_stages("success>=0.8", window=3)
    teacher.update(0, 1.0)
    before = pickle.dumps(teacher.state_dict())
    for bad in (float("nan"), float("inf"), "x"):
        with pytest.raises(ValueError):
            teacher.update(0, bad)
    with pytest.raises(ValueError):
        teacher.update_batch([0, 0, 0], [1.0, 1.0, float("nan")])
    with pytest.raises(ValueError):
        teacher.update(9, 1.0)
    assert pickle.dumps(teacher.state_dict()) == before
    bad_state = teacher.state_dict()
    bad_state["state"]["stage"] = 5
    with pytest.raises(ValueError, match="stage"):
        teacher.load_state_dict(bad_state)
    assert pickle.dumps(teacher.state_dict()) == before


def test_sequential_one_task_at_a_time_masters_the_chain_near_the_oracle():
    # TSCL's "naive" manual curriculum: one chain task per stage, then all tasks.
    for seed in (0, 1):
        student = ChainStudent(n_feasible=10, n_infeasible=0, rng=seed)
        chain = [int(t) for t in student.task_of[:10]]
        stages = [[task] for task in chain] + [chain]
        teacher = SequentialTeacher(
            student.task_space,
            seed=seed,
            stages=stages,
            conditions=["success>=0.8"] * 10,
            window=20,
        )
        scheduled = run_curriculum(student, teacher, 20_000, stop_when_mastered=True)
        student = ChainStudent(n_feasible=10, n_infeasible=0, rng=seed)
        uniform = UniformTeacher(student.task_space, seed=seed)
        baseline = run_curriculum(student, uniform, 20_000, stop_when_mastered=True)
        # measured: ~550 (seeds 0-7) vs uniform ~2100; the oracle needs 450
        assert scheduled["episodes_to_mastery"] < 0.5 * baseline["episodes_to_mastery"]


# ------------------------------------------------------------------------------ pacing
def test_pacing_functions_at_hand_computed_points():
    # total 100, a = 0.5 (all tasks from t = 50), b = 0.2; at t = 25, s = 0.5
    expected = {
        "linear": 0.2 + 0.8 * 0.5,
        "quadratic": 0.2 + 0.8 * 0.25,
        "root": 0.2 + 0.8 * math.sqrt(0.5),
        "step": 0.2,
        "exponential": 0.2 + 0.8 * (math.exp(5) - 1) / (math.exp(10) - 1),
        "logarithmic": 0.2 + 0.8 * (1 + math.log(0.5 + math.exp(-10)) / 10),
    }
    for pacing, value in expected.items():
        assert pacing_fraction(pacing, 25, 100, 0.5, 0.2) == pytest.approx(value, rel=1e-12)
        assert pacing_fraction(pacing, 0, 100, 0.5, 0.2) == pytest.approx(0.2, abs=1e-12)
        assert pacing_fraction(pacing, 50, 100, 0.5, 0.2) == 1.0
        assert pacing_fraction(pacing, 10**9, 100, 0.5, 0.2) == 1.0
    assert pacing_fraction("step", 49, 100, 0.5, 0.2) == 0.2
    assert pacing_fraction("linear", 120, 100, 1.6, 0.0) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="pacing"):
        pacing_fraction("cosine", 1, 100, 0.5, 0.2)


def test_curriculum_prefix_grows_with_updates_and_probabilities_are_exact():
    order = [3, 1, 4, 0, 9, 2, 6, 5, 8, 7]
    teacher = CurriculumTeacher(
        Discrete(10), seed=0, order=order, total=100, a=0.5, b=0.2, epsilon=0.1
    )
    available = {}
    for t in range(60):
        available[t] = teacher.available()
        probabilities = teacher.probabilities()
        expected = np.full(10, 0.01)
        expected[order[: available[t]]] += 0.9 / available[t]
        np.testing.assert_allclose(probabilities, expected)
        assert math.isclose(probabilities.sum(), 1.0)
        assert probabilities.min() >= teacher.exploration_floor() - 1e-15
        teacher.update(teacher.sample(), 0.0)
    # floor(10 (0.2 + 0.8 t / 50)): 2 tasks at t = 0, 6 at t = 25, all from t = 50
    assert [available[t] for t in (0, 6, 7, 25, 49, 50, 59)] == [2, 2, 3, 6, 9, 10, 10]


def test_curriculum_samples_follow_probabilities():
    teacher = CurriculumTeacher(Discrete(8), seed=2, total=40, a=1.0, b=0.25, epsilon=0.2)
    teacher.update_batch([0] * 8, [1.0] * 8)  # g = 0.25 + 0.75 * 8 / 40 = 0.4: 3 of 8 tasks
    probabilities = teacher.probabilities()
    assert teacher.available() == 3
    frozen = rebuild(teacher)
    counts = np.bincount(frozen.sample(20000), minlength=8)
    np.testing.assert_allclose(counts / 20000, probabilities, atol=0.015)


def test_anti_curriculum_is_the_reverse():
    order = [2, 0, 3, 1, 4]
    kwargs = {"order": order, "total": 50, "a": 1.0, "b": 0.4, "epsilon": 0.0}
    forward = CurriculumTeacher(Discrete(5), seed=0, **kwargs)
    backward = AntiCurriculumTeacher(Discrete(5), seed=0, **kwargs)
    assert set(forward.sample(200)) == {2, 0}
    assert set(backward.sample(200)) == {4, 1}
    for t in range(60):
        assert backward.available() == forward.available()
        np.testing.assert_allclose(backward.probabilities(), reversed_prefix(forward, order, t))
        forward.update(0, 0.0)
        backward.update(0, 0.0)


def reversed_prefix(forward, order, t):
    """The anti-curriculum's vector: the forward prefix length over the reversed order."""
    prefix = forward.available(t)
    expected = np.zeros(len(order))
    expected[order[::-1][:prefix]] = 1.0 / prefix
    return expected


def test_random_curriculum_is_a_seeded_permutation():
    space = Discrete(30)
    first = RandomCurriculumTeacher(space, seed=4, total=300)
    again = RandomCurriculumTeacher(space, seed=4, total=300)
    other = RandomCurriculumTeacher(space, seed=5, total=300)
    assert first._order.tolist() == again._order.tolist()
    assert sorted(first._order.tolist()) == list(range(30))
    assert first._order.tolist() != other._order.tolist()
    assert first.sample(50) == again.sample(50)
    given = RandomCurriculumTeacher(space, seed=4, order=list(range(29, -1, -1)), total=300)
    assert sorted(given._order.tolist()) == list(range(30))


def test_cyclical_alternates_exactly_at_the_period():
    teacher = CyclicalTeacher(
        Discrete(10), seed=0, total=100, a=1.0, b=0.1, period=10, epsilon=0.0
    )
    phases, available = [], []
    for _ in range(40):
        phases.append(teacher.in_curriculum_phase())
        available.append(int((teacher.probabilities() > 0).sum()))
        teacher.update(teacher.sample(), 1.0)
    assert phases == ([True] * 5 + [False] * 5) * 4
    # curriculum half: floor(10 (0.1 + 0.9 t / 100)); other half: all 10 tasks
    assert available[:5] == [1, 1, 1, 1, 1]
    assert available[5:10] == [10] * 5
    assert available[20:25] == [2, 2, 2, 3, 3]
    assert available[25:30] == [10] * 5
    odd = CyclicalTeacher(Discrete(4), seed=0, total=20, period=3, epsilon=0.0)
    assert [odd.in_curriculum_phase(t) for t in range(6)] == [True, True, False] * 2


@pytest.mark.parametrize("cls", PACING_CLASSES)
def test_pacing_state_round_trip_gives_identical_samples(cls):
    teacher = cls(Discrete(12), seed=7, total=200, a=0.6, b=0.1, pacing="root")
    for _ in range(37):
        teacher.update(teacher.sample(), 1.0)
    clone = rebuild(teacher)
    assert pickle.dumps(clone.state_dict()) == pickle.dumps(teacher.state_dict())
    for _ in range(200):
        task = teacher.sample()
        assert clone.sample() == task
        teacher.update(task, 0.5)
        clone.update(task, 0.5)
    np.testing.assert_array_equal(clone.probabilities(), teacher.probabilities())


@pytest.mark.parametrize("cls", PACING_CLASSES)
def test_pacing_bad_signal_leaves_state_unchanged(cls):
    teacher = cls(Discrete(5), seed=1, total=20)
    teacher.update(0, 1.0)
    before = pickle.dumps(teacher.state_dict())
    with pytest.raises(ValueError):
        teacher.update(0, float("nan"))
    with pytest.raises(ValueError):
        teacher.update_batch([0, 1], [1.0, float("-inf")])
    assert pickle.dumps(teacher.state_dict()) == before
    bad = teacher.state_dict()
    bad["state"]["order"] = [0, 0, 1, 2, 3]
    with pytest.raises(ValueError, match="permutation"):
        teacher.load_state_dict(bad)
    assert pickle.dumps(teacher.state_dict()) == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pacing": "cosine"}, "pacing"),
        ({"order": [0, 1, 1]}, "permutation"),
        ({"order": [0, 1]}, "permutation"),
        ({"order": [0.0, 1.0, 2.0]}, "task indices"),
        ({"total": 0}, "total"),
        ({"a": 0.0}, "a must"),
        ({"a": float("nan")}, "a must"),
        ({"b": 1.5}, "b must"),
        ({"epsilon": -0.1}, "epsilon"),
    ],
)
def test_pacing_hyperparameters_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CurriculumTeacher(Discrete(3), **kwargs)


def test_cyclical_period_is_validated_and_defaulted():
    with pytest.raises(ValueError, match="period"):
        CyclicalTeacher(Discrete(3), period=1)
    assert CyclicalTeacher(Discrete(3), total=500).hyperparameters["period"] == 50
    assert CurriculumTeacher(Discrete(7)).hyperparameters["total"] == 700


def test_curriculum_in_chain_order_beats_anti_curriculum():
    for seed in (0, 1):
        episodes = {}
        for cls in (CurriculumTeacher, AntiCurriculumTeacher):
            student = ChainStudent(n_feasible=10, n_infeasible=0, rng=seed)
            teacher = cls(student.task_space, seed=seed, order=student.task_of.tolist())
            result = run_curriculum(student, teacher, 20_000, stop_when_mastered=True)
            episodes[cls.name] = result["episodes_to_mastery"]
        # measured (seeds 0-3): curriculum ~1300-1500 episodes, anti-curriculum ~2650-3100
        assert episodes["curriculum"] < 0.75 * episodes["anti-curriculum"]
