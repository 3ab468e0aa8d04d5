"""A teacher picks the data domain of each SFT example (TRL SFTTrainer, tiny GPT-2, CPU, offline).

Three domains of 12-letter texts: "const" (always "a": learned in a few steps), "pattern" ("x y x
y ...": one random letter to guess, then a copy task) and "noise" (uniform letters: its loss never
drops below ln 16 per token). DoReMi's teacher up-weights the domain whose loss stays furthest
above what is achievable (its *excess* loss); we know the achievable loss of each domain exactly,
so ``reference_loss`` is exact here. Expected: "pattern" gains weight while "const" (solved) and
"noise" (nothing to learn) lose it -- plain loss (ODM) would chase the noise instead.

Run: python examples/hf_sft_curriculum.py  (about 30 s on 2 CPU cores, no download). With
``report_to="tensorboard"`` in SFTConfig, TensorBoard plots ``train/curriculum/p_<k>``.
"""

import math
import random
import tempfile

import torch
from datasets import Dataset
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
from trl import SFTConfig

import autocurr
from autocurr.integrations.hf import CurriculumSFTTrainer
from autocurr.spaces import Discrete

LETTERS = [chr(ord("a") + i) for i in range(16)]
LENGTH = 12
DOMAINS = ["const", "noise", "pattern"]  # arm order = sorted labels of the "domain" column
# Achievable mean loss per example over its 12 predicted tokens (11 letters + <eos>).
REFERENCE = {"const": 0.0, "noise": 11 * math.log(16) / 12, "pattern": math.log(16) / 12}


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(["<pad>", "<eos>", "<unk>", *LETTERS])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"\s+"), behavior="removed")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    assert tokenizer.decode(tokenizer("a b p")["input_ids"]) == "a b p"  # no silent <unk>
    return tokenizer


def build_dataset(n_per_domain: int, rng: random.Random) -> Dataset:
    rows = []
    for _ in range(n_per_domain):
        x, y = rng.choice(LETTERS), rng.choice(LETTERS)
        texts = {
            "const": ["a"] * LENGTH,
            "noise": [rng.choice(LETTERS) for _ in range(LENGTH)],
            "pattern": [x, y] * (LENGTH // 2),
        }
        rows += [{"text": " ".join(texts[name]), "domain": name} for name in DOMAINS]
    return Dataset.from_list(rows)


def main(max_steps: int = 40, seed: int = 0) -> dict[str, float]:
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=32, n_embd=32, n_layer=2, n_head=2)
    config.resid_pdrop = config.embd_pdrop = config.attn_pdrop = 0.0
    config.bos_token_id, config.eos_token_id, config.pad_token_id = 1, 1, 0
    model = GPT2LMHeadModel(config)
    # Online DoReMi needs a small step and a real floor (see the teacher's docstring).
    doremi = dict(eta=0.1, smoothing=0.05, reference_loss=[REFERENCE[name] for name in DOMAINS])
    teacher = autocurr.make_teacher("doremi", Discrete(len(DOMAINS)), seed=seed, **doremi)
    args = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="autocurr_sft_"),
        max_steps=max_steps,
        per_device_train_batch_size=12,
        learning_rate=3e-3,
        logging_steps=10,
        save_steps=20,
        dataloader_num_workers=2,
        use_cpu=True,
        report_to="none",
        seed=seed,
        ignore_data_skip=True,  # the sampler state in each checkpoint resumes the stream
    )
    trainer = CurriculumSFTTrainer(
        model=model,
        args=args,
        train_dataset=build_dataset(64, random.Random(seed)),
        processing_class=tokenizer,
        teacher=teacher,
        domain_key="domain",
    )
    trainer.train()
    for entry in trainer.curriculum_callback.history[9::10]:
        shares = "  ".join(f"{DOMAINS[k]}={p:.2f}" for k, p in enumerate(entry["probabilities"]))
        losses = "  ".join(f"{DOMAINS[k]}={v:.2f}" for k, v in sorted(entry["signals"].items()))
        print(f"step {entry['step']:3d}  p: {shares}   loss: {losses}")
    return dict(zip(DOMAINS, teacher.probabilities().tolist(), strict=True))


if __name__ == "__main__":
    print(main())
