"""Examples must run, and show what their docstrings claim."""

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_task_aware_env_teacher_leaves_unreachable_targets_at_the_floor():
    probabilities = load("task_aware_env").main(episodes=3000, seed=0)
    unreachable = probabilities[10:]  # distances 11..14 never fit in 10 steps
    assert np.all(unreachable < 1 / 14)
    assert probabilities[:10].sum() > 0.85
