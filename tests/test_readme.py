"""The README's example must run as written."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_wrap_example_runs_and_teaches():
    blocks = python_blocks()
    assert blocks, "README lost its python example"
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    teacher, env = namespace["teacher"], namespace["env"]
    assert teacher.n_updates == env.episodes_reported > 100
    assert namespace["state"]["name"] == "exp3"
    assert len(blocks[0].strip().splitlines()) <= 22


def test_readme_ued_example_runs_with_a_smaller_budget():
    block = next(b for b in python_blocks() if "UEDPPO" in b)
    assert "model.learn(500_000)" in block
    namespace: dict = {}
    exec(compile(block.replace("500_000", "4096"), str(README), "exec"), namespace)
    budget = namespace["model"].budget()
    assert budget["env_steps"] == budget["steps_trained"] + budget["steps_no_grad"] >= 4096
    assert namespace["teacher"].n_updates > 0


def test_readme_data_example_runs_and_updates_the_teacher_every_step():
    pytest.importorskip("torch")
    block = next(b for b in python_blocks() if "CurriculumSampler" in b)
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    teacher, sampler = namespace["teacher"], namespace["sampler"]
    assert teacher.steps == len(sampler) // 64 == 300  # one update_batch per optimizer step
    assert not np.allclose(teacher.probabilities(), 1 / 3)  # the losses moved the mixture
