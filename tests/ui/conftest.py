"""Real JupyterLab on 127.0.0.1 driven by Python Playwright in Debian's headless Chromium.

The control plane is the one the compute_widgets Jupyter server extension starts (enabled by
jupyter-config/ on install); the notebooks never start it themselves. Nothing is downloaded:
Playwright launches /usr/bin/chromium (never `playwright install`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "ui"
KERNEL_IDLE = "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'"


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(
        reason=f"no Chromium at {CHROMIUM}: apt-get install chromium fonts-liberation"
    )
    for item in items:
        if "ui" in item.keywords:
            item.add_marker(skip)


# expect() waits up to this for what the user waits for (a nodepool page simulates its history
# first: seconds on 2 busy cores); a ceiling, not a sleep
expect_timeout = 60_000

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Chromium:
    """One Playwright and, lazily, one headless Chromium per theme, shared by the UI tests.

    Playwright's sync API runs an event loop of its own; it is stopped as soon as the last UI
    test is over (see pytest_runtest_teardown), before any pytest-jupyter test leaves a running
    loop behind in this thread."""

    def __init__(self) -> None:
        self.pw = None
        self.browsers: dict[str, object] = {}

    def browser(self, theme: str):
        if self.pw is None:
            from playwright.sync_api import expect, sync_playwright

            expect.set_options(timeout=expect_timeout)
            self.pw = sync_playwright().start()
        if theme not in self.browsers:
            self.browsers[theme] = self.pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        return self.browsers[theme]

    def stop(self) -> None:
        for b in self.browsers.values():
            b.close()
        self.browsers.clear()
        if self.pw is not None:
            self.pw.stop()
            self.pw = None


_CHROMIUM = _Chromium()


@pytest.hookimpl(trylast=True)  # after the test's own fixtures (its pages) are torn down
def pytest_runtest_teardown(item, nextitem):
    if "ui" in item.keywords and (nextitem is None or "ui" not in nextitem.keywords):
        _CHROMIUM.stop()


@pytest.fixture(scope="session")
def chromium() -> _Chromium:
    """chromium.browser("dark"): the shared browser of a theme (for module-scoped pages)."""
    return _CHROMIUM


@pytest.fixture
def themed_page():
    """themed_page("dark") -> a new page (own context: cookies, storage) in that theme's browser."""
    contexts = []

    def make(theme: str):
        context = _CHROMIUM.browser(theme).new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        return context.new_page()

    yield make
    for c in contexts:
        c.close()


@pytest.fixture
def page(themed_page):
    """A page of the light-theme browser."""
    return themed_page("light")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of notebooks/, with the control plane started by our extension."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    # the tutorials' own copy: the quickstart test's run leaves saved outputs in notebooks/
    shutil.copytree(REPO / "notebooks", root / "notebooks-ui")
    settings = root / ".settings"
    notif = settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    notif.parent.mkdir(parents=True)
    notif.write_text('{"fetchNews": "false"}')
    # render every cell (no virtual scrolling): widgets far down the notebook stay in the DOM
    tracker = settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    token = secrets.token_hex(16)
    port = _free_port()
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(root / ".jcfg"),
        JUPYTER_RUNTIME_DIR=str(root / ".runtime"),
        JUPYTER_DATA_DIR=str(root / ".data"),
        COMPUTE_WIDGETS_DATA_DIR=str(root / ".data" / "compute_widgets"),
        IPYTHONDIR=str(root / ".ipy"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"),
    )
    for key in ("CLARIFAI_PAT", "CLARIFAI_API_BASE", "CLARIFAI_USER_ID"):
        env.pop(key, None)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = root / "lab.log"
    proc = subprocess.Popen(
        cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.5)
    yield {"url": base, "token": token, "root": root, "log": log, "env": env}
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(log, ARTIFACTS / "lab.log")
