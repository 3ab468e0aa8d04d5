"""Every teacher against uniform sampling and an oracle on the simulated students.

Usage::

    python benchmarks/students.py [--seeds N] [--quick] [--output-dir DIR]
        [--sections chain scenarios hypercube drifting profiles]

or, through the harness, ``autocurr bench students [--seeds N] [--quick]``. ``--seeds`` applies
to every section; without it each section uses its documented default (``DEFAULT_SEEDS``).

Sections (students from ``autocurr.envs.students``; targets from the bandit/LP issue):

- ``chain``: ChainStudent, 20 feasible + 20 infeasible tasks, Bernoulli outcomes. Episodes until
  every feasible task is mastered, as a ratio to uniform's mean, and the share of samples spent on
  infeasible tasks. Targets: best teacher <= 0.35x uniform; lp, exp3s, tscl-window and
  tscl-sampling <= 0.6x with an infeasible share < 0.3.
- ``scenarios``: TeachMyAgent's challenge profiles (Romac, Portelas et al., ICML 2021) as named
  chain scenarios (``SCENARIOS``: mostly infeasible, mostly trivial, forgetting student, rugged
  difficulty, distractor dimensions, plus the reference chain), every finite-space teacher on its
  registered defaults. TeachMyAgent's protocol: a fixed budget of episodes per scenario, then the
  share of test tasks (the 20 chain tasks) mastered; aggregated over seeds with rliable's
  interquartile mean and a 95% stratified-bootstrap interval (Agarwal et al., 2021). The winner of
  a scenario is the best IQM (the oracle is a bound, not a contender; equal IQMs are split by the
  mean area under the mastery curve); teachers whose interval overlaps the winner's are listed as
  statistically tied.
- ``hypercube``: HypercubeUnlock, fraction of cells mastered after 20k episodes for the teachers
  that work on a Box. Targets: binned-lp >= 0.95 and alp-gmm >= 0.5 in 2-D; >= 10x random with
  2 distractor dimensions.
- ``drifting``: DriftingBandit (10 arms, best arm moves every 2 000 pulls, 8 phases, Bernoulli
  rewards used directly as the bandit reward): share of pulls on the current best arm, minimum
  over phases. Target: exp3s, ducb, swucb and discounted thompson >= 0.6 in every phase; ucb1
  below (negative control).
- ``profiles`` (not run by default; superseded by ``scenarios``): mean episodes to mastery on the
  earlier chain variants (noisy scores, mostly infeasible, mostly trivial, forgetting, 4 chains)
  for five teachers.

Every teacher runs with its registered defaults unless ``SETTINGS`` below lists benchmark
settings (each documented in the teacher's docstring). ``--quick`` is a smoke run (fewer seeds,
shorter budgets; not the documented numbers).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

import autocurr
from autocurr import make_teacher
from autocurr.envs import ChainStudent, DriftingBandit, HypercubeUnlock, oracle_for, run_curriculum
from autocurr.envs.students import ChainOracle
from autocurr.spaces import MultiDiscrete
from autocurr.teachers.base import Teacher, check_int

SUITE = "students"
DESCRIPTION = (
    "Simulated students: chain targets, TeachMyAgent challenge scenarios (IQM of % test tasks "
    "mastered, winner per scenario), hypercube and drifting bandit"
)

CHAIN_TEACHERS = (
    "exp3",
    "exp3s",
    "exp3ix",
    "ucb1",
    "ducb",
    "swucb",
    "thompson",
    "lp",
    "tscl-online",
    "tscl-naive",
    "tscl-window",
    "tscl-sampling",
)
CHAIN_TARGETS = {"lp": 0.6, "exp3s": 0.6, "tscl-window": 0.6, "tscl-sampling": 0.6}
#: The fastest documented setting (tscl.py): the "best teacher <= 0.35x uniform" row.
FAST_CHAIN_SETTING = {"tie_break": "silent-first", "window": 15, "aggregate": 2, "epsilon": 0.1}
#: Every registered teacher that runs on a finite space from a return/success/score signal.
#: Left out: ``sequential`` (needs hand-written stages), ``doremi`` and ``odm`` (a per-domain
#: loss), ``sec`` (a batch advantage); the students emit neither. The pacing teachers
#: (``curriculum`` ... ``cyclical``) rank tasks by space index by default, which on the shuffled
#: chain ids carries no difficulty information.
SCENARIO_TEACHERS = (
    "uniform",
    *CHAIN_TEACHERS,
    "learnability",
    "curriculum",
    "anti-curriculum",
    "random-curriculum",
    "cyclical",
)
PROFILE_TEACHERS = ("exp3s", "lp", "tscl-window", "tscl-sampling", "thompson")
BOX_TEACHERS = ("binned-lp", "alp-gmm", "riac", "adr")
DRIFTING_TEACHERS = ("exp3s", "exp3ix", "ducb", "swucb", "thompson", "ucb1")
DRIFTING_TARGETS = {"exp3s": True, "ducb": True, "swucb": True, "thompson": True, "ucb1": False}

#: Benchmark settings per (section, teacher); everything else runs on its defaults.
SETTINGS: dict[tuple[str, str], dict[str, Any]] = {
    # The hypercube's episode return is the cell's competence in [0, 1]; ADR grows its box from
    # the origin cell when a boundary's mean return reaches 0.5, shrinks it at 0.1 or below.
    # Tracking a moving best arm (8 phases of 2 000 pulls), settings of tests/test_bandits.py:
    # Graves et al.'s decoupled EXP3.S learning rate; Garivier & Moulines' horizon-aware
    # discount 1 - sqrt(switches / T) / 4.
    ("drifting", "exp3s"): {"gamma": 0.15, "eta": 0.06, "alpha": 1e-4},
    ("drifting", "ducb"): {"gamma": 1 - (7 / 16_000) ** 0.5 / 4},
    # Decoupled EXP3.S learning rate, small uniform mix (exp3s.py docstring): 0.55x at share 0.28.
    ("chain", "exp3s"): {"gamma": 0.15, "eta": 0.2, "alpha": 1.5e-3, "ema_alpha": 0.7},
    # Focused LP keeping solved-not-mastered tasks in the bonus pool (lp.py): 0.59x at 0.292.
    ("chain", "lp"): {"reliable": 0.7, "center": 1.0, "steepness": 2.0, "epsilon": 0.1},
    # Sampling on aggregated deltas (tscl.py): 0.54x at 0.287 on seeds 0-4, on the edge (0-9: 0.30).
    ("chain", "tscl-sampling"): {"window": 15, "aggregate": 9, "epsilon": 0.02},
    ("hypercube", "adr"): {"low_threshold": 0.1, "high_threshold": 0.5, "initial": 0.05},
}

#: Seeds per section when ``seeds`` is not given (full run / quick run).
DEFAULT_SEEDS = {"chain": 5, "scenarios": 10, "hypercube": 5, "drifting": 5, "profiles": 5}
QUICK_SEEDS = {"chain": 2, "scenarios": 2, "hypercube": 1, "drifting": 1, "profiles": 1}
SUITE_SECTIONS = ("chain", "scenarios", "hypercube", "drifting")
#: Quick runs shorten the scenario and hypercube budgets by this factor.
QUICK_BUDGET_SCALE = 0.25
HYPERCUBE_BUDGET = 20_000


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def settings(section: str, name: str) -> dict[str, Any]:
    hyperparameters = dict(SETTINGS.get((section, name), {}))
    if section == "drifting" and name != "uniform":
        hyperparameters.setdefault("reward", "signal")
    return hyperparameters


def teacher_for(section: str, name: str, student: Any, seed: int):
    if name == "oracle":
        if isinstance(student, DistractorChain):
            return DistractorOracle(student, seed=seed)
        return oracle_for(student, seed=seed)
    if name == "tscl-window (fast)":
        return make_teacher("tscl-window", student.task_space, seed=seed, **FAST_CHAIN_SETTING)
    return make_teacher(name, student.task_space, seed=seed, **settings(section, name))


def run_seeds(section: str, name: str, make_student: Callable[[int], Any], budget: int, seeds):
    results = []
    for seed in seeds:
        student = make_student(seed)
        teacher = teacher_for(section, name, student, seed)
        stop = section in ("chain", "profiles")
        results.append(run_curriculum(student, teacher, budget, stop_when_mastered=stop))
    return results


def mean_episodes(results: list[dict], budget: int) -> tuple[float, int]:
    """Mean episodes to mastery (budget for runs that never got there) and how many got there."""
    reached = [r["episodes_to_mastery"] for r in results if r["episodes_to_mastery"] is not None]
    episodes = [r["episodes_to_mastery"] or budget for r in results]
    return float(np.mean(episodes)), len(reached)


def _table(columns: Sequence[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": list(columns), "rows": rows}


def _shown(hyperparameters: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hyperparameters.items()
    )


# ------------------------------------------------------------------------ named scenarios
class DistractorChain:
    """A ChainStudent whose tasks carry ``dims`` extra coordinates the student ignores.

    Tasks are ``(chain task id, d_1, ..., d_dims)`` with ``d_i`` in ``0..levels-1``
    (``MultiDiscrete``): TeachMyAgent's irrelevant task parameters on a finite space. Every
    distractor value of a task id plays the same underlying task, so a teacher that treats tasks
    as independent arms sees ``levels ** dims`` copies of each and must learn each copy's worth
    separately.
    """

    def __init__(self, base: ChainStudent, dims: int = 2, levels: int = 3):
        self.base = base
        self.dims = check_int("dims", dims, 1)
        self.levels = check_int("levels", levels, 2)
        self._space = MultiDiscrete([base.n_tasks] + [self.levels] * self.dims)

    @property
    def task_space(self) -> MultiDiscrete:
        return self._space

    def task_id(self, task: Any) -> int:
        """The underlying chain task id of ``task`` (its first coordinate)."""
        return self._space.canonical(task)[0]

    def episode(self, task: Any) -> float:
        return self.base.episode(self.task_id(task))

    def is_infeasible(self, task: Any) -> bool:
        return self.base.is_infeasible(self.task_id(task))

    def all_feasible_mastered(self) -> bool:
        return self.base.all_feasible_mastered()

    def fraction_mastered(self) -> float:
        return self.base.fraction_mastered()


class DistractorOracle(Teacher):
    """The chain oracle's task with uniformly random distractor coordinates (a sanity bound)."""

    name = "distractor_oracle"
    signal = "return"
    requires_finite = True

    def __init__(self, student: DistractorChain, seed: int | None = None):
        super().__init__(student.task_space, seed)
        self.student = student
        self._chain_oracle = ChainOracle(student.base, seed=seed)

    def _sample_one(self) -> tuple[int, ...]:
        distractors = self.rng.integers(self.student.levels, size=self.student.dims)
        return (int(self._chain_oracle.sample()), *distractors.tolist())

    def _update(self, task: Any, signal: float) -> None:
        pass  # reads the student's state


class Scenario(NamedTuple):
    """A named chain student: the TeachMyAgent challenge it stands for and its budget."""

    name: str
    challenge: str
    configuration: str
    budget: int
    options: dict[str, Any]

    def student(self, seed: int) -> ChainStudent | DistractorChain:
        return scenario_student(self, seed)


#: Rugged difficulty: per-task learning rates ``0.05 * RUGGED_SPREAD ** u``, ``u ~ U(-1, 1)``.
RUGGED_SPREAD = 4.0
#: Each budget is about half the episodes uniform sampling needs to master every test task on
#: that scenario (mean over seeds 0-9, measured once with ``run_curriculum(...,
#: stop_when_mastered=True)``: reference 15 879, mostly-infeasible 30 027, mostly-trivial
#: 37 832, forgetting 17 317, rugged-difficulty 23 382, distractor-dims 15 375), rounded to 500:
#: where uniform is halfway, a teacher's lead shows as a share of tasks mastered.
SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "reference",
            "none (the chain of the chain section)",
            "20 chain tasks + 20 infeasible",
            8_000,
            {},
        ),
        Scenario(
            "mostly-infeasible",
            "mostly unfeasible task space",
            "20 chain tasks + 60 infeasible (75% of the tasks never improve)",
            15_000,
            {"n_infeasible": 60},
        ),
        Scenario(
            "mostly-trivial",
            "mostly trivial task space",
            "20 chain tasks + 20 infeasible + 60 trivial (60% always succeed)",
            19_000,
            {"trivial": 60},
        ),
        Scenario(
            "forgetting",
            "forgetting student",
            "20 + 20, every unpractised chain task decays c *= 1 - 1e-4 per episode",
            8_500,
            {"forgetting": 1e-4},
        ),
        Scenario(
            "rugged-difficulty",
            "rugged difficulty",
            f"20 + 20, per-task learning rates 0.05 x {RUGGED_SPREAD:g}^U(-1, 1) "
            f"(0.0125-0.2: 10 to 183 practices to master a task)",
            11_500,
            {"rugged": RUGGED_SPREAD},
        ),
        Scenario(
            "distractor-dims",
            "distractor dimensions",
            "20 + 20, tasks (id, d1, d2) with 2 ignored coordinates of 3 values (360 arms)",
            7_500,
            {"distractor_dims": 2, "distractor_levels": 3},
        ),
    )
}


def scenario_student(scenario: Scenario | str, seed: int) -> ChainStudent | DistractorChain:
    """The student of ``scenario`` for ``seed`` (student ids shuffled with ``seed``)."""
    scenario = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    options = dict(scenario.options)
    rugged = options.pop("rugged", None)
    dims = options.pop("distractor_dims", 0)
    levels = options.pop("distractor_levels", 3)
    options.setdefault("n_infeasible", 20)
    if rugged is not None:
        # a separate stream so the rates do not shift the student's own draws
        u = np.random.default_rng([seed, 1]).uniform(-1.0, 1.0, size=20)
        options["rate"] = (0.05 * rugged**u).tolist()
    student = ChainStudent(n_feasible=20, rng=seed, **options)
    return DistractorChain(student, dims, levels) if dims else student


def _chain_of(student: ChainStudent | DistractorChain) -> ChainStudent:
    return student.base if isinstance(student, DistractorChain) else student


def share_of_test_tasks_mastered(student: ChainStudent | DistractorChain) -> float:
    """TeachMyAgent's metric: the share of test tasks (the chain tasks) mastered now."""
    from autocurr.bench import share_mastered

    chain = _chain_of(student)
    return float(share_mastered(chain.competence[chain.chain_mask], chain.mastery)[0])


def scenario_run(student, teacher, budget: int, checkpoints: int = 20) -> dict[str, Any]:
    """``budget`` episodes; the share of test tasks mastered at ``checkpoints`` even points."""
    chain = _chain_of(student)
    on_chain = chain.chain_mask.tolist()
    task_id = student.task_id if isinstance(student, DistractorChain) else int
    every = max(1, budget // checkpoints)
    curve, off_chain, to_mastery = [], 0, None
    for episode in range(1, budget + 1):
        task = teacher.sample()
        off_chain += not on_chain[task_id(task)]
        teacher.update(task, student.episode(task))
        if to_mastery is None and chain.all_feasible_mastered():
            to_mastery = episode
        if episode % every == 0 or episode == budget:
            curve.append(share_of_test_tasks_mastered(student))
    return {
        "mastered": curve[-1],
        "auc": float(np.mean(curve)),
        "curve": curve,
        "off_chain_share": off_chain / budget,
        "episodes_to_mastery": to_mastery,
    }


#: Scenario runs seed the teacher with the run's seed plus this offset. With one seed for both,
#: ``random-curriculum``'s order (``rng.permutation(n)``, its first draw) would equal the
#: student's hidden ``task_of`` (also the first draw of ``default_rng(seed)``): the perfect
#: curriculum, leaked through the seed. (The chain section keeps teacher seed = student seed,
#: the setting its targets were tuned with; none of its teachers draws a permutation.)
TEACHER_SEED_OFFSET = 1000


def _scenario_seed(scenario: Scenario, teacher: str, seed: int, budget: int) -> dict[str, Any]:
    student = scenario.student(seed)
    teacher_seed = seed + TEACHER_SEED_OFFSET
    return scenario_run(student, teacher_for("scenarios", teacher, student, teacher_seed), budget)


def scenarios_section(
    seeds: Sequence[int],
    *,
    budget_scale: float = 1.0,
    teachers: Sequence[str] = SCENARIO_TEACHERS,
    names: Sequence[str] = tuple(SCENARIOS),
    reps: int = 2000,
) -> dict[str, Any]:
    from autocurr.bench import iqm_with_ci

    raw: dict[str, dict[str, Any]] = {}
    rows, winners, times = [], [], {}
    contenders = [t for t in teachers if t != "oracle"]
    for name in names:
        scenario = SCENARIOS[name]
        budget = max(100, int(scenario.budget * budget_scale))
        start = time.perf_counter()
        runs = {
            teacher: [_scenario_seed(scenario, teacher, seed, budget) for seed in seeds]
            for teacher in ("oracle", *contenders)
        }
        times[name] = round(time.perf_counter() - start, 1)
        mastered = {t: np.array([r["mastered"] for r in rs]) for t, rs in runs.items()}
        iqm = iqm_with_ci({t: 100 * v for t, v in mastered.items()}, reps=reps)
        auc = {t: float(np.mean([r["auc"] for r in rs])) for t, rs in runs.items()}
        raw[name] = {
            "budget": budget,
            "per_seed_mastered": {t: v.tolist() for t, v in mastered.items()},
            "mean_curve": {
                t: np.mean([r["curve"] for r in rs], axis=0).tolist() for t, rs in runs.items()
            },
        }
        for teacher, rs in runs.items():
            reached = [r["episodes_to_mastery"] for r in rs if r["episodes_to_mastery"]]
            rows.append(
                [
                    name,
                    teacher,
                    budget,
                    len(rs),
                    iqm[teacher]["iqm"],
                    iqm[teacher]["low"],
                    iqm[teacher]["high"],
                    100 * float(mastered[teacher].mean()),
                    100 * auc[teacher],
                    float(np.mean([r["off_chain_share"] for r in rs])),
                    len(reached),
                    float(np.median(reached)) if reached else None,
                ]
            )
        winners.append(_winner_row(name, contenders, iqm, auc))
    return {
        "tables": {
            "scenarios": _table(
                [
                    "scenario",
                    "teacher",
                    "budget",
                    "seeds",
                    "iqm_mastered_pct",
                    "ci_low",
                    "ci_high",
                    "mean_mastered_pct",
                    "auc_pct",
                    "off_chain_share",
                    "runs_all_mastered",
                    "median_episodes_to_mastery",
                ],
                rows,
            ),
            "scenario_winners": _table(
                [
                    "scenario",
                    "winner",
                    "iqm_mastered_pct",
                    "ci_low",
                    "ci_high",
                    "tied_with (CI overlaps)",
                    "uniform_iqm",
                    "oracle_iqm",
                ],
                winners,
            ),
            "scenario_definitions": _table(
                ["scenario", "TeachMyAgent challenge", "student", "budget (episodes)"],
                [
                    [s.name, s.challenge, s.configuration, max(100, int(s.budget * budget_scale))]
                    for s in (SCENARIOS[n] for n in names)
                ],
            ),
        },
        "raw": raw,
        "seconds_per_scenario": times,
    }


def _winner_row(name: str, contenders: Sequence[str], iqm: dict, auc: dict) -> list[Any]:
    best = max(contenders, key=lambda t: (iqm[t]["iqm"], auc[t]))
    tied = [
        t
        for t in contenders
        if t != best and iqm[t]["high"] >= iqm[best]["low"] and iqm[t]["low"] <= iqm[best]["high"]
    ]
    tied.sort(key=lambda t: (-iqm[t]["iqm"], -auc[t]))
    return [
        name,
        best,
        iqm[best]["iqm"],
        iqm[best]["low"],
        iqm[best]["high"],
        ", ".join(tied) if tied else "none",
        iqm["uniform"]["iqm"] if "uniform" in iqm else None,
        iqm["oracle"]["iqm"] if "oracle" in iqm else None,
    ]


# ------------------------------------------------------------------------------------ sections
def chain_section(seeds: Sequence[int]) -> dict[str, Any]:
    budget = 60_000

    def student(seed):
        return ChainStudent(n_feasible=20, n_infeasible=20, rng=seed)

    rows, verdicts = [], []
    uniform_mean = None
    for name in ("uniform", "oracle", *CHAIN_TEACHERS, "tscl-window (fast)"):
        results = run_seeds("chain", name, student, budget, seeds)
        mean, reached = mean_episodes(results, budget)
        uniform_mean = mean if name == "uniform" else uniform_mean
        ratio = mean / uniform_mean
        share = float(np.mean([r["infeasible_share"] for r in results]))
        target = verdict = ""
        if name in CHAIN_TARGETS:
            ok = ratio <= CHAIN_TARGETS[name] and share < 0.3
            target, verdict = f"≤ {CHAIN_TARGETS[name]}× and < 0.3", "met" if ok else "not met"
        if name == "tscl-window (fast)":
            target, verdict = "best ≤ 0.35×", "met" if ratio <= 0.35 else "not met"
        if target:
            verdicts.append(
                f"chain, {name}: {ratio:.2f}× uniform at infeasible share {share:.2f} "
                f"(target {target}): **{verdict}**"
            )
        used = FAST_CHAIN_SETTING if name == "tscl-window (fast)" else settings("chain", name)
        shown = "reads the hidden state" if name == "oracle" else _shown(used) or "defaults"
        rows.append([name, shown, mean, reached, len(results), ratio, share, target, verdict])
    return {
        "tables": {
            "chain": _table(
                [
                    "teacher",
                    "settings",
                    "episodes to mastery",
                    "runs mastered",
                    "runs",
                    "× uniform",
                    "infeasible share",
                    "target",
                    "verdict",
                ],
                rows,
            )
        },
        "verdicts": verdicts,
    }


def profile_section(seeds: Sequence[int]) -> dict[str, Any]:
    profiles = [
        ("noisy scores (σ 0.05)", {"observation": "noisy"}),
        ("mostly infeasible (20 + 60)", {"n_infeasible": 60}),
        ("mostly trivial (+ 60 trivial)", {"trivial": 60}),
        ("forgetting 1e-4", {"forgetting": 1e-4}),
        ("4 chains", {"n_chains": 4}),
    ]
    names = ("uniform", "oracle", *PROFILE_TEACHERS)
    budget = 100_000
    rows = []
    for label, kwargs in profiles:
        cells: list[Any] = [label]
        for name in names:
            results = run_seeds(
                "profiles",
                name,
                lambda seed, kw=kwargs: ChainStudent(
                    n_feasible=20,
                    n_infeasible=kw.get("n_infeasible", 20),
                    rng=seed,
                    **{k: v for k, v in kw.items() if k != "n_infeasible"},
                ),
                budget,
                seeds,
            )
            mean, reached = mean_episodes(results, budget)
            cells.append(
                f"{mean:,.0f}" + ("" if reached == len(results) else f" ({reached}/{len(results)})")
            )
        rows.append(cells)
    columns = ["profile (20 feasible + 20 infeasible unless stated)", *names]
    return {"tables": {"profiles": _table(columns, rows)}, "verdicts": []}


def hypercube_section(seeds: Sequence[int], budget: int = HYPERCUBE_BUDGET) -> dict[str, Any]:
    cases = [
        ("2-D 10×10", {"dim": 2}),
        ("2-D, 40% infeasible corner (max 0.64)", {"dim": 2, "infeasible_fraction": 0.4}),
        ("2 relevant + 2 distractor dims", {"dim": 2, "distractor_dims": 2}),
    ]
    names = ("uniform", "oracle", *BOX_TEACHERS)
    rows, means = [], {}
    for label, kwargs in cases:
        cells: list[Any] = [label]
        for name in names:
            results = run_seeds(
                "hypercube",
                name,
                lambda seed, kw=kwargs: HypercubeUnlock(rng=seed, **kw),
                budget,
                seeds,
            )
            means[label, name] = float(np.mean([r["fraction_mastered"] for r in results]))
            cells.append(means[label, name])
        rows.append(cells)
    columns = [f"student ({budget // 1000}k episodes)", *names]
    table = {"hypercube": _table(columns, rows)}
    if budget != HYPERCUBE_BUDGET:
        return {
            "tables": table,
            "verdicts": [
                f"hypercube targets: not checked ({budget:,} "
                f"episodes, the targets are for {HYPERCUBE_BUDGET:,})"
            ],
        }
    two_d, distract = cases[0][0], cases[2][0]
    checks = [
        ("binned-lp, 2-D", means[two_d, "binned-lp"], 0.95, "≥ 0.95"),
        ("alp-gmm, 2-D", means[two_d, "alp-gmm"], 0.5, "≥ 0.5"),
    ]
    verdicts = [
        f"hypercube {what}: {value:.2f} (target {label}): **{_met(value >= bound)}**"
        for what, value, bound, label in checks
    ]
    uniform = means[distract, "uniform"]
    for name in ("binned-lp", "alp-gmm"):
        ratio = means[distract, name] / uniform if uniform > 0 else math.inf
        verdicts.append(
            f"hypercube {name}, 2 distractor dims: {means[distract, name]:.2f}, {ratio:.0f}× "
            f"uniform's {uniform:.2f} (target ≥ 10×): **{_met(ratio >= 10)}**"
        )
    return {"tables": table, "verdicts": verdicts}


def drifting_section(seeds: Sequence[int]) -> dict[str, Any]:
    rows, verdicts = [], []
    for name in ("uniform", "oracle", *DRIFTING_TEACHERS):
        results = run_seeds(
            "drifting",
            name,
            lambda seed: DriftingBandit(n_arms=10, phase_length=2000, rng=seed),
            16_000,
            seeds,
        )
        per_phase = np.concatenate([r["best_arm_share_per_phase"] for r in results])
        overall = float(np.mean([r["best_arm_share"] for r in results]))
        above = f"{int(np.sum(per_phase >= 0.6))}/{per_phase.size}"
        target = verdict = ""
        if name in DRIFTING_TARGETS:
            tracks = bool(np.all(per_phase >= 0.6))
            want = DRIFTING_TARGETS[name]
            target = "tracks" if want else "must not track"
            verdict = "met" if tracks == want else "not met"
            verdicts.append(
                f"drifting, {name}: lowest phase share {per_phase.min():.2f} "
                f"(target: {target} ≥ 0.6 in every phase): **{verdict}**"
            )
        rows.append([name, overall, float(per_phase.min()), above, target, verdict])
    columns = [
        "teacher",
        "best-arm share (all pulls)",
        "lowest phase share",
        "phases ≥ 0.6",
        "target",
        "verdict",
    ]
    return {"tables": {"drifting": _table(columns, rows)}, "verdicts": verdicts}


SECTIONS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "chain": ("ChainStudent, 20 feasible + 20 infeasible tasks, Bernoulli", chain_section),
    "scenarios": (
        "TeachMyAgent challenge scenarios, teachers on their defaults: % of test tasks mastered",
        scenarios_section,
    ),
    "hypercube": ("HypercubeUnlock: fraction of cells mastered", hypercube_section),
    "drifting": ("DriftingBandit: tracking a moving best arm", drifting_section),
    "profiles": (
        "Chain challenge profiles, teachers on their defaults: mean episodes to mastery",
        profile_section,
    ),
}


# ------------------------------------------------------------------------------- suite API
def run(
    *,
    seeds: int | None = None,
    quick: bool = False,
    out_dir: Path | None = None,
    sections: Sequence[str] = SUITE_SECTIONS,
) -> dict[str, Any]:
    """Run the sections; returns their tables, target verdicts, raw numbers and durations.

    ``seeds=None``: each section's default (``DEFAULT_SEEDS``, or ``QUICK_SEEDS`` when quick).
    ``out_dir`` receives ``scenarios_iqm.png`` when the scenarios run and matplotlib is installed.
    """
    tables: dict[str, Any] = {}
    verdicts: list[str] = []
    per_section: dict[str, Any] = {}
    for section in sections:
        if section not in SECTIONS:
            raise ValueError(f"unknown section {section!r}; sections: {', '.join(SECTIONS)}")
        n_seeds = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_SEEDS)[section]
        kwargs: dict[str, Any] = {}
        if quick and section == "scenarios":
            kwargs = {"budget_scale": QUICK_BUDGET_SCALE, "reps": 200}
        if quick and section == "hypercube":
            kwargs = {"budget": int(HYPERCUBE_BUDGET * QUICK_BUDGET_SCALE)}
        start = time.perf_counter()
        result = SECTIONS[section][1](range(n_seeds), **kwargs)
        tables.update(result["tables"])
        verdicts += result.get("verdicts", [])
        per_section[section] = {
            "seeds": list(range(n_seeds)),
            "duration_s": round(time.perf_counter() - start, 1),
            **{k: v for k, v in result.items() if k not in ("tables", "verdicts")},
        }
    results = {"tables": tables, "verdicts": verdicts, "sections": per_section, "quick": quick}
    if out_dir is not None and "scenarios" in per_section:
        plot_scenarios(results, Path(out_dir) / "scenarios_iqm.png")
    return results


def plot_scenarios(results: dict[str, Any], path: Path) -> bool:
    """IQM with its 95% interval per teacher, one panel per scenario (needs matplotlib)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    table = results["tables"]["scenarios"]
    column = {name: i for i, name in enumerate(table["columns"])}
    names = list(dict.fromkeys(row[0] for row in table["rows"]))
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    figure = Figure(figsize=(4.2 * ncols, 5.5 * nrows), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(nrows, ncols, sharey=True, squeeze=False)
    axes = list(grid.ravel())
    for axis in axes[len(names) :]:
        axis.set_visible(False)
    for axis, name in zip(axes, names, strict=False):
        rows = [row for row in table["rows"] if row[0] == name]
        y = np.arange(len(rows))
        iqm = np.array([row[column["iqm_mastered_pct"]] for row in rows])
        low = np.array([row[column["ci_low"]] for row in rows])
        high = np.array([row[column["ci_high"]] for row in rows])
        axis.barh(y, high - low, left=low, color="tab:blue", alpha=0.35, height=0.7)
        axis.scatter(iqm, y, color="black", s=12, zorder=3)
        axis.set_yticks(y, [row[1] for row in rows])
        axis.set_title(name)
        axis.set_xlim(-2, 102)
        axis.set_xlabel("% of test tasks mastered (IQM, 95% CI)")
        axis.grid(alpha=0.3, axis="x")
    grid[0, 0].invert_yaxis()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    return True


def report(results: dict[str, Any]) -> str:
    """Markdown built only from ``results``: the tables and one line per target verdict."""
    from autocurr.bench import markdown_table

    tables = results["tables"]
    sections = results.get("sections", {})
    out: list[str] = []

    def seeds_note(section: str) -> str:
        seeds = sections.get(section, {}).get("seeds", [])
        took = sections.get(section, {}).get("duration_s")
        if not seeds:
            return ""
        shown = "Seed 0" if len(seeds) == 1 else f"Seeds 0-{seeds[-1]} ({len(seeds)})"
        return f"{shown}, {took:.0f} s." if took is not None else f"{shown}."

    if "chain" in tables:
        out += [
            "#### ChainStudent, 20 feasible + 20 infeasible tasks, Bernoulli",
            "",
            seeds_note("chain") + " Means over seeds; the oracle is the sanity bound.",
            "",
            markdown_table(
                tables["chain"],
                {"episodes to mastery": ",.0f", "× uniform": ".2f", "infeasible share": ".2f"},
            ),
            "",
        ]
    if "scenarios" in tables:
        out += _scenarios_report(tables, seeds_note("scenarios"))
    if "profiles" in tables:
        out += [
            "#### Chain challenge profiles, teachers on their defaults: mean episodes to mastery",
            "",
            seeds_note("profiles"),
            "",
            markdown_table(tables["profiles"]),
            "",
        ]
    if "hypercube" in tables:
        columns = tables["hypercube"]["columns"]
        out += [
            "#### HypercubeUnlock: fraction of cells mastered",
            "",
            seeds_note("hypercube"),
            "",
            markdown_table(tables["hypercube"], dict.fromkeys(columns[1:], ".2f")),
            "",
        ]
    if "drifting" in tables:
        out += [
            "#### DriftingBandit: tracking a moving best arm",
            "",
            seeds_note("drifting"),
            "",
            markdown_table(
                tables["drifting"],
                {"best-arm share (all pulls)": ".2f", "lowest phase share": ".2f"},
            ),
            "",
        ]
    if results.get("verdicts"):
        caveat = (
            " (quick run: fewer seeds and shorter budgets than the targets were set for)"
            if results.get("quick")
            else ""
        )
        out += [f"Targets{caveat}:", ""] + [f"- {line}" for line in results["verdicts"]] + [""]
    return "\n".join(out)


def _scenarios_report(tables: dict[str, Any], note: str) -> list[str]:
    from autocurr.bench import markdown_table

    long = tables["scenarios"]
    column = {name: i for i, name in enumerate(long["columns"])}
    scenarios = list(dict.fromkeys(row[0] for row in long["rows"]))
    teachers = list(dict.fromkeys(row[1] for row in long["rows"]))
    cell = {
        (row[0], row[1]): f"{row[column['iqm_mastered_pct']]:.0f} "
        f"[{row[column['ci_low']]:.0f}, {row[column['ci_high']]:.0f}]"
        for row in long["rows"]
    }
    winners = {row[0]: row[1] for row in tables["scenario_winners"]["rows"]}
    wide = _table(
        ["teacher", *scenarios],
        [
            [t] + [f"**{cell[s, t]}**" if winners.get(s) == t else cell[s, t] for s in scenarios]
            for t in teachers
        ],
    )
    waste = _table(
        ["teacher", *scenarios],
        [
            [t]
            + [
                next(r[column["off_chain_share"]] for r in long["rows"] if r[:2] == [s, t])
                for s in scenarios
            ]
            for t in teachers
        ],
    )
    return [
        "#### TeachMyAgent challenge scenarios: which teacher wins",
        "",
        note + " Every teacher on its registered defaults; the student's seed is the run's "
        "seed, the teacher's the run's seed + 1000. Score: % of the 20 chain (test) tasks "
        "mastered (competence ≥ 0.9) after "
        "the scenario's budget, TeachMyAgent's metric; IQM over seeds with a 95% stratified "
        "bootstrap interval (rliable). Winner: best IQM, equal IQMs split by the area under the "
        "mastery curve; the oracle is a bound, not a contender.",
        "",
        markdown_table(tables["scenario_definitions"]),
        "",
        markdown_table(
            tables["scenario_winners"],
            {
                "iqm_mastered_pct": ".0f",
                "ci_low": ".0f",
                "ci_high": ".0f",
                "uniform_iqm": ".0f",
                "oracle_iqm": ".0f",
            },
        ),
        "",
        "IQM % of test tasks mastered [95% CI] (winner in bold):",
        "",
        markdown_table(wide),
        "",
        "Share of episodes spent on tasks that cannot improve (infeasible or trivial):",
        "",
        markdown_table(waste, dict.fromkeys(scenarios, ".2f")),
        "",
    ]


# ------------------------------------------------------------------------------------ CLI
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds 0..N-1 for every section (default: per section)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer seeds, budgets")
    parser.add_argument(
        "--sections", nargs="+", choices=list(SECTIONS), default=list(SUITE_SECTIONS)
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="write results.json, report.md and plots there",
    )
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        raise SystemExit("--seeds must be >= 1")
    command = " ".join(["python benchmarks/students.py", *(sys.argv[1:] if argv is None else argv)])
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    results = run(
        seeds=args.seeds, quick=args.quick, out_dir=args.output_dir, sections=args.sections
    )
    duration = time.perf_counter() - t0
    text = report(results)
    versions = (
        f"autocurr {autocurr.__version__}, python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    footer = [
        f"- command: `{command}`",
        f"- date: {started.isoformat(timespec='seconds')}; duration {duration:.0f} s",
        f"- versions: {versions}",
        f"- machine: {platform.platform()}, cpu_count {os.cpu_count()}",
    ]
    print(text + "\n" + "\n".join(footer))
    if args.output_dir is not None:
        from autocurr.bench import machine_description, software_versions

        record = {
            "suite": SUITE,
            "command": command,
            "date": started.isoformat(timespec="seconds"),
            "versions": software_versions(),
            "machine": machine_description(),
            "quick": args.quick,
            "seeds": args.seeds,
            "duration_s": round(duration, 1),
            "results": results,
        }
        args.output_dir.mkdir(parents=True, exist_ok=True)
        (args.output_dir / "results.json").write_text(
            json.dumps(_plain(record), indent=1) + "\n", encoding="utf-8"
        )
        (args.output_dir / "report.md").write_text(
            "# Simulated students\n\n" + text + "\n" + "\n".join(footer) + "\n", encoding="utf-8"
        )


def _plain(value: Any) -> Any:
    """JSON-able copy: numpy scalars as Python numbers, NaN as null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    main()
