"""Simulated students (autocurr.envs.students): hand-checkable dynamics and teacher baselines."""

from __future__ import annotations

import numpy as np
import pytest

from autocurr import make_teacher
from autocurr.envs import (
    ChainOracle,
    ChainStudent,
    DriftingBandit,
    DriftingOracle,
    HypercubeOracle,
    HypercubeUnlock,
    oracle_for,
    run_curriculum,
)
from autocurr.spaces import Box, Discrete
from autocurr.teachers import Teacher, available

SEEDS = (0, 1, 2)


# ------------------------------------------------------------------------------ ChainStudent
def test_chain_layout_is_a_shuffled_documented_map():
    s = ChainStudent(n_feasible=6, n_infeasible=3, n_chains=2, trivial=2, rng=0)
    assert s.task_space == Discrete(11)
    assert sorted(s.task_of.tolist()) == list(range(11))
    assert np.array_equal(s.task_of[s.internal_of], np.arange(11))
    assert [len(c) for c in s.chains] == [3, 3]
    chain_ids = np.concatenate(s.chains)
    assert np.array_equal(chain_ids, s.task_of[:6])  # internal order: chains first
    assert s.infeasible_mask.sum() == 3 and s.trivial_mask.sum() == 2
    assert np.array_equal(s.feasible_mask, ~s.infeasible_mask)
    for ids in s.chains:
        assert s.predecessor[ids[0]] == -1
        assert np.array_equal(s.predecessor[ids[1:]], ids[:-1])
    # The shuffle differs between seeds, so index order carries no information.
    orders = {tuple(ChainStudent(rng=seed).task_of.tolist()) for seed in range(5)}
    assert len(orders) == 5


def test_chain_rule_prerequisite_gate_and_rate():
    s = ChainStudent(n_feasible=3, n_infeasible=1, rng=0)
    first, second, _ = s.chains[0]
    for _ in range(30):  # the second task cannot move before the first reaches the gate
        s.episode(second)
    assert s.competence[second] == 0.0
    for k in range(1, 18):  # c_k = 1 - 0.95**k; 1 - 0.95**17 = 0.582 < 0.6 = gate
        s.episode(first)
        assert s.competence[first] == pytest.approx(1 - 0.95**k)
    s.episode(second)
    assert s.competence[second] == 0.0
    s.episode(first)  # 18 practices: 0.603 >= gate, the successor opens
    assert s.learnable(second)
    s.episode(second)
    assert s.competence[second] == pytest.approx(0.05)
    assert not s.mastered()[first]
    for _ in range(45 - 18):  # 45 practices: 1 - 0.95**45 = 0.9006 >= 0.9 = mastery
        s.episode(first)
    assert s.mastered()[first] and not s.all_feasible_mastered()


def test_chain_infeasible_never_improves_and_trivial_starts_mastered():
    s = ChainStudent(n_feasible=2, n_infeasible=2, trivial=3, rng=1)
    infeasible = np.flatnonzero(s.infeasible_mask)
    trivial = np.flatnonzero(s.trivial_mask)
    assert s.mastered()[trivial].all() and not s.mastered()[s.chain_mask].any()
    for _ in range(500):
        for task in infeasible:
            assert s.episode(task) == 0.0
    assert np.all(s.competence[infeasible] == 0.0)
    assert all(s.episode(task) == 1.0 for task in trivial)
    assert s.fraction_mastered() == pytest.approx(3 / 5)


def test_chain_forgetting_decays_unpractised_tasks_only():
    s = ChainStudent(n_feasible=2, n_infeasible=1, trivial=1, forgetting=0.01, rng=2)
    first, second = s.chains[0]
    for _ in range(60):
        s.episode(first)
    c_first = s.competence[first]
    assert c_first >= 0.9
    for _ in range(100):
        s.episode(second)
    assert s.competence[first] == pytest.approx(c_first * 0.99**100)
    assert not s.mastered()[first]
    assert s.competence[s.trivial_mask].tolist() == [1.0]  # trivial tasks do not forget
    # The practised task does not decay; its predecessor fell below the gate, so it stays put.
    assert not s.learnable(second)
    before = s.competence[second]
    s.episode(second)
    assert s.competence[second] == before


def test_chain_observations():
    s = ChainStudent(n_feasible=1, n_infeasible=0, rng=0)
    task = int(s.chains[0][0])
    for _ in range(200):
        s.episode(task)
    c = s.competence[task]
    outcomes = [s.episode(task) for _ in range(2000)]
    assert set(outcomes) <= {0.0, 1.0}
    assert np.mean(outcomes) == pytest.approx(1.0, abs=0.01)
    noisy = ChainStudent(n_feasible=2, n_infeasible=0, observation="noisy", rng=0)
    first, second = (int(t) for t in noisy.chains[0])
    for _ in range(14):  # c = 1 - 0.95**14 = 0.512, still below the gate
        noisy.episode(first)
    # Locked task at c = 0: clip(N(0, 0.05), 0, 1) has mean 0.05 / sqrt(2 pi) = 0.020.
    scores = np.array([noisy.episode(second) for _ in range(4000)])
    assert scores.min() == 0.0 and scores.max() <= 0.3
    assert scores.mean() == pytest.approx(0.05 / np.sqrt(2 * np.pi), abs=0.003)
    c = noisy.competence[first]
    assert c == pytest.approx(1 - 0.95**14)
    assert abs(noisy.episode(first) - c) < 0.3  # the score is drawn before practice
    with pytest.raises(ValueError):
        ChainStudent(observation="gaussian")
    with pytest.raises(ValueError):
        s.episode(5)


def test_chain_determinism_per_seed():
    def trace(seed):
        s = ChainStudent(rng=seed)
        t = make_teacher("uniform", s.task_space, seed=seed)
        result = run_curriculum(s, t, 3000)
        return s.task_of.tolist(), s.competence.tolist(), result

    assert trace(3) == trace(3)
    assert trace(3) != trace(4)


def test_chain_baselines_uniform_vs_oracle():
    uniform, oracle = [], []
    for seed in SEEDS:
        s = ChainStudent(20, 20, observation="bernoulli", rng=seed)
        r = run_curriculum(
            s, make_teacher("uniform", s.task_space, seed=seed), 60_000, stop_when_mastered=True
        )
        assert r["infeasible_share"] == pytest.approx(0.5, abs=0.03)
        assert r["episodes_to_mastery"] is not None
        uniform.append(r["episodes_to_mastery"])
        s = ChainStudent(20, 20, observation="bernoulli", rng=seed)
        r = run_curriculum(s, oracle_for(s, seed=seed), 60_000, stop_when_mastered=True)
        assert r["infeasible_share"] == 0.0 and r["fraction_mastered"] == 1.0
        oracle.append(r["episodes_to_mastery"])
    assert oracle == [900, 900, 900]  # 20 tasks x 45 practices, no wasted episode
    assert 5_000 <= np.mean(uniform) <= 40_000  # "a few thousand to tens of thousands"
    assert np.mean(uniform) >= 8 * np.mean(oracle)


def test_chain_oracle_handles_chains_and_forgetting():
    s = ChainStudent(n_feasible=9, n_infeasible=5, n_chains=3, forgetting=2e-4, rng=0)
    oracle = ChainOracle(s, seed=0)
    p = oracle.probabilities()
    assert p.sum() == pytest.approx(1.0)
    assert set(np.flatnonzero(p)) == {int(ids[0]) for ids in s.chains}
    r = run_curriculum(s, oracle, 5000, stop_when_mastered=True)
    assert r["episodes_to_mastery"] is not None and r["infeasible_share"] == 0.0
    run_curriculum(s, oracle, 500)  # keeps replaying decayed tasks
    assert s.fraction_mastered() >= 8 / 9


# --------------------------------------------------------------------------- HypercubeUnlock
def test_hypercube_unlock_order():
    h = HypercubeUnlock(dim=2, cells_per_dim=3, rng=0)
    assert h.task_space == Box([0, 0], [1, 1])
    assert h.cell_of([1.0, 0.0]) == (2, 0) and h.cell_of([0.34, 0.99]) == (1, 2)

    def practise(cell, n):
        point = (np.asarray(cell) + 0.5) / 3
        return [h.episode(point) for _ in range(n)]

    expected = np.zeros((3, 3), bool)
    expected[0, 0] = True
    assert np.array_equal(h.learnable_cells(), expected)
    assert practise((1, 0), 50) == [0.0] * 50  # locked: nothing learnt
    returns = practise((0, 0), 75)
    assert returns == [k / 100 for k in range(75)]
    assert h.mastered_cells()[0, 0]
    expected[1, 0] = expected[0, 1] = True
    assert np.array_equal(h.learnable_cells(), expected)
    assert not h.learnable((1, 1)) and not h.learnable((2, 0))
    practise((1, 0), 75)
    assert h.learnable((1, 1)) and h.learnable((2, 0)) and not h.learnable((0, 2))
    assert h.fraction_mastered() == pytest.approx(2 / 9)
    practise((1, 0), 200)
    assert h.counts[1, 0] == 100  # capped at steps_to_max
    for i in range(3):
        for j in range(3):
            assert h.learnable((i, j)) == h.learnable_cells()[i, j]


def test_hypercube_infeasible_corner_and_distractors():
    h = HypercubeUnlock(dim=2, cells_per_dim=10, infeasible_fraction=0.4, rng=0)
    assert h.infeasible_side == 6 and h.infeasible_cells.sum() == 36
    assert h.infeasible_cells[9, 9] and h.infeasible_cells[4, 4] and not h.infeasible_cells[3, 9]
    assert h.is_infeasible([0.95, 0.95]) and not h.is_infeasible([0.05, 0.95])
    r = run_curriculum(h, HypercubeOracle(h, seed=0), 6000)
    assert r["infeasible_share"] == 0.0
    assert r["fraction_mastered"] == pytest.approx(0.64)
    assert h.all_feasible_mastered() and not h.mastered_cells()[h.infeasible_cells].any()

    # Distractor coordinates have no effect: same cell path, same returns and counts.
    plain = HypercubeUnlock(dim=2, cells_per_dim=4, rng=0)
    noisy = HypercubeUnlock(dim=2, cells_per_dim=4, distractor_dims=3, rng=0)
    assert noisy.task_space.dim == 5
    rng = np.random.default_rng(0)
    for _ in range(3000):
        x = rng.random(2) * 0.5
        assert plain.episode(x) == noisy.episode(np.concatenate([x, rng.random(3)]))
    assert np.array_equal(plain.counts, noisy.counts)
    with pytest.raises(ValueError):
        noisy.episode([0.1, 0.1])
    with pytest.raises(ValueError):
        plain.episode([0.1, 1.5])


def test_hypercube_baselines():
    budget = 10_000
    for seed in SEEDS[:2]:
        h = HypercubeUnlock(dim=2, rng=seed)
        oracle = run_curriculum(h, oracle_for(h, seed=seed), budget)
        assert oracle["fraction_mastered"] >= 0.95
        assert oracle["episodes_to_mastery"] == 7500
        h = HypercubeUnlock(dim=2, rng=seed)
        uniform = run_curriculum(h, make_teacher("uniform", h.task_space, seed=seed), budget)
        assert uniform["fraction_mastered"] <= 0.1
        assert uniform["episodes_to_mastery"] is None


def test_hypercube_oracle_samples_in_bounds_with_distractors():
    h = HypercubeUnlock(dim=2, cells_per_dim=5, distractor_dims=2, rng=0)
    oracle = HypercubeOracle(h, seed=0)
    tasks = oracle.sample(200)
    assert all(h.task_space.contains(x) for x in tasks)
    assert {h.cell_of(x) for x in tasks} == {(0, 0)}
    r = run_curriculum(h, oracle, 25 * 75)
    assert r["fraction_mastered"] == 1.0


# ---------------------------------------------------------------------------- DriftingBandit
def test_drifting_best_arm_changes_at_phase_boundaries():
    b = DriftingBandit(n_arms=5, phase_length=100, rng=0)
    assert b.task_space == Discrete(5)
    for p in range(12):
        arms = {b.best_arm(t) for t in range(p * 100, (p + 1) * 100)}
        assert arms == {int(b.schedule[p % 5])}
        assert b.best_arm((p + 1) * 100) != b.best_arm((p + 1) * 100 - 1)
    means = b.means(0)
    assert means.max() == 0.8 and np.sum(means == 0.3) == 4
    assert b.best_arm() == b.best_arm(0)
    rewards = [b.pull(b.best_arm()) for _ in range(100)]
    assert b.t == 100 and b.best_arm() == int(b.schedule[1])
    assert set(rewards) <= {0.0, 1.0}


def test_drifting_baselines_and_determinism():
    b = DriftingBandit(n_arms=10, phase_length=2000, rng=0)
    oracle = run_curriculum(b, DriftingOracle(b, seed=0), 10_000)
    assert oracle["best_arm_share"] == 1.0 and len(oracle["best_arm_share_per_phase"]) == 5
    b = DriftingBandit(n_arms=10, phase_length=2000, rng=0)
    uniform = run_curriculum(b, make_teacher("uniform", b.task_space, seed=0), 10_000)
    assert uniform["best_arm_share"] == pytest.approx(0.1, abs=0.02)
    assert all(abs(s - 0.1) < 0.04 for s in uniform["best_arm_share_per_phase"])

    def trace(seed):
        b = DriftingBandit(rng=seed)
        return b.schedule.tolist(), [b.pull(i % 10) for i in range(500)]

    assert trace(5) == trace(5) and trace(5) != trace(6)


# ------------------------------------------------------------------------------------ oracles
def test_oracles_implement_the_teacher_interface():
    students = [ChainStudent(rng=0), HypercubeUnlock(rng=0), DriftingBandit(rng=0)]
    for student, cls in zip(students, (ChainOracle, HypercubeOracle, DriftingOracle), strict=True):
        oracle = oracle_for(student, seed=0)
        assert type(oracle) is cls and isinstance(oracle, Teacher)
        assert oracle.name not in available()  # not registered globally
        task = oracle.sample()
        assert student.task_space.contains(task)
        oracle.update(task, student.episode(task))
        assert oracle.n_updates == 1
        state = oracle.state_dict()
        assert state["name"] == cls.name
        if student.task_space.finite:
            p = oracle.probabilities()
            assert p.shape == (student.task_space.size,) and p.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        oracle_for(object())
    with pytest.raises(ValueError):
        ChainOracle(DriftingBandit(rng=0))
