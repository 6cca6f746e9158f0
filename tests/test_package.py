"""The package as a whole: one import namespace, no import-time side effects, short functions."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent

EVERY_MODULE_LEAVES_THE_PROCESS_AS_IT_WAS = """
import atexit, copy, json, os, pkgutil, signal, sys, importlib
# What newslake's modules import from other distributions, first: their own import-time effects
# (Polars sets an allocator variable, Dask loads its defaults) are not newslake's.
import dask, distributed, distributed.nanny, duckdb, matplotlib, polars, prefect, prefect_dask, pyarrow, spacy
import multiprocessing.forkserver, prefect.artifacts, prefect.main, pyarrow.compute, pyarrow.parquet
import datasketch, ftfy, networkx, py3langid, trafilatura, typer, rich, pydantic_settings, upath
def state():
    return {
        "environ": dict(os.environ),
        "dask": json.dumps(dask.config.config, sort_keys=True, default=str),
        "signals": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)},
        "backend": matplotlib.rcParams._get("backend"),
        "rc": {k: matplotlib.rcParams._get(k) for k in matplotlib.rcParams},  # _get: no backend resolved
        "atexit": atexit._ncallbacks(),
    }
before = state()
import newslake
names = [m.name for m in pkgutil.walk_packages(newslake.__path__, "newslake.")]
for name in names:
    importlib.import_module(name)
after = state()
print(json.dumps({"modules": len(names), "changed": [k for k in before if before[k] != after[k]]}))
"""


def test_package_installs_newslake_as_the_only_top_level_name(tmp_path):
    """From a folder outside the checkout, the code folders import only as newslake's subpackages."""
    probe = (
        "import importlib.util, newslake, newslake.flows.cli, newslake.tasks.lake, newslake.schemas;"
        "print(newslake.run.__module__, [n for n in ('flows', 'tasks', 'schemas') if importlib.util.find_spec(n)])"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["newslake.flows.api", "[]"]


def test_package_importing_every_module_changes_no_global_state(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", EVERY_MODULE_LEAVES_THE_PROCESS_AS_IT_WAS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found = __import__("json").loads(done.stdout)
    assert found["modules"] > 25 and found["changed"] == [], found


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("folder", ["flows", "tasks"])
def test_package_functions_in_flows_and_tasks_are_short(folder):
    """A function over 60 lines does more than one thing: split it."""
    long = [
        f"{path.relative_to(CHECKOUT)}:{name} ({lines} lines)"
        for path in sorted((CHECKOUT / folder).rglob("*.py"))
        for name, lines in _functions(path)
        if lines > 60
    ]
    assert long == []


def test_package_old_top_level_imports_are_refused_by_the_linter(tmp_path):
    """`import flows` and the like would work inside the checkout only; ruff refuses them."""
    source = tmp_path / "example.py"
    source.write_text("import flows.cli\nfrom tasks.clean import clean\nfrom schemas import TABLES\n")
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "check", "--config", str(CHECKOUT / "pyproject.toml"), "--select", "TID251", str(source)],
        capture_output=True,
        text=True,
    )
    assert done.stdout.count("TID251") == 3, done.stdout
