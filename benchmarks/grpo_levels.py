"""GRPO-style difficulty curriculum with a binary verifier: data teachers against uniform sampling.

Usage::

    python benchmarks/grpo_levels.py [--quick] [--seeds 10] [--outdir docs/benchmarks/grpo_levels]
    autocurr bench grpo-levels [--quick] [--seeds 10]     # the same, through the harness

As a suite of ``autocurr bench`` (``SUITE``, :func:`run`, :func:`report`) the results also hold
``tables`` (one CSV each), the target verdicts per student and the interquartile mean (rliable,
stratified bootstrap 95% CI) of the final per-level pass rates over seeds x levels.

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
and ``mean_pass_curves.png`` into ``--outdir`` (``--quick``: ``results_quick.json``,
``report_quick.md``, ``mean_pass_curves_quick.png``, so a smoke check never overwrites the full
run). ``--quick``: 3 seeds, main student only, no sweep.

Target (issue 6): in the junk regime, ``sec`` or ``learnability`` at their registered defaults
reaches >= 1.2x uniform's mean pass; judged for each student separately.
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
#: The teachers the target names, at their registered defaults.
TARGET_TEACHERS = ("sec", "learnability")
TARGET_REGIME = "junk"

SUITE = "grpo-levels"
DESCRIPTION = (
    "GRPO-style difficulty levels with a binary verifier: sec and learnability vs uniform on "
    "simulated GRPO students (numpy; 71 s full, about 10 s quick)"
)


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
    """Versions and machine (the harness's helpers: this benchmark never imports torch)."""
    from autocurr.bench import machine_description, software_versions

    return {"versions": software_versions(), "machine": machine_description()}


def _machine(machine: Any) -> str:
    if isinstance(machine, dict):
        return f"{machine.get('platform')}, {machine.get('cpu')}, {machine.get('cpu_count')} cores"
    return str(machine)


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


def write_report(results: dict[str, Any], path: Path, plot_name: str) -> Path:
    """The detailed standalone report (``report.md``): every table, the reading and the sweep."""
    main_target = next(t for t in results["targets"] if t["student"] == "sgd")
    lines = [
        "# GRPO difficulty levels with a binary verifier",
        "",
        f"Command: `{results['command']}`",
        f"Date: {results['date']}",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if k != "platform"),
        f"Machine: {_machine(results['machine'])}; wall time {results['wall_s']:.0f} s.",
        "",
        f"Budget {results['rollouts_per_run']:,} rollouts per run ({results['steps']} steps of "
        f"{PROMPTS_PER_STEP} prompts x {GROUP_SIZE} rollouts). Mean pass = exact pass rate of "
        "each level under the sampling policy (product of per-token target probabilities), mean "
        "over levels 1-6, at the end of the budget; hardest = level 6. Ratios are of means "
        "over seeds; 'seeds above uniform' is paired by seed. Student: see "
        "`envs/grpo_levels.py`; teachers fed with one `update_batch` per generation batch.",
        "",
        f"Target (issue 6): in the junk regime `sec` or `learnability` (registered defaults) >= "
        f"{TARGET_RATIO}x uniform's mean pass. Main student: best is **{main_target['teacher']}** "
        f"at **{main_target['ratio_to_uniform']:.2f}x** "
        f"({'met' if main_target['met'] else 'NOT met'}).",
        "",
        *target_lines(results),
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
    lines += [
        "## Interquartile mean of the final per-level pass rates (seeds x levels 1-6)",
        "",
        *iqm_table_lines(results),
        "",
        f"Plot: `{plot_name}` (main student, mean over seeds).",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


# ------------------------------------------------------------------------------- suite interface


def collect(seeds: int, quick: bool, command: str) -> dict[str, Any]:
    """Run every (student, regime, teacher, seed) and, for full runs, the learning-rate sweep."""
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    n_steps = BUDGET_ROLLOUTS // (PROMPTS_PER_STEP * GROUP_SIZE)
    started = time.perf_counter()
    students = {"sgd": STUDENTS["sgd"]} if quick else STUDENTS
    results: dict[str, Any] = {
        "command": command,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        **environment(),
        "quick": quick,
        "steps": n_steps,
        "rollouts_per_run": n_steps * PROMPTS_PER_STEP * GROUP_SIZE,
        "teachers": {
            name: {"teacher": t, "hyperparameters": hp} for name, (t, hp) in TEACHERS.items()
        },
        "students": {},
    }
    for name, config in students.items():
        student_seeds = seeds if name == "sgd" else max(3, seeds // 2)
        records = run_grid(name, config, student_seeds, n_steps)
        for record in records:
            record["history"] = [[int(a), round(b, 6)] for a, b in record["history"]]
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
    if not quick:
        sweep_seeds = 3
        results["sweep_seeds"] = sweep_seeds
        results["sweep"] = {}
        for rate in SWEEP_LEARNING_RATES:
            config = {**STUDENTS["sgd"], "learning_rate": rate}
            records = run_grid("sgd", config, sweep_seeds, n_steps)
            results["sweep"][str(rate)] = summarise(records)
        print("\n" + "\n".join(sweep_table({float(k): v for k, v in results["sweep"].items()})))
    results["wall_s"] = time.perf_counter() - started
    return results


def aggregate(results: dict[str, Any]) -> dict[str, Any]:
    """Add ``targets``, ``iqm`` and ``tables`` (computed from the runs) to ``results``."""
    scores = {
        f"{name}/{regime}/{teacher}": np.array(
            [
                r["pass_rates"]
                for r in block["runs"]
                if r["regime"] == regime and r["teacher"] == teacher
            ],
            dtype=np.float64,
        )
        for name, block in results["students"].items()
        for regime in REGIMES
        for teacher in block["summary"][regime]
    }
    from autocurr.bench import iqm_with_ci

    results["iqm"] = iqm_with_ci(scores)  # name -> {"iqm", "low", "high"}
    results["targets"] = [
        _target(name, block["summary"][TARGET_REGIME])
        for name, block in results["students"].items()
    ]
    results["settings"] = {
        "rollouts_per_run": results["rollouts_per_run"],
        "steps": results["steps"],
        "prompts_per_step": PROMPTS_PER_STEP,
        "group_size": GROUP_SIZE,
        "target_ratio": TARGET_RATIO,
        "target_teachers": list(TARGET_TEACHERS),
        "target_regime": TARGET_REGIME,
        "students": {name: block["config"] for name, block in results["students"].items()},
    }
    results["tables"] = build_tables(results)
    return results


def _target(student: str, junk: dict[str, dict]) -> dict[str, Any]:
    present = [t for t in TARGET_TEACHERS if t in junk]
    best = max(present, key=lambda t: junk[t]["ratio_to_uniform"])
    ratio = junk[best]["ratio_to_uniform"]
    return {
        "student": student,
        "regime": TARGET_REGIME,
        "teacher": best,
        "ratio_to_uniform": ratio,
        "uniform_mean_pass": junk["uniform"]["mean_pass"],
        "teacher_mean_pass": junk[best]["mean_pass"],
        "paired_wins": junk[best]["paired_wins"],
        "seeds": junk[best]["seeds"],
        "target_ratio": TARGET_RATIO,
        "met": bool(ratio >= TARGET_RATIO),
    }


def build_tables(results: dict[str, Any]) -> dict[str, dict[str, list]]:
    pass_rows = []
    for name, block in results["students"].items():
        config = block["config"]
        for regime in REGIMES:
            for teacher, row in block["summary"][regime].items():
                cell = results["iqm"][f"{name}/{regime}/{teacher}"]
                pass_rows.append([
                    name, config["optimizer"], config["normalization"], config["learning_rate"],
                    regime, teacher, row["seeds"], row["mean_pass"], row["mean_pass_std"],
                    cell["iqm"], cell["low"], cell["high"], row["hardest_pass"],
                    row["hardest_pass_std"], row["ratio_to_uniform"], row["paired_wins"],
                    row["junk_share"],
                ])  # fmt: skip
    tables = {
        "pass_rates": {
            "columns": [
                "student",
                "optimizer",
                "normalization",
                "learning_rate",
                "regime",
                "teacher",
                "seeds",
                "mean_pass",
                "mean_pass_sd",
                "iqm_pass",
                "iqm_ci_low",
                "iqm_ci_high",
                "hardest_pass",
                "hardest_pass_sd",
                "ratio_to_uniform",
                "seeds_above_uniform",
                "junk_share",
            ],
            "rows": pass_rows,
        },
        "targets": {
            "columns": ["student", "regime", "teacher", "ratio_to_uniform", "target_ratio", "met"],
            "rows": [
                [
                    t["student"],
                    t["regime"],
                    t["teacher"],
                    t["ratio_to_uniform"],
                    t["target_ratio"],
                    "met" if t["met"] else "not met",
                ]
                for t in results["targets"]
            ],
        },
    }
    if results.get("sweep"):
        tables["lr_sweep"] = {
            "columns": ["learning_rate", "regime", "teacher", "mean_pass", "ratio_to_uniform"],
            "rows": [
                [float(rate), regime, teacher, row["mean_pass"], row["ratio_to_uniform"]]
                for rate, summary in results["sweep"].items()
                for regime in REGIMES
                for teacher, row in summary[regime].items()
            ],
        }
    return tables


def _student_label(name: str, config: dict[str, Any]) -> str:
    return (
        f"`{name}` ({config['optimizer']}, normalisation `{config['normalization']}`, "
        f"lr {config['learning_rate']})"
    )


def target_lines(results: dict[str, Any]) -> list[str]:
    """One verdict line per student."""
    students = results["settings"]["students"]
    lines = []
    for target in results["targets"]:
        lines.append(
            f"- {_student_label(target['student'], students[target['student']])}, "
            f"{target['regime']} regime: best of "
            + " / ".join(f"`{t}`" for t in results["settings"]["target_teachers"])
            + f" is `{target['teacher']}` at {target['teacher_mean_pass']:.3f} vs uniform's "
            f"{target['uniform_mean_pass']:.3f} = {target['ratio_to_uniform']:.2f}x "
            f"({target['paired_wins']}/{target['seeds']} seeds above uniform; target >= "
            f"{target['target_ratio']}x): **{'met' if target['met'] else 'not met'}**"
        )
    return lines


def _rows_by(results: dict[str, Any]) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """``(student, regime) -> teacher -> row`` of the ``pass_rates`` table as dicts."""
    table_ = results["tables"]["pass_rates"]
    grouped: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for values in table_["rows"]:
        row = dict(zip(table_["columns"], values, strict=True))
        grouped.setdefault((row["student"], row["regime"]), {})[row["teacher"]] = row
    return grouped


def overview_lines(results: dict[str, Any]) -> list[str]:
    """Student x regime rows: uniform's mean pass and every teacher's ratio to it."""
    grouped = _rows_by(results)
    teachers = [t for t in TEACHERS if t != "uniform"]
    lines = [
        "| student | regime | seeds | uniform | " + " | ".join(f"`{t}`" for t in teachers) + " |",
        "|---|---|---|---|" + "---|" * len(teachers),
    ]
    for (student, regime), rows in grouped.items():
        cells = [f"{rows[t]['ratio_to_uniform']:.2f}x" if t in rows else "–" for t in teachers]
        lines.append(
            f"| `{student}` | {regime} | {rows['uniform']['seeds']} | "
            f"{rows['uniform']['mean_pass']:.3f} | " + " | ".join(cells) + " |"
        )
    return lines


def iqm_table_lines(results: dict[str, Any]) -> list[str]:
    """IQM [95% CI] of the final per-level pass rates, student x regime rows, teacher columns."""
    grouped = _rows_by(results)
    teachers = list(TEACHERS)
    lines = [
        "| student | regime | " + " | ".join(f"`{t}`" for t in teachers) + " |",
        "|---|---|" + "---|" * len(teachers),
    ]
    for (student, regime), rows in grouped.items():
        cells = [
            f"{rows[t]['iqm_pass']:.3f} [{rows[t]['iqm_ci_low']:.3f}, {rows[t]['iqm_ci_high']:.3f}]"
            if t in rows
            else "–"
            for t in teachers
        ]
        lines.append(f"| `{student}` | {regime} | " + " | ".join(cells) + " |")
    return lines


def run(
    *, seeds: int | None = None, quick: bool = False, out_dir: Path, command: str | None = None
) -> dict[str, Any]:
    """The suite: every run, the aggregates and ``mean_pass_curves.png`` in ``out_dir``."""
    seeds = seeds or (3 if quick else 10)
    command = command or "autocurr bench grpo-levels" + (" --quick" if quick else "")
    results = aggregate(collect(seeds, quick, command))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_curves(results["students"]["sgd"]["runs"], out_dir / _plot_name(quick))
    return results


def _plot_name(quick: bool) -> str:
    return "mean_pass_curves_quick.png" if quick else "mean_pass_curves.png"


def report(results: dict[str, Any]) -> str:
    """Markdown for BENCHMARKS.md from ``results`` alone."""
    settings = results["settings"]
    lines = []
    if results.get("quick"):
        lines += [
            "*Smoke check (`--quick`): main student only, 3 seeds, no learning-rate sweep; not "
            "the benchmark's numbers.*",
            "",
        ]
    lines += [
        f"Budget {settings['rollouts_per_run']:,} rollouts per run ({settings['steps']} steps "
        f"of {settings['prompts_per_step']} prompts x {settings['group_size']} rollouts). Mean "
        "pass: exact pass rate under the sampling policy, mean over levels 1-6, at the end of the "
        "budget. Cells: uniform's mean pass over seeds and each teacher's ratio to it.",
        "",
        *overview_lines(results),
        "",
        f"Target: in the {settings['target_regime']} regime "
        + " or ".join(f"`{t}`" for t in settings["target_teachers"])
        + f" (registered defaults) >= {settings['target_ratio']}x uniform, per student:",
        "",
        *target_lines(results),
        "",
        "Interquartile mean (rliable, stratified bootstrap 95% CI) of the final pass rates over "
        "seeds x levels 1-6:",
        "",
        *iqm_table_lines(results),
    ]
    if "lr_sweep" in results["tables"]:
        sweep = results["tables"]["lr_sweep"]
        cells: dict[tuple[float, str], dict[str, str]] = {}
        for rate, regime, teacher, mean_pass, ratio in sweep["rows"]:
            cells.setdefault((rate, regime), {})[teacher] = f"{mean_pass:.3f} ({ratio:.2f}x)"
        teachers = list(TEACHERS)
        lines += [
            "",
            "Learning-rate sweep of the main student (`sgd`): mean pass (ratio to uniform), "
            f"{results.get('sweep_seeds', '?')} seeds:",
            "",
            "| learning rate | regime | " + " | ".join(f"`{t}`" for t in teachers) + " |",
            "|---|---|" + "---|" * len(teachers),
        ]
        for (rate, regime), row in cells.items():
            values = " | ".join(row.get(t, "–") for t in teachers)
            lines.append(f"| {rate:g} | {regime} | {values} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, main student, no sweep")
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds 0..N-1 (default 10; 3 with --quick)"
    )
    parser.add_argument("--outdir", default="docs/benchmarks/grpo_levels")
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="no training: recompute the aggregates and the report from --outdir's results.json",
    )
    args = parser.parse_args(argv)
    suffix = "_quick" if args.quick else ""
    outdir = Path(args.outdir)
    if args.rebuild:
        results = aggregate(json.loads((outdir / f"results{suffix}.json").read_text()))
        results.setdefault("quick", args.quick)
        (outdir / f"results{suffix}.json").write_text(json.dumps(results, indent=1) + "\n")
        print(write_report(results, outdir / f"report{suffix}.md", _plot_name(args.quick)))
        return 0
    if args.seeds is not None and args.seeds < 1:
        raise SystemExit("--seeds must be >= 1")
    arguments = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/grpo_levels.py", *arguments])
    results = run(seeds=args.seeds, quick=args.quick, out_dir=outdir, command=command)
    (outdir / f"results{suffix}.json").write_text(json.dumps(results, indent=1) + "\n")
    path = write_report(results, outdir / f"report{suffix}.md", _plot_name(args.quick))
    print(f"\nwrote {path}, {outdir / f'results{suffix}.json'} ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
