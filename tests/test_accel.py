"""ACCEL teacher: PLR⊥ plus edits of replayed levels over the maze Levels space."""

from __future__ import annotations

import itertools
import math
import pickle

import pytest

from autocurr.envs.maze import maze_levels
from autocurr.spaces import Discrete, Levels
from autocurr.teachers.accel import ACCELTeacher

#: One cell edit per mutator call, so the teacher's n_edits counts cell edits.
SPACE = maze_levels(size=7, start="empty", n_edits=1)


def edit_distance(a: bytes, b: bytes) -> int:
    """Cells whose wall bit differs, plus 1 if the start moved and 1 if the goal moved (each
    mutator edit changes at most one of these)."""
    la, lb = SPACE.decode(a), SPACE.decode(b)
    walls = sum(x != y for x, y in zip(la.walls, lb.walls, strict=True))
    return walls + (la.start != lb.start) + (la.goal != lb.goal)


def run(teacher: ACCELTeacher, n_batches: int, k: int = 4) -> list[str]:
    """Sample ``n_batches`` batches, scoring every level by a fixed hash-like rule."""
    kinds = []
    for _ in range(n_batches):
        tasks, kind = teacher.sample_with_kind(k)
        kinds.append(kind)
        for task in tasks:
            teacher.update(task, float(sum(task) % 97) / 97.0)
    return kinds


def test_defaults_and_api():
    teacher = ACCELTeacher(SPACE, seed=0)
    hp = teacher.hyperparameters
    assert teacher.name == "accel" and teacher.signal == "score"
    assert hp["robust"] is True and hp["n_edits"] == 1 and hp["replay_prob"] == 0.8
    assert (hp["buffer_size"], hp["temperature"], hp["staleness"], hp["min_fill"]) == (
        4000, 0.3, 0.3, 0.5
    )
    assert teacher.exploration_floor() == pytest.approx(1 / 1.8)
    assert ACCELTeacher(SPACE, replay_prob=0.5, buffer_size=10).hyperparameters["buffer_size"] == 10


def test_validation():
    with pytest.raises(ValueError, match="mutator"):
        ACCELTeacher(Levels(SPACE.generator, encode=SPACE.encode, decode=SPACE.decode))
    with pytest.raises(ValueError, match="Levels"):
        ACCELTeacher(Discrete(3))
    with pytest.raises(ValueError, match="robust"):
        ACCELTeacher(SPACE, robust=False)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_edits"):
            ACCELTeacher(SPACE, n_edits=bad)
    with pytest.raises(ValueError, match="replay_prob"):
        ACCELTeacher(SPACE, replay_prob=1.5)


def test_state_machine_every_replay_is_followed_by_an_edit():
    teacher = ACCELTeacher(SPACE, seed=3, buffer_size=8, replay_prob=0.6)
    kinds = run(teacher, 60)
    # Before min_fill (4 of 8 levels) only new levels; one 4-level batch fills it.
    assert kinds[0] == "new"
    for previous, kind in itertools.pairwise(kinds):
        assert (kind == "edit") == (previous == "replay")
    assert {"replay", "new", "edit"} <= set(kinds)
    assert kinds.count("edit") == kinds.count("replay") - (kinds[-1] == "replay")
    # Seeded: the sequence is reproducible.
    assert run(ACCELTeacher(SPACE, seed=3, buffer_size=8, replay_prob=0.6), 60) == kinds
    assert teacher.stats()["edit_share"] > 0


def test_should_train_only_on_replay():
    teacher = ACCELTeacher(SPACE, seed=0)
    assert teacher.should_train("replay")
    assert not teacher.should_train("new") and not teacher.should_train("edit")
    with pytest.raises(ValueError, match="kind"):
        teacher.should_train("other")
    teacher.sample()
    assert teacher.last_sample_kind == "new" and not teacher.should_train()


@pytest.mark.parametrize("n_edits", [1, 3])
def test_children_are_edits_of_the_replayed_batch_with_lineage(n_edits):
    teacher = ACCELTeacher(SPACE, seed=1, n_edits=n_edits, buffer_size=6, replay_prob=1.0)
    for i, task in enumerate(teacher.sample(6)):
        teacher.update(task, float(i))
    parents, kind = teacher.sample_with_kind(3)
    assert kind == "replay" and teacher.next_kind() == "edit"
    children, kind = teacher.sample_with_kind(5)
    assert kind == "edit" and teacher.next_kind() is None
    assert any(child not in parents for child in children)
    for i, child in enumerate(children):
        parent = parents[i % 3]
        assert edit_distance(parent, child) <= n_edits
        if child != parent:
            assert teacher.lineage(child) == (parent, n_edits)
            teacher.update(child, 100.0 + i)  # best scores: always inserted
            entry = teacher.buffer.entry(child)
            assert (entry["parent"], entry["n_mutations"]) == (parent, n_edits)
    # A grandchild counts the mutations of its whole lineage.
    grandparent_batch = teacher.sample(1)
    assert teacher.last_sample_kind == "replay"
    (grandchild,) = teacher.sample(1)
    depth = teacher.buffer.entry(grandparent_batch[0])["n_mutations"]
    if grandchild != grandparent_batch[0]:
        assert teacher.lineage(grandchild) == (grandparent_batch[0], depth + n_edits)


def test_children_enter_a_full_buffer_only_with_a_high_enough_score():
    teacher = ACCELTeacher(SPACE, seed=2, buffer_size=4, replay_prob=1.0, n_edits=2)
    for i, task in enumerate(teacher.sample(4)):
        teacher.update(task, 1.0 + i)
    assert teacher.buffer.full
    teacher.sample(2)  # replay
    low, high = teacher.sample(2)  # edit
    assert teacher.last_sample_kind == "edit" and low != high
    assert low not in teacher.buffer and high not in teacher.buffer
    teacher.update(low, 0.5)  # below every buffered score
    teacher.update(high, 10.0)
    assert low not in teacher.buffer
    assert high in teacher.buffer and len(teacher.buffer) == 4
    assert min(teacher.buffer.scores()) == 2.0  # the lowest (1.0) was the one replaced


def test_state_round_trip_gives_identical_future():
    teacher = ACCELTeacher(SPACE, seed=5, buffer_size=8, replay_prob=0.7, n_edits=2)
    run(teacher, 9)
    while teacher.next_kind() != "edit":  # snapshot with edits pending
        run(teacher, 1)
    state = pickle.loads(pickle.dumps(teacher.state_dict()))
    twin = ACCELTeacher(SPACE, seed=99, buffer_size=8, replay_prob=0.7, n_edits=2)
    twin.load_state_dict(state)
    assert twin.next_kind() == "edit"
    for _ in range(15):
        a, b = teacher.sample_with_kind(3), twin.sample_with_kind(3)
        assert a == b
        for task in a[0]:
            for t in (teacher, twin):
                t.update_episode(task, float(task[-1]) / 7.0, episode_return=0.5)
    assert pickle.dumps(teacher.state_dict()) == pickle.dumps(twin.state_dict())


def test_bad_state_is_rejected_without_change():
    teacher = ACCELTeacher(SPACE, seed=5, buffer_size=8)
    run(teacher, 6)
    good = teacher.state_dict()
    other = ACCELTeacher(SPACE, seed=1, buffer_size=8)
    before = pickle.dumps(other.state_dict())
    for key, value in (
        ("last_sample_kind", "mutate"),
        ("pending_parents", [b"junk"]),
        ("lineage", [[b"junk", b"junk", 1]]),
        ("n_edited", -1),
    ):
        bad = pickle.loads(pickle.dumps(good))
        bad["state"][key] = value
        with pytest.raises(ValueError):
            other.load_state_dict(bad)
        assert pickle.dumps(other.state_dict()) == before


def test_nan_raises_and_changes_nothing():
    teacher = ACCELTeacher(SPACE, seed=4, buffer_size=4, replay_prob=1.0)
    run(teacher, 3)
    while teacher.next_kind() != "edit":
        run(teacher, 1)
    (child,) = teacher.sample(1)
    before = pickle.dumps(teacher.state_dict())
    for attempt in (
        lambda: teacher.update(child, math.nan),
        lambda: teacher.update_batch([child, child], [0.1, math.inf]),
        lambda: teacher.update_episode(child, 0.1, episode_return=math.nan),
        lambda: teacher.update(b"not a maze", 0.1),
    ):
        with pytest.raises(ValueError):
            attempt()
        assert pickle.dumps(teacher.state_dict()) == before


def test_lineage_memory_is_bounded():
    teacher = ACCELTeacher(SPACE, seed=6, buffer_size=4, replay_prob=1.0, n_edits=3)
    for _ in range(40):
        run(teacher, 1, k=8)
    assert len(teacher._lineage) <= 4
    assert teacher.stats()["buffer_max_mutations"] >= 3
