"""The ``students`` and ``point-mass`` benchmark suites: named scenarios and result tables.

Each TeachMyAgent challenge scenario must build the student structure it names (the infeasible
share, the trivial share, forgetting, uneven per-task difficulty, ignored task coordinates); the
suite functions must return the tables the harness writes and a report built from them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from autocurr.envs import ChainStudent, oracle_for, run_curriculum
from autocurr.spaces import MultiDiscrete

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
CHALLENGES = (
    "mostly-infeasible",
    "mostly-trivial",
    "forgetting",
    "rugged-difficulty",
    "distractor-dims",
)


def load(stem: str):
    name = f"bench_under_test_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load("students")


def test_the_suite_declares_its_name_and_the_five_challenges(bench):
    assert bench.SUITE == "students"
    assert set(CHALLENGES) <= set(bench.SCENARIOS)
    for scenario in bench.SCENARIOS.values():
        assert scenario.budget > 0 and scenario.challenge and scenario.configuration


def test_every_scenario_has_the_same_twenty_test_tasks(bench):
    for name in bench.SCENARIOS:
        student = bench.scenario_student(name, seed=3)
        chain = student.base if isinstance(student, bench.DistractorChain) else student
        assert int(chain.chain_mask.sum()) == 20, name
        assert bench.share_of_test_tasks_mastered(student) == 0.0


def test_mostly_infeasible_is_three_quarters_infeasible(bench):
    student = bench.scenario_student("mostly-infeasible", seed=0)
    assert student.n_tasks == 80
    assert student.infeasible_mask.mean() == pytest.approx(0.75)
    assert not student.trivial_mask.any()


def test_mostly_trivial_is_sixty_percent_trivial(bench):
    student = bench.scenario_student("mostly-trivial", seed=0)
    assert student.n_tasks == 100
    assert student.trivial_mask.mean() == pytest.approx(0.6)
    assert student.infeasible_mask.sum() == 20
    # trivial tasks always succeed but are not test tasks
    assert np.all(student.competence[student.trivial_mask] == 1.0)


def test_forgetting_student_decays_unpractised_tasks(bench):
    student = bench.scenario_student("forgetting", seed=0)
    assert student.forgetting == pytest.approx(1e-4)
    first, second = student.chains[0][:2]
    for _ in range(30):
        student.episode(int(first))
    learned = student.competence[first]
    for _ in range(100):
        student.episode(int(second))
    assert student.competence[first] == pytest.approx(learned * (1 - 1e-4) ** 100)


def test_rugged_difficulty_gives_uneven_per_task_rates(bench):
    student = bench.scenario_student("rugged-difficulty", seed=0)
    chain_rates = student.rates[student.chains[0]]
    spread = bench.RUGGED_SPREAD
    assert student.rate is None
    assert np.all((chain_rates >= 0.05 / spread) & (chain_rates <= 0.05 * spread))
    assert chain_rates.max() / chain_rates.min() > 4  # a rugged, not a constant, difficulty
    assert np.any(np.diff(chain_rates) > 0) and np.any(np.diff(chain_rates) < 0)
    assert np.all(student.rates[~student.chain_mask] == 0.0)
    assert student.rates.size == student.n_tasks
    # one practice of the first task moves its competence by exactly its rate
    first = int(student.chains[0][0])
    student.episode(first)
    assert student.competence[first] == pytest.approx(student.rates[first])
    # the same seed gives the same rates, another seed others
    again = bench.scenario_student("rugged-difficulty", seed=0)
    other = bench.scenario_student("rugged-difficulty", seed=1)
    np.testing.assert_array_equal(again.rates, student.rates)
    assert not np.allclose(np.sort(other.rates), np.sort(student.rates))


def test_distractor_dims_add_ignored_coordinates(bench):
    student = bench.scenario_student("distractor-dims", seed=0)
    assert isinstance(student, bench.DistractorChain)
    assert student.task_space == MultiDiscrete([40, 3, 3])
    assert student.task_space.size == 360
    first = int(student.base.chains[0][0])
    # every distractor value plays the same underlying task
    for distractors in [(0, 0), (2, 1), (1, 2)]:
        student.episode((first, *distractors))
    assert student.base.competence[first] == pytest.approx(1 - 0.95**3)
    infeasible = int(np.flatnonzero(student.base.infeasible_mask)[0])
    assert student.is_infeasible((infeasible, 2, 2)) and not student.is_infeasible((first, 0, 1))
    fresh = bench.scenario_student("distractor-dims", seed=0)
    oracle = bench.teacher_for("scenarios", "oracle", fresh, seed=0)
    assert fresh.task_space.contains(oracle.sample())
    assert run_curriculum(fresh, oracle, 2000, True)["episodes_to_mastery"] == 900


def test_per_task_rates_are_validated():
    with pytest.raises(ValueError, match="one value per feasible task"):
        ChainStudent(n_feasible=3, rate=[0.1, 0.2])
    with pytest.raises(ValueError, match="rate"):
        ChainStudent(n_feasible=2, rate=[0.1, 0.0])
    with pytest.raises(ValueError, match="rate"):
        ChainStudent(n_feasible=2, rate=1.5)
    scalar = ChainStudent(n_feasible=4, n_infeasible=2, rng=0)
    assert scalar.rate == 0.05
    np.testing.assert_array_equal(scalar.rates, np.where(scalar.chain_mask, 0.05, 0.0))


def test_per_task_rates_keep_the_oracle_exact():
    rates = [0.1, 0.2, 0.5]
    student = ChainStudent(n_feasible=3, n_infeasible=1, rate=rates, rng=0)
    oracle = oracle_for(student, seed=0)
    needed = sum(int(np.ceil(np.log(0.1) / np.log(1 - r))) for r in rates)
    assert run_curriculum(student, oracle, 1000, True)["episodes_to_mastery"] == needed


def test_winner_is_the_best_iqm_and_overlapping_intervals_are_ties(bench):
    iqm = {
        "uniform": {"iqm": 10.0, "low": 5.0, "high": 15.0},
        "a": {"iqm": 60.0, "low": 50.0, "high": 70.0},
        "b": {"iqm": 55.0, "low": 45.0, "high": 65.0},
        "c": {"iqm": 60.0, "low": 55.0, "high": 62.0},
        "oracle": {"iqm": 100.0, "low": 100.0, "high": 100.0},
    }
    auc = {"uniform": 0.1, "a": 0.4, "b": 0.5, "c": 0.45, "oracle": 1.0}
    row = bench._winner_row("s", ["uniform", "a", "b", "c"], iqm, auc)
    assert row[1] == "c"  # equal IQMs: the larger area under the mastery curve
    assert row[5] == "a, b"  # intervals overlapping the winner's, best first
    assert row[6:] == [10.0, 100.0]


def test_a_tiny_scenario_run_returns_the_tables_and_a_report(bench):
    pytest.importorskip("rliable")
    names = ("reference", "distractor-dims")
    result = bench.scenarios_section(
        range(2), budget_scale=0.05, teachers=("uniform", "lp"), names=names, reps=50
    )
    tables = result["tables"]
    assert set(tables) == {"scenarios", "scenario_winners", "scenario_definitions"}
    for table in tables.values():
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    long = tables["scenarios"]
    assert [row[:2] for row in long["rows"]] == [
        [name, teacher] for name in names for teacher in ("oracle", "uniform", "lp")
    ]
    column = long["columns"].index("iqm_mastered_pct")
    assert all(0 <= row[column] <= 100 for row in long["rows"])
    assert [row[0] for row in tables["scenario_winners"]["rows"]] == list(names)
    assert all(row[1] in ("uniform", "lp") for row in tables["scenario_winners"]["rows"])
    text = bench.report({"tables": tables, "sections": {"scenarios": {"seeds": [0, 1]}}})
    assert "which teacher wins" in text and "distractor-dims" in text


@pytest.mark.slow
def test_quick_run_returns_every_table(bench, tmp_path):
    pytest.importorskip("rliable")
    results = bench.run(quick=True, out_dir=tmp_path)
    expected = {"chain", "scenarios", "scenario_winners", "scenario_definitions", "hypercube"}
    assert expected | {"drifting"} <= set(results["tables"])
    winners = results["tables"]["scenario_winners"]["rows"]
    assert [row[0] for row in winners] == list(bench.SCENARIOS)
    assert "which teacher wins" in bench.report(results)
    assert (tmp_path / "scenarios_iqm.png").is_file()


def test_point_mass_suite_summarizes_records_without_training(tmp_path):
    pytest.importorskip("rliable")
    point_mass = load("point_mass")
    assert point_mass.SUITE == "point-mass"
    options = point_mass.make_options(tmp_path, seeds=2, teachers=["uniform", "adr"])
    quarters = [{"mean_task": [0.1 * k, 4.0 - k], "success_rate": 0.5} for k in range(4)]
    records = [
        {
            "teacher": "uniform",
            "seed": seed,
            "target_success": 0.1 * seed,
            "per_target": dict.fromkeys(point_mass.TARGETS, 0.2),
            "wide_success": 1.0,
            "steps_per_second": 4000.0,
            "train_time_s": 100.0,
            "sampled_tasks": {"quarters": quarters},
            "training_curve": {"timesteps": [1]},
        }
        for seed in range(2)
    ]
    results = point_mass.summarize(records, options, wall_s=12.0)
    table = results["tables"]["point_mass"]
    assert [row[0] for row in table["rows"]] == ["uniform"]  # adr has no runs
    assert table["rows"][0][table["columns"].index("mean")] == pytest.approx(0.05)
    assert "training_curve" not in results["records"][0]
    text = point_mass.report(results)
    assert "| uniform | 2 |" in text and "Q4 width" in text
