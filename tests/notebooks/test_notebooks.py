"""Every tutorial notebook runs top to bottom against a fresh local control plane.

Each notebook gets its own temporary data directory (COMPUTE_WIDGETS_DATA_DIR) and Jupyter
runtime/data directories, inherited by the kernel: its `cw.connect()` then starts a control
plane of its own, which is stopped afterwards. The executed notebook, saved as JupyterLab would
save it (outputs and widget state), must stay under 1 MB, and the stored notebooks carry no
outputs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from compute_widgets.local import runtime

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
ARTIFACTS = REPO / "test-artifacts" / "notebooks"
MAX_SAVED_BYTES = 1_000_000
CELL_TIMEOUT = 180

pytestmark = pytest.mark.slow


def test_the_six_tutorials_are_there():
    names = [p.stem for p in NOTEBOOKS]
    assert [n[:2] for n in names] == ["01", "02", "03", "04", "05", "06"], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_without_outputs_and_opens_with_what_you_learn(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "What you will learn" in first.source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert "widgets" not in nb.metadata  # no saved widget state either


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """A data dir and Jupyter dirs of our own; the kernel inherits this environment."""
    data_dir = tmp_path / "data" / "compute_widgets"
    monkeypatch.setenv(runtime.DATA_DIR_ENV, str(data_dir))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    for key in ("CLARIFAI_PAT", "CLARIFAI_API_BASE", "CLARIFAI_USER_ID"):
        monkeypatch.delenv(key, raising=False)
    assert runtime.find_server(data_dir) is None
    yield data_dir
    handle = runtime.find_server(data_dir)
    if handle is not None:
        runtime.stop_server(handle)


# Modules the tutorials use that another engineer is still landing: a notebook that needs one
# is skipped, naming it, until it exists (then it runs like the others).
PENDING_MODULES = ("compute_widgets.api.config",)


def _missing_modules(nb: nbformat.NotebookNode) -> list[str]:
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    uses_yaml_magics = "%%compute" in source or "--config" in source
    missing = []
    for name in PENDING_MODULES:
        needed = name in source or (name.endswith(".config") and uses_yaml_magics)
        if needed and importlib.util.find_spec(name) is None:
            missing.append(name)
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_stays_small(path: Path, isolated_env: Path, tmp_path: Path):
    nb = nbformat.read(path, as_version=4)
    missing = _missing_modules(nb)
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)}, which has not landed yet")
    work = tmp_path / "work"
    work.mkdir()
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
        store_widget_state=True,  # what JupyterLab saves
    )
    try:
        client.execute()
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, ARTIFACTS / path.name)

    # the notebook's connect() started a control plane on the temporary data dir
    handle = runtime.find_server(isolated_env)
    assert handle is not None, "the notebook did not start the local control plane of its data dir"
    saved = nbformat.writes(nb)
    assert len(saved.encode()) < MAX_SAVED_BYTES, f"{path.name}: {len(saved) / 1e6:.2f} MB saved"
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    # no live FigureWidget (anywidget, ~5 MB) is left in a saved tutorial
    assert "_anywidget_id" not in saved and "FigureWidget" not in json.dumps(
        nb.metadata.get("widgets", {})
    )
    # the control plane's token never reaches a saved notebook
    assert handle.token not in saved
