"""The runtime of the local control plane: start, find, stop, share, restart, files, binding."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from compute_widgets.local import runtime
from compute_widgets.local.runtime import (
    ServerError,
    ensure_server,
    find_server,
    runtime_file_for,
    start_server,
    stop_server,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _wait_dead(pid: int) -> None:
    for _ in range(500):
        if not runtime._pid_alive(pid):
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} still alive")


def _get(handle, path: str) -> httpx.Response:
    # 60 s, not httpx's 5 s: a first demo listing simulates days of history (speed-dependent)
    return httpx.get(handle.url + path, headers={"Authorization": f"Key {handle.token}"}, timeout=60)


@pytest.fixture
def stopper():
    """Stops every server a test started, even when the test fails half-way."""
    handles: list = []
    yield handles.append
    for h in handles:
        stop_server(h)


def test_start_find_stop(tmp_path, stopper):
    handle = start_server(tmp_path / "cp", port=0)
    stopper(handle)
    assert handle.started
    assert handle.url.startswith("http://127.0.0.1:") and handle.port > 0
    assert _get(handle, "/local/health").status_code == 200
    # without the token the server refuses
    assert httpx.get(handle.url + "/local/health").status_code == 401

    found = find_server(tmp_path / "cp")
    assert found == handle  # same url, token, pid, data dir
    assert not found.started

    stop_server(handle)
    _wait_dead(handle.pid)
    assert not runtime_file_for(tmp_path / "cp").exists()  # the server removed it at exit
    assert find_server(tmp_path / "cp") is None
    stop_server(handle)  # a second stop is a no-op


def test_handle_repr_hides_token(fresh_server):
    assert fresh_server.token not in repr(fresh_server)
    assert fresh_server.token not in str(fresh_server)


def test_runtime_and_token_files_are_private(fresh_server):
    rt = runtime_file_for(fresh_server.data_dir)
    token_file = Path(fresh_server.data_dir) / runtime.TOKEN_FILE
    assert _mode(rt) == 0o600
    assert _mode(token_file) == 0o600
    assert _mode(fresh_server.data_dir) == 0o700  # created by us: the store is private too
    info = json.loads(rt.read_text())
    assert info == {
        "url": fresh_server.url,
        "token": fresh_server.token,
        "pid": fresh_server.pid,
        "data_dir": str(fresh_server.data_dir),
        "grpc_url": fresh_server.grpc_url,
    }
    # the gRPC door's base, in the one form the official SDK takes (clarifai-api.md §4.5)
    assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+", fresh_server.grpc_url)
    assert fresh_server.grpc_url != fresh_server.url
    assert token_file.read_text().strip() == fresh_server.token
    # one runtime file per data directory, named after it
    assert rt.name.startswith("compute-widgets-") and rt.parent == Path(
        os.environ["JUPYTER_RUNTIME_DIR"]
    )
    assert runtime_file_for(Path(fresh_server.data_dir) / "other") != rt
    # the token is not in the server log
    assert fresh_server.token not in fresh_server.log_path.read_text()


def test_stale_runtime_file_is_replaced(tmp_path, stopper):
    dd = tmp_path / "cp"
    first = start_server(dd)
    stopper(first)
    rt = runtime_file_for(dd)
    os.kill(first.pid, signal.SIGKILL)  # no chance to clean up: the runtime file stays
    _wait_dead(first.pid)
    assert json.loads(rt.read_text())["pid"] == first.pid

    assert find_server(dd) is None
    assert not rt.exists()  # stale (dead pid): removed

    rt.write_text(json.dumps({"url": first.url, "token": "x", "pid": first.pid}))
    second = ensure_server(dd)
    stopper(second)
    assert second.started and second.pid != first.pid
    assert json.loads(rt.read_text())["pid"] == second.pid
    assert second.token != first.token  # a fresh token at every start, never reused
    assert _get(second, "/local/health").status_code == 200


def test_garbage_runtime_file_is_ignored(tmp_path, stopper):
    dd = tmp_path / "cp"
    rt = runtime_file_for(dd)
    rt.parent.mkdir(parents=True, exist_ok=True)
    rt.write_text("{not json")
    assert find_server(dd) is None
    assert not rt.exists()
    handle = ensure_server(dd)
    stopper(handle)
    assert find_server(dd) == handle


_ENSURE = (
    "import json, sys\n"
    "from compute_widgets.local.runtime import ensure_server\n"
    "h = ensure_server(sys.argv[1])\n"
    "print(json.dumps({'pid': h.pid, 'url': h.url, 'started': h.started}))\n"
)


def test_two_processes_share_one_server(tmp_path, stopper):
    dd = tmp_path / "cp"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ENSURE, str(dd)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        results.append(json.loads(out))
    handle = find_server(dd)
    assert handle is not None
    stopper(handle)
    assert {r["pid"] for r in results} == {handle.pid}
    assert {r["url"] for r in results} == {handle.url}
    assert sorted(r["started"] for r in results) == [False, True]  # one started, one found
    # the server outlives the processes that asked for it
    assert _get(handle, "/local/health").status_code == 200


def test_restart_keeps_data(tmp_path, stopper):
    dd = tmp_path / "cp"
    h1 = start_server(dd)
    stopper(h1)
    auth = {"Authorization": f"Key {h1.token}"}
    cluster = {"id": "keep-me", "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
    r = httpx.post(
        f"{h1.url}/v2/users/me/compute_clusters", json={"compute_clusters": [cluster]}, headers=auth
    )
    assert r.json()["status"]["code"] == 10000, r.text
    np = {
        "id": "np-keep",
        "node_capacity_type": {"capacity_types": [1]},
        "instance_types": [{"id": "g5.xlarge"}],
        "min_instances": 0,
        "max_instances": 3,
    }
    r = httpx.post(
        f"{h1.url}/v2/users/me/compute_clusters/keep-me/nodepools",
        json={"nodepools": [np]},
        headers=auth,
    )
    assert r.json()["status"]["code"] == 10000, r.text
    stop_server(h1)
    _wait_dead(h1.pid)

    h2 = start_server(dd)
    stopper(h2)
    assert h2.token != h1.token  # a fresh token at every start; the data stays
    r = _get(h2, "/v2/users/me/compute_clusters/keep-me")
    assert r.json()["status"]["code"] == 10000
    assert r.json()["compute_cluster"]["region"] == "us-east-1"
    r = _get(h2, "/v2/users/me/compute_clusters/keep-me/nodepools/np-keep")
    assert r.json()["status"]["code"] == 10000
    assert r.json()["nodepool"]["max_instances"] == 3
    assert r.json()["nodepool"]["instance_types"][0]["id"] == "g5.xlarge"


def _listening_addresses(pid: int) -> set[str]:
    """Local addresses of the listening TCP sockets of `pid`, from /proc (hex, as the kernel has them)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state == "0A" and inode in inodes:  # 0A = LISTEN
                    # grpc listens on an IPv6 socket bound to ::ffff:127.0.0.1 (v4-mapped):
                    # the same loopback address, written the IPv4 way here
                    found.add(local.removeprefix("0000000000000000FFFF0000"))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_server_binds_loopback_only(fresh_server):
    addresses = _listening_addresses(fresh_server.pid)
    grpc_port = int(fresh_server.grpc_url.rsplit(":", 1)[1])
    # 127.0.0.1:<port> (REST) and 127.0.0.1:<grpc port> (the gRPC door), nothing else
    assert addresses == {f"0100007F:{fresh_server.port:04X}", f"0100007F:{grpc_port:04X}"}


def test_other_hosts_are_refused(tmp_path, capsys):
    with pytest.raises(ServerError, match="127.0.0.1 only"):
        runtime.serve(port=0, data_dir=tmp_path / "cp", host="0.0.0.0")
    assert runtime.main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)]) == 2
    assert "127.0.0.1 only" in capsys.readouterr().err


_START = (
    "import sys\n"
    "from compute_widgets.local.runtime import start_server, ServerError\n"
    "try:\n"
    "    start_server(sys.argv[1])\n"
    "except ServerError as e:\n"
    "    print(e)\n"
    "    sys.exit(3)\n"
)


@pytest.mark.parametrize("target", ["dir", "subdir"])
def test_read_only_data_dir_gives_one_clear_error(tmp_path, target):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    dd = ro if target == "dir" else ro / "compute_widgets"
    cmd = [sys.executable, "-c", _START, str(dd)]
    if os.geteuid() == 0:  # root writes anywhere: drop the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv")
        cmd = ["setpriv", "--bounding-set=-dac_override,-fowner,-dac_read_search", *cmd]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        ro.chmod(0o700)
    assert r.returncode == 3, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert str(dd) in lines[0]
    assert "permission denied" in lines[0]
    assert "--data-dir" in lines[0]  # says what to do about it
    assert not runtime_file_for(dd).exists()


def test_second_server_on_same_data_dir_is_refused_in_one_line(fresh_server):
    with pytest.raises(ServerError) as info:
        start_server(fresh_server.data_dir)
    message = str(info.value)
    assert message == (
        f"a control plane already serves {fresh_server.data_dir} (pid {fresh_server.pid}, "
        f"url {fresh_server.url}); stop it with `compute-widgets stop` or use --data-dir"
    )
    assert fresh_server.token not in message
    assert find_server(fresh_server.data_dir) == fresh_server  # the first one is untouched


def test_cli_status_and_stop(tmp_path, capsys, stopper):
    dd = tmp_path / "cp"
    assert runtime.main(["status", "--data-dir", str(dd)]) == 1
    handle = start_server(dd)
    stopper(handle)
    assert runtime.main(["status", "--data-dir", str(dd)]) == 0
    out = capsys.readouterr().out
    assert handle.url in out and handle.token not in out
    assert runtime.main(["stop", "--data-dir", str(dd)]) == 0
    _wait_dead(handle.pid)
    assert runtime.main(["status", "--data-dir", str(dd)]) == 1


def test_stop_falls_back_to_sigkill(tmp_path, stopper):
    handle = start_server(tmp_path / "cp")
    stopper(handle)
    os.kill(handle.pid, signal.SIGSTOP)  # a stopped process ignores SIGTERM until continued
    try:
        stop_server(handle, timeout=0.5)
        _wait_dead(handle.pid)
    finally:
        if runtime._pid_alive(handle.pid):
            os.kill(handle.pid, signal.SIGKILL)
    assert not runtime_file_for(handle.data_dir).exists()


def test_in_process_server(tmp_path):
    handle = start_server(tmp_path / "cp", background=False)
    try:
        assert handle.pid == os.getpid()
        assert _get(handle, "/local/health").status_code == 200
        assert find_server(tmp_path / "cp") == handle
    finally:
        stop_server(handle)
    with pytest.raises(httpx.ConnectError):
        _get(handle, "/local/health")
    assert not runtime_file_for(tmp_path / "cp").exists()


def test_proxy_settings_are_not_used_for_the_local_server(tmp_path, monkeypatch, stopper):
    # A proxy that does not exist: if the health checks went through it, nothing would start
    # (and the token would have been sent to a proxy).
    for key in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(key, "http://127.0.0.1:9")
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
    handle = start_server(tmp_path / "cp")
    stopper(handle)
    assert find_server(tmp_path / "cp") == handle


def test_demo_seeds_two_clusters_once(tmp_path, stopper):
    dd = tmp_path / "cp"
    handle = start_server(dd, demo=True)
    stopper(handle)
    r = _get(handle, "/v2/users/me/compute_clusters")
    assert r.json()["status"]["code"] == 10000
    clusters = {c["id"]: c for c in r.json()["compute_clusters"]}
    assert clusters["demo-aws"]["cloud_provider"]["id"] == "aws"
    assert clusters["demo-gcp"]["cloud_provider"]["id"] == "gcp"
    r = _get(handle, "/v2/users/me/nodepools")
    demo_pools = {n["id"] for n in r.json()["nodepools"]} & {"gpu-spot", "cpu-pool"}
    assert demo_pools == {"gpu-spot", "cpu-pool"}
    stop_server(handle)
    _wait_dead(handle.pid)

    again = start_server(dd, demo=True)  # seeding is idempotent: a restart adds nothing
    stopper(again)
    r = _get(again, "/v2/users/me/compute_clusters")
    ids = [c["id"] for c in r.json()["compute_clusters"]]
    assert ids.count("demo-aws") == 1 and len(ids) == len(clusters)
