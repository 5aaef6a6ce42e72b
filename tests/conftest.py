"""Shared fixtures: the real local control plane on 127.0.0.1 with a temporary data directory."""

from __future__ import annotations

import itertools
import os
import time
import uuid

import pytest

# The simulated traffic follows the hour and the weekday, so the servers of a test session run on
# a pinned clock: a Monday, 09:00 UTC at session start, whatever the wall clock says (set
# COMPUTE_WIDGETS_CLOCK_START yourself to run the suite at another simulated time).
CLOCK_START = "2026-01-05T09:00:00Z"


@pytest.fixture(scope="session", autouse=True)
def _isolated_jupyter_dirs(tmp_path_factory):
    """Keep runtime files and data of the tests away from the user's own Jupyter directories
    and home (the Clarifai CLI's contexts in ~/.config/clarifai/config: connect() would follow a
    real one to api.clarifai.com), and pin the simulated clock of every server the session
    starts (they inherit the env)."""
    from compute_widgets.local.clock import ANCHOR_ENV, START_ENV

    root = tmp_path_factory.mktemp("jupyter")
    names = ("JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "COMPUTE_WIDGETS_DATA_DIR")
    names += (START_ENV, ANCHOR_ENV, "HOME", "XDG_CACHE_HOME")
    saved = {k: os.environ.get(k) for k in names}
    # caches (numba's, pip's) stay where they were: only what is read as configuration moves
    os.environ.setdefault("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    os.environ["HOME"] = str(root / "home")
    (root / "home").mkdir()
    os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
    os.environ["JUPYTER_DATA_DIR"] = str(root / "data")
    os.environ["COMPUTE_WIDGETS_DATA_DIR"] = str(root / "data" / "compute_widgets")
    if not os.environ.get(START_ENV):
        os.environ[START_ENV] = CLOCK_START
    # one anchor for the session: a restarted server goes on from where it was, never back
    os.environ.setdefault(ANCHOR_ENV, repr(time.time()))
    for key in ("CLARIFAI_PAT", "CLARIFAI_API_BASE", "CLARIFAI_USER_ID"):
        os.environ.pop(key, None)
    yield
    _stop_leftover_servers(root / "data" / "compute_widgets")
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _stop_leftover_servers(default_data_dir) -> None:
    """Servers are detached and outlive whoever started them (as for a user); a test session
    must not: stop every server this process spawned and any server still holding the session's
    default data dir (a test's connect() that started one)."""
    from compute_widgets.local import runtime

    for pid in list(runtime._CHILDREN):
        runtime._terminate(pid, grace=5.0)
    holder = runtime._serve_lock_holder(default_data_dir) or {}
    if isinstance(holder.get("pid"), int) and holder["pid"] != os.getpid():
        runtime._terminate(holder["pid"], grace=5.0)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One real control plane for the session (uvicorn in a subprocess, SQLite in a temp dir)."""
    from compute_widgets.local.runtime import start_server, stop_server

    handle = start_server(data_dir=tmp_path_factory.mktemp("cp-session"), port=0)
    yield handle
    stop_server(handle)


@pytest.fixture
def fresh_server(tmp_path):
    """A control plane of its own, for tests that restart, kill or count everything."""
    from compute_widgets.local.runtime import start_server, stop_server

    handle = start_server(data_dir=tmp_path / "cp", port=0)
    yield handle
    stop_server(handle)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """A control plane of this test module's own, with both doors (REST and gRPC): for modules
    whose tests read back what the earlier ones made (the official CLI and SDK)."""
    from compute_widgets.local.runtime import start_server, stop_server

    handle = start_server(data_dir=tmp_path_factory.mktemp("cp-module"), port=0)
    try:
        assert handle.grpc_url.startswith("http://127.0.0.1:"), "the plane has no gRPC door"
        yield handle
    finally:
        stop_server(handle)


@pytest.fixture(scope="module")
def module_client(module_server):
    from compute_widgets.api.client import ComputeClient

    with ComputeClient(module_server.url, module_server.token, user_id="me") as c:
        yield c


@pytest.fixture
def client(server):
    from compute_widgets.api.client import ComputeClient

    with ComputeClient(server.url, server.token, user_id="me") as c:
        yield c


_counter = itertools.count()


@pytest.fixture
def uid():
    """uid("np") -> a unique, valid ID such as "np-3f9a1c-7", so tests share one server safely."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:6]}-{next(_counter)}"

    return make


def pytest_collection_modifyitems(config, items):
    """Run the browser tests first: Playwright's sync API closes its own event loop at the end,
    which fails once pytest-jupyter's server fixtures have left a running loop behind."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("ui") else 1)


@pytest.fixture
def ipython():
    """make(client=None): an IPython shell with %compute loaded (and `client` as its backend
    when given), as a notebook has it; unloaded and cleared when the test ends."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    made = []

    def make(client=None):
        config = Config()
        config.HistoryAccessor.enabled = False
        shell = InteractiveShell.instance(config=config)
        shell.extension_manager.load_extension("compute_widgets")
        if client is not None:
            shell.magics_manager.registry["ComputeMagics"].client = client
        made.append(shell)
        return shell

    yield make
    for shell in made:
        shell.extension_manager.unload_extension("compute_widgets")
    InteractiveShell.clear_instance()


@pytest.fixture
def ip(ipython, client):
    """The shell with the session server's client (ComputeMagics.client)."""
    return ipython(client)
