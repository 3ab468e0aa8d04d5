"""The bandit/LP issue's ChainStudent targets, with the settings ``benchmarks/students.py`` uses.

ChainStudent(20 feasible, 20 infeasible, Bernoulli), seeds 0-4: lp, exp3s, tscl-window and
tscl-sampling reach mastery of every feasible task in <= 0.6x the episodes uniform sampling needs
while spending < 30% of their samples on infeasible tasks; the fastest documented setting
(tscl-window, silent-first ties) needs <= 0.35x. Loading the benchmark module keeps the tested
settings and the published ones the same object.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "students.py"
SEEDS = range(5)


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("students_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chain_run(bench, name):
    def student(seed):
        return bench.ChainStudent(n_feasible=20, n_infeasible=20, rng=seed)

    results = bench.run_seeds("chain", name, student, 60_000, SEEDS)
    mean, reached = bench.mean_episodes(results, 60_000)
    assert reached == len(SEEDS)
    return mean, float(np.mean([r["infeasible_share"] for r in results]))


@pytest.fixture(scope="module")
def uniform_episodes(bench):
    return chain_run(bench, "uniform")[0]


@pytest.mark.parametrize("name", ["lp", "exp3s", "tscl-window", "tscl-sampling"])
def test_learning_progress_teachers_beat_uniform_without_wasting_samples(
    bench, uniform_episodes, name
):
    episodes, infeasible_share = chain_run(bench, name)
    assert episodes <= 0.6 * uniform_episodes, episodes / uniform_episodes
    assert infeasible_share < 0.3


def test_the_fastest_setting_needs_about_a_third_of_uniforms_episodes(bench, uniform_episodes):
    episodes, _ = chain_run(bench, "tscl-window (fast)")
    assert episodes <= 0.35 * uniform_episodes, episodes / uniform_episodes
