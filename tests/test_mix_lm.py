"""Synthetic LM domains, the mixture training loop and ``autocurr mix`` (issue 6 demo)."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")

from autocurr.agents.mix_lm import (  # noqa: E402
    MixConfig,
    add_mix_parser,
    signal_transform,
    teacher_kwargs_for,
    train_mixture,
)
from autocurr.envs.synthetic_lm import SyntheticLM, conditional_entropy  # noqa: E402

V = 32


@pytest.fixture(scope="module")
def corpus() -> SyntheticLM:
    return SyntheticLM(vocab_size=V, seq_len=32, pool_size=500, heldout_size=64, seed=3)


# ----------------------------------------------------------------------------- synthetic domains


@pytest.mark.parametrize(
    ("name", "order", "first", "claimed"),
    [
        ("learned", 1, 1, 0.0),
        ("medium", 1, 1, math.log(2)),
        ("hard", 2, 2, math.log(2)),
        ("noise", 0, 1, math.log(V)),
    ],
)
def test_domains_have_the_claimed_entropy(corpus, name, order, first, claimed):
    tokens = corpus.sample(name, 20_000, np.random.default_rng(0))
    estimate = conditional_entropy(tokens, order, V)
    assert estimate == pytest.approx(claimed, abs=0.01)
    k = corpus.names.index(name)
    # per-position entropy claimed from ``first`` on, and the domain entropy is their mean
    assert np.allclose(corpus.position_entropy[k, first - 1 :], claimed)
    assert corpus.entropy[k] == pytest.approx(corpus.position_entropy[k].mean())


def test_hard_domain_first_target_is_uniform(corpus):
    tokens = corpus.sample("hard", 50_000, np.random.default_rng(1))
    # x_1 given x_0: uniform (plug-in estimate is biased down by ~V^2 / (2 n))
    assert conditional_entropy(tokens[:, :2], 1, V) == pytest.approx(math.log(V), abs=0.02)
    # more context does not help: the process is exactly order 2
    assert conditional_entropy(tokens, 3, V) == pytest.approx(math.log(2), abs=0.03)


def test_corpus_layout_and_determinism(corpus):
    k_domains = len(corpus.names)
    assert corpus.train_tokens.shape == (k_domains * 500, 33)
    assert corpus.heldout_tokens.shape == (k_domains * 64, 33)
    assert np.array_equal(corpus.train_tokens[:, 0], V + corpus.train_domain)
    assert corpus.model_vocab_size == V + k_domains
    assert sorted(np.concatenate(corpus.pools).tolist()) == list(range(k_domains * 500))
    assert corpus.learnable.tolist() == [False, True, True, False]
    again = SyntheticLM(vocab_size=V, seq_len=32, pool_size=500, heldout_size=64, seed=3)
    other = SyntheticLM(vocab_size=V, seq_len=32, pool_size=500, heldout_size=64, seed=4)
    assert np.array_equal(again.train_tokens, corpus.train_tokens)
    assert not np.array_equal(other.train_tokens, corpus.train_tokens)
    # held-out rows are not training rows (fresh draws from the same processes)
    medium = corpus.names.index("medium")
    train_rows = {r.tobytes() for r in corpus.train_tokens[corpus.pools[medium]]}
    held = corpus.heldout_tokens[corpus.heldout_domain == medium]
    assert sum(r.tobytes() in train_rows for r in held) < 3


def test_bad_corpus_arguments():
    with pytest.raises(ValueError, match="domains"):
        SyntheticLM(domains=("medium", "code"))
    with pytest.raises(ValueError, match="vocab_size"):
        SyntheticLM(vocab_size=2)


# ----------------------------------------------------------------------------- training loop


def test_signal_mapping_and_doremi_reference(corpus):
    loss = torch.tensor([0.0, math.log(2)])
    assert torch.allclose(signal_transform("loss")(loss), loss)
    assert torch.allclose(signal_transform("success")(loss), torch.tensor([1.0, 0.5]))
    assert torch.allclose(signal_transform("return")(loss), -loss)
    with pytest.raises(ValueError, match="advantage"):
        signal_transform("advantage")
    kwargs = teacher_kwargs_for("doremi", corpus, {})
    assert kwargs["reference_loss"] == pytest.approx(corpus.entropy.tolist())
    assert teacher_kwargs_for("lp", corpus, {"epsilon": 0.1}) == {"epsilon": 0.1}


def _tiny(teacher: str, steps: int = 120, **overrides) -> MixConfig:
    settings = dict(
        teacher=teacher,
        steps=steps,
        eval_every=40,
        pool_size=400,
        heldout_size=32,
        logdir=None,
        progress=False,
        threads=1,
    )
    settings.update(overrides)
    return MixConfig(**settings)


def test_training_feeds_the_teacher_and_lp_avoids_noise():
    history = train_mixture(_tiny("lp"))
    probabilities = np.asarray(history["probabilities"])
    names = history["domains"]
    assert probabilities.shape == (121, 4)
    assert np.allclose(probabilities[0], 0.25)  # before any update
    assert np.abs(probabilities[1:] - 0.25).max() > 0.1  # the teacher moved
    noise = names.index("noise")
    assert probabilities[1:, noise].mean() < 0.25  # less than uniform on pure noise
    counts = np.asarray(history["domain_counts"])
    assert counts.sum() == 120 * 32
    # the sampler follows the teacher: drawn shares track the mean mixture
    shares = counts / counts.sum()
    assert np.abs(shares - probabilities[:-1].mean(axis=0)).max() < 0.05
    # the model learns: excess loss on the learnable domains falls
    assert history["excess_learnable"][-1] < history["excess_learnable"][0] - 0.5
    assert history["eval_steps"] == [0, 40, 80, 120]


def test_same_seed_same_run():
    first = train_mixture(_tiny("exp3", steps=30, eval_every=30))
    second = train_mixture(_tiny("exp3", steps=30, eval_every=30))
    assert first["domain_counts"] == second["domain_counts"]
    assert np.allclose(first["excess"], second["excess"])


# ----------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autocurr")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_mix_parser(subparsers)
    return parser


def test_cli_defaults():
    args = _parser().parse_args(["mix"])
    assert (args.demo, args.teacher, args.steps, args.seed) == ("lm", "lp", 1500, 0)
    assert args.logdir == "runs" and not args.no_progress
    with pytest.raises(SystemExit):
        _parser().parse_args(["mix", "--demo", "vision"])


def test_run_mix_writes_tensorboard_and_png(tmp_path, capsys):
    args = _parser().parse_args(
        [
            "mix",
            "--demo",
            "lm",
            "--teacher",
            "lp",
            "--steps",
            "12",
            "--eval-every",
            "6",
            "--seed",
            "1",
            "--logdir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert args.handler(args) == 0
    run_dir = tmp_path / "mix_lm_lp_seed1"
    events = list(run_dir.glob("events.out.tfevents*"))
    assert events
    png = run_dir / "mixture.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["eval_steps"] == [0, 6, 12]
    assert len(summary["final_probabilities"]) == 4
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    assert {"mix/p_noise", "mix/p_hard", "mix/excess_medium", "mix/excess_learnable"} <= tags
    assert len(accumulator.Scalars("mix/p_noise")) == 12
    out = capsys.readouterr().out
    assert "outputs in" in out and "noise" in out


def test_run_mix_rejects_bad_steps(tmp_path):
    from autocurr.cli import CliError

    args = _parser().parse_args(["mix", "--steps", "0", "--logdir", str(tmp_path)])
    with pytest.raises(CliError, match="steps"):
        args.handler(args)


def test_run_mix_rejects_teachers_without_a_loss_signal(tmp_path):
    from autocurr.cli import CliError

    args = _parser().parse_args(["mix", "--teacher", "sec", "--logdir", str(tmp_path)])
    with pytest.raises(CliError, match="advantage"):
        args.handler(args)
    args = _parser().parse_args(
        ["mix", "--teacher", "lp", "--teacher-kwargs", "epsilon=2", "--logdir", str(tmp_path)]
    )
    with pytest.raises(CliError, match="epsilon"):
        args.handler(args)
    assert not any(tmp_path.iterdir())  # nothing written before the error
