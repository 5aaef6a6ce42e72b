"""Metrics stay bounded in memory and work whatever the clock says (issue 12, item 1).

Against the real control plane (subprocess, 127.0.0.1, temporary SQLite): a resolution of
2562047h from year 1 is a 400 naming `resolution` and the server stays up; a window before
the 15-day retention is a 400 that names the oldest time kept; many pools through a ten-year
clock advance keep the server's RSS bounded. Engine-level: a ten-year jump simulates one
segment, not ten years, and an evicted segment is rebuilt with the same values.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from compute_widgets.api.models import MetricSearchQuery
from compute_widgets.local import metrics as M
from compute_widgets.local.catalog import Catalog
from compute_widgets.local.clock import Clock
from compute_widgets.local.store import Store
from compute_widgets.sim import PoolRunner

YEAR = 365 * 86400
CC = "bounds-cc"


def _rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM = peak RSS) of the server process, MB."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            k, v = line.split(":", 1)
            vals[k] = int(v.split()[0]) / 1024
    return vals["VmRSS"], vals["VmHWM"]


def _http(handle) -> httpx.Client:
    return httpx.Client(base_url=handle.url, headers={"Authorization": f"Key {handle.token}"}, timeout=120)


def _make_pools(http: httpx.Client, n: int) -> list[str]:
    http.post("/v2/users/me/compute_clusters", json={"compute_clusters": [
        {"id": CC, "cloud_provider": {"id": "aws"}, "region": "us-east-1"}]}).raise_for_status()  # fmt: skip
    ids = [f"np-{i:04d}" for i in range(n)]
    for k in range(0, n, 128):
        chunk = ids[k : k + 128]
        http.post(f"/v2/users/me/compute_clusters/{CC}/nodepools", json={"nodepools": [
            {"id": i, "instance_types": [{"id": "t3a.medium"}], "min_instances": 1, "max_instances": 4,
             "node_capacity_type": {"capacity_types": [1]}} for i in chunk]}).raise_for_status()  # fmt: skip
        http.post("/v2/users/me/deployments", json={"deployments": [
            {"id": f"d-{i}", "worker": {"model": {"id": "m", "user_id": "u", "app_id": "a"}},
             "nodepools": [{"id": i, "compute_cluster": {"id": CC, "user_id": "me"}}],
             "autoscale_config": {"min_replicas": 0, "max_replicas": 4}} for i in chunk]}).raise_for_status()  # fmt: skip
    return ids


def _now(http: httpx.Client) -> datetime:
    return datetime.fromisoformat(http.get("/local/clock").json()["now"].replace("Z", "+00:00"))


def _metrics(http: httpx.Client, **query) -> httpx.Response:
    return http.post("/v2/users/me/metrics", json={"query": {"metric_type": "NODEPOOL_NODE_COUNT", **query}})


def _advance(http: httpx.Client, seconds: float) -> None:
    while seconds > 0:  # one year per call: within any per-call cap of the clock
        step = min(seconds, YEAR)
        http.post("/local/clock/advance", json={"seconds": step}).raise_for_status()
        seconds -= step


def test_resolution_of_2562047h_from_year_1_is_a_400_naming_resolution(fresh_server):
    with _http(fresh_server) as http:
        _make_pools(http, 2)
        _advance(http, 86400)  # a day of history
        r = _metrics(http, start_time="0001-01-01T00:00:00Z", resolution="2562047h")
        assert r.status_code == 400, r.text[:300]
        status = r.json()["status"]
        assert status["code"] == 90400  # BAD_REQUEST
        assert status["description"].startswith("query.resolution: 2562047h is longer than the 15 days")
        assert "use at most 360h" in status["description"]
        # the server is up and answers the same question narrowed as the message says
        assert http.get("/local/health").status_code == 200
        r = _metrics(http, start_time="0001-01-01T00:00:00Z", resolution="360h")
        assert r.status_code == 200, r.text[:300]
        series = r.json()["data"]["matrix_data"]["series"]
        assert len(series) == 2 and all(1 <= len(s["value"]) <= 2 for s in series)
    _, peak = _rss_mb(fresh_server.pid)
    assert peak < 1024  # the old code allocated resolution/60 s samples per bucket: 21.5 GB


def test_window_before_the_retention_is_a_400_with_the_oldest_time_kept(fresh_server):
    with _http(fresh_server) as http:
        _make_pools(http, 1)
        _advance(http, 30 * 86400)
        now = _now(http)
        kept = M.oldest_kept(now.timestamp())
        assert now.timestamp() - 16 * 86400 <= kept <= now.timestamp() - 15 * 86400
        old = _metrics(http, start_time=(now - timedelta(days=20)).isoformat(),
                       end_time=(now - timedelta(days=17)).isoformat(), resolution="1h")  # fmt: skip
        assert old.status_code == 400, old.text[:300]
        text = old.json()["status"]["description"]
        assert text.startswith("query.end_time: metrics are kept for 15 days; the oldest time kept is ")
        assert M._rfc3339(kept) in text
        # a window reaching into what is kept is clipped to it: points only from the oldest kept time
        r = _metrics(http, start_time=(now - timedelta(days=25)).isoformat(), end_time=now.isoformat(),
                     resolution="1h")  # fmt: skip
        assert r.status_code == 200, r.text[:300]
        points = r.json()["data"]["matrix_data"]["series"][0]["value"]
        stamps = [datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00")).timestamp() for p in points]
        assert min(stamps) == kept and len(points) >= 15 * 24


def test_many_pools_through_a_ten_year_advance_keep_memory_bounded(tmp_path, monkeypatch):
    from compute_widgets.local.runtime import start_server, stop_server

    monkeypatch.setenv("COMPUTE_WIDGETS_METRICS_CACHE_MB", "32")  # the server's LRU budget
    handle = start_server(data_dir=tmp_path / "cp", port=0)
    try:
        with _http(handle) as http:
            ids = _make_pools(http, 120)
            assert _metrics(http, filters=[{"label": "NODEPOOL_ID", "equals": ids[0]}]).status_code == 200
            base, _ = _rss_mb(handle.pid)  # the kernel loaded, 200 pools young
            _advance(http, 10 * YEAR)
            now = _now(http)
            day = {"start_time": (now - timedelta(days=1)).isoformat(), "end_time": now.isoformat(), "resolution": "5m"}
            for np_id in ids:
                r = _metrics(http, filters=[{"label": "NODEPOOL_ID", "equals": np_id}], **day)
                assert r.status_code == 200, r.text[:300]
                (series,) = r.json()["data"]["matrix_data"]["series"]
                assert 280 <= len(series["value"]) <= 289  # the last day, every 5 minutes
            listed = http.get(f"/v2/users/me/compute_clusters/{CC}/nodepools", params={"per_page": 1000}).json()
            assert len(listed["nodepools"]) == 120
            assert all(1 <= n.get("node_count", 0) <= 4 for n in listed["nodepools"])
            # all 120 pools over two weeks (120 x 15 segments): refused before anything is simulated
            r = _metrics(http, start_time=(now - timedelta(days=14)).isoformat(), resolution="1h")
            assert r.status_code == 400
            text = r.json()["status"]["description"]
            assert text.startswith("query.start_time/end_time: this query simulates ")
            assert "a filter on NODEPOOL_ID or COMPUTE_CLUSTER_ID" in text
            assert http.get("/local/health").status_code == 200
        _, peak = _rss_mb(handle.pid)
        # 32 MB of cached segments plus working memory; the old cache kept 8 days per pool (~2.7 MB each: +320 MB)
        print(f"server RSS {base:.0f} MB before the advance, peak {peak:.0f} MB")
        assert peak - base < 150, f"peak RSS {peak:.0f} MB, {base:.0f} MB before the advance"
    finally:
        stop_server(handle)


# -- engine level --------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path):
    store = Store(tmp_path / "store.db")
    clock = Clock(store.get_clock_offset(), on_change=store.set_clock_offset)
    store.create_cluster("me", {"id": "cc", "cloud_provider": {"id": "aws"}, "region": "us-east-1"})
    store.create_nodepool("me", "cc", {"id": "np1", "instance_types": [{"id": "g5.xlarge"}],
                                       "node_capacity_type": {"capacity_types": [2, 1]},
                                       "min_instances": 1, "max_instances": 5})  # fmt: skip
    store.create_deployment("me", {"id": "dep", "worker": {"model": {"id": "m", "user_id": "u", "app_id": "a"}},
                                   "nodepools": [{"id": "np1", "compute_cluster": {"id": "cc", "user_id": "me"}}],
                                   "autoscale_config": {"min_replicas": 0, "max_replicas": 5},
                                   "metadata": {"workload": {"base_rps": 2.0}}})  # fmt: skip
    yield store, clock
    store.close()


def test_a_ten_year_jump_simulates_one_segment_not_ten_years(env, monkeypatch):
    store, clock = env
    steps = []
    advance = PoolRunner.advance

    def counting(self, n_steps, reference=False):  # the real kernel, with a step counter
        steps.append(n_steps)
        return advance(self, n_steps, reference)

    monkeypatch.setattr(PoolRunner, "advance", counting)
    engine = M.MetricsEngine(store, Catalog.load(), clock)
    engine.node_state("me", "cc", "np1")
    for _ in range(10):
        clock.advance(YEAR)
    count, _ = engine.node_state("me", "cc", "np1")
    assert 1 <= count <= 5
    # the segment holding now, from its warm-up: at most a day and two hours of 10 s steps
    assert sum(steps) <= (M.SEGMENT_S + M.WARMUP_S) / M.STEP_S


def test_evicted_segments_are_rebuilt_with_the_same_values(env):
    store, clock = env
    clock.advance(40 * 86400)
    now = clock.now()
    body = {"metric_type": "NODEPOOL_NODE_COUNT", "resolution": "10m", "end_time": now.isoformat(),
            "start_time": (now - timedelta(days=5)).isoformat(), "filters": [{"label": "series", "equals": "all"}]}  # fmt: skip
    query = MetricSearchQuery.from_wire(body)
    roomy = M.MetricsEngine(store, Catalog.load(), clock)
    tiny = M.MetricsEngine(store, Catalog.load(), clock, cache_bytes=1)  # keeps one segment at a time
    a, _ = roomy.query("me", query)
    b, _ = tiny.query("me", query)
    b2, _ = tiny.query("me", query)  # everything rebuilt again
    assert tiny.cache_size()[0] == 1 and roomy.cache_size()[0] >= 6
    wire = [s.to_wire() for s in a]
    assert wire == [s.to_wire() for s in b] == [s.to_wire() for s in b2]
    by = {s.label_dict()["series"]: [p.value for p in s.value] for s in a}
    assert 5 * 144 <= len(by["nodes"]) <= 5 * 144 + 1 and min(by["min_nodes"]) == 1
    assert by["cost_cum"] == sorted(by["cost_cum"]) and by["cost_cum"][0] > 0  # $ since the oldest time kept
    assert tiny.events_count("me", "cc", "np1") == roomy.events_count("me", "cc", "np1") > 0
