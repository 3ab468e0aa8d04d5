"""The data-mixture, grpo-levels and maze-ued benchmark suites (benchmarks/*.py) under the
``autocurr bench`` interface: ``report()`` renders the target verdicts of synthetic results, the
quick runs produce results that ``report()`` and the harness accept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autocurr import bench

pytest.importorskip("rliable")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    """The suite module as the harness loads it (under its ``autocurr_bench_*`` name)."""
    return bench.discover_suites(BENCHMARKS)[name].load()


@pytest.fixture(autouse=True)
def few_bootstrap_reps(monkeypatch):
    """rliable's bootstrap with 50 instead of 2000 resamples: these tests check the rendering."""
    real = bench.iqm_with_ci
    monkeypatch.setattr(bench, "iqm_with_ci", lambda scores, **_: real(scores, reps=50))


def as_saved(results: dict) -> dict:
    """What a results.json holds after the harness wrote it (NaN/inf as null)."""
    return json.loads(json.dumps(bench._jsonable(results)))


def test_suites_are_discovered_with_their_names():
    suites = bench.discover_suites(BENCHMARKS)
    for name in ("data-mixture", "grpo-levels", "maze-ued"):
        assert name in suites and suites[name].description
        module = suites[name].load()
        assert callable(module.run) and callable(module.report)


# ------------------------------------------------------------------------------- grpo-levels


def grpo_results(module, learnability_factor: float, seeds: int = 2) -> dict:
    """Synthetic runs of the main student: uniform passes 0.3 on every level, learnability
    ``learnability_factor`` times that, the other teachers 1.1 times."""
    records = []
    for regime in module.REGIMES:
        for teacher in module.TEACHERS:
            factor = {"uniform": 1.0, "learnability": learnability_factor}.get(teacher, 1.1)
            for seed in range(seeds):
                rates = np.full(6, 0.3 * factor) * (1 + 0.1 * seed)
                records.append(
                    {
                        "regime": regime,
                        "teacher": teacher,
                        "seed": seed,
                        "pass_rates": rates.tolist(),
                        "mean_pass": float(rates.mean()),
                        "hardest_pass": float(rates[-1]),
                        "junk_share": 0.4 if teacher == "uniform" and regime == "junk" else 0.0,
                        "history": [[1000, 0.1], [2000, float(rates.mean())]],
                    }
                )
    results = {
        "quick": False,
        "steps": 781,
        "rollouts_per_run": 99_968,
        "students": {
            "sgd": {
                "config": module.STUDENTS["sgd"],
                "seeds": seeds,
                "summary": module.summarise(records),
                "runs": records,
            }
        },
    }
    return as_saved(module.aggregate(results))


def test_grpo_report_renders_the_target_verdict():
    module = load("grpo-levels")
    met = module.report(grpo_results(module, learnability_factor=2.0))
    assert "best of `sec` / `learnability` is `learnability`" in met
    assert "= 2.00x" in met and "**met**" in met and "not met" not in met
    assert "Interquartile mean" in met and "| `sgd` | junk |" in met
    missed = module.report(grpo_results(module, learnability_factor=1.0))
    # sec at 1.1x is the best of the two target teachers, below 1.2x
    assert "is `sec`" in missed and "1.10x" in missed and "**not met**" in missed


def test_grpo_tables_have_one_cell_per_column():
    module = load("grpo-levels")
    results = grpo_results(module, learnability_factor=2.0)
    for table in results["tables"].values():
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    targets = results["tables"]["targets"]["rows"]
    assert targets == [["sgd", "junk", "learnability", pytest.approx(2.0, rel=0.05), 1.2, "met"]]


def test_grpo_quick_run_through_the_suite_interface(tmp_path):
    module = load("grpo-levels")
    results = as_saved(module.run(seeds=1, quick=True, out_dir=tmp_path))
    assert results["quick"] and list(results["students"]) == ["sgd"]
    assert (tmp_path / "mean_pass_curves_quick.png").is_file()
    text = module.report(results)
    assert "Smoke check" in text and ("**met**" in text or "**not met**" in text)
    cell = results["iqm"]["sgd/junk/learnability"]
    assert cell["low"] <= cell["iqm"] <= cell["high"]


# ------------------------------------------------------------------------------- data-mixture


def mixture_results(module, doremi_reach: int, seeds: int = 3) -> dict:
    """Synthetic curves: uniform's learnable excess falls linearly from 2 to 1 over 20
    evaluations; doremi reaches 1 at evaluation ``doremi_reach``; lp never does."""
    teachers = ["uniform", "lp", "doremi"]
    steps = [25 * i for i in range(21)]
    runs = []
    for teacher in teachers:
        for seed in range(seeds):
            reach = {"uniform": 20, "doremi": doremi_reach, "lp": 10_000}[teacher]
            curve = np.maximum(1.0, 2.0 - np.arange(21) / reach) - 1e-3 * (teacher == "doremi")
            per_domain = np.stack([0.01 * np.ones(21), curve, curve, 0.02 * np.ones(21)], axis=1)
            runs.append(
                {
                    "teacher": teacher,
                    "seed": seed,
                    "eval_steps": steps,
                    "excess": per_domain.tolist(),
                    "excess_learnable": curve.tolist(),
                    "domain_counts": [10, 20, 30, 40],
                    "probabilities": [[0.25] * 4, [0.1, 0.2, 0.3, 0.4]],
                }
            )
    seed_list = list(range(seeds))
    summary = module.summarise(runs, teachers, seed_list)
    record = {
        "quick": False,
        "settings": {
            "steps": 500,
            "seeds": seed_list,
            "teachers": teachers,
            "smooth_window_evals": module.SMOOTH,
        },
        "domains": ["learned", "medium", "hard", "noise"],
        "learnable": [False, True, True, False],
        "summary": summary,
        "best_teacher": module.best_teacher(summary, teachers),
        "runs": runs,
    }
    return as_saved(module.aggregate(record))


def test_data_mixture_report_renders_the_target_verdict():
    module = load("data-mixture")
    # smoothed over 3 evaluations, uniform reaches its final value at step 500 and doremi at
    # 275 (reach 10) or 425 (reach 16)
    met = module.report(mixture_results(module, doremi_reach=10))
    assert "best `doremi` at 0.55x" in met and "**met**" in met and "not met" not in met
    assert "IQM excess [95% CI]" in met and "| `lp` (signal exp(−loss)) |" in met
    assert "never" in met  # lp never reaches uniform's final value
    missed = module.report(mixture_results(module, doremi_reach=16))
    assert "best `doremi` at 0.85x" in missed and "**not met**" in missed
    one_seed = module.report(mixture_results(module, doremi_reach=10, seeds=1))
    assert "on 1 seed(s) only" in one_seed


# ------------------------------------------------------------------------------- maze-ued


MAZES = ("open_room", "nine_rooms", "corridor")


def maze_record(method: str, seed: int, solve: float, cvar_10: float) -> dict:
    regret_based = method != "dr"
    return {
        "method": method,
        "teacher": "uniform" if method == "dr" else "plr",
        "teacher_kwargs": {} if method == "dr" else {"robust": True, "buffer_size": 1000},
        "levels": "random",
        "seed": seed,
        "total_timesteps": 1_200_128,
        "steps_per_second": 9000.0,
        "train_time_s": 120.0,
        "eval_time_s": 2.0,
        "held_out_mean": solve / len(MAZES),
        "held_out": {"open_room": solve, "nine_rooms": 0.0, "corridor": 0.0},
        "random_mean": 0.9,
        "cvar": {"0.01": 0.05, "0.1": cvar_10, "0.5": 0.8},
        "ued": {"env_steps": 1000, "steps_no_grad": 500} if regret_based else None,
        "score_correlations": (
            {"pvl": {"true_regret": -0.5, "success_rate": 0.4, "levels": 2000}}
            if regret_based
            else None
        ),
        "versions": {"autocurr": "0.1.0"},
    }


def maze_results(module, records: list[dict], methods: list[str]) -> dict:
    options = {**module.DEFAULT_OPTIONS, "methods": methods, "seeds": 2, "outdir": "unused"}
    return as_saved(
        module.build_results(
            records, options, command="test", wall_s=1.0, quick=False, reuse_source=None
        )
    )


def test_maze_ued_report_renders_the_target_verdicts():
    module = load("maze-ued")
    records = [
        *(maze_record("dr", seed, solve=0.6, cvar_10=0.5) for seed in range(2)),
        *(maze_record("plr-robust", seed, solve=0.9, cvar_10=0.5) for seed in range(2)),
        *(maze_record("accel", seed, solve=0.9, cvar_10=0.4) for seed in range(2)),
    ]
    records += [maze_record("accel-entropy", 0, solve=0.9, cvar_10=0.6)]
    records += [maze_record("accel-oracle", 0, solve=0.9, cvar_10=0.6)]
    methods = ["dr", "plr-robust", "accel", "accel-entropy", "accel-oracle"]
    text = module.report(maze_results(module, records, methods))
    variant = next(line for line in text.splitlines() if line.startswith("- `accel-entropy`"))
    assert "1.50× DR" in variant and "**met**" in variant
    assert "- `accel-oracle`" not in text  # a diagnostic, not a teacher setting
    plr = next(line for line in text.splitlines() if line.startswith("- `plr-robust`"))
    accel = next(line for line in text.splitlines() if line.startswith("- `accel`"))
    assert "1.50× DR" in plr and "**met**" in plr
    # 1.5x on maze-test but a worse CVaR-10%
    assert "1.50× DR" in accel and "**not met**" in accel
    assert "| `pvl` | 6 | -0.50 (-0.50 to -0.50) | +0.40 |" in text  # 4 runs + 2 variants
    assert "2 of the 3 held-out mazes are solved by no run" in text


def test_maze_ued_report_when_dr_solves_nothing():
    module = load("maze-ued")
    records = [
        maze_record("dr", 0, solve=0.0, cvar_10=0.2),
        maze_record("plr-robust", 0, solve=0.3, cvar_10=0.2),
    ]
    text = module.report(maze_results(module, records, ["dr", "plr-robust"]))
    plr = next(line for line in text.splitlines() if line.startswith("- `plr-robust`"))
    assert "= –× DR (0.000)" in plr and "**met**" in plr
    assert "ACCEL" in text and "- `accel`" not in text  # no row, no verdict


def test_maze_ued_reuses_matching_published_records(tmp_path):
    module = load("maze-ued")
    published = tmp_path / "results.json"
    records = [maze_record("dr", 0, 0.6, 0.5), {**maze_record("sfl", 0, 0.6, 0.5)}]
    records[1]["total_timesteps"] = 1_215_208  # SFL's scoring batches overshoot the budget
    published.write_text(json.dumps(records))
    options = {**module.DEFAULT_OPTIONS, "methods": ["dr", "sfl"], "seeds": 1}
    options["outdir"] = str(tmp_path / "out")
    reused, _ = module.execute(options, published)
    assert sorted(r["method"] for r in reused) == ["dr", "sfl"]
    assert all(r["reused"] == "published" for r in reused)
    # another budget or evaluation protocol: nothing is reused
    assert module.reusable_records(published, {**options, "timesteps": 5_000_000}) == {}
    assert module.reusable_records(published, {**options, "eval_episodes": 2}) == {}
    assert module.reusable_records(published, {**options, "env_kwargs": {"heading": True}}) == {}


def test_maze_ued_report_names_the_env_settings():
    module = load("maze-ued")
    records = [maze_record("dr", 0, 0.6, 0.5), maze_record("plr-robust", 0, 0.9, 0.5)]
    results = maze_results(module, records, ["dr", "plr-robust"])
    assert "MazeEnv(" not in module.report(results)
    results["settings"]["env_kwargs"] = {"heading": True}
    assert "agent `sb3-ppo` on `MazeEnv(heading=True)`, 2 seed(s)" in module.report(results)


def test_maze_ued_cli_hands_env_kwargs_to_the_runs(tmp_path, monkeypatch):
    module = load("maze-ued")
    seen = {}

    class Stop(Exception):
        pass

    def fake_run(**kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(module, "run", fake_run)
    with pytest.raises(Stop):
        module.main(["--outdir", str(tmp_path), "--env-kwargs", "heading=true", "view_size=17"])
    assert seen["env_kwargs"] == {"heading": True, "view_size": 17}


# ------------------------------------------------------------------------------- quick runs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["data-mixture", "maze-ued"])
def test_quick_run_through_the_harness(name, tmp_path):
    """The harness's own loading (a module name that spawned workers cannot import) and the
    suite's quick run; report() renders the saved results."""
    suite = bench.discover_suites(BENCHMARKS)[name]
    path = bench.run_suite(suite, quick=True, results_dir=tmp_path)
    record = json.loads(path.read_text())
    assert record["quick"] and record["results"]["quick"]
    text = suite.load().report(record["results"])
    assert "Smoke check" in text and ("**met**" in text or "**not met**" in text)
    assert list(path.parent.glob("*.csv"))


@pytest.mark.parametrize(
    ("method", "walled_levels"),
    [("accel-entropy-solvable", False), ("accel-random-entropy-solvable", True)],
)
def test_maze_ued_accel_fresh_levels_come_from_the_method_generator(
    method, walled_levels, tmp_path, monkeypatch
):
    """dcd's ACCEL starts from empty rooms; the JaxUED variant draws random walled levels. Both
    redraw unsolvable edits."""
    from autocurr.agents import tasks, train
    from autocurr.envs.maze import MazeLevel, is_solvable

    module = load("maze-ued")
    seen = {}

    def fake_train(config):
        seen["config"] = config
        return {}

    monkeypatch.setattr(train, "train", fake_train)
    options = {**module.DEFAULT_OPTIONS, "env_kwargs": {"heading": True}}
    record = module._train_ours(method, 0, options, tmp_path / "run")
    config = seen["config"]
    assert config.teacher == "accel" and config.teacher_kwargs["score"] == "entropy"
    assert record["levels"] == config.level_start() + ' {"solvable_mutations": true}'
    preset = tasks.level_preset(
        tasks.maze_preset(), config.env_kwargs, config.level_start(), config.level_kwargs
    )
    rng = np.random.default_rng(0)
    fresh = [MazeLevel.decode(preset.space.sample(rng)) for _ in range(50)]
    assert any(level.n_walls > 0 for level in fresh) == walled_levels
    # chains of 10 edits: without the redraw, this seed walls the goal off in 1 (empty rooms)
    # and 28 (random levels) of the 500 children
    children = []
    for level in fresh:
        child = level.encode()
        for _ in range(10):
            child = preset.space.mutate(rng, child)
            children.append(MazeLevel.decode(child))
    assert all(is_solvable(child) for child in children)
