"""GetNodepool tries the event loop first (`R.try_loop`): the metrics engine answers there only
when it needs neither a lock another thread holds nor more than a few simulation steps, and
says NeedsThread otherwise. Checked on a real store and engine, then through the real server."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
from test_metrics import _env, make_pool

from compute_widgets.local import metrics as M
from compute_widgets.local.wire import ON_LOOP, NeedsThread


def on_loop(fn, *args):
    token = ON_LOOP.set(True)
    try:
        return fn(*args)
    finally:
        ON_LOOP.reset(token)


@pytest.fixture
def engine(tmp_path):
    store, clock, engine = _env(tmp_path)
    make_pool(store, clock, days=1.0)
    yield clock, engine
    store.close()


def test_cold_pool_needs_a_thread_then_answers_on_the_loop_as_in_a_thread(engine):
    clock, engine = engine
    with pytest.raises(NeedsThread):  # never simulated: a day of catching up is a thread's job
        on_loop(engine.node_state, "me", "cc", "np1")
    in_thread = engine.node_state("me", "cc", "np1")
    assert in_thread[0] >= 1  # min_instances 1, a day old
    assert on_loop(engine.node_state, "me", "cc", "np1") == in_thread
    # a few steps behind: caught up on the loop. Half the allowance: the session's clock also
    # runs in real time, a record (6 steps) per minute, so a slow machine adds a few more
    clock.advance(M.ON_LOOP_STEPS // 2 * M.STEP_S)
    assert on_loop(engine.node_state, "me", "cc", "np1")[1] == in_thread[1]
    clock.advance(timedelta(hours=1).total_seconds())  # 360 steps behind: a thread's job again
    with pytest.raises(NeedsThread):
        on_loop(engine.node_state, "me", "cc", "np1")


def test_loop_never_waits_for_a_thread_simulating_the_pool(engine):
    _, engine = engine
    engine.node_state("me", "cc", "np1")
    pool = engine._pools[("me", "cc", "np1")]
    held = threading.Event()
    release = threading.Event()

    def simulating() -> None:
        with pool.lock:
            held.set()
            release.wait(10)

    worker = threading.Thread(target=simulating)
    worker.start()
    try:
        held.wait(10)
        with pytest.raises(NeedsThread):
            on_loop(engine.node_state, "me", "cc", "np1")
    finally:
        release.set()
        worker.join()


def test_nodepool_answers_the_same_on_either_path(fresh_server):
    """Through the server: the first GET (cold) goes to a thread, the next ones run on the loop;
    every answer is the same pool with the same node count."""
    auth = {"Authorization": f"Key {fresh_server.token}"}
    with httpx.Client(base_url=fresh_server.url, headers=auth, timeout=60) as http:
        cc = {"id": "cc", "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
        assert http.post("/v2/users/me/compute_clusters", json={"compute_clusters": [cc]}).is_success
        np = {"id": "np", "instance_types": [{"id": "g5.xlarge"}], "min_instances": 2,
              "max_instances": 4, "node_capacity_type": {"capacity_types": [1]}}  # fmt: skip
        assert http.post("/v2/users/me/compute_clusters/cc/nodepools", json={"nodepools": [np]}).is_success
        http.post("/local/clock/advance", json={"seconds": 3600}).raise_for_status()
        answers = [http.get("/v2/users/me/compute_clusters/cc/nodepools/np").json() for _ in range(5)]
    assert all(a["status"]["code"] == 10000 for a in answers)
    assert {a["nodepool"]["node_count"] for a in answers} == {2}  # min 2, an hour after launch
