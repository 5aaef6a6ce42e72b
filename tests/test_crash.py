"""SIGKILL of the server in the middle of 1,000 concurrent creates.

8 threads post 200 batches of 5 (nodepools and deployments). When 300 items have been
acknowledged the server is killed with SIGKILL, while the other threads still have requests in
flight. After a restart on the same data dir: every acknowledged (status SUCCESS received) write
is present, and every batch is either fully present or fully absent.
"""

from __future__ import annotations

import os
import queue
import signal
import threading

import httpx
import pytest

from compute_widgets.local.runtime import start_server, stop_server

CLUSTER = "crash"
BATCH = 5
N_BATCHES = 200  # 1,000 creates
THREADS = 8
KILL_AFTER = 300  # acknowledged items
BASE_POOLS = [f"base-{k}" for k in range(4)]


def _nodepool(np_id: str) -> dict:
    return {
        "id": np_id,
        "node_capacity_type": {"capacity_types": [1]},
        "instance_types": [{"id": "g5.xlarge"}],
        "max_instances": 2,
    }


def _deployment(dep_id: str, k: int) -> dict:
    return {
        "id": dep_id,
        "worker": {
            "model": {
                "id": f"m-{dep_id}",
                "user_id": "u",
                "app_id": "a",
                "model_version": {"id": "v1"},
            }
        },
        "nodepools": [{"id": BASE_POOLS[k % len(BASE_POOLS)], "compute_cluster": {"id": CLUSTER}}],
        "autoscale_config": {"min_replicas": 0, "max_replicas": 2},
    }


def _batches() -> list[tuple[str, list[str], str, dict]]:
    """(kind, ids, path, body) for every batch; 3 of every 4 batches are nodepools."""
    out = []
    for b in range(N_BATCHES):
        if b % 4 == 3:
            ids = [f"d{b}-{j}" for j in range(BATCH)]
            body = {"deployments": [_deployment(i, b + j) for j, i in enumerate(ids)]}
            out.append(("deployment", ids, "/v2/users/me/deployments", body))
        else:
            ids = [f"n{b}-{j}" for j in range(BATCH)]
            body = {"nodepools": [_nodepool(i) for i in ids]}
            out.append(
                ("nodepool", ids, f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools", body)
            )
    return out


def _list_all(http: httpx.Client, path: str, key: str) -> set[str]:
    ids: set[str] = set()
    page = 1
    while True:
        r = http.get(path, params={"page": page, "per_page": 128})
        body = r.json()
        assert body["status"]["code"] == 10000, body["status"]
        items = body[key]
        ids |= {item["id"] for item in items}
        if len(items) < 128:
            return ids
        page += 1


@pytest.mark.slow
def test_sigkill_during_concurrent_creates_loses_no_acknowledged_write(tmp_path):
    dd = tmp_path / "cp"
    handle = start_server(dd)
    headers = {"Authorization": f"Key {handle.token}"}
    try:
        with httpx.Client(base_url=handle.url, headers=headers, timeout=30) as http:
            r = http.post(
                "/v2/users/me/compute_clusters",
                json={
                    "compute_clusters": [
                        {"id": CLUSTER, "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
                    ]
                },
            )
            assert r.json()["status"]["code"] == 10000, r.text
            r = http.post(
                f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools",
                json={"nodepools": [_nodepool(i) for i in BASE_POOLS]},
            )
            assert r.json()["status"]["code"] == 10000, r.text

        work: queue.Queue = queue.Queue()
        batches = _batches()
        for item in batches:
            work.put(item)
        lock = threading.Lock()
        acked: list[tuple[str, list[str]]] = []
        rejected: list[str] = []  # an answer that is not SUCCESS (must not happen before the kill)
        killed = threading.Event()

        def worker() -> None:
            with httpx.Client(base_url=handle.url, headers=headers, timeout=30) as http:
                while True:
                    try:
                        kind, ids, path, body = work.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        r = http.post(path, json=body)
                        status = r.json()["status"]["code"]
                    except (httpx.HTTPError, ValueError):
                        continue  # no acknowledgement: the outcome is unknown
                    with lock:
                        if status != 10000:
                            rejected.append(f"{ids[0]}: {status}")
                            continue
                        acked.append((kind, ids))
                        if not killed.is_set() and len(acked) * BATCH >= KILL_AFTER:
                            killed.set()
                            os.kill(handle.pid, signal.SIGKILL)

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert killed.is_set()
        assert not rejected, rejected[:5]
        n_acked = len(acked)
        assert KILL_AFTER // BATCH <= n_acked < N_BATCHES  # killed in the middle
        stop_server(handle)  # reaps the killed process, removes the stale runtime file

        handle = start_server(dd)
        headers = {"Authorization": f"Key {handle.token}"}  # a fresh token at every start
        with httpx.Client(base_url=handle.url, headers=headers, timeout=30) as http:
            pools = _list_all(
                http, f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools", "nodepools"
            )
            deps = _list_all(http, "/v2/users/me/deployments", "deployments")
        present = pools | deps
        for kind, ids in acked:
            missing = [i for i in ids if i not in present]
            assert not missing, f"acknowledged {kind}s lost after SIGKILL: {missing}"
        half = [ids for _, ids, _, _ in batches if 0 < sum(i in present for i in ids) < len(ids)]
        assert not half, f"half-written batches: {half[:3]}"
        assert set(BASE_POOLS) <= pools
        # the server is fully usable after the crash: a later write works
        with httpx.Client(base_url=handle.url, headers=headers, timeout=30) as http:
            r = http.post(
                f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools",
                json={"nodepools": [_nodepool("after-crash")]},
            )
            assert r.json()["status"]["code"] == 10000, r.text
    finally:
        stop_server(handle)
