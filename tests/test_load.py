"""Reduced load test (benchmarks/bench_load.py at 200 + 200): correctness only, no timing asserts.

8 writer clients create 200 nodepools and 200 deployments (one resource per request) while 2
reader clients list both kinds and query metrics. Nothing lost, nothing duplicated, no 5xx, no
write refused, no listing with a repeated id. The full size (1,000 + 1,000) with latency
percentiles is `benchmarks/bench_load.py`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import httpx
import pytest

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_load.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load", _BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_concurrent_creates_with_readers_lose_and_duplicate_nothing(fresh_server):
    bench = _bench()
    result = bench.run_load(
        fresh_server.url,
        fresh_server.token,
        n_nodepools=200,
        n_deployments=200,
        writers=8,
        readers=2,
    )
    assert not result.server_errors, result.server_errors[:5]
    assert not result.refused, result.refused[:5]
    assert len(result.created_nodepools) == 200 and len(result.created_deployments) == 200
    lost_np, lost_dep = result.lost()
    assert not lost_np and not lost_dep, (sorted(lost_np)[:5], sorted(lost_dep)[:5])
    assert not result.duplicates(), result.duplicates()[:5]
    assert not result.read_anomalies, result.read_anomalies[:5]
    # nothing extra appeared either, and the readers really ran during the writes
    assert set(result.listed_nodepools) == result.created_nodepools
    assert set(result.listed_deployments) == result.created_deployments
    assert result.reads > 0 and all(
        k in result.latencies for k in ("POST nodepool", "POST deployment")
    )
    assert any(k.startswith("QUERY metrics") for k in result.latencies)
    # every deployment sits on the nodepool it was created on (no crossed writes)
    with httpx.Client(
        base_url=fresh_server.url, headers={"Authorization": f"Key {fresh_server.token}"}
    ) as http:
        deps = http.get("/v2/users/me/deployments", params={"per_page": 1000}).json()["deployments"]
    assert len(deps) == 200
    for d in deps:
        assert d["nodepools"][0]["id"] == d["id"].replace("dep-", "np-"), d
        assert d["worker"]["model"]["id"] == f"m-{d['id']}"
    # the percentiles the benchmark prints are computable from what was recorded
    assert bench.percentiles(result.latencies["POST nodepool"])["n"] == 200
