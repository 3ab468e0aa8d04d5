"""The benchmark harness behind ``autocurr bench``: suites, machine-readable results, reports.

A *suite* is a module in the repository's ``benchmarks/`` folder that defines::

    SUITE = "teacher-overhead"      # the name `autocurr bench SUITE` uses
    DESCRIPTION = "one line"
    def run(*, seeds=None, quick=False, out_dir): ...   # -> JSON-able dict with "tables"
    def report(results): ...                            # -> markdown built only from results

Discovery reads ``SUITE`` and ``DESCRIPTION`` from each file's source (:mod:`ast`), so listing
suites imports nothing; a suite module is imported only to run it or to render its report.

``autocurr bench SUITE|all [--seeds N] [--quick]`` writes
``bench_results/<suite>/<UTC timestamp>[-quick]/``: ``results.json`` (suite, command, date,
versions, machine, quick, seeds, duration_s, results), one CSV per table of
``results["tables"]``, and whatever the suite wrote to its ``out_dir`` (plots, per-run folders).
``autocurr bench report`` puts, for each suite, its latest full run (else its latest quick run,
labelled as such) between the ``<!-- bench:SUITE -->`` and ``<!-- /bench:SUITE -->`` markers of
BENCHMARKS.md, under a header line with the command, date, duration, versions and machine; the
prose outside the markers is kept. It also copies the PNG files at the top of that run's folder
(not those of sub-folders such as per-run training logs) into
``docs/benchmarks/<suite, '-' as '_'>/`` next to BENCHMARKS.md, overwriting same-named files,
and ends the block with a ``Plots:`` line linking each copy, so the docs site (which inlines
BENCHMARKS.md) shows the plots of the run whose numbers it prints.

Prose markers: the hand-written discussion of a block quotes its numbers and goes stale when the
block is regenerated from another run. Each discussion carries one line::

    <!-- prose:SUITE written-for=RUN -->

where RUN is the name of the run folder the discussion was checked against (``20261124T144619Z``,
the UTC start time; ``-quick`` and ``-2`` suffixes included), placed by convention right after
``<!-- /bench:SUITE -->``, before the discussion. When ``bench report`` writes a block from a
run other than RUN, it warns on stderr and opens the block with a quoted note saying the
discussion below was written for another run; when the runs match there is no note. After
checking the discussion against the new numbers, set RUN to the reported run and rerun the
report. ``autocurr bench report --check`` writes nothing, lists the suites whose discussion is
stale or has no prose marker, and exits 1 when there is any.

Aggregation helpers for the suites, following Agarwal et al. (2021), "Deep RL at the Edge of the
Statistical Precipice" (the ``rliable`` package, installed by the ``bench`` extra, imported
lazily): :func:`iqm_with_ci` (interquartile mean with stratified bootstrap confidence
intervals) and :func:`performance_profile`; TeachMyAgent's (Romac et al., 2021) share of test
tasks mastered (:func:`share_mastered`); the de-biased CVaR of SFL's evaluation (:func:`cvar`,
from :mod:`autocurr.agents.evaluation`).
"""

from __future__ import annotations

import ast
import contextlib
import csv
import datetime
import filecmp
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "BenchError",
    "ReportStatus",
    "Suite",
    "cvar",
    "discover_suites",
    "find_benchmarks_dir",
    "iqm_with_ci",
    "latest_results",
    "machine_description",
    "markdown_table",
    "performance_profile",
    "prose_markers",
    "render_block",
    "replace_block",
    "resolve_suites",
    "run_name",
    "run_suite",
    "share_mastered",
    "software_versions",
    "stale_note",
    "suite_command",
    "update_markdown",
    "write_report",
]

#: Targets of ``autocurr bench`` that are commands, so no suite may take these names.
RESERVED_NAMES = frozenset({"all", "list", "report"})
DEFAULT_RESULTS_DIR = "bench_results"
RLIABLE_HINT = 'rliable is needed for this aggregate: pip install "autocurr[bench]"'
#: Distributions whose versions go into every results.json when installed (read from metadata,
#: never imported).
VERSIONED_DISTRIBUTIONS = (
    "numpy",
    "gymnasium",
    "torch",
    "stable-baselines3",
    "scikit-learn",
    "syllabus-rl",
    "rliable",
)
_SUITE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
#: ``<!-- prose:SUITE written-for=RUN -->``: the run a block's hand-written discussion is about.
_PROSE_MARKER = re.compile(r"<!--\s*prose:(?P<suite>[a-z0-9-]+)\s+written-for=(?P<run>\S+?)\s*-->")
#: Where ``bench report`` copies each reported run's plots, relative to BENCHMARKS.md.
PLOTS_DIR = Path("docs") / "benchmarks"


class BenchError(Exception):
    """A problem the user can fix (unknown suite, no checkout, malformed suite or markers)."""


# ------------------------------------------------------------------------------ discovery


@dataclass(frozen=True)
class Suite:
    """A benchmark module found on disk; :meth:`load` imports it."""

    name: str
    description: str
    path: Path

    def load(self) -> ModuleType:
        """Import the module under its file name (``maze_speed``), as ``python
        benchmarks/maze_speed.py`` sees it: its folder joins ``sys.path`` (at the end, so it
        shadows nothing) and worker processes started by spawn or forkserver, which import the
        module by name to unpickle its classes, find it there."""
        name = self.path.stem
        loaded = sys.modules.get(name)
        if loaded is not None:
            if Path(getattr(loaded, "__file__", "") or "").resolve() == self.path.resolve():
                return loaded
            raise BenchError(
                f"cannot import {self.path}: the module name {name!r} is already taken by "
                f"{getattr(loaded, '__file__', None) or loaded!r}"
            )
        folder = str(self.path.parent.resolve())
        if folder not in sys.path:
            sys.path.append(folder)
        spec = importlib.util.spec_from_file_location(name, self.path)
        if spec is None or spec.loader is None:
            raise BenchError(f"cannot import {self.path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before executing, as a normal import does
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        for attribute in ("run", "report"):
            if not callable(getattr(module, attribute, None)):
                raise BenchError(f"{self.path} defines SUITE but no {attribute}() function")
        return module


def find_benchmarks_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else the ``benchmarks/`` folder next to the ``autocurr`` package (an
    editable install or a checkout on ``sys.path``)."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_dir():
            raise BenchError(f"--benchmarks-dir {path} is not a folder")
        return path
    import autocurr

    path = Path(autocurr.__file__).resolve().parent.parent / "benchmarks"
    if not path.is_dir():
        raise BenchError(
            "benchmarks are run from a repository checkout (git clone, then pip install -e "
            f"'.[bench]'); no benchmarks/ folder next to {Path(autocurr.__file__).parent}"
        )
    return path


def discover_suites(benchmarks_dir: Path) -> dict[str, Suite]:
    """Every ``*.py`` in ``benchmarks_dir`` with a top-level ``SUITE = "..."``, by suite name."""
    suites: dict[str, Suite] = {}
    for path in sorted(Path(benchmarks_dir).glob("*.py")):
        constants = _module_constants(path, ("SUITE", "DESCRIPTION"))
        name = constants.get("SUITE")
        if name is None:
            continue
        if not isinstance(name, str) or not _SUITE_NAME.match(name) or name in RESERVED_NAMES:
            reserved = ", ".join(sorted(RESERVED_NAMES))
            raise BenchError(
                f"{path}: SUITE must be a kebab-case name other than {reserved}, got {name!r}"
            )
        if name in suites:
            raise BenchError(f"suite {name!r} is defined by {suites[name].path} and {path}")
        description = constants.get("DESCRIPTION")
        suites[name] = Suite(name, description if isinstance(description, str) else "", path)
    return suites


def _module_constants(path: Path, names: Sequence[str]) -> dict[str, Any]:
    """Literal values of top-level assignments ``NAME = <literal>`` (the module is not run)."""
    text = path.read_text(encoding="utf-8")
    if not any(name in text for name in names):
        return {}
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as error:
        raise BenchError(f"{path} does not parse: {error}") from None
    found: dict[str, Any] = {}
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                with contextlib.suppress(ValueError):
                    found[target.id] = ast.literal_eval(value)
    return found


def resolve_suites(suites: Mapping[str, Suite], requested: Sequence[str]) -> list[Suite]:
    """The suites named in ``requested`` (``all``: every suite), in the order given."""
    chosen: list[Suite] = []
    for name in requested:
        if name == "all":
            chosen += [suite for suite in suites.values() if suite not in chosen]
            continue
        if name not in suites:
            known = ", ".join(suites) or "none found"
            raise BenchError(f"unknown suite {name!r} (suites: {known})")
        if suites[name] not in chosen:
            chosen.append(suites[name])
    return chosen


# ------------------------------------------------------------------------------ running


def run_suite(
    suite: Suite,
    *,
    seeds: int | None = None,
    quick: bool = False,
    results_dir: str | os.PathLike[str] = DEFAULT_RESULTS_DIR,
    command: str | None = None,
) -> Path:
    """Run one suite; returns its ``results.json``. The run folder is named by the UTC start
    time; on failure it keeps an ``error.txt`` (and no results.json) and the error propagates."""
    started_at = datetime.datetime.now(datetime.timezone.utc)
    run_dir = _new_run_dir(Path(results_dir) / suite.name, started_at, quick)
    if command is None:
        command = suite_command(suite.name, seeds=seeds, quick=quick)
    load_before = _load_average()
    t0 = time.perf_counter()
    try:
        module = suite.load()
        results = module.run(seeds=seeds, quick=quick, out_dir=run_dir)
        duration = time.perf_counter() - t0
        tables = _check_tables(suite, results)
    except BaseException:
        (run_dir / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        raise
    for table_name, table in tables.items():
        _write_csv(run_dir / f"{_file_stem(table_name)}.csv", table)
    record = {
        "suite": suite.name,
        "command": command,
        "date": started_at.isoformat(timespec="seconds"),
        "versions": software_versions(),
        "machine": machine_description(load_before),
        "quick": quick,
        "seeds": seeds,
        "duration_s": round(duration, 3),
        "results": results,
    }
    path = run_dir / "results.json"
    # default=str: an odd object in a suite's results must not cost the run its record
    text = json.dumps(_jsonable(record), indent=2, default=str)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def suite_command(name: str, *, seeds: int | None = None, quick: bool = False) -> str:
    """The command line that reruns one suite with these settings."""
    parts = ["autocurr", "bench", name]
    if seeds is not None:
        parts += ["--seeds", str(seeds)]
    if quick:
        parts.append("--quick")
    return " ".join(parts)


def _new_run_dir(suite_dir: Path, started_at: datetime.datetime, quick: bool) -> Path:
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    suffix = "-quick" if quick else ""
    for attempt in range(100):  # two runs started in the same second get -2, -3, ...
        name = f"{stamp}{suffix}" if attempt == 0 else f"{stamp}{suffix}-{attempt + 1}"
        try:
            (suite_dir / name).mkdir(parents=True)
        except FileExistsError:
            continue
        return suite_dir / name
    raise BenchError(f"cannot create a run folder under {suite_dir}")


def _check_tables(suite: Suite, results: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(results, dict) or not isinstance(results.get("tables"), dict):
        raise BenchError(f"suite {suite.name}: run() must return a dict with a 'tables' dict")
    for name, table in results["tables"].items():
        columns, rows = table.get("columns"), table.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, list):
            raise BenchError(f"suite {suite.name}: table {name!r} needs 'columns' and 'rows' lists")
        for row in rows:
            if len(row) != len(columns):
                raise BenchError(
                    f"suite {suite.name}: table {name!r} has a row of {len(row)} cells for "
                    f"{len(columns)} columns"
                )
    return results["tables"]


def _write_csv(path: Path, table: Mapping[str, Any]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table["columns"])
        writer.writerows(_jsonable(table["rows"]))


def _file_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return stem or "table"


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays, paths and tuples as plain JSON values; NaN/inf as null."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def software_versions() -> dict[str, str]:
    """autocurr, Python and the installed distributions of :data:`VERSIONED_DISTRIBUTIONS`."""
    import autocurr

    versions = {"autocurr": autocurr.__version__, "python": platform.python_version()}
    for distribution in VERSIONED_DISTRIBUTIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[distribution] = importlib.metadata.version(distribution)
    return versions


def machine_description(load_average: float | None = None) -> dict[str, Any]:
    """CPU model and count, memory, OS, the 1-minute load at the start, and the GPU when a suite
    has already imported torch (the harness never imports it)."""
    machine: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": _cpu_model() or platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    memory = _memory_gib()
    if memory is not None:
        machine["memory_gib"] = memory
    if load_average is not None:
        machine["load_1min_at_start"] = load_average
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            if torch.cuda.is_available():
                machine["gpu"] = torch.cuda.get_device_name(0)
    return machine


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return None


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    return None


def _load_average() -> float | None:
    with contextlib.suppress(OSError, AttributeError):
        return round(os.getloadavg()[0], 2)
    return None


@contextlib.contextmanager
def progress(total: int) -> Iterator[Callable[[str], None]]:
    """A status line per suite (rich when installed, plain lines otherwise); yields
    ``start(suite_name)``."""
    try:
        from rich.console import Console
    except ImportError:
        Console = None
    if Console is None or total == 0:
        yield lambda name: print(f"running {name} ...", file=sys.stderr, flush=True)
        return
    console = Console(stderr=True)
    counter = {"done": 0}
    with console.status("") as status:

        def start(name: str) -> None:
            counter["done"] += 1
            status.update(f"[bold]{name}[/bold] ({counter['done']}/{total})")

        yield start


def spawn_importable(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` in a form a spawned worker process can unpickle. A suite file loaded under
    another module name (a test, an older harness) cannot be imported by a fresh interpreter,
    so workers get ``function`` from the module named after the file, whose folder goes on
    ``sys.path`` (spawned processes inherit it)."""
    module_file = Path(sys.modules[function.__module__].__file__ or "")
    stem = module_file.stem
    if function.__module__ in ("__main__", "__mp_main__", stem):
        return function
    folder = str(module_file.resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)
    return getattr(importlib.import_module(stem), function.__name__)


# ------------------------------------------------------------------------------ reports


def latest_results(results_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """For each suite folder under ``results_dir``: its latest full run, else its latest quick
    run (the loaded results.json, with ``"path"`` added)."""
    latest: dict[str, dict[str, Any]] = {}
    root = Path(results_dir)
    if not root.is_dir():
        return latest
    for suite_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        records = []
        for path in suite_dir.glob("*/results.json"):
            with contextlib.suppress(OSError, json.JSONDecodeError):
                record = json.loads(path.read_text(encoding="utf-8"))
                record["path"] = str(path)
                records.append(record)
        if not records:
            continue
        # full runs first, then the newest (ISO dates in UTC sort as strings; the -2, -3 ...
        # suffix of the folder breaks ties between runs started in the same second)
        records.sort(key=lambda r: (not r.get("quick", False), r.get("date", ""), _attempt(r)))
        latest[records[-1].get("suite", suite_dir.name)] = records[-1]
    return latest


def _attempt(record: Mapping[str, Any]) -> int:
    """2, 3, ... for the run folders ``_new_run_dir`` suffixes with -2, -3, ...; else 1."""
    suffix = re.search(r"-(\d+)$", run_name(record))
    return int(suffix.group(1)) if suffix else 1


def render_block(
    record: Mapping[str, Any],
    body: str,
    *,
    plots: Sequence[tuple[str, str]] = (),
    written_for: str | None = None,
) -> str:
    """The header line (command, date, duration, versions, machine) and the suite's report;
    ``plots`` (name, link) add a ``Plots:`` line, and ``written_for`` (the run the prose marker
    names) a note at the top when it is not this record's run."""
    versions = ", ".join(f"{name} {version}" for name, version in record["versions"].items())
    machine = record.get("machine", {})
    described = f"{machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} cores"
    if machine.get("gpu"):
        described += f", {machine['gpu']}"
    if machine.get("load_1min_at_start") is not None:
        described += f", load {machine['load_1min_at_start']} at start"
    header = (
        f"Command: `{record['command']}` ({_duration(record['duration_s'])}). "
        f"Date: {record['date']}. Versions: {versions}. Machine: {described}."
    )
    if record.get("quick"):
        header = (
            "**Quick smoke run** (`--quick`: reduced budget, not the documented numbers). " + header
        )
    parts = [header, body.strip()]
    if written_for is not None and written_for != run_name(record):
        parts.insert(0, stale_note(written_for, record))
    if plots:
        parts.append("Plots: " + ", ".join(f"[{name}]({link})" for name, link in plots) + ".")
    return "\n\n".join(parts) + "\n"


def run_name(record: Mapping[str, Any]) -> str:
    """The name of the run folder a loaded record came from (``20261124T144619Z``), the RUN of
    prose markers; the record's date when it carries no path."""
    path = record.get("path")
    return Path(path).parent.name if path else str(record.get("date", "?"))


def _run_date(run: str) -> str:
    """The UTC start time a run folder's name encodes, printed as the block headers print dates;
    the name itself when it encodes none."""
    with contextlib.suppress(ValueError):
        started = datetime.datetime.strptime(run[:16], "%Y%m%dT%H%M%SZ")
        return started.replace(tzinfo=datetime.timezone.utc).isoformat(timespec="seconds")
    return run


def stale_note(written_for: str, record: Mapping[str, Any]) -> str:
    """The quoted line that opens a block whose discussion was written for another run."""
    return (
        f"> **Note:** the discussion below was written for the run of {_run_date(written_for)} "
        f"(`{written_for}`); the numbers in this block come from the run of {record['date']} "
        f"(`{run_name(record)}`). Numbers quoted in the discussion may differ."
    )


def prose_markers(markdown: str) -> dict[str, str]:
    """Suite -> RUN of every ``<!-- prose:SUITE written-for=RUN -->`` line of ``markdown``."""
    markers: dict[str, str] = {}
    for match in _PROSE_MARKER.finditer(markdown):
        if match["suite"] in markers:
            raise BenchError(f"the prose marker of suite {match['suite']!r} appears more than once")
        markers[match["suite"]] = match["run"]
    return markers


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def replace_block(markdown: str, suite: str, block: str) -> str:
    """``markdown`` with the text between the suite's markers replaced by ``block``; appended
    under ``## <suite>`` when the markers are missing."""
    opening, closing = f"<!-- bench:{suite} -->", f"<!-- /bench:{suite} -->"
    starts = [m.start() for m in re.finditer(re.escape(opening), markdown)]
    ends = [m.start() for m in re.finditer(re.escape(closing), markdown)]
    if not starts and not ends:
        kept = markdown.rstrip("\n")
        before = f"{kept}\n\n" if kept else ""
        return f"{before}## {suite}\n\n{opening}\n\n{block.strip()}\n\n{closing}\n"
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise BenchError(
            f"the markers of suite {suite!r} must appear once each, {opening} before {closing}"
        )
    head = markdown[: starts[0] + len(opening)]
    # blank lines around the block: a table right before a comment line stays a table
    return f"{head}\n\n{block.strip()}\n\n{markdown[ends[0] :]}"


def update_markdown(
    markdown: str,
    records: Mapping[str, Mapping[str, Any]],
    suites: Mapping[str, Suite],
    *,
    plots: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> tuple[str, list[str]]:
    """Replace the block of every suite with a record; returns the text and the suites done.
    ``plots``: suite -> (name, link) of the plots its block links. A block whose prose marker
    names another run opens with :func:`stale_note`."""
    plots = plots or {}
    markers = prose_markers(markdown)
    done = []
    for name, record in records.items():
        if name not in suites:
            continue  # results of a suite that no longer exists
        body = suites[name].load().report(record["results"])
        block = render_block(record, body, plots=plots.get(name, ()), written_for=markers.get(name))
        markdown = replace_block(markdown, name, block)
        done.append(name)
    return markdown, done


@dataclass(frozen=True)
class ReportStatus:
    """What :func:`write_report` did, or with ``check=True`` would do."""

    #: the suites whose block is written
    done: list[str]
    #: suite -> (the run its prose marker names, the run its block reports), where they differ
    stale: dict[str, tuple[str, str]]
    #: the reported suites without a prose marker
    missing: list[str]
    #: suite -> the copies of its run's plots (empty with ``check=True``)
    plots: dict[str, list[Path]]


def write_report(
    results_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    suites: Mapping[str, Suite],
    only: Sequence[str] = (),
    *,
    plots_dir: str | os.PathLike[str] | None = None,
    check: bool = False,
) -> ReportStatus:
    """Regenerate ``output`` (BENCHMARKS.md) from the latest results and copy each reported
    run's plots into ``plots_dir/<suite, '-' as '_'>/`` (default: ``docs/benchmarks`` next to
    ``output``), linked from the blocks relative to ``output``. ``check``: write and copy
    nothing, only compare the prose markers with the runs that would be reported."""
    if only:
        unknown = [name for name in only if name not in suites]
        if unknown:
            raise BenchError(f"unknown suite(s): {', '.join(unknown)}")
    records = {
        name: record
        for name, record in latest_results(results_dir).items()
        if name in suites and (not only or name in only)
    }
    path = Path(output)
    markdown = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    markers = prose_markers(markdown)
    stale = {
        name: (markers[name], run_name(record))
        for name, record in records.items()
        if name in markers and markers[name] != run_name(record)
    }
    missing = [name for name in records if name not in markers]
    if check:
        return ReportStatus(list(records), stale, missing, {})
    root = path.parent / PLOTS_DIR if plots_dir is None else Path(plots_dir)
    copies = {
        name: _plot_copies(record, root / name.replace("-", "_"))
        for name, record in records.items()
    }
    links = {
        name: [
            (source.stem.replace("_", " "), _link(target, path.parent)) for source, target in pairs
        ]
        for name, pairs in copies.items()
    }
    markdown, done = update_markdown(markdown, records, suites, plots=links)
    # copied only once every report rendered: a failing suite leaves the docs as they were
    for pairs in copies.values():
        for source, target in pairs:
            _copy_if_changed(source, target)
    path.write_text(markdown, encoding="utf-8")
    plots = {name: [target for _, target in pairs] for name, pairs in copies.items() if pairs}
    return ReportStatus(done, stale, missing, plots)


def _plot_copies(record: Mapping[str, Any], folder: Path) -> list[tuple[Path, Path]]:
    """(source, copy) of each PNG at the top of the record's run folder, by file name."""
    run_dir = Path(record["path"]).parent
    return [
        (source, folder / source.name)
        for source in sorted(run_dir.glob("*.png"), key=lambda path: path.stem)
    ]


def _link(target: Path, base: Path) -> str:
    return Path(os.path.relpath(target.resolve(), base.resolve())).as_posix()


def _copy_if_changed(source: Path, target: Path) -> None:
    if target.exists() and filecmp.cmp(source, target, shallow=False):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


# ------------------------------------------------------------------------------ aggregates


def _rliable() -> tuple[ModuleType, ModuleType]:
    try:
        from rliable import library, metrics
    except ImportError as error:
        raise ImportError(RLIABLE_HINT) from error
    return library, metrics


@contextlib.contextmanager
def _seeded_global_numpy(seed: int) -> Iterator[None]:
    # rliable's stratified bootstrap draws its indices from numpy's global RNG (np.random.choice),
    # not from the random_state it is given: seed it for reproducible intervals and restore the
    # caller's state afterwards.
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _score_matrices(scores: Mapping[str, Any]) -> dict[str, np.ndarray]:
    matrices = {}
    for name, values in scores.items():
        matrix = np.asarray(values, dtype=np.float64)
        if matrix.ndim == 1:
            matrix = matrix[:, None]  # one task
        if matrix.ndim != 2 or matrix.size == 0:
            raise ValueError(f"scores[{name!r}] must be a non-empty (runs x tasks) array")
        if not np.all(np.isfinite(matrix)):
            raise ValueError(f"scores[{name!r}] contains NaN or infinite values")
        matrices[name] = matrix
    return matrices


def iqm_with_ci(
    scores: Mapping[str, Any],
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Interquartile mean (the 25 % trimmed mean over all runs x tasks) of each method, with a
    percentile stratified-bootstrap confidence interval (runs resampled within each task), as
    in rliable.

    ``scores``: method -> array of shape (runs, tasks) (a 1-D array is one task). Returns
    method -> ``{"iqm", "low", "high"}``; reproducible for a given ``seed``.
    """
    library, metrics = _rliable()
    matrices = _score_matrices(scores)
    with _seeded_global_numpy(seed):
        points, intervals = library.get_interval_estimates(
            matrices,
            lambda x: np.array([metrics.aggregate_iqm(x)]),
            reps=reps,
            confidence_interval_size=confidence,
        )
    return {
        name: {
            "iqm": float(points[name][0]),
            "low": float(intervals[name][0][0]),
            "high": float(intervals[name][1][0]),
        }
        for name in matrices
    }


def performance_profile(
    scores: Mapping[str, Any],
    thresholds: Sequence[float] | np.ndarray,
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, list[float]]]:
    """Score distributions (rliable's performance profiles): for each threshold τ, the fraction
    of runs x tasks with a score above τ, with stratified-bootstrap confidence bands.

    Returns method -> ``{"thresholds", "fraction", "low", "high"}`` (lists, one per threshold).
    """
    library, _ = _rliable()
    matrices = _score_matrices(scores)
    taus = np.asarray(thresholds, dtype=np.float64)
    with _seeded_global_numpy(seed):
        profiles, bands = library.create_performance_profile(
            matrices, taus, reps=reps, confidence_interval_size=confidence
        )
    return {
        name: {
            "thresholds": taus.tolist(),
            "fraction": np.asarray(profiles[name], dtype=np.float64).tolist(),
            "low": np.asarray(bands[name][0], dtype=np.float64).tolist(),
            "high": np.asarray(bands[name][1], dtype=np.float64).tolist(),
        }
        for name in matrices
    }


def share_mastered(scores: Any, threshold: float) -> np.ndarray:
    """TeachMyAgent's "% of test tasks mastered": per run, the share of test tasks whose score
    (success rate, return) is ``>= threshold``.

    ``scores``: (runs, tasks), or (tasks,) for one run. Returns one share per run; report their
    mean (and spread) over seeds.
    """
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"scores must be (runs, tasks) or (tasks,), got shape {matrix.shape}")
    return (matrix >= threshold).mean(axis=1)


def cvar(
    ranking_rates: Sequence[float],
    measured_rates: Sequence[float],
    fractions: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """The de-biased CVaR tail protocol (rank levels on one evaluation seed, measure the worst
    fraction on another): :func:`autocurr.agents.evaluation.debiased_cvar`."""
    from autocurr.agents.evaluation import CVAR_FRACTIONS, debiased_cvar

    return debiased_cvar(
        ranking_rates, measured_rates, CVAR_FRACTIONS if fractions is None else fractions
    )


def markdown_table(table: Mapping[str, Any], formats: Mapping[str, str] | None = None) -> str:
    """A results table (``{"columns", "rows"}``) as markdown; ``formats`` maps a column to a
    format spec for its numbers (e.g. ``{"ratio": ".2f"}``), other numbers use ``,`` grouping
    for integers and 3 significant digits for floats; None prints as ``–``."""
    formats = formats or {}
    columns = list(table["columns"])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table["rows"]:
        cells = [
            _cell(value, formats.get(column)) for column, value in zip(columns, row, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any, spec: str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if spec is not None:
        return format(value, spec)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
