"""Maze UED benchmark: domain randomisation vs regret-based teachers at an equal step budget.

Every run is ``autocurr train --teacher T --levels ... --timesteps N --seed S`` on
``autocurr/Maze-v0`` (9 x 9, Uniform{0..20} walls, 100-step episodes, SB3 PPO with the
trainer's defaults, 8 envs) through :func:`autocurr.agents.train.train`. The budget ``N`` counts
every environment step: PLR⊥'s and ACCEL's no-gradient rollouts on fresh and edited levels and
SFL's scoring rollouts included (``UEDPPO`` adds them to ``num_timesteps``).

Methods (teacher settings beyond the library defaults are listed in the report):

- ``dr``: ``uniform`` over generated levels, a fresh level every episode (domain randomisation).
- ``plr``: PLR with positive value loss, gradients on fresh levels too.
- ``plr-robust``: PLR⊥ (``robust=True``): fresh levels are only scored.
- ``accel``: PLR⊥ plus 5 random edits of replayed levels, starting from empty rooms.
- ``sfl``: Sampling For Learnability with the reference's small-maze settings.
- ``paired``: PAIRED, an SB3 PPO adversary builds each level; protagonist and antagonist
  students (the antagonist's env steps count in the budget).
- ``repaired``: REPAIRED, PLR⊥ whose fresh levels come from the PAIRED adversary.
- ``plr-robust-entropy``, ``accel-entropy``, ``plr-entropy``: the policy-entropy score instead
  of positive value loss (it tracks true regret on this maze; see BENCHMARKS.md).

Peer (``PEER_METHODS``, ``benchmarks/peers/``):

- ``syllabus-plr``: Syllabus's own PLR (``CentralPrioritizedLevelReplay``, its defaults: L1
  value loss, rank temperature 0.1, staleness 0.1) on a fixed pool of 4,000 generated levels,
  driving the same SB3 PPO student through Syllabus's sync wrappers; needs the ``bench`` extra.

Variants outside the default set, for ``--methods`` (the one-seed pilots in BENCHMARKS.md):
``plr-robust-t1`` (rank temperature 1), ``-maxmc``, ``-l1vl`` score variants, and
``plr-robust-oracle`` / ``accel-oracle`` (``--oracle-score``: the true BFS regret as the score);
``accel-random-entropy-solvable``: ACCEL whose fresh levels come from the random generator, as
JaxUED's ``examples/maze_plr.py`` runs it (``use_accel`` draws new levels from the same
``sample_random_level`` as PLR), instead of dcd's empty rooms.

Evaluation after training (``autocurr eval``'s code paths):

- ``maze-test``: the 10 hand-drawn held-out mazes, ``--eval-episodes`` sampled-action episodes
  each; the headline metric is their mean solve rate.
- ``maze-random-1000``: 1,000 fixed random solvable levels, ``--cvar-episodes`` episodes per
  level under evaluation seeds 0 and 1; mean solve rate and the de-biased CVaR (rank by seed 0,
  measure under seed 1) of the worst 1%, 10% and 50%.
- Score diagnostics (regret-based methods): Spearman correlation of every PLR score with the
  true regret (BFS optimal return minus the achieved mean return) and with the success rate,
  over the last 2,000 level-rollouts of each run.

Usage::

    python benchmarks/maze_ued.py [--timesteps 1200000] [--seeds 3] [--jobs 2]
        [--methods dr plr-robust accel plr sfl] [--outdir maze_ued_runs]

Outputs under ``--outdir``: ``runs/<method>-s<seed>/`` (train outputs plus ``benchmark.json``),
``report.md`` and ``results.json``. A run whose ``benchmark.json`` exists is reused.
``--reuse-records docs/benchmarks/maze_ued/results.json`` also reuses the records of an earlier
full run (same method, seed and budget) instead of training again; ``--quick`` is the smoke check
below.

As a suite of ``autocurr bench`` (``SUITE``, :func:`run`, :func:`report`): the full run
(``autocurr bench maze-ued``) reuses the published records of
``docs/benchmarks/maze_ued/results.json`` for every (method, seed) they hold at the same budget
(they took 36 min on 2 cores) and trains the rest; the results say how many runs were reused.
``--quick`` (``autocurr bench maze-ued --quick``) is a smoke check of the pipeline, not a
measurement: ``dr``, ``plr-robust`` and ``accel``, one seed, 32,768 steps, level buffers of 16
levels (so that replay starts), 2 episodes per held-out maze and a fixed set of 50 random levels
(under a minute on 2 cores). The results add the interquartile mean (rliable, stratified
bootstrap 95% CI) of the maze-test solve rates over runs x test mazes and the share of test mazes
mastered (TeachMyAgent's metric).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: method -> (teacher, teacher kwargs, --levels). Buffer 1000: the reference's advice for 9 x 9
#: mazes (teachers-regret-ued.md §19: K = 500-1000); everything else is the teacher's default.
METHODS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "dr": ("uniform", {}, "random"),
    "plr": ("plr", {"buffer_size": 1000}, None),
    "plr-robust": ("plr", {"robust": True, "buffer_size": 1000}, None),
    "plr-robust-l1vl": ("plr", {"robust": True, "buffer_size": 1000, "score": "l1vl"}, None),
    "accel": ("accel", {"buffer_size": 1000}, None),
    "accel-l1vl": ("accel", {"buffer_size": 1000, "score": "l1vl"}, None),
    "plr-robust-maxmc": ("plr", {"robust": True, "buffer_size": 1000, "score": "maxmc"}, None),
    "plr-robust-t1": ("plr", {"robust": True, "buffer_size": 1000, "temperature": 1.0}, None),
    "plr-robust-entropy": ("plr", {"robust": True, "buffer_size": 1000, "score": "entropy"}, None),
    "accel-maxmc": ("accel", {"buffer_size": 1000, "score": "maxmc"}, None),
    "accel-entropy": ("accel", {"buffer_size": 1000, "score": "entropy"}, None),
    "accel-solvable": ("accel", {"buffer_size": 1000}, None),
    "accel-entropy-solvable": ("accel", {"buffer_size": 1000, "score": "entropy"}, None),
    "accel-random-entropy-solvable": (
        "accel",
        {"buffer_size": 1000, "score": "entropy"},
        "random",
    ),
    "plr-entropy": ("plr", {"buffer_size": 1000, "score": "entropy"}, None),
    "plr-robust-oracle": ("plr", {"robust": True, "buffer_size": 1000}, None),
    "accel-oracle": ("accel", {"buffer_size": 1000}, None),
    "sfl": ("sfl", {}, None),
    "paired": ("paired", {}, None),
    "repaired": ("repaired", {"buffer_size": 1000}, None),
}
#: Level-space settings beyond the maze's defaults (``maze_levels``): ACCEL's edits may wall the
#: goal off, as in dcd and JaxUED; an entropy score ranks such children highest, so these
#: variants redraw unsolvable children (dcd's ``reject_unsolvable_seeds`` for mazes).
LEVEL_KWARGS: dict[str, dict[str, Any]] = {
    "accel-solvable": {"solvable_mutations": True},
    "accel-entropy-solvable": {"solvable_mutations": True},
    "accel-random-entropy-solvable": {"solvable_mutations": True},
}
#: Peers' own curricula on the same SB3 student and budget (``benchmarks/peers/``; the
#: ``bench`` extra installs them): Syllabus's PLR over a fixed pool of 4,000 generated levels.
PEER_METHODS: dict[str, tuple[str, dict[str, Any], str]] = {
    "syllabus-plr": ("syllabus-plr", {"pool_size": 4000}, "pool-4000"),
}
#: What one command runs (under an hour on 2 cores at the default budget): each method with the
#: literature's score (PVL) and, for PLR and ACCEL, with the policy-entropy score too.
DEFAULT_METHODS = (
    "dr",
    "plr-robust",
    "plr-robust-entropy",
    "accel",
    "accel-entropy",
    "plr",
    "plr-entropy",
    "sfl",
    "paired",
    "repaired",
    "syllabus-plr",
)
TARGET_RATIO = 1.3
TARGET_METHODS = ("plr-robust", "accel")
#: A held-out maze counts as mastered (TeachMyAgent's "% of test tasks mastered") at this solve
#: rate.
MASTERED_SOLVE_RATE = 0.8
#: The records of the published full run (docs/benchmarks/maze_ued/report.md).
PUBLISHED_RECORDS = (
    Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "maze_ued" / "results.json"
)
DEFAULT_OPTIONS: dict[str, Any] = {
    "timesteps": 1_200_000,
    "seeds": 3,
    "methods": list(DEFAULT_METHODS),
    "jobs": 2,
    "n_envs": None,
    "agent": "sb3-ppo",
    "eval_episodes": 20,
    "cvar_episodes": 5,
    "cvar_levels": 1000,
    "checkpoint_every": None,
    #: Overrides the level buffer of the methods that set one (None: the method's own).
    "buffer_size": None,
    #: ``MazeEnv`` settings for training and both evaluations (e.g. ``{"heading": True}``).
    "env_kwargs": {},
}
#: The smoke check of ``--quick``: the whole pipeline (both kinds of teacher, training, the
#: held-out and the CVaR evaluation) in about a minute; its numbers measure nothing.
QUICK_OPTIONS: dict[str, Any] = {
    **DEFAULT_OPTIONS,
    "timesteps": 32_768,
    "seeds": 1,
    "methods": ["dr", "plr-robust", "accel"],
    "eval_episodes": 2,
    "cvar_episodes": 2,
    "cvar_levels": 50,
    "checkpoint_every": 0,
    # replay starts at half the buffer's capacity: 500 fresh levels with 1000 (about 500k
    # steps), 8 with 16, so the quick run reaches PLR's and ACCEL's gradient updates
    "buffer_size": 16,
}

SUITE = "maze-ued"
DESCRIPTION = (
    "Regret-based UED on the maze (SB3 PPO, 1.2M steps): DR vs PLR, PLR⊥, ACCEL, SFL, PAIRED, "
    "REPAIRED on held-out mazes and the CVaR tail (36 min full; reuses the published records)"
)


# ------------------------------------------------------------------------------------ one run


def run_one(method: str, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """Train (or reuse) one run and evaluate it; returns its benchmark record."""
    run_dir = Path(options["outdir"]) / "runs" / f"{method}-s{seed}"
    record_path = run_dir / "benchmark.json"
    if record_path.is_file():
        return {**json.loads(record_path.read_text()), "reused": "run_dir"}
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RuntimeError(f"{run_dir} holds an unfinished run; delete it to rerun")
    if method in PEER_METHODS:
        summary = _train_peer(method, seed, options, run_dir)
    else:
        summary = _train_ours(method, seed, options, run_dir)
    record = evaluate_run(method, seed, run_dir, summary, options)
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _method_settings(method: str, options: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
    teacher, teacher_kwargs, levels = {**METHODS, **PEER_METHODS}[method]
    if options.get("buffer_size") and "buffer_size" in teacher_kwargs:
        teacher_kwargs = {**teacher_kwargs, "buffer_size": options["buffer_size"]}
    return teacher, teacher_kwargs, levels


def _train_ours(method: str, seed: int, options: dict[str, Any], run_dir: Path) -> dict:
    from autocurr.agents.train import TrainConfig, train

    teacher, teacher_kwargs, levels = _method_settings(method, options)
    config = TrainConfig(
        teacher=teacher,
        teacher_kwargs=teacher_kwargs,
        env_kwargs=dict(options["env_kwargs"]),
        levels=levels,
        level_kwargs=LEVEL_KWARGS.get(method, {}),
        oracle_score=method.endswith("-oracle"),
        timesteps=options["timesteps"],
        n_envs=options["n_envs"] or (256 if options["agent"] == "ppo-batched" else 8),
        agent=options["agent"],
        seed=seed,
        device="cpu",
        logdir=str(run_dir.parent),
        run_name=run_dir.name,
        eval_episodes=options["eval_episodes"],
        progress=False,
        checkpoint_every=options.get("checkpoint_every"),
    )
    start = config.level_start()
    if config.level_kwargs:
        start += " " + json.dumps(config.level_kwargs)
    return {**train(config), "levels": start}


def _train_peer(method: str, seed: int, options: dict[str, Any], run_dir: Path) -> dict:
    """A peer library's curriculum on the same SB3 student (``benchmarks/peers/``)."""
    if options["agent"] != "sb3-ppo" or options["env_kwargs"]:
        raise ValueError(f"{method} runs with the default SB3 student only (no --env-kwargs)")
    benchmarks_dir = str(Path(__file__).resolve().parent)
    if benchmarks_dir not in sys.path:  # `autocurr bench` imports this suite by its path
        sys.path.insert(0, benchmarks_dir)
    from peers.syllabus_maze import train_syllabus_plr

    summary = train_syllabus_plr(
        seed,
        options["timesteps"],
        run_dir,
        n_envs=options["n_envs"] or 8,
        eval_episodes=options["eval_episodes"],
    )
    return {**summary, "levels": PEER_METHODS[method][2]}


def evaluate_run(
    method: str, seed: int, run_dir: Path, summary: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    """The benchmark record of a trained run: its training summary plus the CVaR protocol on
    the saved student (``model.zip`` or ``model.pt`` in ``run_dir``)."""
    import torch

    from autocurr.agents.evaluation import cvar_solve_rates
    from autocurr.envs.maze import MazeEnv

    teacher, teacher_kwargs, _ = _method_settings(method, options)
    started = time.perf_counter()
    torch.set_num_threads(1)
    env_kwargs = options.get("env_kwargs", {})
    cvar = cvar_solve_rates(
        _load_policy(run_dir, options["agent"]),
        _random_levels(options.get("cvar_levels", 1000)),
        episodes_per_level=options["cvar_episodes"],
        seeds=(0, 1),
        make_env=lambda: MazeEnv(**env_kwargs),
    )
    held_out = summary["held_out"]
    return {
        "method": method,
        "teacher": teacher,
        "teacher_kwargs": teacher_kwargs,
        "levels": summary["levels"],
        "env_kwargs": env_kwargs,
        "seed": seed,
        "run_dir": str(run_dir),
        "total_timesteps": summary["total_timesteps"],
        "steps_per_second": summary["steps_per_second"],
        "train_time_s": summary["train_time_s"],
        "eval_time_s": time.perf_counter() - started,
        "held_out_mean": held_out["mean"]["solve_rate"],
        "held_out": {case["name"]: case["solve_rate"] for case in held_out["cases"]},
        "random_levels": cvar["n_levels"],
        "random_mean": cvar["mean"]["seed_1"]["solve_rate"],
        "cvar": {f"{row['fraction']:g}": row["solve_rate"] for row in cvar["cvar"]},
        "ued": summary.get("ued"),
        "score_correlations": summary.get("score_correlations"),
        "teacher_hyperparameters": summary["teacher"]["hyperparameters"],
        "versions": summary["versions"],
    }


def _env_kwargs_note(env_kwargs: dict[str, Any] | None) -> str:
    if not env_kwargs:
        return ""
    return " on `MazeEnv(" + ", ".join(f"{k}={v!r}" for k, v in env_kwargs.items()) + ")`"


def _random_levels(n: int) -> list[Any]:
    """maze-random-1000, or ``n`` fixed random levels from the same generator (quick check)."""
    from autocurr.agents.evaluation import random_level_suite
    from autocurr.envs.maze import random_test_levels

    return random_level_suite("maze-random-1000") if n == 1000 else random_test_levels(n=n)


def _load_policy(run_dir: Path, agent: str):
    """The trained student as something ``cvar_solve_rates`` can play (``predict`` or a
    per-seed factory of ``act`` functions)."""
    if agent == "sb3-ppo":
        from stable_baselines3 import PPO

        return PPO.load(run_dir / "model.zip", device="cpu")
    import torch

    from autocurr.agents.ppo_batched import ActorCritic, policy_act

    state = torch.load(run_dir / "model.pt", map_location="cpu")
    obs_size = state["policy.0.weight"].shape[1]
    model = ActorCritic(obs_size, 4, state["policy.0.weight"].shape[0])
    model.load_state_dict(state)

    def for_seed(seed: int):
        torch.manual_seed(seed)  # this benchmark worker owns its torch RNG
        return policy_act(model)

    return for_seed


# ------------------------------------------------------------------------------------ results


def _by_method(records: list[dict[str, Any]], methods: list[str]) -> dict[str, list[dict]]:
    return {
        m: sorted((r for r in records if r["method"] == m), key=lambda r: r["seed"])
        for m in methods
        if any(r["method"] == m for r in records)
    }


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def _no_grad_share(run: dict[str, Any]) -> float:
    ued = run.get("ued")
    return ued["steps_no_grad"] / ued["env_steps"] if ued else 0.0


METHOD_COLUMNS = [
    "method",
    "teacher",
    "teacher_kwargs",
    "levels",
    "seeds",
    "maze_test_mean",
    "maze_test_sd",
    "maze_test_per_seed",
    "ratio_to_dr",
    "maze_test_iqm",
    "iqm_ci_low",
    "iqm_ci_high",
    "mazes_mastered_share",
    "random_mean",
    "random_sd",
    "cvar_50",
    "cvar_50_sd",
    "cvar_10",
    "cvar_10_sd",
    "cvar_1",
    "cvar_1_sd",
    "steps_without_gradient",
    "steps_per_second",
]


def method_rows(groups: dict[str, list[dict[str, Any]]], iqm: dict[str, dict]) -> list[list]:
    from autocurr.bench import share_mastered

    dr_mean = np.mean([r["held_out_mean"] for r in groups["dr"]]) if "dr" in groups else None
    rows = []
    for method, runs in groups.items():
        held = [r["held_out_mean"] for r in runs]
        mazes = np.array([list(r["held_out"].values()) for r in runs], dtype=np.float64)
        rows.append(
            [
                method,
                runs[0]["teacher"],
                json.dumps(runs[0]["teacher_kwargs"]),
                runs[0]["levels"],
                len(runs),
                *_mean_sd(held),
                ", ".join(f"{v:.2f}" for v in held),
                float(np.mean(held) / dr_mean) if dr_mean else None,
                iqm[method]["iqm"],
                iqm[method]["low"],
                iqm[method]["high"],
                float(share_mastered(mazes, MASTERED_SOLVE_RATE).mean()),
                *_mean_sd([r["random_mean"] for r in runs]),
                *_mean_sd([r["cvar"]["0.5"] for r in runs]),
                *_mean_sd([r["cvar"]["0.1"] for r in runs]),
                *_mean_sd([r["cvar"]["0.01"] for r in runs]),
                float(np.mean([_no_grad_share(r) for r in runs])),
                float(np.mean([r["steps_per_second"] for r in runs])),
            ]
        )
    return rows


def _is_target_method(method: str) -> bool:
    """PLR⊥ and ACCEL under any of their settings (another score, solvable edits); the oracle
    rows are diagnostics, not teachers."""
    return not method.endswith("-oracle") and any(
        method == name or method.startswith(name + "-") for name in TARGET_METHODS
    )


def target_records(groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """PLR⊥ and ACCEL against DR: maze-test >= 1.3x DR's and CVaR-10% no worse."""
    if "dr" not in groups:
        return []
    dr_held = float(np.mean([r["held_out_mean"] for r in groups["dr"]]))
    dr_cvar = float(np.mean([r["cvar"]["0.1"] for r in groups["dr"]]))
    targets = []
    for method in groups:
        if not _is_target_method(method):
            continue
        held = float(np.mean([r["held_out_mean"] for r in groups[method]]))
        cvar = float(np.mean([r["cvar"]["0.1"] for r in groups[method]]))
        targets.append(
            {
                "method": method,
                "maze_test": held,
                "dr_maze_test": dr_held,
                "ratio_to_dr": held / dr_held if dr_held else None,  # None: DR solves nothing
                "target_ratio": TARGET_RATIO,
                "cvar_10": cvar,
                "dr_cvar_10": dr_cvar,
                "met": bool(held >= TARGET_RATIO * dr_held and cvar >= dr_cvar),
            }
        )
    return targets


def correlation_rows(groups: dict[str, list[dict[str, Any]]]) -> list[list]:
    """Per score, over every run that logged it: Spearman correlation with the true regret
    (mean, min, max over runs) and with the success rate (mean)."""
    values: dict[str, dict[str, list[float]]] = {}
    for runs in groups.values():
        for run in runs:
            for score, cell in (run.get("score_correlations") or {}).items():
                if cell["true_regret"] == cell["true_regret"]:  # skip NaN
                    entry = values.setdefault(score, {"regret": [], "success": []})
                    entry["regret"].append(cell["true_regret"])
                    if cell["success_rate"] == cell["success_rate"]:
                        entry["success"].append(cell["success_rate"])
    return [
        [
            score,
            len(entry["regret"]),
            float(np.mean(entry["regret"])),
            float(np.min(entry["regret"])),
            float(np.max(entry["regret"])),
            float(np.mean(entry["success"])) if entry["success"] else None,
        ]
        for score, entry in values.items()
    ]


def build_results(
    records: list[dict[str, Any]],
    options: dict[str, Any],
    *,
    command: str,
    wall_s: float,
    quick: bool,
    reuse_source: str | None,
) -> dict[str, Any]:
    """The suite's results: settings, every record, the target verdicts, the IQM of the
    maze-test solve rates (runs x mazes) and the tables."""
    from autocurr.bench import iqm_with_ci, machine_description

    groups = _by_method(records, options["methods"])
    mazes = list(next(iter(groups.values()))[0]["held_out"])
    scores = {
        method: np.array([[run["held_out"][m] for m in mazes] for run in runs])
        for method, runs in groups.items()
    }
    iqm = iqm_with_ci(scores)  # method -> {"iqm", "low", "high"}
    targets = target_records(groups)
    per = list(groups.values())
    reused = [r.get("reused") for r in records]
    settings = {k: v for k, v in options.items() if k != "outdir"}
    settings["method_settings"] = {
        m: {
            "teacher": runs[0]["teacher"],
            "teacher_kwargs": runs[0]["teacher_kwargs"],
            "levels": runs[0]["levels"],
        }
        for m, runs in groups.items()
    }
    settings["mastered_solve_rate"] = MASTERED_SOLVE_RATE
    return {
        "command": command,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": quick,
        "versions": records[0]["versions"],
        "machine": machine_description(),
        "wall_s": wall_s,
        "settings": settings,
        "runs": {
            "total": len(records),
            "trained": reused.count(None),
            "reused_run_dirs": reused.count("run_dir"),
            "reused_published": reused.count("published"),
            "published_source": reuse_source,
            "train_time_s_total": float(sum(r["train_time_s"] for r in records)),
            "eval_time_s_total": float(sum(r["eval_time_s"] for r in records)),
        },
        "mazes": mazes,
        "iqm": iqm,
        "targets": targets,
        "tables": {
            "methods": {"columns": METHOD_COLUMNS, "rows": method_rows(groups, iqm)},
            "per_maze": {
                "columns": ["maze", *groups],
                "rows": [
                    [maze, *(float(np.mean([r["held_out"][maze] for r in runs])) for runs in per)]
                    for maze in mazes
                ],
            },
            "targets": {
                "columns": [
                    "method",
                    "maze_test",
                    "dr_maze_test",
                    "ratio_to_dr",
                    "target_ratio",
                    "cvar_10",
                    "dr_cvar_10",
                    "met",
                ],
                "rows": [
                    [*(t[k] for k in list(t)[:-1]), "met" if t["met"] else "not met"]
                    for t in targets
                ],
            },
            "score_correlations": {
                "columns": [
                    "score",
                    "runs",
                    "vs_regret_mean",
                    "vs_regret_min",
                    "vs_regret_max",
                    "vs_success_mean",
                ],
                "rows": correlation_rows(groups),
            },
        },
        "records": [{k: v for k, v in r.items() if k != "reused"} for r in records],
    }


# ------------------------------------------------------------------------------------ report


def _rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def _pm(row: dict[str, Any], key: str, sd_key: str | None = None) -> str:
    return f"{row[key]:.3f} ± {row[sd_key or key + '_sd']:.3f}"


def target_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for t in results["targets"]:
        ratio = "–" if t["ratio_to_dr"] is None else f"{t['ratio_to_dr']:.2f}"
        lines.append(
            f"- `{t['method']}`: maze-test {t['maze_test']:.3f} = {ratio}× DR "
            f"({t['dr_maze_test']:.3f}), target ≥ {t['target_ratio']}×; CVaR-10% "
            f"{t['cvar_10']:.3f} vs DR {t['dr_cvar_10']:.3f} (no worse required): "
            f"**{'met' if t['met'] else 'not met'}**"
        )
    return lines


def report(results: dict[str, Any]) -> str:
    """Markdown for BENCHMARKS.md from ``results`` alone."""
    settings, runs = results["settings"], results["runs"]
    lines = []
    if results.get("quick"):
        lines += [
            "*Smoke check (`--quick`): "
            + ", ".join(f"`{m}`" for m in settings["methods"])
            + f", {settings['seeds']} seed(s), {settings['timesteps']:,} steps per run, "
            f"{settings['eval_episodes']} episodes per held-out maze, {settings['cvar_levels']} "
            "random levels"
            + (
                f", level buffers of {settings['buffer_size']} levels"
                if settings.get("buffer_size")
                else ""
            )
            + ". It checks that the pipeline runs; its numbers measure nothing.*",
            "",
        ]
    lines.append(
        f"Budget {settings['timesteps']:,} environment steps per run (scoring, editing and "
        f"antagonist rollouts included), agent `{settings['agent']}`"
        + _env_kwargs_note(settings.get("env_kwargs"))
        + f", {settings['seeds']} seed(s) per method. maze-test: the {len(results['mazes'])} "
        "hand-drawn held-out mazes, "
        f"{settings['eval_episodes']} sampled-action episodes each; IQM: interquartile mean "
        "(rliable, stratified bootstrap 95% CI) of the solve rates over runs x mazes; mastered: "
        f"share of the mazes solved at >= {settings['mastered_solve_rate']:g}. random: "
        f"{settings['cvar_levels']} fixed random solvable levels, de-biased CVaR (rank under "
        f"seed 0, measure under seed 1, {settings['cvar_episodes']} episodes per level and seed)."
    )
    if runs["reused_published"] or runs["reused_run_dirs"]:
        lines += [
            "",
            f"{runs['reused_published'] + runs['reused_run_dirs']} of {runs['total']} runs were "
            "reused from earlier records"
            + (f" (`{runs['published_source']}`)" if runs["reused_published"] else "")
            + f", not trained in this invocation; the runs' own training took "
            f"{runs['train_time_s_total']:,.0f} s in total (sum over runs).",
        ]
    lines += [
        "",
        "| method | seeds | maze-test solve rate | per seed | × DR | IQM [95% CI] | mastered | "
        "random mean | CVaR 50% | CVaR 10% | CVaR 1% | steps without gradient | steps/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in _rows(results["tables"]["methods"]):
        ratio = "–" if row["ratio_to_dr"] is None else f"{row['ratio_to_dr']:.2f}"
        lines.append(
            f"| {row['method']} | {row['seeds']} | {_pm(row, 'maze_test_mean', 'maze_test_sd')} "
            f"| {row['maze_test_per_seed']} | {ratio} | {row['maze_test_iqm']:.3f} "
            f"[{row['iqm_ci_low']:.3f}, {row['iqm_ci_high']:.3f}] | "
            f"{row['mazes_mastered_share']:.2f} | {_pm(row, 'random_mean', 'random_sd')} | "
            f"{_pm(row, 'cvar_50')} | {_pm(row, 'cvar_10')} | {_pm(row, 'cvar_1')} | "
            f"{row['steps_without_gradient']:.2f} | {row['steps_per_second']:,.0f} |"
        )
    lines += [
        "",
        f"Target: PLR⊥ (`plr-robust`) and ACCEL each ≥ {TARGET_RATIO}× DR's maze-test solve rate "
        "with a CVaR-10% no worse than DR's.",
        "",
        *(target_lines(results) or ["- not evaluated: the run has no `dr` row"]),
    ]
    per_maze = results["tables"]["per_maze"]
    methods = per_maze["columns"][1:]
    unsolved = [row[0] for row in per_maze["rows"] if not any(row[1:])]
    if unsolved:
        lines += [
            "",
            f"{len(unsolved)} of the {len(per_maze['rows'])} held-out mazes are solved by no run "
            f"of any method ({', '.join(unsolved)}), so an interquartile mean over runs x mazes "
            "that trims a quarter at each end mostly averages zeros.",
        ]
    lines += [
        "",
        "Per held-out maze (mean solve rate over seeds):",
        "",
        "| maze | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
        *(
            f"| {row[0]} | " + " | ".join(f"{v:.2f}" for v in row[1:]) + " |"
            for row in per_maze["rows"]
        ),
    ]
    correlations = results["tables"]["score_correlations"]["rows"]
    if correlations:
        lines += [
            "",
            "Spearman correlation of each PLR score with the true regret (BFS optimum minus the "
            "achieved return) and with the success rate, over the last level-rollouts of every "
            "regret-based run:",
            "",
            "| score | runs | vs true regret, mean (range over runs) | vs success rate |",
            "|---|---|---|---|",
        ]
        for score, count, mean, low, high, success in correlations:
            success_cell = "–" if success is None else f"{success:+.2f}"
            lines.append(
                f"| `{score}` | {count} | {mean:+.2f} ({low:+.2f} to {high:+.2f}) "
                f"| {success_cell} |"
            )
    return "\n".join(lines) + "\n"


def correlation_table(records: list[dict[str, Any]], methods: list[str]) -> list[str]:
    """Mean over runs of each score's Spearman correlation with true regret / success rate,
    one column pair per method (the standalone report.md)."""
    groups = _by_method(records, methods)
    rows: dict[str, dict[str, list[float]]] = {}
    for method, runs in groups.items():
        for run in runs:
            for score, values in (run.get("score_correlations") or {}).items():
                cell = rows.setdefault(score, {})
                for key in ("true_regret", "success_rate"):
                    if values[key] == values[key]:  # skip NaN
                        cell.setdefault(f"{method}:{key}", []).append(values[key])
    if not rows:
        return []
    methods = [m for m in groups if any(f"{m}:true_regret" in c for c in rows.values())]
    header = " | ".join(f"{m} vs regret | {m} vs success" for m in methods)
    lines = [f"| score | {header} |", "|---|" + "---|---|" * len(methods)]
    for score, cell in rows.items():
        values = []
        for m in methods:
            for key in ("true_regret", "success_rate"):
                v = cell.get(f"{m}:{key}")
                values.append(f"{np.mean(v):+.2f}" if v else "-")
        lines.append(f"| {score} | " + " | ".join(values) + " |")
    return lines


def _machine(machine: Any) -> str:
    if isinstance(machine, dict):  # autocurr.bench.machine_description()
        return f"{machine.get('platform')}, {machine.get('cpu')}, {machine.get('cpu_count')} cores"
    return str(machine)


def write_report(results: dict[str, Any], path: Path) -> Path:
    """The standalone report.md: header, settings per method, :func:`report`, and the score
    correlations per method."""
    runs, settings = results["runs"], results["settings"]
    method_lines = [
        f"- `{m}`: teacher `{v['teacher']}` {json.dumps(v['teacher_kwargs'])}, levels "
        f"`{v['levels']}`"
        for m, v in settings["method_settings"].items()
    ]
    correlations = correlation_table(results["records"], settings["methods"])
    lines = [
        "# Maze UED benchmark",
        "",
        f"Command: `{results['command']}`",
        f"Date: {results['date']}",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if k != "platform"),
        f"Machine: {_machine(results['machine'])}; {settings['jobs']} runs in parallel; wall time "
        f"{results['wall_s']:.0f} s ({runs['trained']} runs trained now, "
        f"{runs['total'] - runs['trained']} reused).",
        "",
        *method_lines,
        "",
        report(results),
    ]
    if correlations:  # the batched student does not log them
        lines += [
            "Spearman correlation of each score with true regret and with the success rate, "
            "per method (mean over seeds):",
            "",
            *correlations,
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------------------------ running


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """The run records of a results.json (this script's results, or the plain list of records
    that earlier versions wrote)."""
    data = json.loads(Path(path).read_text())
    return data["records"] if isinstance(data, dict) else data


def reusable_records(path: str | Path, options: dict[str, Any]) -> dict[tuple[str, int], dict]:
    """Records of an earlier run that match these options, keyed by (method, seed).

    A record carries its budget as ``total_timesteps``, which overshoots the requested budget
    by up to one rollout or scoring batch (SFL's scoring batches: 1.3% at 1.2M steps), hence
    the 5% tolerance. It does not carry its evaluation settings, so records are only reused
    under the published protocol's evaluation and agent settings (``DEFAULT_OPTIONS``)."""
    protocol = (
        "agent", "n_envs", "eval_episodes", "cvar_episodes", "cvar_levels", "buffer_size",
        "env_kwargs",
    )  # fmt: skip
    if any(options[key] != DEFAULT_OPTIONS[key] for key in protocol):
        return {}
    budget = options["timesteps"]
    return {
        (r["method"], r["seed"]): {**r, "reused": "published"}
        for r in load_records(path)
        if budget <= r["total_timesteps"] <= budget * 1.05
        and r.get("random_levels", 1000) == options["cvar_levels"]
    }


def execute(
    options: dict[str, Any], reuse_records: str | Path | None = None, log=print
) -> tuple[list[dict[str, Any]], float]:
    """Every (method, seed) of ``options``: reused from ``runs/<method>-s<seed>/benchmark.json``
    or ``reuse_records`` when possible, trained otherwise (``options["jobs"]`` at a time)."""
    Path(options["outdir"]).mkdir(parents=True, exist_ok=True)
    jobs = [(m, s) for s in range(options["seeds"]) for m in options["methods"]]
    published = reusable_records(reuse_records, options) if reuse_records else {}
    started = time.perf_counter()
    records, to_train = [], []
    for method, seed in jobs:
        record_path = Path(options["outdir"]) / "runs" / f"{method}-s{seed}" / "benchmark.json"
        if record_path.is_file():
            records.append({**json.loads(record_path.read_text()), "reused": "run_dir"})
        elif (method, seed) in published:
            records.append(published[(method, seed)])
        else:
            to_train.append((method, seed))
    if to_train:
        from autocurr.bench import spawn_importable

        worker = spawn_importable(run_one)
        context = multiprocessing.get_context("spawn")  # no torch state shared with the parent
        with concurrent.futures.ProcessPoolExecutor(options["jobs"], mp_context=context) as pool:
            futures = [pool.submit(worker, m, s, options) for m, s in to_train]
            for future in concurrent.futures.as_completed(futures):
                record = future.result()
                records.append(record)
                log(
                    f"{record['method']:>10} s{record['seed']}: maze-test "
                    f"{record['held_out_mean']:.3f}, random {record['random_mean']:.3f}, "
                    f"CVaR-10% {record['cvar']['0.1']:.3f} ({record['train_time_s']:.0f} s train)"
                )
    return records, time.perf_counter() - started


def run(
    *,
    seeds: int | None = None,
    quick: bool = False,
    out_dir: Path,
    reuse_records: str | Path | None = PUBLISHED_RECORDS,
    command: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The suite: run folders under ``out_dir/runs``; a full run reuses the published records
    (``reuse_records``) for every (method, seed) they hold at the same budget and protocol; a
    quick run (:data:`QUICK_OPTIONS`) trains its two tiny runs and reuses nothing published."""
    options = {**(QUICK_OPTIONS if quick else DEFAULT_OPTIONS), **overrides}
    if seeds is not None:
        options["seeds"] = seeds
    if options["seeds"] < 1:
        raise ValueError(f"seeds must be >= 1, got {options['seeds']}")
    options["methods"] = list(options["methods"])
    options["outdir"] = str(out_dir)
    source = None if quick or reuse_records is None else Path(reuse_records)
    if source is not None and not source.is_file():
        source = None
    records, wall = execute(options, source, log=lambda line: print(line, flush=True))
    command = command or "autocurr bench maze-ued" + (" --quick" if quick else "")
    return build_results(
        records,
        options,
        command=command,
        wall_s=wall,
        quick=quick,
        reuse_source=_display_path(source),
    )


def _display_path(path: Path | None) -> str | None:
    if path is None:
        return None
    root = Path(__file__).resolve().parent.parent
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = DEFAULT_OPTIONS
    parser.add_argument(
        "--timesteps", type=int, help=f"env steps per run (default {defaults['timesteps']:,})"
    )
    parser.add_argument(
        "--seeds", type=int, help=f"seeds 0..N-1 per method (default {defaults['seeds']})"
    )
    parser.add_argument(
        "--methods", nargs="+", choices=[*METHODS, *PEER_METHODS], help="default: DEFAULT_METHODS"
    )
    parser.add_argument("--jobs", type=int, help="runs in parallel (processes, default 2)")
    parser.add_argument("--outdir", default="maze_ued_runs")
    parser.add_argument("--n-envs", type=int, help="default: 8 (sb3-ppo), 256 (ppo-batched)")
    parser.add_argument(
        "--agent",
        choices=("sb3-ppo", "ppo-batched"),
        help="the student (default sb3-ppo; ppo-batched: plr, accel and uniform only)",
    )
    parser.add_argument(
        "--env-kwargs",
        nargs="*",
        metavar="KEY=VALUE",
        help="MazeEnv settings for training and evaluation, e.g. heading=true (default: none)",
    )
    parser.add_argument("--eval-episodes", type=int, help="per held-out maze (default 20)")
    parser.add_argument("--cvar-episodes", type=int, help="per level and seed (default 5)")
    parser.add_argument("--cvar-levels", type=int, help="random levels for the CVaR (default 1000)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke check: dr, plr-robust, accel, 1 seed, 32k steps"
    )
    parser.add_argument(
        "--reuse-records",
        metavar="RESULTS_JSON",
        help="reuse the matching run records of an earlier results.json instead of training "
        "(e.g. docs/benchmarks/maze_ued/results.json)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        key: value
        for key, value in vars(args).items()
        if value is not None and key not in ("outdir", "quick", "reuse_records", "seeds")
    }
    if args.env_kwargs is not None:
        from autocurr.cli import parse_key_values

        overrides["env_kwargs"] = parse_key_values(args.env_kwargs)
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    outdir = Path(args.outdir)
    results = run(
        seeds=args.seeds,
        quick=args.quick,
        out_dir=outdir,
        reuse_records=args.reuse_records,
        command=command,
        **overrides,
    )
    (outdir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    path = write_report(results, outdir / "report.md")
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
