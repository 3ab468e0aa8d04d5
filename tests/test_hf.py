"""Tests of autocurr.integrations.hf: collator, samplers, signals, callback and real trainer runs.

Fast tests check the pieces on their own; the ``slow`` tests train a tiny GPT-2 built from a
config (no downloads) with TRL's SFTTrainer and GRPOTrainer on CPU with 2 DataLoader workers.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

_TRL_LOADED_BEFORE = "trl" in sys.modules
from autocurr import make_teacher  # noqa: E402
from autocurr.data import CurriculumSampler, DomainStats  # noqa: E402
from autocurr.integrations import hf  # noqa: E402

_TRL_LOADED_BY_IMPORT = not _TRL_LOADED_BEFORE and "trl" in sys.modules
from autocurr.spaces import Discrete  # noqa: E402

LETTERS = [chr(ord("a") + i) for i in range(16)]
SPECIALS = ["<pad>", "<eos>", "<unk>"]


# ================================================================================== fixtures
def tiny_tokenizer():
    """A word-level tokenizer over 16 letters, built locally (no download)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    vocab = {token: i for i, token in enumerate(SPECIALS + LETTERS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    # A plain-string Split pattern silently maps everything to one id (reference §8.3): use Regex.
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"\s+"), behavior="removed")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    ids = tokenizer("a b p")["input_ids"]
    assert ids == [vocab["a"], vocab["b"], vocab["p"]], ids  # round trip, no silent <unk>/<pad>
    assert tokenizer.decode(ids) == "a b p"
    return tokenizer


def tiny_model(seed: int = 0):
    config = transformers.GPT2Config(
        vocab_size=len(SPECIALS) + len(LETTERS),
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=1,
        eos_token_id=1,
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    return transformers.GPT2LMHeadModel(config)


def constant_and_noise_rows(n_per_domain: int = 64, length: int = 12) -> list[dict]:
    """Domain "const" (always "a": learned in a few steps) and "noise" (uniform letters: its
    loss cannot drop below ln 16)."""
    rng = random.Random(0)
    rows = []
    for _ in range(n_per_domain):
        rows.append({"text": " ".join(["a"] * length), "domain": "const"})
        noise = " ".join(rng.choice(LETTERS) for _ in range(length))
        rows.append({"text": noise, "domain": "noise"})
    return rows


def fitted_sec_teacher(q_values, seed=0):
    """A SEC teacher moved away from uniform by a few updates (then left alone)."""
    teacher = make_teacher("sec", Discrete(len(q_values)), seed=seed, tau=0.2)
    for _ in range(3):
        teacher.update_batch(list(range(len(q_values))), list(q_values))
    return teacher


# ================================================================================== collator
def test_domain_collator_carries_domain_through_base_collator():
    seen = []

    def base(features):
        seen.append(features)
        return {"input_ids": torch.tensor([f["input_ids"] for f in features])}

    collator = hf.DomainCollator(base, "domain", {"easy": 0, "hard": 1})
    features = [{"input_ids": [1, 2], "domain": "hard"}, {"input_ids": [3, 4], "domain": "easy"}]
    batch = collator(features)
    assert batch["domain"].tolist() == [1, 0]
    assert batch["domain"].dtype == torch.long
    assert all("domain" not in f for f in seen[0])  # the base collator never sees the column
    with pytest.raises(ValueError, match="no 'domain' column"):
        collator([{"input_ids": [1, 2]}])
    with pytest.raises(ValueError, match="not one of"):
        collator([{"input_ids": [1, 2], "domain": "other"}])
    default = hf.DomainCollator()  # transformers.default_data_collator, labels = arm ids
    assert default([{"input_ids": [1], "domain": 3}])["domain"].tolist() == [3]


# ================================================================================== losses
def test_per_example_loss_matches_cross_entropy_on_label_tokens():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 7)
    labels = torch.randint(0, 7, (3, 5))
    labels[0, :3] = -100  # prompt tokens of example 0 are masked (completion-only loss)
    labels[2, 1:] = -100  # example 2 has no label token after the shift
    losses, has_tokens = hf.per_example_loss({"logits": logits}, labels)
    assert has_tokens.tolist() == [True, True, False]
    for row in range(2):
        targets = labels[row, 1:]
        keep = targets != -100
        expected = torch.nn.functional.cross_entropy(logits[row, :-1][keep], targets[keep])
        assert losses[row].item() == pytest.approx(expected.item(), rel=1e-6)

    class Fused:  # TRL's fused LM head output: per-token log-probs, zero where masked
        log_probs = torch.tensor([[-1.0, -3.0, 0.0], [-2.0, 0.0, 0.0]])
        label_mask = torch.tensor([[True, True, False], [True, False, False]])

    losses, has_tokens = hf.per_example_loss(Fused(), None)
    assert losses.tolist() == [2.0, 2.0] and has_tokens.tolist() == [True, True]
    with pytest.raises(ValueError, match="per-example losses"):
        hf.per_example_loss({"loss": 1.0}, labels)


# ================================================================================== samplers
def test_resumable_sampler_replays_pending_draws_then_continues_the_stream():
    def build():
        teacher = make_teacher("odm", Discrete(3), seed=0)
        pools = [np.arange(0, 10), np.arange(10, 20), np.arange(20, 30)]
        return teacher, hf.ResumableSampler(CurriculumSampler(teacher, pools, 400, seed=5))

    def train(teacher, stream, start, stop):  # one teacher update per "step" of 4 indices
        for step in range(start, stop):
            batch = stream[4 * step : 4 * step + 4]
            teacher.update_batch([i // 10 for i in batch], [float(i % 7) for i in batch])

    teacher, sampler = build()
    iterator = iter(sampler)
    uninterrupted = [next(iterator) for _ in range(40)]  # 10 steps drawn ...
    train(teacher, uninterrupted, 0, 8)  # ... but only 8 consumed when the checkpoint is taken
    sampler.mark_consumed(32)
    state, teacher_state = sampler.state_dict(consumed=32), teacher.state_dict()
    assert state["pending"] == uninterrupted[32:40]
    train(teacher, uninterrupted, 8, 10)
    uninterrupted += [next(iterator) for _ in range(40)]

    resumed_teacher, resumed = build()
    resumed_teacher.load_state_dict(teacher_state)
    resumed.load_state_dict(state)
    stream = list(uninterrupted[:32])
    iterator = iter(resumed)
    stream += [next(iterator) for _ in range(8)]
    train(resumed_teacher, stream, 8, 10)
    stream += [next(iterator) for _ in range(40)]
    assert stream == uninterrupted
    assert resumed.position == 80
    with pytest.raises(ValueError, match="outside the remembered stream"):
        resumed.state_dict(consumed=10)


def _trl_slot_pattern(n_chunks, batch_size, group, repeat):
    """Which prompt slot of its chunk each position of TRL's RepeatSampler stream holds."""
    from trl.trainer.utils import RepeatSampler

    data = list(range(n_chunks * batch_size))
    stream = list(RepeatSampler(data, group, batch_size, repeat, shuffle=True, seed=3))
    chunk_length = batch_size * group * repeat
    pattern = []
    for start in range(0, len(stream), chunk_length):
        chunk = stream[start : start + chunk_length]
        order = list(dict.fromkeys(chunk))  # distinct prompts in first-appearance order
        assert len(order) == batch_size
        pattern += [order.index(i) for i in chunk]
    return pattern


def test_repeat_sampler_keeps_trl_repeat_sampler_contract():
    pytest.importorskip("trl")
    n_chunks, batch_size, group, repeat = 6, 4, 3, 2
    teacher = fitted_sec_teacher([0.0, 1.0, 0.3])
    pools = [np.arange(0, 50), np.arange(50, 100), np.arange(100, 150)]
    sampler = hf.CurriculumRepeatSampler(
        teacher,
        pools,
        mini_repeat_count=group,
        batch_size=batch_size,
        repeat_count=repeat,
        num_chunks=n_chunks,
        seed=11,
    )
    stream = list(sampler)
    pattern = _trl_slot_pattern(n_chunks, batch_size, group, repeat)
    assert len(stream) == len(sampler) == len(pattern)
    # The prompts: batch_size per chunk from the teacher, drawn with CurriculumSampler's rule.
    draws = list(CurriculumSampler(teacher, pools, n_chunks * batch_size, seed=11))
    chunk_length = batch_size * group * repeat
    expected = [draws[(p // chunk_length) * batch_size + slot] for p, slot in enumerate(pattern)]
    assert stream == expected
    # Same seed (every rank) -> same stream.
    twin = hf.CurriculumRepeatSampler(teacher, pools, group, batch_size, repeat, n_chunks, seed=11)
    assert list(twin) == stream


def test_repeat_sampler_prompts_follow_teacher_and_resume_mid_chunk():
    teacher = fitted_sec_teacher([0.0, 1.0, 0.3])
    probs = teacher.probabilities()
    pools = [np.arange(0, 50), np.arange(50, 100), np.arange(100, 150)]
    sampler = hf.CurriculumRepeatSampler(teacher, pools, 2, 8, 1, num_chunks=250, seed=0)
    stream = list(sampler)
    prompts = np.asarray(stream[::2]) // 50  # one entry per prompt group -> its level
    counts = np.bincount(prompts, minlength=3)
    expected = probs * prompts.size
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 13.8  # chi-square, 2 degrees of freedom, p = 0.001

    sampler = hf.CurriculumRepeatSampler(teacher, pools, 3, 2, 2, num_chunks=5, seed=1)
    iterator = iter(sampler)
    head = [next(iterator) for _ in range(17)]  # stops inside the 2nd chunk (12 per chunk)
    state = sampler.state_dict()
    tail = list(iterator)
    fresh = hf.CurriculumRepeatSampler(teacher, pools, 3, 2, 2, num_chunks=5, seed=1)
    fresh.load_state_dict(state)
    assert list(fresh) == tail and len(head + tail) == len(sampler)


# ================================================================================== GRPO signals
def test_grpo_teacher_signals_per_signal_kind():
    levels = torch.tensor([2, 2, 0, 0, 2, 2, 1, 1])  # 4 groups of G = 2
    advantages = torch.tensor([1.0, -1.0, 0.0, 0.0, 0.5, -0.5, 0.0, 0.0])
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, float("nan"), 0.0, 0.0])
    arms, values = hf.grpo_teacher_signals("advantage", levels, advantages, rewards, 2)
    assert arms == [0, 1, 2] and values == pytest.approx([0.0, 0.0, 0.75])
    arms, values = hf.grpo_teacher_signals("success", levels, advantages, rewards, 2)
    assert arms == [0, 1, 2, 2] and values == pytest.approx([1.0, 0.0, 0.5, 1.0])  # per group
    arms, values = hf.grpo_teacher_signals("return", levels, advantages, rewards, 2)
    assert arms == [0, 1, 2] and values == pytest.approx([1.0, 0.0, 2.0 / 3.0])  # NaN left out
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\]"):
        hf.grpo_teacher_signals("success", levels, advantages, 2.0 * rewards, 2)
    with pytest.raises(ValueError, match="mixes levels"):
        hf.grpo_teacher_signals("advantage", torch.tensor([0, 1]), advantages[:2], rewards[:2], 2)
    with pytest.raises(ValueError, match="not one of"):
        hf.grpo_teacher_signals("length", levels, advantages, rewards, 2)


# ================================================================================== callback
class _Args:
    def __init__(self, output_dir, ignore_data_skip=False):
        self.output_dir = str(output_dir)
        self.ignore_data_skip = ignore_data_skip


def test_callback_updates_once_per_step_logs_and_checkpoints(tmp_path):
    from transformers import TrainerControl, TrainerState

    teacher = make_teacher("odm", Discrete(2), seed=0, reward_scale=5.0)
    stats = DomainStats(2)
    callback = hf.CurriculumCallback(teacher, stats)
    args, state, control = _Args(tmp_path), TrainerState(), TrainerControl()
    with pytest.warns(UserWarning, match="ignore_data_skip=True"):
        callback.on_init_end(args, state, control)
    assert args.ignore_data_skip is True
    for micro_batch in range(3):  # gradient accumulation: three adds, one update
        stats.add(torch.tensor([0, 1, 1]), torch.tensor([0.5, 3.0, 2.0 + micro_batch]))
    state.global_step = 1
    callback.on_step_end(args, state, control)
    assert teacher.n_updates == 2  # one (arm, mean) pair per arm seen in the step
    assert callback.last_signals == pytest.approx({0: 0.5, 1: 3.0})  # (3 + 2 + 3 + 3 + 3 + 4) / 6
    logs = callback.log_values()
    assert set(logs) == {
        "curriculum/p_0",
        "curriculum/p_1",
        "curriculum/signal_0",
        "curriculum/signal_1",
    }
    assert logs["curriculum/p_0"] + logs["curriculum/p_1"] == pytest.approx(1.0)
    callback.on_save(args, state, control)
    folder = tmp_path / "checkpoint-1"
    summary = json.loads((folder / hf.CHECKPOINT_SUMMARY).read_text())
    assert summary["teacher"] == "odm" and summary["global_step"] == 1
    saved_probs = teacher.probabilities()

    fresh = make_teacher("odm", Discrete(2), seed=0, reward_scale=5.0)
    restored = hf.CurriculumCallback(fresh, DomainStats(2))
    restored.resume_from = str(folder)
    restored.on_train_begin(args, state, control)
    assert np.array_equal(fresh.probabilities(), saved_probs)
    assert fresh.n_updates == teacher.n_updates and restored.last_signals == callback.last_signals


def test_import_does_not_import_trl():
    if _TRL_LOADED_BEFORE:
        pytest.skip("trl was imported before this module (by another test file)")
    assert not _TRL_LOADED_BY_IMPORT


def test_curriculum_trainer_on_a_plain_trainer(tmp_path):
    """transformers.Trainer with a tokenised dataset: logits path, domain column kept."""
    datasets = pytest.importorskip("datasets")
    tokenizer = tiny_tokenizer()
    rows = []
    for row in constant_and_noise_rows(8, 6):
        ids = tokenizer(row["text"])["input_ids"]
        rows.append({"input_ids": ids, "labels": ids, "domain": row["domain"]})
    teacher = make_teacher("odm", Discrete(2), seed=0)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=3,
        per_device_train_batch_size=4,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        ignore_data_skip=True,
    )
    trainer = hf.CurriculumTrainer(
        model=tiny_model(),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        teacher=teacher,
    )
    trainer.train()
    assert teacher.n_updates >= 3  # every step saw at least one domain
    assert len(trainer.curriculum_sampler.sampler) == 3 * 4
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert logged and all("curriculum/p_1" in entry for entry in logged)


# ================================================================================== real runs
def _sft_trainer(tmp_path, teacher, max_steps, **config):
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    settings = dict(
        output_dir=str(tmp_path / "run"),
        max_steps=max_steps,
        per_device_train_batch_size=8,
        logging_steps=5,
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=2,
        save_strategy="no",
        learning_rate=3e-3,
        ignore_data_skip=True,
        seed=0,
    )
    settings.update(config)
    return hf.CurriculumSFTTrainer(
        model=tiny_model(),
        args=trl.SFTConfig(**settings),
        train_dataset=datasets.Dataset.from_list(constant_and_noise_rows()),
        processing_class=tiny_tokenizer(),
        teacher=teacher,
    )


def _record_domains(trainer) -> list[list[int]]:
    """Spy on DomainStats.add: the domain ids of each training micro-batch."""
    batches: list[list[int]] = []
    original = trainer.domain_stats.add

    def add(domain_ids, values):
        batches.append(torch.as_tensor(domain_ids).tolist())
        original(domain_ids, values)

    trainer.domain_stats.add = add
    return batches


def _follows(counts_per_batch, probs_per_batch):
    """Observed draws of an arm vs the teacher's probabilities at draw time: (z, z_uniform)."""
    observed = sum(counts_per_batch)
    expected = sum(p * n for p, n in probs_per_batch)
    variance = sum(p * (1 - p) * n for p, n in probs_per_batch)
    total = sum(n for _, n in probs_per_batch)
    uniform = total / 2.0
    return (observed - expected) / math.sqrt(variance), (observed - uniform) / math.sqrt(total / 4)


@pytest.mark.slow
def test_sft_trainer_end_to_end_teacher_reacts_and_sampling_follows(tmp_path, monkeypatch):
    """ODM rewards loss: the noise domain keeps a high loss, so its probability must rise; the
    domains drawn (2 workers) must follow the probabilities of a few steps earlier."""
    pytest.importorskip("tensorboard")
    teacher = make_teacher("odm", Discrete(2), seed=0, reward_scale=10.0)
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    trainer = _sft_trainer(tmp_path, teacher, 40, report_to="tensorboard")
    assert trainer._domain_names == ["const", "noise"]
    batches = _record_domains(trainer)
    trainer.train()
    history = trainer.curriculum_callback.history
    assert len(history) == 40 and len(batches) == 40
    signals = history[-1]["signals"]
    assert signals[1] > 2.0 > 1.0 > signals[0]  # noise stays near ln 16, const is learned
    p_noise = [entry["probabilities"][1] for entry in history]
    assert p_noise[-1] > 0.7 and p_noise[-1] > p_noise[5] > 0.5
    # Batch t (0-based) was drawn up to lag = 2 workers x prefetch 2 + 1 look-ahead steps before
    # it was trained on, i.e. with the probabilities after update t - 5 (uniform before).
    lag = 5
    after_updates = [0.5, *p_noise]  # after_updates[u]: p_noise once u updates were made
    window = range(10, 40)
    z, z_uniform = _follows(
        [sum(batches[t]) for t in window], [(after_updates[t - lag], 8) for t in window]
    )
    assert abs(z) < 4.0 and z_uniform > 4.0
    # TensorBoard got the mixture.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert {"train/curriculum/p_0", "train/curriculum/p_1"} <= set(events.Tags()["scalars"])


@pytest.mark.slow
@pytest.mark.parametrize(("workers", "accumulation"), [(2, 2), (0, 1)])
def test_sft_resume_restores_teacher_and_continues_the_same_stream(
    tmp_path, monkeypatch, workers, accumulation
):
    streams: list[list[int]] = []
    original_iter = hf.ResumableSampler.__iter__

    def recording_iter(self):
        stream: list[int] = []
        streams.append(stream)
        for index in original_iter(self):
            stream.append(index)
            yield index

    monkeypatch.setattr(hf.ResumableSampler, "__iter__", recording_iter)

    def run(resume):
        teacher = make_teacher("odm", Discrete(2), seed=0, reward_scale=5.0)
        trainer = _sft_trainer(
            tmp_path,
            teacher,
            12,
            per_device_train_batch_size=4,
            save_steps=6,
            save_strategy="steps",
            dataloader_num_workers=workers,
            gradient_accumulation_steps=accumulation,
        )
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    full = run(None)
    checkpoint = tmp_path / "run" / "checkpoint-6"
    saved = torch.load(checkpoint / hf.CHECKPOINT_FILE, weights_only=False)
    resumed = run(str(checkpoint))
    # Same teacher state as at save: what was restored, and what the uninterrupted run had.
    restored = resumed.curriculum_callback.restored_state
    assert restored["n_updates"] == saved["teacher"]["n_updates"]
    assert json.dumps(restored, default=repr) == json.dumps(saved["teacher"], default=repr)
    assert (
        full.curriculum_callback.history[5]["probabilities"]
        == json.loads((checkpoint / hf.CHECKPOINT_SUMMARY).read_text())["probabilities"]
    )
    # The next indices equal those of the uninterrupted run: the drawn-but-unconsumed ones are
    # replayed from the checkpoint, then the saved generator continues.
    consumed = 6 * 4 * accumulation
    uninterrupted, after_resume = streams[0], streams[1]
    needed = (12 - 6) * 4 * accumulation
    assert after_resume[:needed] == uninterrupted[consumed : consumed + needed]
    if workers:
        assert len(saved["sampler"]["pending"]) > 0  # the workers had drawn ahead
    # Training itself is deterministic on CPU, so the whole teacher trajectory matches.
    assert [h["probabilities"] for h in resumed.curriculum_callback.history] == [
        h["probabilities"] for h in full.curriculum_callback.history[6:]
    ]


GRPO_LEVELS = 3


def _grpo_trainer(tmp_path, teacher, max_steps):
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    tokenizer = tiny_tokenizer()
    rows = [
        {"prompt": f"{LETTERS[level]} {LETTERS[i]}", "level": level}
        for level in range(GRPO_LEVELS)
        for i in range(16)
    ]
    even = set(tokenizer.convert_tokens_to_ids(LETTERS[::2]))

    def verifier(prompts, completions, completion_ids, level, **kwargs):
        # Binary verifier: level 0 always solved, level 1 never, level 2 solved when the first
        # generated token is an even letter (about half the time for the untrained policy).
        return [
            1.0 if lv == 0 else 0.0 if lv == 1 else float(bool(ids) and ids[0] in even)
            for ids, lv in zip(completion_ids, level, strict=True)
        ]

    config = trl.GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        max_steps=max_steps,
        per_device_train_batch_size=16,
        num_generations=4,
        max_completion_length=3,
        logging_steps=5,
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=2,
        save_strategy="no",
        learning_rate=1e-3,
        seed=0,
        ignore_data_skip=True,
    )
    return hf.CurriculumGRPOTrainer(
        model=tiny_model(),
        args=config,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        reward_funcs=verifier,
        teacher=teacher,
        domain_key="level",
    )


@pytest.mark.slow
@pytest.mark.parametrize(("name", "hyperparameters"), [("sec", {"tau": 0.2}), ("learnability", {})])
def test_grpo_trainer_end_to_end_teacher_reacts_and_sampling_follows(
    tmp_path, monkeypatch, name, hyperparameters
):
    """Levels 0 (always solved) and 1 (never) give zero-variance groups; level 2 is a coin flip.
    SEC (|advantage|) and learnability (p(1-p) per group) must both move to level 2."""
    teacher = make_teacher(name, Discrete(GRPO_LEVELS), seed=0, **hyperparameters)
    trainer = _grpo_trainer(tmp_path, teacher, 24)
    generations: list[list[int]] = []
    original = hf.grpo_teacher_signals

    def spy(signal, levels, advantages, rewards, num_generations):
        groups = levels.view(-1, num_generations)
        assert torch.all(groups == groups[:, :1])  # G copies of one prompt, in a row
        generations.append(groups[:, 0].tolist())
        return original(signal, levels, advantages, rewards, num_generations)

    monkeypatch.setattr(hf, "grpo_teacher_signals", spy)
    trainer.train()
    history = trainer.curriculum_callback.history
    assert len(generations) == 24 and len(history) == 24  # one teacher update per generation
    assert all(len(prompts) == 4 for prompts in generations)  # 16 completions / G = 4
    assert teacher.probabilities()[2] > 0.8
    # Prompts of generation g were drawn with the probabilities after update g - 5 (uniform
    # before): lag = 2 workers x prefetch 2 + 1 look-ahead generation batches.
    lag = 5
    uniform = [1.0 / GRPO_LEVELS] * GRPO_LEVELS
    after_updates = [uniform] + [entry["probabilities"] for entry in history]
    probs = {g: after_updates[g - lag] for g in range(lag, 24)}
    window = range(8, 24)
    observed = sum(prompts.count(2) for g in window for prompts in [generations[g]])
    expected = sum(4 * probs[g][2] for g in window)
    variance = sum(4 * probs[g][2] * (1 - probs[g][2]) for g in window)
    assert abs(observed - expected) < 4.0 * math.sqrt(variance) + 1.0
    assert observed > len(window) * 4 * 0.6  # far above uniform's 1/3
    assert trainer.state.log_history[0]["curriculum/p_2"] > 1.0 / GRPO_LEVELS


@pytest.mark.slow
def test_example_hf_sft_curriculum_moves_weight_to_the_learnable_domain():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "examples" / "hf_sft_curriculum.py"
    spec = importlib.util.spec_from_file_location("hf_sft_curriculum", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    probabilities = example.main(max_steps=40)
    assert probabilities["pattern"] > 0.5
    assert probabilities["noise"] < 1.0 / 3.0 and probabilities["const"] < 1.0 / 3.0


_DDP_WORKER = """
import json, sys
sys.path.insert(0, {tests!r})
import torch.distributed as dist
import test_hf as T
from autocurr import make_teacher
from autocurr.integrations import hf
from autocurr.spaces import Discrete

mode, out, resume = sys.argv[1], T.Path(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 else None)
streams, generations = [], []
original_iter = hf.ResumableSampler.__iter__

def recording_iter(self):
    streams.append([])
    for index in original_iter(self):
        streams[-1].append(index)
        yield index

hf.ResumableSampler.__iter__ = recording_iter
if mode == "sft":
    teacher = make_teacher("odm", Discrete(2), seed=0, reward_scale=10.0)
    trainer = T._sft_trainer(out, teacher, 8, per_device_train_batch_size=4, save_steps=4,
                             save_strategy="steps", gradient_accumulation_steps=2)
else:
    teacher = make_teacher("learnability", Discrete(T.GRPO_LEVELS), seed=0)
    trainer = T._grpo_trainer(out, teacher, 6)
    original = hf.grpo_teacher_signals

    def spy(signal, levels, advantages, rewards, num_generations):
        generations.append(levels.tolist())
        return original(signal, levels, advantages, rewards, num_generations)

    hf.grpo_teacher_signals = spy
trainer.train(resume_from_checkpoint=resume)
result = {{
    "world": dist.get_world_size(),
    "probabilities": [h["probabilities"] for h in trainer.curriculum_callback.history],
    "stream": streams[0],
    "generations": generations,
}}
name = f"{{mode}}_rank{{dist.get_rank()}}{{'_resumed' if resume else ''}}.json"
(out / name).write_text(json.dumps(result))
"""


@pytest.mark.slow
def test_ddp_two_cpu_processes_keep_teachers_identical_and_resume_exactly(tmp_path):
    """torchrun, 2 processes, gloo on CPU: all-reduced SFT losses and gathered GRPO statistics
    give identical teachers on both ranks; resume replays the same global stream on each rank."""
    pytest.importorskip("trl")
    worker = tmp_path / "worker.py"
    worker.write_text(_DDP_WORKER.format(tests=str(Path(__file__).resolve().parent)))

    def launch(*arguments):
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(worker),
            *arguments,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    def load(name):
        return [json.loads((tmp_path / f"{name}_rank{r}.json").read_text()) for r in (0, 1)]

    launch("sft", str(tmp_path))
    launch("sft", str(tmp_path), str(tmp_path / "run" / "checkpoint-4"))
    launch("grpo", str(tmp_path))
    full, resumed = (
        load("sft"),
        [json.loads((tmp_path / f"sft_rank{r}_resumed.json").read_text()) for r in (0, 1)],
    )
    assert full[0]["world"] == 2
    assert full[0]["probabilities"] == full[1]["probabilities"]  # replicated teachers agree
    assert full[0]["stream"] == full[1]["stream"]  # every rank iterates the same sampler stream
    consumed, remaining = 4 * 4 * 2 * 2, (8 - 4) * 4 * 2 * 2  # steps x batch x accum x ranks
    for rank in (0, 1):
        assert resumed[rank]["probabilities"] == full[rank]["probabilities"][4:]
        assert resumed[rank]["stream"][:remaining] == full[0]["stream"][consumed:][:remaining]
    grpo = load("grpo")
    assert grpo[0]["probabilities"] == grpo[1]["probabilities"]
    assert grpo[0]["generations"] == grpo[1]["generations"]
    # Gathered: 2 ranks x 16 completions, 8 prompt groups of G = 4 per generation batch.
    assert all(len(levels) == 32 for levels in grpo[0]["generations"])


@pytest.mark.slow
def test_grpo_resume_restores_teacher_and_replays_pending_prompts(tmp_path, monkeypatch):
    """GRPO resume: the teacher state and the prompts drawn ahead of the checkpoint are exact.
    Later prompts use the same uniforms, but the rollouts are random (global torch RNG, which a
    resumed Trainer does not reproduce bit for bit), so the teacher may then drift."""
    streams: list[list[int]] = []
    original_iter = hf.ResumableSampler.__iter__

    def recording_iter(self):
        streams.append([])
        for index in original_iter(self):
            streams[-1].append(index)
            yield index

    monkeypatch.setattr(hf.ResumableSampler, "__iter__", recording_iter)

    def run(resume):
        teacher = make_teacher("sec", Discrete(GRPO_LEVELS), seed=0, tau=0.2)
        trainer = _grpo_trainer(tmp_path, teacher, 8)
        trainer.args.save_strategy, trainer.args.save_steps = "steps", 4
        trainer.train(resume_from_checkpoint=resume)
        return trainer

    run(None)
    checkpoint = tmp_path / "grpo" / "checkpoint-4"
    saved = torch.load(checkpoint / hf.CHECKPOINT_FILE, weights_only=False)
    resumed = run(str(checkpoint))
    restored = resumed.curriculum_callback.restored_state
    assert json.dumps(restored, default=repr) == json.dumps(saved["teacher"], default=repr)
    pending = saved["sampler"]["pending"]
    consumed = 4 * 16  # steps x generation batch (G = 4 copies of 4 prompts)
    assert len(pending) >= 16 and streams[0][consumed : consumed + len(pending)] == pending
    assert streams[1][: len(pending)] == pending
    groups = np.asarray(streams[1]).reshape(-1, 4)  # the repeat contract survives the resume
    assert np.all(groups == groups[:, :1])
