"""Issue 12, items 2, 3, 4 and 7: the token goes only to our server, no PAT over plain HTTP, one
server per data directory, a damaged store is named and never written.

Each test replays the attack against the real control plane: a "squatter" is a real HTTP server
started here on 127.0.0.1 at the port of a SIGKILLed control plane, recording every header it
gets and answering every request with a success-shaped JSON body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from compute_widgets import settings as s
from compute_widgets.api import models as m
from compute_widgets.api.errors import ConnectionFailed, NotConfigured
from compute_widgets.local import runtime
from compute_widgets.local.runtime import ServerError, find_server, runtime_file_for, start_server
from compute_widgets.local.runtime import stop_server as _stop

LIVENESS = 90.0  # s: only a hang gets near it


class Squatter:
    """A real HTTP server on 127.0.0.1:`port` that answers 200 + success JSON to everything."""

    def __init__(self, port: int) -> None:
        self.seen: list[str] = []  # method, path and headers of every request, as received
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append(f"{self.command} {self.path}\n{self.headers}")
                length = int(self.headers.get("content-length") or 0)
                if length:
                    seen.append(self.rfile.read(length).decode(errors="replace"))
                body = json.dumps(
                    {
                        "status": {"code": 10000, "description": "Ok"},
                        "pid": os.getpid(),
                        "proof": "0" * 64,
                        "compute_clusters": [],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        deadline = time.monotonic() + LIVENESS
        while True:  # a killed server's last thread may hold its port a moment longer
            try:
                self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:
                assert time.monotonic() < deadline, f"port {port} stays taken"
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def got_authorization(self) -> bool:
        return any("authorization:" in r.lower() for r in self.seen)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _kill(handle) -> None:
    os.kill(handle.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while runtime._pid_alive(handle.pid):
        assert time.monotonic() < deadline, "server survived SIGKILL"
        time.sleep(0.02)


@pytest.fixture
def env(monkeypatch):
    for key in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_API_BASE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(s.SESSION, "client", None)
    return monkeypatch


@pytest.fixture
def cleanup():
    """Stops the servers of the data dirs a test used and closes its clients/squatters."""
    dirs: list[Path] = []
    closers: list = []
    yield dirs, closers
    for close in closers:
        close()
    for dd in dirs:
        handle = find_server(dd)
        if handle is not None:
            _stop(handle)


def _cluster(cc_id: str) -> m.ComputeCluster:
    return m.ComputeCluster(id=cc_id, cloud_provider=m.CloudProvider(id="aws"), region="us-east-1")


# ------------------------------------------------------------------------------------------------
# item 2: the token goes only to our server


def test_squatter_on_the_port_of_a_killed_server_never_gets_the_token(env, tmp_path, cleanup):
    dirs, closers = cleanup
    dd = tmp_path / "cp"
    dirs.append(dd)
    client = s.connect(data_dir=dd, retries=1, timeout=5)
    closers.append(client.close)
    client.create_cluster(_cluster("before-kill"))
    handle = find_server(dd)
    old_token = handle.token
    _kill(handle)
    squatter = Squatter(handle.port)
    closers.append(squatter.close)

    with pytest.raises(ConnectionFailed) as info:
        client.list_clusters()
    assert squatter.seen, "the client never reached the squatter: the test proves nothing"
    assert not squatter.got_authorization()
    assert all(old_token not in r for r in squatter.seen)
    message = str(info.value)
    assert "did not prove it is the local control plane" in message and "\n" not in message
    assert old_token not in message

    # the runtime file names a dead server: nobody adopts the squatter, and the next connect()
    # starts a new server with a new token on another port
    assert find_server(dd) is None
    again = s.connect(data_dir=dd)
    closers.append(again.close)
    assert again.base_url != squatter.url and again.secret.reveal() != old_token
    assert [c.id for c in again.list_clusters() if c.id == "before-kill"] == ["before-kill"]
    assert not squatter.got_authorization()


def test_a_client_follows_its_server_across_a_restart(env, tmp_path, cleanup):
    dirs, closers = cleanup
    dd = tmp_path / "cp"
    dirs.append(dd)
    client = s.connect(data_dir=dd, retries=1, timeout=5)
    closers.append(client.close)
    client.create_cluster(_cluster("survives"))
    first = find_server(dd)
    _kill(first)
    second = start_server(dd)  # a new port and a fresh token
    assert second.token != first.token

    ids = [c.id for c in client.list_clusters()]  # no error: the client found it again
    assert "survives" in ids
    assert client.base_url == second.url
    # the old token is worthless against the new server
    r = httpx.get(second.url + "/local/health", headers={"Authorization": f"Key {first.token}"})
    assert r.status_code == 401


def test_stale_runtime_file_with_a_reused_pid_gets_no_token(env, tmp_path, cleanup):
    """The runtime file names a live process (its pid was reused) that answers HTTP 200 JSON to
    everything: it is neither sent the token nor adopted as the control plane."""
    dirs, closers = cleanup
    dd = tmp_path / "cp"
    dirs.append(dd)
    runtime.prepare_data_dir(dd)
    squatter = Squatter(_free_port())
    closers.append(squatter.close)
    rt = runtime_file_for(dd)
    rt.parent.mkdir(parents=True, exist_ok=True)
    stale = {"url": squatter.url, "token": "stale-token-1234567890", "pid": os.getpid()}
    rt.write_text(json.dumps({**stale, "data_dir": str(dd)}))

    assert find_server(dd) is None
    assert not rt.exists()  # stale: no server holds the data dir
    client = s.connect(data_dir=dd)
    closers.append(client.close)
    assert client.base_url != squatter.url
    assert client.list_clusters() is not None
    assert not squatter.got_authorization()
    assert all("stale-token-1234567890" not in r for r in squatter.seen)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_identity_proof_needs_no_token_and_reveals_none(fresh_server):
    nonce = "n" * 16 + "-0123456789abcdef"
    r = httpx.get(fresh_server.url + "/local/identity", params={"nonce": nonce})
    assert r.status_code == 200
    body = r.json()
    expected = hmac.new(
        fresh_server.token.encode(), b"compute-widgets identity " + nonce.encode(), hashlib.sha256
    ).hexdigest()
    assert body == {"pid": fresh_server.pid, "proof": expected}
    assert fresh_server.token not in r.text
    bad = httpx.get(fresh_server.url + "/local/identity", params={"nonce": "short"})
    assert bad.status_code == 400 and "nonce" in bad.json()["status"]["description"]
    # everything else still needs the token
    assert httpx.get(fresh_server.url + "/local/health").status_code == 401


# ------------------------------------------------------------------------------------------------
# item 3: no PAT over plain HTTP


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"status": {"code": 10000}, "compute_clusters": []})


def test_pat_over_plain_http_to_another_host_is_refused_before_any_request(env):
    env.setenv("CLARIFAI_API_BASE", "http://192.0.2.2:18799")
    env.setenv("CLARIFAI_PAT", "pat-never-in-clear-42")
    recorder = _Recorder()
    with pytest.raises(NotConfigured) as info:
        s.connect(transport=httpx.MockTransport(recorder))
    assert recorder.requests == []
    assert str(info.value) == (
        "CLARIFAI_API_BASE=http://192.0.2.2:18799 would send your PAT unencrypted to "
        "192.0.2.2; use https://192.0.2.2:18799 (plain http:// is allowed only for 127.0.0.1 "
        "or localhost)"
    )
    assert "pat-never-in-clear-42" not in str(info.value)
    with pytest.raises(NotConfigured, match=r"^api_base=http://example\.com "):
        s.connect("http://example.com", "pat-never-in-clear-42")


def test_a_client_built_by_hand_refuses_a_pat_over_plain_http_too():
    """The rule lives with the client (api), so code that skips connect() is covered as well."""
    from compute_widgets.api.client import AsyncComputeClient, ComputeClient

    for cls in (ComputeClient, AsyncComputeClient):
        with pytest.raises(NotConfigured, match=r"^base_url=http://192\.0\.2\.2:18799 would send"):
            cls("http://192.0.2.2:18799", "pat-never-in-clear-42", transport=httpx.MockTransport(_Recorder()))
    ComputeClient("http://192.0.2.2:18799", None).close()  # no PAT, nothing to protect


@pytest.mark.parametrize(
    "base",
    ["https://192.0.2.2:18799", "http://localhost:8080", "http://127.0.0.2:9", "http://[::1]:9"],
)
def test_https_and_loopback_http_still_work(env, base):
    recorder = _Recorder()
    client = s.connect(base, "pat-1234567890", transport=httpx.MockTransport(recorder))
    try:
        client.list_clusters()
    finally:
        client.close()
    assert [r.headers["authorization"] for r in recorder.requests] == ["Key pat-1234567890"]


def test_plain_http_without_a_pat_sends_no_secret_and_is_allowed(env):
    recorder = _Recorder()
    client = s.connect("http://192.0.2.2:18799", transport=httpx.MockTransport(recorder))
    client.list_clusters()
    client.close()
    assert "authorization" not in recorder.requests[0].headers


# ------------------------------------------------------------------------------------------------
# item 4: one server per data directory


def test_two_serves_at_once_on_one_data_dir_one_exits_naming_the_other(tmp_path, cleanup):
    dirs, _ = cleanup
    dd = (tmp_path / "cp").resolve()
    dirs.append(dd)
    runtime.prepare_data_dir(dd)
    cmd = [sys.executable, "-m", "compute_widgets.local", "serve", "--data-dir", str(dd)]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + LIVENESS
        while all(p.poll() is None for p in procs):
            assert time.monotonic() < deadline, "both servers run on one data directory"
            time.sleep(0.05)
        loser = next(p for p in procs if p.poll() is not None)
        winner = next(p for p in procs if p is not loser)
        err = loser.stderr.read()
        assert loser.returncode == 2, err
        handle = None
        while handle is None:  # the winner may still be starting
            assert time.monotonic() < deadline and winner.poll() is None
            handle = find_server(dd)
        assert handle.pid == winner.pid
        assert err.strip().splitlines() == [
            f"compute-widgets: error: a control plane already serves {dd} (pid {winner.pid}, "
            f"url {handle.url}); stop it with `compute-widgets stop` or use --data-dir"
        ]
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
            p.stdout.close()
            p.stderr.close()


def test_connect_never_starts_a_second_server_beside_one_that_does_not_answer(
    env, tmp_path, cleanup
):
    dirs, _ = cleanup
    dd = (tmp_path / "cp").resolve()
    dirs.append(dd)
    first = start_server(dd)
    os.kill(first.pid, signal.SIGSTOP)  # alive, holds the data dir, answers nothing
    try:
        with pytest.raises(NotConfigured) as info:
            s.connect(data_dir=dd)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    message = str(info.value)
    assert "\n" not in message and "CLARIFAI_PAT" not in message
    assert f"pid {first.pid}" in message and first.url in message
    assert "compute-widgets stop" in message
    # still one server: the first one, untouched
    assert json.loads(runtime_file_for(dd).read_text())["pid"] == first.pid
    assert find_server(dd) == first


# ------------------------------------------------------------------------------------------------
# item 7: a damaged store is named, never written


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_garbage_store_gives_connect_one_line_that_says_what_to_do(env, tmp_path, cleanup):
    dirs, _ = cleanup
    dd = (tmp_path / "cp").resolve()
    dirs.append(dd)
    runtime.prepare_data_dir(dd)
    store = dd / runtime.STORE_FILE
    store.write_bytes(random.Random(12).randbytes(8192))
    before = _sha(store)
    with pytest.raises(NotConfigured) as info:
        s.connect(data_dir=dd)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert "CLARIFAI_PAT" not in message  # a PAT is not the fix
    assert f"the store {store} is damaged (file is not a database)" in message
    assert "--data-dir" in message and ".recover" in message
    assert _sha(store) == before  # nothing moved, nothing written
    assert find_server(dd) is None


def test_store_corrupted_mid_file_is_refused_and_left_as_it_is(tmp_path, cleanup):
    dirs, _ = cleanup
    dd = (tmp_path / "cp").resolve()
    dirs.append(dd)
    handle = start_server(dd)
    auth = {"Authorization": f"Key {handle.token}"}
    with httpx.Client(base_url=handle.url, headers=auth, timeout=60) as http:
        r = http.post(
            "/v2/users/me/compute_clusters",
            json={
                "compute_clusters": [
                    {"id": "big", "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
                ]
            },
        )
        assert r.json()["status"]["code"] == 10000, r.text
        for batch in range(4):
            pools = [
                {
                    "id": f"np-{batch}-{i}",
                    "description": "x" * 400,
                    "node_capacity_type": {"capacity_types": [1]},
                    "instance_types": [{"id": "t3a.medium"}],
                    "max_instances": 2,
                }
                for i in range(100)
            ]
            r = http.post("/v2/users/me/compute_clusters/big/nodepools", json={"nodepools": pools})
            assert r.json()["status"]["code"] == 10000, r.text
    _stop(handle)
    store = dd / runtime.STORE_FILE
    with sqlite3.connect(store) as conn:  # everything into the main file, as after a while
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = store.stat().st_size
    assert size > 200_000, size  # big enough for a mid-file hole to hit table pages
    with open(store, "r+b") as f:
        f.seek(size // 2 // 4096 * 4096)
        f.write(random.Random(7).randbytes(16384))
    before = _sha(store)

    with pytest.raises(ServerError) as info:
        start_server(dd)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"the store {store} is damaged (")
    assert _sha(store) == before  # refused before anything was written
    assert find_server(dd) is None
