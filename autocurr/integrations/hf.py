"""Hugging Face integrations: a teacher picks the data domain (SFT) or difficulty level (GRPO).

Install with ``pip install "autocurr[hf]"``. ``transformers`` is imported with this module; ``trl``
only when :data:`CurriculumSFTTrainer` or :data:`CurriculumGRPOTrainer` is first used.

Supervised (``transformers.Trainer`` / TRL ``SFTTrainer``)::

    teacher = make_teacher("doremi", Discrete(K), seed=0, eta=0.1, smoothing=0.05,
                           reference_loss=[...])             # any finite-space loss teacher
    trainer = CurriculumSFTTrainer(model=model, args=SFTConfig(max_steps=1000, ...),
                                   train_dataset=ds, processing_class=tok,
                                   teacher=teacher, domain_key="domain")
    trainer.train()

- ``_get_train_sampler`` returns a :class:`autocurr.data.CurriculumSampler` over the pools of the
  ``domain_key`` column (one pool per label, sorted labels = arms ``0..K-1`` unless ``domains`` /
  ``domain_names`` are given) with ``max_steps x global batch`` draws, wrapped in a
  :class:`ResumableSampler`.
- The domain column survives: it is added to the signature columns (so
  ``remove_unused_columns=True`` keeps it) and :class:`DomainCollator` carries it through the
  trainer's own collator as a ``LongTensor`` of arm ids.
- ``compute_loss`` pops the domain ids, lets the parent compute the loss and records each
  example's mean loss over its *label tokens* (``labels != -100``: completion-only /
  assistant-only masks are honoured) in a :class:`autocurr.data.DomainStats`. The teacher is
  never updated there (gradient accumulation would update it mid-step, differently per rank).
- :class:`CurriculumCallback` reduces the stats and calls ``teacher.update_batch`` once per
  optimizer step (``on_step_end``, one ``(arm, mean loss)`` pair per arm seen in the step), and the
  trainer's ``log`` adds ``curriculum/p_<k>`` (and ``curriculum/signal_<k>``, the last mean
  reported for arm ``k``) to every training log, hence to TensorBoard/W&B/....

RL post-training (TRL ``GRPOTrainer``): :class:`CurriculumRepeatSampler` keeps TRL's
``RepeatSampler`` contract -- per chunk ``generation_batch_size / G`` prompts, one per arm drawn
from the teacher, each emitted ``G`` times in a row, the chunk repeated ``num_iterations x
steps_per_generation`` times, same seed on every rank. After each generation batch the trainer
gathers (level, |advantage|, reward) of every completion over all processes and updates the
teacher once, with what ``teacher.signal`` asks for:

- ``"advantage"`` (``sec``): per level, the mean |advantage| of its completions;
- ``"success"`` (``learnability``, ``lp``, ...): one pass rate per prompt group (mean reward of
  its ``G`` completions; rewards must lie in [0, 1], e.g. a binary verifier);
- ``"loss"`` / ``"return"``: per level, the mean reward of its completions.

Lag: a teacher update after step ``s`` reaches the data drawn after the DataLoader's look-ahead,
``prefetch_factor x num_workers + 1`` batches (+ the gradient-accumulation micro-batches a Trainer
fetches per step); see :mod:`autocurr.data`. For GRPO one teacher decision covers a whole
generation batch.

DDP: every rank builds the same sampler (same seed); accelerate's ``BatchSamplerShard`` gives rank
``r`` every ``world_size``-th batch and re-syncs ``sampler.generator`` from rank 0. Teacher updates
use all-reduced (SFT) or gathered (GRPO) statistics, in the same order on every rank, so the
replicated teachers stay identical. Checkpoints are written by the main process only.

Resume: ``on_save`` writes ``autocurr_teacher.pt`` (teacher + sampler state, loaded with
``torch.load(weights_only=False)``: only resume from checkpoints you trust) and a readable
``autocurr_teacher.json`` into ``checkpoint-<step>``; ``train(resume_from_checkpoint=...)``
restores both before the first batch is drawn. The sampler state holds the draws the DataLoader had
made ahead of training (drawn but not consumed); they are replayed first, then the saved generator
continues -- the resumed stream equals the uninterrupted one (GRPO: the prompts drawn ahead are
exact; later rollouts are sampled afresh, so the teacher may drift as between two runs). This needs
``ignore_data_skip=True``: with ``False`` the Trainer would fast-forward by *re-drawing*
``global_step`` batches from the sampler (``skip_first_batches``), i.e. a different stream from a
teacher that is already trained, and the draw counter would be wrong. The curriculum trainers and
the callback therefore set ``ignore_data_skip=True`` (with a warning when it was ``False``).
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

_INSTALL_HINT = 'pip install "autocurr[hf]"'

try:
    import torch
    import transformers
    from torch.utils.data import Sampler
    from transformers import TrainerCallback

    from autocurr.data import CurriculumSampler, DomainStats, domains_from_column
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"autocurr.integrations.hf needs torch and transformers ({error}): {_INSTALL_HINT}"
    ) from error

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_SUMMARY",
    "GRPO_SIGNALS",
    "CurriculumCallback",
    "CurriculumGRPOTrainer",  # noqa: F822 - built lazily by __getattr__ (imports trl)
    "CurriculumRepeatSampler",
    "CurriculumSFTTrainer",  # noqa: F822 - built lazily by __getattr__ (imports trl)
    "CurriculumTrainer",
    "DomainCollator",
    "ResumableSampler",
    "curriculum_grpo_trainer_class",
    "curriculum_trainer_class",
    "grpo_teacher_signals",
    "per_example_loss",
]

#: Teacher and sampler state inside each ``checkpoint-<step>`` folder.
CHECKPOINT_FILE = "autocurr_teacher.pt"
#: Human-readable summary next to it (probabilities, step, teacher name).
CHECKPOINT_SUMMARY = "autocurr_teacher.json"
#: Teacher signals the GRPO integration can compute from a generation batch.
GRPO_SIGNALS = ("advantage", "success", "loss", "return")
#: Per-arm scalars are logged for at most this many arms.
MAX_LOGGED_ARMS = 64


def _require_trl() -> Any:
    try:
        import trl
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(f"this class needs trl: {_INSTALL_HINT}") from None
    return trl


# ================================================================================== collator
class DomainCollator:
    """Carry the ``domain_key`` column through any collator as a ``LongTensor`` of arm ids.

    Each feature's ``domain_key`` value is removed before ``base_collator`` sees the features
    (collators choke on, or silently drop, unknown columns) and put back into the batch.
    ``label_to_id`` maps column labels to arms (default: the labels are the arm ids already).
    """

    def __init__(
        self,
        base_collator: Callable[[list[dict[str, Any]]], Any] | None = None,
        domain_key: str = "domain",
        label_to_id: Mapping[Any, int] | None = None,
    ):
        self.base_collator = base_collator or transformers.default_data_collator
        self.domain_key = domain_key
        self.label_to_id = None if label_to_id is None else dict(label_to_id)

    def __call__(self, features: list[Mapping[str, Any]]) -> Any:
        ids, stripped = [], []
        for position, feature in enumerate(features):
            if self.domain_key not in feature:
                raise ValueError(
                    f"feature {position} has no {self.domain_key!r} column (keys: "
                    f"{list(feature)}); keep it with remove_unused_columns=False or a "
                    f"curriculum trainer"
                )
            ids.append(self._arm(feature[self.domain_key]))
            stripped.append({k: v for k, v in feature.items() if k != self.domain_key})
        batch = self.base_collator(stripped)
        batch[self.domain_key] = torch.tensor(ids, dtype=torch.long)
        return batch

    def _arm(self, label: Any) -> int:
        if isinstance(label, torch.Tensor):
            label = label.item()
        if self.label_to_id is not None:
            try:
                return self.label_to_id[label]
            except KeyError:
                raise ValueError(f"domain label {label!r} is not one of the curriculum's") from None
        return int(label)


# ================================================================================== samplers
class ResumableSampler(Sampler[int]):
    """Wraps a stateful sampler so that a resumed run replays the exact same index stream.

    A DataLoader draws ahead of training (workers' prefetch, accelerate's look-ahead), so at a
    checkpoint some indices were drawn but not yet trained on. This wrapper remembers every index
    it yielded since the last :meth:`mark_consumed` position; ``state_dict(consumed)`` stores the
    inner sampler's state plus those *pending* indices, and after ``load_state_dict`` the next
    ``__iter__`` yields the pending indices first, then continues the inner sampler. Positions
    count indices over the whole run (all epochs).

    ``generator`` is the inner sampler's (accelerate re-syncs it across ranks).
    """

    def __init__(self, sampler: Any):
        self.sampler = sampler
        self._recent: deque[int] = deque()
        self._start = 0  # run position of self._recent[0]
        self._pending: list[int] = []

    @property
    def generator(self) -> torch.Generator:
        return self.sampler.generator

    @generator.setter
    def generator(self, value: torch.Generator) -> None:
        self.sampler.generator = value

    @property
    def position(self) -> int:
        """Indices yielded so far in the run (replayed ones included)."""
        return self._start + len(self._recent)

    def __len__(self) -> int:
        return len(self.sampler) + len(self._pending)

    def __iter__(self) -> Iterator[int]:
        pending, self._pending = self._pending, []
        for index in pending:
            self._recent.append(index)
            yield index
        for index in self.sampler:
            self._recent.append(int(index))
            yield int(index)

    def recent(self) -> list[int]:
        """The indices yielded since the last consumed mark (oldest first)."""
        return list(self._recent)

    def mark_consumed(self, consumed: int) -> None:
        """Forget indices before run position ``consumed`` (they reached the model)."""
        while self._recent and self._start < consumed:
            self._recent.popleft()
            self._start += 1

    def state_dict(self, consumed: int) -> dict[str, Any]:
        """Inner state + the indices drawn at or after run position ``consumed``."""
        if not self._start <= consumed <= self.position:
            raise ValueError(
                f"consumed={consumed} is outside the remembered stream "
                f"[{self._start}, {self.position}]"
            )
        pending = list(self._recent)[consumed - self._start :]
        return {"inner": self.sampler.state_dict(), "pending": pending, "position": consumed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sampler.load_state_dict(state["inner"])
        self._pending = [int(i) for i in state["pending"]]
        self._recent.clear()
        self._start = int(state["position"])


class CurriculumRepeatSampler(Sampler[int]):
    """TRL's ``RepeatSampler`` contract with prompts drawn from a teacher (GRPO).

    For each chunk: draw ``batch_size`` prompts with :class:`autocurr.data.CurriculumSampler`'s
    rule (an arm from the teacher's probabilities, then a prompt of that arm's pool; two uniforms
    of ``generator`` per prompt), then emit the chunk ``repeat_count`` times, each prompt
    ``mini_repeat_count`` (= G) times in a row. The chunk's prompts are drawn when its first index
    is requested, so a teacher update reaches the next chunk the DataLoader asks for. Every rank
    must use the same ``seed``. ``num_chunks`` chunks per ``__iter__``.
    """

    def __init__(
        self,
        teacher: Any,
        domains: Sequence[Any],
        mini_repeat_count: int,
        batch_size: int,
        repeat_count: int,
        num_chunks: int,
        seed: int = 0,
        *,
        dataset_size: int | None = None,
    ):
        for name, value in (
            ("mini_repeat_count", mini_repeat_count),
            ("batch_size", batch_size),
            ("repeat_count", repeat_count),
            ("num_chunks", num_chunks),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.mini_repeat_count = mini_repeat_count
        self.batch_size = batch_size
        self.repeat_count = repeat_count
        self.num_chunks = num_chunks
        self.prompts = CurriculumSampler(
            teacher,
            domains,
            num_samples=num_chunks * batch_size,
            seed=seed,
            dataset_size=dataset_size,
        )
        self._chunk: list[int] | None = None
        self._position = 0  # index inside the current chunk's expansion

    @property
    def generator(self) -> torch.Generator:
        return self.prompts.generator

    @generator.setter
    def generator(self, value: torch.Generator) -> None:
        self.prompts.generator = value

    @property
    def chunk_length(self) -> int:
        return self.batch_size * self.mini_repeat_count * self.repeat_count

    def __len__(self) -> int:
        return self.num_chunks * self.chunk_length

    def __iter__(self) -> Iterator[int]:
        prompts = iter(self.prompts)
        while True:
            if self._chunk is None:
                chunk = [index for _, index in zip(range(self.batch_size), prompts, strict=False)]
                if len(chunk) < self.batch_size:
                    return
                self._chunk, self._position = chunk, 0
            chunk, group = self._chunk, self.mini_repeat_count
            while self._position < self.chunk_length:
                index = chunk[(self._position // group) % self.batch_size]
                self._position += 1
                yield index
            self._chunk = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts.state_dict(),
            "chunk": None if self._chunk is None else list(self._chunk),
            "position": self._position,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        chunk = state["chunk"]
        if chunk is not None and len(chunk) != self.batch_size:
            raise ValueError(f"saved chunk has {len(chunk)} prompts, expected {self.batch_size}")
        self.prompts.load_state_dict(state["prompts"])
        self._chunk = None if chunk is None else [int(i) for i in chunk]
        self._position = int(state["position"])


# ================================================================================== losses
def per_example_loss(output: Any, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean loss per example over its label tokens, has-label-tokens mask)``, detached.

    Works on a TRL fused-LM-head output (``log_probs`` and ``label_mask``, zero on ignored
    tokens) and on ordinary causal-LM outputs (``logits`` with the next-token shift against
    ``labels``, ignoring ``-100``).
    """
    log_probs = _field(output, "log_probs")
    label_mask = _field(output, "label_mask")
    if log_probs is not None and label_mask is not None:
        mask = label_mask.detach().to(torch.float64)
        nll = -(log_probs.detach().to(torch.float64) * mask).sum(dim=-1)
    else:
        logits = _field(output, "logits")
        if logits is None or labels is None:
            raise ValueError(
                "cannot compute per-example losses: the model output has neither "
                "log_probs/label_mask nor logits (with labels in the batch)"
            )
        logits = logits.detach()
        targets = labels[:, 1:].to(logits.device)
        mask = (targets != -100).to(torch.float64)
        # One row at a time in float32: a (batch, seq, vocab) float copy can be gigabytes.
        nll = torch.stack(
            [
                (
                    torch.nn.functional.cross_entropy(
                        logits[row, :-1].float(), targets[row].clamp(min=0), reduction="none"
                    ).to(torch.float64)
                    * mask[row]
                ).sum()
                for row in range(logits.shape[0])
            ]
        )
    counts = mask.sum(dim=-1)
    return nll / counts.clamp(min=1.0), counts > 0


# ================================================================================== callback
class CurriculumCallback(TrainerCallback):
    """Updates, logs and checkpoints a teacher inside a ``transformers.Trainer``.

    - ``on_step_end``: ``stats.update_teacher(teacher)`` (one ``update_batch`` per optimizer step
      from globally reduced per-domain means; skipped when ``stats`` is None, e.g. GRPO, whose
      trainer updates the teacher per generation batch) and an entry in :attr:`history`.
    - ``on_save``: writes :data:`CHECKPOINT_FILE` (teacher state, sampler state) and
      :data:`CHECKPOINT_SUMMARY` into ``checkpoint-<global_step>`` (main process only).
    - ``on_train_begin``: when resuming, restores both from the checkpoint (``resume_from`` set
      by the curriculum trainers' ``train``; otherwise ``output_dir/checkpoint-<global_step>``).
    - ``on_init_end`` / ``on_train_begin``: force ``args.ignore_data_skip = True`` (module doc).
    - :meth:`log_values` gives ``curriculum/p_<k>`` and ``curriculum/signal_<k>``; the curriculum
      trainers add them to every training log. Used on its own, the callback adds them in
      ``on_log``, which only callbacks running after it see.

    ``sampler`` is a :class:`ResumableSampler`; ``items_per_step`` the sampler indices one
    optimizer step consumes on all ranks together (the curriculum trainers set both).
    """

    def __init__(
        self,
        teacher: Any,
        stats: DomainStats | None = None,
        sampler: ResumableSampler | None = None,
        items_per_step: int | None = None,
    ):
        self.teacher = teacher
        self.stats = stats
        self.sampler = sampler
        self.items_per_step = items_per_step
        self.resume_from: str | None = None
        self.last_signals: dict[int, float] = {}
        #: One entry per optimizer step: ``{"step", "signals", "probabilities"}``.
        self.history: list[dict[str, Any]] = []
        #: ``teacher.state_dict()`` right after a checkpoint was restored (None otherwise).
        self.restored_state: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------- events
    def on_init_end(self, args, state, control, **kwargs):
        _force_ignore_data_skip(args)

    def on_train_begin(self, args, state, control, **kwargs):
        _force_ignore_data_skip(args)
        checkpoint = self.resume_from
        if checkpoint is None and state.global_step > 0:
            candidate = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            checkpoint = candidate if os.path.isdir(candidate) else None
        if checkpoint is not None:
            self.load(checkpoint)

    def on_step_end(self, args, state, control, **kwargs):
        if self.stats is not None:
            signals = self.stats.update_teacher(self.teacher)
            self.record_signals(signals)
        if self.sampler is not None and self.items_per_step is not None:
            self.sampler.mark_consumed(state.global_step * self.items_per_step)
        self.history.append(
            {
                "step": state.global_step,
                "signals": dict(self.last_signals),
                "probabilities": self.probabilities().tolist(),
            }
        )

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            self.save(folder, state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None and not any(key.startswith("eval_") for key in logs):
            for key, value in self.log_values().items():
                logs.setdefault(key, value)

    # ----------------------------------------------------------------------------- helpers
    def record_signals(self, signals: Mapping[int, float]) -> None:
        """Remember the last signal reported for each arm (for logging)."""
        self.last_signals.update({int(k): float(v) for k, v in signals.items()})

    def probabilities(self) -> np.ndarray:
        return np.asarray(self.teacher.probabilities(), dtype=np.float64)

    def log_values(self) -> dict[str, float]:
        """``curriculum/p_<k>`` for every arm and ``curriculum/signal_<k>`` for arms reported."""
        probs = self.probabilities()
        values = {f"curriculum/p_{k}": float(p) for k, p in enumerate(probs[:MAX_LOGGED_ARMS])}
        for k, signal in sorted(self.last_signals.items()):
            if k < MAX_LOGGED_ARMS:
                values[f"curriculum/signal_{k}"] = signal
        return values

    def save(self, folder: str, global_step: int) -> None:
        """Write teacher and sampler state into ``folder`` (created if needed)."""
        os.makedirs(folder, exist_ok=True)
        sampler_state = None
        if self.sampler is not None and self.items_per_step is not None:
            try:
                sampler_state = self.sampler.state_dict(global_step * self.items_per_step)
            except ValueError as error:  # e.g. a batch layout the step accounting does not know
                warnings.warn(
                    f"autocurr: sampler state not saved ({error}); a resume from this checkpoint "
                    f"restores the teacher but starts a new sampler stream",
                    stacklevel=2,
                )
        payload = {
            "format": 1,
            "global_step": int(global_step),
            "teacher": self.teacher.state_dict(),
            "sampler": sampler_state,
            "last_signals": dict(self.last_signals),
        }
        torch.save(payload, os.path.join(folder, CHECKPOINT_FILE))
        summary = {
            "global_step": int(global_step),
            "teacher": self.teacher.name,
            "hyperparameters": self.teacher.hyperparameters,
            "n_updates": int(self.teacher.n_updates),
            "probabilities": self.probabilities().tolist(),
            "last_signals": {str(k): v for k, v in sorted(self.last_signals.items())},
            "pending_draws": 0 if sampler_state is None else len(sampler_state["pending"]),
        }
        with open(os.path.join(folder, CHECKPOINT_SUMMARY), "w") as file:
            json.dump(summary, file, indent=1, default=str)

    def load(self, folder: str) -> None:
        """Restore teacher (and sampler, when both sides have one) from ``folder``."""
        path = os.path.join(folder, CHECKPOINT_FILE)
        if not os.path.isfile(path):
            warnings.warn(
                f"resuming from {folder} without {CHECKPOINT_FILE}: the teacher starts afresh",
                stacklevel=2,
            )
            return
        payload = torch.load(path, weights_only=False)  # our own pickle: numpy arrays, RNG dicts
        self.teacher.load_state_dict(payload["teacher"])
        self.last_signals = {int(k): float(v) for k, v in payload.get("last_signals", {}).items()}
        if self.sampler is not None and payload.get("sampler") is not None:
            self.sampler.load_state_dict(payload["sampler"])
        self.restored_state = self.teacher.state_dict()


def _force_ignore_data_skip(args: Any) -> None:
    if not getattr(args, "ignore_data_skip", True):
        warnings.warn(
            "autocurr: setting ignore_data_skip=True. With False, a resumed Trainer re-draws the "
            "first global_step batches from the curriculum sampler (skip_first_batches) using the "
            "already trained teacher: a different data stream than the interrupted run. The "
            "saved sampler state resumes the stream exactly instead.",
            stacklevel=3,
        )
        args.ignore_data_skip = True


# ================================================================================== trainers
class _CurriculumMixin:
    """Shared curriculum plumbing; see :func:`curriculum_trainer_class`."""

    _curriculum_collates = True

    def __init__(
        self,
        *args: Any,
        teacher: Any,
        domains: Sequence[Any] | None = None,
        domain_key: str = "domain",
        domain_names: Sequence[Any] | None = None,
        curriculum_seed: int | None = None,
        **kwargs: Any,
    ):
        if teacher is None:
            raise ValueError("a curriculum trainer needs a teacher")
        self.curriculum_teacher = teacher
        self.domain_key = domain_key
        self._domain_names = None if domain_names is None else list(domain_names)
        self._given_domains = None if domains is None else list(domains)
        self._curriculum_seed = curriculum_seed
        self.curriculum_sampler: ResumableSampler | None = None
        super().__init__(*args, **kwargs)
        _force_ignore_data_skip(self.args)
        packed = getattr(self.args, "packing", False) or getattr(self.args, "padding_free", False)
        if self._curriculum_collates and packed:
            raise ValueError(
                "packing/padding_free put several examples (and domains) in one row: per-domain "
                "losses need one example per row; set packing=False and padding_free=False"
            )
        self._label_to_id = self._build_label_map()
        n_arms = teacher.space.size
        self.domain_stats = DomainStats(n_arms)
        self.curriculum_callback = CurriculumCallback(
            teacher, self.domain_stats if self._curriculum_collates else None
        )
        self.add_callback(self.curriculum_callback)
        if self._curriculum_collates and not isinstance(self.data_collator, DomainCollator):
            self.data_collator = DomainCollator(self.data_collator, domain_key, self._label_to_id)

    # ----------------------------------------------------------------------------- domains
    def _build_label_map(self) -> dict[Any, int] | None:
        if self._given_domains is not None and self._domain_names is None:
            return None  # the column holds arm ids
        dataset = self.train_dataset
        if self._domain_names is None and dataset is not None:
            _, self._domain_names = domains_from_column(dataset, self.domain_key)
        if self._domain_names is None:
            return None
        return {name: k for k, name in enumerate(self._domain_names)}

    def _domain_pools(self, dataset: Any) -> list[Any]:
        if self._given_domains is not None:
            return self._given_domains
        pools, _ = domains_from_column(dataset, self.domain_key, self._domain_names)
        return pools

    def _arm_of(self, label: Any) -> int:
        if isinstance(label, torch.Tensor):
            label = label.item()
        return int(label) if self._label_to_id is None else self._label_to_id[label]

    def _sampler_seed(self) -> int:
        return self.args.seed if self._curriculum_seed is None else self._curriculum_seed

    def _attach_sampler(self, sampler: Any, items_per_step: int) -> ResumableSampler:
        wrapped = ResumableSampler(sampler)
        self.curriculum_sampler = wrapped
        self.curriculum_callback.sampler = wrapped
        self.curriculum_callback.items_per_step = items_per_step
        return wrapped

    # ----------------------------------------------------------------------------- Trainer hooks
    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if self._signature_columns is not None and self.domain_key not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, self.domain_key]

    def _get_train_sampler(self, train_dataset: Any = None) -> Sampler[int]:
        dataset = self.train_dataset if train_dataset is None else train_dataset
        _check_map_style(dataset)
        global_batch = (
            self._train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
        )
        if self.args.max_steps > 0:
            num_samples = self.args.max_steps * global_batch
        else:  # one epoch ~ len(dataset) draws, in full batches (the resume bookkeeping needs it)
            num_samples = math.ceil(len(dataset) / global_batch) * global_batch
        sampler = CurriculumSampler(
            self.curriculum_teacher,
            self._domain_pools(dataset),
            num_samples,
            seed=self._sampler_seed(),
            dataset_size=len(dataset),
        )
        return self._attach_sampler(sampler, global_batch)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        domains = inputs.pop(self.domain_key, None)
        if domains is None or not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        outputs: list[Any] = []
        handle = model.register_forward_hook(lambda module, args, output: outputs.append(output))
        try:
            result = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        finally:
            handle.remove()
        usable = [o for o in outputs if _has_per_token_signal(o)]
        if not usable:
            raise ValueError("compute_loss made no model call whose output gives per-token losses")
        losses, has_tokens = per_example_loss(usable[-1], inputs.get("labels"))
        if losses.shape[0] != domains.shape[0]:
            raise ValueError(
                f"the model output has {losses.shape[0]} rows for {domains.shape[0]} examples; "
                f"per-domain losses need one example per row (no packing / padding-free)"
            )
        self.domain_stats.add(domains.detach().cpu()[has_tokens.cpu()], losses[has_tokens].cpu())
        return result

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        if isinstance(inputs, Mapping) and self.domain_key in inputs:
            inputs = {k: v for k, v in inputs.items() if k != self.domain_key}
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if not any(key.startswith("eval_") for key in logs):
            logs.update(self.curriculum_callback.log_values())
        super().log(logs, *args, **kwargs)

    def train(self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any):
        if isinstance(resume_from_checkpoint, bool) and resume_from_checkpoint:
            from transformers.trainer_utils import get_last_checkpoint

            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise ValueError(f"no checkpoint found in {self.args.output_dir}")
        self.curriculum_callback.resume_from = resume_from_checkpoint or None
        return super().train(resume_from_checkpoint, *args, **kwargs)


def _field(output: Any, name: str) -> Any:
    if isinstance(output, Mapping):
        return output.get(name)
    return getattr(output, name, None)


def _check_map_style(dataset: Any) -> None:
    if dataset is None or not hasattr(dataset, "__len__"):
        raise ValueError(
            "the curriculum trainers need a map-style train_dataset with a domain column; for "
            "streaming data use autocurr.data.MixtureIterableDataset with the callback instead"
        )


def _has_per_token_signal(output: Any) -> bool:
    fused = _field(output, "log_probs") is not None and _field(output, "label_mask") is not None
    return fused or _field(output, "logits") is not None


class _GRPOCurriculumMixin(_CurriculumMixin):
    """GRPO: the repeat-sampler contract and one teacher update per generation batch."""

    _curriculum_collates = False  # GRPO's collator passes the raw rows (with the domain column)

    def __init__(self, *args: Any, **kwargs: Any):
        teacher = kwargs.get("teacher")
        if teacher is not None and teacher.signal not in GRPO_SIGNALS:
            raise ValueError(
                f"teacher {teacher.name!r} wants signal {teacher.signal!r}; the GRPO integration "
                f"provides {GRPO_SIGNALS}"
            )
        self._gathered_rewards: torch.Tensor | None = None
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, dataset: Any = None) -> Sampler[int]:
        dataset = self.train_dataset if dataset is None else dataset
        _check_map_style(dataset)
        args = self.args
        prompts_per_chunk = args.generation_batch_size // self.num_generations
        repeat_count = self.num_iterations * args.steps_per_generation
        loader_batch = self._train_batch_size * args.steps_per_generation * args.world_size
        items_per_step = loader_batch * args.gradient_accumulation_steps
        if args.max_steps > 0:
            total = args.max_steps * items_per_step
            chunk_length = prompts_per_chunk * self.num_generations * repeat_count
            num_chunks = math.ceil(total / chunk_length)
        else:
            num_chunks = len(dataset) // prompts_per_chunk
        sampler = CurriculumRepeatSampler(
            self.curriculum_teacher,
            self._domain_pools(dataset),
            mini_repeat_count=self.num_generations,
            batch_size=prompts_per_chunk,
            repeat_count=repeat_count,
            num_chunks=max(1, num_chunks),
            seed=self._sampler_seed(),
            dataset_size=len(dataset),
        )
        return self._attach_sampler(sampler, items_per_step)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._gathered_rewards = rewards  # (all processes' completions, reward functions)
        return rewards

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if self.model.training:
            self._update_teacher_from_generation(inputs, output)
        return output

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return super(_CurriculumMixin, self).compute_loss(
            model, inputs, return_outputs, num_items_in_batch
        )

    def _update_teacher_from_generation(self, inputs: list[dict[str, Any]], output: dict) -> None:
        rewards_per_func = self._gathered_rewards
        self._gathered_rewards = None
        if rewards_per_func is None:
            raise RuntimeError("GRPO rewards were not captured; _calculate_rewards was bypassed")
        device = output["advantages"].device
        local_levels = torch.tensor(
            [self._arm_of(x[self.domain_key]) for x in inputs], device=device
        )
        levels = self.accelerator.gather(local_levels).cpu()
        advantages = self.accelerator.gather(output["advantages"].detach()).cpu().double()
        weights = self.reward_weights.to(rewards_per_func.device)
        rewards = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan
        teacher = self.curriculum_teacher
        arms, signals = grpo_teacher_signals(
            teacher.signal, levels, advantages, rewards.cpu().double(), self.num_generations
        )
        if arms:
            teacher.update_batch([teacher.space.task(arm) for arm in arms], signals)
            per_arm: dict[int, list[float]] = {}
            for arm, value in zip(arms, signals, strict=True):
                per_arm.setdefault(arm, []).append(value)
            self.curriculum_callback.record_signals(
                {arm: float(np.mean(values)) for arm, values in per_arm.items()}
            )


def grpo_teacher_signals(
    signal: str,
    levels: torch.Tensor,
    advantages: torch.Tensor,
    rewards: torch.Tensor,
    num_generations: int,
) -> tuple[list[int], list[float]]:
    """``(arms, signals)`` for one ``update_batch`` from a gathered generation batch.

    ``levels``, ``advantages`` and ``rewards`` hold one entry per completion in global order
    (groups of ``num_generations`` consecutive completions share a prompt). ``signal`` is
    ``teacher.signal``: "advantage" -> per level mean |advantage|; "success" -> one pass rate per
    prompt group (its mean reward, which must lie in [0, 1]); "loss"/"return" -> per level mean
    reward. Completions without a reward (NaN) are left out; arms ascend.
    """
    if signal not in GRPO_SIGNALS:
        raise ValueError(f"signal {signal!r} is not one of {GRPO_SIGNALS}")
    if levels.numel() % num_generations:
        raise ValueError(
            f"{levels.numel()} completions do not split into groups of {num_generations}"
        )
    group_levels = levels.view(-1, num_generations)
    if not torch.all(group_levels == group_levels[:, :1]):
        raise ValueError("a prompt group mixes levels: the sampler broke the repeat contract")
    if signal == "success":
        pass_rates = torch.nanmean(rewards.view(-1, num_generations), dim=1)
        keep = ~torch.isnan(pass_rates)
        rates, arms = pass_rates[keep], group_levels[keep, 0]
        if rates.numel() and (rates.min() < 0.0 or rates.max() > 1.0):
            raise ValueError(
                f"teacher signal 'success' needs rewards in [0, 1] (a verifier); got group pass "
                f"rates in [{float(rates.min()):.3g}, {float(rates.max()):.3g}]"
            )
        order = torch.argsort(arms, stable=True)
        return arms[order].tolist(), rates[order].tolist()
    values = advantages.abs() if signal == "advantage" else rewards
    keep = ~torch.isnan(values)
    values, flat_levels = values[keep], levels[keep]
    arms = sorted(set(flat_levels.tolist()))
    means = [float(values[flat_levels == arm].mean()) for arm in arms]
    return arms, means


@functools.cache
def curriculum_trainer_class(base: type) -> type:
    """A subclass of the Trainer class ``base`` (``Trainer``, ``SFTTrainer``, ...) whose
    constructor takes ``teacher=``, ``domains=`` (K index pools, default: from the
    ``domain_key`` column), ``domain_key=``, ``domain_names=`` and ``curriculum_seed=`` (default
    ``args.seed``). The instance exposes ``curriculum_teacher``, ``curriculum_callback`` (with
    its per-step ``history``), ``domain_stats`` and, once training started,
    ``curriculum_sampler``."""
    return type(f"Curriculum{base.__name__}", (_CurriculumMixin, base), {"__module__": __name__})


@functools.cache
def curriculum_grpo_trainer_class(base: type | None = None) -> type:
    """The curriculum subclass of TRL's ``GRPOTrainer`` (or of ``base``, a subclass of it)."""
    if base is None:
        base = _require_trl().GRPOTrainer
    return type(
        f"Curriculum{base.__name__}", (_GRPOCurriculumMixin, base), {"__module__": __name__}
    )


#: ``transformers.Trainer`` with a curriculum (see :func:`curriculum_trainer_class`).
CurriculumTrainer = curriculum_trainer_class(transformers.Trainer)


def __getattr__(name: str) -> Any:
    # TRL is imported only when its trainers are asked for.
    if name == "CurriculumSFTTrainer":
        return curriculum_trainer_class(_require_trl().SFTTrainer)
    if name == "CurriculumGRPOTrainer":
        return curriculum_grpo_trainer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
