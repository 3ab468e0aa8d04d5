"""Behaviour of autocurr.data: live sampler, streaming mixture, domain pools, per-domain stats."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as torch_mp
from torch.utils.data import DataLoader, TensorDataset

from autocurr.data import (
    CurriculumSampler,
    DomainStats,
    MixtureIterableDataset,
    RankShard,
    domains_from_column,
)
from autocurr.spaces import Box, Discrete
from autocurr.teachers.base import Teacher
from autocurr.teachers.exp3 import Exp3Teacher
from autocurr.teachers.uniform import UniformTeacher


class TableTeacher(Teacher):
    """Test teacher: a fixed probability table; ``update(arm, x)`` puts all mass on ``arm``."""

    name = "table_test"
    signal = "score"
    requires_finite = True

    def __init__(self, space, seed=None, probs=None):
        super().__init__(space, seed)
        self.probs = np.full(space.size, 1.0 / space.size) if probs is None else np.array(probs)
        self.hyperparameters = {"probs": None if probs is None else list(probs)}
        self.batches: list[tuple[list, list]] = []

    def probabilities(self):
        return self.probs.copy()

    def _sample_one(self):
        return self.space.task(int(self.rng.choice(self.space.size, p=self.probs)))

    def _update(self, task, signal):
        self.probs = np.zeros(self.space.size)
        self.probs[self.space.index(task)] = 1.0

    def update_batch(self, tasks, signals):
        self.batches.append((list(tasks), list(signals)))
        super().update_batch(tasks, signals)


POOLS = [np.arange(0, 50), np.arange(50, 100)]


def one_arm_teacher(arm: int = 0) -> TableTeacher:
    probs = [0.0, 0.0]
    probs[arm] = 1.0
    return TableTeacher(Discrete(2), probs=probs)


def loader_kwargs(num_workers: int, context: str | None = None) -> dict:
    if num_workers == 0:
        return {"num_workers": 0}
    return {"num_workers": num_workers, "prefetch_factor": 2, "multiprocessing_context": context}


# ================================================================================ sampler
def test_sampler_follows_teacher_probabilities_and_covers_pools():
    teacher = TableTeacher(Discrete(3), probs=[0.7, 0.2, 0.1])
    pools = [np.arange(0, 10), np.arange(10, 13), [13]]
    sampler = CurriculumSampler(teacher, pools, num_samples=20_000, seed=0)
    draws = np.array(list(sampler))
    domains = sampler.domains_of(draws)
    np.testing.assert_allclose(
        np.bincount(domains, minlength=3) / draws.size, teacher.probs, atol=0.015
    )
    assert set(draws.tolist()) == set(range(14))  # every pool member is reachable
    assert len(sampler) == 20_000
    assert sampler.domain_of(11) == 1


def test_zero_probability_domain_is_never_drawn():
    teacher = TableTeacher(Discrete(3), probs=[0.5, 0.5, 0.0])
    sampler = CurriculumSampler(teacher, [[0], [1], [2]], num_samples=5000, seed=1)
    assert 2 not in set(sampler)


def test_cache_refreshes_on_update_only():
    teacher = TableTeacher(Discrete(2), probs=[1.0, 0.0])
    sampler = CurriculumSampler(teacher, POOLS, num_samples=50, seed=0)
    teacher.probs = np.array([0.0, 1.0])  # changed behind the sampler's back: cache kept
    assert set(sampler.domains_of(list(sampler))) == {0}
    sampler.refresh()
    assert set(sampler.domains_of(list(sampler))) == {1}
    teacher.update(0, 0.0)  # a real update is picked up without refresh()
    assert set(sampler.domains_of(list(sampler))) == {0}
    np.testing.assert_allclose(sampler.probabilities(), [1.0, 0.0])


def test_rng_consumption_is_independent_of_probabilities_and_pools():
    teachers = [one_arm_teacher(0), one_arm_teacher(1), UniformTeacher(Discrete(2))]
    pool_sets = [POOLS, POOLS, [np.arange(3), np.arange(3, 1000)]]
    samplers = [
        CurriculumSampler(t, pools, num_samples=300, seed=7, block_size=64)
        for t, pools in zip(teachers, pool_sets, strict=True)
    ]
    for sampler in samplers:
        iterator = iter(sampler)
        for step in range(123):
            next(iterator)
            if step == 50 and isinstance(sampler.teacher, TableTeacher):
                sampler.teacher.update(1 - sampler.teacher.probs.argmax(), 0.0)  # live flip
    states = [s.generator.get_state() for s in samplers]
    assert all(torch.equal(states[0], state) for state in states[1:])
    reference = torch.Generator()
    reference.manual_seed(7)
    torch.rand(2 * 64 * 2, generator=reference, dtype=torch.float64)  # 123 draws = 2 blocks of 64
    assert torch.equal(states[0], reference.get_state())


def test_draw_rule_matches_documented_formula():
    teacher = TableTeacher(Discrete(3), probs=[0.2, 0.3, 0.5])
    pools = [np.arange(0, 4), np.arange(4, 11), np.arange(11, 14)]
    sampler = CurriculumSampler(teacher, pools, num_samples=40, seed=3)
    draws = list(sampler)
    generator = torch.Generator()
    generator.manual_seed(3)
    uniforms = torch.rand(80, generator=generator, dtype=torch.float64).numpy()
    cdf = np.cumsum(teacher.probs)
    expected = []
    for u0, u1 in uniforms.reshape(-1, 2):
        pool = pools[int(np.searchsorted(cdf, u0, side="right"))]
        expected.append(int(pool[int(np.floor(u1 * len(pool)))]))
    assert draws == expected


def first_new_batch_lag(batches, flip, flip_after: int, new_domain: int) -> int:
    """Consume ``batches`` (iterator of per-sample domain arrays), call ``flip`` after batch
    ``flip_after`` and return how many batches after it still did not follow the new domain."""
    for number, domains in enumerate(batches):
        if number <= flip_after:
            assert np.all(domains != new_domain)
            if number == flip_after:
                flip()
        elif np.all(domains == new_domain):
            return number - flip_after - 1
    raise AssertionError("the new distribution never arrived")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_sampler_lag_is_bounded_by_prefetch(num_workers):
    teacher = one_arm_teacher(0)
    sampler = CurriculumSampler(teacher, POOLS, num_samples=400, seed=0)
    loader = DataLoader(
        TensorDataset(torch.arange(100)),
        batch_size=4,
        sampler=sampler,
        **loader_kwargs(num_workers, "fork"),
    )
    batches = (sampler.domains_of(batch) for (batch,) in loader)
    lag = first_new_batch_lag(batches, lambda: teacher.update(1, 0.0), 3, 1)
    print(f"sampler lag with num_workers={num_workers}, prefetch_factor=2: {lag} batches")
    assert lag <= 2 * num_workers + 1
    if num_workers == 0:
        assert lag == 0


def test_state_dict_resumes_the_exact_stream():
    teacher = TableTeacher(Discrete(3), probs=[0.5, 0.3, 0.2])
    pools = [np.arange(0, 5), np.arange(5, 9), np.arange(9, 30)]

    def make():
        return CurriculumSampler(teacher, pools, num_samples=100, seed=11, block_size=16)

    original = make()
    first_epoch = list(original)
    second_epoch = list(original)
    assert first_epoch != second_epoch  # epochs continue the generator

    interrupted = make()
    iterator = iter(interrupted)
    for _ in range(37):
        next(iterator)
    for saved, start in [(interrupted.state_dict(), 37), (interrupted.state_dict(consumed=30), 30)]:
        resumed = make()
        resumed.load_state_dict(saved)
        assert resumed.state_dict()["drawn"] == start
        assert list(resumed) == first_epoch[start:]
        assert list(resumed) == second_epoch  # later epochs are unaffected by the resume

    finished = make()
    list(finished)
    resumed = make()
    resumed.load_state_dict(finished.state_dict())
    assert list(resumed) == second_epoch
    with pytest.raises(ValueError, match="consumed"):
        interrupted.state_dict(consumed=38)
    other = CurriculumSampler(teacher, pools, num_samples=99, seed=11, block_size=16)
    with pytest.raises(ValueError, match="num_samples"):
        other.load_state_dict(finished.state_dict())


@pytest.mark.parametrize(
    ("domains", "teacher", "kwargs", "message"),
    [
        ([[0, 1], []], Discrete(2), {}, "domain 1: index pool is empty"),
        ([[0, -1], [2]], Discrete(2), {}, "out of range"),
        ([[0, 1], [2, 9]], Discrete(2), {"dataset_size": 5}, "index 9 is out of range"),
        ([[0], [1], [2]], Discrete(2), {}, "3 domains .* 2 arms"),
        ([[0, 1], [1, 2]], Discrete(2), {}, "index 1 is in domains 0 and 1"),
        ([[0.5], [1]], Discrete(2), {}, "integers"),
        ([], Discrete(2), {}, "empty"),
        ([[0], [1]], Box([0.0], [1.0]), {}, "finite space"),
        ([[0], [1]], Discrete(2), {"num_samples": 0}, "num_samples"),
    ],
)
def test_sampler_rejects_bad_input(domains, teacher, kwargs, message):
    teacher = UniformTeacher(teacher)
    kwargs = {"num_samples": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        CurriculumSampler(teacher, domains, **kwargs)


def test_teacher_without_probabilities_is_rejected():
    class NoProbabilities(TableTeacher):
        def probabilities(self):
            raise NotImplementedError("no vector")

    with pytest.raises(ValueError, match="no probabilities"):
        CurriculumSampler(NoProbabilities(Discrete(2)), POOLS, num_samples=4)


def test_domain_of_unknown_index():
    sampler = CurriculumSampler(UniformTeacher(Discrete(2)), [[0, 2], [4]], num_samples=4)
    assert sampler.domain_of(4) == 1
    for index in (1, 5, -1):
        with pytest.raises(ValueError, match="no domain"):
            sampler.domain_of(index)


def test_rank_shard_splits_one_stream():
    def make():
        return CurriculumSampler(one_arm_teacher(0), POOLS, num_samples=11, seed=2)

    stream = list(make())
    shares = [list(RankShard(make(), rank, 3)) for rank in range(3)]
    assert [len(RankShard(make(), rank, 3)) for rank in range(3)] == [len(s) for s in shares]
    assert sorted(x for share in shares for x in share) == sorted(stream)
    assert shares[1] == stream[1::3]


def test_accelerate_batch_sampler_shard_splits_one_stream():
    accelerate_data = pytest.importorskip("accelerate.data_loader")
    from torch.utils.data import BatchSampler

    def make():
        return CurriculumSampler(UniformTeacher(Discrete(2)), POOLS, num_samples=40, seed=4)

    stream = list(make())
    shares = [
        list(
            accelerate_data.BatchSamplerShard(
                BatchSampler(make(), 4, drop_last=False), num_processes=2, process_index=rank
            )
        )
        for rank in range(2)
    ]
    assert shares[0] == [stream[i : i + 4] for i in range(0, 40, 8)]
    assert shares[1] == [stream[i : i + 4] for i in range(4, 40, 8)]


# ================================================================================ stats
def test_domain_stats_means_and_single_teacher_call():
    teacher = TableTeacher(Discrete(3))
    stats = DomainStats(3)
    stats.add(torch.tensor([2, 0, 2]), torch.tensor([1.0, 4.0, 2.0], dtype=torch.float16))
    stats.add(np.array([2]), [6.0])
    assert stats.sums.dtype == np.float64
    means = stats.update_teacher(teacher)
    assert means == {0: 4.0, 2: 3.0}
    assert all(type(v) is float for v in means.values())
    assert teacher.batches == [([0, 2], [4.0, 3.0])]
    assert teacher.n_updates == 2
    assert stats.counts.sum() == 0  # reset
    assert stats.update_teacher(teacher) == {}
    assert len(teacher.batches) == 1  # nothing seen: no call


def test_domain_stats_rejects_bad_input_without_mutation():
    stats = DomainStats(2)
    stats.add([0, 1], [1.0, 2.0])
    for ids, values, message in [
        ([0, 1], [1.0, float("nan")], "finite"),
        ([0, 1], [1.0, float("inf")], "finite"),
        ([0, 2], [1.0, 1.0], r"\[0, 2\)"),
        ([0], [1.0, 2.0], "must match"),
        ([0.5], [1.0], "integers"),
    ]:
        with pytest.raises(ValueError, match=message):
            stats.add(ids, values)
    assert stats.sums.tolist() == [1.0, 2.0] and stats.counts.tolist() == [1, 1]
    with pytest.raises(ValueError, match="2 domains"):
        stats.update_teacher(TableTeacher(Discrete(3)))


# ================================================================================ columns
def test_domains_from_column_with_labels_and_names():
    labels = ["math", "code", "math", "chat", "code"]
    pools, names = domains_from_column(labels, "domain")
    assert names == ["chat", "code", "math"]
    assert [p.tolist() for p in pools] == [[3], [1, 4], [0, 2]]
    assert all(p.dtype == np.int64 for p in pools)
    pools, names = domains_from_column({"domain": labels}, "domain", names=["math", "code", "chat"])
    assert [p.tolist() for p in pools] == [[0, 2], [1, 4], [3]]
    with pytest.raises(ValueError, match="not in names"):
        domains_from_column(labels, "domain", names=["math", "code"])
    with pytest.raises(ValueError, match="label 'law'"):
        domains_from_column(labels, "domain", names=["math", "code", "chat", "law"])
    with pytest.raises(ValueError, match="column 'x'"):
        domains_from_column({"domain": labels}, "x")
    pools, names = domains_from_column([3, None, 3, "a"], "ignored")  # unorderable labels
    assert names == [3, None, "a"] and [p.tolist() for p in pools] == [[0, 2], [1], [3]]
    pools, names = domains_from_column(torch.tensor([1, 0, 1]), "ignored")
    assert names == [0, 1] and [p.tolist() for p in pools] == [[1], [0, 2]]


def test_domains_from_hf_dataset_column():
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_dict({"text": list("abcdef"), "level": [2, 0, 1, 0, 2, 2]})
    pools, names = domains_from_column(dataset, "level")
    assert names == [0, 1, 2]
    assert [p.tolist() for p in pools] == [[1, 3], [2], [0, 4, 5]]
    sampler = CurriculumSampler(UniformTeacher(Discrete(3)), pools, 30, dataset_size=len(dataset))
    assert all(dataset[i]["level"] == names[sampler.domain_of(i)] for i in sampler)
    shuffled = dataset.shuffle(seed=0)  # an indices mapping: pools refer to the shuffled rows
    pools, names = domains_from_column(shuffled, "level", names=[2, 1, 0])
    assert [[shuffled[int(i)]["level"] for i in pool] for pool in pools] == [[2] * 3, [1], [0] * 2]
    pools, names = domains_from_column(dataset, "text")
    assert names == list("abcdef") and [p.tolist() for p in pools] == [[i] for i in range(6)]


# ================================================================================ streaming
def test_mixture_tags_items_and_restarts_sources():
    sources = [[{"x": i} for i in range(3)], lambda: iter(["a", "b"])]
    mixture = MixtureIterableDataset(sources, probabilities=[0.5, 0.5], seed=0, num_samples=200)
    items = list(mixture)
    assert len(items) == 200
    dicts = [item for item in items if isinstance(item, dict)]
    pairs = [item for item in items if not isinstance(item, dict)]
    assert {d["domain"] for d in dicts} == {0} and {d["x"] for d in dicts} == {0, 1, 2}
    assert {p for p in pairs} == {(1, "a"), (1, "b")}
    assert [d["x"] for d in dicts[:6]] == [0, 1, 2, 0, 1, 2]  # restarted in order
    assert sources[0][0] == {"x": 0}  # items are copied, not modified


def test_mixture_follows_teacher_and_rejects_bad_input():
    teacher = TableTeacher(Discrete(2), probs=[0.0, 1.0])
    mixture = MixtureIterableDataset([[1], [2]], teacher, num_samples=20)
    assert pickle.loads(pickle.dumps(mixture)).teacher is None  # workers get no teacher copy
    assert {domain for domain, _ in mixture} == {1}
    teacher.update(0, 0.0)
    mixture.follow()
    assert {domain for domain, _ in mixture} == {0}
    with pytest.raises(ValueError, match="one-shot"):
        MixtureIterableDataset([iter([1]), [2]])
    with pytest.raises(ValueError, match="entries"):
        MixtureIterableDataset([[1], [2]], probabilities=[1.0])
    with pytest.raises(ValueError, match="not all 0"):
        MixtureIterableDataset([[1], [2]], probabilities=[0.0, 0.0])
    with pytest.raises(ValueError, match="empty"):
        list(MixtureIterableDataset([[1], []], num_samples=50))


def test_mixture_workers_read_disjoint_shards():
    mixture = MixtureIterableDataset([list(range(40))], seed=0, num_samples=40)
    loader = DataLoader(mixture, batch_size=None, **loader_kwargs(2, "fork"))
    items = [int(item) for _, item in loader]
    assert sorted(items) == list(range(40))  # two workers, each its half, no duplicates
    ranks = [
        [
            item
            for _, item in MixtureIterableDataset([range(40)], num_samples=20, rank=r, world_size=2)
        ]
        for r in range(2)
    ]
    assert sorted(ranks[0] + ranks[1]) == list(range(40))  # plain DDP: disjoint rank shards
    with pytest.raises(ValueError, match="rank"):
        MixtureIterableDataset([range(4)], rank=2, world_size=2)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_mixture_weight_change_reaches_workers(context):
    sources = [list(range(0, 1000)), list(range(1000, 2000))]
    mixture = MixtureIterableDataset(sources, probabilities=[1.0, 0.0], seed=0)
    loader = DataLoader(mixture, batch_size=4, **loader_kwargs(2, context))
    batches = (domains.numpy() for domains, _ in loader)
    lag = first_new_batch_lag(batches, lambda: mixture.set_probabilities([0.0, 1.0]), 3, 1)
    print(f"mixture lag with 2 workers ({context}), prefetch_factor=2: {lag} batches")
    assert lag <= 2 * 2 + 1


# ================================================================================ DDP
def _ddp_worker(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        teacher = Exp3Teacher(Discrete(3), seed=0)
        pools = [np.arange(0, 10), np.arange(10, 30), np.arange(30, 33)]
        sampler = CurriculumSampler(teacher, pools, num_samples=96, seed=5)
        stats = DomainStats(3)
        stream, share, reported = [], [], []
        iterator = iter(sampler)
        for _ in range(12):  # 12 global batches of 8: each rank keeps every world_size-th index
            batch = [next(iterator) for _ in range(8)]
            stream += batch
            mine = batch[rank::world_size]
            share += mine
            domains = sampler.domains_of(mine)
            stats.add(domains, domains * 0.1 + rank)  # rank-dependent values, reduced below
            reported.append(stats.update_teacher(teacher))
        torch.save(
            {
                "stream": stream,
                "share": share,
                "reported": reported,
                "probs": teacher.probabilities(),
                "generator": sampler.generator.get_state(),
            },
            os.path.join(out_dir, f"rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


def test_ddp_ranks_draw_identical_streams_and_disjoint_shares(tmp_path):
    world_size = 2
    torch_mp.spawn(
        _ddp_worker,
        args=(world_size, str(tmp_path / "init"), str(tmp_path)),
        nprocs=world_size,
        join=True,
    )
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    zero, one = results
    assert zero["stream"] == one["stream"]
    assert torch.equal(zero["generator"], one["generator"])
    np.testing.assert_array_equal(zero["probs"], one["probs"])  # bitwise identical teachers
    assert zero["reported"] == one["reported"]
    assert not np.allclose(zero["probs"], 1.0 / 3.0)  # the teacher did move
    assert sorted(zero["share"] + one["share"]) == sorted(zero["stream"])
    positions = [set(range(r, len(zero["stream"]), 2)) for r in range(2)]
    assert positions[0].isdisjoint(positions[1])
    # The reduction: every step's means are over both ranks' examples (values 0.1*d + rank).
    pools_domain = CurriculumSampler(
        UniformTeacher(Discrete(3)), [range(10), range(10, 30), range(30, 33)], 1
    )
    for step, means in enumerate(zero["reported"]):
        batch = zero["stream"][8 * step : 8 * step + 8]
        for domain, mean in means.items():
            values = [
                0.1 * domain + (position % 2)
                for position, index in enumerate(batch)
                if pools_domain.domain_of(index) == domain
            ]
            assert mean == pytest.approx(np.mean(values), abs=1e-12)


def _accelerate_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world_size),
    )
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    dataset = TensorDataset(torch.arange(33))
    pools = [np.arange(0, 10), np.arange(10, 30), np.arange(30, 33)]
    results = {}
    for kind, teacher in [
        ("uniform", UniformTeacher(Discrete(3))),
        ("exp3", Exp3Teacher(Discrete(3))),
    ]:
        sampler = CurriculumSampler(teacher, pools, num_samples=96, seed=5)
        if rank == 1:
            sampler.generator.manual_seed(999)  # accelerate must re-sync it from rank 0
        loader = accelerator.prepare(
            DataLoader(dataset, batch_size=4, sampler=sampler, num_workers=2, prefetch_factor=2)
        )
        stats, batches = DomainStats(3), []
        for (batch,) in loader:
            batches.append(batch.tolist())
            domains = sampler.domains_of(batch)
            stats.add(domains, domains * 0.1 + rank)
            stats.update_teacher(teacher)
        results[kind] = {"batches": batches, "probs": teacher.probabilities()}
    torch.save(results, os.path.join(out_dir, f"accelerate{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.slow
def test_accelerate_shards_one_synchronised_stream(tmp_path):
    pytest.importorskip("accelerate")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch_mp.spawn(_accelerate_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    zero, one = (torch.load(tmp_path / f"accelerate{r}.pt", weights_only=False) for r in range(2))
    reference = list(
        CurriculumSampler(
            UniformTeacher(Discrete(3)), [range(10), range(10, 30), range(30, 33)], 96, seed=5
        )
    )
    batches = [reference[i : i + 4] for i in range(0, 96, 4)]
    assert zero["uniform"]["batches"] == batches[0::2]  # every world_size-th batch of one stream
    assert one["uniform"]["batches"] == batches[1::2]
    np.testing.assert_array_equal(zero["exp3"]["probs"], one["exp3"]["probs"])
    assert len(zero["exp3"]["batches"]) == len(one["exp3"]["batches"]) == 12
