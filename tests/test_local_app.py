"""The local control plane's HTTP API over a real uvicorn on 127.0.0.1 (temp SQLite store).

The app is built in-process (`create_app`) and served by uvicorn in a thread, so these tests are
fast and can restart the store; the subprocess server of `runtime.start_server` is covered by
tests/test_runtime.py and the client tests.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime

import httpx
import pytest
import uvicorn

from compute_widgets.local.app import create_app
from compute_widgets.local.catalog import Catalog
from compute_widgets.local.clock import Clock
from compute_widgets.local.crud import SHARED_CLUSTER_ID
from compute_widgets.local.store import Store
from compute_widgets.local.wire import MAX_BODY

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Key {TOKEN}"}


class Server:
    """uvicorn.Server in a thread on a free port; `restart()` reopens the same data file."""

    def __init__(self, path):
        self.path = path
        self.catalog = Catalog.load()
        self._start()

    def _start(self):
        self.store = Store(self.path)
        self.clock = Clock(self.store.get_clock_offset())
        app = create_app(self.store, self.catalog, self.clock, TOKEN)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        self.http = httpx.Client(base_url=self.url, headers=AUTH, timeout=30)

    def stop(self):
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.store.close()

    def restart(self):
        self.stop()
        self._start()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("app") / "store.sqlite3")
    yield s
    s.stop()


@pytest.fixture
def http(srv):
    return srv.http


@pytest.fixture
def ids():
    n = iter(range(10**6))
    tag = f"{time.monotonic_ns() % 10**8:x}"
    return lambda prefix="x": f"{prefix}-{tag}-{next(n)}"


def ok(r: httpx.Response) -> dict:
    body = r.json()
    assert body["status"]["code"] == 10000, body
    assert r.status_code == 200
    assert body["status"]["req_id"]
    return body


def fail(r: httpx.Response, code: int, http_status: int, text: str = "") -> dict:
    body = r.json()
    assert body["status"]["code"] == code, body
    assert r.status_code == http_status, (r.status_code, body)
    assert body["status"]["description"] and body["status"]["req_id"]
    if text:
        assert text in body["status"]["description"], body["status"]["description"]
    return body


def cluster(cid, provider="aws", region="us-east-1", **kw):
    return {"id": cid, "cloud_provider": {"id": provider}, "region": region, **kw}


def nodepool(nid, itype="g5.xlarge", lo=0, hi=3, caps=(1,), **kw):
    d = {
        "id": nid,
        "instance_types": [{"id": itype}],
        "node_capacity_type": {"capacity_types": list(caps)},
        "max_instances": hi,
        **kw,
    }
    if lo:
        d["min_instances"] = lo
    return d


def deployment(did, pools, model="m1", **kw):
    return {
        "id": did,
        "worker": {
            "model": {
                "id": model,
                "user_id": "clarifai",
                "app_id": "main",
                "model_version": {"id": "v1"},
            }
        },
        "nodepools": [{"id": np, "compute_cluster": {"id": cc}} for cc, np in pools],
        **kw,
    }


def make_cluster(http, cid, **kw):
    return ok(
        http.post("/v2/users/me/compute_clusters", json={"compute_clusters": [cluster(cid, **kw)]})
    )


def make_pool(http, cid, nid, **kw):
    return ok(
        http.post(
            f"/v2/users/me/compute_clusters/{cid}/nodepools",
            json={"nodepools": [nodepool(nid, **kw)]},
        )
    )


# ------------------------------------------------------------------------------------------------
# auth, health, clock, routing


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Key wrong"},
        {"Authorization": f"Bearer {TOKEN}"},
        {"Authorization": "Key"},
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/v2/users/me/compute_clusters",
        "/local/health",
        "/v2/cloud_providers",
        "/openapi.json",
        "/nope",
    ],
)
def test_every_route_needs_the_token(srv, headers, path):
    r = httpx.get(srv.url + path, headers=headers)
    fail(r, 11008, 401)
    assert TOKEN not in r.text


def test_health_clock_and_advance_persisted(srv):
    body = ok(srv.http.get("/local/health"))
    assert body["version"]
    before = datetime.fromisoformat(ok(srv.http.get("/local/clock"))["now"])
    after = datetime.fromisoformat(
        ok(srv.http.post("/local/clock/advance", json={"seconds": 3600}))["now"]
    )
    assert 3590 < (after - before).total_seconds() < 3700
    assert srv.store.get_clock_offset() >= 3600
    for bad in (-1, "abc", None, [1], 1e12):
        fail(srv.http.post("/local/clock/advance", json={"seconds": bad}), 90400, 400, "seconds")


def test_unknown_path_and_method(http):
    fail(http.get("/v2/users/me/nothing"), 11101, 404)
    fail(http.put("/v2/users/me/compute_clusters", json={}), 11103, 405)


def test_openapi_document_lists_every_route(http):
    doc = http.get("/openapi.json").json()
    assert "/v2/users/{user_id}/compute_clusters/{cc}/nodepools/{np}" in doc["paths"]
    ops = [op["operationId"] for p in doc["paths"].values() for op in p.values()]
    for rpc in (
        "PostComputeClusters",
        "ListNodepoolsUnscoped",
        "PostNodepoolStatus",
        "PostMetricsQuery",
        "ListLogEntries",
    ):
        assert rpc in ops


# ------------------------------------------------------------------------------------------------
# catalog


def test_catalog_routes(http):
    provs = ok(http.get("/v2/cloud_providers"))["cloud_providers"]
    assert {"aws", "gcp", "vultr", "oracle", "local"} <= {p["id"] for p in provs}
    regions = ok(http.get("/v2/cloud_providers/vultr/regions/"))
    assert regions["regions"] == ["new-york", "atlanta", "chicago", "seattle"]
    assert regions["cloud_regions"][0] == {"id": "new-york"}
    assert ok(http.get("/v2/cloud_providers/azure/regions"))["cloud_regions"] == []
    types = ok(http.get("/v2/cloud_providers/all/regions/all/instance_types/"))["instance_types"]
    assert len({t["id"] for t in types}) >= 60
    a3 = next(t for t in types if t["id"] == "a3-highgpu-1g")
    assert a3["allowed_capacity_types"] == {"capacity_types": [2]}
    g5 = ok(http.get("/v2/cloud_providers/aws/regions/us-east-1/instance_types"))["instance_types"]
    g5 = next(t for t in g5 if t["id"] == "g5.xlarge")
    assert g5["price"] == "35.000000" and g5["compute_info"]["num_accelerators"] == 1
    assert g5["compute_info"]["accelerator_type"] == ["NVIDIA-A10G"]
    fail(http.get("/v2/cloud_providers/nope/regions"), 11101, 404, "nope")
    fail(http.get("/v2/cloud_providers/aws/regions/mars-1/instance_types"), 11101, 404, "mars-1")


# ------------------------------------------------------------------------------------------------
# clusters


def test_cluster_crud_wire_format_and_aliases(http, ids):
    cid = ids("cc")
    body = {
        "computeClusters": [
            {
                "id": cid,
                "cloudProvider": {"id": "gcp"},
                "region": "us-east4",
                "visibility": {"gettable": "PRIVATE"},
                "key": {"id": "my-secret-pat"},
                "unknownField": 1,
            }
        ]
    }
    created = ok(http.post("/v2/users/me/compute_clusters/", json=body))["compute_clusters"][0]
    assert created["visibility"] == {"gettable": 10}
    assert created["cluster_type"] == "dedicated" and created["user_id"] == "me"
    assert created["created_at"].endswith("Z") and "key" not in created
    got = ok(http.get(f"/v2/users/me/compute_clusters/{cid}/"))["compute_cluster"]
    assert got == created
    assert "my-secret-pat" not in http.get("/v2/users/me/compute_clusters?per_page=1000").text
    # unscoped route and `me` are the same namespace; unknown query keys and True/False are ignored
    listed = ok(
        http.get(
            "/v2/compute_clusters",
            params={"user_app_id.user_id": "me", "active_usage": "True", "per_page": 1000},
        )
    )
    assert cid in [c["id"] for c in listed["compute_clusters"]]
    # PATCH overwrite: description changes, provider/region are kept
    patched = ok(
        http.patch(
            "/v2/users/me/compute_clusters",
            json={"action": "overwrite", "compute_clusters": [{"id": cid, "description": "d"}]},
        )
    )
    c = patched["compute_clusters"][0]
    assert (c["description"], c["region"], c["created_at"]) == (
        "d",
        "us-east4",
        created["created_at"],
    )
    fail(
        http.patch(
            "/v2/users/me/compute_clusters",
            json={"action": "merge", "compute_clusters": [{"id": cid}]},
        ),
        25801,
        400,
        "overwrite",
    )
    fail(
        http.patch(
            "/v2/users/me/compute_clusters",
            json={"compute_clusters": [cluster(cid, region="us-central1", provider="gcp")]},
        ),
        25801,
        400,
        "cannot change",
    )
    ok(http.request("DELETE", "/v2/users/me/compute_clusters/", json={"ids": [cid]}))
    fail(http.get(f"/v2/users/me/compute_clusters/{cid}"), 25800, 404, cid)


def test_other_users_are_separate_namespaces(http, ids):
    cid = ids("cc")
    ok(http.post("/v2/users/alice/compute_clusters", json={"compute_clusters": [cluster(cid)]}))
    assert (
        ok(http.get(f"/v2/users/alice/compute_clusters/{cid}"))["compute_cluster"]["user_id"]
        == "alice"
    )
    fail(http.get(f"/v2/users/me/compute_clusters/{cid}"), 25800, 404)


def test_shared_cluster_is_listed_first_and_protected(http):
    first = ok(http.get("/v2/users/me/compute_clusters", params={"per_page": 1}))[
        "compute_clusters"
    ]
    assert [c["id"] for c in first] == [SHARED_CLUSTER_ID]
    shared = first[0]
    assert shared["description"] == "Shared SaaS (Serverless)"
    assert (shared["cluster_type"], shared["managed_by"]) == ("shared", "clarifai")
    ok(http.get(f"/v2/users/me/compute_clusters/{SHARED_CLUSTER_ID}"))
    fail(
        http.request("DELETE", "/v2/users/me/compute_clusters", json={"ids": [SHARED_CLUSTER_ID]}),
        25802,
        400,
        "cannot be deleted",
    )
    fail(
        http.patch(
            "/v2/users/me/compute_clusters",
            json={"compute_clusters": [{"id": SHARED_CLUSTER_ID, "description": "x"}]},
        ),
        25802,
        400,
    )
    fail(
        http.post(
            "/v2/users/me/compute_clusters", json={"compute_clusters": [cluster(SHARED_CLUSTER_ID)]}
        ),
        40010,
        409,
    )
    fail(
        http.post(
            f"/v2/users/me/compute_clusters/{SHARED_CLUSTER_ID}/nodepools",
            json={"nodepools": [nodepool("np")]},
        ),
        25702,
        400,
    )
    assert (
        ok(http.get(f"/v2/users/me/compute_clusters/{SHARED_CLUSTER_ID}/nodepools"))["nodepools"]
        == []
    )


def test_paging_is_complete_and_disjoint(srv, tmp_path):
    s = Server(tmp_path / "paging.sqlite3")
    try:
        ok(
            s.http.post(
                "/v2/users/me/compute_clusters",
                json={"compute_clusters": [cluster(f"c{i:02}") for i in range(11)]},
            )
        )
        seen = []
        for page in range(1, 10):
            items = ok(
                s.http.get("/v2/users/me/compute_clusters", params={"page": page, "per_page": 4})
            )["compute_clusters"]
            seen += [c["id"] for c in items]
            if len(items) < 4:
                break
        assert seen == [SHARED_CLUSTER_ID] + [f"c{i:02}" for i in range(11)]
        empty = ok(s.http.get("/v2/users/me/compute_clusters", params={"page": 50}))
        assert empty["compute_clusters"] == []  # empty list kept, not omitted
        default = ok(s.http.get("/v2/users/me/compute_clusters"))["compute_clusters"]
        assert len(default) == 12
    finally:
        s.stop()


# ------------------------------------------------------------------------------------------------
# nodepools


def test_nodepool_lifecycle_status_and_wire(srv, ids):
    http = srv.http
    cid, nid = ids("cc"), ids("np")
    make_cluster(http, cid)
    body = {
        "nodepools": [
            {
                "id": nid,
                "instanceTypes": [{"id": "g5.xlarge"}],
                "nodeCapacityType": {"capacityTypes": ["SPOT_TYPE", "ON_DEMAND_TYPE"]},
                "minInstances": 1,
                "maxInstances": 4,
                "metadata": {"camelKey": 1},
            }
        ]
    }
    np = ok(http.post(f"/v2/users/me/compute_clusters/{cid}/nodepools", json=body))["nodepools"][0]
    assert np["node_capacity_type"] == {"capacity_types": [2, 1]}
    assert np["status"] == 1  # PENDING
    assert "node_count" not in np  # zero omitted
    assert np["metadata"] == {"camelKey": 1}  # free JSON kept as sent
    assert (np["enforced_min_instances"], np["enforced_max_instances"]) == (1, 4)
    assert np["instance_types"][0]["compute_info"]["accelerator_type"] == ["NVIDIA-A10G"]
    assert np["compute_cluster"]["id"] == cid and np["compute_cluster"]["region"] == "us-east-1"
    assert np["special_handling"] == [] if "special_handling" in np else True
    ok(http.post("/local/clock/advance", json={"seconds": 600}))
    got = ok(http.get(f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}/"))["nodepool"]
    assert (got["status"], got["node_count"]) == (2, 1)  # READY with its minimum
    # pin a status, then unpin
    ok(
        http.post(
            f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}/status",
            json={"status": "NODEPOOL_STATUS_ERROR", "status_description": "quota"},
        )
    )
    got = ok(http.get(f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}"))["nodepool"]
    assert (got["status"], got["status_description"]) == (3, "quota")
    ok(http.post(f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}/status", json={"status": 0}))
    assert (
        ok(http.get(f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}"))["nodepool"]["status"]
        == 2
    )
    fail(
        http.post(
            f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}/status", json={"status": "SLEEPY"}
        ),
        25701,
        400,
        "SLEEPY",
    )
    # cross-cluster listings
    for path in (
        "/v2/users/me/nodepools",
        "/v2/nodepools/",
        f"/v2/users/me/compute_clusters/{cid}/nodepools",
    ):
        listed = ok(http.get(path, params={"per_page": 1000}))["nodepools"]
        assert nid in [n["id"] for n in listed], path


def test_nodepool_patch_actions(http, ids):
    cid, nid = ids("cc"), ids("np")
    make_cluster(http, cid)
    make_pool(
        http, cid, nid, lo=1, hi=3, caps=(2, 1), metadata={"a": 1, "b": 2}, description="first"
    )
    base = f"/v2/users/me/compute_clusters/{cid}/nodepools"

    merged = ok(
        http.patch(
            base,
            json={
                "action": "merge",
                "nodepools": [{"id": nid, "max_instances": 7, "metadata": {"c": 3}}],
            },
        )
    )["nodepools"][0]
    assert (merged["min_instances"], merged["max_instances"], merged["description"]) == (
        1,
        7,
        "first",
    )
    assert merged["metadata"] == {"a": 1, "b": 2, "c": 3}

    removed = ok(
        http.patch(
            base,
            json={
                "action": "remove",
                "nodepools": [
                    {
                        "id": nid,
                        "node_capacity_type": {"capacity_types": [2]},
                        "metadata": {"a": None, "b": 0},
                    }
                ],
            },
        )
    )
    np = removed["nodepools"][0]
    assert np["node_capacity_type"] == {"capacity_types": [1]} and np["metadata"] == {"c": 3}

    over = ok(
        http.patch(
            base, json={"action": "overwrite", "nodepools": [{"id": nid, "max_instances": 2}]}
        )
    )["nodepools"][0]
    assert "min_instances" not in over and over["max_instances"] == 2 and "description" not in over
    assert over["instance_types"][0]["id"] == "g5.xlarge"  # structural fields kept
    assert "metadata" not in over or over["metadata"] == {}

    fail(
        http.patch(base, json={"action": "explode", "nodepools": [{"id": nid}]}),
        25701,
        400,
        "explode",
    )
    fail(
        http.patch(base, json={"action": "merge", "nodepools": [{"id": nid, "min_instances": 9}]}),
        25701,
        400,
        "min_instances",
    )
    fail(
        http.patch(base, json={"nodepools": [{"id": "missing", "max_instances": 2}]}),
        25700,
        404,
        "missing",
    )
    # nothing of the failed patches was written
    assert ok(http.get(f"{base}/{nid}"))["nodepool"]["max_instances"] == 2


def test_nodepool_catalog_validation(http, ids):
    cid = ids("cc")
    make_cluster(http, cid)
    base = f"/v2/users/me/compute_clusters/{cid}/nodepools"
    fail(
        http.post(base, json={"nodepools": [nodepool("a", itype="warp-drive.9000")]}),
        26000,
        404,
        "warp-drive.9000",
    )
    fail(
        http.post(base, json={"nodepools": [nodepool("a", itype="g2-standard-4")]}),
        26001,
        400,
        "offered by gcp",
    )
    gcp = ids("gcp")
    make_cluster(http, gcp, provider="gcp", region="us-east4")
    fail(
        http.post(
            f"/v2/users/me/compute_clusters/{gcp}/nodepools",
            json={"nodepools": [nodepool("a", itype="a3-highgpu-1g", caps=(1,))]},
        ),
        25701,
        400,
        "spot only",
    )
    make_pool(http, gcp, ids("h100"), itype="a3-highgpu-1g", caps=(2,))
    vultr = ids("vu")
    make_cluster(http, vultr, provider="vultr", region="chicago")
    fail(
        http.post(
            f"/v2/users/me/compute_clusters/{vultr}/nodepools",
            json={"nodepools": [nodepool("a", itype="vc2-2c-4gb", caps=(2,))]},
        ),
        25701,
        400,
        "spot",
    )
    fail(
        http.post(
            "/v2/users/me/compute_clusters/nope/nodepools", json={"nodepools": [nodepool("a")]}
        ),
        25800,
        404,
        "nope",
    )


# ------------------------------------------------------------------------------------------------
# deployments


def test_deployments_crud_filters_and_one_per_model(http, ids):
    cid, n1, n2 = ids("cc"), ids("np"), ids("np")
    make_cluster(http, cid)
    make_pool(http, cid, n1)
    make_pool(http, cid, n2, itype="t3a.large")
    d1, d2 = ids("dep"), ids("dep")
    created = ok(
        http.post(
            "/v2/users/me/deployments/",
            json={"deployments": [deployment(d1, [(cid, n1)], scheduling_choice="PREFER_SPOT")]},
        )
    )
    dep = created["deployments"][0]
    assert dep["scheduling_choice"] == 7 and dep["user_id"] == "me"
    assert dep["autoscale_config"]["scale_to_zero_delay_seconds"] == 1800  # server defaults
    assert dep["nodepools"][0]["compute_cluster"]["user_id"] == "me"
    r = fail(
        http.post("/v2/users/me/deployments", json={"deployments": [deployment(d2, [(cid, n1)])]}),
        25901,
        400,
        f"'{d1}'",
    )
    assert "one deployment per model per nodepool" in r["status"]["description"]
    fail(
        http.post(
            "/v2/users/me/deployments",
            json={
                "deployments": [deployment(d2, [(cid, n2)]), deployment(ids("dep"), [(cid, n2)])]
            },
        ),
        25901,
        400,
        "same model",
    )
    ok(
        http.post(
            "/v2/users/me/deployments",
            json={"deployments": [deployment(d2, [(cid, n2)], model="m2")]},
        )
    )
    fail(
        http.post(
            "/v2/users/me/deployments",
            json={"deployments": [deployment(ids("dep"), [(cid, "ghost")])]},
        ),
        25700,
        404,
        "ghost",
    )

    def listed(**params):
        return [
            d["id"]
            for d in ok(http.get("/v2/users/me/deployments", params={"per_page": 1000, **params}))[
                "deployments"
            ]
        ]

    assert listed(nodepool_id=n1) == [d1]
    assert listed(compute_cluster_id=cid) == [d1, d2]
    assert set(listed(model_version_ids=["v1", "nope"])) >= {d1, d2}
    assert d1 in [
        d["id"] for d in ok(http.get("/v2/deployments", params={"per_page": 1000}))["deployments"]
    ]
    assert ok(http.get(f"/v2/users/me/deployments/{d1}"))["deployment"]["id"] == d1

    # overwrite (the only action, as Clarifai's) replaces only what is given, each given field
    # whole; desired_worker re-pins the version and worker reflects it
    merged = ok(
        http.patch(
            "/v2/users/me/deployments",
            json={
                "action": "overwrite",
                "deployments": [
                    {
                        "id": d1,
                        "autoscale_config": {"max_replicas": 5, "scale_up_delay_seconds": 300},
                        "desired_worker": {
                            "model": {
                                "id": "m1",
                                "user_id": "clarifai",
                                "app_id": "main",
                                "model_version": {"id": "v2"},
                            }
                        },
                    }
                ],
            },
        )
    )["deployments"][0]
    # a given field is replaced whole (the stored defaults' other delays are gone)
    assert merged["autoscale_config"] == {"max_replicas": 5, "scale_up_delay_seconds": 300}
    assert merged["worker"]["model"]["model_version"]["id"] == "v2"
    assert [n["id"] for n in merged["nodepools"]] == [n1]  # not given: kept
    assert listed(model_version_ids=["v2"]) == [d1]
    # merge and remove: Clarifai's words, nothing written
    for action in ("merge", "remove"):
        fail(
            http.patch(
                "/v2/users/me/deployments",
                json={"action": action, "deployments": [{"id": d1, "description": "x"}]},
            ),
            25901,
            400,
            f"Unrecognized action '{action}'",
        )
    assert "description" not in ok(http.get(f"/v2/users/me/deployments/{d1}"))["deployment"]
    ok(http.request("DELETE", "/v2/users/me/deployments", json={"ids": [d1, d2]}))
    fail(http.get(f"/v2/users/me/deployments/{d1}"), 25900, 404)


def test_cascading_deletes_say_what_went(http, ids):
    cid, other = ids("cc"), ids("cc")
    n1, n2, n3 = ids("np"), ids("np"), ids("np")
    make_cluster(http, cid)
    make_cluster(http, other)
    make_pool(http, cid, n1)
    make_pool(http, cid, n2)
    make_pool(http, other, n3)
    lone, shared = ids("dep"), ids("dep")
    ok(
        http.post(
            "/v2/users/me/deployments",
            json={
                "deployments": [
                    deployment(lone, [(cid, n1)]),
                    deployment(shared, [(cid, n2), (other, n3)], model="m2"),
                ]
            },
        )
    )
    r = ok(http.request("DELETE", "/v2/users/me/compute_clusters", json={"ids": [cid]}))
    text = r["status"]["description"]
    assert f"compute cluster '{cid}'" in text and n1 in text and n2 in text
    assert (
        f"deployment '{lone}'" in text
        and f"Deployment '{shared}' no longer uses nodepool '{n2}'" in text
    )
    fail(http.get(f"/v2/users/me/deployments/{lone}"), 25900, 404)
    left = ok(http.get(f"/v2/users/me/deployments/{shared}"))["deployment"]
    assert [n["id"] for n in left["nodepools"]] == [n3]
    r = ok(
        http.request(
            "DELETE", f"/v2/users/me/compute_clusters/{other}/nodepools/", json={"ids": [n3]}
        )
    )
    assert f"deployment '{shared}'" in r["status"]["description"]
    fail(
        http.request(
            "DELETE", f"/v2/users/me/compute_clusters/{other}/nodepools", json={"ids": [n3]}
        ),
        25700,
        404,
    )


# ------------------------------------------------------------------------------------------------
# bad input: a clear status and no partial write


def _count(http):
    return len(ok(http.get("/v2/users/me/nodepools", params={"per_page": 1000}))["nodepools"]), len(
        ok(http.get("/v2/users/me/compute_clusters", params={"per_page": 1000}))["compute_clusters"]
    )


BAD = [
    (
        "malformed JSON",
        "POST",
        "/v2/users/me/compute_clusters",
        b'{"compute_clusters": [',
        11100,
        400,
        "not valid JSON",
    ),
    (
        "body not an object",
        "POST",
        "/v2/users/me/compute_clusters",
        b"[1, 2]",
        11100,
        400,
        "JSON object",
    ),
    (
        "wrong type",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("ok-1"), {**nodepool("np-x"), "max_instances": "lots"}]},
        25701,
        400,
        "max_instances",
    ),
    (
        "items not objects",
        "POST",
        "/v2/users/me/compute_clusters",
        {"compute_clusters": ["cc"]},
        25801,
        400,
        "object",
    ),
    (
        "empty batch",
        "POST",
        "/v2/users/me/compute_clusters",
        {"compute_clusters": []},
        25801,
        400,
        "non-empty",
    ),
    (
        "unknown instance type",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("ok-1"), nodepool("np-x", itype="zz.huge")]},
        26000,
        404,
        "zz.huge",
    ),
    (
        "unknown provider",
        "POST",
        "/v2/users/me/compute_clusters",
        {"compute_clusters": [cluster("ok-c"), cluster("bad-c", provider="ibm")]},
        25801,
        400,
        "ibm",
    ),
    (
        "unknown region",
        "POST",
        "/v2/users/me/compute_clusters",
        {"compute_clusters": [cluster("ok-c"), cluster("bad-c", region="eu-west-9")]},
        25801,
        400,
        "eu-west-9",
    ),
    (
        "invalid id",
        "POST",
        "/v2/users/me/compute_clusters",
        {"compute_clusters": [cluster("ok-c"), cluster("-bad id!")]},
        25801,
        400,
        "id",
    ),
    (
        "id too long",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("n" * 49)]},
        25701,
        400,
        "48",
    ),
    (
        "duplicate in batch",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("twin"), nodepool("twin")]},
        40010,
        409,
        "twice",
    ),
    (
        "duplicate in store",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("ok-1"), nodepool("existing")]},
        40010,
        409,
        "existing",
    ),
    (
        "min > max",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("ok-1"), nodepool("np-x", lo=5, hi=2)]},
        25701,
        400,
        "min_instances",
    ),
    (
        "no capacity type",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("np-x", caps=())]},
        25701,
        400,
        "capacity",
    ),
    (
        "huge description",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("ok-1"), nodepool("np-x", description="x" * 1_000_000)]},
        25701,
        400,
        "1000",
    ),
    (
        "body over the cap",
        "POST",
        "{cc}/nodepools",
        {"nodepools": [nodepool("np-x", description="x" * (MAX_BODY + 10))]},
        11100,
        413,
        "limit",
    ),
    (
        "per_page -1",
        "GET",
        "/v2/users/me/compute_clusters?per_page=-1",
        None,
        90400,
        400,
        "per_page",
    ),
    (
        "per_page 10^9",
        "GET",
        "/v2/users/me/nodepools?per_page=1000000000",
        None,
        90400,
        400,
        "per_page",
    ),
    ("page -1", "GET", "/v2/users/me/deployments?page=-1", None, 90400, 400, "page"),
    (
        "page not a number",
        "GET",
        "/v2/users/me/compute_clusters?page=two",
        None,
        90400,
        400,
        "page",
    ),
    (
        "delete unknown",
        "DELETE",
        "/v2/users/me/compute_clusters",
        {"ids": ["{cc_id}", "ghost-cluster"]},
        25800,
        404,
        "ghost-cluster",
    ),
    ("delete no ids", "DELETE", "/v2/users/me/compute_clusters", {"ids": "abc"}, 25801, 400, "ids"),
    (
        "deployment without model",
        "POST",
        "/v2/users/me/deployments",
        {
            "deployments": [
                {
                    "id": "d-x",
                    "nodepools": [{"id": "existing", "compute_cluster": {"id": "{cc_id}"}}],
                }
            ]
        },
        25901,
        400,
        "worker.model",
    ),
    (
        "autoscale rules",
        "POST",
        "/v2/users/me/deployments",
        {
            "deployments": [
                deployment(
                    "d-x",
                    [("{cc_id}", "existing")],
                    autoscale_config={"min_replicas": 4, "max_replicas": 2},
                )
            ]
        },
        25901,
        400,
        "min_replicas",
    ),
    ("metrics without query", "POST", "/v2/users/me/metrics", {"q": 1}, 90400, 400, "query"),
]


@pytest.fixture(scope="module")
def bad_cluster(srv):
    cid = "bad-input-cc"
    make_cluster(srv.http, cid)
    make_pool(srv.http, cid, "existing")
    return cid


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_gets_a_clear_status_and_writes_nothing(srv, bad_cluster, case):
    _, method, path, body, code, http_status, text = case
    http = srv.http
    path = path.replace("{cc}", f"/v2/users/me/compute_clusters/{bad_cluster}")
    before = _count(http)
    if isinstance(body, dict):
        content = json.dumps(body).replace("{cc_id}", bad_cluster).encode()
    else:
        content = body
    r = http.request(method, path, content=content, headers={"Content-Type": "application/json"})
    fail(r, code, http_status, text)
    assert _count(http) == before
    assert (
        ok(http.get(f"/v2/users/me/compute_clusters/{bad_cluster}"))["compute_cluster"]["id"]
        == bad_cluster
    )


# ------------------------------------------------------------------------------------------------
# observability without a metrics engine, restart


def test_metrics_and_logs_from_the_store(http, ids):
    cid, nid = ids("cc"), ids("np")
    make_cluster(http, cid)
    make_pool(http, cid, nid, lo=2, hi=4, itype="t3a.large")
    now = datetime.fromisoformat(ok(http.get("/local/clock"))["now"])
    q = {
        "metric_type": "NODEPOOL_NODE_COUNT",
        "start_time": (now.replace(microsecond=0)).isoformat().replace("+00:00", "Z"),
        "end_time": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "resolution": "1m",
        "filters": [{"label": "NODEPOOL_ID", "equals": nid}],
    }
    q["end_time"] = q["end_time"][:11] + "23:59:59Z"
    body = ok(http.post("/v2/users/me/metrics", json={"query": q}))
    (series,) = body["data"]["matrix_data"]["series"]
    assert {x["name"]: x["value"] for x in series["labels"]}["NODEPOOL_ID"] == nid
    assert max(p.get("value", 0) for p in series["value"]) == 2
    assert body["resolution"] == "1m"
    fail(
        http.post("/v2/users/me/metrics", json={"query": {"resolution": "5m"}}),
        90400,
        400,
        "metric_type",
    )
    labels = ok(
        http.get("/v2/users/me/metrics/labels", params={"metric_types": "NODEPOOL_NODE_COUNT"})
    )
    assert labels["metric_type_labels"][0]["metric_type"] == 51
    logs = ok(
        http.get(
            f"/v2/users/me/compute_clusters/{cid}/runner.events/logs", params={"nodepool_id": nid}
        )
    )
    assert logs["log_entries"] == [] and logs["per_page"] == 32
    # a runner must exist in that nodepool (here no deployment: no runner at all)
    fail(
        http.get(
            f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}/runners/any/runner.events/logs"
        ),
        25600,
        404,
        "'any'",
    )
    fail(
        http.get(
            f"/v2/users/me/compute_clusters/{cid}/runner.events/logs",
            params={"nodepool_id": "ghost"},
        ),
        25700,
        404,
    )


def test_restart_keeps_all_data(srv, ids):
    cid, nid, did = ids("cc"), ids("np"), ids("dep")
    make_cluster(srv.http, cid)
    make_pool(srv.http, cid, nid)
    ok(
        srv.http.post(
            "/v2/users/me/deployments", json={"deployments": [deployment(did, [(cid, nid)])]}
        )
    )
    offset = srv.store.get_clock_offset()
    before = srv.http.get(f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}").json()["nodepool"]
    srv.restart()
    after = ok(srv.http.get(f"/v2/users/me/compute_clusters/{cid}/nodepools/{nid}"))["nodepool"]
    assert after == before
    assert ok(srv.http.get(f"/v2/users/me/deployments/{did}"))["deployment"]["id"] == did
    assert srv.store.get_clock_offset() == offset
