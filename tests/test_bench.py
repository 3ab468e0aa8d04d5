"""The benchmark harness (autocurr/bench.py, ``autocurr bench``) and the suites converted to it."""

from __future__ import annotations

import csv
import json
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

from autocurr import bench
from autocurr.cli import main

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
#: The suites converted with the harness (the other suites have their own tests).
MY_SUITES = ("teacher-overhead", "level-buffer", "maze-speed", "batched-ppo", "vec-throughput")

FAKE_SUITE = '''
"""A fake suite: fast, deterministic, writes one artefact."""
import json

SUITE = "fake"
DESCRIPTION = "a fake suite for the harness tests"


def run(*, seeds=None, quick=False, out_dir):
    seeds = 2 if seeds is None else seeds
    (out_dir / "artefact.txt").write_text("plot")
    rows = [["uniform", seed, 0.5 + 0.1 * seed] for seed in range(seeds)]
    return {
        "tables": {"main table": {"columns": ["teacher", "seed", "score"], "rows": rows}},
        "settings": {"quick": quick, "seeds": seeds},
    }


def report(results):
    n = results["settings"]["seeds"]
    return f"| teacher | seeds |\\n|---|---|\\n| uniform | {n} |\\n\\n- target: **met**"
'''


@pytest.fixture
def fake_dir(tmp_path: Path) -> Path:
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    # a fresh module name per test: suites are imported under their file name
    (benchmarks / f"fake_suite_{uuid.uuid4().hex}.py").write_text(FAKE_SUITE)
    # a plain script without SUITE is ignored, and is never imported (it would fail)
    (benchmarks / "not_a_suite.py").write_text("raise RuntimeError('imported')\n")
    return benchmarks


def _bench(fake_dir: Path, *args: str) -> int:
    return main(["bench", *args, "--benchmarks-dir", str(fake_dir)])


def test_run_writes_results_json_csv_and_artefacts(fake_dir, tmp_path, capsys):
    results_dir = tmp_path / "results"
    assert _bench(fake_dir, "fake", "--quick", "--results-dir", str(results_dir)) == 0
    (run_dir,) = (results_dir / "fake").iterdir()
    assert run_dir.name.endswith("-quick")
    record = json.loads((run_dir / "results.json").read_text())
    assert record["suite"] == "fake"
    assert record["command"] == "autocurr bench fake --quick"
    assert record["quick"] is True and record["seeds"] is None
    assert record["date"].endswith("+00:00")
    assert {"autocurr", "python", "numpy"} <= set(record["versions"])
    assert record["machine"]["cpu_count"] >= 1 and record["machine"]["platform"]
    assert record["duration_s"] >= 0
    assert record["results"]["settings"] == {"quick": True, "seeds": 2}
    with (run_dir / "main_table.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows == [["teacher", "seed", "score"], ["uniform", "0", "0.5"], ["uniform", "1", "0.6"]]
    assert (run_dir / "artefact.txt").read_text() == "plot"
    assert "fake" in capsys.readouterr().out


def test_seeds_reach_the_suite_and_the_command(fake_dir, tmp_path):
    results_dir = tmp_path / "results"
    assert _bench(fake_dir, "all", "--seeds", "3", "--results-dir", str(results_dir)) == 0
    (path,) = (results_dir / "fake").glob("*/results.json")
    record = json.loads(path.read_text())
    assert record["command"] == "autocurr bench fake --seeds 3"
    assert record["quick"] is False and len(record["results"]["tables"]["main table"]["rows"]) == 3


def test_unknown_suite_and_bad_combinations_are_usage_errors(fake_dir, capsys):
    assert _bench(fake_dir, "nope") == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err
    assert _bench(fake_dir, "fake", "report") == 2
    assert _bench(fake_dir, "list", "fake") == 2


def test_a_failing_suite_leaves_error_txt_and_exit_1(fake_dir, tmp_path):
    (fake_dir / f"broken_{uuid.uuid4().hex}.py").write_text(
        'SUITE = "broken"\n'
        "def run(*, seeds=None, quick=False, out_dir):\n    raise ValueError('x')\n"
        "def report(results):\n    return ''\n"
    )
    results_dir = tmp_path / "results"
    assert _bench(fake_dir, "all", "--results-dir", str(results_dir)) == 1
    (broken_run,) = (results_dir / "broken").iterdir()
    assert "ValueError" in (broken_run / "error.txt").read_text()
    assert not (broken_run / "results.json").exists()
    assert list((results_dir / "fake").glob("*/results.json"))  # the other suite still ran


def test_list_reads_names_without_importing(fake_dir, capsys):
    assert _bench(fake_dir, "list") == 0
    out = capsys.readouterr().out
    assert "fake" in out and "a fake suite for the harness tests" in out
    assert "not_a_suite" not in out


def test_report_replaces_exactly_the_marked_block(fake_dir, tmp_path):
    results_dir = tmp_path / "results"
    assert _bench(fake_dir, "fake", "--quick", "--results-dir", str(results_dir)) == 0
    document = tmp_path / "BENCHMARKS.md"
    before = "# Benchmarks\n\n## Fake\n\nProse before.\n\n"
    after = "\nProse after, kept.\n\n## Other\n\nMore prose.\n"
    document.write_text(f"{before}<!-- bench:fake -->\nold table\n<!-- /bench:fake -->\n{after}")
    args = ("report", "--results-dir", str(results_dir), "--output", str(document))
    assert _bench(fake_dir, *args) == 0
    text = document.read_text()
    assert text.startswith(before + "<!-- bench:fake -->\n")
    assert text.endswith("<!-- /bench:fake -->\n" + after)
    block = text[len(before) : -len(after)]
    assert "old table" not in block
    assert "**Quick smoke run**" in block and "`autocurr bench fake --quick`" in block
    assert "| uniform | 2 |" in block and "**met**" in block
    # a full run now exists: it wins over the quick one, and the rewrite is idempotent
    assert _bench(fake_dir, "fake", "--results-dir", str(results_dir)) == 0
    assert _bench(fake_dir, *args) == 0
    once = document.read_text()
    assert "Quick smoke run" not in once and "`autocurr bench fake`" in once
    assert _bench(fake_dir, *args) == 0
    assert document.read_text() == once


def test_report_appends_a_section_when_markers_are_missing(fake_dir, tmp_path):
    results_dir = tmp_path / "results"
    assert _bench(fake_dir, "fake", "--results-dir", str(results_dir)) == 0
    document = tmp_path / "BENCHMARKS.md"
    document.write_text("# Benchmarks\n\nIntro.\n")
    args = ("report", "--results-dir", str(results_dir), "--output", str(document))
    assert _bench(fake_dir, *args) == 0
    text = document.read_text()
    assert text.startswith("# Benchmarks\n\nIntro.\n\n## fake\n\n<!-- bench:fake -->\n")
    assert text.endswith("<!-- /bench:fake -->\n")


def test_report_without_results_changes_nothing(fake_dir, tmp_path):
    document = tmp_path / "BENCHMARKS.md"
    document.write_text("keep\n")
    args = ("report", "--results-dir", str(tmp_path / "none"), "--output", str(document))
    assert _bench(fake_dir, *args) == 1
    assert document.read_text() == "keep\n"


def test_unbalanced_markers_are_an_error():
    with pytest.raises(bench.BenchError, match="once each"):
        bench.replace_block("<!-- /bench:x -->\n<!-- bench:x -->\n", "x", "new\n")


def test_repository_suites_are_discovered_with_unique_names():
    suites = bench.discover_suites(bench.find_benchmarks_dir())
    assert bench.find_benchmarks_dir() == BENCHMARKS
    for name in MY_SUITES:
        assert name in suites and suites[name].description


# ------------------------------------------------------------------------------ aggregates


def test_iqm_with_ci_on_hand_computed_scores():
    pytest.importorskip("rliable")
    # 8 runs x 1 task: the IQM drops the lowest and highest 2 -> mean(3, 4, 5, 6) = 4.5
    # 4 runs x 2 tasks: 8 values 0..7 pooled -> mean(2, 3, 4, 5) = 3.5
    scores = {
        "a": np.arange(1.0, 9.0),
        "b": np.array([[0.0, 4.0], [1.0, 5.0], [2.0, 6.0], [3.0, 7.0]]),
    }
    state = np.random.get_state()  # noqa: NPY002
    result = bench.iqm_with_ci(scores, reps=500, seed=1)
    assert np.all(np.random.get_state()[1] == state[1])  # noqa: NPY002 (global RNG restored)
    assert result["a"]["iqm"] == pytest.approx(4.5)
    assert result["b"]["iqm"] == pytest.approx(3.5)
    for values in result.values():
        assert values["low"] <= values["iqm"] <= values["high"]
        assert values["low"] < values["high"]
    assert bench.iqm_with_ci(scores, reps=500, seed=1) == result  # reproducible
    constant = bench.iqm_with_ci({"c": np.full((5, 3), 0.25)}, reps=200)["c"]
    assert constant == {"iqm": 0.25, "low": 0.25, "high": 0.25}


def test_performance_profile_counts_scores_above_each_threshold():
    pytest.importorskip("rliable")
    profile = bench.performance_profile({"a": np.array([[0.1, 0.9], [0.5, 0.7]])}, [0.0, 0.6, 1.0])
    assert profile["a"]["fraction"] == pytest.approx([1.0, 0.5, 0.0])
    for low, mid, high in zip(*(profile["a"][k] for k in ("low", "fraction", "high")), strict=True):
        assert low <= mid <= high


def test_share_mastered_per_run():
    shares = bench.share_mastered([[0.9, 0.2, 0.8, 1.0], [0.0, 0.0, 0.5, 0.7]], threshold=0.8)
    assert shares.tolist() == [0.75, 0.0]
    assert bench.share_mastered([0.7, 0.71], threshold=0.7).tolist() == [1.0]
    with pytest.raises(ValueError, match="shape"):
        bench.share_mastered(np.zeros((2, 2, 2)), threshold=0.5)


def test_cvar_reuses_the_debiased_protocol():
    pytest.importorskip("gymnasium")
    rows = bench.cvar([0.0, 1.0, 0.5, 0.2], [0.4, 1.0, 0.5, 0.1], fractions=[0.5])
    assert rows == [{"fraction": 0.5, "n_levels": 2, "solve_rate": 0.25, "biased_solve_rate": 0.1}]


def test_markdown_table_formats_numbers():
    table = {
        "columns": ["name", "n", "x", "ratio", "none"],
        "rows": [["a", 12345, 0.12345, 1.5, None]],
    }
    text = bench.markdown_table(table, {"ratio": ".2f"})
    assert text.splitlines()[2] == "| a | 12,345 | 0.123 | 1.50 | – |"


# ------------------------------------------------------------------------------ converted suites


def _load(name: str):
    return bench.discover_suites(BENCHMARKS)[name].load()


def _check_suite(name: str, out_dir: Path) -> dict:
    module = _load(name)
    results = module.run(quick=True, out_dir=out_dir)
    # report() gets what results.json holds: the results after a JSON round trip
    results = json.loads(json.dumps(bench._jsonable(results)))
    assert results["tables"]
    for table in results["tables"].values():
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    text = module.report(results)
    assert "|" in text
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", ["teacher-overhead", "level-buffer", "maze-speed"])
def test_converted_suite_quick(name, tmp_path):
    _check_suite(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["batched-ppo", "vec-throughput"])
def test_suite_with_sb3_quick(name, tmp_path):
    pytest.importorskip("stable_baselines3")
    _check_suite(name, tmp_path)


def test_suite_modules_import_cheaply():
    # importing a suite must not run it, nor pull in torch / SB3 by itself
    code = textwrap.dedent(
        f"""
        import sys
        from autocurr import bench
        suites = bench.discover_suites(bench.find_benchmarks_dir({str(BENCHMARKS)!r}))
        for name in {MY_SUITES!r}:
            suites[name].load()
        print(sorted(m for m in ("torch", "stable_baselines3") if m in sys.modules))
        """
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ plots and prose

PLOTTING_SUITE = """
SUITE = "fake-plots"


def run(*, seeds=None, quick=False, out_dir):
    (out_dir / "curve_plot.png").write_bytes(b"png: curve")
    (out_dir / "b_share.png").write_bytes(b"png: share")
    (out_dir / "runs").mkdir()
    (out_dir / "runs" / "per_run.png").write_bytes(b"png: one training run")
    return {"tables": {}}


def report(results):
    return "| a |\\n|---|\\n| 1 |"
"""


@pytest.fixture
def plotting_dir(tmp_path: Path) -> Path:
    benchmarks = tmp_path / "plotting_benchmarks"
    benchmarks.mkdir()
    (benchmarks / f"plotting_suite_{uuid.uuid4().hex}.py").write_text(PLOTTING_SUITE)
    return benchmarks


def _document(folder: Path, suite: str, written_for: str | None = None) -> Path:
    document = folder / "BENCHMARKS.md"
    folder.mkdir(exist_ok=True)
    marker = f"<!-- prose:{suite} written-for={written_for} -->\n" if written_for else ""
    document.write_text(
        f"# B\n\n<!-- bench:{suite} -->\nold\n<!-- /bench:{suite} -->\n{marker}\nDiscussion.\n"
    )
    return document


def _block(text: str, suite: str) -> str:
    return text.split(f"<!-- bench:{suite} -->")[1].split(f"<!-- /bench:{suite} -->")[0]


def test_report_copies_the_runs_plots_and_links_them(plotting_dir, tmp_path, capsys):
    results_dir = tmp_path / "results"
    assert _bench(plotting_dir, "fake-plots", "--results-dir", str(results_dir)) == 0
    site = tmp_path / "site"
    document = _document(site, "fake-plots")
    plots = site / "docs" / "benchmarks" / "fake_plots"
    plots.mkdir(parents=True)
    (plots / "curve_plot.png").write_bytes(b"an older plot")
    (plots / "unrelated.png").write_bytes(b"kept")
    args = ("report", "--results-dir", str(results_dir), "--output", str(document))
    assert _bench(plotting_dir, *args) == 0
    assert "2 plot(s)" in capsys.readouterr().out
    # top-level PNGs only (not a sub-folder's), same-named files overwritten, others kept
    assert sorted(p.name for p in plots.iterdir()) == [
        "b_share.png",
        "curve_plot.png",
        "unrelated.png",
    ]
    assert (plots / "curve_plot.png").read_bytes() == b"png: curve"
    assert (plots / "unrelated.png").read_bytes() == b"kept"
    block = _block(document.read_text(), "fake-plots")
    assert block.rstrip().endswith(
        "Plots: [b share](docs/benchmarks/fake_plots/b_share.png), "
        "[curve plot](docs/benchmarks/fake_plots/curve_plot.png)."
    )
    # the plots folder can be placed elsewhere: links stay relative to the document
    status = bench.write_report(
        results_dir, document, bench.discover_suites(plotting_dir), plots_dir=site / "pics"
    )
    assert status.plots["fake-plots"][0] == site / "pics" / "fake_plots" / "b_share.png"
    assert "[b share](pics/fake_plots/b_share.png)" in document.read_text()


def test_stale_prose_note_appears_exactly_when_the_run_differs(fake_dir, tmp_path, capsys):
    results_dir = tmp_path / "results"
    assert _bench(fake_dir, "fake", "--results-dir", str(results_dir)) == 0
    (first,) = (p.name for p in (results_dir / "fake").iterdir())
    document = _document(tmp_path / "site", "fake", written_for=first)
    args = ("report", "--results-dir", str(results_dir), "--output", str(document))
    assert _bench(fake_dir, *args) == 0
    assert "Note:" not in document.read_text()
    assert "warning" not in capsys.readouterr().err

    assert _bench(fake_dir, "fake", "--results-dir", str(results_dir)) == 0  # a newer run
    (second,) = (p.name for p in (results_dir / "fake").iterdir() if p.name != first)
    capsys.readouterr()
    assert _bench(fake_dir, *args) == 0
    assert f"discussion of fake was written for run {first}" in capsys.readouterr().err
    text = document.read_text()
    block = _block(text, "fake")
    assert block.count("Note:") == 1 and f"(`{first}`)" in block and f"(`{second}`)" in block
    assert "Numbers quoted in the discussion may differ" in block
    assert f"<!-- prose:fake written-for={first} -->" in text  # the marker is the author's

    document.write_text(text.replace(f"written-for={first}", f"written-for={second}"))
    assert _bench(fake_dir, *args) == 0
    assert "Note:" not in document.read_text()


def test_check_exit_code_and_writes_nothing(fake_dir, tmp_path, capsys):
    results_dir = tmp_path / "results"
    assert _bench(fake_dir, "fake", "--results-dir", str(results_dir)) == 0
    (run,) = (p.name for p in (results_dir / "fake").iterdir())
    check = ("report", "--check", "--results-dir", str(results_dir), "--output")
    missing = _document(tmp_path / "missing", "fake")
    before = missing.read_text()
    capsys.readouterr()
    assert _bench(fake_dir, *check, str(missing)) == 1
    assert "fake has no <!-- prose:fake written-for=RUN --> line" in capsys.readouterr().err
    stale = _document(tmp_path / "stale", "fake", written_for="20200101T000000Z")
    assert _bench(fake_dir, *check, str(stale)) == 1
    assert "discussion of fake was written for run 20200101T000000Z" in capsys.readouterr().err
    current = _document(tmp_path / "current", "fake", written_for=run)
    assert _bench(fake_dir, *check, str(current)) == 0
    assert missing.read_text() == before and "old" in _block(current.read_text(), "fake")
    assert not (tmp_path / "current" / "docs").exists()
    assert _bench(fake_dir, "fake", "--check") == 2  # --check goes with report only


def test_prose_markers_are_parsed_once_per_suite():
    text = "<!-- prose:a-b written-for=20261124T144619Z-quick -->\n<!--prose:c written-for=x-->"
    assert bench.prose_markers(text) == {"a-b": "20261124T144619Z-quick", "c": "x"}
    assert bench._run_date("20261124T144619Z-quick") == "2026-11-24T14:46:19+00:00"
    assert bench._run_date("not-a-date") == "not-a-date"
    with pytest.raises(bench.BenchError, match="more than once"):
        bench.prose_markers(text + "\n<!-- prose:c written-for=y -->")


def test_latest_run_of_one_second_is_the_highest_suffix(tmp_path):
    for name in ("20261124T144619Z", "20261124T144619Z-2", "20261124T144619Z-10"):
        (tmp_path / "s" / name).mkdir(parents=True)
        record = {"suite": "s", "date": "2026-11-24T14:46:19+00:00", "quick": False}
        (tmp_path / "s" / name / "results.json").write_text(json.dumps(record))
    assert bench.run_name(bench.latest_results(tmp_path)["s"]) == "20261124T144619Z-10"


def test_the_repository_discussions_match_the_runs_they_describe():
    # The committed BENCHMARKS.md against the committed runs: a block regenerated from a new run
    # must come with its discussion checked and its prose marker moved (see bench.py).
    suites = bench.discover_suites(REPO / "benchmarks")
    status = bench.write_report(
        REPO / "bench_results", REPO / "BENCHMARKS.md", suites, check=True
    )
    assert set(status.done) == set(suites)
    assert status.stale == {} and status.missing == []
