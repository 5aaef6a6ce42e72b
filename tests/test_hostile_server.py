"""The local control plane under hostile connections and heavy requests (issue 12, items 5, 6).

Real servers on 127.0.0.1: a detached one (under a low file descriptor limit where that is the
attack) or an in-process one when a handler is gated to prove *where* it runs. No assertion
depends on the machine's speed: deadlines below are liveness bounds (generous), and "off the
loop" is shown by ordering (health answered while a gated request is still in flight).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from compute_widgets.local import runtime
from compute_widgets.local.runtime import start_server, stop_server

LIVENESS_S = 30.0  # "eventually": far above any honest answer time, even on a busy machine
FD_LIMIT = 256


def _get(handle, path, timeout=LIVENESS_S):
    return httpx.get(
        handle.url + path,
        headers={"Authorization": f"Key {handle.token}"},
        timeout=timeout,
        trust_env=False,
    )


def _half_open(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=LIVENESS_S)
    s.sendall(b"GET /local/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the blank line never comes
    return s


def _closed_by_server(s: socket.socket) -> bool:
    """True when the server closes the connection within LIVENESS_S (recv gets EOF/reset)."""
    s.settimeout(LIVENESS_S)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def limited_server(tmp_path, monkeypatch):
    """A detached server whose process may open at most FD_LIMIT files (prlimit)."""
    serve_argv = runtime._serve_argv
    monkeypatch.setattr(
        runtime,
        "_serve_argv",
        lambda *a: ["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", "--", *serve_argv(*a)],
    )
    handle = start_server(data_dir=tmp_path / "cp", port=0)
    yield handle
    stop_server(handle)


# ---------------------------------------------------------------------------------------------
# item 5: no connection starves the others


def test_half_open_flood_beyond_the_fd_limit_does_not_starve_an_authenticated_health_check(
    limited_server,
):
    handle = limited_server
    flood = []
    try:
        for _ in range(FD_LIMIT + 150):  # more half-open connections than the server has fds
            flood.append(_half_open(handle.port))
        r = _get(handle, "/local/health")
        assert r.status_code == 200
        assert r.json()["status"]["code"] == 10000
        stats = _get(handle, "/local/stats").json()
        conns = stats["connections"]
        assert conns["max"] < FD_LIMIT  # the cap was fitted under the fd limit
        assert conns["open"] <= conns["max"]
        assert conns["evicted"] >= len(flood) - conns["max"]  # the oldest half-open ones went
        assert _open_fds(handle.pid) < FD_LIMIT
    finally:
        for s in flood:
            s.close()
    log = Path(handle.log_path).read_text()
    assert "Traceback" not in log
    assert len(log) < 64 * 1024, f"the flood wrote {len(log)} bytes of log"


def test_the_oldest_half_open_connection_is_the_one_evicted(limited_server):
    handle = limited_server
    cap = _get(handle, "/local/stats").json()["connections"]["max"]
    first = _half_open(handle.port)
    flood = [_half_open(handle.port) for _ in range(cap + 5)]
    try:
        assert _closed_by_server(first)  # evicted to make room
        assert _get(handle, "/local/health").status_code == 200
    finally:
        first.close()
        for s in flood:
            s.close()


@pytest.fixture
def quick_deadlines_server(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPUTE_WIDGETS_HEAD_TIMEOUT", "1")
    monkeypatch.setenv("COMPUTE_WIDGETS_BODY_TIMEOUT", "1")
    handle = start_server(data_dir=tmp_path / "cp", port=0)
    yield handle
    stop_server(handle)


def test_a_request_head_that_never_completes_is_closed(quick_deadlines_server):
    handle = quick_deadlines_server
    s = _half_open(handle.port)
    try:
        assert _closed_by_server(s)
    finally:
        s.close()
    assert _get(handle, "/local/stats").json()["connections"]["head_timeouts"] >= 1


def test_a_head_trickled_byte_by_byte_is_closed_at_its_deadline(quick_deadlines_server):
    """slowloris proper: every byte resets no timer; the head as a whole has a deadline."""
    handle = quick_deadlines_server
    head = b"GET /local/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: 1\r\n" * 1000
    s = socket.create_connection(("127.0.0.1", handle.port), timeout=LIVENESS_S)
    closed = False
    try:
        for i in range(int(LIVENESS_S / 0.2)):
            try:
                s.sendall(head[i : i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.2)
    finally:
        s.close()
    assert closed


def test_a_body_that_never_completes_is_closed(quick_deadlines_server):
    handle = quick_deadlines_server
    s = socket.create_connection(("127.0.0.1", handle.port), timeout=LIVENESS_S)
    try:
        s.sendall(
            b"POST /v2/users/me/compute_clusters HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Key {handle.token}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"compute_'
        )
        assert _closed_by_server(s)
    finally:
        s.close()
    stats = _get(handle, "/local/stats").json()["connections"]
    assert stats["body_timeouts"] >= 1
    assert "Traceback" not in Path(handle.log_path).read_text()


def test_keep_alive_clients_are_served_across_the_deadlines(quick_deadlines_server):
    handle = quick_deadlines_server
    with httpx.Client(
        headers={"Authorization": f"Key {handle.token}"}, timeout=LIVENESS_S, trust_env=False
    ) as c:
        for _ in range(3):
            assert c.get(handle.url + "/local/health").status_code == 200


def test_server_log_rotates_and_takes_stdout_and_stderr_along(tmp_path):
    """Started detached, the server's stdout/stderr are its log file; the log stays bounded
    (1 MB x 4 files) whatever writes to it: logging, print, or a raw write to fd 2."""
    log_path = tmp_path / "server.log"
    code = f"""
import logging, os, sys
from pathlib import Path
from compute_widgets.local.serving import configure_server_log, LOG_MAX_BYTES
configure_server_log(Path({str(log_path)!r}))
line = "x" * 200
for i in range(20000):  # ~5 MB through logging: more than 4 files hold
    logging.getLogger("uvicorn.error").warning("%s %d", line, i)
print("a print after rotation", flush=True)
os.write(2, b"a raw stderr write\\n")
logging.getLogger("compute_widgets.local").warning("the last line")
"""
    with open(log_path, "wb") as out:  # as start_server does
        subprocess.run(
            [sys.executable, "-c", code],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
            env=dict(os.environ, PYTHONPATH=str(Path(runtime.__file__).resolve().parents[2])),
        )
    files = sorted(tmp_path.glob("server.log*"))
    assert [f.name for f in files] == ["server.log", "server.log.1", "server.log.2", "server.log.3"]
    assert all(f.stat().st_size <= 1024 * 1024 + 512 for f in files)
    current = log_path.read_text()
    assert "a print after rotation" in current
    assert "a raw stderr write" in current
    assert current.rstrip().endswith("the last line")


# ---------------------------------------------------------------------------------------------
# item 6: the event loop is never blocked for long


class Gate:
    """Holds a handler until released; records that it was entered."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def wrap(self, fn):
        def gated(*args, **kwargs):
            self.entered.set()
            self.release.wait(LIVENESS_S * 2)
            return fn(*args, **kwargs)

        return gated


def _in_background(fn):
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as e:  # reported by the assertion on out
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def _health_while(handle, gate: Gate) -> int | None:
    """The status of a health check sent while the gated handler is held (None: no answer)."""
    assert gate.entered.wait(LIVENESS_S), "the gated handler was never called"
    try:
        return _get(handle, "/local/health", timeout=LIVENESS_S / 3).status_code
    except httpx.TimeoutException:
        return None
    finally:
        gate.release.set()


@pytest.fixture
def in_process_server(tmp_path):
    handles = []

    def make():
        handles.append(start_server(tmp_path / "cp", background=False))
        return handles[-1]

    yield make
    for h in handles:
        stop_server(h)


def _client(handle):
    from compute_widgets.api.client import ComputeClient

    return ComputeClient(handle.url, handle.token, user_id="me", timeout=LIVENESS_S * 3)


def _cluster(c, cc_id="cc-hostile"):
    from compute_widgets.api.models import ComputeCluster

    c.create_cluster(ComputeCluster(id=cc_id, cloud_provider={"id": "aws"}, region="us-east-1"))
    return cc_id


def _pools(n, prefix="np"):
    from compute_widgets.api.models import CapacityType, InstanceType, NodeCapacityType, Nodepool

    return [
        Nodepool(
            id=f"{prefix}-{i}",
            instance_types=[InstanceType(id="t3a.medium")],
            node_capacity_type=NodeCapacityType(capacity_types=[CapacityType.ON_DEMAND_TYPE]),
            max_instances=2,
        )
        for i in range(n)
    ]


def _swap_handler(monkeypatch, old, new):
    """The route table with `new` in place of handler `old` (read by the next create_app)."""
    import dataclasses

    from compute_widgets.local import app

    routes = tuple(
        dataclasses.replace(r, handler=new) if r.handler is old else r for r in app.ROUTES
    )
    assert routes != app.ROUTES
    monkeypatch.setattr(app, "ROUTES", routes)


def test_a_batch_post_runs_off_the_event_loop(in_process_server, monkeypatch):
    from compute_widgets.local.resources import post_nodepools

    gate = Gate()
    _swap_handler(monkeypatch, post_nodepools, gate.wrap(post_nodepools))
    handle = in_process_server()
    with _client(handle) as c:
        cc = _cluster(c)
        t, out = _in_background(lambda: c.create_nodepools(cc, _pools(300)))
        assert _health_while(handle, gate) == 200  # answered while the POST was held
        t.join(LIVENESS_S * 3)
        assert "error" not in out, out.get("error")
        assert len(out["value"]) == 300
        assert len(c.list_nodepools(cc)) == 300  # nothing lost on the way


def test_a_nodepool_get_that_simulates_runs_off_the_event_loop(in_process_server, monkeypatch):
    from compute_widgets.local import metrics

    handle = in_process_server()
    with _client(handle) as c:
        cc = _cluster(c)
        c.create_nodepools(cc, _pools(1))
        c.advance_clock(86400)  # a day to catch up: the next GET simulates
        gate = Gate()  # holds the simulation itself: GetNodepool tries the loop first, and
        # must leave it (NeedsThread) before anything that simulates
        monkeypatch.setattr(
            metrics.MetricsEngine, "_simulate", gate.wrap(metrics.MetricsEngine._simulate)
        )
        t, out = _in_background(lambda: c.get_nodepool(cc, "np-0"))
        assert _health_while(handle, gate) == 200
        t.join(LIVENESS_S * 3)
        assert out["value"].id == "np-0"


def test_the_simulator_warms_up_in_a_thread_while_the_server_answers(
    in_process_server, monkeypatch
):
    from compute_widgets.local import serving

    gate = Gate()
    monkeypatch.setattr(serving, "warm_up_simulator", gate.wrap(lambda: None))
    handle = in_process_server()  # returns once health answers: warm-up is still held
    assert gate.entered.wait(LIVENESS_S)
    stats = _get(handle, "/local/stats").json()
    assert stats["simulator"]["warm"] is False
    gate.release.set()
    deadline = time.monotonic() + LIVENESS_S
    while not _get(handle, "/local/stats").json()["simulator"]["warm"]:
        assert time.monotonic() < deadline, "warm-up never finished"
        time.sleep(0.05)


def test_the_loop_monitor_measures_a_stall(in_process_server, monkeypatch):
    """A handler that blocks the loop 300 ms shows up as a stall of at least that (a lower
    bound: a slower machine only makes it longer); the next read starts a new window."""
    from compute_widgets.local.local_only import get_clock

    def slow_clock(plane, rq):
        time.sleep(0.3)  # on the loop: GET /local/clock runs inline
        return {"now": "x"}

    _swap_handler(monkeypatch, get_clock, slow_clock)
    handle = in_process_server()
    _get(handle, "/local/stats")  # start a window
    assert _get(handle, "/local/clock").status_code == 200
    loop = _get(handle, "/local/stats").json()["loop"]
    assert loop["max_stall_ms_since_last_read"] >= 250
    assert loop["stalls_over_100ms"] >= 1
    assert loop["max_stall_ms"] >= loop["max_stall_ms_since_last_read"]
