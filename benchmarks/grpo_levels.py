"""GRPO-style difficulty curriculum with a binary verifier: data teachers against uniform sampling.

Usage::

    python benchmarks/grpo_levels.py [--quick] [--seeds 10] [--outdir docs/benchmarks/grpo_levels]

Student: :class:`autocurr.envs.grpo_levels.GRPOLevelsStudent` (levels 1..6 need 1..6 correct
tokens from a vocabulary of 8; nested: the levels share per-position logits; groups of G = 8
rollouts; GRPO advantages; 16 prompts per step). Budget: 100 000 rollouts per run (781 steps of
128 rollouts). Regimes (reference ``data-mixture-llm.md`` section 8.2, pilot B):

- ``nested``: the 6 levels only;
- ``junk``: the 6 levels plus 2 always-solved and 2 never-solvable arms (uniform sampling spends
  40% of its rollouts on groups with zero advantage).

Metric: the exact pass rate of each level under the *sampling* policy (product of the per-token
probabilities of the targets; no evaluation noise) at the end of the budget, averaged over the 6
learnable levels ("mean pass"), and the level-6 pass rate ("hardest"). Teachers: ``uniform``,
``sec`` (defaults: alpha 0.5, tau 1), ``sec`` with tau = 0.2 (a named variant: the SEC README's
2-D setting), ``learnability`` (defaults) and ``learnability`` with ``skew = 1`` (the asymmetric
frontier score). Each teacher is fed as a GRPO trainer integration does: ONE ``update_batch`` per
generation batch (per-level mean |A| for SEC, per-group pass rates otherwise). Student seed ``s``,
teacher seed ``1000 + s``.

Students: ``sgd`` (the main one: plain SGD, the policy gradient averaged over every rollout of the
batch as in TRL's loss, so zero-advantage groups dilute the step; learning rate 0.11) and two
robustness variants: ``active`` (SGD, gradient divided by the rollouts with a non-zero
advantage, so junk groups do not shrink the step; lr 0.036) and ``adam`` (batch mean, Adam, lr
0.0021). Each learning rate is calibrated once, on ``uniform`` in the nested regime, so that
uniform ends near pilot B's nested mean pass (0.47) -- a mid-training budget where a curriculum
can matter; no teacher was tuned. A learning-rate sweep of the main student shows how the gaps
close as the budget stops being binding.

Writes ``results.json`` (command, date, versions, machine, every run) and ``report.md`` (tables)
and ``mean_pass_curves.png`` into ``--outdir``. ``--quick``: 3 seeds, main student only, no sweep.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from autocurr import make_teacher
from autocurr.envs.grpo_levels import GRPOLevelsStudent, run_grpo_curriculum

BUDGET_ROLLOUTS = 100_000
PROMPTS_PER_STEP = 16
GROUP_SIZE = 8
REGIMES = {"nested": {"n_solved": 0, "n_unsolvable": 0}, "junk": {"n_solved": 2, "n_unsolvable": 2}}
#: name -> (registered teacher, hyperparameters)
TEACHERS = {
    "uniform": ("uniform", {}),
    "sec": ("sec", {}),
    "sec (tau 0.2)": ("sec", {"tau": 0.2}),
    "learnability": ("learnability", {}),
    "learnability (skew 1)": ("learnability", {"skew": 1.0}),
}
#: Student variants; learning rates calibrated on uniform / nested (see the module docstring).
STUDENTS = {
    "sgd": {"optimizer": "sgd", "normalization": "batch", "learning_rate": 0.11},
    "active": {"optimizer": "sgd", "normalization": "active", "learning_rate": 0.036},
    "adam": {"optimizer": "adam", "normalization": "batch", "learning_rate": 0.0021},
}
SWEEP_LEARNING_RATES = (0.05, 0.11, 0.2, 0.3, 0.5)
CURVE_POINTS = 10
TARGET_RATIO = 1.2


def run_one(student_config: dict, regime: str, teacher: str, seed: int, n_steps: int) -> dict:
    student = GRPOLevelsStudent(
        group_size=GROUP_SIZE, rng=seed, **REGIMES[regime], **student_config
    )
    registered, hyperparameters = TEACHERS[teacher]
    curriculum = make_teacher(registered, student.space, seed=1000 + seed, **hyperparameters)
    started = time.perf_counter()
    result = run_grpo_curriculum(
        student, curriculum, n_steps, PROMPTS_PER_STEP, record_every=max(1, n_steps // CURVE_POINTS)
    )
    result.update(teacher=teacher, regime=regime, seed=seed, wall_s=time.perf_counter() - started)
    return result


def run_grid(
    student_name: str, student_config: dict, seeds: int, n_steps: int, teachers=TEACHERS
) -> list[dict]:
    records = []
    for regime in REGIMES:
        for teacher in teachers:
            for seed in range(seeds):
                record = run_one(student_config, regime, teacher, seed, n_steps)
                record.update(student=student_name, learning_rate=student_config["learning_rate"])
                records.append(record)
    return records


def summarise(records: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """``regime -> teacher -> {mean_pass, std, hardest, hardest_std, junk_share, ratio, wins}``."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for regime in REGIMES:
        rows = {}
        base = {r["seed"]: r["mean_pass"] for r in records
                if r["regime"] == regime and r["teacher"] == "uniform"}  # fmt: skip
        base_mean = float(np.mean(list(base.values()))) if base else float("nan")
        for teacher in TEACHERS:
            runs = [r for r in records if r["regime"] == regime and r["teacher"] == teacher]
            if not runs:
                continue
            mean_pass = np.array([r["mean_pass"] for r in runs])
            hardest = np.array([r["hardest_pass"] for r in runs])
            rows[teacher] = {
                "seeds": len(runs),
                "mean_pass": float(mean_pass.mean()),
                "mean_pass_std": float(mean_pass.std()),
                "hardest_pass": float(hardest.mean()),
                "hardest_pass_std": float(hardest.std()),
                "junk_share": float(np.mean([r["junk_share"] for r in runs])),
                "ratio_to_uniform": float(mean_pass.mean() / base_mean),
                "paired_wins": int(sum(r["mean_pass"] > base.get(r["seed"], np.inf) for r in runs)),
            }
        summary[regime] = rows
    return summary


def table(summary: dict, regime: str) -> list[str]:
    lines = [
        "| teacher | mean pass (± sd over seeds) | hardest (level 6) | ratio to uniform "
        "| seeds above uniform | junk share |",
        "|---|---|---|---|---|---|",
    ]
    for teacher, row in summary[regime].items():
        lines.append(
            f"| {teacher} | {row['mean_pass']:.3f} ± {row['mean_pass_std']:.3f} "
            f"| {row['hardest_pass']:.3f} ± {row['hardest_pass_std']:.3f} "
            f"| {row['ratio_to_uniform']:.2f}x | {row['paired_wins']}/{row['seeds']} "
            f"| {row['junk_share']:.2f} |"
        )
    return lines


def sweep_table(sweep: dict[float, dict]) -> list[str]:
    teachers = list(TEACHERS)
    lines = [
        "| learning rate | regime | " + " | ".join(teachers) + " |",
        "|---|---|" + "---|" * len(teachers),
    ]
    for rate, summary in sweep.items():
        for regime in REGIMES:
            rows = summary[regime]
            cells = [
                f"{rows[t]['mean_pass']:.3f} ({rows[t]['ratio_to_uniform']:.2f}x)" for t in teachers
            ]
            lines.append(f"| {rate} | {regime} | " + " | ".join(cells) + " |")
    return lines


def plot_curves(records: list[dict], path: Path) -> None:
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(REGIMES), sharey=True)
    colors = colormaps["tab10"]
    for axis, regime in zip(axes, REGIMES, strict=True):
        for index, teacher in enumerate(TEACHERS):
            runs = [r for r in records if r["regime"] == regime and r["teacher"] == teacher]
            curves = np.array([r["history"] for r in runs], dtype=np.float64)
            if curves.size == 0:
                continue
            axis.plot(curves[0, :, 0], curves[:, :, 1].mean(axis=0), color=colors(index),
                      label=f"{teacher} ({len(runs)} seeds)")  # fmt: skip
        axis.set_title(f"{regime} regime")
        axis.set_xlabel("rollouts")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("mean pass rate over levels 1-6")
    axes[0].legend(fontsize="small")
    figure.savefig(path, dpi=100)


def environment() -> dict[str, Any]:
    from autocurr.agents.train import machine_description, versions

    return {"versions": versions(), "machine": machine_description()}


def _extremes(summary: dict, regime: str) -> str:
    rows = {t: r for t, r in summary[regime].items() if t != "uniform"}
    best = max(rows, key=lambda t: rows[t]["ratio_to_uniform"])
    worst = min(rows, key=lambda t: rows[t]["ratio_to_uniform"])
    return (
        f"{rows[worst]['ratio_to_uniform']:.2f}x ({worst}) to "
        f"{rows[best]['ratio_to_uniform']:.2f}x ({best})"
    )


def findings(results: dict[str, Any]) -> list[str]:
    """The reading of the tables, with the numbers filled in from this run."""
    students = results["students"]
    lines = ["## Reading", ""]
    for name, block in students.items():
        lines.append(
            f"- `{name}`: teachers vs uniform, junk {_extremes(block['summary'], 'junk')}; "
            f"nested {_extremes(block['summary'], 'nested')}."
        )
    lines += [
        "- Why the main (`sgd`) student favours the teachers in *both* regimes: the policy "
        "gradient is averaged over every rollout, so each zero-advantage group (junk arms, but "
        "also all-failed frontier levels and solved easy levels, which uniform keeps drawing) "
        "shrinks the step. Teachers that seek |A| or p(1 - p) fill the batch with informative "
        "groups. Pilot B (reference section 8.2) saw uniform win the nested regime; this student "
        "reproduces that only with Adam.",
        "- With `active` normalisation (step size independent of how many groups are "
        "informative) the curriculum hardly matters: junk only costs gradient noise.",
        "- With Adam (per-parameter step sizes, so a constant dilution of the gradient is "
        "undone) uniform wins the nested regime and the focused teachers (tau 0.2, "
        "learnability) lose: positions of levels they rarely draw get no gradient at all, while "
        "uniform moves every position at every step. In the junk regime SEC at tau = 1, which "
        "stays close to uniform, gains most.",
        "- SEC at tau = 1 barely avoids junk (Boltzmann weights over |A| <= 1 differ by at most "
        "e), hence the tau = 0.2 variant; learnability puts only its floor on junk arms.",
        "- The learning-rate sweep: gaps close as the budget stops binding (everything near 1).",
        "",
        "So the >= 1.2x target holds for the SGD student, but how much a curriculum is worth "
        "depends on the optimiser's handling of zero-advantage groups; a claim must name it.",
    ]
    return lines


def write_report(results: dict[str, Any], outdir: Path) -> Path:
    main = results["students"]["sgd"]["summary"]
    junk = main["junk"]
    best = max(("sec", "sec (tau 0.2)", "learnability"), key=lambda t: junk[t]["ratio_to_uniform"])
    lines = [
        "# GRPO difficulty levels with a binary verifier",
        "",
        f"Command: `{results['command']}`",
        f"Date: {results['date']}",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if k != "platform"),
        f"Machine: {results['machine']}; wall time {results['wall_s']:.0f} s.",
        "",
        f"Budget {results['rollouts_per_run']:,} rollouts per run ({results['steps']} steps of "
        f"{PROMPTS_PER_STEP} prompts x {GROUP_SIZE} rollouts). Mean pass = exact pass rate of "
        "each level under the sampling policy (product of per-token target probabilities), mean "
        "over levels 1-6, at the end of the budget; hardest = level 6. Ratios are of means "
        "over seeds; 'seeds above uniform' is paired by seed. Student: see "
        "`envs/grpo_levels.py`; teachers fed with one `update_batch` per generation batch.",
        "",
        f"Target (issue 6): in the junk regime `sec` or `learnability` >= {TARGET_RATIO}x "
        f"uniform's mean pass. Main student: best of the registered defaults / SEC variant is "
        f"**{best}** at **{junk[best]['ratio_to_uniform']:.2f}x** "
        f"({'met' if junk[best]['ratio_to_uniform'] >= TARGET_RATIO else 'NOT met'}).",
        "",
    ]
    lines += [*findings(results), ""]
    for name, block in results["students"].items():
        config = block["config"]
        lines += [
            f"## Student `{name}` ({config['optimizer']}, normalisation "
            f"`{config['normalization']}`, learning rate {config['learning_rate']}; "
            f"{block['seeds']} seeds)",
            "",
        ]
        for regime in REGIMES:
            lines += [f"**{regime}**", "", *table(block["summary"], regime), ""]
    if results.get("sweep"):
        lines += [
            "## Learning-rate sweep of the main student (`sgd`), mean pass (ratio to uniform), "
            f"{results['sweep_seeds']} seeds",
            "",
            *sweep_table({float(k): v for k, v in results["sweep"].items()}),
            "",
        ]
    lines += ["Plot: `mean_pass_curves.png` (main student, mean over seeds).", ""]
    path = outdir / "report.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, main student, no sweep")
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds 0..N-1 (default 10; 3 with --quick)"
    )
    parser.add_argument("--outdir", default="docs/benchmarks/grpo_levels")
    args = parser.parse_args(argv)
    seeds = args.seeds or (3 if args.quick else 10)
    if seeds < 1:
        raise SystemExit("--seeds must be >= 1")
    n_steps = BUDGET_ROLLOUTS // (PROMPTS_PER_STEP * GROUP_SIZE)
    arguments = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/grpo_levels.py", *arguments])
    started = time.perf_counter()
    students = {"sgd": STUDENTS["sgd"]} if args.quick else STUDENTS
    results: dict[str, Any] = {
        "command": command,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        **environment(),
        "steps": n_steps,
        "rollouts_per_run": n_steps * PROMPTS_PER_STEP * GROUP_SIZE,
        "teachers": {
            name: {"teacher": t, "hyperparameters": hp} for name, (t, hp) in TEACHERS.items()
        },
        "students": {},
    }
    main_records: list[dict] = []
    for name, config in students.items():
        student_seeds = seeds if name == "sgd" else max(3, seeds // 2)
        records = run_grid(name, config, student_seeds, n_steps)
        if name == "sgd":
            main_records = records
        summary = summarise(records)
        results["students"][name] = {
            "config": config,
            "seeds": student_seeds,
            "summary": summary,
            "runs": records,
        }
        for regime in REGIMES:
            print(f"\n{name} / {regime}")
            print("\n".join(table(summary, regime)), flush=True)
    if not args.quick:
        sweep_seeds = 3
        results["sweep_seeds"] = sweep_seeds
        results["sweep"] = {}
        for rate in SWEEP_LEARNING_RATES:
            config = {**STUDENTS["sgd"], "learning_rate": rate}
            records = run_grid("sgd", config, sweep_seeds, n_steps)
            results["sweep"][str(rate)] = summarise(records)
        print("\n" + "\n".join(sweep_table({float(k): v for k, v in results["sweep"].items()})))
    results["wall_s"] = time.perf_counter() - started
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for block in results["students"].values():
        for record in block["runs"]:
            record["history"] = [[int(a), round(b, 6)] for a, b in record["history"]]
    (outdir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    plot_curves(main_records, outdir / "mean_pass_curves.png")
    report = write_report(results, outdir)
    print(f"\nwrote {report}, {outdir / 'results.json'} ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
