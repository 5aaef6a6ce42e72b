"""The Jupyter server extension: starts the control plane with Jupyter, health, stop at shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
import tornado.httpclient

# pytest-jupyter's fixtures for this module only: registered as a plugin (pytest_plugins) its
# autouse jp_asyncio_loop ran around every test of the session and closed whatever loop was
# current, Playwright's running one in the browser tests included, which broke the whole run.
from pytest_jupyter.jupyter_server import *  # noqa: F403

from compute_widgets.local import runtime


@pytest.fixture
def cp_data_dir(request, tmp_path, monkeypatch):
    """The data dir the extension will use (monkeypatch restores the env var it exports).

    Parametrized indirectly with "unwritable": a data dir below a regular file, which cannot be
    created whoever runs the test (root included).
    """
    path = tmp_path / "cp"
    if getattr(request, "param", None) == "start-up look fails":

        def too_busy(data_dir):  # fault injection: the plane did not answer in time
            raise runtime.ComputeError("the control plane did not answer its health check in 30 s")

        monkeypatch.setattr(runtime, "ensure_server", too_busy)
    if getattr(request, "param", None) == "unwritable":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "cp"
    monkeypatch.setenv(runtime.DATA_DIR_ENV, str(path))
    return path


@pytest.fixture
def jp_server_config(cp_data_dir):
    return {
        "ServerApp": {
            "jpserver_extensions": {"compute_widgets": True},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def run(jp_asyncio_loop):
    """Run a coroutine on the Jupyter server's own loop.

    The tests are synchronous on purpose: with the repo's pytest-asyncio `auto` mode an async
    test would run on pytest-asyncio's loop while the Jupyter server runs on pytest-jupyter's.
    """
    # jp_fetch(...) makes its Future before run_until_complete: the loop must be current even
    # when an earlier test (pytest-asyncio) left none set.
    asyncio.set_event_loop(jp_asyncio_loop)
    return jp_asyncio_loop.run_until_complete


def _wait_dead(pid: int) -> None:
    for _ in range(500):
        if not runtime._pid_alive(pid):
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} still alive")


def test_health_and_lifecycle(run, jp_fetch, jp_serverapp, cp_data_dir):
    response = run(jp_fetch("compute-widgets", "health"))
    assert response.code == 200
    body = json.loads(response.body)
    handle = runtime.find_server(cp_data_dir)
    assert handle is not None
    assert body["ok"] is True
    assert body["url"] == handle.url and body["pid"] == handle.pid
    assert body["data_dir"] == str(cp_data_dir)
    assert body["started_by_jupyter"] is True
    assert body["health"]["status"]["code"] == 10000
    assert handle.token not in response.body.decode()  # the token never leaves

    # kernels inherit the server's environment: they find the same runtime file
    assert os.environ[runtime.DATA_DIR_ENV] == str(cp_data_dir)

    # the extension stops the control plane it started when Jupyter shuts down
    run(jp_serverapp.cleanup_extensions())
    _wait_dead(handle.pid)
    assert runtime.find_server(cp_data_dir) is None


def test_health_needs_jupyter_auth(run, jp_fetch):
    run(jp_fetch("compute-widgets", "health"))  # with Jupyter's token: fine
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        run(jp_fetch("compute-widgets", "health", headers={"Authorization": "token wrong"}))
    assert info.value.code == 403


def test_reuses_a_running_server_and_leaves_it_running(
    run, tmp_path, monkeypatch, jp_configurable_serverapp
):
    path = tmp_path / "shared"
    existing = runtime.start_server(path)
    try:
        monkeypatch.setenv(runtime.DATA_DIR_ENV, str(path))
        app = jp_configurable_serverapp(
            config={"ServerApp": {"jpserver_extensions": {"compute_widgets": True}}}
        )
        plane = app.web_app.settings["compute_widgets_control_plane"]
        handle = plane.future.result(timeout=60)
        assert handle == existing and not handle.started
        run(app.cleanup_extensions())
        assert runtime.find_server(path) == existing  # not ours to stop
    finally:
        runtime.stop_server(existing)


@pytest.mark.parametrize("cp_data_dir", ["unwritable"], indirect=True)
def test_unwritable_data_dir_does_not_break_jupyter(run, jp_fetch, cp_data_dir):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        run(jp_fetch("compute-widgets", "health"))
    assert info.value.code == 503
    body = json.loads(info.value.response.body)
    assert body["ok"] is False and "data directory" in body["error"]
    # Jupyter itself is fine
    response = run(jp_fetch("api", "status"))
    assert response.code == 200


@pytest.mark.parametrize("cp_data_dir", ["start-up look fails"], indirect=True)
def test_health_looks_again_after_a_failed_start_up_look(run, jp_fetch, cp_data_dir):
    """The one start-up look failed: health says why (503) until a plane runs for the data dir,
    then finds it at the next call, as the panel's endpoints do, instead of 503 for the session."""
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        run(jp_fetch("compute-widgets", "health"))
    assert info.value.code == 503
    assert "did not answer its health check" in json.loads(info.value.response.body)["error"]
    late = runtime.start_server(cp_data_dir)
    try:
        body = json.loads(run(jp_fetch("compute-widgets", "health")).body)
        assert (body["ok"], body["pid"], body["started_by_jupyter"]) == (True, late.pid, False)
    finally:
        runtime.stop_server(late)


def test_health_never_sends_the_token_to_a_squatter(run, jp_fetch, cp_data_dir):
    """The control plane dies and another process takes its port: Jupyter's health check must
    not hand that process the token (it did, in an Authorization header, before the identity
    check)."""
    import signal

    from tests.test_trust import Squatter

    run(jp_fetch("compute-widgets", "health"))
    handle = runtime.find_server(cp_data_dir)
    assert handle is not None
    os.kill(handle.pid, signal.SIGKILL)
    _wait_dead(handle.pid)
    squatter = Squatter(handle.port)
    try:
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            run(jp_fetch("compute-widgets", "health"))
        assert info.value.code == 503
        body = json.loads(info.value.response.body)
        assert body["ok"] is False and "not the control plane" in body["health"]["error"]
        assert squatter.seen, "the health check never reached the squatter: the test proves nothing"
        assert not any("authorization" in r.lower() for r in squatter.seen)
        assert all(handle.token not in r for r in squatter.seen)
    finally:
        squatter.close()
