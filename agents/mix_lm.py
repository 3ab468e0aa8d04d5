"""Data-mixture demo: a tiny causal transformer trained on a teacher-chosen mixture of domains.

What ``autocurr mix --demo lm`` runs; importable too::

    from autocurr.agents.mix_lm import MixConfig, train_mixture
    result = train_mixture(MixConfig(teacher="lp", steps=600))

Setup. The corpus is :class:`autocurr.envs.synthetic_lm.SyntheticLM` (domains ``learned``,
``medium``, ``hard``, ``noise`` with exactly known entropies). Training batches come from a torch
``DataLoader`` over the concatenated training pools whose sampler is
:class:`autocurr.data.CurriculumSampler`: every draw picks a domain from the teacher's current
probabilities, then a sequence of that domain. After each optimizer step the per-sequence losses
of the batch go into :class:`autocurr.data.DomainStats`, which reports one (domain, mean signal)
pair per domain seen in the batch to the teacher (``update_batch``, once per step). With
``num_workers=0`` the next batch already follows the updated probabilities (lag 1 batch).

Signal fed to the teacher, from its ``signal`` attribute (the loss of a sequence is its mean
next-token cross-entropy in nats):

- ``"loss"`` (odm, doremi): the loss itself;
- ``"success"`` (lp, learnability, ...): ``exp(-loss)``, the geometric-mean probability the model
  gives the sequence's tokens, a score in [0, 1] that rises as the model learns the domain;
- ``"return"`` / ``"score"`` (exp3, ...): ``-loss`` (higher is better; ``reward="progress"``
  teachers only look at its change, so the sign is immaterial there).

``doremi`` gets ``reference_loss`` = the corpus's exact per-domain entropies unless given: an
*oracle* reference model (a real run trains a small reference model for it), so its signal is the
exact excess loss.

Model: token + position embeddings, ``nn.TransformerEncoder`` (pre-norm, 2 layers, d = 64, 4 heads,
feed-forward 256, no dropout) with a causal mask, a final LayerNorm and a linear head -- the
"equivalent small transformer" of issue 6, built locally from a config (no downloads, no
``transformers``). AdamW, lr 2e-3, weight decay 0.01, batch 32 sequences of 32 tokens (plus
the domain tag). These settings are ours, fixed before any teacher was compared and never tuned
per teacher: the lr was the first value tried; 1500 steps is pilot A's budget (reference section
8.1), at which uniform mixing is midway through the ``hard`` domain's drop in loss (the last thing
it learns).
Results of every teacher on this demo: ``docs/benchmarks/data_mixture/report.md``
(``benchmarks/data_mixture.py``).

Held-out evaluation every ``eval_every`` steps: per-domain mean loss on the corpus's held-out set
minus the domain's entropy = the exact excess loss. Logged to TensorBoard as ``mix/p_<domain>``
(each step), ``mix/excess_<domain>`` and ``mix/excess_learnable`` (mean over the learnable domains),
and drawn in ``mixture.png`` (mixture and excess loss over training).

Requires torch, tensorboard, matplotlib and tqdm (the ``sb3`` extra has them). They are imported
when a run starts, so importing this module (``autocurr mix --help``) stays light.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autocurr.envs.synthetic_lm import SyntheticLM
from autocurr.teachers import Teacher, available, make_teacher

__all__ = [
    "MixConfig",
    "add_mix_parser",
    "build_model",
    "evaluate_heldout",
    "plot_mixture",
    "prepare",
    "run_mix",
    "signal_transform",
    "teacher_kwargs_for",
    "train_mixture",
]

DEMOS = ("lm",)


@dataclass
class MixConfig:
    """Settings of one mixture run (defaults: the demo, about a minute on 2 CPU cores)."""

    teacher: str = "lp"
    teacher_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 1500
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    eval_every: int = 25
    seed: int = 0
    vocab_size: int = 32
    seq_len: int = 32
    pool_size: int = 8000
    heldout_size: int = 256
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    logdir: str | None = "runs"
    run_name: str | None = None
    progress: bool = True
    threads: int | None = None


@functools.cache
def _model_class() -> type:
    # Defined on first use so that importing this module does not import torch.
    import torch
    from torch import nn

    class TinyCausalLM(nn.Module):
        """Token + position embeddings -> causal pre-norm TransformerEncoder -> LayerNorm ->
        logits over the vocabulary."""

        def __init__(self, vocab_size: int, seq_len: int, d_model=64, n_layers=2, n_heads=4):
            super().__init__()
            self.token = nn.Embedding(vocab_size, d_model)
            self.position = nn.Embedding(seq_len, d_model)
            layer = nn.TransformerEncoderLayer(
                d_model,
                n_heads,
                dim_feedforward=4 * d_model,
                dropout=0.0,
                batch_first=True,
                norm_first=True,
            )
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab_size)
            mask = nn.Transformer.generate_square_subsequent_mask(seq_len)
            self.register_buffer("causal_mask", mask, persistent=False)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            length = tokens.shape[1]
            positions = torch.arange(length, device=tokens.device)
            hidden = self.token(tokens) + self.position(positions)
            mask = self.causal_mask[:length, :length]
            hidden = self.encoder(hidden, mask=mask, is_causal=True)
            return self.head(self.norm(hidden))

    TinyCausalLM.__module__ = __name__
    TinyCausalLM.__qualname__ = "TinyCausalLM"
    return TinyCausalLM


def __getattr__(name: str) -> Any:
    if name == "TinyCausalLM":  # the model class, created lazily (see _model_class)
        return _model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_model(vocab_size: int, seq_len: int, d_model=64, n_layers=2, n_heads=4) -> Any:
    """A ``TinyCausalLM`` (an ``nn.Module``): embeddings, a causal 2-layer TransformerEncoder
    (pre-norm, 4 heads, feed-forward 4 d, no dropout), final LayerNorm, linear head."""
    return _model_class()(vocab_size, seq_len, d_model, n_layers, n_heads)


def sequence_losses(model: Any, tokens: Any, start: int = 2) -> Any:
    """Mean next-token cross-entropy of each row over target columns ``start ..`` (after the
    domain tag and ``x_0``; see ``SyntheticLM``), shape ``(B,)``."""
    from torch.nn import functional as F

    logits = model(tokens[:, :-1])[:, start - 1 :]
    targets = tokens[:, start:]
    losses = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    return losses.mean(dim=1)


def evaluate_heldout(model: Any, corpus: SyntheticLM, chunk: int = 512) -> np.ndarray:
    """Per-domain mean held-out loss (nats per predicted token)."""
    import torch

    was_training = model.training
    model.eval()
    tokens = torch.from_numpy(corpus.heldout_tokens)
    with torch.no_grad():
        losses = torch.cat(
            [sequence_losses(model, part, corpus.loss_start) for part in tokens.split(chunk)]
        )
    model.train(was_training)
    domain = corpus.heldout_domain
    return np.array([losses[domain == k].double().mean().item() for k in range(len(corpus.names))])


def signal_transform(signal: str):
    """Map per-sequence losses to the signal a teacher expects (see the module docstring)."""
    if signal == "loss":
        return lambda loss: loss
    if signal == "success":
        return lambda loss: (-loss).exp()
    if signal in ("return", "score"):
        return lambda loss: -loss
    raise ValueError(
        f"a teacher with signal {signal!r} cannot be fed language-modelling losses "
        "(supported signals: loss, success, return, score)"
    )


def teacher_kwargs_for(name: str, corpus: SyntheticLM, given: dict[str, Any]) -> dict[str, Any]:
    """Teacher hyperparameters for this demo: ``given`` plus doremi's oracle reference loss."""
    kwargs = dict(given)
    if name == "doremi" and "reference_loss" not in kwargs:
        kwargs["reference_loss"] = [float(h) for h in corpus.entropy]
    return kwargs


def _build_model(config: MixConfig, corpus: SyntheticLM) -> Any:
    import torch

    # Seed the initial weights without touching the caller's global torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_model(
            corpus.model_vocab_size,
            corpus.train_tokens.shape[1],
            config.d_model,
            config.n_layers,
            config.n_heads,
        )


def _check_config(config: MixConfig) -> None:
    for label in ("steps", "batch_size", "eval_every", "pool_size", "heldout_size"):
        value = getattr(config, label)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    if config.teacher not in available():
        raise ValueError(f"unknown teacher {config.teacher!r}; available: {available()}")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise ValueError(f"lr must be > 0, got {config.lr!r}")


def prepare(
    config: MixConfig, corpus: SyntheticLM | None = None
) -> tuple[SyntheticLM, Teacher]:
    """The corpus (built from ``config`` unless given) and teacher of a run; ``ValueError`` for
    bad settings, before any training."""
    from autocurr.spaces import Discrete

    _check_config(config)
    if corpus is None:
        corpus = SyntheticLM(
            config.vocab_size, config.seq_len, config.pool_size, config.heldout_size,
            seed=config.seed,
        )  # fmt: skip
    kwargs = teacher_kwargs_for(config.teacher, corpus, config.teacher_kwargs)
    teacher = make_teacher(config.teacher, Discrete(len(corpus.names)), seed=config.seed, **kwargs)
    signal_transform(teacher.signal)  # fails early for teachers whose signal is not a loss
    return corpus, teacher


def train_mixture(
    config: MixConfig, corpus: SyntheticLM | None = None, teacher: Teacher | None = None
) -> dict[str, Any]:
    """Train one model on the teacher's mixture; returns the history (and writes logs if
    ``config.logdir``). ``corpus`` and ``teacher`` default to :func:`prepare`'s. History:
    ``eval_steps``, ``excess`` (evals x K), ``excess_learnable``, ``probabilities`` (steps + 1 x
    K, the mixture each batch was drawn from, then the final one), ``domain_counts`` (sequences
    drawn per domain), ``train_time_s``."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from autocurr.data import CurriculumSampler, DomainStats

    if teacher is None:
        corpus, teacher = prepare(config, corpus)
    elif corpus is None:
        raise ValueError("give the corpus the teacher was built for (see prepare)")
    _check_config(config)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    n_domains = len(corpus.names)
    to_signal = signal_transform(teacher.signal)
    model = _build_model(config, corpus)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    dataset = TensorDataset(
        torch.from_numpy(corpus.train_tokens), torch.from_numpy(corpus.train_domain)
    )
    sampler = CurriculumSampler(
        teacher, corpus.pools, num_samples=config.steps * config.batch_size, seed=config.seed
    )
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True)
    stats = DomainStats(n_domains)
    logger = _RunLogger(config, corpus, teacher) if config.logdir is not None else None

    history: dict[str, Any] = {"eval_steps": [], "excess": [], "excess_learnable": []}
    probabilities = [teacher.probabilities()]
    domain_counts = np.zeros(n_domains, dtype=np.int64)

    def evaluate(step: int) -> None:
        excess = corpus.excess(evaluate_heldout(model, corpus))
        history["eval_steps"].append(step)
        history["excess"].append(excess.tolist())
        history["excess_learnable"].append(corpus.learnable_mean(excess))
        if logger is not None:
            logger.excess(step, excess, history["excess_learnable"][-1])

    bar = _progress_bar(config)
    start = time.perf_counter()
    evaluate(0)
    for step, (tokens, domain) in enumerate(loader, start=1):
        losses = sequence_losses(model, tokens, corpus.loss_start)
        loss = losses.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        stats.add(domain, to_signal(losses.detach()).double())
        stats.update_teacher(teacher)
        domain_counts += np.bincount(domain.numpy(), minlength=n_domains)
        probabilities.append(teacher.probabilities())
        if logger is not None:
            logger.step(step, probabilities[-1], loss.item())
        if step % config.eval_every == 0 or step == config.steps:
            evaluate(step)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(excess=f"{history['excess_learnable'][-1]:.3f}", refresh=False)
    if bar is not None:
        bar.close()
    history["train_time_s"] = time.perf_counter() - start
    history["probabilities"] = np.array(probabilities).tolist()
    history["domain_counts"] = domain_counts.tolist()
    history["domains"] = corpus.names
    history["entropy"] = corpus.entropy.tolist()
    history["learnable"] = corpus.learnable.tolist()
    history["teacher"] = {"name": teacher.name, "hyperparameters": _plain(teacher.hyperparameters)}
    if logger is not None:
        history["outputs"] = logger.finish(history)
    return history


def _plain(value: Any) -> Any:
    """JSON-friendly copy of hyperparameters (numpy arrays/scalars -> lists/floats)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _progress_bar(config: MixConfig):
    if not config.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=config.steps, desc=f"mix {config.teacher}", unit="step")


class _RunLogger:
    """TensorBoard scalars, summary.json and mixture.png of one run in ``<logdir>/<run_name>``."""

    def __init__(self, config: MixConfig, corpus: SyntheticLM, teacher: Teacher):
        from torch.utils.tensorboard import SummaryWriter

        name = config.run_name or f"mix_lm_{config.teacher}_seed{config.seed}"
        run_dir = Path(config.logdir) / name
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = Path(config.logdir) / f"{name}_{suffix}"
        run_dir.mkdir(parents=True)
        self.run_dir = run_dir
        self.config = config
        self.names = corpus.names
        self.writer = SummaryWriter(str(run_dir))
        self.writer.add_text("config", json.dumps(dataclasses.asdict(config), default=str))
        self.writer.add_text("teacher", json.dumps(_plain(teacher.hyperparameters), default=str))

    def step(self, step: int, probabilities: np.ndarray, loss: float) -> None:
        for name, p in zip(self.names, probabilities, strict=True):
            self.writer.add_scalar(f"mix/p_{name}", float(p), step)
        self.writer.add_scalar("train/loss", loss, step)

    def excess(self, step: int, excess: np.ndarray, learnable: float) -> None:
        for name, value in zip(self.names, excess, strict=True):
            self.writer.add_scalar(f"mix/excess_{name}", float(value), step)
        self.writer.add_scalar("mix/excess_learnable", learnable, step)

    def finish(self, history: dict[str, Any]) -> dict[str, str]:
        self.writer.close()
        png = self.run_dir / "mixture.png"
        plot_mixture(history, png, title=f"{self.config.teacher}, seed {self.config.seed}")
        summary = self.run_dir / "summary.json"
        record = {"config": dataclasses.asdict(self.config), **history}
        record.pop("probabilities")  # per step: kept in the TensorBoard events instead
        record["final_probabilities"] = history["probabilities"][-1]
        summary.write_text(json.dumps(record, indent=1) + "\n")
        return {"run_dir": str(self.run_dir), "mixture_png": str(png), "summary": str(summary)}


def plot_mixture(history: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Stacked mixture over training steps (top) and held-out excess loss per domain (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probabilities = np.asarray(history["probabilities"])
    names = history["domains"]
    steps = np.arange(probabilities.shape[0])
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.stackplot(steps, probabilities.T, labels=names, alpha=0.85)
    top.set_ylim(0, 1)
    top.set_ylabel("mixture weight")
    top.legend(loc="upper left", fontsize="small", ncol=len(names))
    top.set_title(f"data mixture over training{': ' + title if title else ''}")
    excess = np.asarray(history["excess"])
    for k, name in enumerate(names):
        bottom.plot(history["eval_steps"], excess[:, k], label=name)
    bottom.plot(
        history["eval_steps"], history["excess_learnable"], "k--", label="mean of learnable"
    )
    bottom.set_yscale("symlog", linthresh=0.01)
    bottom.set_ylabel("held-out excess loss (nats)")
    bottom.set_xlabel("optimizer step")
    bottom.legend(fontsize="small")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# ------------------------------------------------------------------------------------ CLI


def add_mix_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``mix`` (``autocurr mix --demo lm``) to an argparse ``subparsers`` object."""
    parser = subparsers.add_parser(
        "mix",
        help="train a tiny language model on a teacher-chosen mixture of synthetic domains",
        description="Data-mixture demo: a tiny causal transformer on 4 synthetic domains "
        "(learned, medium, hard, noise) with known entropies; the teacher picks the mixture "
        "every step. Outputs (TensorBoard events, mixture.png, summary.json) go to "
        "<logdir>/<run-name>/.",
    )
    parser.add_argument("--demo", default="lm", choices=DEMOS, help="default: %(default)s")
    parser.add_argument("--teacher", default="lp", choices=available(), help="default: %(default)s")
    parser.add_argument(
        "--teacher-kwargs",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="teacher hyperparameters, e.g. epsilon=0.2 (values parsed as JSON)",
    )
    parser.add_argument(
        "--steps", type=int, default=MixConfig.steps, help="optimizer steps (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument(
        "--eval-every",
        type=int,
        default=MixConfig.eval_every,
        help="held-out evaluation interval in steps (default: %(default)s)",
    )
    parser.add_argument("--logdir", default="runs", help="default: %(default)s")
    parser.add_argument("--run-name", default=None, help="default: mix_lm_<teacher>_seed<seed>")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_mix)
    return parser


def run_mix(args: argparse.Namespace) -> int:
    """Run ``autocurr mix`` from parsed arguments; prints a short report. Returns 0."""
    from autocurr.cli import CliError, parse_key_values

    config = MixConfig(
        teacher=args.teacher,
        teacher_kwargs=parse_key_values(args.teacher_kwargs),
        steps=args.steps,
        seed=args.seed,
        eval_every=args.eval_every,
        logdir=args.logdir,
        run_name=args.run_name,
        progress=not args.no_progress,
    )
    try:
        corpus, teacher = prepare(config)
    except ValueError as error:
        raise CliError(str(error)) from None
    history = train_mixture(config, corpus, teacher)
    names = history["domains"]
    final = history["probabilities"][-1]
    excess = history["excess"][-1]
    print(
        f"trained {config.steps} steps in {history['train_time_s']:.0f} s; "
        f"mean excess loss on the learnable domains: {history['excess_learnable'][0]:.3f} -> "
        f"{history['excess_learnable'][-1]:.3f} nats"
    )
    print(f"{'domain':<8} {'final p':>8} {'share drawn':>12} {'excess':>8}")
    total = max(1, sum(history["domain_counts"]))
    for k, name in enumerate(names):
        print(
            f"{name:<8} {final[k]:>8.3f} {history['domain_counts'][k] / total:>12.3f} "
            f"{excess[k]:>8.3f}"
        )
    outputs = history["outputs"]
    print(f"outputs in {outputs['run_dir']}/")
    print(f"  mixture plot      {outputs['mixture_png']}")
    print(f"  summary           {outputs['summary']}")
    print(f"  tensorboard --logdir {outputs['run_dir']}")
    return 0
