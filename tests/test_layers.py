"""The one-way import rule of the README's architecture section, checked on the source (AST).

- api/ and sim/ import nothing else of compute_widgets;
- local/ imports only compute_widgets.api (its public modules: models, errors...) and
  compute_widgets.sim (the package's public names);
- rightsize/ imports only compute_widgets.api and compute_widgets.sim (its public names);
- charts/ imports no widgets/, magics/ or local/;
- widgets/ and magics/ import no local/ module except local.runtime (to start a server),
  widgets/ no magics/;
- lab/ (the JupyterLab panel's endpoints) imports api, settings and local.runtime only, and
  nothing imports lab/ (Jupyter loads it as a server extension point);
- no module outside a package imports that package's private modules or names (``_x``);
  lazy imports inside functions and ``importlib.import_module("...")`` count too.

ALLOWLIST holds the violations the code has today, each with the line of issue 14 whose commit
removes it. The test fails on a new violation and on an allowlisted one that is gone (delete
its line then, so the list only shrinks).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "compute_widgets"
TOP = "compute_widgets"
PACKAGES = ("api", "sim", "local", "charts", "widgets", "magics", "lab", "rightsize")

# (importer, imported) -> the issue 14 line whose commit removes it
ALLOWLIST: dict[tuple[str, str], str] = {}


def module_name(path: Path, root: Path) -> str:
    parts = (root.name, *path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def imports(path: Path, root: Path) -> list[tuple[str, int]]:
    """(imported module or name, line) for every import of ours in the file, nested ones too.

    ``from X import a`` yields ``X.a`` when ``a`` is a module of the tree or a private name
    (what matters for the rule), else ``X``.
    """
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                full = f"{target}.{a.name}"
                is_module = _module_path(full, root) is not None
                found.append((full if is_module or _private(a.name) else target, node.lineno))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.args[0].value, node.lineno))
    return [(t, line) for t, line in found if t == root.name or t.startswith(root.name + ".")]


def _module_path(name: str, root: Path) -> Path | None:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    for p in (root / rel.with_suffix(".py") if rel.parts else None, root / rel / "__init__.py"):
        if p is not None and p.is_file():
            return p
    return None


def broken_rule(importer: str, imported: str) -> str | None:
    """Which rule the import breaks, in words; None when it is allowed."""
    src, dst = importer.split(".")[1:], imported.split(".")[1:]
    src_pkg = src[0] if src and src[0] in PACKAGES else ""
    dst_pkg = dst[0] if dst and dst[0] in PACKAGES else ""
    if dst_pkg and dst_pkg == src_pkg:
        return None  # inside one package everything goes
    if dst_pkg and any(_private(p) for p in dst[1:]):
        return f"imports a private module or name of {dst_pkg}/"
    if src_pkg in ("api", "sim"):
        return f"{src_pkg}/ imports nothing else of ours"
    if src_pkg == "local" and dst_pkg not in ("api", "sim"):
        return "local/ imports only compute_widgets.api and compute_widgets.sim"
    if src_pkg == "local" and dst_pkg == "sim" and len(dst) > 1:
        return "local/ imports the simulator's public names (compute_widgets.sim) only"
    if src_pkg == "rightsize" and dst_pkg not in ("api", "sim"):
        return "rightsize/ imports only compute_widgets.api and compute_widgets.sim"
    if src_pkg == "rightsize" and dst_pkg == "sim" and len(dst) > 1:
        return "rightsize/ imports the simulator's public names (compute_widgets.sim) only"
    if src_pkg == "charts" and dst_pkg in ("widgets", "magics", "local"):
        return f"charts/ imports no {dst_pkg}/"
    if src_pkg in ("widgets", "magics") and dst_pkg == "local" and dst[:2] != ["local", "runtime"]:
        return f"{src_pkg}/ reaches the control plane over HTTP (local.runtime only, to start one)"
    if src_pkg == "widgets" and dst_pkg == "magics":
        return "widgets/ imports no magics/"
    # lab/ (the Jupyter panel's endpoints): api, settings and local.runtime, nothing of the views
    if src_pkg == "lab" and dst_pkg in ("sim", "charts", "widgets", "magics"):
        return f"lab/ imports only api, settings and local.runtime, not {dst_pkg}/"
    if src_pkg == "lab" and dst_pkg == "local" and dst[:2] != ["local", "runtime"]:
        return "lab/ reaches the control plane over HTTP (local.runtime only)"
    if dst_pkg == "lab" and src_pkg != "lab":
        return "nothing imports lab/ (the Jupyter server loads it as an extension point)"
    return None


def violations(root: Path = ROOT) -> dict[tuple[str, str], str]:
    """(importer, imported) -> "file:line: rule" for every import that breaks a rule."""
    out: dict[tuple[str, str], str] = {}
    for path in sorted(root.rglob("*.py")):
        me = module_name(path, root)
        for imported, line in imports(path, root):
            rule = broken_rule(me, imported)
            if rule is not None:
                out.setdefault((me, imported), f"{path.relative_to(root.parent)}:{line}: {rule}")
    return out


def test_imports_go_one_way():
    found = violations()
    new = {k: v for k, v in found.items() if k not in ALLOWLIST}
    assert not new, "imports that break the layering rule:\n" + "\n".join(
        f"  {where} ({a} -> {b})" for (a, b), where in sorted(new.items())
    )


def test_allowlist_only_shrinks():
    gone = set(ALLOWLIST) - set(violations())
    assert not gone, f"fixed, now delete from ALLOWLIST: {sorted(gone)}"


# -- the checker itself, on a made-up tree -------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / TOP
    for pkg in ("", *PACKAGES):
        (root / pkg).mkdir(parents=True, exist_ok=True)
        (root / pkg / "__init__.py").write_text("")
    for sub in (
        "api/models.py",
        "api/_base.py",
        "sim/_kernel.py",
        "local/runtime.py",
        "local/store.py",
    ):
        (root / sub).write_text("")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_a_clean_tree_passes(tmp_path):
    root = _tree(
        tmp_path,
        {
            "local/app.py": "from compute_widgets.api import models\nfrom compute_widgets.sim import simulate\n",
            "widgets/w.py": "def f():\n    from compute_widgets.local.runtime import ensure_server\n",
            "magics/m.py": "from compute_widgets import widgets\nfrom compute_widgets.api.models import Nodepool\n",
            "sim/_run.py": "from . import _kernel\nfrom ._kernel import _x\n",
            "charts/c.py": "from ._style import x\n",
            "lab/h.py": "from compute_widgets import settings\nfrom compute_widgets.api import redact\n"
            "from compute_widgets.local.runtime import find_server\n",
        },
    )
    assert violations(root) == {}


@pytest.mark.parametrize(
    ("name", "text", "edge", "words"),
    [
        ("api/client.py", "from compute_widgets.sim import simulate\n", "compute_widgets.sim", "api/ imports nothing"),
        ("sim/x.py", "import compute_widgets.api.models\n", "compute_widgets.api.models", "sim/ imports nothing"),
        ("local/m.py", "def f():\n    from compute_widgets.sim import _kernel as K\n",
         "compute_widgets.sim._kernel", "private"),
        ("local/m.py", "from compute_widgets.api._base import Call\n", "compute_widgets.api._base", "private"),
        ("local/m.py", "from compute_widgets.widgets import Planner\n", "compute_widgets.widgets",
         "local/ imports only"),
        ("charts/c.py", "from compute_widgets import widgets\n", "compute_widgets.widgets", "charts/ imports no widgets/"),
        ("widgets/w.py", "from compute_widgets.local import store\n", "compute_widgets.local.store", "over HTTP"),
        ("magics/m.py", "from ..local.store import Store\n", "compute_widgets.local.store", "over HTTP"),
        ("widgets/w.py", "from compute_widgets.magics import magic\n", "compute_widgets.magics", "no magics/"),
        ("_top.py", "from compute_widgets.api._base import Call\n", "compute_widgets.api._base", "private"),
        ("widgets/w.py", "import importlib\nimportlib.import_module('compute_widgets.sim._kernel')\n",
         "compute_widgets.sim._kernel", "private"),
        ("rightsize/r.py", "from compute_widgets.widgets import Planner\n", "compute_widgets.widgets",
         "rightsize/ imports only"),
        ("rightsize/r.py", "from compute_widgets.sim._run import simulate\n", "compute_widgets.sim._run",
         "private"),
        ("magics/m.py", "from compute_widgets.api.models import _snake\n",
         "compute_widgets.api.models._snake", "private"),
        ("lab/h.py", "from compute_widgets.local.store import Store\n", "compute_widgets.local.store",
         "lab/ reaches the control plane over HTTP"),
        ("lab/h.py", "from compute_widgets import widgets\n", "compute_widgets.widgets", "lab/ imports only"),
        ("widgets/w.py", "def f():\n    from compute_widgets.lab import handlers\n", "compute_widgets.lab",
         "nothing imports lab/"),
    ],
)  # fmt: skip
def test_a_new_violation_fails(tmp_path, name, text, edge, words):
    root = _tree(tmp_path, {name: text})
    found = violations(root)
    assert list(found) == [(module_name(root / name, root), edge)], found
    assert words in next(iter(found.values()))


# -- one home for the event schema and the duration grammar ---------------------------------------


def test_one_event_schema_across_sim_api_and_charts():
    """sim's event records, api's EVENTS frame (and LogEntry rows) and what charts reads use the
    same column names, in one order: an event goes sim -> LogEntry meta -> api frame -> chart."""
    import numpy as np

    from compute_widgets.api import _frames as api_frames
    from compute_widgets.api.models import LogEntry
    from compute_widgets.charts import _figures as chart_figures
    from compute_widgets.sim import EVENT_COLUMNS as SIM_EVENT_COLUMNS
    from compute_widgets.sim import events_records

    assert SIM_EVENT_COLUMNS == api_frames.EVENT_COLUMNS == chart_figures.EVENT_COLUMNS
    assert set(chart_figures.EVENT_DEFAULTS) == set(api_frames.EVENT_COLUMNS) - {"timestamp"}
    # kernel rows: step, kind, count, capacity type, reason (indexes into the kernel's names)
    records = events_records(
        np.array([[6.0, 2, 3, 1, 7], [12.0, 0, 1, 2, 0]]), origin=1.7e9, dt=10.0
    )
    assert [tuple(r) for r in records] == [api_frames.EVENT_COLUMNS] * 2
    entries = [
        LogEntry(
            message=r["message"],
            log_type="runner.events",
            meta={k: v for k, v in r.items() if k != "message"}
            | {"timestamp": "2023-11-14T22:14:20Z"},
        )
        for r in records
    ]
    frame = api_frames.events_frame(entries, None, None)
    assert tuple(frame.columns) == api_frames.EVENT_COLUMNS
    assert list(frame["kind"]) == [r["kind"] for r in records]
    assert [r["kind"] for r in records] == ["preemption", "scale_up"]
    assert list(frame["count"]) == [r["count"] for r in records]
    assert tuple(api_frames.resource_rows(entries, LogEntry)[0]) == api_frames.EVENT_COLUMNS
    drawn = chart_figures.events_frame(frame)
    assert tuple(drawn.columns) == api_frames.EVENT_COLUMNS
    assert list(drawn["capacity_type"]) == [r["capacity_type"] for r in records]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 604800.0), ("90m", 5400.0), ("1h30m", 5400.0), ("36h", 129600.0), ("1d12h", 129600.0),
     ("2w", 1209600.0), ("3600", 3600.0), ("1.5h", 5400.0), ("7D", 604800.0), ("500ms", 0.5)],
)  # fmt: skip
def test_one_duration_grammar(text, seconds):
    """The magic's --duration and the live monitor's window read strings with
    api.models.parse_duration (any case); the simulator takes seconds only."""
    import argparse

    from compute_widgets.api.models import parse_duration
    from compute_widgets.charts._live import _seconds
    from compute_widgets.magics.cmd_views import duration

    assert parse_duration(text.lower()) == seconds
    assert duration(text) == seconds
    assert _seconds(text) == seconds
    assert _seconds(text.replace("h", "h ")) == seconds  # a window may be typed with spaces
    for bad in ("7x", "d7", "-5m", "", "5 parsecs"):
        with pytest.raises(argparse.ArgumentTypeError, match="like 7d|> 0"):
            duration(bad)
        with pytest.raises(ValueError, match="duration like"):
            _seconds(bad)


def test_the_simulator_takes_seconds_only():
    from compute_widgets.sim import DeploymentSpec, PoolSpec, simulate

    with pytest.raises(TypeError, match=r"duration='7d': give seconds as a number.*parse_duration"):
        simulate(PoolSpec(), [DeploymentSpec()], duration="7d")
