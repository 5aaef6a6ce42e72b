"""Store: SQLite persistence (real files in a temp dir), transactions, cascades, revisions."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from compute_widgets.local import store as st
from compute_widgets.local.store import PLAN_MAX_NODES, DuplicateId, ModelConflict, Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store.sqlite3")
    yield s
    s.close()


def _cluster(cid="cc1"):
    return {"id": cid, "cloud_provider": {"id": "aws", "name": "aws"}, "region": "us-east-1"}


def _nodepool(nid="np1", lo=0, hi=3, itype="g5.xlarge"):
    np = {
        "id": nid,
        "instance_types": [{"id": itype}],
        "node_capacity_type": {"capacity_types": [1]},
        "max_instances": hi,
    }
    if lo:
        np["min_instances"] = lo
    return np


def _deployment(did, pools, model="m1"):
    return {
        "id": did,
        "worker": {
            "model": {"id": model, "user_id": "u", "app_id": "a", "model_version": {"id": "v1"}}
        },
        "nodepools": [{"id": np, "compute_cluster": {"id": cc}} for cc, np in pools],
    }


def test_wal_schema_and_restart_keeps_everything(tmp_path):
    path = tmp_path / "s.sqlite3"
    s = Store(path)
    assert s._one("PRAGMA journal_mode")[0] == "wal"
    s.insert_cluster("me", _cluster())
    s.insert_nodepool("me", "cc1", _nodepool())
    s.insert_deployment("me", _deployment("d1", [("cc1", "np1")]))
    s.set_clock_offset(3600.5)
    s.close()

    s2 = Store(path)
    assert s2.cluster_wire("me", "cc1")["region"] == "us-east-1"
    assert s2.nodepool_wire("me", "cc1", "np1")["compute_cluster"]["cloud_provider"]["id"] == "aws"
    assert s2.deployment_wire("me", "d1")["user_id"] == "me"
    assert s2.get_clock_offset() == 3600.5
    assert s2.now() > datetime.now(UTC) + timedelta(minutes=59)
    s2.close()


def test_duplicate_ids_and_owner_scoping(store):
    store.insert_cluster("me", _cluster())
    with pytest.raises(DuplicateId, match="'cc1' already exists"):
        store.insert_cluster("me", _cluster())
    store.insert_cluster("alice", _cluster())  # another user's namespace
    assert [c["user_id"] for c in store.clusters_wire("alice")] == ["alice"]
    store.insert_nodepool("me", "cc1", _nodepool())
    with pytest.raises(DuplicateId, match="Nodepool 'np1' already exists in compute cluster 'cc1'"):
        store.insert_nodepool("me", "cc1", _nodepool())


def test_transaction_is_all_or_nothing(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_cluster("me", _cluster("a"))
        store.insert_cluster("me", _cluster("b"))
        raise RuntimeError("boom")
    assert store.clusters_wire("me") == []
    with pytest.raises(DuplicateId), store.transaction():
        store.insert_cluster("me", _cluster("a"))
        store.insert_cluster("me", _cluster("a"))
    assert store.clusters_wire("me") == []


def test_timestamps_backdating_and_output_fields(store):
    week_ago = datetime.now(UTC) - timedelta(days=7)
    c = store.insert_cluster("me", {**_cluster(), "key": {"id": "secret-pat"}}, now=week_ago)
    assert "key" not in c and "secret" not in str(store.cluster_wire("me", "cc1"))
    assert c["created_at"] == c["modified_at"] == st.rfc3339(week_ago)
    np = store.insert_nodepool(
        "me", "cc1", {**_nodepool(), "status": 2, "node_count": 9}, now=week_ago
    )
    assert "status" not in np and "node_count" not in np
    later = week_ago + timedelta(days=1)
    np2 = store.replace_nodepool("me", "cc1", _nodepool(hi=5), now=later)
    assert np2["created_at"] == st.rfc3339(week_ago) and np2["modified_at"] == st.rfc3339(later)


def test_enforced_limits_are_capped_by_the_plan(store):
    store.insert_cluster("me", _cluster())
    np = store.insert_nodepool("me", "cc1", _nodepool(lo=2, hi=5))
    assert (np["enforced_min_instances"], np["enforced_max_instances"]) == (2, 5)
    np = store.insert_nodepool("me", "cc1", _nodepool("big", lo=150, hi=500))
    assert np["enforced_max_instances"] == PLAN_MAX_NODES
    assert np["enforced_min_instances"] == PLAN_MAX_NODES
    np = store.insert_nodepool("me", "cc1", _nodepool("zero", lo=0, hi=1))
    assert "enforced_min_instances" not in np  # zero omitted on the wire


def test_revisions_record_setting_changes_only(store):
    store.insert_cluster("me", _cluster())
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    store.insert_nodepool("me", "cc1", _nodepool(), now=t0)
    store.replace_nodepool(
        "me", "cc1", {**_nodepool(), "description": "x"}, now=t0 + timedelta(hours=1)
    )
    store.replace_nodepool("me", "cc1", _nodepool(lo=1, hi=4), now=t0 + timedelta(hours=2))
    rows = store._all("SELECT effective_at FROM nodepool_revisions ORDER BY seq")
    assert [r[0] for r in rows] == [t0.timestamp(), (t0 + timedelta(hours=2)).timestamp()]


def test_pinned_status(store):
    store.insert_cluster("me", _cluster())
    store.insert_nodepool("me", "cc1", _nodepool())
    store.set_nodepool_status("me", "cc1", "np1", 3, "quota exceeded")
    np = store.nodepool_wire("me", "cc1", "np1")
    assert (np["status"], np["status_description"]) == (3, "quota exceeded")
    store.set_nodepool_status("me", "cc1", "np1", 0, "ignored")
    assert "status" not in store.nodepool_wire("me", "cc1", "np1")
    with pytest.raises(KeyError):
        store.set_nodepool_status("me", "cc1", "nope", 2)


def test_one_deployment_per_model_per_nodepool(store):
    store.insert_cluster("me", _cluster())
    store.insert_nodepool("me", "cc1", _nodepool())
    store.insert_deployment("me", _deployment("d1", [("cc1", "np1")]))
    with pytest.raises(ModelConflict, match="already has deployment 'd1'") as e:
        store.insert_deployment("me", _deployment("d2", [("cc1", "np1")]))
    assert e.value.existing == "d1"
    assert store.deployment_wire("me", "d2") is None  # rolled back
    store.insert_deployment("me", _deployment("d3", [("cc1", "np1")], model="other"))
    # a new version of the same deployment is not a clash with itself
    store.replace_deployment("me", _deployment("d1", [("cc1", "np1")]))


def test_cascading_deletes(store):
    store.insert_cluster("me", _cluster("a"))
    store.insert_cluster("me", _cluster("b"))
    for cc, np in (("a", "np1"), ("a", "np2"), ("b", "np3")):
        store.insert_nodepool("me", cc, _nodepool(np))
    store.insert_deployment("me", _deployment("only-a", [("a", "np1")]))
    store.insert_deployment("me", _deployment("both", [("a", "np2"), ("b", "np3")], model="m2"))
    out = store.delete_cluster("me", "a")
    assert out.clusters == ["a"]
    assert out.nodepools == [("a", "np1"), ("a", "np2")]
    assert out.deployments == ["only-a"]
    assert out.detached == {"both": ["np2"]}
    both = store.deployment_wire("me", "both")
    assert [n["id"] for n in both["nodepools"]] == ["np3"]
    assert store.deployments_wire("me", nodepool_id="np2") == []
    assert [d["id"] for d in store.deployments_wire("me", nodepool_id="np3")] == ["both"]
    assert store.nodepools_wire("me") == store.nodepools_wire("me", "b")
    with pytest.raises(KeyError):
        store.delete_cluster("me", "a")
    out = store.delete_nodepool("me", "b", "np3")
    assert out.deployments == ["both"] and store.deployments_wire("me") == []


def test_listing_filters_and_paging(store):
    store.insert_cluster("me", _cluster())
    for i in range(5):
        store.insert_nodepool("me", "cc1", _nodepool(f"np{i}"))
    assert [n["id"] for n in store.nodepools_wire("me", "cc1", 2, 2)] == ["np2", "np3"]
    assert [n["id"] for n in store.nodepools_wire("me", None, 4, 10)] == ["np4"]
    store.insert_deployment("me", _deployment("d1", [("cc1", "np0")]))
    d2 = _deployment("d2", [("cc1", "np1")], model="m2")
    d2["worker"]["model"]["model_version"]["id"] = "v2"
    store.insert_deployment("me", d2)
    assert [d["id"] for d in store.deployments_wire("me", model_version_ids=["v2"])] == ["d2"]
    assert [d["id"] for d in store.deployments_wire("me", compute_cluster_id="cc1")] == ["d1", "d2"]
    assert store.deployments_wire("me", compute_cluster_id="cc1", nodepool_id="np4") == []


def test_concurrent_writers_from_threads(store):
    store.insert_cluster("me", _cluster())
    errors = []

    def work(t):
        try:
            for i in range(40):
                store.insert_nodepool("me", "cc1", _nodepool(f"t{t}-{i}"))
                store.nodepools_wire("me", "cc1", 0, 5)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.nodepools_wire("me", "cc1")) == 240


def test_a_second_process_view_sees_committed_data(store, tmp_path):
    store.insert_cluster("me", _cluster())
    raw = sqlite3.connect(store.path)
    assert raw.execute("SELECT count(*) FROM clusters").fetchone()[0] == 1
    raw.close()


def test_model_level_api(store):
    pytest.importorskip("compute_widgets.api.models")
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    store.create_cluster("me", _cluster(), now=t0)
    store.create_nodepool("me", "cc1", _nodepool(), now=t0)
    store.update_nodepool("me", "cc1", _nodepool(lo=1, hi=6), now=t0 + timedelta(days=2))
    store.create_deployment("me", _deployment("d1", [("cc1", "np1")]), now=t0)
    revs = store.nodepool_revisions("me", "cc1", "np1")
    assert [t for t, _ in revs] == [t0, t0 + timedelta(days=2)]
    assert [(n.min_instances, n.max_instances) for _, n in revs] == [(0, 3), (1, 6)]
    assert store.get_nodepool("me", "cc1", "np1").enforced_max_instances == 6
    assert store.get_nodepool("me", "cc1", "nope") is None
    assert [(u, n.id) for u, n in store.list_all_nodepools()] == [("me", "np1")]
    assert store.nodepool_keys("me") == [(n.compute_cluster.id, "np1") for _, n in store.list_all_nodepools()]
    assert store.nodepool_keys("someone-else") == []
    assert [d.id for d in store.deployments_for_nodepool("me", "cc1", "np1")] == ["d1"]
    with pytest.raises(KeyError):
        store.create_nodepool("me", "missing", _nodepool())
