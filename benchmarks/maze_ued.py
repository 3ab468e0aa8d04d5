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

Variants outside the default set, for ``--methods`` (the one-seed pilots in BENCHMARKS.md):
``plr-robust-t1`` (rank temperature 1), ``-maxmc``, ``-l1vl`` score variants, and
``plr-robust-oracle`` / ``accel-oracle`` (``--oracle-score``: the true BFS regret as the score).

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
    "plr-entropy": ("plr", {"buffer_size": 1000, "score": "entropy"}, None),
    "plr-robust-oracle": ("plr", {"robust": True, "buffer_size": 1000}, None),
    "accel-oracle": ("accel", {"buffer_size": 1000}, None),
    "sfl": ("sfl", {}, None),
    "paired": ("paired", {}, None),
    "repaired": ("repaired", {"buffer_size": 1000}, None),
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
)
TARGET_RATIO = 1.3
TARGET_METHODS = ("plr-robust", "accel")


# ------------------------------------------------------------------------------------ one run


def run_one(method: str, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """Train (or reuse) one run and evaluate it; returns its benchmark record."""
    import torch

    from autocurr.agents.evaluation import cvar_solve_rates, random_level_suite
    from autocurr.agents.train import TrainConfig, train

    run_dir = Path(options["outdir"]) / "runs" / f"{method}-s{seed}"
    record_path = run_dir / "benchmark.json"
    if record_path.is_file():
        return {**json.loads(record_path.read_text()), "reused": True}
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RuntimeError(f"{run_dir} holds an unfinished run; delete it to rerun")
    teacher, teacher_kwargs, levels = METHODS[method]
    config = TrainConfig(
        teacher=teacher,
        teacher_kwargs=teacher_kwargs,
        levels=levels,
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
    )
    summary = train(config)
    started = time.perf_counter()
    torch.set_num_threads(1)
    cvar = cvar_solve_rates(
        _load_policy(run_dir, options["agent"]),
        random_level_suite("maze-random-1000"),
        episodes_per_level=options["cvar_episodes"],
        seeds=(0, 1),
    )
    held_out = summary["held_out"]
    record = {
        "method": method,
        "teacher": teacher,
        "teacher_kwargs": teacher_kwargs,
        "levels": config.level_start(),
        "seed": seed,
        "run_dir": str(run_dir),
        "total_timesteps": summary["total_timesteps"],
        "steps_per_second": summary["steps_per_second"],
        "train_time_s": summary["train_time_s"],
        "eval_time_s": time.perf_counter() - started,
        "held_out_mean": held_out["mean"]["solve_rate"],
        "held_out": {case["name"]: case["solve_rate"] for case in held_out["cases"]},
        "random_mean": cvar["mean"]["seed_1"]["solve_rate"],
        "cvar": {f"{row['fraction']:g}": row["solve_rate"] for row in cvar["cvar"]},
        "ued": summary.get("ued"),
        "score_correlations": summary.get("score_correlations"),
        "teacher_hyperparameters": summary["teacher"]["hyperparameters"],
        "versions": summary["versions"],
    }
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


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


# ------------------------------------------------------------------------------------ report


def _mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "-"


def _by_method(records: list[dict[str, Any]], methods: list[str]) -> dict[str, list[dict]]:
    return {
        m: sorted((r for r in records if r["method"] == m), key=lambda r: r["seed"])
        for m in methods
        if any(r["method"] == m for r in records)
    }


def results_table(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    dr = groups.get("dr")
    dr_mean = np.mean([r["held_out_mean"] for r in dr]) if dr else None
    lines = [
        "| method | seeds | maze-test solve rate | per seed | × DR | random-1000 mean "
        "| CVaR 50% | CVaR 10% | CVaR 1% | steps without gradient | steps/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, runs in groups.items():
        held = [r["held_out_mean"] for r in runs]
        ratio = f"{np.mean(held) / dr_mean:.2f}" if dr_mean else "-"
        no_grad = [
            r["ued"]["steps_no_grad"] / r["ued"]["env_steps"] if r.get("ued") else 0.0 for r in runs
        ]
        lines.append(
            f"| {method} | {len(runs)} | {_mean_sd(held)} | "
            + ", ".join(f"{v:.2f}" for v in held)
            + f" | {ratio} | {_mean_sd([r['random_mean'] for r in runs])} | "
            + " | ".join(_mean_sd([r["cvar"][f] for r in runs]) for f in ("0.5", "0.1", "0.01"))
            + f" | {np.mean(no_grad):.2f} | "
            f"{np.mean([r['steps_per_second'] for r in runs]):,.0f} |"
        )
    return lines


def target_lines(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    if "dr" not in groups:
        return []
    dr_held = np.mean([r["held_out_mean"] for r in groups["dr"]])
    dr_cvar = np.mean([r["cvar"]["0.1"] for r in groups["dr"]])
    lines = []
    for method in TARGET_METHODS:
        if method not in groups:
            continue
        held = np.mean([r["held_out_mean"] for r in groups[method]])
        cvar = np.mean([r["cvar"]["0.1"] for r in groups[method]])
        ratio = held / dr_held if dr_held else float("inf")
        met = ratio >= TARGET_RATIO and cvar >= dr_cvar
        lines.append(
            f"- `{method}`: maze-test {held:.3f} = {ratio:.2f}× DR ({dr_held:.3f}), target "
            f"≥ {TARGET_RATIO}×; CVaR-10% {cvar:.3f} vs DR {dr_cvar:.3f}: "
            f"**{'met' if met else 'not met'}**"
        )
    return lines


def per_maze_table(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    names = list(next(iter(groups.values()))[0]["held_out"])
    lines = ["| maze | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
    for name in names:
        cells = [f"{np.mean([r['held_out'][name] for r in runs]):.2f}" for runs in groups.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def correlation_table(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Mean over runs of each score's Spearman correlation with true regret / success rate."""
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


def write_report(
    records: list[dict[str, Any]], options: dict[str, Any], command: str, wall_s: float
) -> Path:
    from autocurr.agents.train import machine_description

    outdir = Path(options["outdir"])
    groups = _by_method(records, options["methods"])
    versions = records[0]["versions"] if records else {}
    settings = [
        f"- `{m}`: teacher `{METHODS[m][0]}` {json.dumps(METHODS[m][1])}, levels "
        f"`{groups[m][0]['levels']}`"
        for m in groups
    ]
    lines = [
        "# Maze UED benchmark",
        "",
        f"Command: `{command}`",
        f"Date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "platform"),
        f"Machine: {machine_description()}; {options['jobs']} runs in parallel; wall time "
        f"{wall_s:.0f} s ({sum(not r.get('reused') for r in records)} runs trained now, "
        f"{sum(bool(r.get('reused')) for r in records)} reused).",
        "",
        f"Budget: {options['timesteps']:,} environment steps per run, every scoring and "
        "child-evaluation rollout included. maze-test: mean solve rate over the 10 hand-drawn "
        f"mazes, {options['eval_episodes']} sampled-action episodes each. random-1000: mean "
        f"solve rate under seed 1 and de-biased CVaR, {options['cvar_episodes']} episodes per "
        "level and seed.",
        "",
        *settings,
        "",
        *results_table(groups),
        "",
        *target_lines(groups),
        "",
        "Per held-out maze (mean solve rate over seeds):",
        "",
        *per_maze_table(groups),
        "",
        "Spearman correlation of each score with true regret and with the success rate "
        "(level-rollouts of the last part of training, mean over seeds):",
        "",
        *correlation_table(groups),
    ]
    path = outdir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    kept = [{k: v for k, v in r.items() if k != "reused"} for r in records]
    (outdir / "results.json").write_text(json.dumps(kept, indent=2) + "\n")
    return path


# ------------------------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=1_200_000, help="env steps per run")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per method")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=METHODS)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (processes)")
    parser.add_argument("--outdir", default="maze_ued_runs")
    parser.add_argument("--n-envs", type=int, help="default: 8 (sb3-ppo), 256 (ppo-batched)")
    parser.add_argument(
        "--agent",
        choices=("sb3-ppo", "ppo-batched"),
        default="sb3-ppo",
        help="the student (ppo-batched: plr, accel and uniform only)",
    )
    parser.add_argument("--eval-episodes", type=int, default=20, help="per held-out maze")
    parser.add_argument("--cvar-episodes", type=int, default=5, help="per level and seed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = {**vars(args), "methods": list(args.methods)}
    Path(args.outdir).mkdir(parents=True, exist_ok=True)
    jobs = [(m, s) for s in range(args.seeds) for m in args.methods]
    started = time.perf_counter()
    records = []
    context = multiprocessing.get_context("spawn")  # no torch state shared with the parent
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
        futures = {pool.submit(run_one, m, s, options): (m, s) for m, s in jobs}
        for future in concurrent.futures.as_completed(futures):
            record = future.result()
            records.append(record)
            print(
                f"{record['method']:>10} s{record['seed']}: maze-test "
                f"{record['held_out_mean']:.3f}, random-1000 {record['random_mean']:.3f}, "
                f"CVaR-10% {record['cvar']['0.1']:.3f} ({record['train_time_s']:.0f} s train)",
                flush=True,
            )
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    path = write_report(records, options, command, time.perf_counter() - started)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
