"""Uniform vs oracle vs EXP3 on the simulated students of ``autocurr.envs.students``.

Usage::

    python benchmarks/students.py [--seeds 3]

Every cell is the mean over seeds (``n/N`` in the mastery column when only ``n`` of ``N`` seeds
reached mastery within the budget; the mean is then over those seeds). EXP3 runs with its
defaults (absolute learning progress as reward) unless the row says ``reward=signal``. EXP3 needs
a finite space, so on ``HypercubeUnlock`` it picks a bin of a regular grid over *all* dimensions
(distractors included: the teacher does not know which are relevant) and samples a uniform point
in it. Prints a markdown table with command, date, versions and machine.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import os
import platform
import sys
import time
from typing import Any

import numpy as np

import autocurr
from autocurr import make_teacher
from autocurr.envs import ChainStudent, DriftingBandit, HypercubeUnlock, oracle_for, run_curriculum
from autocurr.spaces import Discrete
from autocurr.teachers import teacher_class


class BinnedBox:
    """A finite-space teacher driving a unit ``Box``: task = uniform point in the chosen bin."""

    def __init__(self, name: str, dims: int, bins: int, seed: int, **hyperparameters: Any):
        self.dims, self.bins = dims, bins
        self.teacher = make_teacher(name, Discrete(bins**dims), seed=seed, **hyperparameters)
        self.rng = np.random.default_rng(seed + 10_000)
        self._last: tuple[np.ndarray, int] | None = None

    def sample(self) -> np.ndarray:
        index = int(self.teacher.sample())
        cell = np.array(np.unravel_index(index, (self.bins,) * self.dims))
        point = (cell + self.rng.random(self.dims)) / self.bins
        self._last = (point, index)
        return point

    def update(self, task: np.ndarray, signal: float) -> None:
        assert self._last is not None and task is self._last[0]
        self.teacher.update(self._last[1], signal)


def chain_cases():
    yield "Chain 20 + 20 infeasible, bernoulli", {}, 60_000
    yield "Chain 20 + 20 infeasible, noisy", {"observation": "noisy"}, 60_000
    yield "Chain 20 + 60 infeasible (mostly infeasible)", {"n_infeasible": 60}, 100_000
    yield "Chain 20 + 20 inf. + 60 trivial (mostly trivial)", {"trivial": 60}, 100_000
    yield "Chain 20 + 20 infeasible, 4 chains", {"n_chains": 4}, 60_000
    yield "Chain 20 + 20 infeasible, forgetting 1e-4", {"forgetting": 1e-4}, 60_000


def hypercube_cases():
    yield "Hypercube 2-D 10x10", {"dim": 2}, 10_000, 10
    yield "Hypercube 2-D 10x10", {"dim": 2}, 20_000, 10
    yield "Hypercube 2-D, 40% infeasible corner", {"infeasible_fraction": 0.4}, 20_000, 10
    yield "Hypercube 2-D + 2 distractor dims", {"distractor_dims": 2}, 20_000, 4


def summarise(results: list[dict]) -> dict[str, str]:
    reached = [r["episodes_to_mastery"] for r in results if r["episodes_to_mastery"] is not None]
    n = len(results)
    if results[0]["fraction_mastered"] is None:
        mastery, fraction, infeasible = "—", "—", "—"
    else:
        if not reached:
            mastery = f"0/{n}"
        else:
            mastery = f"{np.mean(reached):,.0f}" + (
                "" if len(reached) == n else f" ({len(reached)}/{n})"
            )
        fraction = f"{np.mean([r['fraction_mastered'] for r in results]):.2f}"
        infeasible = f"{np.mean([r['infeasible_share'] for r in results]):.2f}"
    best = (
        f"{np.mean([r['best_arm_share'] for r in results]):.2f}"
        if "best_arm_share" in results[0]
        else "—"
    )
    return {"mastery": mastery, "fraction": fraction, "infeasible": infeasible, "best": best}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--teachers", nargs="+", default=["exp3", "exp3s", "lp"],
                        help="registered teachers to compare with uniform and the oracle")
    args = parser.parse_args(argv)
    compared = ("uniform", "oracle", *args.teachers)
    seeds = range(args.seeds)
    rows = []
    start = time.perf_counter()

    for label, kwargs, budget in chain_cases():
        for teacher_name in compared:
            results = []
            for seed in seeds:
                student = ChainStudent(rng=seed, **kwargs)
                teacher = (
                    oracle_for(student, seed=seed)
                    if teacher_name == "oracle"
                    else make_teacher(teacher_name, student.task_space, seed=seed)
                )
                results.append(run_curriculum(student, teacher, budget, stop_when_mastered=True))
            rows.append((label, f"{budget:,}", teacher_name, summarise(results)))

    for label, kwargs, budget, bins in hypercube_cases():
        for teacher_name in compared:
            results = []
            for seed in seeds:
                student = HypercubeUnlock(rng=seed, **kwargs)
                if teacher_name == "oracle":
                    teacher = oracle_for(student, seed=seed)
                elif teacher_name == "uniform":
                    teacher = make_teacher(teacher_name, student.task_space, seed=seed)
                else:
                    teacher = BinnedBox(teacher_name, student.task_space.dim, bins, seed)
                results.append(run_curriculum(student, teacher, budget))
            name = (
                teacher_name
                if teacher_name in ("uniform", "oracle")
                else f"{teacher_name} ({bins}^{student.task_space.dim} bins)"
            )
            rows.append((label, f"{budget:,}", name, summarise(results)))

    budget = 20_000
    drifting_cases = [("uniform", {}), ("oracle", {})]
    for teacher_name in args.teachers:
        drifting_cases.append((teacher_name, {}))
        if "reward" in inspect.signature(teacher_class(teacher_name)).parameters:
            drifting_cases.append((teacher_name, {"reward": "signal"}))
    for teacher_name, hyper in drifting_cases:
        results = []
        for seed in seeds:
            student = DriftingBandit(n_arms=10, phase_length=2000, rng=seed)
            teacher = (
                oracle_for(student, seed=seed)
                if teacher_name == "oracle"
                else make_teacher(teacher_name, student.task_space, seed=seed, **hyper)
            )
            results.append(run_curriculum(student, teacher, budget))
        name = teacher_name + (" reward=signal" if hyper else "")
        rows.append(("DriftingBandit 10 arms, phase 2000", f"{budget:,}", name, summarise(results)))

    print(
        "| student | budget | teacher | episodes to mastery | fraction mastered "
        "| infeasible share | best-arm share |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, budget_text, name, s in rows:
        cells = [label, budget_text, name, s["mastery"], s["fraction"], s["infeasible"], s["best"]]
        print(f"| {' | '.join(cells)} |")
    print()
    print(
        f"- seeds: {args.seeds} (0..{args.seeds - 1}); "
        f"total time {time.perf_counter() - start:.1f} s"
    )
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(
        f"- python {platform.python_version()}, numpy {np.__version__}, "
        f"autocurr {autocurr.__version__}"
    )
    print(
        f"- machine: {platform.platform()}, {platform.processor() or 'cpu'}, "
        f"cpu_count {os.cpu_count()}"
    )
    print(f"- command: python benchmarks/students.py {' '.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
