"""MetricsEngine over a real SQLite store, the real catalog and a clock that only moves forward."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from compute_widgets.api.models import MetricSearchQuery, NodepoolStatus
from compute_widgets.local.catalog import Catalog
from compute_widgets.local.clock import Clock
from compute_widgets.local.metrics import SERIES_NAMES, MetricsEngine, seed_demo
from compute_widgets.local.store import Store


def _env(tmp_path, start=None):
    store = Store(tmp_path / "store.db")
    if start is None:  # the session's pinned clock (tests/conftest.py), as the servers use
        clock = Clock.from_env(store.get_clock_offset(), on_change=store.set_clock_offset)
    else:
        clock = Clock(store.get_clock_offset(), on_change=store.set_clock_offset, start=start)
    store.now = clock.now  # as build_app does: writes stamped with the clock's time
    return store, clock, MetricsEngine(store, Catalog.load(), clock)


@pytest.fixture
def env(tmp_path):
    store, clock, engine = _env(tmp_path)
    yield store, clock, engine
    store.close()


def q(metric: str, clock, hours: float = 24, resolution: str = "5m", filters=(), aggregate=None):
    now = clock.now()
    body = {"metric_type": metric, "start_time": (now - timedelta(hours=hours)).isoformat(),
            "end_time": now.isoformat(), "resolution": resolution, "filters": list(filters)}  # fmt: skip
    if aggregate:
        body["aggregate"] = aggregate
    return MetricSearchQuery.from_wire(body)


def values(series) -> np.ndarray:
    return np.array([p.value for p in series.value])


# 0.2 requests per second, all day, every day: one node's worth (1 rps already queues up to 3
# nodes while the first one boots), whatever the hour
FLAT = {"base_rps": 0.2, "diurnal_amplitude": 0.0, "weekend_factor": 1.0, "bursts_per_day": 0.0}


def make_pool(store, clock, np_id="np1", days=2.0, workload=None, **kw):
    t0 = clock.now() - timedelta(days=days)
    if store.cluster_wire("me", "cc") is None:
        store.create_cluster("me", {"id": "cc", "cloud_provider": {"id": "aws"}, "region": "us-east-1"}, now=t0)
    body = {"id": np_id, "instance_types": [{"id": "g5.xlarge"}],
            "node_capacity_type": {"capacity_types": [2, 1]}, "min_instances": 1, "max_instances": 5}  # fmt: skip
    body.update(kw)
    store.create_nodepool("me", "cc", body, now=t0)
    store.create_deployment("me", {
        "id": f"dep-{np_id}", "worker": {"model": {"id": f"m-{np_id}", "user_id": "u", "app_id": "a"}},
        "nodepools": [{"id": np_id, "compute_cluster": {"id": "cc", "user_id": "me"}}],
        "autoscale_config": {"min_replicas": 0, "max_replicas": 5},
        "metadata": {"workload": workload or {"base_rps": 2.0}},
    }, now=t0)  # fmt: skip


def test_node_count_history_resolution_and_default_total(env):
    store, clock, engine = env
    make_pool(store, clock)
    series, res = engine.query("me", q("NODEPOOL_NODE_COUNT", clock, hours=24, resolution="5m"))
    assert res == "5m" and len(series) == 1
    labels = series[0].label_dict()
    assert labels == {"COMPUTE_CLUSTER_ID": "cc", "NODEPOOL_ID": "np1"}
    v = values(series[0])
    assert 287 <= len(v) <= 289 and v.min() >= 1 and v.max() <= 5
    ts = [p.timestamp for p in series[0].value]
    assert all((b - a) == timedelta(minutes=5) for a, b in zip(ts, ts[1:], strict=False))
    assert all(t.timestamp() % 300 == 0 for t in ts)
    # resolution is rounded up to whole minutes
    _, res = engine.query("me", q("NODEPOOL_NODE_COUNT", clock, hours=1, resolution="90s"))
    assert res == "2m"


def test_aggregates_agree_with_each_other(env):
    store, clock, engine = env
    make_pool(store, clock)

    def agg(op):
        s, _ = engine.query("me", q("NODEPOOL_GPU_UTILIZATION", clock, hours=12, resolution="1h",
                                    aggregate={"operator": op}))  # fmt: skip
        return values(s[0])

    avg, mx, mn, p50, p95, p99, cnt, total = (agg(o) for o in ("AVG", "MAX", "MIN", "P50", "P95", "P99", "COUNT", "SUM"))
    assert (mn <= avg + 1e-9).all() and (avg <= mx + 1e-9).all()
    assert (p50 <= p95 + 1e-9).all() and (p95 <= p99 + 1e-9).all() and (p99 <= mx + 1e-9).all()
    assert set(cnt[1:-1]) == {60.0}  # one sample per minute
    np.testing.assert_allclose(total, avg * cnt)
    assert ((avg >= 0) & (avg <= 100)).all() and avg.max() > 0


def test_split_series_and_history_series(env):
    store, clock, engine = env
    make_pool(store, clock)
    total = values(engine.query("me", q("NODEPOOL_NODE_COUNT", clock, resolution="1m"))[0][0])
    split, _ = engine.query("me", q("NODEPOOL_NODE_COUNT", clock, resolution="1m",
                                    aggregate={"operator": "AVG", "labels": ["NODEPOOL_ID", "capacity_type", "state"]}))  # fmt: skip
    assert len(split) == 4
    assert {(s.label_dict()["capacity_type"], s.label_dict()["state"]) for s in split} == {
        ("spot", "ready"), ("on_demand", "ready"), ("spot", "pending"), ("on_demand", "pending")}
    np.testing.assert_allclose(sum(values(s) for s in split), total)
    only_spot, _ = engine.query("me", q("NODEPOOL_NODE_COUNT", clock, filters=[{"label": "capacity_type", "equals": "spot"}]))
    assert {s.label_dict()["capacity_type"] for s in only_spot} == {"spot"} and len(only_spot) == 2
    hist, _ = engine.query("me", q("NODEPOOL_NODE_COUNT", clock, resolution="10m",
                                   filters=[{"label": "series", "equals": "all"}]))  # fmt: skip
    by = {s.label_dict()["series"]: values(s) for s in hist}
    assert set(by) == set(SERIES_NAMES)
    assert (np.diff(by["cost_cum"]) > 0).all()
    assert (by["min_nodes"] == 1).all() and (by["max_nodes"] == 5).all()
    assert (by["cost_rate_all_od"] >= by["cost_rate_spot"] + by["cost_rate_od"] - 1e-9).all()


def test_model_metrics_per_deployment_and_filters(env):
    store, clock, engine = env
    make_pool(store, clock, "np1")
    make_pool(store, clock, "np2")
    s, _ = engine.query("me", q("MODEL_REQUEST_COUNT", clock, hours=2, resolution="1h"))
    assert {x.label_dict()["MODEL_ID"] for x in s} == {"m-np1", "m-np2"}
    hourly = values(s[0])
    assert 2.0 * 3600 * 0.2 < hourly.max() < 2.0 * 3600 * 10  # ~2 rps base with cycles and bursts
    s, _ = engine.query("me", q("MODEL_E2E_LATENCY", clock, hours=2, filters=[{"label": "MODEL_ID", "equals": "m-np2"}]))
    assert [x.label_dict()["NODEPOOL_ID"] for x in s] == ["np2"] and values(s[0]).min() >= 4.0
    s, _ = engine.query("me", q("NODEPOOL_CPU_UTILIZATION", clock, filters=[{"label": "NODEPOOL_ID", "in": {"in": ["np2"]}}]))
    assert [x.label_dict()["NODEPOOL_ID"] for x in s] == ["np2"]
    s, _ = engine.query("me", q("NODEPOOL_NODE_COUNT", clock, aggregate={"operator": "SUM", "labels": ["COMPUTE_CLUSTER_ID"]}))
    assert len(s) == 1 and s[0].label_dict() == {"COMPUTE_CLUSTER_ID": "cc"}
    assert engine.query("other-user", q("NODEPOOL_NODE_COUNT", clock))[0] == []


def test_patch_changes_history_from_its_time_never_before(env):
    store, clock, engine = env
    make_pool(store, clock, min_instances=3, max_instances=6)
    before, _ = engine.query("me", q("NODEPOOL_NODE_COUNT", clock, hours=48, resolution="1m"))
    patched_at = clock.now()
    np_ = store.get_nodepool("me", "cc", "np1")
    store.update_nodepool("me", "cc", np_.model_copy(update={"min_instances": 0, "max_instances": 1}))
    engine.invalidate("me", "cc", "np1")
    clock.advance(3 * 3600)
    after, _ = engine.query("me", q("NODEPOOL_NODE_COUNT", clock, hours=51, resolution="1m"))
    old = {p.timestamp: p.value for p in before[0].value}
    new = {p.timestamp: p.value for p in after[0].value}
    common = [t for t in old if t < patched_at - timedelta(minutes=1)]
    assert len(common) > 2000 and all(old[t] == new[t] for t in common)
    assert min(old[t] for t in common if t > patched_at - timedelta(hours=40)) >= 3
    later = [v for t, v in new.items() if t > patched_at + timedelta(minutes=2)]
    assert later and max(later) <= 1
    ev = engine.events("me", "cc", "np1", None, 1000)
    assert any(e.meta["reason"] == "above max_nodes" for e in ev)


def test_incremental_equals_from_scratch(env, tmp_path):
    store, clock, engine = env
    make_pool(store, clock, days=1)
    engine.node_state("me", "cc", "np1")
    for _ in range(4):
        clock.advance(997)
        engine.node_state("me", "cc", "np1")
    fresh = MetricsEngine(store, Catalog.load(), clock)
    query = q("NODEPOOL_NODE_COUNT", clock, hours=25, resolution="1m", filters=[{"label": "series", "equals": "all"}])
    a, _ = engine.query("me", query)
    b, _ = fresh.query("me", query)
    exact = [s.to_wire() for s in a if s.label_dict()["series"] != "cost_cum"]
    assert exact == [s.to_wire() for s in b if s.label_dict()["series"] != "cost_cum"]
    cum = [values(s) for s in a + b if s.label_dict()["series"] == "cost_cum"]
    np.testing.assert_allclose(cum[0], cum[1], rtol=1e-12)  # summed in chunks vs at once
    assert engine.events_count("me", "cc", "np1") == fresh.events_count("me", "cc", "np1") > 0


def test_events_node_state_and_demo(env):
    store, clock, engine = env
    assert seed_demo(store) and not seed_demo(store)
    count, status = engine.node_state("me", "demo-aws", "gpu-spot")
    assert status == NodepoolStatus.NODEPOOL_STATUS_READY and 1 <= count <= 6
    n = engine.events_count("me", "demo-aws", "gpu-spot")
    assert n > 10
    last = engine.events("me", "demo-aws", "gpu-spot", None, 5)
    first = engine.events("me", "demo-aws", "gpu-spot", 1, 5)
    assert len(first) == 5 and 1 <= len(last) <= 5
    stamps = [e.meta["timestamp"] for e in engine.events("me", "demo-aws", "gpu-spot", 1, n)]
    assert stamps == sorted(stamps)
    e = first[0]
    assert e.log_type == "runner.events" and set(e.meta) == {"timestamp", "kind", "count", "capacity_type", "reason"}
    assert e.message and str(e.meta["count"]) in e.message
    kinds = {x.meta["kind"] for x in engine.events("me", "demo-aws", "gpu-spot", 1, n)}
    assert {"scale_up", "scale_down"} <= kinds


# Monday and Saturday at the four corners of the day: the old test of a fresh pool passed at
# 04:00 UTC and failed at 03:00, 09:10, 15:00 and 21:00 (the default diurnal traffic scaled it
# to 2-5 nodes); with a flat workload of one node's worth the answer is the same at any hour.
@pytest.mark.parametrize("start", ["2026-11-30T03:00:00Z", "2026-11-30T09:00:00Z", "2026-11-30T15:00:00Z",
                                   "2026-11-30T21:00:00Z", "2026-11-28T15:00:00Z"])  # fmt: skip
def test_fresh_pool_is_pending_then_ready_with_one_node_at_any_hour(tmp_path, start):
    store, clock, engine = _env(tmp_path, start)
    make_pool(store, clock, "fresh", days=0, workload=FLAT)
    assert engine.node_state("me", "cc", "fresh")[1] == NodepoolStatus.NODEPOOL_STATUS_PENDING
    clock.advance(900)
    assert engine.node_state("me", "cc", "fresh") == (1, NodepoolStatus.NODEPOOL_STATUS_READY)
    store.close()
