"""Data-mixture benchmark: teachers choosing the domain mixture of a tiny causal LM (issue 6).

Usage::

    python benchmarks/data_mixture.py            # full run: 6 rows x 3 seeds, 1500 steps
    python benchmarks/data_mixture.py --quick    # smoke check: 300 steps, 1 seed

Setup (``autocurr.agents.mix_lm`` / ``autocurr.envs.synthetic_lm``): 4 synthetic domains with exact
entropies -- ``learned`` (constant sequences, H = 0, mastered in the first ~150 steps), ``medium``
(order-1 Markov, H = ln 2), ``hard`` (order-2 Markov over 32^2 contexts), ``noise`` (uniform,
H = ln 32) -- a 2-layer d = 64 causal transformer, AdamW, batch 32, one teacher update per step.
Seed ``s`` fixes the corpus, the initial weights, the sampler and the teacher, so teachers are
compared on the same data and initial model (paired by seed).

Metric: held-out excess loss (loss - exact entropy), averaged over the LEARNABLE domains (medium,
hard; learned and noise excluded), evaluated every 25 steps. To damp evaluation noise the curve is
smoothed with a trailing mean over 3 evaluations (75 steps). Per seed ``s``:

- ``target_s`` = uniform's smoothed final value on seed ``s``;
- ``steps_s(teacher)`` = first evaluation step at which the teacher's smoothed curve is
  ``<= target_s`` (``None``: never within the budget);
- ``ratio_s = steps_s(teacher) / steps_s(uniform)`` (uniform's own first crossing of its final).

"Over 3 seeds" = the mean of the per-seed ratios; the report also lists every seed and whether
each seed is <= 0.7 on its own. Every teacher runs with its registered defaults (no tuning); the
only per-teacher inputs are the signal mapping of ``mix_lm`` (loss / exp(-loss) / -loss, from
the teacher's ``signal``) and doremi's reference loss, in two rows: ``doremi`` = the exact
entropies (an oracle reference model, its best case) and ``doremi-ref`` = the final held-out
per-domain losses of the uniform run on the same seed (DoReMi's own pipeline: a reference model
trained on uniform weights; its compute is not counted in the steps). Writes ``results.json``,
``report.md``, ``curves.png`` and ``mixture_<row>.png`` (the mixture over training of every
non-uniform row on the first seed) into ``--out`` (``--quick`` writes ``*_quick`` files).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from autocurr.teachers import available

TEACHERS = ("uniform", "lp", "exp3", "odm", "doremi", "doremi-ref")
#: Row label -> registered teacher name (labels not listed are registry names).
REGISTRY_NAME = {"doremi-ref": "doremi"}
TEACHER_KWARGS: dict[str, dict[str, Any]] = {"exp3": {"reward": "progress"}}  # = its default
#: Rows whose reference loss comes from the uniform run of the same seed.
REFERENCE_ROWS = ("doremi-ref",)
SMOOTH = 3
TARGET_RATIO = 0.7
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "data_mixture"


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """One (row, seed) run in a worker process (1 torch thread)."""
    from autocurr.agents.mix_lm import MixConfig, train_mixture

    label = job["teacher"]
    config = MixConfig(
        teacher=REGISTRY_NAME.get(label, label),
        teacher_kwargs=job["teacher_kwargs"],
        steps=job["steps"],
        seed=job["seed"],
        eval_every=job["eval_every"],
        heldout_size=job["heldout_size"],
        logdir=None,
        progress=False,
        threads=1,
    )
    history = train_mixture(config)
    history["teacher_config"] = history.pop("teacher")  # name + hyperparameters
    return {**history, "teacher": job["teacher"], "seed": job["seed"]}


def smooth(values: list[float], window: int = SMOOTH) -> np.ndarray:
    """Trailing running mean (the first points average what exists so far)."""
    values = np.asarray(values, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(1, values.size + 1)
    start = np.maximum(0, index - window)
    return (cumulative[index] - cumulative[start]) / (index - start)


def first_step_at_or_below(steps: list[int], curve: np.ndarray, target: float) -> int | None:
    hits = np.flatnonzero(curve <= target + 1e-12)
    return int(steps[hits[0]]) if hits.size else None


def summarise(runs: list[dict[str, Any]], teachers: list[str], seeds: list[int]) -> dict:
    by_key = {(run["teacher"], run["seed"]): run for run in runs}
    targets, uniform_steps = {}, {}
    for seed in seeds:
        run = by_key[("uniform", seed)]
        curve = smooth(run["excess_learnable"])
        targets[seed] = float(curve[-1])
        uniform_steps[seed] = first_step_at_or_below(run["eval_steps"], curve, targets[seed])
    summary = {}
    for teacher in teachers:
        finals, steps, ratios, aucs, shares, final_p, per_domain = [], [], [], [], [], [], []
        for seed in seeds:
            run = by_key[(teacher, seed)]
            curve = smooth(run["excess_learnable"])
            finals.append(float(curve[-1]))
            aucs.append(float(np.mean(run["excess_learnable"])))
            reached = first_step_at_or_below(run["eval_steps"], curve, targets[seed])
            steps.append(reached)
            ratios.append(None if reached is None else reached / uniform_steps[seed])
            counts = np.asarray(run["domain_counts"], dtype=np.float64)
            shares.append((counts / counts.sum()).tolist())
            final_p.append(run["probabilities"][-1])
            per_domain.append(run["excess"][-1])
        known = [r for r in ratios if r is not None]
        mean_ratio = float(np.mean(known)) if len(known) == len(ratios) else None
        summary[teacher] = {
            "final_excess_learnable": finals,
            "final_excess_mean": float(np.mean(finals)),
            "final_excess_std": float(np.std(finals)),
            "mean_excess_over_training": float(np.mean(aucs)),
            "final_excess_per_domain_mean": np.mean(per_domain, axis=0).tolist(),
            "steps_to_uniform_final": steps,
            "ratio_to_uniform": ratios,
            "mean_ratio": mean_ratio,
            "every_seed_within_target": all(r is not None and r <= TARGET_RATIO for r in ratios),
            "share_drawn_mean": np.mean(shares, axis=0).tolist(),
            "final_probabilities_mean": np.mean(final_p, axis=0).tolist(),
        }
    return {"targets": targets, "uniform_steps": uniform_steps, "teachers": summary}


def best_teacher(summary: dict, teachers: list[str]) -> str:
    candidates = [t for t in teachers if t != "uniform"] or teachers
    return min(candidates, key=lambda t: (summary["teachers"][t]["mean_ratio"] or np.inf))


def plot_curves(runs: list[dict[str, Any]], teachers: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for teacher in teachers:
        mine = [run for run in runs if run["teacher"] == teacher]
        curves = np.array([smooth(run["excess_learnable"]) for run in mine])
        steps = mine[0]["eval_steps"]
        axis.plot(steps, curves.mean(axis=0), label=teacher)
        axis.fill_between(steps, curves.min(axis=0), curves.max(axis=0), alpha=0.15)
    axis.set_yscale("log")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("excess loss, learnable domains (nats)")
    axis.set_title("mean over seeds (band: min-max), smoothed over 3 evaluations")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "never"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def write_report(record: dict[str, Any], path: Path) -> None:
    summary = record["summary"]
    teachers = record["settings"]["teachers"]
    names = record["domains"]
    lines = [
        "# Data-mixture benchmark (synthetic multi-domain LM)",
        "",
        f"Command: `{record['command']}`  ",
        f"Date: {record['date']}; wall time {record['wall_time_s']:.0f} s  ",
        f"Machine: {record['machine']}  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in record["versions"].items()),
        "",
        f"Settings: {record['settings']['steps']} steps, batch 32, eval every "
        f"{record['settings']['eval_every']} steps on {record['settings']['heldout_size']} "
        f"held-out sequences per domain, seeds {record['settings']['seeds']}; domains "
        f"{', '.join(names)} with entropies "
        f"{', '.join(f'{h:.3f}' for h in record['entropy'])} nats; learnable: medium, hard.",
        "",
        "Metric: held-out excess loss averaged over the learnable domains, smoothed over 3 "
        "evaluations. `steps to uniform final`: first step at which the teacher reaches uniform's "
        "final value on the same seed; `ratio`: that over uniform's own steps to it; 'over 3 "
        f"seeds' = mean of the per-seed ratios (target <= {TARGET_RATIO}).",
        "",
        "| teacher | final excess (mean ± sd) | mean excess over training | final excess per "
        "domain (" + ", ".join(names) + ") | steps to uniform final (per seed) | ratio per seed | "
        "mean ratio | share drawn (" + ", ".join(names) + ") |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for teacher in teachers:
        row = summary["teachers"][teacher]
        lines.append(
            f"| {teacher} | {row['final_excess_mean']:.3f} ± {row['final_excess_std']:.3f} | "
            f"{row['mean_excess_over_training']:.3f} | "
            + " ".join(f"{e:.3f}" for e in row["final_excess_per_domain_mean"])
            + " | "
            + ", ".join(_fmt(s) for s in row["steps_to_uniform_final"])
            + " | "
            + ", ".join(_fmt(r, 2) for r in row["ratio_to_uniform"])
            + f" | {_fmt(row['mean_ratio'], 2)} | "
            + " ".join(f"{p:.2f}" for p in row["share_drawn_mean"])
            + " |"
        )
    best = record["best_teacher"]
    best_row = summary["teachers"][best]
    verdict = (
        "met"
        if best_row["mean_ratio"] is not None and best_row["mean_ratio"] <= TARGET_RATIO
        else "NOT met"
    )
    lines += [
        "",
        f"Best teacher: **{best}**, mean ratio {_fmt(best_row['mean_ratio'], 2)} "
        f"(every seed <= {TARGET_RATIO}: {best_row['every_seed_within_target']}); target "
        f"(<= {TARGET_RATIO}x uniform's steps, mean over seeds) **{verdict}**.",
        "",
        "Notes:",
        "",
        "- Domains: `learned` = constant sequences (H = 0), mastered early in every run (no "
        "pretraining; excluded from the metric); `medium` = order-1 Markov with 2 successors per "
        "token (H = ln 2); `hard` = order-2 Markov over 32^2 contexts (H = ln 2 after the first "
        "target, ln 32 at it); `noise` = uniform tokens (H = ln 32, excluded). Each row starts "
        "with a domain tag token, so the exact entropy is the achievable floor.",
        "- Every teacher runs with its registered defaults; nothing was tuned for this benchmark. "
        "Signals: odm and doremi get the per-domain mean loss, lp gets exp(-loss) (a success-like "
        "score in [0, 1]), exp3 gets -loss with `reward=\"progress\"`. doremi's `reference_loss` "
        "is the exact entropy of each domain (an oracle reference model, the best case for "
        "DoReMi); `doremi-ref` uses the final held-out per-domain losses of the uniform run on "
        "the same seed (DoReMi's pipeline: a reference model trained on uniform weights; its "
        "training steps are not counted). Online with its default eta = 1 it concentrates on "
        "the domain with the largest excess loss (the pitfall of reference section 7.2), which "
        "here is the bottleneck domain `hard`, and lets the domains it no longer samples drift "
        "(per-domain column, mixture plots). With the uniform-run reference, `hard` stops "
        "receiving data once its loss falls below the reference's (clipped excess 0): DoReMi "
        "aims at every domain matching the reference, not at the lowest mean.",
        "- Tried and not in the table: lp with `explore=0, epsilon=0.2` (no exploration bonus, "
        "pilot A's floor), seed 0 only: it reached uniform's final at about the same step as the "
        "defaults (~1200 of 1500); the z-scored sigmoid of lp caps any one of 4 domains near 0.4 "
        "and keeps noise near 0.2.",
        "- `hard` is learnt in a sudden drop after a plateau whose timing varies by seed; "
        "uniform's final value lies on that drop, so the per-seed ratios are noisy. Few seeds; "
        "paired by seed (same corpus, initial weights and sampler seed for every teacher).",
        "",
        f"![mixture of {best}](mixture_{best}{record['suffix']}.png)",
        "",
        f"![curves](curves{record['suffix']}.png)",
        "",
    ]
    path.write_text("\n".join(lines) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 steps, 1 seed (smoke check)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default 1500)")
    parser.add_argument("--teachers", nargs="+", default=list(TEACHERS))
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (processes)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    steps = args.steps or (300 if args.quick else 1500)
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    teachers = list(dict.fromkeys(["uniform", *args.teachers]))
    eval_every, heldout_size = 25, 128
    unknown = [t for t in teachers if REGISTRY_NAME.get(t, t) not in available()]
    if unknown:
        raise SystemExit(f"unknown teachers {unknown}; available: {available()}")

    def job(teacher: str, seed: int, **kwargs: Any) -> dict[str, Any]:
        return {
            "teacher": teacher,
            "teacher_kwargs": {**TEACHER_KWARGS.get(teacher, {}), **kwargs},
            "seed": seed,
            "steps": steps,
            "eval_every": eval_every,
            "heldout_size": heldout_size,
        }

    # uniform first: the reference rows need its final losses
    first = [job(t, seed) for t in teachers for seed in seeds if t not in REFERENCE_ROWS]
    start = time.perf_counter()
    runs: list[dict[str, Any]] = []

    def collect(run: dict[str, Any]) -> None:
        runs.append(run)
        print(
            f"[{time.perf_counter() - start:6.0f} s] {run['teacher']:<10} seed {run['seed']}: "
            f"final excess {run['excess_learnable'][-1]:.3f} ({run['train_time_s']:.0f} s)",
            flush=True,
        )

    context = multiprocessing.get_context("spawn")
    with context.Pool(max(1, args.jobs)) as pool:
        pending = []
        for run in pool.imap(run_one, first):  # in order: uniform runs finish first
            collect(run)
            if run["teacher"] == "uniform":
                reference = (np.asarray(run["excess"][-1]) + np.asarray(run["entropy"])).tolist()
                pending += [
                    pool.apply_async(run_one, (job(t, run["seed"], reference_loss=reference),))
                    for t in teachers
                    if t in REFERENCE_ROWS
                ]
        for result in pending:
            collect(result.get())
    wall = time.perf_counter() - start
    summary = summarise(runs, teachers, seeds)
    best = best_teacher(summary, teachers)

    from autocurr.agents.mix_lm import plot_mixture
    from autocurr.agents.train import machine_description, versions

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    for label in teachers:  # the mixture of every teacher on the first seed
        if label != "uniform":
            run = next(r for r in runs if r["teacher"] == label and r["seed"] == seeds[0])
            title = f"{label}, seed {seeds[0]}"
            plot_mixture(run, out / f"mixture_{label}{suffix}.png", title=title)
    plot_curves(runs, teachers, out / f"curves{suffix}.png")
    command = "python benchmarks/data_mixture.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    record = {
        "command": command.strip(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": wall,
        "machine": machine_description(),
        "versions": versions(),
        "settings": {
            "steps": steps,
            "seeds": seeds,
            "teachers": teachers,
            "teacher_kwargs": {t: TEACHER_KWARGS.get(t, {}) for t in teachers},
            "registry_names": {t: REGISTRY_NAME.get(t, t) for t in teachers},
            "eval_every": eval_every,
            "heldout_size": heldout_size,
            "smooth_window_evals": SMOOTH,
            "target_ratio": TARGET_RATIO,
            "jobs": args.jobs,
        },
        "domains": runs[0]["domains"],
        "entropy": runs[0]["entropy"],
        "suffix": suffix,
        "best_teacher": best,
        "summary": summary,
        "runs": [_compact(run) for run in sorted(runs, key=lambda r: (r["teacher"], r["seed"]))],
    }
    (out / f"results{suffix}.json").write_text(json.dumps(record, indent=1) + "\n")
    write_report(record, out / f"report{suffix}.md")
    print((out / f"report{suffix}.md").read_text())
    return 0


def _compact(run: dict[str, Any]) -> dict[str, Any]:
    """A run without its per-step mixture (kept every 25 steps)."""
    kept = {key: value for key, value in run.items() if key != "probabilities"}
    kept["probabilities_every_25_steps"] = run["probabilities"][::25]
    return kept


if __name__ == "__main__":
    raise SystemExit(main())
