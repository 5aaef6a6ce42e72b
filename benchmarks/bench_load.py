"""Load on the local control plane: concurrent writers and readers, correctness and latency.

    /work/venv/bin/python benchmarks/bench_load.py [--nodepools 1000] [--deployments 1000]
                                                   [--writers 8] [--readers 2]

8 writer clients (one keep-alive httpx client per thread) create the nodepools and
deployments, one resource per request (the most requests for the same work), each deployment on
a nodepool created before it; meanwhile reader clients list nodepools and deployments (paged)
and query NODEPOOL_NODE_COUNT metrics in a loop. Afterwards every resource is listed back:

* nothing lost: every acknowledged id is listed; nothing appeared that was not asked for;
* no duplicates: no id listed twice (within a page or across pages);
* no 5xx: every answer is a Clarifai status; non-success answers are counted and reported.

Latency per request kind: p50 / p95 / p99 / max, beside baselines measured in the same run on
the same server before the load: GET /local/health and the same single-resource creates from
one client, sequentially. tests/test_load.py runs `run_load` at a reduced size (correctness
only, no timing asserts).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLUSTER = "load-cc"
INSTANCE = "t3a.medium"  # a CPU type offered in aws us-east-1, on-demand and spot


@dataclass
class LoadResult:
    created_nodepools: set[str] = field(default_factory=set)
    created_deployments: set[str] = field(default_factory=set)
    listed_nodepools: list[str] = field(default_factory=list)
    listed_deployments: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    server_errors: list[str] = field(default_factory=list)  # any 5xx or malformed answer
    refused: list[str] = field(default_factory=list)  # non-success 4xx answers to writes
    read_anomalies: list[str] = field(default_factory=list)  # duplicates inside one listing
    reads: int = 0
    seconds: float = 0.0

    def lost(self) -> tuple[set[str], set[str]]:
        return (
            self.created_nodepools - set(self.listed_nodepools),
            self.created_deployments - set(self.listed_deployments),
        )

    def duplicates(self) -> list[str]:
        out = []
        for listed in (self.listed_nodepools, self.listed_deployments):
            seen: set[str] = set()
            out += [i for i in listed if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        return out


def _nodepool(np_id: str) -> dict[str, Any]:
    return {
        "id": np_id,
        "instance_types": [{"id": INSTANCE}],
        "node_capacity_type": {"capacity_types": [2, 1]},
        "min_instances": 0,
        "max_instances": 3,
    }


def _deployment(dep_id: str, np_id: str) -> dict[str, Any]:
    return {
        "id": dep_id,
        "worker": {"model": {"id": f"m-{dep_id}", "user_id": "load", "app_id": "app"}},
        "nodepools": [{"id": np_id, "compute_cluster": {"id": CLUSTER}}],
        "autoscale_config": {"min_replicas": 0, "max_replicas": 2},
    }


class _Recorder:
    """Thread-safe latency/status bookkeeping."""

    def __init__(self, result: LoadResult) -> None:
        self.result = result
        self.lock = threading.Lock()

    def call(self, http: httpx.Client, kind: str, method: str, path: str, **kw: Any) -> dict | None:
        t0 = time.perf_counter()
        try:
            r = http.request(method, path, **kw)
        except httpx.HTTPError as e:
            with self.lock:
                self.result.server_errors.append(f"{kind}: {type(e).__name__}: {e}")
            return None
        dt = time.perf_counter() - t0
        try:
            body = r.json()
            code = int(body["status"]["code"])
        except (ValueError, KeyError, TypeError):
            body, code = None, -1
        with self.lock:
            self.result.latencies[kind].append(dt)
            codes = self.result.codes[kind]
            codes[code] = codes.get(code, 0) + 1
            if r.status_code >= 500 or body is None:
                self.result.server_errors.append(
                    f"{kind} {path}: HTTP {r.status_code} {r.text[:200]}"
                )
                return None
        return body if code == 10000 else {"_refused": body}


def _list_all(
    rec: _Recorder, http: httpx.Client, kind: str, path: str, key: str, per_page: int
) -> list[str] | None:
    ids: list[str] = []
    for page in itertools.count(1):
        body = rec.call(http, kind, "GET", path, params={"page": page, "per_page": per_page})
        if body is None or "_refused" in body:
            return None
        items = body.get(key, [])
        ids += [it["id"] for it in items]
        if len(items) < per_page:
            return ids


def run_load(
    url: str,
    token: str,
    n_nodepools: int = 1000,
    n_deployments: int = 1000,
    writers: int = 8,
    readers: int = 2,
) -> LoadResult:
    """Run the load against a server at `url` (with an empty user namespace); see the module doc."""
    assert n_deployments <= n_nodepools, "each deployment goes on its own nodepool"
    headers = {"Authorization": f"Key {token}"}
    result = LoadResult()
    rec = _Recorder(result)
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        r = http.post(
            "/v2/users/me/compute_clusters",
            json={
                "compute_clusters": [
                    {"id": CLUSTER, "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
                ]
            },
        )
        assert r.status_code == 200, r.text

    # work item k: nodepool k, then (for k < n_deployments) deployment k on it
    items = iter(range(n_nodepools))
    items_lock = threading.Lock()
    done = threading.Event()
    np_path = f"/v2/users/me/compute_clusters/{CLUSTER}/nodepools"

    def writer(w: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            while True:
                with items_lock:
                    k = next(items, None)
                if k is None:
                    return
                np_id, dep_id = f"np-{k:05d}", f"dep-{k:05d}"
                body = rec.call(
                    http, "POST nodepool", "POST", np_path, json={"nodepools": [_nodepool(np_id)]}
                )
                if body is None:
                    continue
                if "_refused" in body:
                    with rec.lock:
                        result.refused.append(f"{np_id}: {body['_refused']['status']}")
                    continue
                with rec.lock:
                    result.created_nodepools.add(np_id)
                if k >= n_deployments:
                    continue
                body = rec.call(
                    http,
                    "POST deployment",
                    "POST",
                    "/v2/users/me/deployments",
                    json={"deployments": [_deployment(dep_id, np_id)]},
                )
                if body is None:
                    continue
                if "_refused" in body:
                    with rec.lock:
                        result.refused.append(f"{dep_id}: {body['_refused']['status']}")
                    continue
                with rec.lock:
                    result.created_deployments.add(dep_id)

    def reader(n: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            for i in itertools.count():
                if done.is_set():
                    return
                which = (i + n) % 3
                if which == 0:
                    got = _list_all(
                        rec, http, "LIST nodepools (128/page)", np_path, "nodepools", 128
                    )
                elif which == 1:
                    got = _list_all(
                        rec,
                        http,
                        "LIST deployments (128/page)",
                        "/v2/users/me/deployments",
                        "deployments",
                        128,
                    )
                else:
                    now = time.time()
                    query = {
                        "metric_type": "NODEPOOL_NODE_COUNT",
                        "start_time": _rfc3339(now - 3600),
                        "end_time": _rfc3339(now),
                        "resolution": "5m",
                        "filters": [{"label": "COMPUTE_CLUSTER_ID", "equals": CLUSTER}],
                        "aggregate": {"operator": "SUM"},
                    }
                    rec.call(
                        http,
                        "QUERY metrics (cluster sum)",
                        "POST",
                        "/v2/users/me/metrics",
                        json={"query": query},
                    )
                    got = []
                with rec.lock:
                    result.reads += 1
                    if got and len(got) != len(set(got)):
                        result.read_anomalies.append(
                            f"duplicate ids in one listing ({len(got) - len(set(got))})"
                        )

    t0 = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    threads += [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(readers)]
    for t in threads:
        t.start()
    for t in threads[:writers]:
        t.join()
    result.seconds = time.perf_counter() - t0
    done.set()
    for t in threads[writers:]:
        t.join(120)

    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        rec2 = _Recorder(LoadResult())  # final listing: not counted in the latencies
        result.listed_nodepools = _list_all(rec2, http, "final", np_path, "nodepools", 1000) or []
        result.listed_deployments = (
            _list_all(rec2, http, "final", "/v2/users/me/deployments", "deployments", 1000) or []
        )
        result.server_errors += rec2.result.server_errors
    return result


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (nearest-rank)."""
    if not values:
        return {}
    s = sorted(values)

    def rank(p: float) -> float:
        return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))] * 1000

    return {
        "n": len(s),
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": s[-1] * 1000,
        "mean": statistics.fmean(s) * 1000,
    }


def baseline(url: str, token: str, n: int = 200) -> dict[str, list[float]]:
    """Before the load, same server: GET /local/health and n single creates, one client."""
    headers = {"Authorization": f"Key {token}"}
    out: dict[str, list[float]] = defaultdict(list)
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        http.post(
            "/v2/users/me/compute_clusters",
            json={
                "compute_clusters": [
                    {"id": "base-cc", "cloud_provider": {"id": "aws"}, "region": "us-east-1"}
                ]
            },
        )
        for _ in range(n):
            t0 = time.perf_counter()
            http.get("/local/health")
            out["GET /local/health (1 client)"].append(time.perf_counter() - t0)
        for k in range(n):
            t0 = time.perf_counter()
            r = http.post(
                "/v2/users/me/compute_clusters/base-cc/nodepools",
                json={"nodepools": [_nodepool(f"b-{k}")]},
            )
            out["POST nodepool (1 client, sequential)"].append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            t0 = time.perf_counter()
            r = http.post(
                "/v2/users/me/deployments",
                json={
                    "deployments": [
                        dict(
                            _deployment(f"bd-{k}", f"b-{k}"),
                            nodepools=[{"id": f"b-{k}", "compute_cluster": {"id": "base-cc"}}],
                        )
                    ]
                },
            )
            out["POST deployment (1 client, sequential)"].append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
        # remove the baseline resources so the load starts from an empty namespace
        http.request("DELETE", "/v2/users/me/compute_clusters", json={"ids": ["base-cc"]})
    return out


def report(result: LoadResult, base: dict[str, list[float]] | None = None) -> str:
    lines = []
    lost_np, lost_dep = result.lost()
    lines.append(
        f"created {len(result.created_nodepools)} nodepools + {len(result.created_deployments)} deployments "
        f"in {result.seconds:.1f} s ({(len(result.created_nodepools) + len(result.created_deployments)) / max(result.seconds, 1e-9):.0f} creates/s) "
        f"with {result.reads} concurrent reads"
    )
    lines.append(
        f"lost: {len(lost_np) + len(lost_dep)}  duplicates: {len(result.duplicates())}  "
        f"5xx/malformed: {len(result.server_errors)}  refused writes: {len(result.refused)}  "
        f"read anomalies: {len(result.read_anomalies)}"
    )
    lines.append("")
    lines.append(f"{'request':48} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    rows = [(k, v) for k, v in sorted(result.latencies.items())]
    rows += [(f"baseline: {k}", v) for k, v in sorted((base or {}).items())]
    for kind, values in rows:
        p = percentiles(values)
        lines.append(
            f"{kind:48} {p['n']:6d} {p['p50']:8.1f} {p['p95']:8.1f} {p['p99']:8.1f} {p['max']:8.1f}"
        )
    if base:
        for a, b in (
            ("POST nodepool", "POST nodepool (1 client, sequential)"),
            ("POST deployment", "POST deployment (1 client, sequential)"),
        ):
            if a in result.latencies and b in base:
                ratio = percentiles(result.latencies[a])["p99"] / percentiles(base[b])["p99"]
                lines.append(f"p99 {a} under load / sequential baseline: {ratio:.1f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodepools", type=int, default=1000)
    p.add_argument("--deployments", type=int, default=1000)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--baseline", type=int, default=200, help="sequential creates in the baseline")
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from compute_widgets.local.runtime import start_server, stop_server

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("JUPYTER_RUNTIME_DIR", str(Path(tmp) / "runtime"))
        handle = start_server(Path(tmp) / "cp", port=0)
        try:
            base = baseline(handle.url, handle.token, args.baseline)
            result = run_load(
                handle.url,
                handle.token,
                args.nodepools,
                args.deployments,
                args.writers,
                args.readers,
            )
        finally:
            stop_server(handle)
    print(
        f"bench_load: {args.writers} writers + {args.readers} readers, {args.nodepools} nodepools + "
        f"{args.deployments} deployments, one resource per request, server with {os.cpu_count()} CPUs"
    )
    print(report(result, base))
    lost_np, lost_dep = result.lost()
    ok = not (
        lost_np
        or lost_dep
        or result.duplicates()
        or result.server_errors
        or result.refused
        or result.read_anomalies
    )
    print("correctness:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
